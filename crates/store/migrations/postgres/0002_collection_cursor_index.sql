-- Paging one collection by its own cursor: WHERE collection_id = ? AND cursor > ? ORDER BY cursor.
CREATE INDEX collection_objects_cursor ON collection_objects (collection_id, cursor);
