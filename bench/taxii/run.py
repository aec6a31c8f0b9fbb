#!/usr/bin/env python3
"""TAXII 2.1 server benchmark: Nadhir (SQLite), Nadhir (PostgreSQL) and medallion
(the OASIS reference server, memory backend), side by side in one run on this machine.

For each server, started fresh on 127.0.0.1:
  1. load N objects through POST (envelopes of --envelope objects, --posters concurrent
     clients, each waiting for its status resource to complete): objects/s;
  2. walk the whole collection with limit=1000 following `next`: seconds, objects/s,
     and the server's memory (VmRSS sampled every 50 ms, VmHWM) during the walk;
  3. single-object GETs (random ids) under --concurrency clients with wrk when
     installed (else a Python thread pool with keep-alive): p50, p99, requests/s.
Then a large walk: --large objects on Nadhir SQLite and on Nadhir PostgreSQL, bulk-loaded with
`nadhir import`.

Run with the oracle venv (medallion comes from it):
  .venv/bin/python bench/taxii/run.py            # full run (see bench/taxii/README.md)
  .venv/bin/python bench/taxii/run.py --quick    # smoke run, < 1 minute
"""

import argparse
import concurrent.futures as cf
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TAXII = "application/taxii+json;version=2.1"
COLLECTION = "4f1c8a3e-7d2b-4c6e-9a5f-0b1d2e3f4a5b"
API_ROOT = "api1"
# Extra `nadhir serve` arguments (--serve-arg), e.g. to measure a node without early
# warning (--no-warning) or without the sync loops (--no-sync).
SERVE_ARGS = []


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------- test data


def indicator(i, tag=0):
    """A valid STIX 2.1 indicator (about 400 bytes), deterministic in (tag, i)."""
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--%08x-0000-4000-8000-%012x" % (tag, i),
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "name": "benchmark indicator %d" % i,
        "description": "Synthetic indicator for the TAXII benchmark.",
        "indicator_types": ["malicious-activity"],
        "pattern": "[ipv4-addr:value = '10.%d.%d.%d']" % ((i >> 16) & 255, (i >> 8) & 255, i & 255),
        "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
        "labels": ["benchmark"],
    }


def envelopes(n, per, tag=0):
    """Pre-serialised envelope bodies (so JSON encoding is not timed)."""
    out = []
    for start in range(0, n, per):
        objs = [indicator(i, tag) for i in range(start, min(n, start + per))]
        out.append(json.dumps({"objects": objs}, separators=(",", ":")).encode())
    return out


def object_id(i, tag=0):
    return "indicator--%08x-0000-4000-8000-%012x" % (tag, i)


# ----------------------------------------------------------------- processes


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not listen on port %d" % port)


