-- Nadhir store schema, SQLite dialect.
--
-- Cursors, membership cursors, tombstone sequence numbers and date_added values are
-- allocated from the single `clock` row inside each write transaction. SQLite has one
-- writer at a time, so allocation order is commit order.

CREATE TABLE clock (
    singleton      INTEGER PRIMARY KEY CHECK (singleton = 1),
    object_cursor  INTEGER NOT NULL,
    member_cursor  INTEGER NOT NULL,
    tombstone_seq  INTEGER NOT NULL,
    date_added     INTEGER NOT NULL
);
INSERT INTO clock (singleton, object_cursor, member_cursor, tombstone_seq, date_added)
VALUES (1, 0, 0, 0, 0);

CREATE TABLE objects (
    cursor        INTEGER PRIMARY KEY,
    id            TEXT    NOT NULL,
    type          TEXT    NOT NULL,
    spec_version  TEXT    NOT NULL,
    version_key   TEXT    NOT NULL,
    version_text  TEXT    NOT NULL,
    revoked       INTEGER NOT NULL,
    content_hash  TEXT    NOT NULL,
    json          TEXT    NOT NULL,
    date_added    INTEGER NOT NULL,
    UNIQUE (id, version_key)
);
CREATE INDEX objects_type ON objects (type, cursor);
CREATE INDEX objects_date_added ON objects (date_added);

CREATE TABLE collections (
    id           TEXT PRIMARY KEY,
    api_root     TEXT    NOT NULL,
    title        TEXT    NOT NULL,
    description  TEXT,
    alias        TEXT UNIQUE,
    media_types  TEXT    NOT NULL,
    created      INTEGER NOT NULL
);
CREATE INDEX collections_api_root ON collections (api_root);

CREATE TABLE collection_objects (
    cursor         INTEGER PRIMARY KEY,
    collection_id  TEXT    NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    object_cursor  INTEGER NOT NULL REFERENCES objects (cursor) ON DELETE CASCADE,
    date_added     INTEGER NOT NULL,
    UNIQUE (collection_id, object_cursor)
);
CREATE INDEX collection_objects_object ON collection_objects (object_cursor);
CREATE INDEX collection_objects_date_added ON collection_objects (collection_id, date_added);

CREATE TABLE tombstones (
    seq            INTEGER PRIMARY KEY,
    id             TEXT    NOT NULL,
    version_key    TEXT    NOT NULL,
    collection_id  TEXT,
    deleted_at     INTEGER NOT NULL
);

CREATE TABLE statuses (
    id         TEXT PRIMARY KEY,
    api_root   TEXT    NOT NULL,
    owner_org  TEXT,
    created    INTEGER NOT NULL,
    json       TEXT    NOT NULL
);
CREATE INDEX statuses_created ON statuses (created);

CREATE TABLE orgs (
    id       TEXT PRIMARY KEY,
    name     TEXT    NOT NULL UNIQUE,
    kind     TEXT    NOT NULL,
    sector   TEXT,
    country  TEXT,
    parent   TEXT REFERENCES orgs (id),
    created  INTEGER NOT NULL
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    org_id         TEXT    NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    username       TEXT    NOT NULL UNIQUE,
    password_hash  TEXT    NOT NULL,
    role           TEXT    NOT NULL,
    created        INTEGER NOT NULL
);
CREATE INDEX users_org ON users (org_id);

CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    org_id      TEXT    NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_id     TEXT REFERENCES users (id) ON DELETE CASCADE,
    role        TEXT    NOT NULL,
    label       TEXT,
    sha256_hex  TEXT    NOT NULL UNIQUE,
    created     INTEGER NOT NULL,
    revoked     INTEGER NOT NULL
);
CREATE INDEX tokens_org ON tokens (org_id);

CREATE TABLE permissions (
    collection_id  TEXT    NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    org_id         TEXT    NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    can_read       INTEGER NOT NULL,
    can_write      INTEGER NOT NULL,
    PRIMARY KEY (collection_id, org_id)
);

CREATE TABLE state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
