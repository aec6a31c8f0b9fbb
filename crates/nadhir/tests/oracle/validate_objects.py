#!/usr/bin/env python3
"""Oracle: validates every object of a STIX bundle (or JSON array) with the OASIS
stix2-validator (STIX 2.1, default checks: MUSTs are errors, SHOULDs are warnings).
Prints a JSON array of {"id", "valid", "errors"} in input order."""
import json, sys
from stix2validator import ValidationOptions, validate_instance

doc = json.load(open(sys.argv[1], encoding="utf-8"))
objects = doc["objects"] if isinstance(doc, dict) and doc.get("type") == "bundle" else doc
opts = ValidationOptions(version="2.1")
out = []
for obj in objects or []:
    r = validate_instance(obj, opts)
    out.append({"id": obj.get("id"), "valid": bool(r.is_valid), "errors": [str(e) for e in r.errors]})
json.dump(out, sys.stdout)
