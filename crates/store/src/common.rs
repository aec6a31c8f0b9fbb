//! The parts of the [`crate::Store`] implementation that are the same SQL on both
//! backends, written once and expanded for each with `impl_store!` (its transactions'
//! [`crate::WriteTx`] with `impl_write_tx!`). A backend type provides `reader()` /
//! `writer()` pools, `write_tx()` (a transaction in which it is the only writer),
//! `size_bytes()`, `DIALECT`, and its [`crate::WriteTx`] type.

/// Expands to the row decoders, the bind helper and `impl Store for $store`.
macro_rules! impl_store {
    ($store:ty, $db:ty, $row:ty, $wtx:ident, $name:literal) => {
        fn bind_built<'q>(
            mut q: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>,
            args: &'q [$crate::sql::Arg],
        ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>> {
            for a in args {
                q = match a {
                    $crate::sql::Arg::Text(s) => q.bind(s.as_str()),
                    $crate::sql::Arg::Int(i) => q.bind(*i),
                };
            }
            q
        }

        fn row_object(r: &$row) -> $crate::Result<$crate::StoredObject> {
            use sqlx::Row;
            Ok($crate::StoredObject {
                cursor: r.try_get("cursor")?,
                date_added: r.try_get("date_added")?,
                id: r.try_get("id")?,
                type_name: r.try_get("type")?,
                spec_version: r.try_get("spec_version")?,
                version_key: r.try_get("version_key")?,
                version_text: r.try_get("version_text")?,
                revoked: r.try_get("revoked")?,
                json: r.try_get("json")?,
            })
        }

        fn row_collection(r: &$row) -> $crate::Result<$crate::Collection> {
            use sqlx::Row;
            let id: String = r.try_get("id")?;
            let media: String = r.try_get("media_types")?;
            let media_types: Vec<String> = serde_json::from_str(&media).map_err(|e| {
                $crate::StoreError::Corrupt(format!(
                    "collection {id:?}: media_types is not a JSON array of strings: {e}"
                ))
            })?;
            Ok($crate::Collection {
                id: $crate::CollectionId(id),
                api_root: r.try_get("api_root")?,
                title: r.try_get("title")?,
                description: r.try_get("description")?,
                alias: r.try_get("alias")?,
                media_types,
                created: r.try_get("created")?,
            })
        }

        fn row_org(r: &$row) -> $crate::Result<$crate::Org> {
            use sqlx::Row;
            Ok($crate::Org {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                kind: r.try_get("kind")?,
                sector: r.try_get("sector")?,
                country: r.try_get("country")?,
                parent: r.try_get("parent")?,
                created: r.try_get("created")?,
            })
        }

        fn row_user(r: &$row) -> $crate::Result<$crate::User> {
            use sqlx::Row;
            Ok($crate::User {
                id: r.try_get("id")?,
                org_id: r.try_get("org_id")?,
                username: r.try_get("username")?,
                password_hash: r.try_get("password_hash")?,
                role: r.try_get("role")?,
                created: r.try_get("created")?,
            })
        }

        fn row_token(r: &$row) -> $crate::Result<$crate::TokenRecord> {
            use sqlx::Row;
            Ok($crate::TokenRecord {
                id: r.try_get("id")?,
                org_id: r.try_get("org_id")?,
                user_id: r.try_get("user_id")?,
                role: r.try_get("role")?,
                label: r.try_get("label")?,
                sha256_hex: r.try_get("sha256_hex")?,
                created: r.try_get("created")?,
                revoked: r.try_get("revoked")?,
            })
        }

        fn row_permission(r: &$row) -> $crate::Result<$crate::Permission> {
            use sqlx::Row;
            Ok($crate::Permission {
                collection: $crate::CollectionId(r.try_get("collection_id")?),
                org_id: r.try_get("org_id")?,
                can_read: r.try_get("can_read")?,
                can_write: r.try_get("can_write")?,
            })
        }

        fn row_record(r: &$row) -> $crate::Result<$crate::RecordRow> {
            use sqlx::Row;
            Ok($crate::RecordRow {
                kind: r.try_get("kind")?,
                id: r.try_get("id")?,
                tag: r.try_get("tag")?,
                body: r.try_get("body")?,
                updated: r.try_get("updated")?,
            })
        }

        fn row_status(r: &$row) -> $crate::Result<$crate::StatusRecord> {
            use sqlx::Row;
            Ok($crate::StatusRecord {
                id: r.try_get("id")?,
                api_root: r.try_get("api_root")?,
                owner_org: r.try_get("owner_org")?,
                created: r.try_get("created")?,
                json: r.try_get("json")?,
                owner_instance: r.try_get("owner_instance")?,
                collection: r.try_get("collection_id")?,
            })
        }

        /// Upserts a status on `conn` (a pool connection or a transaction of the caller's).
        async fn put_status_in(
            conn: &mut <$db as sqlx::Database>::Connection,
            s: &$crate::StatusRecord,
        ) -> $crate::Result<()> {
            sqlx::query($crate::sql::PUT_STATUS)
                .bind(s.id.as_str())
                .bind(s.api_root.as_str())
                .bind(s.owner_org.as_deref())
                .bind(s.created)
                .bind(s.json.as_str())
                .bind(s.owner_instance.as_deref())
                .bind(s.collection.as_deref())
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        fn row_meta(r: &$row) -> $crate::Result<$crate::MetaRow> {
            use sqlx::Row;
            Ok($crate::MetaRow {
                id: r.try_get("id")?,
                json: r.try_get("json")?,
                expires: r.try_get("expires")?,
                updated: r.try_get("updated")?,
            })
        }

        fn row_egress(r: &$row) -> $crate::Result<$crate::EgressRow> {
            use sqlx::Row;
            Ok($crate::EgressRow {
                seq: r.try_get("seq")?,
                at: r.try_get("at")?,
                entry: $crate::EgressEntry {
                    peer: r.try_get("peer")?,
                    object_id: r.try_get("object_id")?,
                    version_key: r.try_get("version_key")?,
                    content_hash: r.try_get("content_hash")?,
                    agreement_id: r.try_get("agreement_id")?,
                    agreement_version: r.try_get("agreement_version")?,
                    action: r.try_get("action")?,
                    detail: r.try_get("detail")?,
                },
                prev_hash: r.try_get("prev_hash")?,
                hash: r.try_get("hash")?,
            })
        }

        /// Upserts metadata rows on `conn` (a transaction of the caller's).
        async fn put_meta_in(
            conn: &mut <$db as sqlx::Database>::Connection,
            rows: &[$crate::MetaRow],
        ) -> $crate::Result<()> {
            // Several rows per statement; an id twice in one statement is an error for
            // `ON CONFLICT DO UPDATE`, so a repeated id keeps only its last row.
            let mut last: hashbrown::HashMap<&str, usize> = hashbrown::HashMap::new();
            for (i, m) in rows.iter().enumerate() {
                last.insert(m.id.as_str(), i);
            }
            let unique: Vec<&$crate::MetaRow> = rows
                .iter()
                .enumerate()
                .filter(|(i, m)| last.get(m.id.as_str()) == Some(i))
                .map(|(_, m)| m)
                .collect();
            for chunk in unique.chunks($crate::sql::META_ROWS_PER_STATEMENT) {
                let sql = $crate::sql::put_meta_rows(chunk.len(), $crate::sql::Params::of($name));
                let mut q = sqlx::query(&sql);
                for m in chunk {
                    q = q
                        .bind(m.id.as_str())
                        .bind(m.json.as_str())
                        .bind(m.expires)
                        .bind(m.updated);
                }
                q.execute(&mut *conn).await?;
            }
            Ok(())
        }

        /// Counts hits into their sighting windows on `conn` (a write transaction of the
        /// caller's): the body of [`crate::Store::record_hits`]. A handful of multi-row
        /// statements whatever the number of hits: the keys (returning those that were
        /// new), the windows they touch, the changed windows.
        async fn record_hits_in(
            conn: &mut <$db as sqlx::Database>::Connection,
            hits: &[$crate::HitRow],
            now_micros: i64,
            max_scos: usize,
        ) -> $crate::Result<$crate::HitOutcome> {
            use sqlx::Row;
            let params = $crate::sql::Params::of($name);
            let per = $crate::sql::HIT_ROWS_PER_STATEMENT;
            let mut out = $crate::HitOutcome::default();
            if hits.is_empty() {
                return Ok(out);
            }
            // Keys not yet stored (each (window, event) once, in first-seen order).
            let mut keys: Vec<&$crate::HitRow> = Vec::with_capacity(hits.len());
            {
                let mut seen = hashbrown::HashSet::with_capacity(hits.len());
                for h in hits {
                    if seen.insert((h.sighting_id.as_str(), h.event_key.as_str())) {
                        keys.push(h);
                    }
                }
            }
            let mut new_keys: hashbrown::HashSet<(String, String)> = hashbrown::HashSet::new();
            for chunk in keys.chunks(per) {
                let sql = $crate::sql::insert_hit_keys(chunk.len(), params);
                let mut q = sqlx::query_as::<_, (String, String)>(&sql);
                for h in chunk {
                    q = q
                        .bind(h.sighting_id.as_str())
                        .bind(h.event_key.as_str())
                        .bind(h.window_start);
                }
                new_keys.extend(q.fetch_all(&mut *conn).await?);
            }
            // The stored windows of the sighting ids concerned.
            let mut ids: Vec<&str> = hits.iter().map(|h| h.sighting_id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            let mut stored: hashbrown::HashMap<String, $crate::WindowRow> =
                hashbrown::HashMap::with_capacity(ids.len());
            for chunk in ids.chunks(per) {
                let sql = $crate::sql::get_windows(chunk.len(), params);
                let mut q = sqlx::query(&sql);
                for id in chunk {
                    q = q.bind(*id);
                }
                for r in q.fetch_all(&mut *conn).await? {
                    let sighting_id: String = r.try_get("sighting_id")?;
                    let scos: String = r.try_get("sco_ids")?;
                    let sco_ids: Vec<String> = serde_json::from_str(&scos).map_err(|e| {
                        $crate::StoreError::Corrupt(format!(
                            "sighting window {sighting_id}: sco_ids: {e}"
                        ))
                    })?;
                    let w = $crate::WindowRow {
                        sighting_id: sighting_id.clone(),
                        indicator_id: r.try_get("indicator_id")?,
                        window_start: r.try_get("window_start")?,
                        count: r.try_get("count")?,
                        first_seen: r.try_get("first_seen")?,
                        last_seen: r.try_get("last_seen")?,
                        sco_ids,
                        created: r.try_get("created")?,
                        modified: r.try_get("modified")?,
                        first_version: false,
                        new_sco_ids: Vec::new(),
                        changed: false,
                    };
                    stored.insert(sighting_id, w);
                }
            }
            // Windows touched by this call, in first-touched order.
            let mut touched: Vec<$crate::WindowRow> = Vec::new();
            let mut slot: hashbrown::HashMap<String, usize> = hashbrown::HashMap::new();
            for h in hits {
                // A key counts for its first hit only; a repeat in the batch, like a
                // redelivery, is a duplicate.
                let counted = new_keys.remove(&(h.sighting_id.clone(), h.event_key.clone()));
                if counted {
                    out.counted += 1;
                } else {
                    out.duplicates += 1;
                }
                let i = match slot.get(&h.sighting_id) {
                    Some(&i) => i,
                    None => {
                        let w = match stored.remove(&h.sighting_id) {
                            Some(w) => w,
                            // A duplicate always has its window (written together).
                            None if !counted => continue,
                            None => $crate::WindowRow {
                                sighting_id: h.sighting_id.clone(),
                                indicator_id: h.indicator_id.clone(),
                                window_start: h.window_start,
                                count: 0,
                                first_seen: h.observed_micros,
                                last_seen: h.observed_micros,
                                sco_ids: Vec::new(),
                                created: 0,
                                modified: 0,
                                first_version: true,
                                new_sco_ids: Vec::new(),
                                changed: false,
                            },
                        };
                        touched.push(w);
                        slot.insert(h.sighting_id.clone(), touched.len() - 1);
                        touched.len() - 1
                    }
                };
                if !counted {
                    continue;
                }
                let w = &mut touched[i];
                w.changed = true;
                w.count += 1;
                w.first_seen = w.first_seen.min(h.observed_micros);
                w.last_seen = w.last_seen.max(h.observed_micros);
                if let Some(sco) = &h.sco_id {
                    if w.sco_ids.len() < max_scos && !w.sco_ids.iter().any(|s| s == sco) {
                        w.sco_ids.push(sco.clone());
                        w.new_sco_ids.push(sco.clone());
                    }
                }
            }
            let mut changed: Vec<(&$crate::WindowRow, String)> = Vec::new();
            for w in touched.iter_mut().filter(|w| w.changed) {
                let modified = if w.first_version {
                    now_micros
                } else {
                    now_micros.max(w.modified + 1)
                };
                if w.first_version {
                    w.created = modified;
                }
                w.modified = modified;
            }
            for w in touched.iter().filter(|w| w.changed) {
                let scos = serde_json::to_string(&w.sco_ids)
                    .map_err(|e| $crate::StoreError::Corrupt(format!("sco_ids: {e}")))?;
                changed.push((w, scos));
            }
            for chunk in changed.chunks(per) {
                let sql = $crate::sql::put_windows(chunk.len(), params);
                let mut q = sqlx::query(&sql);
                for (w, scos) in chunk {
                    q = q
                        .bind(w.sighting_id.as_str())
                        .bind(w.indicator_id.as_str())
                        .bind(w.window_start)
                        .bind(w.count)
                        .bind(w.first_seen)
                        .bind(w.last_seen)
                        .bind(scos.as_str())
                        .bind(w.created)
                        .bind(w.modified);
                }
                q.execute(&mut *conn).await?;
            }
            out.windows = touched;
            Ok(out)
        }

        /// Reads records of one kind by id on `conn` (seeing the caller's own writes).
        async fn get_records_in(
            conn: &mut <$db as sqlx::Database>::Connection,
            kind: &str,
            ids: &[&str],
        ) -> $crate::Result<Vec<$crate::RecordRow>> {
            let params = $crate::sql::Params::of($name);
            let mut out = Vec::with_capacity(ids.len());
            for chunk in ids.chunks($crate::sql::HIT_ROWS_PER_STATEMENT) {
                let sql = $crate::sql::get_records(chunk.len(), params);
                let mut q = sqlx::query(&sql).bind(kind);
                for id in chunk {
                    q = q.bind(*id);
                }
                for r in q.fetch_all(&mut *conn).await? {
                    out.push(row_record(&r)?);
                }
            }
            Ok(out)
        }

        /// Upserts records on `conn`; with `feed`, also appends each to the feed in
        /// order, returning the last feed sequence number.
        async fn put_records_in(
            conn: &mut <$db as sqlx::Database>::Connection,
            records: &[$crate::RecordRow],
            feed: Option<&str>,
        ) -> $crate::Result<Option<i64>> {
            let params = $crate::sql::Params::of($name);
            let per = $crate::sql::HIT_ROWS_PER_STATEMENT;
            // A repeated (kind, id) keeps its last row (one statement may not update a
            // row twice).
            let mut last: hashbrown::HashMap<(&str, &str), usize> = hashbrown::HashMap::new();
            for (i, r) in records.iter().enumerate() {
                last.insert((r.kind.as_str(), r.id.as_str()), i);
            }
            let unique: Vec<&$crate::RecordRow> = records
                .iter()
                .enumerate()
                .filter(|(i, r)| last.get(&(r.kind.as_str(), r.id.as_str())) == Some(i))
                .map(|(_, r)| r)
                .collect();
            for chunk in unique.chunks(per) {
                let sql = $crate::sql::put_records(chunk.len(), params);
                let mut q = sqlx::query(&sql);
                for r in chunk {
                    q = q
                        .bind(r.kind.as_str())
                        .bind(r.id.as_str())
                        .bind(r.tag.as_str())
                        .bind(r.body.as_str())
                        .bind(r.updated);
                }
                q.execute(&mut *conn).await?;
            }
            let Some(kind) = feed else {
                return Ok(None);
            };
            let mut seq = None;
            for chunk in records.chunks(per) {
                let sql = $crate::sql::append_feed_rows(chunk.len(), params);
                let mut q = sqlx::query_scalar::<_, i64>(&sql);
                for r in chunk {
                    q = q
                        .bind(kind)
                        .bind(r.id.as_str())
                        .bind(r.body.as_str())
                        .bind(r.updated);
                }
                for s in q.fetch_all(&mut *conn).await? {
                    seq = Some(seq.map_or(s, |m: i64| m.max(s)));
                }
            }
            Ok(seq)
        }

        /// Upserts a record on `conn`; with `feed`, also appends it to the feed
        /// (returning the feed sequence number): the body of [`crate::Store::put_record`].
        async fn put_record_in(
            conn: &mut <$db as sqlx::Database>::Connection,
            r: &$crate::RecordRow,
            feed: Option<&str>,
        ) -> $crate::Result<Option<i64>> {
            sqlx::query($crate::sql::PUT_RECORD)
                .bind(r.kind.as_str())
                .bind(r.id.as_str())
                .bind(r.tag.as_str())
                .bind(r.body.as_str())
                .bind(r.updated)
                .execute(&mut *conn)
                .await?;
            match feed {
                Some(kind) => {
                    let seq: i64 = sqlx::query_scalar($crate::sql::APPEND_FEED)
                        .bind(kind)
                        .bind(r.id.as_str())
                        .bind(r.body.as_str())
                        .bind(r.updated)
                        .fetch_one(&mut *conn)
                        .await?;
                    Ok(Some(seq))
                }
                None => Ok(None),
            }
        }

        /// Reads a record on `conn` (which sees the caller's uncommitted writes).
        async fn get_record_in(
            conn: &mut <$db as sqlx::Database>::Connection,
            kind: &str,
            id: &str,
        ) -> $crate::Result<Option<$crate::RecordRow>> {
            let row = sqlx::query($crate::sql::GET_RECORD)
                .bind(kind)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
            row.as_ref().map(row_record).transpose()
        }

        /// Sets a state value on `conn`.
        async fn set_state_in(
            conn: &mut <$db as sqlx::Database>::Connection,
            key: &str,
            value: &str,
        ) -> $crate::Result<()> {
            sqlx::query($crate::sql::SET_STATE)
                .bind(key)
                .bind(value)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        #[async_trait::async_trait]
        impl $crate::Store for $store {
            fn backend(&self) -> &'static str {
                $name
            }

            async fn begin(&self) -> $crate::Result<Box<dyn $crate::WriteTx + '_>> {
                let tx = self.write_tx().await?;
                Ok(Box::new($wtx::new(tx, self)))
            }

            async fn query(&self, q: &$crate::Query) -> $crate::Result<$crate::Page> {
                let fetch = q.limit.map(|l| l.saturating_add(1));
                let built = $crate::sql::select_objects(q, &q.versions, fetch);
                let rows = bind_built(sqlx::query(&built.sql), &built.args)
                    .fetch_all(self.reader())
                    .await?;
                let mut objects = rows
                    .iter()
                    .map(row_object)
                    .collect::<$crate::Result<Vec<_>>>()?;
                let more = match q.limit {
                    Some(l) if objects.len() > l => {
                        objects.truncate(l);
                        true
                    }
                    _ => false,
                };
                Ok($crate::Page { objects, more })
            }

            fn stream<'a>(
                &'a self,
                query: $crate::Query,
            ) -> futures::stream::BoxStream<'a, $crate::Result<$crate::StoredObject>> {
                $crate::paged_stream(self, query)
            }

            async fn delete_object(
                &self,
                collection: Option<&$crate::CollectionId>,
                id: &str,
                versions: &$crate::VersionFilter,
                spec_versions: &[String],
            ) -> $crate::Result<u64> {
                let mut tx = self.write_tx().await?;
                if let Some(c) = collection {
                    let found = sqlx::query($crate::sql::COLLECTION_EXISTS)
                        .bind(c.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                    if found.is_none() {
                        return Err($crate::StoreError::NotFound {
                            kind: "collection",
                            id: c.0.clone(),
                        });
                    }
                }
                let q = $crate::Query {
                    collection: collection.cloned(),
                    ids: vec![id.to_owned()],
                    spec_versions: spec_versions.to_vec(),
                    with_body: false,
                    ..Default::default()
                };
                let selector = if versions.is_empty() {
                    $crate::VersionFilter::all()
                } else {
                    versions.clone()
                };
                let built = $crate::sql::select_objects(&q, &selector, None);
                let rows = bind_built(sqlx::query(&built.sql), &built.args)
                    .fetch_all(&mut *tx)
                    .await?;
                let targets = rows
                    .iter()
                    .map(row_object)
                    .collect::<$crate::Result<Vec<_>>>()?;
                let n = targets.len() as i64;
                if n == 0 {
                    tx.commit().await?;
                    return Ok(0);
                }
                let top: i64 = sqlx::query_scalar($crate::sql::ALLOC_TOMBSTONES)
                    .bind(n)
                    .fetch_one(&mut *tx)
                    .await?;
                let now = stix::Timestamp::now_unix_micros();
                let delete = if collection.is_some() {
                    $crate::sql::DELETE_MEMBERSHIP
                } else {
                    $crate::sql::DELETE_OBJECT_VERSION
                };
                for (k, t) in targets.iter().enumerate() {
                    if collection.is_none() {
                        sqlx::query($crate::sql::DELETE_MEMBERSHIPS_OF_OBJECT)
                            .bind(t.cursor)
                            .execute(&mut *tx)
                            .await?;
                    }
                    sqlx::query(delete).bind(t.cursor).execute(&mut *tx).await?;
                    sqlx::query($crate::sql::INSERT_TOMBSTONE)
                        .bind(top - n + 1 + k as i64)
                        .bind(t.id.as_str())
                        .bind(t.version_key.as_str())
                        .bind(collection.map(|c| c.as_str()))
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(n as u64)
            }

            async fn tombstones(
                &self,
                after_seq: i64,
                limit: usize,
            ) -> $crate::Result<Vec<$crate::Tombstone>> {
                use sqlx::Row;
                let rows = sqlx::query($crate::sql::SELECT_TOMBSTONES)
                    .bind(after_seq)
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                    .fetch_all(self.reader())
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::Tombstone {
                            seq: r.try_get("seq")?,
                            id: r.try_get("id")?,
                            version_key: r.try_get("version_key")?,
                            collection: r
                                .try_get::<Option<String>, _>("collection_id")?
                                .map($crate::CollectionId),
                            deleted_at: r.try_get("deleted_at")?,
                        })
                    })
                    .collect()
            }

            async fn create_collection(&self, c: &$crate::Collection) -> $crate::Result<()> {
                let media = serde_json::to_string(&c.media_types).map_err(|e| {
                    $crate::StoreError::InvalidArgument(format!("media_types: {e}"))
                })?;
                sqlx::query($crate::sql::INSERT_COLLECTION)
                    .bind(c.id.as_str())
                    .bind(c.api_root.as_str())
                    .bind(c.title.as_str())
                    .bind(c.description.as_deref())
                    .bind(c.alias.as_deref())
                    .bind(media)
                    .bind(c.created)
                    .execute(self.writer())
                    .await
                    .map_err(|e| {
                        $crate::map_write_error(
                            e,
                            "collection",
                            c.alias.as_deref().map_or_else(
                                || c.id.0.clone(),
                                |a| format!("{} (alias {a:?})", c.id),
                            ),
                            "collection",
                            "",
                        )
                    })?;
                Ok(())
            }

            async fn get_collection(
                &self,
                id: &$crate::CollectionId,
            ) -> $crate::Result<Option<$crate::Collection>> {
                let row = sqlx::query($crate::sql::SELECT_COLLECTION)
                    .bind(id.as_str())
                    .fetch_optional(self.reader())
                    .await?;
                row.as_ref().map(row_collection).transpose()
            }

            async fn find_collection(
                &self,
                id_or_alias: &str,
            ) -> $crate::Result<Option<$crate::Collection>> {
                let row = sqlx::query($crate::sql::FIND_COLLECTION)
                    .bind(id_or_alias)
                    .fetch_optional(self.reader())
                    .await?;
                row.as_ref().map(row_collection).transpose()
            }

            async fn list_collections(
                &self,
                api_root: Option<&str>,
            ) -> $crate::Result<Vec<$crate::Collection>> {
                let rows = match api_root {
                    Some(root) => {
                        sqlx::query($crate::sql::LIST_COLLECTIONS_IN_ROOT)
                            .bind(root)
                            .fetch_all(self.reader())
                            .await?
                    }
                    None => {
                        sqlx::query($crate::sql::LIST_COLLECTIONS)
                            .fetch_all(self.reader())
                            .await?
                    }
                };
                rows.iter().map(row_collection).collect()
            }

            async fn delete_collection(&self, id: &$crate::CollectionId) -> $crate::Result<()> {
                let mut tx = self.write_tx().await?;
                sqlx::query($crate::sql::DELETE_MEMBERSHIPS_OF_COLLECTION)
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                let done = sqlx::query($crate::sql::DELETE_COLLECTION)
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Err($crate::StoreError::NotFound {
                        kind: "collection",
                        id: id.0.clone(),
                    });
                }
                tx.commit().await?;
                Ok(())
            }

            async fn stats(&self) -> $crate::Result<$crate::Stats> {
                use sqlx::Row;
                let mut stats = $crate::Stats::default();
                for r in sqlx::query($crate::sql::STATS_BY_TYPE)
                    .fetch_all(self.reader())
                    .await?
                {
                    let n: i64 = r.try_get("n")?;
                    stats.by_type.push((r.try_get("type")?, $crate::count(n)?));
                }
                for r in sqlx::query($crate::sql::STATS_BY_COLLECTION)
                    .fetch_all(self.reader())
                    .await?
                {
                    let n: i64 = r.try_get("n")?;
                    stats.by_collection.push((
                        $crate::CollectionId(r.try_get("id")?),
                        r.try_get("name")?,
                        $crate::count(n)?,
                    ));
                }
                let r = sqlx::query($crate::sql::STATS_TOTALS)
                    .fetch_one(self.reader())
                    .await?;
                stats.total_versions = $crate::count(r.try_get("total")?)?;
                stats.distinct_objects = $crate::count(r.try_get("distinct_ids")?)?;
                stats.size_bytes = self.size_bytes().await?;
                Ok(stats)
            }

            async fn put_status(&self, s: &$crate::StatusRecord) -> $crate::Result<()> {
                let mut conn = self.writer().acquire().await?;
                put_status_in(&mut *conn, s).await
            }

            async fn put_status_if_owner(
                &self,
                s: &$crate::StatusRecord,
                expected_owner: &str,
            ) -> $crate::Result<bool> {
                let done = sqlx::query($crate::sql::PUT_STATUS_IF_OWNER)
                    .bind(s.id.as_str())
                    .bind(expected_owner)
                    .bind(s.json.as_str())
                    .bind(s.owner_instance.as_deref())
                    .bind(s.collection.as_deref())
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn heartbeat(&self, instance: &str, now_micros: i64) -> $crate::Result<()> {
                if instance.is_empty() {
                    return Err($crate::StoreError::InvalidArgument(
                        "empty server instance id".into(),
                    ));
                }
                sqlx::query($crate::sql::HEARTBEAT)
                    .bind(instance)
                    .bind(now_micros)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn forget_instance(&self, instance: &str) -> $crate::Result<bool> {
                let done = sqlx::query($crate::sql::FORGET_INSTANCE)
                    .bind(instance)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn claim_orphaned_statuses(
                &self,
                claimer: &str,
                seen_since: i64,
                limit: usize,
            ) -> $crate::Result<Vec<$crate::StatusRecord>> {
                if claimer.is_empty() {
                    return Err($crate::StoreError::InvalidArgument(
                        "empty server instance id".into(),
                    ));
                }
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let candidates: Vec<(String, String)> =
                    sqlx::query_as($crate::sql::ORPHAN_CANDIDATES)
                        .bind(claimer)
                        .bind(seen_since)
                        .bind(limit)
                        .fetch_all(self.reader())
                        .await?;
                let mut claimed = Vec::new();
                for (id, owner) in candidates {
                    let row = sqlx::query($crate::sql::CLAIM_STATUS)
                        .bind(claimer)
                        .bind(id.as_str())
                        .bind(owner.as_str())
                        .bind(seen_since)
                        .fetch_optional(self.writer())
                        .await?;
                    if let Some(r) = row {
                        claimed.push(row_status(&r)?);
                    }
                }
                Ok(claimed)
            }

            async fn versions_in_collection(
                &self,
                collection: &$crate::CollectionId,
                ids: &[String],
            ) -> $crate::Result<Vec<(String, String)>> {
                let mut out = Vec::new();
                for chunk in ids.chunks($crate::sql::IDS_PER_STATEMENT) {
                    let text = $crate::sql::versions_in_collection(chunk.len());
                    let mut q =
                        sqlx::query_as::<_, (String, String)>(&text).bind(collection.as_str());
                    for id in chunk {
                        q = q.bind(id.as_str());
                    }
                    out.extend(q.fetch_all(self.reader()).await?);
                }
                Ok(out)
            }

            async fn get_status(&self, id: &str) -> $crate::Result<Option<$crate::StatusRecord>> {
                let row = sqlx::query($crate::sql::GET_STATUS)
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?;
                row.as_ref().map(row_status).transpose()
            }

            async fn expire_statuses(&self, before_unix_micros: i64) -> $crate::Result<u64> {
                let done = sqlx::query($crate::sql::EXPIRE_STATUSES)
                    .bind(before_unix_micros)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected())
            }

            async fn create_org(&self, org: &$crate::Org) -> $crate::Result<()> {
                sqlx::query($crate::sql::INSERT_ORG)
                    .bind(org.id.as_str())
                    .bind(org.name.as_str())
                    .bind(org.kind.as_str())
                    .bind(org.sector.as_deref())
                    .bind(org.country.as_deref())
                    .bind(org.parent.as_deref())
                    .bind(org.created)
                    .execute(self.writer())
                    .await
                    .map_err(|e| {
                        $crate::map_write_error(
                            e,
                            "organisation",
                            format!("{} (name {:?})", org.id, org.name),
                            "parent organisation",
                            org.parent.as_deref().unwrap_or_default(),
                        )
                    })?;
                Ok(())
            }

            async fn get_org(&self, id_or_name: &str) -> $crate::Result<Option<$crate::Org>> {
                let row = sqlx::query($crate::sql::GET_ORG)
                    .bind(id_or_name)
                    .fetch_optional(self.reader())
                    .await?;
                row.as_ref().map(row_org).transpose()
            }

            async fn list_orgs(&self) -> $crate::Result<Vec<$crate::Org>> {
                let rows = sqlx::query($crate::sql::LIST_ORGS)
                    .fetch_all(self.reader())
                    .await?;
                rows.iter().map(row_org).collect()
            }

            async fn create_user(&self, user: &$crate::User) -> $crate::Result<()> {
                sqlx::query($crate::sql::INSERT_USER)
                    .bind(user.id.as_str())
                    .bind(user.org_id.as_str())
                    .bind(user.username.as_str())
                    .bind(user.password_hash.as_str())
                    .bind(user.role.as_str())
                    .bind(user.created)
                    .execute(self.writer())
                    .await
                    .map_err(|e| {
                        $crate::map_write_error(
                            e,
                            "user",
                            format!("{} (username {:?})", user.id, user.username),
                            "organisation",
                            &user.org_id,
                        )
                    })?;
                Ok(())
            }

            async fn get_user_by_name(
                &self,
                username: &str,
            ) -> $crate::Result<Option<$crate::User>> {
                let row = sqlx::query($crate::sql::GET_USER_BY_NAME)
                    .bind(username)
                    .fetch_optional(self.reader())
                    .await?;
                row.as_ref().map(row_user).transpose()
            }

            async fn list_users(&self, org: Option<&str>) -> $crate::Result<Vec<$crate::User>> {
                let rows = match org {
                    Some(o) => {
                        sqlx::query($crate::sql::LIST_USERS_OF_ORG)
                            .bind(o)
                            .fetch_all(self.reader())
                            .await?
                    }
                    None => {
                        sqlx::query($crate::sql::LIST_USERS)
                            .fetch_all(self.reader())
                            .await?
                    }
                };
                rows.iter().map(row_user).collect()
            }

            async fn create_token(&self, t: &$crate::TokenRecord) -> $crate::Result<()> {
                sqlx::query($crate::sql::INSERT_TOKEN)
                    .bind(t.id.as_str())
                    .bind(t.org_id.as_str())
                    .bind(t.user_id.as_deref())
                    .bind(t.role.as_str())
                    .bind(t.label.as_deref())
                    .bind(t.sha256_hex.as_str())
                    .bind(t.created)
                    .bind(t.revoked)
                    .execute(self.writer())
                    .await
                    .map_err(|e| {
                        $crate::map_write_error(
                            e,
                            "token",
                            t.id.clone(),
                            "organisation or user",
                            &format!("{} / {}", t.org_id, t.user_id.as_deref().unwrap_or("-")),
                        )
                    })?;
                Ok(())
            }

            async fn get_token_by_hash(
                &self,
                sha256_hex: &str,
            ) -> $crate::Result<Option<$crate::TokenRecord>> {
                let row = sqlx::query($crate::sql::GET_TOKEN_BY_HASH)
                    .bind(sha256_hex)
                    .fetch_optional(self.reader())
                    .await?;
                row.as_ref().map(row_token).transpose()
            }

            async fn list_tokens(
                &self,
                org: Option<&str>,
            ) -> $crate::Result<Vec<$crate::TokenRecord>> {
                let rows = match org {
                    Some(o) => {
                        sqlx::query($crate::sql::LIST_TOKENS_OF_ORG)
                            .bind(o)
                            .fetch_all(self.reader())
                            .await?
                    }
                    None => {
                        sqlx::query($crate::sql::LIST_TOKENS)
                            .fetch_all(self.reader())
                            .await?
                    }
                };
                rows.iter().map(row_token).collect()
            }

            async fn revoke_token(&self, token_id: &str) -> $crate::Result<()> {
                let done = sqlx::query($crate::sql::REVOKE_TOKEN)
                    .bind(token_id)
                    .bind(true)
                    .execute(self.writer())
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound {
                        kind: "token",
                        id: token_id.to_owned(),
                    });
                }
                Ok(())
            }

            async fn set_permission(&self, p: &$crate::Permission) -> $crate::Result<()> {
                sqlx::query($crate::sql::SET_PERMISSION)
                    .bind(p.collection.as_str())
                    .bind(p.org_id.as_str())
                    .bind(p.can_read)
                    .bind(p.can_write)
                    .execute(self.writer())
                    .await
                    .map_err(|e| {
                        $crate::map_write_error(
                            e,
                            "permission",
                            format!("{} / {}", p.collection, p.org_id),
                            "collection or organisation",
                            &format!("{} / {}", p.collection, p.org_id),
                        )
                    })?;
                Ok(())
            }

            async fn get_permission(
                &self,
                collection: &$crate::CollectionId,
                org_id: &str,
            ) -> $crate::Result<Option<$crate::Permission>> {
                let row = sqlx::query($crate::sql::GET_PERMISSION)
                    .bind(collection.as_str())
                    .bind(org_id)
                    .fetch_optional(self.reader())
                    .await?;
                row.as_ref().map(row_permission).transpose()
            }

            async fn list_permissions(
                &self,
                collection: &$crate::CollectionId,
            ) -> $crate::Result<Vec<$crate::Permission>> {
                let rows = sqlx::query($crate::sql::LIST_PERMISSIONS)
                    .bind(collection.as_str())
                    .fetch_all(self.reader())
                    .await?;
                rows.iter().map(row_permission).collect()
            }

            async fn get_state(&self, key: &str) -> $crate::Result<Option<String>> {
                let v: Option<String> = sqlx::query_scalar($crate::sql::GET_STATE)
                    .bind(key)
                    .fetch_optional(self.reader())
                    .await?;
                Ok(v)
            }

            async fn set_state(&self, key: &str, value: &str) -> $crate::Result<()> {
                sqlx::query($crate::sql::SET_STATE)
                    .bind(key)
                    .bind(value)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }
            async fn init_state(&self, key: &str, value: &str) -> $crate::Result<String> {
                let mut tx = self.write_tx().await?;
                sqlx::query($crate::sql::INIT_STATE)
                    .bind(key)
                    .bind(value)
                    .execute(&mut *tx)
                    .await?;
                let v: String = sqlx::query_scalar($crate::sql::GET_STATE)
                    .bind(key)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(v)
            }
            async fn record_hits(
                &self,
                hits: &[$crate::HitRow],
                now_micros: i64,
                max_scos: usize,
            ) -> $crate::Result<$crate::HitOutcome> {
                if hits.is_empty() {
                    return Ok($crate::HitOutcome::default());
                }
                let mut tx = self.write_tx().await?;
                let out = record_hits_in(&mut tx, hits, now_micros, max_scos).await?;
                tx.commit().await?;
                Ok(out)
            }

            async fn prune_hit_keys(&self, before_window_start: i64) -> $crate::Result<u64> {
                let done = sqlx::query($crate::sql::PRUNE_HIT_KEYS)
                    .bind(before_window_start)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected())
            }

            async fn put_record(
                &self,
                r: &$crate::RecordRow,
                feed: Option<&str>,
            ) -> $crate::Result<Option<i64>> {
                let mut tx = self.write_tx().await?;
                let seq = put_record_in(&mut tx, r, feed).await?;
                tx.commit().await?;
                Ok(seq)
            }

            async fn get_record(
                &self,
                kind: &str,
                id: &str,
            ) -> $crate::Result<Option<$crate::RecordRow>> {
                let row = sqlx::query($crate::sql::GET_RECORD)
                    .bind(kind)
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?;
                row.as_ref().map(row_record).transpose()
            }

            async fn list_records(
                &self,
                kind: &str,
                tag: Option<&str>,
                limit: usize,
            ) -> $crate::Result<Vec<$crate::RecordRow>> {
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let rows = match tag {
                    Some(tag) => {
                        sqlx::query($crate::sql::LIST_RECORDS_TAG)
                            .bind(kind)
                            .bind(tag)
                            .bind(limit)
                            .fetch_all(self.reader())
                            .await?
                    }
                    None => {
                        sqlx::query($crate::sql::LIST_RECORDS)
                            .bind(kind)
                            .bind(limit)
                            .fetch_all(self.reader())
                            .await?
                    }
                };
                rows.iter().map(row_record).collect()
            }

            async fn delete_record(&self, kind: &str, id: &str) -> $crate::Result<bool> {
                let done = sqlx::query($crate::sql::DELETE_RECORD)
                    .bind(kind)
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn append_feed(
                &self,
                kind: &str,
                ref_id: &str,
                body: &str,
            ) -> $crate::Result<i64> {
                let mut tx = self.write_tx().await?;
                let seq: i64 = sqlx::query_scalar($crate::sql::APPEND_FEED)
                    .bind(kind)
                    .bind(ref_id)
                    .bind(body)
                    .bind($crate::now_micros())
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(seq)
            }

            async fn feed_after(
                &self,
                after_seq: i64,
                limit: usize,
            ) -> $crate::Result<Vec<$crate::FeedRow>> {
                use sqlx::Row;
                let rows = sqlx::query($crate::sql::FEED_AFTER)
                    .bind(after_seq)
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                    .fetch_all(self.reader())
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::FeedRow {
                            seq: r.try_get("seq")?,
                            kind: r.try_get("kind")?,
                            ref_id: r.try_get("ref_id")?,
                            body: r.try_get("body")?,
                            at: r.try_get("at")?,
                        })
                    })
                    .collect()
            }

            async fn put_meta(&self, rows: &[$crate::MetaRow]) -> $crate::Result<()> {
                if rows.is_empty() {
                    return Ok(());
                }
                let mut tx = self.write_tx().await?;
                put_meta_in(&mut tx, rows).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_meta(&self, ids: &[String]) -> $crate::Result<Vec<$crate::MetaRow>> {
                let mut out = Vec::new();
                for chunk in ids.chunks($crate::sql::META_IDS_PER_STATEMENT) {
                    let built = $crate::sql::select_meta(chunk);
                    let rows = bind_built(sqlx::query(&built.sql), &built.args)
                        .fetch_all(self.reader())
                        .await?;
                    for r in &rows {
                        out.push(row_meta(r)?);
                    }
                }
                Ok(out)
            }

            async fn delete_meta(&self, id: &str) -> $crate::Result<bool> {
                let done = sqlx::query($crate::sql::DELETE_META)
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn expired_meta(
                &self,
                now_micros: i64,
                limit: usize,
            ) -> $crate::Result<Vec<String>> {
                let ids: Vec<String> = sqlx::query_scalar($crate::sql::EXPIRED_META)
                    .bind(now_micros)
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                    .fetch_all(self.reader())
                    .await?;
                Ok(ids)
            }

            async fn append_egress(
                &self,
                entries: &[$crate::EgressEntry],
                now_micros: i64,
            ) -> $crate::Result<Vec<$crate::EgressRow>> {
                if entries.is_empty() {
                    return Ok(Vec::new());
                }
                let mut tx = self.write_tx().await?;
                let last: Option<(i64, i64, String)> = sqlx::query_as($crate::sql::LAST_EGRESS)
                    .fetch_optional(&mut *tx)
                    .await?;
                let (mut seq, mut at, mut prev) =
                    last.unwrap_or_else(|| (0, now_micros, $crate::GENESIS_HASH.to_owned()));
                at = at.max(now_micros);
                let mut out = Vec::with_capacity(entries.len());
                for e in entries {
                    seq = seq.checked_add(1).ok_or_else(|| {
                        $crate::StoreError::Corrupt("egress ledger seq overflows".into())
                    })?;
                    let mut row = $crate::EgressRow {
                        seq,
                        at,
                        entry: e.clone(),
                        prev_hash: std::mem::take(&mut prev),
                        hash: String::new(),
                    };
                    row.hash = row.expected_hash();
                    prev.clone_from(&row.hash);
                    out.push(row);
                }
                for chunk in out.chunks($crate::sql::EGRESS_ROWS_PER_STATEMENT) {
                    let sql = $crate::sql::insert_egress_rows(
                        chunk.len(),
                        $crate::sql::Params::of($name),
                    );
                    let mut q = sqlx::query(&sql);
                    for row in chunk {
                        let e = &row.entry;
                        q = q
                            .bind(row.seq)
                            .bind(row.at)
                            .bind(e.peer.as_str())
                            .bind(e.object_id.as_str())
                            .bind(e.version_key.as_str())
                            .bind(e.content_hash.as_str())
                            .bind(e.agreement_id.as_str())
                            .bind(e.agreement_version)
                            .bind(e.action.as_str())
                            .bind(e.detail.as_str())
                            .bind(row.prev_hash.as_str())
                            .bind(row.hash.as_str());
                    }
                    q.execute(&mut *tx).await?;
                }
                // Which rows concern which object, in batches (see the constant).
                let through: i64 = sqlx::query_scalar($crate::sql::EGRESS_BY_OBJECT_THROUGH)
                    .fetch_one(&mut *tx)
                    .await?;
                if seq - through >= $crate::sql::EGRESS_BY_OBJECT_BATCH {
                    sqlx::query($crate::sql::INDEX_EGRESS_BY_OBJECT)
                        .bind(through)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query($crate::sql::SET_EGRESS_BY_OBJECT_THROUGH)
                        .bind(seq)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(out)
            }

            async fn egress_after(
                &self,
                after_seq: i64,
                peer: Option<&str>,
                limit: usize,
            ) -> $crate::Result<Vec<$crate::EgressRow>> {
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let rows = match peer {
                    Some(peer) => {
                        sqlx::query($crate::sql::EGRESS_AFTER_PEER)
                            .bind(peer)
                            .bind(after_seq)
                            .bind(limit)
                            .fetch_all(self.reader())
                            .await?
                    }
                    None => {
                        sqlx::query($crate::sql::EGRESS_AFTER)
                            .bind(after_seq)
                            .bind(limit)
                            .fetch_all(self.reader())
                            .await?
                    }
                };
                rows.iter().map(row_egress).collect()
            }

            async fn egress_of_objects(
                &self,
                object_ids: &[String],
            ) -> $crate::Result<Vec<$crate::EgressRow>> {
                let mut ids: Vec<&String> = object_ids.iter().collect();
                ids.sort_unstable();
                ids.dedup();
                let ids: Vec<String> = ids.into_iter().cloned().collect();
                let mut out = Vec::new();
                for chunk in ids.chunks($crate::sql::META_IDS_PER_STATEMENT) {
                    let built = $crate::sql::select_egress_of(chunk);
                    let rows = bind_built(sqlx::query(&built.sql), &built.args)
                        .fetch_all(self.reader())
                        .await?;
                    for r in &rows {
                        out.push(row_egress(r)?);
                    }
                }
                out.sort_by_key(|r| r.seq);
                Ok(out)
            }
        }
    };
}

