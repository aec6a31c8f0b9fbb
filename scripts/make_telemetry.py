#!/usr/bin/env python3
"""Generates a realistic early-warning fixture: a STIX 2.1 indicator bundle, Suricata EVE
and Zeek dns.log telemetry with planted hits and near misses, a file of malformed lines,
and the exact expected result.

    scripts/make_telemetry.py OUTDIR [--events N] [--seed S] [--huge-line]

Python 3 standard library only, no network, deterministic for a given (N, seed, flag).
The file formats and every planted case are described in scripts/README-telemetry.md.

Values use documentation address ranges (RFC 5737, RFC 3849) and reserved names
(RFC 2606: .example, .test, example.com/net/org) for everything an indicator names;
background traffic uses ordinary public-looking names and addresses that no indicator
names. The expected IOC hits are not written by hand: a small reference matcher in this
file (the field maps of crates/matcher/src/fields.rs, the normalisation rules of
crates/matcher/README.md) scans every generated line, and the generator refuses to
write a fixture where that scan disagrees with the planted intention of any line
(a planted hit missing, a near miss hitting, background traffic hitting anything).
"""
import argparse
import calendar
import ipaddress
import json
import os
import random
import sys
import time
import uuid

WINDOW = 3600  # sighting windows: one hour, aligned on the Unix epoch
MIN_CONFIDENCE = 50
T0 = calendar.timegm((2026, 11, 20, 10, 0, 0))  # start of event time (a window start)
SPAN = 2 * WINDOW  # events fall in [T0, T0 + SPAN): exactly two windows
CREATED = "2026-11-01T08:00:00.000Z"
HUGE_LINE_BYTES = 100 * 1000 * 1000
MATCH_MAX_LINE_BYTES = 1 << 20  # `nadhir match --max-line-bytes` default

TLP = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
}

# ---------------------------------------------------------------------------------------
# Reference IOC matcher (the oracle for expected.json)
# ---------------------------------------------------------------------------------------

EVE_FIELDS = {
    "src_ip": "ip", "dest_ip": "ip", "dns.rrname": "domain-name", "dns.rdata": "ip-or-domain",
    "dns.query.rrname": "domain-name", "dns.queries.rrname": "domain-name",
    "dns.answers.rrname": "domain-name", "dns.answers.rdata": "ip-or-domain",
    "dns.grouped.A": "ip", "dns.grouped.AAAA": "ip", "dns.grouped.CNAME": "domain-name",
    "http.hostname": "http-host", "http.url": "http-path", "http.http_port": "http-port",
    "http.http_refer": "url", "tls.sni": "domain-name", "quic.sni": "domain-name",
    "fileinfo.md5": "hash:MD5", "fileinfo.sha1": "hash:SHA-1", "fileinfo.sha256": "hash:SHA-256",
    "smtp.mail_from": "email-addr", "smtp.rcpt_to": "email-addr", "email.from": "email-addr",
    "email.to": "email-addr", "email.cc": "email-addr",
}
ZEEK_FIELDS = {
    "id.orig_h": "ip", "id.resp_h": "ip", "query": "domain-name", "answers": "ip-or-domain",
    "host": "http-host", "uri": "http-path", "id.resp_p": "http-port", "referrer": "url",
    "server_name": "domain-name", "md5": "hash:MD5", "sha1": "hash:SHA-1",
    "sha256": "hash:SHA-256", "tx_hosts": "ip", "rx_hosts": "ip", "san.dns": "domain-name",
    "san.ip": "ip", "mailfrom": "email-addr", "rcptto": "email-addr", "from": "email-addr",
    "to": "email-addr",
}
FIELDS = dict(EVE_FIELDS, **ZEEK_FIELDS)  # `nadhir match --format auto`
HASH_LEN = {"MD5": 32, "SHA-1": 40, "SHA-256": 64}


def norm_domain(v):
    v = v.strip()
    v = "".join(c.lower() if c.isascii() else c for c in v)
    return v[:-1] if v.endswith(".") else v


def parse_ip(v):
    """An address (IPv4-mapped IPv6 becomes IPv4, zone index dropped) or None."""
    v = v.strip().split("%", 1)[0]
    try:
        a = ipaddress.ip_address(v)
    except ValueError:
        return None
    if a.version == 6 and a.ipv4_mapped is not None:
        return a.ipv4_mapped
    return a


DEFAULT_PORT = {"http": "80", "ws": "80", "https": "443", "wss": "443", "ftp": "21"}


def norm_url(v):
    v = v.strip()
    if "://" not in v:
        return v
    scheme, rest = v.split("://", 1)
    scheme = scheme.lower()
    cut = min([i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0] or [len(rest)])
    authority, tail = rest[:cut], rest[cut:]
    userinfo = ""
    if "@" in authority:
        userinfo, authority = authority.rsplit("@", 1)
        userinfo += "@"
    port = ""
    if authority.startswith("["):
        end = authority.find("]")
        host, after = authority[: end + 1], authority[end + 1:]
        if after.startswith(":"):
            port = after[1:]
    elif ":" in authority:
        host, port = authority.rsplit(":", 1)
    else:
        host = authority
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    if port == DEFAULT_PORT.get(scheme):
        port = ""
    if tail == "" and scheme in ("http", "https"):
        tail = "/"
    return f"{scheme}://{userinfo}{host}{':' + port if port else ''}{tail}"


def norm_email(v):
    v = v.strip()
    if "<" in v and v.endswith(">"):
        v = v[v.rfind("<") + 1: -1].strip()
    if "@" not in v:
        return v
    local, domain = v.rsplit("@", 1)
    return local + "@" + norm_domain(domain)


def sco(kind, value):
    """The SCO a matched observable becomes: type + normalised value."""
    if kind.startswith("hash:"):
        return {"type": "file", "hashes": {kind[5:]: value}}
    return {"type": kind, "value": value}


def sco_key(s):
    return json.dumps(s, sort_keys=True)


