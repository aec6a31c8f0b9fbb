"""Differential test: the same data and the same queries against a running Nadhir
server and a freshly started OASIS medallion (memory backend, on another 127.0.0.1
port, from a generated config and data file). Compares returned ids / versions and
page sizes, and reports every difference in status codes. Prints one JSON object:
{"queries": N, "differences": [...]} ; the caller compares the differences with the
documented list (crates/taxii/README.md). Exits non-zero when the returned data differ.

usage: server_medallion_diff.py NADHIR_DISCOVERY_URL USER PASSWORD COLLECTION_ID
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import requests
from taxii2client.v21 import Collection, as_pages

TAXII = "application/taxii+json;version=2.1"
MCOLL = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
V1, V2, V3 = "2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"


def indicator(n, modified):
    return {
        "type": "indicator", "spec_version": "2.1",
        "id": "indicator--00000000-0000-4000-8000-%012d" % n,
        "created": V1, "modified": modified, "name": "indicator %d" % n,
        "pattern": "[ipv4-addr:value = '10.0.0.%d']" % (n % 256),
        "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z",
    }


def malware(n):
    return {
        "type": "malware", "spec_version": "2.1",
        "id": "malware--00000000-0000-4000-9000-%012d" % n,
        "created": V2, "modified": V2, "name": "malware %d" % n, "is_family": True,
    }


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_medallion(tmp):
    port = free_port()
    base = "http://127.0.0.1:%d/" % port
    data = {
        "/discovery": {"title": "medallion", "default": base + "api1/", "api_roots": [base + "api1/"]},
        "api1": {
            "information": {"title": "api1", "versions": [TAXII], "max_content_length": 10000000},
            "status": [],
            "collections": [{
                "id": MCOLL, "title": "diff", "can_read": True, "can_write": True,
                "media_types": ["application/stix+json;version=2.1"], "objects": [], "manifest": [],
            }],
        },
    }
    data_path = os.path.join(tmp, "data.json")
    with open(data_path, "w") as f:
        json.dump(data, f)
    conf = {
        "backend": {"module_class": "MemoryBackend", "module": "medallion.backends.memory_backend", "filename": data_path},
        "users": {"diff": "diffpass"},
        "taxii": {"max_page_size": 1000},
    }
    conf_path = os.path.join(tmp, "conf.json")
    with open(conf_path, "w") as f:
        json.dump(conf, f)
    proc = subprocess.Popen(
        [sys.executable, "-m", "medallion.scripts.run", "--host", "127.0.0.1", "--port", str(port), conf_path],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(150):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("medallion did not start")


def status_of(fn):
    try:
        return 200, fn()
    except requests.exceptions.HTTPError as e:
        return e.response.status_code, None


def key(o):
    return (o["id"], o.get("modified") or o.get("version"))


def main():
    url, user, password, cid = sys.argv[1:5]
    nadhir_root = url.rsplit("/taxii2/", 1)[0] + "/api/"
    with tempfile.TemporaryDirectory() as tmp:
        proc, mbase = start_medallion(tmp)
        try:
            n = Collection(nadhir_root + "collections/" + cid + "/", user=user, password=password)
            m = Collection(mbase + "api1/collections/" + MCOLL + "/", user="diff", password="diffpass")
            return run(n, m)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def run(n, m):
    batches = [[indicator(i, v) for i in (1, 2, 3)] for v in (V1, V2, V3)] + [[malware(1), malware(2)]]
    for batch in batches:
        for c in (n, m):
            st = c.add_objects({"objects": batch})
            if st.success_count != len(batch):
                raise AssertionError("add failed: %r" % st._raw)
        time.sleep(0.01)  # medallion stamps date_added per request

    mismatches = []
    differences = []
    queries = 0

    def compare(name, fn_n, fn_m, extract):
        nonlocal queries
        queries += 1
        sn, rn = status_of(fn_n)
        sm, rm = status_of(fn_m)
        if sn != sm:
            differences.append({"query": name, "nadhir": sn, "medallion": sm})
            return
        if sn == 200:
            a, b = sorted(extract(rn)), sorted(extract(rm))
            if a != b:
                mismatches.append({"query": name, "nadhir": a, "medallion": b})

    objs = lambda env: [key(o) for o in env.get("objects", [])]
    oid = indicator(1, V1)["id"]
    cases = [
        ("objects", {}),
        ("objects version=all", {"version": "all"}),
        ("objects version=first", {"version": "first"}),
        ("objects version=last", {"version": "last"}),
        ("objects version=first,last", {"version": ["first", "last"]}),
        ("objects version=V2", {"version": V2}),
        ("objects type=malware", {"type": "malware"}),
        ("objects type=indicator,malware all", {"type": ["indicator", "malware"], "version": "all"}),
        ("objects id", {"id": oid}),
        ("objects id+type (AND)", {"id": oid, "type": "malware"}),
        ("objects spec_version=2.1", {"spec_version": "2.1"}),
        ("objects spec_version=2.0", {"spec_version": "2.0"}),
    ]
    for name, kw in cases:
        compare(name, lambda: n.get_objects(**kw), lambda: m.get_objects(**kw), objs)
        compare("manifest " + name, lambda: n.get_manifest(**kw), lambda: m.get_manifest(**kw), objs)
    for name, kw in [("object", {}), ("object all", {"version": "all"}), ("object first", {"version": "first"}), ("object V2", {"version": V2})]:
        compare(name, lambda: n.get_object(oid, **kw), lambda: m.get_object(oid, **kw), objs)
    compare("versions", lambda: n.object_versions(oid), lambda: m.object_versions(oid), lambda e: e.get("versions", []))

    # added_after: each server's own date of the last version of a POST batch, so both cut
    # at the same object (medallion gives every object of one POST the same date_added).
    def cut(c, i):
        return c.get_manifest(version="all")["objects"][i]["date_added"]
    for i in (2, 5, 8):
        an, am = cut(n, i), cut(m, i)
        compare("manifest added_after #%d" % i, lambda: n.get_manifest(version="all", added_after=an),
                lambda: m.get_manifest(version="all", added_after=am), objs)
        compare("objects added_after #%d" % i, lambda: n.get_objects(version="all", added_after=an),
                lambda: m.get_objects(version="all", added_after=am), objs)

    # Pages: same page sizes and the same versions overall.
    for per in (2, 3, 5):
        queries += 1
        pn = [objs(p) for p in as_pages(n.get_objects, per_request=per, version="all")]
        pm = [objs(p) for p in as_pages(m.get_objects, per_request=per, version="all")]
        if [len(p) for p in pn] != [len(p) for p in pm] or sorted(sum(pn, [])) != sorted(sum(pm, [])):
            mismatches.append({"query": "pages of %d" % per, "nadhir": pn, "medallion": pm})

    # Malformed parameters.
    for name, kw in [("added_after=garbage", {"added_after": "garbage"}), ("match[version]=newest", {"version": "newest"})]:
        compare(name, lambda: n.get_objects(**kw), lambda: m.get_objects(**kw), objs)
    for name, q in [("limit=0", "limit=0"), ("limit=abc", "limit=abc"), ("next=tampered", "next=tampered")]:
        queries += 1
        rn = requests.get(n.url + "objects/?" + q, auth=n._conn.session.auth, headers={"Accept": TAXII})
        rm = requests.get(m.url + "objects/?" + q, auth=("diff", "diffpass"), headers={"Accept": TAXII})
        if rn.status_code != rm.status_code:
            differences.append({"query": name, "nadhir": rn.status_code, "medallion": rm.status_code})

    # Delete then 404 on both.
    compare("delete", lambda: n.delete_object(oid, version="all"), lambda: m.delete_object(oid, version="all"), lambda e: [])
    compare("object after delete", lambda: n.get_object(oid), lambda: m.get_object(oid), objs)

    print(json.dumps({"queries": queries, "mismatches": mismatches, "differences": differences}))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
