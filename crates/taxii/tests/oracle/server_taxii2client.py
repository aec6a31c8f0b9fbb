"""Drive a running Nadhir TAXII 2.1 server with the OASIS taxii2-client library
through every endpoint and filter. Exit status 0 when every check passes; the
first failed check raises with a message naming it.

usage: server_taxii2client.py DISCOVERY_URL USER PASSWORD COLLECTION_ID BEARER_TOKEN
"""
import json
import sys

import requests
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

TAXII = "application/taxii+json;version=2.1"
V1, V2, V3 = "2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"


def indicator(n, modified):
    return {
        "type": "indicator", "spec_version": "2.1",
        "id": "indicator--00000000-0000-4000-8000-%012d" % n,
        "created": V1, "modified": modified, "name": "indicator %d" % n,
        "pattern": "[ipv4-addr:value = '10.0.0.%d']" % (n % 256),
        "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z",
    }


def malware(n):
    return {
        "type": "malware", "spec_version": "2.1",
        "id": "malware--00000000-0000-4000-9000-%012d" % n,
        "created": V2, "modified": V2, "name": "malware %d" % n, "is_family": True,
    }


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_status(fn, status, what):
    try:
        fn()
    except requests.exceptions.HTTPError as e:
        got = e.response.status_code
        check(got == status, "%s: expected HTTP %d, got %d: %s" % (what, status, got, e.response.text))
        body = e.response.json()
        check(body.get("http_status") == str(status), "%s: TAXII error body %r" % (what, body))
        return body
    raise AssertionError("%s: expected HTTP %d, the call succeeded" % (what, status))


def ids(envelope):
    return [o["id"] for o in envelope.get("objects", [])]