class IocIndex:
    """The IOC-shaped subset used by this fixture: exact domains, '%.x' suffixes, exact
    IPv4/IPv6, CIDRs, exact URLs, file hashes, email addresses."""

    def __init__(self):
        self.domain, self.suffix, self.ip, self.cidr = {}, {}, {}, []
        self.url, self.hash, self.email = {}, {}, {}

    def add(self, ind_id, kind, op, value):
        add = lambda table, key: table.setdefault(key, []).append(ind_id)  # noqa: E731
        if kind == "domain-name" and op == "=":
            add(self.domain, norm_domain(value))
        elif kind == "domain-name" and op == "LIKE":
            assert value.startswith("%.") and "%" not in value[1:] and "_" not in value
            add(self.suffix, norm_domain(value[1:]))
        elif kind in ("ipv4-addr", "ipv6-addr") and op == "=":
            add(self.ip, parse_ip(value))
        elif kind in ("ipv4-addr", "ipv6-addr") and op == "ISSUBSET":
            self.cidr.append((ipaddress.ip_network(value), ind_id))
        elif kind == "url":
            add(self.url, norm_url(value))
        elif kind.startswith("hash:"):
            add(self.hash, (kind, value.lower()))
        elif kind == "email-addr":
            add(self.email, norm_email(value))
        else:
            raise ValueError((kind, op, value))

    def lookup(self, role, raw):
        """[(indicator id, sco)] for one telemetry value of a field role."""
        out = []
        if role in ("ip", "ip-or-domain"):
            a = parse_ip(raw)
            if a is not None:
                kind = "ipv4-addr" if a.version == 4 else "ipv6-addr"
                ids = list(self.ip.get(a, []))
                ids += [i for net, i in self.cidr if net.version == a.version and a in net]
                return [(i, sco(kind, str(a))) for i in ids]
            if role == "ip":
                return []
            role = "domain-name"
        if role == "domain-name":
            d = norm_domain(raw)
            ids = list(self.domain.get(d, []))
            for sfx, sids in self.suffix.items():
                if d.endswith(sfx) and len(d) > len(sfx):
                    ids += sids
            return [(i, sco("domain-name", d)) for i in ids]
        if role == "url":
            u = norm_url(raw)
            return [(i, sco("url", u)) for i in self.url.get(u, [])]
        if role.startswith("hash:"):
            h = raw.strip().lower()
            if len(h) != HASH_LEN[role[5:]] or any(c not in "0123456789abcdef" for c in h):
                return []
            return [(i, sco(role, h)) for i in self.hash.get((role, h), [])]
        if role == "email-addr":
            e = norm_email(raw)
            return [(i, sco("email-addr", e)) for i in self.email.get(e, [])]
        raise ValueError(role)

    def scan(self, event):
        """All (indicator id, sco) hits of one decoded event, as a set of pairs."""
        hits = set()
        http = {}

        def walk(v, parts):
            if isinstance(v, dict):
                for k, x in v.items():
                    walk(x, parts + k.split("."))
            elif isinstance(v, list):
                for x in v:
                    walk(x, parts)
            else:
                role = FIELDS.get(".".join(parts))
                if role is None:
                    return
                if role == "http-port":
                    if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 65535:
                        http["port"] = v
                    return
                if not isinstance(v, str):
                    return
                if role == "http-host":
                    http["host"] = v
                    role = "ip-or-domain"
                elif role == "http-path":
                    http["path"] = v
                    return
                for i, s in self.lookup(role, v):
                    hits.add((i, sco_key(s)))

        walk(event, [])
        path = http.get("path")
        if path is not None:
            if len(path) > 8 and (path[:7].lower() == "http://" or path[:8].lower() == "https://"):
                url = path
            elif "host" in http and path.startswith("/"):
                port = http.get("port")
                url = "http://" + http["host"]
                if port is not None and port != 80 and ":" not in http["host"]:
                    url += f":{port}"
                url += path
            else:
                url = None
            if url is not None:
                for i, s in self.lookup("url", url):
                    hits.add((i, sco_key(s)))
        return hits


# ---------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------

def stix_time(us):
    s, frac = divmod(us, 1_000_000)
    y, mo, d, h, mi, se = time.gmtime(s)[:6]
    return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{se:02d}.{frac:06d}Z"


def eve_time(us):
    return stix_time(us)[:-1] + "+0000"


def zeek_ts(us):
    # Zeek writes epoch seconds with six decimals; json writes the shortest repr, which
    # parses back to the same double (readers round to the nearest microsecond).
    return float(f"{us // 1_000_000}.{us % 1_000_000:06d}")


def case_0x20(rng, name):
    """DNS 0x20: random case on every letter; at least one letter changed."""
    while True:
        out = "".join(c.upper() if c.isalpha() and rng.random() < 0.5 else c for c in name)
        if out != name.lower() or not any(c.isalpha() for c in name):
            return out


