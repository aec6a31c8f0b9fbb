#!/usr/bin/env bash
# Initial sync of N objects from node A to node B, both on this machine (127.0.0.2 and
# 127.0.0.3), embedded SQLite stores. A serves; B runs `nadhir sync --peer A`, which pulls
# every page through A's policy gate (decide under the agreement, PII minimisation,
# Ed25519 signature, egress-ledger append) and verifies, stores and records each object.
#
#   bench/federation/initial_sync.sh [N] [WORKDIR]      (default N = 1000000)
#
# Prints the import time at A, the sync wall time and peak RSS at B, objects/s, and
# checks that B holds all N objects and that A's ledger has N entries and verifies.
# IMPORT_ARGS adds arguments to the import at A (IMPORT_ARGS=--no-sign: versions are not
# signed as they are stored, so A signs every copy as it leaves, as before publication
# signing; use another WORKDIR, since the import is kept per WORKDIR and N).
# DROP_LEDGER_OBJECT_INDEX=1 (an experiment, with a reused import): A's ledger index on
# (object_id, seq) is dropped before A serves, to measure what maintaining it costs
# (recalls and deletions at A would then read the whole ledger).
set -euo pipefail
N=${1:-1000000}
W=${2:-$(mktemp -d)}
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="${NADHIR_BIN:-$ROOT/target/release/nadhir}"
A="$W/a"; B="$W/b"
rm -rf "$A" "$B"
[ -f "$W/corpus-$N.jsonl" ] || python3 "$ROOT/bench/gen_corpus.py" "$N" > "$W/corpus-$N.jsonl"
for d in "$A" "$B"; do
  "$BIN" --data-dir "$d" admin org add --name org-a --id org-a --kind national-centre >/dev/null
  "$BIN" --data-dir "$d" admin org add --name org-b --id org-b --kind national-centre >/dev/null
done
"$BIN" --data-dir "$A" node set --org org-a >/dev/null
"$BIN" --data-dir "$B" node set --org org-b >/dev/null
"$BIN" --data-dir "$A" admin collection add --title intel --alias intel >/dev/null
# What A publishes into intel is shared to B's organisation (TLP:AMBER recipients).
"$BIN" --data-dir "$A" share intel --recipient org-b >/dev/null
# The import at A is kept (WORKDIR/a-imported-N) and reused by later runs with the same
# WORKDIR and N, so that repeated runs time the sync alone; REIMPORT=1 redoes it.
if [ -d "$W/a-imported-$N" ] && [ "${REIMPORT:-0}" != 1 ]; then
  rm -rf "$A"; cp -a "$W/a-imported-$N" "$A"
  echo "import at A: reused $W/a-imported-$N"
  if [ "${DROP_LEDGER_OBJECT_INDEX:-0}" = 1 ]; then
    python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('DROP INDEX egress_ledger_object'); c.commit()" "$A/nadhir.db"
    echo "  (experiment: A's egress_ledger_object index dropped)"
  fi
else
  echo "import at A: $N objects"
  /usr/bin/time -f "  import: %e s wall, %M KiB peak RSS" "$BIN" --data-dir "$A" import --collection intel ${IMPORT_ARGS:-} "$W/corpus-$N.jsonl" 2>&1 | grep -E "import:|imported" || true
  rm -rf "$W/a-imported-$N"; cp -a "$A" "$W/a-imported-$N"
fi
"$BIN" --data-dir "$A" admin grant --collection intel --org org-b --read >/dev/null
TOKEN=$("$BIN" --data-dir "$A" admin token create --org org-b --role peer)
BKEY=$("$BIN" --data-dir "$B" node show)
AKEY=$("$BIN" --data-dir "$A" node show)
jq_get() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
"$BIN" --data-dir "$A" peer add --name B --org org-b --node "$(jq_get "$BKEY" id)" --key "$(jq_get "$BKEY" x_nadhir_public_key)" >/dev/null
"$BIN" --data-dir "$A" agreement set --peer B --max-tlp amber+strict --sightings-back >/dev/null
rm -f "$W/a.url"   # a previous run's address would be read before this server writes its own
"$BIN" --data-dir "$A" serve --listen 127.0.0.2:0 --no-warning --no-sync > "$W/a.url" 2>"$W/a.log" &
APID=$!
trap 'kill $APID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -s "$W/a.url" ] && break; sleep 0.1; done
AURL=$(head -1 "$W/a.url" | sed 's#/taxii2/##')
PEER_TOKEN="$TOKEN" "$BIN" --data-dir "$B" peer add --name A --org org-a --node "$(jq_get "$AKEY" id)" --key "$(jq_get "$AKEY" x_nadhir_public_key)" --url "$AURL/api/" --token-env PEER_TOKEN >/dev/null
echo "initial sync A -> B"
START=$(date +%s.%N)
/usr/bin/time -f "  sync (B): %e s wall, %U s user, %S s sys, %M KiB peak RSS" "$BIN" --data-dir "$B" sync --peer A 2>&1 | tail -3
END=$(date +%s.%N)
python3 -c "import sys; n=$N; t=$END-$START; print(f'  {n} objects in {t:.1f} s = {n/t:,.0f} objects/s')"
"$BIN" --data-dir "$B" stats --json | python3 -c "import json,sys; s=json.load(sys.stdin); print('  B holds', s['distinct_objects'], 'objects')"
# CPU seconds of A's server process so far (user + system, from /proc, 10 ms resolution).
awk -v t="$(getconf CLK_TCK)" '{printf "  A (serving): %.2f s CPU (%.2f s user, %.2f s sys)\n", ($14+$15)/t, $14/t, $15/t}' "/proc/$APID/stat"
"$BIN" --data-dir "$A" audit verify
