#!/usr/bin/env python3
"""Writes a STIX 2.1 bundle of objects made by the OASIS stix2-generator: N objects of
each listed type, with a fixed seed. Usage: generate_corpus.py OUT N"""
import json, random, sys
import stix2generator

random.seed(7)
out, n = sys.argv[1], int(sys.argv[2])
gen = stix2generator.create_object_generator()
types = ["attack-pattern", "campaign", "course-of-action", "grouping", "identity", "incident",
         "indicator", "infrastructure", "intrusion-set", "location", "malware", "malware-analysis",
         "note", "opinion", "report", "threat-actor", "tool", "vulnerability",
         "artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message",
         "file", "ipv4-addr", "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process",
         "software", "url", "user-account", "windows-registry-key", "x509-certificate"]
objs = []
for t in types:
    for _ in range(n):
        try:
            objs.append(gen.generate(t))
        except Exception as e:  # a generator limitation for a type is reported, not hidden
            print(f"stix2-generator cannot generate {t}: {e}", file=sys.stderr)
json.dump({"type": "bundle", "id": "bundle--3c8a5d0e-3f1b-4f5e-9a39-5cc4a0a1e0b1", "objects": objs},
          open(out, "w", encoding="utf-8"))