class Gen:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.seed = seed

    def uuid4(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hexstr(self, n):
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def flow_id(self):
        return self.rng.randrange(10**14, 2**51)

    def zeek_uid(self):
        alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        return "C" + "".join(self.rng.choice(alphabet) for _ in range(17))


# ---------------------------------------------------------------------------------------
# Indicators
# ---------------------------------------------------------------------------------------

# Named values: each is planted in the telemetry (hit), baited (near miss), or both.
D_DNS = "update-check.example.net"  # exact; EVE DNS 0x20 + trailing dot, both windows
D_SUB = "sync-relay.example.org"  # domain and subdomains
D_SNI = "telemetry-stats.example.com"  # exact; TLS SNI
D_SIB = "evil.example.com"  # exact; near miss evil-example.com
D_PARENT = "c2.update-svc.example.net"  # exact; near misses: parent and child
D_ZEEK = "parcel-track.example"  # exact; Zeek query 0x20
D_ZEEK_DOT = "docs-share.example.org"  # exact; Zeek query with a trailing dot
D_CNAME = "cdn-dl.example.com"  # exact; answered as a CNAME (EVE and Zeek)
D_ZSIB = "mail.wallet-verify.example"  # exact; Zeek near miss mail-wallet-verify.example
D_SUB2 = "dyn-relay.test"  # domain and subdomains; near miss mydyn-relay.test (no dot)
D_BAD = "invoice-portal.example"  # exact; the valid DNS event in bad.jsonl
D_REVOKED = "old-campaign.example.net"  # revoked
U_HOST = "http://cdn-patch.example.net/upd/kb5031.exe"  # EVE http, upper-case host
U_REF = "https://secure-verify.example.org/login.php"  # EVE http referer, mixed-case host
U_FUTURE = "http://stage2.example.com/gate.php"  # valid_from in the future
I_SRC = "203.0.113.10"  # inbound flow source; near miss 203.0.113.11
I_ALERT = "203.0.113.25"  # alert destination
I_ANS = "192.0.2.77"  # EVE DNS answer rdata
I_ZANS = "192.0.2.88"  # Zeek answer; near miss 192.0.2.89
I_EXPIRED = "203.0.113.40"  # valid_until in the past
CIDR = "198.51.100.64/27"  # ISSUBSET; hit .70 (EVE), .90 (Zeek); near miss .96
I6 = "2001:db8:5::17"  # EVE in Suricata's expanded form, Zeek AAAA answer
E_MAIL = "invoice@billing-notice.example"  # SMTP mail_from with upper-case domain
# General (non-IOC) patterns.
G_A, G_B = "beacon-init.example.com", "198.51.100.200"
G_A2, G_B2 = "beacon-order.example.com", "198.51.100.201"
G_A3, G_B3 = "beacon-late.example.com", "198.51.100.202"
G_C, G_C2, G_C3 = "198.51.100.210", "198.51.100.211", "198.51.100.212"
G_AND_SFX, G_AND_NM_SFX = "relay-dyn.example", "relay-b.example"

WORDS = ["update", "secure", "login", "verify", "cdn", "sync", "portal", "billing", "notice",
         "account", "mail", "office", "cloud", "drive", "share", "docs", "patch", "stats",
         "api", "auth", "sso", "wallet", "delivery", "track", "support", "helpdesk", "vpn",
         "gate", "proxy", "node", "svc", "static", "assets", "media", "files", "dl", "web"]
TLDS = ["example", "example.com", "example.net", "example.org", "test"]
LABELS = [  # (labels, indicator_types, kill chain phase, threat wording)
    (["c2", "botnet"], ["malicious-activity"], "command-and-control", "command-and-control server"),
    (["phishing"], ["malicious-activity"], "delivery", "phishing infrastructure"),
    (["malware", "loader"], ["malicious-activity"], "installation", "malware distribution"),
    (["exploit"], ["malicious-activity"], "exploitation", "exploit kit landing"),
    (["scanner"], ["anomalous-activity"], "reconnaissance", "scanning host"),
    (["exfiltration"], ["malicious-activity"], "actions-on-objectives", "exfiltration endpoint"),
    (["compromised"], ["compromised"], "command-and-control", "compromised relay"),
]


def build_indicators(g):
    rng = g.rng
    partner = "identity--" + g.uuid4()
    objs = [{
        "type": "identity", "spec_version": "2.1", "id": partner, "created": CREATED,
        "modified": CREATED, "name": "Example Regional CERT", "identity_class": "organization",
        "sectors": ["government-national"], "contact_information": "soc@regional-cert.example",
        "object_marking_refs": [TLP["clear"]],
    }]
    meta = {}  # id -> {"pattern", "kind": ioc|general, "active", "reason", "iocs": [(kind, op, value)]}
    tlps = ["clear", "green", "amber", "amber+strict"]

    def add(pattern, iocs, name, *, general=False, revoked=False, valid_from=None,
            valid_until=None, confidence=None):
        ind = "indicator--" + g.uuid4()
        labels, itypes, phase, wording = LABELS[rng.randrange(len(LABELS))]
        obj = {
            "type": "indicator", "spec_version": "2.1", "id": ind, "created": CREATED,
            "modified": CREATED, "created_by_ref": partner, "name": name,
            "description": f"Observed {wording} reported by a partner sensor network.",
            "indicator_types": itypes, "labels": labels, "pattern": pattern,
            "pattern_type": "stix", "pattern_version": "2.1",
            "valid_from": valid_from or f"2026-{rng.randrange(6, 11):02d}-{rng.randrange(1, 29):02d}T00:00:00Z",
            "kill_chain_phases": [{"kill_chain_name": "lockheed-martin-cyber-kill-chain", "phase_name": phase}],
            "confidence": confidence if confidence is not None else rng.randrange(60, 96),
            "object_marking_refs": [TLP[tlps[rng.randrange(len(tlps))]]],
        }
        reason = None
        if revoked:
            obj["revoked"] = True
            obj["modified"] = "2026-11-10T12:00:00.000Z"
            reason = "revoked"
        if valid_until:
            obj["valid_until"] = valid_until
            reason = "valid_until in the past"
        if valid_from:
            reason = reason or ("valid_from in the future" if valid_from > "2027" else None)
        if obj["confidence"] < MIN_CONFIDENCE:
            reason = f"confidence {obj['confidence']} below {MIN_CONFIDENCE}"
        objs.append(obj)
        meta[ind] = {"pattern": pattern, "kind": "general" if general else "ioc",
                     "active": reason is None, "inactive_reason": reason, "iocs": iocs}
        return ind

    def exact(kind, value, **kw):
        prop = "value"
        return add(f"[{kind}:{prop} = '{value}']", [(kind, "=", value)], f"{kind} {value}", **kw)

    def with_subdomains(d):
        return add(f"[domain-name:value = '{d}' OR domain-name:value LIKE '%.{d}']",
                   [("domain-name", "=", d), ("domain-name", "LIKE", "%." + d)],
                   f"{d} and its subdomains")

    def cidr(net):
        kind = "ipv4-addr" if ":" not in net else "ipv6-addr"
        return add(f"[{kind}:value ISSUBSET '{net}']", [(kind, "ISSUBSET", net)], f"range {net}")

    def hashed(alg, h, **kw):
        key = f"'{alg}'" if "-" in alg else alg
        return add(f"[file:hashes.{key} = '{h}']", [("hash:" + alg, "=", h)], f"file {alg} {h[:12]}…", **kw)

    named = {}
    named["D_DNS"] = exact("domain-name", D_DNS)
    named["D_SUB"] = with_subdomains(D_SUB)
    named["D_SNI"] = exact("domain-name", D_SNI)
    named["D_SIB"] = exact("domain-name", D_SIB)
    named["D_PARENT"] = exact("domain-name", D_PARENT)
    named["D_ZEEK"] = exact("domain-name", D_ZEEK)
    named["D_ZEEK_DOT"] = exact("domain-name", D_ZEEK_DOT)
    named["D_CNAME"] = exact("domain-name", D_CNAME)
    named["D_ZSIB"] = exact("domain-name", D_ZSIB)
    named["D_SUB2"] = with_subdomains(D_SUB2)
    named["D_BAD"] = exact("domain-name", D_BAD)
    named["U_HOST"] = exact("url", U_HOST)
    named["U_REF"] = exact("url", U_REF)
    named["I_SRC"] = exact("ipv4-addr", I_SRC)
    named["I_ALERT"] = exact("ipv4-addr", I_ALERT)
    named["I_ANS"] = exact("ipv4-addr", I_ANS)
    named["I_ZANS"] = exact("ipv4-addr", I_ZANS)
    named["CIDR"] = cidr(CIDR)
    named["I6"] = exact("ipv6-addr", I6)
    named["E_MAIL"] = exact("email-addr", E_MAIL)
    h_sha, h_md5, h_low = g.hexstr(64), g.hexstr(32), g.hexstr(64)
    named["H_SHA"] = hashed("SHA-256", h_sha)
    named["H_MD5"] = hashed("MD5", h_md5)
    # Inactive, and present in the telemetry.
    named["D_REVOKED"] = exact("domain-name", D_REVOKED, revoked=True)
    named["I_EXPIRED"] = exact("ipv4-addr", I_EXPIRED, valid_from="2026-01-15T00:00:00Z",
                               valid_until="2026-06-01T00:00:00Z")
    named["U_FUTURE"] = exact("url", U_FUTURE, valid_from="2099-01-01T00:00:00Z")
    named["H_LOW"] = hashed("SHA-256", h_low, confidence=30)

    # Filler IOCs: realistic, never present in the telemetry.
    used_domains = {D_DNS, D_SUB, D_SNI, D_SIB, D_PARENT, D_ZEEK, D_ZEEK_DOT, D_CNAME, D_ZSIB,
                    D_SUB2, D_BAD, D_REVOKED, G_A, G_A2, G_A3,
                    # near misses and other names the telemetry plants
                    "update-svc.example.net", "mydyn-relay.test", "evil-example.com",
                    "wallet-verify.example", "mail-wallet-verify.example", "stage2.example.com",
                    "cdn-patch.example.net", "secure-verify.example.org", "other-b.example",
                    G_AND_SFX, G_AND_NM_SFX}
    fill_domains = []
    while len(fill_domains) < 64:
        w = rng.sample(WORDS, 3)
        tld = rng.choice(TLDS)
        d = f"{w[0]}-{w[1]}.{tld}" if rng.random() < 0.6 else f"{w[0]}.{w[1]}-{w[2]}.{tld}"
        if d in used_domains or any(d.endswith("." + s) for s in (D_SUB, D_SUB2, G_AND_SFX, G_AND_NM_SFX)):
            continue
        used_domains.add(d)
        fill_domains.append(d)
    for d in fill_domains[:60]:
        exact("domain-name", d)
    for d in fill_domains[60:]:
        with_subdomains(d)
    used_ips = {I_SRC, I_ALERT, I_ANS, I_ZANS, I_EXPIRED, "203.0.113.11", "192.0.2.89"}
    n = 0
    while n < 42:
        # 192.0.2.128-255 is left to the answers the telemetry plants next to the hits.
        ip = rng.choice(["203.0.113.%d" % rng.randrange(1, 240), "192.0.2.%d" % rng.randrange(1, 128)])
        if ip in used_ips:
            continue
        used_ips.add(ip)
        exact("ipv4-addr", ip)
        n += 1
    for net in ["198.51.100.0/28", "198.51.100.128/28", "203.0.113.240/29", "192.0.2.224/28",
                "2001:db8:bad::/48"]:
        cidr(net)
    for i in range(13):
        exact("ipv6-addr", f"2001:db8:{rng.randrange(0x10, 0xfff):x}::{rng.randrange(1, 0xffff):x}")
    paths = ["/wp-content/plugins/x/gate.php", "/invoice/view.php?id=", "/dl/setup.msi",
             "/static/js/jquery.min.js.php", "/api/v2/beacon", "/office365/login.aspx",
             "/update/agent.bin", "/files/report.zip", "/cgi-bin/luci", "/admin/upload.php"]
    for i in range(22):
        scheme = rng.choice(["http", "https"])
        d = fill_domains[rng.randrange(len(fill_domains))]
        p = rng.choice(paths)
        if p.endswith("="):
            p += str(rng.randrange(1000, 99999))
        exact("url", f"{scheme}://{d}{p}")
    for i in range(17):
        hashed("SHA-256", g.hexstr(64))
    for i in range(9):
        hashed("MD5", g.hexstr(32))
    for i in range(7):
        local = rng.choice(["billing", "noreply", "hr-dept", "it-support", "ceo.office", "payroll"])
        exact("email-addr", f"{local}{i}@{rng.choice(fill_domains)}")

    # General (non-IOC) patterns: three that fire, four near misses that must not.
    gen = {}
    gen["G_FB"] = add(f"([domain-name:value = '{G_A}'] FOLLOWEDBY [ipv4-addr:value = '{G_B}']) WITHIN 60 SECONDS",
                      [], "beacon lookup then connection", general=True)
    gen["G_FB_ORDER"] = add(f"([domain-name:value = '{G_A2}'] FOLLOWEDBY [ipv4-addr:value = '{G_B2}']) WITHIN 60 SECONDS",
                            [], "beacon lookup then connection (seen in the wrong order)", general=True)
    gen["G_FB_FAR"] = add(f"([domain-name:value = '{G_A3}'] FOLLOWEDBY [ipv4-addr:value = '{G_B3}']) WITHIN 60 SECONDS",
                          [], "beacon lookup then connection (seen too far apart)", general=True)
    gen["G_REP"] = add(f"[ipv4-addr:value = '{G_C}'] REPEATS 3 TIMES WITHIN 300 SECONDS",
                       [], "repeated connections to a staging host", general=True)
    gen["G_REP_TWO"] = add(f"[ipv4-addr:value = '{G_C2}'] REPEATS 3 TIMES WITHIN 300 SECONDS",
                           [], "repeated connections (seen only twice)", general=True)
    gen["G_REP_SPREAD"] = add(f"[ipv4-addr:value = '{G_C3}'] REPEATS 3 TIMES WITHIN 300 SECONDS",
                              [], "repeated connections (three, spread over 400 s)", general=True)
    gen["G_AND"] = add(f"[domain-name:value LIKE '%.{G_AND_SFX}' AND domain-name:value MATCHES '^c2-[0-9]+[.]']",
                       [], "numbered C2 names under a dynamic-DNS zone", general=True)
    gen["G_AND_NM"] = add(f"[domain-name:value LIKE '%.{G_AND_NM_SFX}' AND domain-name:value MATCHES '^c2-[0-9]+[.]']",
                          [], "numbered C2 names under a second zone (each half seen alone)", general=True)
    bundle = {"type": "bundle", "id": "bundle--" + g.uuid4(), "objects": objs}
    hashes = {"H_SHA": h_sha, "H_MD5": h_md5, "H_LOW": h_low}
    return bundle, partner, meta, named, gen, hashes


# ---------------------------------------------------------------------------------------
# Telemetry
# ---------------------------------------------------------------------------------------

BG_DOMAINS = ["www.google.com", "clients4.google.com", "outlook.office365.com",
              "login.microsoftonline.com", "api.github.com", "github.com", "www.wikipedia.org",
              "fonts.gstatic.com", "ocsp.digicert.com", "update.googleapis.com", "www.bbc.co.uk",
              "d3ag4hukkh62yn.cloudfront.net", "edge.microsoft.com", "teams.microsoft.com",
              "cdn.jsdelivr.net", "ajax.googleapis.com", "time.windows.com", "www.apple.com",
              "gateway.icloud.com", "s3.amazonaws.com", "www.linkedin.com", "static.xx.fbcdn.net",
              "pool.ntp.org", "connectivity-check.ubuntu.com", "archive.ubuntu.com",
              "security.debian.org", "www.sama.gov.sa", "www.moi.gov.sa", "portal.gov.example.sa",
              "intranet.corp.local", "mail.corp.local", "wpad.corp.local"]
BG_PREFIXES = ["142.250", "151.101", "104.16", "52.84", "13.107", "23.45", "185.199",
               "140.82", "172.217", "34.117", "20.190", "93.184"]
BG_V6 = ["2a00:1450:4001:81d::200e", "2606:4700::6810:84e5", "2620:1ec:c11::200",
         "2a04:4e42::223", "2603:1030:20e:3::23c"]
UAS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
       "Microsoft-CryptoAPI/10.0", "Windows-Update-Agent/10.0.10011.16384 Client-Protocol/2.50",
       "curl/8.5.0", "Debian APT-HTTP/1.3 (2.6.1)", "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"]
