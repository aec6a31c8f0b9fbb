"""Validates each STIX object read from stdin with the OASIS stix2-validator.

Input: a JSON array of objects. Output: a JSON array of
{"valid": bool, "errors": [str]} -- only MUST-level errors count; the
validator's warnings (SHOULDs, best practices) are ignored.
"""
import json
import sys

from stix2validator import ValidationOptions, validate_instance


def main():
    objects = json.load(sys.stdin)
    options = ValidationOptions(version="2.1", strict=False)
    results = []
    for obj in objects:
        try:
            r = validate_instance(obj, options)
            results.append({"valid": bool(r.is_valid), "errors": [str(e) for e in r.errors]})
        except Exception as e:  # the validator raises on some malformed input
            results.append({"valid": False, "errors": ["exception: %r" % (e,)]})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
