-- Federation: the sharing metadata of each object (JSON defined by the policy layer,
-- with the retention deadline of a received object) and the hash-chained egress
-- ledger of what left the node (sent, recalled, deleted at a peer).

CREATE TABLE object_meta (
    id       TEXT PRIMARY KEY,
    json     TEXT    NOT NULL,
    expires  BIGINT,
    updated  BIGINT  NOT NULL
);
CREATE INDEX object_meta_expires ON object_meta (expires);

-- Append-only: seq is assigned by the store (1, 2, … without gaps) inside the writer
-- transaction (advisory lock); each row's hash covers its predecessor's hash and its
-- own fields.
CREATE TABLE egress_ledger (
    seq                BIGINT PRIMARY KEY,
    at                 BIGINT  NOT NULL,
    peer               TEXT    NOT NULL,
    object_id          TEXT    NOT NULL,
    version_key        TEXT    NOT NULL,
    content_hash       TEXT    NOT NULL,
    agreement_id       TEXT    NOT NULL,
    agreement_version  BIGINT  NOT NULL,
    action             TEXT    NOT NULL,
    detail             TEXT    NOT NULL,
    prev_hash          TEXT    NOT NULL,
    hash               TEXT    NOT NULL
);
CREATE INDEX egress_ledger_peer ON egress_ledger (peer, seq);

CREATE FUNCTION egress_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the egress ledger is append-only';
END;
$$;
CREATE TRIGGER egress_ledger_no_change BEFORE UPDATE OR DELETE ON egress_ledger
    FOR EACH ROW EXECUTE FUNCTION egress_ledger_append_only();
CREATE TRIGGER egress_ledger_no_truncate BEFORE TRUNCATE ON egress_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION egress_ledger_append_only();
