-- Which ledger rows concern an object (recalls and deletions ask), kept in a table of
-- its own that `append_egress` fills in batches of `EGRESS_BY_OBJECT_BATCH` rows, in
-- object id order: an index on the ledger's random object ids took one insert per row
-- in every append, and each append's commit rewrote most of that index's pages.
-- Rows after `egress_by_object_through.seq` are not in it yet; lookups read those
-- from the ledger itself, by seq.
DROP INDEX IF EXISTS egress_ledger_object;
CREATE TABLE egress_by_object (
    object_id  TEXT     NOT NULL,
    seq        BIGINT   NOT NULL,
    PRIMARY KEY (object_id, seq)
);
INSERT INTO egress_by_object (object_id, seq)
    SELECT object_id, seq FROM egress_ledger ORDER BY object_id, seq;
CREATE TABLE egress_by_object_through (
    one  INTEGER  PRIMARY KEY CHECK (one = 1),
    seq  BIGINT   NOT NULL
);
INSERT INTO egress_by_object_through (one, seq)
    SELECT 1, COALESCE(MAX(seq), 0) FROM egress_ledger;
