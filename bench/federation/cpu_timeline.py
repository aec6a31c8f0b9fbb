#!/usr/bin/env python3
"""CPU timeline of an initial sync: every 0.5 s, the cores used by node A (the
`nadhir ... serve` process), by node B (the `nadhir ... sync` process), and by the whole
machine, from /proc. Run it beside `bench/federation/initial_sync.sh`; stop it with
Ctrl-C (or kill) when the sync is over.

    python3 bench/federation/cpu_timeline.py OUT &
    bench/federation/initial_sync.sh 1000000 /tmp/fb; kill %1

Each line of OUT: seconds since start, then A=, B= and busy= in cores (0-N). Stretches
with A=0.00 while B works alone are the stalls where A waits for B.
"""
import os
import sys
import time

TCK = os.sysconf("SC_CLK_TCK")
STEP = 0.5


def nodes():
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            if b"nadhir" not in os.path.basename(cmd[0]):
                continue
            role = "A" if b"serve" in cmd else ("B" if b"sync" in cmd else None)
            if role:
                fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                found[role] = (int(fields[11]) + int(fields[12])) / TCK
        except (OSError, IndexError, ValueError):
            continue
    return found


def machine():
    v = list(map(int, open("/proc/stat").readline().split()[1:]))
    return v[3] + v[4], sum(v)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: cpu_timeline.py OUT")
    cores = os.cpu_count() or 1
    out = open(sys.argv[1], "w")
    prev, prev_m, t0 = nodes(), machine(), time.time()
    while True:
        time.sleep(STEP)
        cur, cur_m = nodes(), machine()
        if "B" in cur and "B" in prev:
            a = max(0.0, cur.get("A", 0) - prev.get("A", 0)) / STEP
            b = (cur["B"] - prev["B"]) / STEP
            total = max(1, cur_m[1] - prev_m[1])
            busy = (1 - (cur_m[0] - prev_m[0]) / total) * cores
            out.write(f"{time.time() - t0:.1f} A={a:.2f} B={b:.2f} busy={busy:.2f}\n")
            out.flush()
        prev, prev_m = cur, cur_m


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
