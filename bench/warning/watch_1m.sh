#!/usr/bin/env bash
# The early-warning engine (file source, scan against the live index, record_hits,
# sightings, alerts; SQLite) with N generated active indicators plus the fixture's, over
# 1,000,000 EVE lines and 1,000,000 Zeek lines, side by side with the parsing floor.
#
#   bench/warning/watch_1m.sh [INDICATORS] [RUNS] [WORKDIR]
#       defaults: 1000000 indicators, 3 runs, /tmp/nadhir-watch-bench
#
# The inputs (the default fixture's eve.json x50 and zeek_dns.log x200) are generated in
# WORKDIR once and reused. Source and method: crates/warning/examples/watch_bench.rs.
set -euo pipefail
N=${1:-1000000}
RUNS=${2:-3}
W=${3:-/tmp/nadhir-watch-bench}
cd "$(dirname "$0")/../.."
mkdir -p "$W"
if [ ! -f "$W/zeek1m.log" ]; then
  python3 scripts/make_telemetry.py "$W/fx" >/dev/null
  for _ in $(seq 50); do cat "$W/fx/eve.json"; done > "$W/eve1m.json"
  for _ in $(seq 200); do cat "$W/fx/zeek_dns.log"; done > "$W/zeek1m.log"
fi
cargo build -q --locked --release -p warning --example watch_bench
exec /usr/bin/time -v target/release/examples/watch_bench "$N" "$RUNS" \
  "$W/fx/indicators.json" "$W/eve1m.json" "$W/zeek1m.log"
