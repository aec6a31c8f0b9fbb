"""Evaluator oracle: reads JSON lines {"pattern": "...", "observed": [...]} on stdin and
prints one JSON line per input: {"outcome": "match"|"nomatch"|"parse_error"|"error",
"observed_data_refs": [...]}, as judged by
stix2matcher.matcher.match(pattern, observed, stix_version='2.1')."""
import json
import sys

from stix2matcher.matcher import match
from stix2patterns.pattern import ParseException


def judge(pattern, observed):
    try:
        res = match(pattern, observed, stix_version="2.1")
    except ParseException:
        return {"outcome": "parse_error", "observed_data_refs": []}
    except Exception as e:  # noqa: BLE001 - any reference failure is an error verdict
        return {"outcome": "error", "error": type(e).__name__, "observed_data_refs": []}
    refs = [b["objects"][0]["id"] for b in res]
    return {"outcome": "match" if res else "nomatch", "observed_data_refs": refs}


def main():
    for line in sys.stdin:
        line = line.strip()
        if line:
            case = json.loads(line)
            sys.stdout.write(json.dumps(judge(case["pattern"], case["observed"])) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
