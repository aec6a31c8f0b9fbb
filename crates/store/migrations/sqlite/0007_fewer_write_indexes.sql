-- Only objects with a retention deadline (received from partners) are ever looked up
-- by it; objects published here have none and need no index entry. (The PostgreSQL
-- dialect also drops the membership table's foreign keys and one of its indexes; SQLite
-- checks its foreign keys by rowid and appends those index entries in order, so it
-- keeps them rather than rebuild the table.)
DROP INDEX object_meta_expires;
CREATE INDEX object_meta_expires ON object_meta (expires) WHERE expires IS NOT NULL;
