"""Parser oracle: reads JSON-lines patterns ({"pattern": "..."}) on stdin and prints one
JSON line per pattern: {"valid": true|false}, as judged by
stix2patterns.validator.run_validator(pattern, stix_version='2.1'). An exception inside the
reference validator counts as a rejection."""
import json
import sys

from stix2patterns.validator import run_validator


def verdict(pattern):
    try:
        return len(run_validator(pattern, stix_version="2.1")) == 0
    except Exception:  # noqa: BLE001 - the reference crashing means it does not accept
        return False


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        pattern = json.loads(line)["pattern"]
        sys.stdout.write(json.dumps({"valid": verdict(pattern)}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
