"""Oracle for the warning crate's integration tests.

Reads a JSON array of STIX 2.1 objects from the file named on the command line and
prints one JSON line per object:

  {"id": ..., "valid": bool, "errors": [...], "warnings": [...], "stix2_id": ...}

- "valid"/"errors"/"warnings" come from the OASIS stix2-validator;
- "stix2_id" is, for SCOs, the deterministic id the OASIS stix2 library computes from
  the object's properties (the given id removed); null for other objects;
- every object is also parsed by the stix2 library ("parse_error" when it refuses).
"""
import json
import sys

import stix2
import stix2.v21
from stix2validator import ValidationOptions, validate_instance


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        objects = json.load(f)
    options = ValidationOptions(version="2.1", strict=False)
    for obj in objects:
        result = validate_instance(obj, options)
        out = {
            "id": obj.get("id"),
            "valid": bool(result.is_valid),
            "errors": [str(e) for e in result.errors],
            "warnings": [str(w) for w in result.warnings],
            "stix2_id": None,
            "parse_error": None,
        }
        try:
            stix2.parse(obj, allow_custom=False, version="2.1")
        except Exception as e:  # report, do not crash: the Rust test asserts on it
            out["parse_error"] = "%s: %s" % (type(e).__name__, e)
        cls = stix2.v21.OBJ_MAP_OBSERVABLE.get(obj.get("type"))
        if cls is not None:
            props = {k: v for k, v in obj.items() if k not in ("id", "type")}
            out["stix2_id"] = cls(**props).id
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
