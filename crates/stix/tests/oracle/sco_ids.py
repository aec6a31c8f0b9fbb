"""Prints the id the OASIS stix2 library gives each SCO read from stdin.

Input: a JSON array of SCO objects without "id". Output: a JSON array of ids.
"""
import json
import sys

import stix2


def main():
    objects = json.load(sys.stdin)
    ids = []
    for obj in objects:
        parsed = stix2.parse(obj, allow_custom=False, version="2.1")
        ids.append(parsed.id)
    json.dump(ids, sys.stdout)


if __name__ == "__main__":
    main()