BG_PATHS = ["/", "/index.html", "/favicon.ico", "/msdownload/update/v3/static/trustedr/en/authrootstl.cab",
            "/ubuntu/dists/noble/InRelease", "/generate_204", "/connecttest.txt", "/api/v1/status",
            "/images/logo.png", "/js/app.js"]
ALERTS = [(2027865, "ET INFO Observed DNS Query to .cloud TLD", "Potentially Bad Traffic", 2),
          (2013028, "ET POLICY curl User-Agent Outbound", "Attempted Information Leak", 2),
          (2210054, "SURICATA STREAM excessive retransmissions", "Generic Protocol Command Decode", 3),
          (2001219, "ET SCAN Potential SSH Scan", "Attempted Information Leak", 2)]
RESOLVER = "10.20.0.53"
MAIL_GW = "10.20.0.25"


class Telemetry:
    def __init__(self, g):
        self.g = g
        self.rng = g.rng
        self.clients = [f"10.20.{self.rng.randrange(1, 40)}.{self.rng.randrange(2, 250)}" for _ in range(150)]
        self.ext = [f"{self.rng.choice(BG_PREFIXES)}.{self.rng.randrange(0, 256)}.{self.rng.randrange(1, 255)}"
                    for _ in range(400)]

    def client(self):
        return self.rng.choice(self.clients)

    def ext_ip(self):
        return self.rng.choice(self.ext)

    def eport(self):
        return self.rng.randrange(32768, 61000)

    # -- Suricata EVE ------------------------------------------------------------------
    def head(self, us, etype, src, sp, dst, dp, proto="TCP"):
        return {"timestamp": eve_time(us), "flow_id": self.g.flow_id(), "in_iface": "ens3",
                "event_type": etype, "src_ip": src, "src_port": sp, "dest_ip": dst,
                "dest_port": dp, "proto": proto}

    def dns_query(self, us, name, src=None, rrtype="A"):
        e = self.head(us, "dns", src or self.client(), self.eport(), RESOLVER, 53, "UDP")
        e["dns"] = {"type": "query", "id": self.rng.randrange(65536), "rrname": name,
                    "rrtype": rrtype, "tx_id": 0, "opcode": 0}
        return e

    def dns_answer(self, us, name, answers, dst=None, rcode="NOERROR"):
        e = self.head(us, "dns", RESOLVER, 53, dst or self.client(), self.eport(), "UDP")
        rrtype = answers[0][0] if answers else "A"
        d = {"version": 2, "type": "answer", "id": self.rng.randrange(65536), "flags": "8180",
             "qr": True, "rd": True, "ra": True, "opcode": 0, "rrname": name, "rrtype": rrtype,
             "rcode": rcode}
        if answers:
            d["answers"] = [{"rrname": name, "rrtype": t, "ttl": self.rng.choice([60, 300, 3600]),
                             "rdata": r} for t, r in answers]
            grouped = {}
            for t, r in answers:
                grouped.setdefault(t, []).append(r)
            d["grouped"] = grouped
        e["dns"] = d
        return e

    def http(self, us, host, url, src=None, dst=None, status=200, referer=None, ua=None):
        e = self.head(us, "http", src or self.client(), self.eport(), dst or self.ext_ip(), 80)
        h = {"hostname": host, "url": url, "http_user_agent": ua or self.rng.choice(UAS),
             "http_content_type": "text/html", "http_method": "GET", "protocol": "HTTP/1.1",
             "status": status, "length": self.rng.randrange(200, 90000)}
        if referer:
            h["http_refer"] = referer
        e["http"] = h
        return e

    def tls(self, us, sni, src=None, dst=None):
        e = self.head(us, "tls", src or self.client(), self.eport(), dst or self.ext_ip(), 443)
        e["tls"] = {"subject": f"CN={sni}", "issuerdn": "C=US, O=Let's Encrypt, CN=R11",
                    "serial": ":".join(self.g.hexstr(2).upper() for _ in range(9)),
                    "fingerprint": ":".join(self.g.hexstr(2) for _ in range(20)), "sni": sni,
                    "version": self.rng.choice(["TLS 1.2", "TLS 1.3"]),
                    "notbefore": "2026-09-01T00:00:00", "notafter": "2026-11-30T23:59:59",
                    "ja3": {"hash": self.g.hexstr(32)}}
        return e

    def fileinfo(self, us, sha256=None, md5=None, name="/download/setup.exe", src=None, dst=None):
        e = self.head(us, "fileinfo", src or self.ext_ip(), 80, dst or self.client(), self.eport())
        e["app_proto"] = "http"
        e["http"] = {"hostname": self.rng.choice(BG_DOMAINS), "url": name, "http_method": "GET",
                     "status": 200}
        e["fileinfo"] = {"filename": name, "magic": "PE32+ executable (GUI) x86-64, for MS Windows",
                         "gaps": False, "state": "CLOSED", "md5": md5 or self.g.hexstr(32),
                         "sha1": self.g.hexstr(40), "sha256": sha256 or self.g.hexstr(64),
                         "stored": False, "size": self.rng.randrange(1000, 5_000_000), "tx_id": 0}
        return e

    def flow(self, us, src=None, dst=None, dp=None, proto="TCP", app=None):
        dp = dp or self.rng.choice([443, 443, 443, 80, 22, 123, 3389])
        e = self.head(us, "flow", src or self.client(), self.eport(), dst or self.ext_ip(), dp, proto)
        if app:
            e["app_proto"] = app
        pkts = self.rng.randrange(2, 400)
        start = eve_time(max(us - self.rng.randrange(1, 60_000_000), T0 * 1_000_000))
        e["flow"] = {"pkts_toserver": pkts, "pkts_toclient": pkts - 1,
                     "bytes_toserver": pkts * 120, "bytes_toclient": pkts * 900, "start": start,
                     "end": eve_time(us), "age": self.rng.randrange(0, 60), "state": "closed",
                     "reason": "timeout", "alerted": False}
        return e

    def alert(self, us, src=None, dst=None):
        sid, sig, cat, sev = self.rng.choice(ALERTS)
        e = self.head(us, "alert", src or self.client(), self.eport(), dst or self.ext_ip(),
                      self.rng.choice([443, 80, 22]))
        e["alert"] = {"action": "allowed", "gid": 1, "signature_id": sid, "rev": 3, "signature": sig,
                      "category": cat, "severity": sev}
        return e

    def smtp(self, us, mail_from, rcpt, from_header):
        e = self.head(us, "smtp", self.ext_ip(), self.eport(), MAIL_GW, 25)
        e["smtp"] = {"helo": "mx.mailer.example", "mail_from": mail_from, "rcpt_to": [rcpt]}
        e["email"] = {"status": "PARSE_DONE", "from": from_header, "to": [rcpt.strip("<>")],
                      "attachment": ["invoice.pdf.exe"]}
        return e

    def eve_background(self, us):
        r = self.rng.random()
        if r < 0.20:
            return self.dns_query(us, self.rng.choice(BG_DOMAINS))
        if r < 0.38:
            name = self.rng.choice(BG_DOMAINS)
            if self.rng.random() < 0.1:
                return self.dns_answer(us, name, [("AAAA", self.rng.choice(BG_V6))])
            return self.dns_answer(us, name, [("A", self.ext_ip()) for _ in range(self.rng.randrange(1, 3))])
        if r < 0.62:
            if self.rng.random() < 0.05:
                return self.flow(us, src="fd00:20::" + format(self.rng.randrange(1, 999), "x"),
                                 dst=self.rng.choice(BG_V6))
            return self.flow(us)
        if r < 0.74:
            return self.http(us, self.rng.choice(BG_DOMAINS), self.rng.choice(BG_PATHS))
        if r < 0.92:
            return self.tls(us, self.rng.choice(BG_DOMAINS))
        if r < 0.97:
            return self.fileinfo(us)
        return self.alert(us)

    # -- Zeek dns.log -----------------------------------------------------------------
    def zeek_dns(self, us, query, answers, qtype="A", rcode="NOERROR", src=None):
        rec = {"ts": zeek_ts(us), "uid": self.g.zeek_uid(), "id.orig_h": src or self.client(),
               "id.orig_p": self.eport(), "id.resp_h": RESOLVER, "id.resp_p": 53, "proto": "udp",
               "trans_id": self.rng.randrange(65536), "rtt": round(self.rng.uniform(0.0004, 0.09), 6),
               "query": query, "qclass": 1, "qclass_name": "C_INTERNET",
               "qtype": {"A": 1, "AAAA": 28, "CNAME": 5, "TXT": 16}[qtype], "qtype_name": qtype,
               "rcode": {"NOERROR": 0, "NXDOMAIN": 3}[rcode], "rcode_name": rcode, "AA": False,
               "TC": False, "RD": True, "RA": True, "Z": 0, "rejected": False}
        if answers:
            rec["answers"] = answers
            rec["TTLs"] = [float(self.rng.choice([60, 300, 3600])) for _ in answers]
        return rec

    def zeek_background(self, us):
        q = self.rng.choice(BG_DOMAINS)
        r = self.rng.random()
        if r < 0.1:
            return self.zeek_dns(us, q, [self.rng.choice(BG_V6)], qtype="AAAA")
        if r < 0.15:
            return self.zeek_dns(us, "nonexistent-" + self.g.hexstr(6) + ".corp.local", None, rcode="NXDOMAIN")
        return self.zeek_dns(us, q, [self.ext_ip() for _ in range(self.rng.randrange(1, 3))])


