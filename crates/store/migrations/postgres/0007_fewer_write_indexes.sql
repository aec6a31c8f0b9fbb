-- Fewer index entries and no per-row trigger on the write path (TAXII POST, sync,
-- import). Measured with bench/taxii/run.py: see docs/PERFORMANCE.md.
--
-- The membership table's foreign keys ran a referential-integrity trigger per inserted
-- row (a lookup and a row lock on the object and on the collection). The store writes
-- memberships only for objects and collections it has just checked or written in the
-- same transaction, and deletes them explicitly with their object or collection, so
-- the constraint guarded nothing the code does not already guarantee.
ALTER TABLE collection_objects DROP CONSTRAINT collection_objects_collection_id_fkey;
ALTER TABLE collection_objects DROP CONSTRAINT collection_objects_object_cursor_fkey;

-- One unique index led by the object cursor serves both "is this object in this
-- collection" and "which collections hold this object" (it replaces the unique
-- (collection_id, object_cursor) constraint and the (object_cursor) index).
ALTER TABLE collection_objects DROP CONSTRAINT collection_objects_collection_id_object_cursor_key;
DROP INDEX collection_objects_object;
CREATE UNIQUE INDEX collection_objects_member ON collection_objects (object_cursor, collection_id);

-- Only objects with a retention deadline (received from partners) are ever looked up
-- by it; objects published here have none and need no entry.
DROP INDEX object_meta_expires;
CREATE INDEX object_meta_expires ON object_meta (expires) WHERE expires IS NOT NULL;
