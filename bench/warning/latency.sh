#!/usr/bin/env bash
# Latency from writing a telemetry event to its alert on `nadhir serve`'s live stream
# (SSE), over HTTP ingest and over a followed file: p50 / p99 / max per run and path,
# medians over runs. Exits non-zero unless every alert arrives exactly once.
#
#   bench/warning/latency.sh [--quick] [--events N] [--rate R] [--runs K]
#       defaults: 300 events at 50/s per path, 3 runs; --quick: 20 events, 1 run
#
# BENCH_PROFILE=debug builds and runs the debug binaries (smoke runs only).
# Source and method: crates/nadhir/examples/warning_latency.rs.
set -euo pipefail
cd "$(dirname "$0")/../.."
PROFILE=${BENCH_PROFILE:-release}
if [ "$PROFILE" = release ]; then FLAG=--release; else FLAG=; fi
cargo build -q --locked $FLAG -p nadhir --bins --example warning_latency
exec "target/$PROFILE/examples/warning_latency" --bin "target/$PROFILE/nadhir" "$@"