def main():
    url, user, password, cid, token = sys.argv[1:6]
    checks = 0

    # Discovery, API root, collections.
    server = Server(url, user=user, password=password)
    check(server.title, "discovery title")
    check(len(server.api_roots) >= 1, "discovery api_roots")
    root = server.default
    check(root is not None, "discovery default")
    check(TAXII in root.versions, "api root versions")
    check(root.max_content_length > 0, "api root max_content_length")
    colls = {c.id: c for c in root.collections}
    check(cid in colls, "collection listed")
    coll = colls[cid]
    check(coll.can_read and coll.can_write, "collection rights")
    coll = Collection(root.url + "collections/" + cid + "/", user=user, password=password)
    check(coll.title, "collection title")
    checks += 7

    # Add: three versions of three indicators and two malware, one invalid object.
    for v in (V1, V2, V3):
        st = coll.add_objects({"objects": [indicator(i, v) for i in (1, 2, 3)]})
        check(st.status == "complete" and st.success_count == 3, "add status %r" % st._raw)
    bad = dict(malware(9), created="not a time")
    st = coll.add_objects({"objects": [malware(1), malware(2), bad]})
    check(st.success_count == 2 and st.failure_count == 1, "partial failure %r" % st._raw)
    check("/created" in st.failures[0]["message"], "failure reason names the pointer")
    again = root.get_status(st.id)
    check(again.id == st.id and again.failure_count == 1, "get status")
    st = coll.add_objects({"objects": [malware(1)]})
    check(st.success_count == 1, "duplicate counts as success")
    checks += 7

    # Objects and filters.
    env = coll.get_objects()
    check(sorted(ids(env)) == sorted([indicator(i, V1)["id"] for i in (1, 2, 3)] + [malware(1)["id"], malware(2)["id"]]), "get objects (last)")
    env = coll.get_objects(version="all")
    check(len(ids(env)) == 11, "match[version]=all")
    env = coll.get_objects(version="first", type="indicator")
    check({o["modified"] for o in env["objects"]} == {V1}, "match[version]=first")
    env = coll.get_objects(version=V2)
    check(len(ids(env)) == 5, "match[version]=timestamp")
    env = coll.get_objects(type=["malware", "indicator"], id=[malware(1)["id"], indicator(1, V1)["id"]])
    check(sorted(ids(env)) == sorted([malware(1)["id"], indicator(1, V1)["id"]]), "match[type] OR, AND match[id]")
    env = coll.get_objects(spec_version="2.1")
    check(len(ids(env)) == 5, "match[spec_version]")
    checks += 6

    # Manifest and added_after.
    man = coll.get_manifest(version="all")
    rows = man["objects"]
    check(len(rows) == 11, "manifest")
    dates = [r["date_added"] for r in rows]
    check(dates == sorted(dates), "manifest sorted by date_added")
    later = coll.get_manifest(version="all", added_after=dates[4])
    check(len(later["objects"]) == 6, "added_after is exclusive")
    env = coll.get_objects(added_after=dates[-1])
    check("objects" not in env and env.get("more") is False, "empty page omits objects")
    checks += 4

    # Paging with next via as_pages.
    seen = []
    for page in as_pages(coll.get_objects, per_request=3, version="all"):
        seen.extend((o["id"], o["modified"]) for o in page.get("objects", []))
    check(len(seen) == 11 and len(set(seen)) == 11, "as_pages walks every version once: %r" % seen)
    seen = []
    for page in as_pages(coll.get_manifest, per_request=4, version="all"):
        seen.extend((o["id"], o["version"]) for o in page.get("objects", []))
    check(len(seen) == 11 and len(set(seen)) == 11, "manifest pages")
    checks += 2

    # One object and its versions.
    oid = indicator(1, V1)["id"]
    env = coll.get_object(oid)
    check([o["modified"] for o in env["objects"]] == [V3], "get object (last)")
    env = coll.get_object(oid, version="all")
    check(sorted(o["modified"] for o in env["objects"]) == [V1, V2, V3], "get object all versions")
    vers = coll.object_versions(oid)
    check(vers["versions"] == [V1, V2, V3], "versions %r" % vers)
    checks += 3

    # Delete then 404.
    coll.delete_object(oid, version=V2)
    check(coll.object_versions(oid)["versions"] == [V1, V3], "delete one version")
    coll.delete_object(oid)
    expect_status(lambda: coll.get_object(oid), 404, "get after delete")
    expect_status(lambda: coll.object_versions(oid), 404, "versions after delete")
    checks += 3

    # Errors.
    expect_status(lambda: coll.get_objects(added_after="garbage"), 400, "added_after=garbage")
    expect_status(lambda: coll.get_objects(next="tampered"), 400, "tampered next")
    unauth = Server(url)
    expect_status(lambda: unauth.refresh(), 401, "no credentials")
    bad_pw = Collection(coll.url, user=user, password=password + "x")
    expect_status(lambda: bad_pw.refresh(), 401, "wrong password")
    expect_status(lambda: coll.get_objects(accept="application/json"), 406, "Accept application/json")
    expect_status(lambda: coll.add_objects({"objects": [malware(3)]}, content_type="application/json"), 415, "Content-Type application/json")
    expect_status(lambda: coll.add_objects({"objects": 5}), 422, "not an envelope")
    big = {"objects": [dict(malware(n), description="x" * 1000) for n in range(100, 100 + root.max_content_length // 1000 + 2)]}
    expect_status(lambda: coll.add_objects(big), 413, "over max_content_length")
    r = requests.get(coll.url + "objects/?limit=0", headers={"Accept": TAXII, "Authorization": "Bearer " + token})
    check(r.status_code == 400, "limit=0 with a Bearer token: %d" % r.status_code)
    r = requests.get(coll.url + "objects/?added_after=2024-01-01T00:00:00Z&added_after=2024-01-01T00:00:00Z",
                     headers={"Accept": TAXII, "Authorization": "Bearer " + token})
    check(r.status_code == 400, "repeated added_after: %d" % r.status_code)
    r = requests.get(root.url + "collections/00000000-0000-4000-8000-000000000000/", auth=(user, password), headers={"Accept": TAXII})
    check(r.status_code == 404 and r.json()["http_status"] == "404", "unknown collection")
    checks += 11

    print(json.dumps({"checks": checks}))


if __name__ == "__main__":
    main()
