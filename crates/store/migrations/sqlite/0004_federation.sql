-- Federation: the sharing metadata of each object (JSON defined by the policy layer,
-- with the retention deadline of a received object) and the hash-chained egress
-- ledger of what left the node (sent, recalled, deleted at a peer).

CREATE TABLE object_meta (
    id       TEXT PRIMARY KEY,
    json     TEXT     NOT NULL,
    expires  INTEGER,
    updated  INTEGER  NOT NULL
);
CREATE INDEX object_meta_expires ON object_meta (expires);

-- Append-only: seq is assigned by the store (1, 2, … without gaps) inside the single
-- writer transaction; each row's hash covers its predecessor's hash and its own fields.
CREATE TABLE egress_ledger (
    seq                INTEGER PRIMARY KEY,
    at                 INTEGER  NOT NULL,
    peer               TEXT     NOT NULL,
    object_id          TEXT     NOT NULL,
    version_key        TEXT     NOT NULL,
    content_hash       TEXT     NOT NULL,
    agreement_id       TEXT     NOT NULL,
    agreement_version  INTEGER  NOT NULL,
    action             TEXT     NOT NULL,
    detail             TEXT     NOT NULL,
    prev_hash          TEXT     NOT NULL,
    hash               TEXT     NOT NULL
);
CREATE INDEX egress_ledger_peer ON egress_ledger (peer, seq);

CREATE TRIGGER egress_ledger_no_update BEFORE UPDATE ON egress_ledger
BEGIN
    SELECT RAISE(ABORT, 'the egress ledger is append-only');
END;
CREATE TRIGGER egress_ledger_no_delete BEFORE DELETE ON egress_ledger
BEGIN
    SELECT RAISE(ABORT, 'the egress ledger is append-only');
END;