def mem_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sampler:
    """Samples VmRSS of a process every `interval` seconds in a thread."""

    def __init__(self, pid, interval=0.05):
        self.pid, self.interval, self.samples = pid, interval, []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.samples.append(mem_kb(self.pid, "VmRSS"))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def cpu_s(pid):
    """User + system CPU seconds of a process so far (/proc/PID/stat)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def postgres_cpu_s():
    """User + system CPU seconds so far of every PostgreSQL server process on the
    machine (the database's own work, which the server process's CPU leaves out)."""
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % pid) as f:
                if f.read().strip() != "postgres":
                    continue
        except OSError:
            continue
        total += cpu_s(int(pid))
    return total


def run(cmd, env=None, check=True):
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stderr.strip()[-2000:]))
    return r


class Server:
    """A running TAXII server with its API root URL and auth header."""

    name = "?"
    proc = None

    def after_load(self):
        pass

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class NadhirServer(Server):
    def __init__(self, binary, workdir, label, database_url=None, analyze=False):
        self.name, self.binary, self.workdir = label, binary, workdir
        self.database_url, self.analyze = database_url, analyze
        self.env = dict(os.environ)
        self.env.pop("NADHIR_DATABASE_URL", None)
        self.env["RUST_LOG"] = "warn"
        self.base = [binary, "--data-dir", os.path.join(workdir, "data")]
        if database_url:
            self.base += ["--database-url", database_url]

    def admin(self, *args):
        r = run(self.base + ["admin", "--json"] + list(args), env=self.env)
        return json.loads(r.stdout.strip().splitlines()[-1])

    def setup(self):
        org = self.admin("org", "add", "--name", "bench", "--kind", "national-centre")
        self.admin("collection", "add", "--title", "bench", "--alias", "bench",
                   "--api-root", API_ROOT, "--id", COLLECTION)
        self.admin("grant", "--org", "bench", "--collection", COLLECTION, "--read", "--write")
        # The bench organisation runs the node: what `nadhir import` loads is its own,
        # so its reader is in the audience of the (unmarked, TLP:AMBER) objects.
        run(self.base + ["node", "set", "--org", "bench"], env=self.env)
        tok = self.admin("token", "create", "--org", org["name"], "--role", "analyst")
        self.auth = "Bearer " + tok["token"]

    def after_load(self):
        """With --pg-analyze: refresh PostgreSQL planner statistics after the load
        (a diagnostic; the default run measures the server as it ships)."""
        if self.analyze and self.database_url:
            run(["psql", self.database_url, "-qc", "ANALYZE"])
            log("   ANALYZE run on the scratch database (--pg-analyze)")

    def bulk_import(self, path):
        return run(self.base + ["import", path, "--collection", "bench", "--batch-size", "5000"],
                   env=self.env)

    def start(self):
        port = free_port()
        self.stderr = open(os.path.join(self.workdir, "serve.log"), "w")
        self.proc = subprocess.Popen(
            self.base + ["serve", "--listen", "127.0.0.1:%d" % port, "--api-root", API_ROOT]
            + SERVE_ARGS,
            env=self.env, stdout=subprocess.DEVNULL, stderr=self.stderr)
        wait_listening(port, self.proc)
        self.port, self.root = port, "/%s/" % API_ROOT


class MedallionServer(Server):
    def __init__(self, python, workdir, page_size):
        self.name, self.python, self.workdir, self.page_size = "medallion", python, workdir, page_size

    def setup(self):
        self.port = free_port()
        root = "http://127.0.0.1:%d/%s/" % (self.port, API_ROOT)
        data = {
            "/discovery": {"title": "medallion", "default": root, "api_roots": [root]},
            API_ROOT: {
                "information": {"title": API_ROOT, "versions": [TAXII],
                                "max_content_length": 1 << 30},
                "status": [],
                "collections": [{
                    "id": COLLECTION, "title": "bench", "can_read": True, "can_write": True,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": [], "manifest": [],
                }],
            },
        }
        data_path = os.path.join(self.workdir, "data.json")
        with open(data_path, "w") as f:
            json.dump(data, f)
        config = {
            "backend": {"module": "medallion.backends.memory_backend",
                        "module_class": "MemoryBackend", "filename": data_path},
            "users": {"bench": "bench-password"},
            "taxii": {"max_page_size": self.page_size},
        }
        self.config = os.path.join(self.workdir, "config.json")
        with open(self.config, "w") as f:
            json.dump(config, f)
        import base64
        self.auth = "Basic " + base64.b64encode(b"bench:bench-password").decode()

    def start(self):
        self.stderr = open(os.path.join(self.workdir, "medallion.log"), "w")
        self.proc = subprocess.Popen(
            [self.python, "-m", "medallion.scripts.run", "--host", "127.0.0.1",
             "--port", str(self.port), self.config],
            stdout=subprocess.DEVNULL, stderr=self.stderr)
        wait_listening(self.port, self.proc)
        self.root = "/%s/" % API_ROOT


# ----------------------------------------------------------------- HTTP


class Conn:
    """A keep-alive HTTP/1.1 connection to one server."""

    def __init__(self, server):
        self.server = server
        self.c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)

    def request(self, method, path, body=None):
        headers = {"Accept": TAXII, "Authorization": self.server.auth}
        if body is not None:
            headers["Content-Type"] = TAXII
        self.c.request(method, path, body=body, headers=headers)
        r = self.c.getresponse()
        data = r.read()
        if r.status >= 300:
            raise RuntimeError("%s %s -> %d %s" % (method, path, r.status, data[:300]))
        return r, data

    def close(self):
        self.c.close()


def objects_path(server, query=""):
    return "%scollections/%s/objects/%s" % (server.root, COLLECTION, query)


def post_all(server, bodies, posters):
    """POSTs every envelope (posters in parallel), waits for each status; returns
    (seconds, successes, failures)."""
    def worker(chunk):
        conn = Conn(server)
        ok = failed = 0
        try:
            for body in chunk:
                _, data = conn.request("POST", objects_path(server), body)
                st = json.loads(data)
                delay = 0.005
                while st.get("status") != "complete":
                    time.sleep(delay)
                    delay = min(delay * 2, 0.5)
                    _, data = conn.request("GET", "%sstatus/%s/" % (server.root, st["id"]))
                    st = json.loads(data)
                ok += st.get("success_count", 0)
                failed += st.get("failure_count", 0)
        finally:
            conn.close()
        return ok, failed

    chunks = [bodies[i::posters] for i in range(posters)]
    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(posters) as ex:
        results = list(ex.map(worker, chunks))
    secs = time.perf_counter() - t0
    return secs, sum(r[0] for r in results), sum(r[1] for r in results)


def walk(server, limit=1000):
    """Walks the collection following `next`; returns (seconds, objects, pages, rss samples, hwm)."""
    conn = Conn(server)
    n = pages = 0
    nxt = None
    with Sampler(server.proc.pid) as sampler:
        t0 = time.perf_counter()
        while True:
            q = "?limit=%d" % limit + ("&next=%s" % urllib.parse.quote(nxt) if nxt else "")
            _, data = conn.request("GET", objects_path(server, q))
            env = json.loads(data) if data.strip() else {}
            n += len(env.get("objects", []))
            pages += 1
            if not env.get("more"):
                break
            nxt = env.get("next")
            if not nxt:
                raise RuntimeError("%s: more=true without next" % server.name)
        secs = time.perf_counter() - t0
    conn.close()
    return secs, n, pages, sampler.samples, mem_kb(server.proc.pid, "VmHWM")


WRK_LUA = """
local ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
math.randomseed(%(seed)d)
request = function()
  local id = ids[math.random(#ids)]
  return wrk.format("GET", "%(prefix)s" .. id .. "/", {
    ["Accept"] = "%(accept)s", ["Authorization"] = "%(auth)s" })
end
"""


def parse_wrk_latency(text, pct):
    m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s)\s*$" % pct, text, re.M)
    if not m:
        raise RuntimeError("cannot read the %s%% latency from wrk output:\n%s" % (pct, text))
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000.0 if unit == "us" else v * 1000.0 if unit == "s" else v


def get_latency(server, n, concurrency, duration, workdir):
    """Random single-object GETs; returns dict(p50_ms, p99_ms, rps, tool, errors)."""
    prefix = objects_path(server)
    if shutil.which("wrk"):
        ids_path = os.path.join(workdir, "ids.txt")
        with open(ids_path, "w") as f:
            for i in random.Random(1).sample(range(n), min(n, 20000)):
                f.write(object_id(i) + "\n")
        script = os.path.join(workdir, "get.lua")
        with open(script, "w") as f:
            f.write(WRK_LUA % {"ids": ids_path, "seed": 7, "prefix": prefix,
                               "accept": TAXII, "auth": server.auth})
        r = run(["wrk", "-t", "2", "-c", str(concurrency), "-d", "%ds" % duration,
                 "--timeout", "30s", "--latency", "-s", script,
                 "http://127.0.0.1:%d" % server.port])
        out = r.stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        errors = 0
        m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        if m:
            errors += int(m.group(1))
        m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        if m:
            errors += sum(int(x) for x in m.groups())
        return {"tool": "wrk", "p50_ms": parse_wrk_latency(out, 50),
                "p99_ms": parse_wrk_latency(out, 99), "rps": rps, "errors": errors}

    # Fallback: a thread pool of keep-alive connections (the client then limits rps).
    lat, errors = [], [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + duration

    def worker(seed):
        rng = random.Random(seed)
        conn, mine = Conn(server), []
        while time.perf_counter() < deadline:
            oid = object_id(rng.randrange(n))
            t0 = time.perf_counter()
            try:
                conn.request("GET", prefix + oid + "/")
            except Exception:
                with lock:
                    errors[0] += 1
                conn.close()
                conn = Conn(server)
                continue
            mine.append((time.perf_counter() - t0) * 1000.0)
        conn.close()
        with lock:
            lat.extend(mine)

    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(concurrency) as ex:
        list(ex.map(worker, range(concurrency)))
    secs = time.perf_counter() - t0
    q = statistics.quantiles(lat, n=100)
    return {"tool": "python-threads", "p50_ms": q[49], "p99_ms": q[98],
            "rps": len(lat) / secs, "errors": errors[0]}


def check_get(server, n):
    """One GET must return the object asked for (guards against measuring 404s)."""
    conn = Conn(server)
    oid = object_id(n // 2)
    _, data = conn.request("GET", objects_path(server) + oid + "/")
    conn.close()
    got = [o["id"] for o in json.loads(data).get("objects", [])]
    if got != [oid]:
        raise RuntimeError("%s: GET %s returned %s" % (server.name, oid, got))


# ----------------------------------------------------------------- scenarios


def bench_server_safe(server, n, args, workdir, walks):
    """bench_server, but a failing server is recorded (with its error) rather than
    ending the whole run."""
    try:
        return bench_server(server, n, args, workdir, walks)
    except Exception as e:  # noqa: BLE001 - reported in the table and the JSON
        log("!! %s failed: %s" % (server.name, e))
        return {"server": server.name, "objects": n, "error": str(e)}


def bench_server(server, n, args, workdir, n_walks):
    log("== %s: loading %d objects through POST" % (server.name, n))
    server.setup()
    server.start()
    try:
        bodies = envelopes(n, args.envelope)
        cpu0 = cpu_s(server.proc.pid)
        db0 = postgres_cpu_s()
        post_s, ok, failed = post_all(server, bodies, args.posters)
        post_cpu = cpu_s(server.proc.pid) - cpu0
        db_cpu = postgres_cpu_s() - db0
        if ok != n or failed:
            raise RuntimeError("%s: POST stored %d of %d (%d failed)" % (server.name, ok, n, failed))
        log("   %.2f s, %.0f objects/s, server CPU %.2f s (%.1f us/object)%s" % (
            post_s, n / post_s, post_cpu, post_cpu * 1e6 / n,
            ", PostgreSQL CPU %.2f s" % db_cpu if "postgres" in server.name else ""))
        server.after_load()
        if args.post_only:
            return {
                "server": server.name, "objects": n,
                "post_s": post_s, "post_objects_per_s": n / post_s,
                "post_server_cpu_s": post_cpu,
                "post_postgres_cpu_s": db_cpu,
            }
        log("== %s: walking with limit=1000" % server.name)
        walks = []
        for _ in range(n_walks):
            w_s, w_n, pages, samples, hwm = walk(server)
            if w_n != n:
                raise RuntimeError("%s: walk returned %d of %d objects" % (server.name, w_n, n))
            walks.append((w_s, pages, samples, hwm))
            log("   %.2f s, %d pages, RSS %d..%d MiB, VmHWM %d MiB" % (
                w_s, pages, min(samples) // 1024, max(samples) // 1024, hwm // 1024))
        check_get(server, n)
        log("== %s: single-object GETs, %d clients, %d s" % (server.name, args.concurrency, args.duration))
        g = get_latency(server, n, args.concurrency, args.duration, workdir)
        log("   p50 %.2f ms, p99 %.2f ms, %.0f req/s (%s, %d errors)" % (
            g["p50_ms"], g["p99_ms"], g["rps"], g["tool"], g["errors"]))
        walk_s = statistics.median(w[0] for w in walks)
        samples = [s for w in walks for s in w[2]]
        return {
            "server": server.name, "objects": n,
            "post_s": post_s, "post_objects_per_s": n / post_s,
            "post_server_cpu_s": post_cpu,
            "post_postgres_cpu_s": db_cpu,
            "walk_s": walk_s, "walk_objects_per_s": n / walk_s, "walk_pages": walks[0][1],
            "walk_rss_min_kb": min(samples), "walk_rss_max_kb": max(samples),
            "vmhwm_kb": max(w[3] for w in walks),
            "get": g,
        }
    finally:
        server.stop()


def large_walk(binary, n, args, workdir, database_url=None, label="nadhir-sqlite"):
    log("== %s large walk: generating %d objects" % (label, n))
    srv = NadhirServer(binary, workdir, label + " (large)", database_url=database_url)
    srv.setup()
    path = os.path.join(workdir, "large.jsonl")
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps(indicator(i, tag=1), separators=(",", ":")))
            f.write("\n")
    log("   importing with `nadhir import`")
    t0 = time.perf_counter()
    srv.bulk_import(path)
    import_s = time.perf_counter() - t0
    os.unlink(path)
    log("   %.1f s (%.0f objects/s)" % (import_s, n / import_s))
    srv.start()
    try:
        w_s, w_n, pages, samples, hwm = walk(srv)
        if w_n != n:
            raise RuntimeError("large walk returned %d of %d" % (w_n, n))
        # Memory over the walk by decile, to show it stays flat.
        k = max(1, len(samples) // 10)
        deciles = [max(samples[i:i + k]) // 1024 for i in range(0, len(samples), k)][:10]
        log("   walk %.2f s (%.0f objects/s), RSS by decile (MiB) %s, VmHWM %d MiB" % (
            w_s, n / w_s, deciles, hwm // 1024))
        return {"server": label, "objects": n, "import_s": import_s, "walk_s": w_s, "walk_pages": pages,
                "walk_objects_per_s": n / w_s, "rss_deciles_mib": deciles,
                "walk_rss_min_kb": min(samples), "walk_rss_max_kb": max(samples),
                "vmhwm_kb": hwm}
    finally:
        srv.stop()


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = run(["free", "-g"], check=False).stdout.splitlines()
    return {"nproc": os.cpu_count(), "cpu": cpu, "free_g": mem[1] if len(mem) > 1 else "?",
            "kernel": platform.release(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def table(results, larges):
    failed = [r for r in results if "error" in r]
    results = [r for r in results if "error" not in r]
    med = next((r for r in results if r["server"] == "medallion"), None)

    def x(v):
        return " (%.1fx)" % v if v < 10 else " (%.0fx)" % v

    def ratio(r, key):
        if not med or r is med:
            return ""
        return x(r[key] / med[key])

    def gratio(r, key, lower_is_better):
        if not med or r is med:
            return ""
        a, b = r["get"][key], med["get"][key]
        return x(b / a if lower_is_better else a / b)

    if results and all("walk_s" not in r for r in results):
        # --post-only: POST rates, each against medallion's at the same size.
        lines = ["| server | objects | POST obj/s | server CPU us/obj |", "|---|---|---|---|"]
        for r in results:
            lines.append("| %s | %d | %.0f%s | %.1f |" % (
                r["server"], r["objects"], r["post_objects_per_s"], ratio(r, "post_objects_per_s"),
                r["post_server_cpu_s"] * 1e6 / r["objects"]))
        for r in failed:
            lines.append("")
            lines.append("%s (%d objects) FAILED: %s" % (r["server"], r["objects"], r["error"]))
        return "\n".join(lines)
    head = ("server", "objects", "POST obj/s", "walk s", "walk obj/s", "walk RSS MiB",
            "GET p50 ms", "GET p99 ms", "GET req/s")
    rows = []
    for r in results:
        g = r["get"]
        rows.append((
            r["server"], str(r["objects"]),
            "%.0f%s" % (r["post_objects_per_s"], ratio(r, "post_objects_per_s")),
            "%.2f" % r["walk_s"],
            "%.0f%s" % (r["walk_objects_per_s"], ratio(r, "walk_objects_per_s")),
            "%d-%d" % (r["walk_rss_min_kb"] // 1024, r["walk_rss_max_kb"] // 1024),
            "%.2f%s" % (g["p50_ms"], gratio(r, "p50_ms", True)),
            "%.2f%s" % (g["p99_ms"], gratio(r, "p99_ms", True)),
            "%.0f%s" % (g["rps"], gratio(r, "rps", False)),
        ))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    for r in failed:
        lines.append("")
        lines.append("%s (%d objects) FAILED: %s" % (r["server"], r["objects"], r["error"]))
    for large in larges:
        lines.append("")
        if "error" in large:
            lines.append("Large walk (%s) FAILED: %s" % (large["server"], large["error"]))
            continue
        lines.append("Large walk (%s): %d objects, import %.1f s, walk %.2f s "
                     "(%.0f objects/s, %d pages), RSS during walk %d-%d MiB, by decile %s MiB" % (
                         large["server"], large["objects"], large["import_s"], large["walk_s"],
                         large["walk_objects_per_s"], large["walk_pages"],
                         large["walk_rss_min_kb"] // 1024, large["walk_rss_max_kb"] // 1024,
                         large["rss_deciles_mib"]))
    return "\n".join(lines)


def scratch_database(base_url):
    """Creates a scratch database next to `base_url`'s; returns (url, drop function)."""
    name = "nadhir_bench_%d_%s" % (os.getpid(), uuid.uuid4().hex[:8])
    run(["psql", base_url, "-v", "ON_ERROR_STOP=1", "-qc", "CREATE DATABASE %s" % name])
    parts = urllib.parse.urlsplit(base_url)
    url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))

    def drop():
        run(["psql", base_url, "-qc", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name], check=False)
    return url, drop


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nadhir", default=os.path.join(ROOT, "target", "release", "nadhir"),
                   help="nadhir binary (default target/release/nadhir)")
    p.add_argument("--python", default=sys.executable, help="interpreter with medallion installed")
    p.add_argument("--quick", action="store_true", help="small sizes for a smoke run (< 1 min)")
    p.add_argument("--n", type=int, default=100_000, help="objects loaded into Nadhir")
    p.add_argument("--n-medallion", type=int, default=5_000, help="objects loaded into medallion")
    p.add_argument("--large", type=int, default=1_000_000, help="objects of the large walk (0: skip)")
    p.add_argument("--envelope", type=int, default=1000, help="objects per POST")
    p.add_argument("--posters", type=int, default=4, help="concurrent POST clients")
    p.add_argument("--post-only", action="store_true",
                   help="load through POST and stop (no walk, no GETs): for POST at sizes "
                   "where medallion's walk would take hours")
    p.add_argument("--serve-arg", action="append", default=[],
                   help="extra argument for nadhir serve (repeatable; e.g. --serve-arg=--no-warning)")
    p.add_argument("--walks", type=int, default=3, help="walks per server (the median is reported)")
    p.add_argument("--medallion-walks", type=int, default=1,
                   help="walks of medallion (one 5,000-object walk takes minutes)")
    p.add_argument("--concurrency", type=int, default=32, help="concurrent GET clients")
    p.add_argument("--duration", type=int, default=10, help="seconds of GET load")
    p.add_argument("--postgres-url", default=os.environ.get("NADHIR_BENCH_POSTGRES_URL")
                   or os.environ.get("NADHIR_TEST_POSTGRES_URL"),
                   help="PostgreSQL URL to create a scratch database from (unset: skip PostgreSQL)")
    p.add_argument("--pg-analyze", action="store_true",
                   help="diagnostic: run ANALYZE on the PostgreSQL database after the load")
    p.add_argument("--skip", action="append", default=[],
                   choices=["nadhir-sqlite", "nadhir-postgres", "medallion"], help="skip a server")
    p.add_argument("--out", help="write the results as JSON here (default bench/out/taxii-DATE.json)")
    args = p.parse_args()
    SERVE_ARGS.extend(args.serve_arg)
    if args.quick:
        args.n, args.n_medallion, args.large = 2000, 500, 20_000
        args.duration, args.walks, args.medallion_walks = 2, 1, 1
    if not os.path.exists(args.nadhir):
        sys.exit("nadhir binary %s not found: cargo build --release -p nadhir" % args.nadhir)

    results, larges = [], []
    base = tempfile.mkdtemp(prefix="nadhir-taxii-bench-")
    try:
        if "nadhir-sqlite" not in args.skip:
            d = os.path.join(base, "sqlite")
            os.makedirs(d)
            results.append(bench_server_safe(NadhirServer(args.nadhir, d, "nadhir-sqlite"), args.n, args, d,
                                             args.walks))
        if "nadhir-postgres" not in args.skip:
            if not args.postgres_url:
                log("== nadhir-postgres skipped: set NADHIR_BENCH_POSTGRES_URL or --postgres-url")
            else:
                url, drop = scratch_database(args.postgres_url)
                try:
                    d = os.path.join(base, "postgres")
                    os.makedirs(d)
                    label = "nadhir-postgres" + (" (ANALYZE)" if args.pg_analyze else "")
                    srv = NadhirServer(args.nadhir, d, label, database_url=url,
                                       analyze=args.pg_analyze)
                    results.append(bench_server_safe(srv, args.n, args, d, args.walks))
                finally:
                    drop()
        if "medallion" not in args.skip:
            d = os.path.join(base, "medallion")
            os.makedirs(d)
            results.append(bench_server_safe(MedallionServer(args.python, d, 1000), args.n_medallion,
                                             args, d, args.medallion_walks))
        if args.large and "nadhir-sqlite" not in args.skip:
            d = os.path.join(base, "large")
            os.makedirs(d)
            larges.append(large_walk(args.nadhir, args.large, args, d))
        if args.large and "nadhir-postgres" not in args.skip and args.postgres_url:
            url, drop = scratch_database(args.postgres_url)
            try:
                d = os.path.join(base, "large-postgres")
                os.makedirs(d)
                try:
                    larges.append(large_walk(args.nadhir, args.large, args, d, database_url=url,
                                             label="nadhir-postgres"))
                except Exception as e:  # noqa: BLE001 - reported in the table and the JSON
                    log("!! nadhir-postgres large walk failed: %s" % e)
                    larges.append({"server": "nadhir-postgres", "objects": args.large,
                                   "error": str(e)})
            finally:
                drop()
    finally:
        shutil.rmtree(base, ignore_errors=True)

    info = machine()
    report = {"machine": info, "args": vars(args), "results": results, "large": larges}
    out = args.out or os.path.join(ROOT, "bench", "out", "taxii-%s.json" % time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(report, f, indent=2)
    print("machine: %(nproc)s cores, %(cpu)s, %(date)s" % info)
    print(table(results, larges))
    log("results written to %s" % out)


if __name__ == "__main__":
    main()