def at(minute, second=0.0):
    """Event time in µs, `minute` minutes after T0."""
    return T0 * 1_000_000 + int(round((minute * 60 + second) * 1_000_000))


def build_telemetry(g, named, hashes, n_eve, n_zeek):
    """Returns {file: [record]}, record = dict(us, event|raw, intent set, case, kind)."""
    t = Telemetry(g)
    rng = g.rng
    N = named
    eve, zeek = [], []

    def plant(lst, us, event, ids, case):
        lst.append({"us": us, "event": event, "intent": set(ids), "case": case, "kind": "planted"})

    def miss(lst, us, event, near, case):
        lst.append({"us": us, "event": event, "intent": set(), "case": case, "kind": "near-miss",
                    "near": near})

    def general(lst, us, event, gid, case):
        lst.append({"us": us, "event": event, "intent": set(), "case": case, "kind": "general",
                    "general": gid})

    # EVE planted hits.
    plant(eve, at(4, 12.5), t.dns_query(at(4, 12.5), case_0x20(rng, D_DNS) + "."), [N["D_DNS"]],
          "DNS query, 0x20 random case and a trailing dot")
    plant(eve, at(4, 12.53), t.dns_answer(at(4, 12.53), case_0x20(rng, D_DNS) + ".", [("A", "192.0.2.150")]),
          [N["D_DNS"]], "DNS answer, 0x20 case and a trailing dot (rrname twice)")
    plant(eve, at(59, 59.999), t.dns_query(at(59, 59.999), D_DNS.upper()), [N["D_DNS"]],
          "DNS query, upper case, the last millisecond of the first window")
    plant(eve, at(60), t.dns_query(at(60), D_DNS), [N["D_DNS"]],
          "DNS query exactly at the second window's start")
    plant(eve, at(95, 3.2), t.dns_query(at(95, 3.2), case_0x20(rng, D_DNS) + "."), [N["D_DNS"]],
          "DNS query, 0x20 case, second window")
    plant(eve, at(12, 40.0), t.dns_query(at(12, 40.0), case_0x20(rng, "api." + D_SUB) + "."), [N["D_SUB"]],
          "DNS query for a subdomain of a domain-and-subdomains indicator, 0x20 case, trailing dot")
    plant(eve, at(12, 41.3), t.tls(at(12, 41.3), D_SUB), [N["D_SUB"]],
          "TLS SNI of the domain-and-subdomains indicator itself")
    plant(eve, at(20, 5.0), t.tls(at(20, 5.0), D_SNI), [N["D_SNI"]], "TLS SNI")
    plant(eve, at(33, 17.0), t.http(at(33, 17.0), "CDN-PATCH.Example.NET", "/upd/kb5031.exe"), [N["U_HOST"]],
          "HTTP request: host upper case, URL composed from hostname and url")
    plant(eve, at(41, 2.0), t.http(at(41, 2.0), "www.bbc.co.uk", "/news",
                                   referer="https://Secure-Verify.EXAMPLE.org/login.php"), [N["U_REF"]],
          "HTTP referer: URL with a mixed-case host")
    plant(eve, at(47, 30.0), t.fileinfo(at(47, 30.0), sha256=hashes["H_SHA"]), [N["H_SHA"]], "file SHA-256")
    plant(eve, at(70, 1.0), t.fileinfo(at(70, 1.0), md5=hashes["H_MD5"], name="/dl/invoice.pdf.exe"),
          [N["H_MD5"]], "file MD5")
    plant(eve, at(52, 0.0), t.flow(at(52, 0.0), dst="198.51.100.70", dp=8443), [N["CIDR"]],
          "flow to an address inside a CIDR indicator")
    plant(eve, at(8, 8.0), t.flow(at(8, 8.0), src=I_SRC, dst="10.20.3.4", dp=22), [N["I_SRC"]],
          "inbound flow from an indicator address")
    plant(eve, at(81, 9.0), t.alert(at(81, 9.0), dst=I_ALERT), [N["I_ALERT"]], "alert to an indicator address")
    plant(eve, at(26, 44.0), t.dns_answer(at(26, 44.0), "a1.cdn-edge.net", [("A", I_ANS)]), [N["I_ANS"]],
          "DNS answer resolving to an indicator address")
    plant(eve, at(66, 6.0), t.dns_answer(at(66, 6.0), "dl.files-mirror.net", [("CNAME", D_CNAME + "."),
                                                                            ("A", "192.0.2.151")]),
          [N["D_CNAME"]], "DNS answer: CNAME to an indicator domain (trailing dot)")
    v6 = ipaddress.ip_address(I6).exploded
    plant(eve, at(74, 30.0), t.flow(at(74, 30.0), src="fd00:20::1a", dst=v6, dp=443), [N["I6"]],
          "flow to an IPv6 indicator, address in Suricata's expanded form")
    plant(eve, at(88, 0.0), t.smtp(at(88, 0.0), "<invoice@Billing-Notice.EXAMPLE>", "<ap@corp.example>",
                                   "Billing Notice <invoice@billing-notice.example>"), [N["E_MAIL"]],
          "SMTP: mail_from with upper-case domain, From header with a display name")
    # Inactive indicators present in the telemetry (nadhir match reports them; no sighting).
    plant(eve, at(15, 0.0), t.dns_query(at(15, 0.0), D_REVOKED), [N["D_REVOKED"]], "revoked indicator")
    plant(eve, at(16, 0.0), t.flow(at(16, 0.0), dst=I_EXPIRED, dp=443), [N["I_EXPIRED"]],
          "indicator whose valid_until is in the past")
    plant(eve, at(17, 0.0), t.http(at(17, 0.0), "stage2.example.com", "/gate.php"), [N["U_FUTURE"]],
          "indicator whose valid_from is in the future")
    plant(eve, at(18, 0.0), t.fileinfo(at(18, 0.0), sha256=hashes["H_LOW"]), [N["H_LOW"]],
          "indicator with confidence below the minimum")
    plant(eve, at(110, 0.0), t.dns_query(at(110, 0.0), case_0x20(rng, D_REVOKED)), [N["D_REVOKED"]],
          "revoked indicator, second window")

    # EVE near misses.
    miss(eve, at(5, 0.0), t.dns_query(at(5, 0.0), "evil-example.com"), N["D_SIB"],
         "sibling domain: evil-example.com vs indicator evil.example.com")
    miss(eve, at(21, 0.0), t.dns_query(at(21, 0.0), "update-svc.example.net"), N["D_PARENT"],
         "parent of an exact-domain indicator")
    miss(eve, at(22, 0.0), t.tls(at(22, 0.0), "www." + D_PARENT), N["D_PARENT"],
         "subdomain of an exact-domain indicator (not a domain-and-subdomains one)")
    miss(eve, at(9, 0.0), t.flow(at(9, 0.0), src="203.0.113.11", dst="10.20.3.4", dp=22), N["I_SRC"],
         "IP one off an indicator address")
    miss(eve, at(53, 0.0), t.flow(at(53, 0.0), dst="198.51.100.96", dp=8443), N["CIDR"],
         "first address past a CIDR indicator")
    miss(eve, at(34, 0.0), t.http(at(34, 0.0), "cdn-patch.example.net", "/UPD/kb5031.exe"), N["U_HOST"],
         "URL differing only in path case (paths are case-sensitive)")
    near_hash = list(hashes["H_SHA"])
    near_hash[17] = "0" if near_hash[17] != "0" else "1"
    miss(eve, at(48, 0.0), t.fileinfo(at(48, 0.0), sha256="".join(near_hash)), N["H_SHA"],
         "SHA-256 differing in one nibble")
    miss(eve, at(13, 0.0), t.dns_query(at(13, 0.0), "attacker" + D_SUB), N["D_SUB"],
         "name ending in a domain-and-subdomains indicator without a dot before it")

    # EVE general patterns.
    c = t.client()
    general(eve, at(30, 0.0), t.dns_query(at(30, 0.0), G_A, src=c), "G_FB", "lookup (first half)")
    general(eve, at(30, 25.0), t.flow(at(30, 25.0), src=c, dst=G_B, dp=443), "G_FB", "connection 25 s later")
    general(eve, at(36, 0.0), t.flow(at(36, 0.0), src=c, dst=G_B2, dp=443), "G_FB_ORDER", "connection first")
    general(eve, at(36, 20.0), t.dns_query(at(36, 20.0), G_A2, src=c), "G_FB_ORDER", "lookup 20 s later")
    general(eve, at(38, 0.0), t.dns_query(at(38, 0.0), G_A3, src=c), "G_FB_FAR", "lookup")
    general(eve, at(41, 0.0), t.flow(at(41, 0.0), src=c, dst=G_B3, dp=443), "G_FB_FAR", "connection 180 s later")
    for s in (0, 90, 200):
        general(eve, at(75, s), t.flow(at(75, s), dst=G_C, dp=4444), "G_REP", f"connection at +{s} s")
    for s in (0, 60):
        general(eve, at(85, s), t.flow(at(85, s), dst=G_C2, dp=4444), "G_REP_TWO", f"connection at +{s} s")
    for s in (0, 200, 400):
        general(eve, at(100, s), t.flow(at(100, s), dst=G_C3, dp=4444), "G_REP_SPREAD", f"connection at +{s} s")
    general(eve, at(62, 0.0), t.dns_query(at(62, 0.0), "c2-17." + G_AND_SFX), "G_AND", "both comparisons true")
    general(eve, at(63, 0.0), t.dns_query(at(63, 0.0), "www." + G_AND_NM_SFX), "G_AND_NM", "only the LIKE is true")
    general(eve, at(63, 30.0), t.dns_query(at(63, 30.0), "c2-5.other-b.example"), "G_AND_NM",
            "only the MATCHES is true")

    # EVE background.
    for _ in range(max(0, n_eve - len(eve))):
        us = T0 * 1_000_000 + rng.randrange(SPAN * 1_000_000)
        eve.append({"us": us, "event": t.eve_background(us), "intent": set(), "case": None, "kind": "background"})

    # Zeek dns.log planted hits and near misses.
    plant(zeek, at(6, 1.25), t.zeek_dns(at(6, 1.25), case_0x20(rng, D_ZEEK), ["192.0.2.160"]), [N["D_ZEEK"]],
          "query with 0x20 random case")
    plant(zeek, at(67, 1.5), t.zeek_dns(at(67, 1.5), case_0x20(rng, D_ZEEK), ["192.0.2.160"]), [N["D_ZEEK"]],
          "query with 0x20 random case, second window")
    plant(zeek, at(24, 7.0), t.zeek_dns(at(24, 7.0), D_ZEEK_DOT + ".", ["192.0.2.161"]), [N["D_ZEEK_DOT"]],
          "query with a trailing dot")
    plant(zeek, at(27, 0.5), t.zeek_dns(at(27, 0.5), "portal.cdn-edge.net", [I_ZANS]), [N["I_ZANS"]],
          "answer address is an indicator")
    plant(zeek, at(29, 0.0), t.zeek_dns(at(29, 0.0), "dl.files-mirror.net", [D_CNAME, "192.0.2.151"], qtype="A"),
          [N["D_CNAME"]], "answers hold a CNAME to an indicator domain")
    plant(zeek, at(44, 0.0), t.zeek_dns(at(44, 0.0), case_0x20(rng, "cdn." + D_SUB), ["192.0.2.162"]),
          [N["D_SUB"]], "query for a subdomain of a domain-and-subdomains indicator, 0x20 case")
    plant(zeek, at(45, 0.0), t.zeek_dns(at(45, 0.0), "a.b." + D_SUB2, ["192.0.2.163"]), [N["D_SUB2"]],
          "query two levels under a domain-and-subdomains indicator")
    plant(zeek, at(78, 0.0), t.zeek_dns(at(78, 0.0), "ipv6.cdn-edge.net", [I6], qtype="AAAA"), [N["I6"]],
          "AAAA answer is an IPv6 indicator")
    plant(zeek, at(90, 0.0), t.zeek_dns(at(90, 0.0), "relay.cdn-edge.net", ["198.51.100.90"]), [N["CIDR"]],
          "answer inside a CIDR indicator")
    plant(zeek, at(14, 0.0), t.zeek_dns(at(14, 0.0), D_DNS, ["192.0.2.150"]), [N["D_DNS"]],
          "the EVE domain seen by the Zeek sensor too")
    plant(zeek, at(15, 30.0), t.zeek_dns(at(15, 30.0), D_REVOKED.upper(), ["192.0.2.164"]), [N["D_REVOKED"]],
          "revoked indicator")
    miss(zeek, at(28, 0.0), t.zeek_dns(at(28, 0.0), "portal2.cdn-edge.net", ["192.0.2.89"]), N["I_ZANS"],
         "answer address one off an indicator")
    miss(zeek, at(46, 0.0), t.zeek_dns(at(46, 0.0), "mydyn-relay.test", ["192.0.2.165"]), N["D_SUB2"],
         "name ending in a domain-and-subdomains indicator without a dot before it")
    miss(zeek, at(50, 0.0), t.zeek_dns(at(50, 0.0), "mail-wallet-verify.example", ["192.0.2.166"]), N["D_ZSIB"],
         "sibling domain (hyphen instead of a dot)")
    miss(zeek, at(51, 0.0), t.zeek_dns(at(51, 0.0), "wallet-verify.example", ["192.0.2.167"]), N["D_ZSIB"],
         "parent of an exact-domain indicator")
    miss(zeek, at(57, 0.0), t.zeek_dns(at(57, 0.0), D_PARENT + ".corp.local", None, rcode="NXDOMAIN"),
         N["D_PARENT"], "indicator name followed by a search-domain suffix")
    for _ in range(max(0, n_zeek - len(zeek))):
        us = T0 * 1_000_000 + rng.randrange(SPAN * 1_000_000)
        zeek.append({"us": us, "event": t.zeek_background(us), "intent": set(), "case": None, "kind": "background"})

    # bad.jsonl: malformed lines mixed with five valid events with planted hits.
    bad = []

    def raw(b, case, cls, near=None):
        bad.append({"us": None, "raw": b, "intent": set(), "case": case, "kind": "bad", "class": cls,
                    "near": near})

    plant(bad, at(3, 0.0), t.dns_query(at(3, 0.0), case_0x20(rng, D_BAD) + "."), [N["D_BAD"]],
          "valid EVE DNS query, 0x20 case and a trailing dot")
    raw(('{"timestamp":"%s","event_type":"dns","src_ip":"10.20.1.5","dest_ip":"10.20.0.53",'
         '"dns":{"type":"query","rrname":"%s","rrtype":"A"' % (eve_time(at(3, 1.0)), D_BAD)).encode(),
        "truncated JSON (the indicator domain inside must not hit)", "undecodable", N["D_BAD"])
    raw(json.dumps([t.dns_query(at(3, 2.0), D_BAD)]).encode(),
        "a JSON array instead of an object (the indicator domain inside must not hit)", "undecodable", N["D_BAD"])
    plant(bad, at(65, 0.0), t.flow(at(65, 0.0), src=I_SRC, dst="10.20.3.9", dp=3389), [N["I_SRC"]],
          "valid EVE flow from an indicator address")
    e = t.flow(at(65, 1.0))
    e["dest_ip"] = 12345
    raw(json.dumps(e).encode(), 'wrong type: "dest_ip": 12345', "unexpected_type")
    e = t.dns_query(at(65, 2.0), "x")
    e["dns"] = "text"
    raw(json.dumps(e).encode(), 'wrong type: "dns": "text"', "unexpected_type")
    raw(b"\xff\xfe\xfd\xc3\x28 not UTF-8 \xa0\xa1\xe2\x82", "a line of invalid UTF-8 bytes", "undecodable")
    plant(bad, at(66, 0.0), t.zeek_dns(at(66, 0.0), case_0x20(rng, D_ZEEK), ["192.0.2.160"]), [N["D_ZEEK"]],
          "valid Zeek dns.log record, 0x20 case")
    raw(b"{}", "an empty object", "empty_object")
    raw(b'{"event_type":"alert","x":' + b"[" * 250 + b"]" * 250 + b"}",
        "brackets nested 251 levels deep", "undecodable")
    raw(b'{"timestamp":"' + eve_time(at(66, 30.0)).encode() +
        b'","event_type":"dns","src_ip":"10.20.1.5","dest_ip":"10.20.0.53","dns":{"type":"query","rrname":"bad\xff\xfe.' +
        D_BAD.encode() + b'","rrtype":"A"}}',
        "invalid UTF-8 inside a mapped string value (the rest of the object is well-formed JSON)",
        "invalid_utf8_value")
    plant(bad, at(67, 0.0), t.fileinfo(at(67, 0.0), sha256=hashes["H_SHA"]), [N["H_SHA"]],
          "valid EVE fileinfo with an indicator SHA-256")
    bad.append("HUGE")  # placeholder: the 100 MB line goes here when --huge-line is given
    plant(bad, at(68, 0.0), t.tls(at(68, 0.0), case_0x20(rng, D_SNI)), [N["D_SNI"]],
          "valid EVE TLS event, SNI in mixed case")
    return eve, zeek, bad