pub(crate) use impl_store;

/// Expands to `impl WriteTx for $wtx`: the operations that run the shared SQL (the
/// `*_in` functions `impl_store!` defines) in the open transaction `self.tx`, then the
/// backend's own items (`holds_status`, `commit`, `rollback`).
macro_rules! impl_write_tx {
    ($wtx:ident, rows_per_statement: $rows:expr, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::WriteTx for $wtx {
            async fn insert(
                &mut self,
                objects: &[$crate::NewObject],
                collections: &[$crate::CollectionId],
            ) -> $crate::Result<Vec<$crate::InsertOutcome>> {
                $crate::insert::insert_batch(self, objects, collections, $rows).await
            }

            async fn put_meta(&mut self, rows: &[$crate::MetaRow]) -> $crate::Result<()> {
                put_meta_in(&mut self.tx, rows).await
            }

            async fn put_status(&mut self, status: &$crate::StatusRecord) -> $crate::Result<()> {
                put_status_in(&mut self.tx, status).await
            }

            async fn record_hits(
                &mut self,
                hits: &[$crate::HitRow],
                now_micros: i64,
                max_scos: usize,
            ) -> $crate::Result<$crate::HitOutcome> {
                record_hits_in(&mut self.tx, hits, now_micros, max_scos).await
            }

            async fn put_record(
                &mut self,
                record: &$crate::RecordRow,
                feed: Option<&str>,
            ) -> $crate::Result<Option<i64>> {
                put_record_in(&mut self.tx, record, feed).await
            }

            async fn get_record(
                &mut self,
                kind: &str,
                id: &str,
            ) -> $crate::Result<Option<$crate::RecordRow>> {
                get_record_in(&mut self.tx, kind, id).await
            }

            async fn set_state(&mut self, key: &str, value: &str) -> $crate::Result<()> {
                set_state_in(&mut self.tx, key, value).await
            }

            async fn get_records(
                &mut self,
                kind: &str,
                ids: &[&str],
            ) -> $crate::Result<Vec<$crate::RecordRow>> {
                get_records_in(&mut self.tx, kind, ids).await
            }

            async fn put_records(
                &mut self,
                records: &[$crate::RecordRow],
                feed: Option<&str>,
            ) -> $crate::Result<Option<i64>> {
                put_records_in(&mut self.tx, records, feed).await
            }

            $($own)*
        }
    };
}

pub(crate) use impl_write_tx;
