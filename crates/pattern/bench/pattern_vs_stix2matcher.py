"""Times the OASIS stix2-matcher on the first N patterns of a bench_eval output directory
(same observed data), and checks its verdicts equal Nadhir's for those patterns.

Usage: .venv/bin/python crates/pattern/bench/pattern_vs_stix2matcher.py OUTDIR N
"""
import json
import os
import statistics
import sys
import time

from stix2matcher.matcher import match
from stix2patterns.pattern import ParseException


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    with open(os.path.join(out, "patterns.txt"), encoding="utf-8") as f:
        patterns = [line.rstrip("\n") for line in f if line.strip()][:n]
    with open(os.path.join(out, "observed.json"), encoding="utf-8") as f:
        observed = json.load(f)
    with open(os.path.join(out, "nadhir_verdicts.jsonl"), encoding="utf-8") as f:
        nadhir = [json.loads(line) for line in f][:n]
    times, cpu, disagreements = [], [], []
    for p, nv in zip(patterns, nadhir):
        t = time.perf_counter()
        c = time.thread_time()
        try:
            res = match(p, observed, stix_version="2.1")
            outcome = "match" if res else "nomatch"
            refs = [b["objects"][0]["id"] for b in res]
        except ParseException:
            outcome, refs = "parse_error", []
        except Exception as e:  # noqa: BLE001
            outcome, refs = "error:" + type(e).__name__, []
        times.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
        same_kind = outcome == nv["outcome"] or (outcome.startswith("error") and nv["outcome"].startswith("error"))
        if not same_kind or refs != nv["observed_data_refs"]:
            disagreements.append((p, outcome, refs, nv))
    total, total_cpu = sum(times), sum(cpu)
    print("stix2-matcher: %d patterns: wall total %.2f s (median %.3f s/pattern); cpu total %.2f s "
          "(median %.3f s/pattern, mean %.3f s/pattern); extrapolated to 1000 patterns: wall %.0f s, cpu %.0f s"
          % (len(times), total, statistics.median(times), total_cpu, statistics.median(cpu),
             total_cpu / len(cpu), total / len(times) * 1000, total_cpu / len(cpu) * 1000))
    print("verdict disagreements with nadhir: %d" % len(disagreements))
    for d in disagreements[:10]:
        print("  ", d)
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
