#!/usr/bin/env bash
# Events per second of one and of two `nadhir watch --nats` workers sharing one
# JetStream durable consumer over a PostgreSQL store, on the same published stream.
# Exits non-zero unless every event is processed and counted exactly once
# (the store's sighting windows equal the fixture's expected.json).
#
#   bench/warning/nats_workers.sh [--quick] [--events N] [--runs K] [--nats URL] [--postgres URL]
#       defaults: 200,000 EVE events, 3 runs; --quick: 2,000 events, 1 run
#
# URLs default to NADHIR_BENCH_NATS_URL / NADHIR_TEST_NATS_URL and
# NADHIR_BENCH_POSTGRES_URL / NADHIR_TEST_POSTGRES_URL (a scratch database per run is
# created next to it and dropped). BENCH_PROFILE=debug: debug binaries (smoke runs only).
# Source and method: crates/nadhir/examples/warning_nats_bench.rs.
set -euo pipefail
cd "$(dirname "$0")/../.."
PROFILE=${BENCH_PROFILE:-release}
if [ "$PROFILE" = release ]; then FLAG=--release; else FLAG=; fi
cargo build -q --locked $FLAG -p nadhir --bins --example warning_nats_bench
exec "target/$PROFILE/examples/warning_nats_bench" --bin "target/$PROFILE/nadhir" "$@"
