#!/usr/bin/env python3
"""Oracle: checks the STIX objects the early-warning pipeline emitted.

    check_emitted.py FILE

FILE is a JSON array or a STIX bundle of emitted objects (sighting, observed-data,
SCOs such as ipv4-addr, domain-name, url, file, email-addr, identity). Checks, with the
OASIS `stix2` library and `stix2-validator`:

  sco-id      every SCO's id equals the id `stix2` computes from the same properties
              (deterministic UUIDv5 over the ID contributing properties);
  validator   every object passes stix2validator.validate_instance with the STIX 2.1
              defaults (strict off; warnings are not failures);
  sighting    every sighting's sighting_of_ref names an SDO, observed_data_refs name
              observed-data objects present in FILE, where_sighted_refs name identity
              or location objects;
  object-refs every observed-data's object_refs resolve to SCOs or SROs in FILE.

Every failure is printed to stderr as `<id>: [<check>] <message>`; stdout gets one JSON
summary line. Exit 0 only if every check passes, 1 if one fails, 2 if FILE cannot be
read as a JSON array or bundle of objects.
"""
import json
import sys

import stix2
import stix2.v21
from stix2validator import ValidationOptions, validate_instance

NOT_SDO = {"relationship", "sighting", "marking-definition", "bundle", "language-content",
           "extension-definition"}
SDO_TYPES = set(stix2.v21.OBJ_MAP) - NOT_SDO
SCO_TYPES = set(stix2.v21.OBJ_MAP_OBSERVABLE)
SRO_TYPES = {"relationship", "sighting"}


def type_of(ref):
    return ref.split("--", 1)[0] if isinstance(ref, str) and "--" in ref else None


def load(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if isinstance(doc, dict) and doc.get("type") == "bundle":
        doc = doc.get("objects", [])
    if not isinstance(doc, list) or not all(isinstance(o, dict) for o in doc):
        raise ValueError("expected a JSON array of objects or a STIX bundle")
    return doc


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        objects = load(sys.argv[1])
    except (OSError, ValueError) as e:  # json.JSONDecodeError is a ValueError
        print(json.dumps({"ok": False, "file": sys.argv[1], "error": str(e)}))
        return 2

    failures = []

    def fail(obj_id, check, message):
        failures.append({"id": obj_id, "check": check, "message": message})
        print(f"{obj_id}: [{check}] {message}", file=sys.stderr)

    by_id = {}
    for obj in objects:
        by_id.setdefault(obj.get("id"), obj)
    counts = {"objects": len(objects), "scos": 0, "sightings": 0, "observed_data": 0}
    options = ValidationOptions(version="2.1", strict=False)

    for n, obj in enumerate(objects):
        oid = obj.get("id") or f"#{n}"
        t = obj.get("type")

        # (b) stix2-validator, STIX 2.1 defaults.
        result = validate_instance(obj, options)
        for e in result.errors:
            fail(oid, "validator", str(e))

        # (a) deterministic SCO ids.
        if t in SCO_TYPES:
            counts["scos"] += 1
            props = {k: v for k, v in obj.items() if k not in ("id", "type")}
            try:
                # Custom properties never contribute to the id; the validator judges them.
                want = stix2.v21.OBJ_MAP_OBSERVABLE[t](allow_custom=True, **props).id
            except Exception as e:  # the library refuses the object: report, go on
                fail(oid, "sco-id", f"stix2 cannot build the {t}: {type(e).__name__}: {e}")
            else:
                if want != obj.get("id"):
                    fail(oid, "sco-id", f"id {obj.get('id')} but stix2 computes {want}")

        # (c) sighting references.
        if t == "sighting":
            counts["sightings"] += 1
            ref = obj.get("sighting_of_ref")
            if type_of(ref) not in SDO_TYPES:
                fail(oid, "sighting", f"sighting_of_ref {ref!r} does not name an SDO")
            for r in obj.get("observed_data_refs") or []:
                if type_of(r) != "observed-data":
                    fail(oid, "sighting", f"observed_data_refs: {r!r} is not an observed-data id")
                elif r not in by_id:
                    fail(oid, "sighting", f"observed_data_refs: {r} is not in the file")
            for r in obj.get("where_sighted_refs") or []:
                if type_of(r) not in ("identity", "location"):
                    fail(oid, "sighting", f"where_sighted_refs: {r!r} is not an identity or location id")

        # (c) observed-data object_refs resolve inside FILE.
        if t == "observed-data":
            counts["observed_data"] += 1
            refs = obj.get("object_refs")
            if not refs:
                fail(oid, "object-refs", "observed-data without object_refs")
            for r in refs or []:
                target = by_id.get(r)
                if target is None:
                    fail(oid, "object-refs", f"object_refs: {r} is not in the file")
                elif target.get("type") not in SCO_TYPES | SRO_TYPES:
                    fail(oid, "object-refs", f"object_refs: {r} is a {target.get('type')}, not an SCO or SRO")

    summary = dict(counts, ok=not failures, failures=len(failures),
                   checks={c: sum(1 for f in failures if f["check"] == c)
                           for c in ("sco-id", "validator", "sighting", "object-refs")},
                   errors=failures)
    print(json.dumps(summary))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
