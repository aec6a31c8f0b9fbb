#!/usr/bin/env python3
"""Oracle for the policy crate: reads a JSON array of STIX 2.1 objects on stdin,
validates each with the OASIS stix2-validator (MUSTs are errors) and parses each with the
OASIS stix2 library (allow_custom=False unless the object has x_ custom properties of
its own, so anything else unexpected — e.g. a malformed extension — fails). Prints a
JSON array of {"id", "valid", "errors", "parsed", "parse_error"} in input order."""
import json
import sys

import stix2
from stix2validator import ValidationOptions, validate_instance

objects = json.load(sys.stdin)
opts = ValidationOptions(version="2.1")
out = []
for obj in objects:
    r = validate_instance(obj, opts)
    parsed, parse_error = True, None
    try:
        custom = any(k.startswith("x_") for k in obj)
        stix2.parse(obj, allow_custom=custom, version="2.1")
    except Exception as e:  # report, do not hide: the test prints it
        parsed, parse_error = False, f"{type(e).__name__}: {e}"
    out.append({"id": obj.get("id"), "valid": bool(r.is_valid),
                "errors": [str(e) for e in r.errors], "parsed": parsed, "parse_error": parse_error})
json.dump(out, sys.stdout)
