"""Extracts every pattern-like string literal from the stix2-patterns and stix2-matcher
STIX 2.1 test suites (plus stix2-patterns' spec_examples.txt), judges each with the
reference validator, and writes tests/data/parser_cases.jsonl:
{"source": "...", "pattern": "...", "valid": bool}.

Run: .venv/bin/python crates/pattern/tests/oracle/extract_parser_cases.py
"""
import ast
import json
import os
import sys

import stix2matcher
import stix2patterns

sys.path.insert(0, os.path.dirname(__file__))
from validate import verdict  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "data", "parser_cases.jsonl")


def literals(path):
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            s = node.value
            if s.lstrip("( ").startswith("[") or s.strip().startswith("file:") or "]" in s:
                yield s


def main():
    seen = set()
    rows = []

    def add(source, pattern):
        if pattern in seen:
            return
        seen.add(pattern)
        rows.append({"source": source, "pattern": pattern, "valid": verdict(pattern)})

    pdir = os.path.join(os.path.dirname(stix2patterns.__file__), "test", "v21")
    with open(os.path.join(pdir, "spec_examples.txt"), encoding="utf-8") as f:
        for line in f:
            add("stix2patterns/test/v21/spec_examples.txt", line.strip())
    for name in sorted(os.listdir(pdir)):
        if name.endswith(".py"):
            for s in literals(os.path.join(pdir, name)):
                add("stix2patterns/test/v21/" + name, s)
    mdir = os.path.join(os.path.dirname(stix2matcher.__file__), "test", "v21")
    for name in sorted(os.listdir(mdir)):
        if name.endswith(".py"):
            for s in literals(os.path.join(mdir, name)):
                add("stix2matcher/test/v21/" + name, s)
    with open(OUT, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print("wrote %d cases (%d valid)" % (len(rows), sum(r["valid"] for r in rows)))


if __name__ == "__main__":
    main()
