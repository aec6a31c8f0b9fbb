-- Recovery of status resources left pending by a server that stopped without a
-- graceful shutdown (killed, power loss). A server process records its liveness in
-- server_instances; a status being processed names its owner instance and the
-- collection it writes to, so another process can finalise it once the owner is gone.

CREATE TABLE server_instances (
    id         TEXT PRIMARY KEY,
    last_seen  BIGINT  NOT NULL
);

ALTER TABLE statuses ADD COLUMN owner_instance TEXT;
ALTER TABLE statuses ADD COLUMN collection_id TEXT;
CREATE INDEX statuses_owner_instance ON statuses (owner_instance)
    WHERE owner_instance IS NOT NULL;