# ---------------------------------------------------------------------------------------
# Writing and checking
# ---------------------------------------------------------------------------------------

def encode(rec):
    if "raw" in rec:
        return rec["raw"]
    return json.dumps(rec["event"], separators=(",", ":")).encode()


def write_huge(f):
    """One valid JSON object of HUGE_LINE_BYTES bytes, written in chunks."""
    head = ('{"timestamp":"%s","flow_id":1,"in_iface":"ens3","event_type":"http","src_ip":"10.20.1.9",'
            '"src_port":50000,"dest_ip":"93.184.216.34","dest_port":80,"proto":"TCP",'
            '"http":{"hostname":"www.example.com","url":"/","status":200},"payload_printable":"'
            % eve_time(at(67, 30.0))).encode()
    tail = b'"}'
    body = HUGE_LINE_BYTES - len(head) - len(tail)
    f.write(head)
    chunk = b"A" * (1 << 20)
    left = body
    while left > 0:
        n = min(left, len(chunk))
        f.write(chunk[:n])
        left -= n
    f.write(tail + b"\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--events", type=int, default=20000, help="Suricata EVE events (Zeek: a quarter)")
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--huge-line", action="store_true", help="add a 100 MB line to bad.jsonl")
    a = ap.parse_args()
    if a.events < 0:
        ap.error("--events must be >= 0")
    os.makedirs(a.outdir, exist_ok=True)
    g = Gen(a.seed)
    bundle, partner, meta, named, gen, hashes = build_indicators(g)
    eve, zeek, bad = build_telemetry(g, named, hashes, a.events, a.events // 4)
    index = IocIndex()
    for ind, m in meta.items():
        for kind, op, value in m["iocs"]:
            index.add(ind, kind, op, value)

    with open(os.path.join(a.outdir, "indicators.json"), "w", encoding="utf-8") as f:
        json.dump(bundle, f, indent=1, ensure_ascii=False)
        f.write("\n")

    expected = {
        "format": 1,
        "generator": {"script": "scripts/make_telemetry.py", "seed": a.seed, "events": a.events,
                      "huge_line": a.huge_line},
        "window_seconds": WINDOW,
        "min_confidence": MIN_CONFIDENCE,
        "partner_identity": partner,
        "indicators": {
            ind: {"pattern": m["pattern"], "kind": m["kind"], "active": m["active"],
                  "inactive_reason": m["inactive_reason"]}
            for ind, m in meta.items()
        },
        "inactive": sorted(i for i, m in meta.items() if not m["active"]),
        "files": {},
    }
    all_hits = []
    problems = []
    for name, recs in (("eve.json", eve), ("zeek_dns.log", zeek), ("bad.jsonl", bad)):
        recs_sorted = sorted([r for r in recs if r != "HUGE"], key=lambda r: r["us"]) if name != "bad.jsonl" else recs
        out = {"lines": 0, "nonblank_lines": 0, "ioc_hits": [], "planted": [], "near_misses": [],
               "general": {}, "problems": []}
        path = os.path.join(a.outdir, name)
        with open(path, "wb") as f:
            line = 0
            for rec in recs_sorted:
                line += 1
                if rec == "HUGE":
                    if not a.huge_line:
                        line -= 1
                        continue
                    write_huge(f)
                    out["problems"].append({"line": line, "class": "over_length",
                                            "case": f"a valid JSON object of {HUGE_LINE_BYTES} bytes (a huge string)",
                                            "bytes": HUGE_LINE_BYTES})
                    continue
                data = encode(rec)
                assert b"\n" not in data
                f.write(data + b"\n")
                found = set()
                if "raw" in rec:
                    out["problems"].append({"line": line, "class": rec["class"], "case": rec["case"]})
                else:
                    found = index.scan(json.loads(data))
                got_ids = {i for i, _ in found}
                if got_ids != rec["intent"]:
                    problems.append(f"{name}:{line}: {rec['kind']} {rec['case']!r}: planted "
                                    f"{sorted(rec['intent'])} but the reference scan finds {sorted(got_ids)}")
                for ind in sorted(got_ids):
                    obs = sorted({s for i, s in found if i == ind})
                    hit = {"line": line, "indicator": ind, "active": meta[ind]["active"],
                           "time": stix_time(rec["us"]), "observables": [json.loads(s) for s in obs]}
                    out["ioc_hits"].append(hit)
                    all_hits.append((name, rec["us"], hit))
                if rec["kind"] == "planted":
                    out["planted"].append({"line": line, "case": rec["case"], "indicators": sorted(rec["intent"])})
                elif rec["kind"] == "near-miss" or rec.get("near"):
                    out["near_misses"].append({"line": line, "case": rec["case"], "near": rec["near"]})
                elif rec["kind"] == "general":
                    gid = gen[rec["general"]]
                    out["general"].setdefault(gid, []).append(
                        {"line": line, "time": stix_time(rec["us"]), "case": rec["case"]})
            out["lines"] = line
            out["nonblank_lines"] = line
        out["sightings"] = sightings([(us, h) for fn, us, h in all_hits if fn == name], meta)
        out["must_not_appear"] = must_not_appear(out)
        gen_out = []
        for key, gid in gen.items():
            events = out["general"].get(gid)
            if events is None:
                continue
            gen_out.append({"indicator": gid, "pattern": meta[gid]["pattern"], "case": key,
                            "must_fire": key in ("G_FB", "G_REP", "G_AND"), "events": events})
        out["general"] = gen_out
        undec = [p["line"] for p in out["problems"] if p["class"] == "undecodable"]
        over = [p["line"] for p in out["problems"] if p["class"] == "over_length"]
        out["undecodable_lines"] = undec
        out["over_length_lines"] = over
        out["nadhir_match"] = {
            "max_line_bytes": MATCH_MAX_LINE_BYTES,
            "undecodable": len(undec) + len(over),
            "over_length": len(over),
            "invalid_utf8_values": sum(1 for p in out["problems"] if p["class"] == "invalid_utf8_value"),
        }
        expected["files"][name] = out
    if problems:
        sys.exit("make_telemetry: the fixture is inconsistent:\n" + "\n".join(problems))
    expected["combined"] = {"files": ["eve.json", "zeek_dns.log", "bad.jsonl"],
                            "sightings": sightings([(us, h) for _, us, h in all_hits], meta)}
    with open(os.path.join(a.outdir, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, indent=1, sort_keys=False)
        f.write("\n")
    print(f"{a.outdir}: {len(bundle['objects'])} objects, {len(eve)} EVE events, {len(zeek)} Zeek records, "
          f"{sum(len(x['ioc_hits']) for x in expected['files'].values())} IOC hits", file=sys.stderr)


def sightings(hits, meta):
    """(time µs, hit) of one or more files → per (active indicator, window) aggregates.
    A line hitting an indicator through several fields counts once."""
    agg = {}
    for us, h in hits:
        if not meta[h["indicator"]]["active"]:
            continue
        start = (us // 1_000_000) // WINDOW * WINDOW
        a = agg.setdefault((h["indicator"], start), {"count": 0, "first": us, "last": us, "obs": set()})
        a["count"] += 1
        a["first"] = min(a["first"], us)
        a["last"] = max(a["last"], us)
        a["obs"].update(sco_key(o) for o in h["observables"])
    out = []
    for (ind, start), a in sorted(agg.items()):
        out.append({"indicator": ind, "window_start": stix_time(start * 1_000_000),
                    "window_start_epoch": start, "count": a["count"], "first_seen": stix_time(a["first"]),
                    "last_seen": stix_time(a["last"]),
                    "observables": [json.loads(s) for s in sorted(a["obs"])]})
    return out


def must_not_appear(out):
    """Indicators with bait in this file that must not get a sighting: inactive ones hit,
    and those only near-missed."""
    hit_active = {h["indicator"] for h in out["ioc_hits"] if h["active"]}
    ids = {h["indicator"] for h in out["ioc_hits"] if not h["active"]}
    ids |= {n["near"] for n in out["near_misses"] if n["near"] and n["near"] not in hit_active}
    return sorted(ids)


if __name__ == "__main__":
    main()
