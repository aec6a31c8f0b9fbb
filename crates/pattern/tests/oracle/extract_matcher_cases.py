"""Extracts the STIX 2.1 test cases of the stix2-matcher package as data.

Runs stix2matcher/test/v21 under pytest with every module's `match` wrapped so that each
call is recorded with the reference's outcome (the suite passes in full with
stix2-patterns 2.0.0, so the outcome is the expected verdict). Writes
tests/data/matcher_cases.jsonl, one JSON object per call:
{"name", "pattern", "observed", "outcome": "match"|"nomatch"|"parse_error"|"error",
 "observed_data_refs": [...]}.

Run: .venv/bin/python crates/pattern/tests/oracle/extract_matcher_cases.py
"""
import json
import os
import sys

import pytest
import stix2matcher
from stix2patterns.pattern import ParseException
import stix2matcher.matcher as M

OUT = os.path.join(os.path.dirname(__file__), "..", "data", "matcher_cases.jsonl")
ROWS = []
CURRENT = {"name": None}


def sdo_ids(sdos):
    ids = []
    for b in sdos:
        objs = b.get("objects")
        if isinstance(objs, list) and objs:
            ids.append(objs[0].get("id"))
        else:
            ids.append(b.get("id"))
    return ids


def recording_match(pattern, observed_data_sdos, verbose=False, stix_version=M.DEFAULT_VERSION):
    row = {"name": CURRENT["name"], "pattern": pattern, "stix_version": stix_version}
    try:
        row["observed"] = json.loads(json.dumps(observed_data_sdos))
    except (TypeError, ValueError):
        row["observed"] = None
    try:
        res = M.match(pattern, observed_data_sdos, verbose, stix_version)
    except ParseException:
        row["outcome"] = "parse_error"
        ROWS.append(row)
        raise
    except Exception as e:  # noqa: BLE001 - record, then let the test see it
        row["outcome"] = "error"
        row["error"] = type(e).__name__
        ROWS.append(row)
        raise
    row["outcome"] = "match" if res else "nomatch"
    row["observed_data_refs"] = sdo_ids(res)
    ROWS.append(row)
    return res


class Recorder:
    def pytest_runtest_setup(self, item):
        CURRENT["name"] = item.nodeid
        if hasattr(item.module, "match"):
            item.module.match = recording_match


def main():
    tdir = os.path.join(os.path.dirname(stix2matcher.__file__), "test", "v21")
    rc = pytest.main(["-q", "-p", "no:cacheprovider", tdir], plugins=[Recorder()])
    rows = [r for r in ROWS if r["stix_version"] == "2.1" and r["observed"] is not None]
    with open(OUT, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
    print("pytest rc=%s; wrote %d cases" % (rc, len(rows)), file=sys.stderr)


if __name__ == "__main__":
    main()
