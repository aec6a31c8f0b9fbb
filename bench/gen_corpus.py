#!/usr/bin/env python3
"""Generates N valid STIX 2.1 objects as JSON lines (or one bundle with --bundle), for
import/export benchmarks. Mix: indicators (IPs, domains, URLs, hashes), malware,
identities, relationships, sightings, observed-data with SCOs. ~600 bytes per object.
Deterministic for a given --seed. Usage: gen_corpus.py N [--bundle] [--seed S] > out"""
import argparse, hashlib, json, random, sys, uuid

ap = argparse.ArgumentParser()
ap.add_argument("n", type=int)
ap.add_argument("--bundle", action="store_true")
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
rnd = random.Random(a.seed)
NS = uuid.UUID("12345678-1234-5678-1234-567812345678")
def uid(t, i): return f"{t}--{uuid.uuid5(NS, f'{a.seed}/{t}/{i}')}"
TLP = ["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
       "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"]
def ts(i): return f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}.{i % 1000:03d}Z"
ident = uid("identity", 0)
out = sys.stdout
write = out.write
if a.bundle:
    write('{"type":"bundle","id":"%s","objects":[\n' % uid("bundle", 0))
for i in range(a.n):
    k = i % 10
    t = ts(i)
    if i == 0:
        o = {"type": "identity", "spec_version": "2.1", "id": ident, "created": t, "modified": t,
             "name": "Benchmark Centre", "identity_class": "organization", "sectors": ["government-national"]}
    elif k < 6:
        kind = i % 4
        if kind == 0:
            p = f"[ipv4-addr:value = '{10 + i % 200}.{(i >> 8) % 256}.{(i >> 16) % 256}.{i % 256}']"
        elif kind == 1:
            p = f"[domain-name:value = 'host{i}.bad-{i % 997}.example']"
        elif kind == 2:
            p = f"[url:value = 'http://dl{i % 5000}.example/p/{i}.bin']"
        else:
            p = f"[file:hashes.'SHA-256' = '{hashlib.sha256(str(i).encode()).hexdigest()}']"
        o = {"type": "indicator", "spec_version": "2.1", "id": uid("indicator", i), "created": t, "modified": t,
             "created_by_ref": ident, "name": f"Indicator {i}", "indicator_types": ["malicious-activity"],
             "pattern": p, "pattern_type": "stix", "valid_from": t, "confidence": i % 101,
             "labels": ["benchmark"], "object_marking_refs": [TLP[i % 4]],
             "x_nadhir_source": {"feed": "bench", "row": i}}
    elif k == 6:
        o = {"type": "malware", "spec_version": "2.1", "id": uid("malware", i), "created": t, "modified": t,
             "created_by_ref": ident, "name": f"Family {i}", "is_family": True, "malware_types": ["trojan"],
             "description": "Generated malware family used for benchmarking the import path of the store.",
             "object_marking_refs": [TLP[i % 4]]}
    elif k == 7:
        o = {"type": "relationship", "spec_version": "2.1", "id": uid("relationship", i), "created": t, "modified": t,
             "created_by_ref": ident, "relationship_type": "indicates", "source_ref": uid("indicator", i - 7),
             "target_ref": uid("malware", i - 1), "object_marking_refs": [TLP[i % 4]]}
    elif k == 8:
        o = {"type": "sighting", "spec_version": "2.1", "id": uid("sighting", i), "created": t, "modified": t,
             "created_by_ref": ident, "sighting_of_ref": uid("indicator", i - 8), "count": 1 + i % 50,
             "first_seen": t, "last_seen": t, "where_sighted_refs": [ident], "object_marking_refs": [TLP[i % 4]]}
    else:
        o = {"type": "observed-data", "spec_version": "2.1", "id": uid("observed-data", i), "created": t, "modified": t,
             "created_by_ref": ident, "first_observed": t, "last_observed": t, "number_observed": 1 + i % 9,
             "object_refs": [f"ipv4-addr--{uuid.uuid5(NS, str(i))}"], "object_marking_refs": [TLP[i % 4]]}
    s = json.dumps(o, separators=(",", ":"))
    if a.bundle:
        write(s + (",\n" if i + 1 < a.n else "\n"))
    else:
        write(s + "\n")
if a.bundle:
    write("]}\n")
