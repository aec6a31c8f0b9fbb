-- Nadhir store schema, PostgreSQL dialect.
--
-- Cursors, membership cursors, tombstone sequence numbers and date_added values are
-- allocated from the single `clock` row inside each write transaction. Every writer
-- first takes `pg_advisory_xact_lock` (held to commit), so allocation order is commit
-- order and a reader paging by cursor never skips a row committed later.

CREATE TABLE clock (
    singleton      BIGINT PRIMARY KEY CHECK (singleton = 1),
    object_cursor  BIGINT  NOT NULL,
    member_cursor  BIGINT  NOT NULL,
    tombstone_seq  BIGINT  NOT NULL,
    date_added     BIGINT  NOT NULL
);
INSERT INTO clock (singleton, object_cursor, member_cursor, tombstone_seq, date_added)
VALUES (1, 0, 0, 0, 0);

CREATE TABLE objects (
    cursor        BIGINT  PRIMARY KEY,
    id            TEXT    NOT NULL,
    type          TEXT    NOT NULL,
    spec_version  TEXT    NOT NULL,
    version_key   TEXT COLLATE "C" NOT NULL,
    version_text  TEXT    NOT NULL,
    revoked       BOOLEAN NOT NULL,
    content_hash  TEXT    NOT NULL,
    json          TEXT    NOT NULL,
    date_added    BIGINT  NOT NULL,
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
    created      BIGINT  NOT NULL
);
CREATE INDEX collections_api_root ON collections (api_root);

CREATE TABLE collection_objects (
    cursor         BIGINT  PRIMARY KEY,
    collection_id  TEXT    NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    object_cursor  BIGINT  NOT NULL REFERENCES objects (cursor) ON DELETE CASCADE,
    date_added     BIGINT  NOT NULL,
    UNIQUE (collection_id, object_cursor)
);
CREATE INDEX collection_objects_object ON collection_objects (object_cursor);
CREATE INDEX collection_objects_date_added ON collection_objects (collection_id, date_added);

CREATE TABLE tombstones (
    seq            BIGINT  PRIMARY KEY,
    id             TEXT    NOT NULL,
    version_key    TEXT    NOT NULL,
    collection_id  TEXT,
    deleted_at     BIGINT  NOT NULL
);

CREATE TABLE statuses (
    id         TEXT PRIMARY KEY,
    api_root   TEXT    NOT NULL,
    owner_org  TEXT,
    created    BIGINT  NOT NULL,
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
    created  BIGINT  NOT NULL
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    org_id         TEXT    NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    username       TEXT    NOT NULL UNIQUE,
    password_hash  TEXT    NOT NULL,
    role           TEXT    NOT NULL,
    created        BIGINT  NOT NULL
);
CREATE INDEX users_org ON users (org_id);

CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    org_id      TEXT    NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_id     TEXT REFERENCES users (id) ON DELETE CASCADE,
    role        TEXT    NOT NULL,
    label       TEXT,
    sha256_hex  TEXT    NOT NULL UNIQUE,
    created     BIGINT  NOT NULL,
    revoked     BOOLEAN NOT NULL
);
CREATE INDEX tokens_org ON tokens (org_id);

CREATE TABLE permissions (
    collection_id  TEXT    NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    org_id         TEXT    NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    can_read       BOOLEAN NOT NULL,
    can_write      BOOLEAN NOT NULL,
    PRIMARY KEY (collection_id, org_id)
);

CREATE TABLE state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
