"""Generates a reproducible corpus of STIX 2.1 objects with stix2-generator.

Usage: gen_corpus.py SEED PER_TYPE  -> JSON array on stdout.
"""
import json
import random
import sys

import faker
import stix2generator

OBJECT_TYPES = [
    "attack-pattern", "campaign", "course-of-action", "grouping", "identity",
    "incident", "indicator", "infrastructure", "intrusion-set", "location",
    "malware", "malware-analysis", "note", "observed-data", "opinion", "report",
    "threat-actor", "tool", "vulnerability", "relationship", "sighting",
    "artifact", "autonomous-system", "directory", "domain-name", "email-addr",
    "email-message", "file", "ipv4-addr", "ipv6-addr", "mac-addr", "mutex",
    "network-traffic", "process", "software", "url", "user-account",
    "windows-registry-key", "x509-certificate", "marking-definition",
    "tlp-white", "tlp-green", "tlp-amber", "tlp-red",
]


def main():
    seed = int(sys.argv[1])
    per_type = int(sys.argv[2])
    random.seed(seed)
    faker.Faker.seed(seed)
    gen = stix2generator.create_object_generator()
    out = []
    for t in OBJECT_TYPES:
        for _ in range(per_type):
            out.append(gen.generate(t))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
