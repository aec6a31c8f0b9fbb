-- Recalls and deletions look up what was sent of given objects; without this index
-- they read the whole ledger.
CREATE INDEX egress_ledger_object ON egress_ledger (object_id, seq);
