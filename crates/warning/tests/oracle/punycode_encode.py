"""Oracle: encodes each line of stdin (a Unicode label) with Python's RFC 3492
'punycode' codec and prints one JSON line {"label": ..., "punycode": ...}."""
import json
import sys

for line in sys.stdin.read().split("\n"):
    if line:
        print(json.dumps({"label": line, "punycode": line.encode("punycode").decode("ascii")}))
