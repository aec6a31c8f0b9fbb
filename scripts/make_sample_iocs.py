#!/usr/bin/env python3
"""Generates crates/nadhir/sample/national-centre-iocs.json: a small, realistic
national-centre bundle that complements the real MITRE ATT&CK for ICS content.

Values use documentation ranges (RFC 5737 addresses, .example domains) so that the
sample can never match real traffic. Deterministic: uuid5 ids, fixed timestamps."""
import hashlib, json, uuid

NS = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")
def oid(t, name): return f"{t}--{uuid.uuid5(NS, 'nadhir-sample/' + t + '/' + name)}"
TLP = {"clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
       "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
       "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
       "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
       "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"}
T0 = "2026-03-01T08:00:00.000Z"
centre = oid("identity", "centre")
objs = [{
    "type": "identity", "spec_version": "2.1", "id": centre, "created": T0, "modified": T0,
    "name": "Example National CSIRT", "identity_class": "organization",
    "sectors": ["government-national"], "contact_information": "soc@csirt.example",
    "object_marking_refs": [TLP["clear"]],
}]
# An ATT&CK for ICS technique and malware from the real sample, referenced by id.
SPEARPHISH = "attack-pattern--648f995e-9c3a-41e4-aeee-98bb41037426"  # Spearphishing Attachment (ATT&CK for ICS)
campaign = oid("campaign", "grid-phish")
malware = oid("malware", "gridlock-loader")
objs.append({"type": "malware", "spec_version": "2.1", "id": malware, "created": T0, "modified": T0,
             "created_by_ref": centre, "name": "GridLock Loader", "is_family": True,
             "malware_types": ["dropper", "remote-access-trojan"],
             "description": "Loader delivered by spear-phishing to energy-sector operators.",
             "object_marking_refs": [TLP["amber"]]})
objs.append({"type": "campaign", "spec_version": "2.1", "id": campaign, "created": T0, "modified": T0,
             "created_by_ref": centre, "name": "Grid Phish 2026",
             "description": "Phishing wave against regional energy and banking constituents.",
             "first_seen": "2026-02-20T00:00:00.000Z", "object_marking_refs": [TLP["green"]]})
iocs = []
kinds = [("ipv4-addr", "value", [f"203.0.113.{i}" for i in (7, 19, 44, 101, 200)]),
         ("ipv6-addr", "value", ["2001:db8:5::17", "2001:db8:7::1"]),
         ("domain-name", "value", ["login-update.example", "secure-bank-verify.example", "grid-ops.example", "cdn-patch.example"]),
         ("url", "value", ["http://cdn-patch.example/upd/kb5031.exe", "https://secure-bank-verify.example/login.php"]),
         ("email-addr", "value", ["it-support@grid-ops.example"])]
levels = ["clear", "green", "amber", "amber+strict", "red"]
n = 0
for t, prop, values in kinds:
    for v in values:
        iocs.append((f"[{t}:{prop} = '{v}']", f"{t} {v}", levels[n % len(levels)])); n += 1
for i in range(4):
    h = hashlib.sha256(f"nadhir-sample-{i}".encode()).hexdigest()
    iocs.append((f"[file:hashes.'SHA-256' = '{h}']", f"SHA-256 {h[:16]}…", levels[i % 3]))
iocs.append(("[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value ISSUBSET '198.51.100.0/24']",
             "C2 range 198.51.100.0/24", "amber"))
iocs.append(("[domain-name:value = 'grid-ops.example'] FOLLOWEDBY [url:value = 'http://cdn-patch.example/upd/kb5031.exe'] WITHIN 300 SECONDS",
             "lookup then download", "amber"))
for i, (pattern, label, tlp) in enumerate(iocs):
    ind = oid("indicator", pattern)
    objs.append({"type": "indicator", "spec_version": "2.1", "id": ind, "created": T0, "modified": T0,
                 "created_by_ref": centre, "name": f"GridLock infrastructure: {label}",
                 "indicator_types": ["malicious-activity"], "pattern": pattern, "pattern_type": "stix",
                 "valid_from": T0, "confidence": 60 + (i * 7) % 40,
                 "kill_chain_phases": [{"kill_chain_name": "mitre-ics-attack", "phase_name": "initial-access-ics"}],
                 "object_marking_refs": [TLP[tlp]]})
    objs.append({"type": "relationship", "spec_version": "2.1", "id": oid("relationship", "ind-" + pattern),
                 "created": T0, "modified": T0, "created_by_ref": centre, "relationship_type": "indicates",
                 "source_ref": ind, "target_ref": malware, "object_marking_refs": [TLP[tlp] if tlp != "red" else TLP["amber"]]})
# A second version and a revocation: versioning is part of the sample.
first = dict(objs[3]); second = dict(first); second["modified"] = "2026-03-05T10:30:00.000Z"; second["confidence"] = 95
objs.append(second)
third = dict(second); third["modified"] = "2026-03-09T16:00:00.000Z"; third["revoked"] = True
objs.append(third)
objs.append({"type": "relationship", "spec_version": "2.1", "id": oid("relationship", "mal-uses-tech"),
             "created": T0, "modified": T0, "created_by_ref": centre, "relationship_type": "uses",
             "source_ref": malware, "target_ref": SPEARPHISH, "object_marking_refs": [TLP["green"]]})
objs.append({"type": "report", "spec_version": "2.1", "id": oid("report", "advisory-1"),
             "created": T0, "modified": T0, "created_by_ref": centre, "name": "Advisory 2026-014: GridLock Loader",
             "report_types": ["threat-report"], "published": T0,
             "description": "Spear-phishing campaign delivering GridLock Loader to energy operators.",
             "object_refs": [campaign, malware] + [oid("indicator", p) for p, _, _ in iocs[:6]],
             "object_marking_refs": [TLP["green"]], "lang": "en"})
json.dump({"type": "bundle", "id": oid("bundle", "sample"), "objects": objs},
          open("crates/nadhir/sample/national-centre-iocs.json", "w"), indent=1, ensure_ascii=False)
print(len(objs), "objects")
