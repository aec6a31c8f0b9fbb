-- Early warning: sighting windows counted exactly once across workers, the dedup keys
-- of the events counted, small keyed records (alerts, webhooks, dead letters, samples
-- of undecodable events) and the append-only feed that the live stream replays.

CREATE TABLE sighting_windows (
    sighting_id   TEXT PRIMARY KEY,
    indicator_id  TEXT    NOT NULL,
    window_start  INTEGER  NOT NULL,
    count         INTEGER  NOT NULL,
    first_seen    INTEGER  NOT NULL,
    last_seen     INTEGER  NOT NULL,
    sco_ids       TEXT    NOT NULL,
    created       INTEGER  NOT NULL,
    modified      INTEGER  NOT NULL
);
CREATE INDEX sighting_windows_start ON sighting_windows (window_start);

CREATE TABLE hit_keys (
    sighting_id   TEXT    NOT NULL,
    event_key     TEXT    NOT NULL,
    window_start  INTEGER  NOT NULL,
    PRIMARY KEY (sighting_id, event_key)
);
CREATE INDEX hit_keys_start ON hit_keys (window_start);

CREATE TABLE records (
    kind     TEXT    NOT NULL,
    id       TEXT    NOT NULL,
    tag      TEXT    NOT NULL,
    body     TEXT    NOT NULL,
    updated  INTEGER  NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX records_kind_tag ON records (kind, tag, updated);

CREATE TABLE feed (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind    TEXT    NOT NULL,
    ref_id  TEXT    NOT NULL,
    body    TEXT    NOT NULL,
    at      INTEGER  NOT NULL
);
