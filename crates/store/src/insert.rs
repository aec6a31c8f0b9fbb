//! The insert algorithm shared by both backends. A backend supplies the few
//! statements it runs ([`InsertOps`]); the bookkeeping (deduplication inside a batch,
//! cursor and `date_added` assignment, duplicate / conflict / new-membership
//! outcomes) lives here once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use hashbrown::HashMap;

use crate::{CollectionId, InsertOutcome, NewObject, Result, StoreError};

/// Once this many object rows have been committed (by one transaction or many) since
/// the last refresh, and at least a fifth of the rows the last refresh saw, the planner
/// statistics of the object tables are refreshed (both backends). Without them, queries
/// after a load are planned against empty-table statistics. PostgreSQL planned the
/// "latest version" anti-join as a hash anti-join over the whole collection for every
/// page (measured: a 100,000-object walk loaded by 1,000-object POSTs ran past 10
/// minutes; with statistics, 7 ms a page); SQLite drove a single-object GET from the
/// collection index instead of the id index (353 ms instead of 0.15 ms at 100,000
/// objects). Autovacuum may be off or late, so the store does not rely on it.
pub(crate) const ANALYZE_AFTER_ROWS: u64 = 10_000;

/// When to refresh the planner statistics of the object tables (see
/// [`AnalyzeState::after_commit`]).
#[derive(Debug, Default)]
pub(crate) struct AnalyzeState {
    /// Object rows committed since the last ANALYZE was started.
    pub since: AtomicU64,
    /// Object rows committed up to the last ANALYZE (by this process).
    pub at_last: AtomicU64,
    /// An ANALYZE is running.
    pub running: AtomicBool,
}

impl AnalyzeState {
    /// Counts `written` committed object rows; true when the statistics should be
    /// refreshed now: at least [`ANALYZE_AFTER_ROWS`] rows, and at least a fifth of what
    /// the last refresh saw, were committed since it (so a steady stream of small
    /// transactions, such as TAXII POSTs of 1,000 objects, refreshes them as the
    /// tables grow, geometrically less often), and no refresh is running.
    pub(crate) fn after_commit(&self, written: u64) -> bool {
        let since = self.since.fetch_add(written, Ordering::AcqRel) + written;
        let at_last = self.at_last.load(Ordering::Acquire);
        if since < ANALYZE_AFTER_ROWS.max(at_last / 5) {
            return false;
        }
        if self.running.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.since.fetch_sub(since, Ordering::AcqRel);
        self.at_last.store(at_last + since, Ordering::Release);
        true
    }
}

/// One object version row to insert.
#[derive(Debug)]
pub(crate) struct ObjectRow<'a> {
    pub obj: &'a NewObject,
    pub cursor: i64,
    pub date_added: i64,
}

/// One collection membership row to insert.
#[derive(Debug)]
pub(crate) struct MemberRow<'a> {
    pub cursor: i64,
    pub collection: &'a str,
    pub object_cursor: i64,
    pub date_added: i64,
}

/// A stored version found for an (id, version_key).
#[derive(Debug)]
pub(crate) struct Existing {
    pub id: String,
    pub version_key: String,
    pub cursor: i64,
    pub content_hash: String,
}

/// Last values handed out by the clock (see `sql::alloc_clock`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClockTop {
    pub object_cursor: i64,
    pub member_cursor: i64,
    pub date_added: i64,
}

/// The statements a backend runs inside its write transaction.
#[async_trait]
pub(crate) trait InsertOps: Send {
    /// The first of `ids` that names no collection, if any.
    async fn missing_collection(&mut self, ids: &[CollectionId]) -> Result<Option<String>>;
    /// Allocates counters; see `sql::alloc_clock`.
    async fn alloc(&mut self, objects: i64, members: i64, dates: i64, now: i64)
        -> Result<ClockTop>;
    /// Inserts rows, skipping (id, version_key) pairs already stored; returns how many
    /// rows were written.
    async fn insert_objects(&mut self, rows: &[ObjectRow<'_>]) -> Result<u64>;
    /// The stored rows among these (id, version_key) pairs (not every version of the
    /// ids: an object with many versions, such as a sighting updated per batch, costs
    /// only the versions asked for).
    async fn lookup_objects(&mut self, keys: &[(&str, &str)]) -> Result<Vec<Existing>>;
    /// Existing memberships (collection id, object cursor) of these object cursors.
    async fn lookup_members(&mut self, object_cursors: &[i64]) -> Result<Vec<(String, i64)>>;
    async fn insert_members(&mut self, rows: &[MemberRow<'_>]) -> Result<u64>;
}

/// What became of one distinct (id, version_key) of the batch.
#[derive(Debug)]
enum Fate {
    New { cursor: i64 },
    Same { cursor: i64 },
    Differs { existing_hash: String },
}

fn check_object(i: usize, o: &NewObject) -> Result<()> {
    let bad = |what: &str| {
        Err(StoreError::InvalidArgument(format!(
            "object {i} ({:?}) of the batch: {what}",
            o.id
        )))
    };
    if o.id.is_empty() {
        return bad("empty id");
    }
    if o.type_name.is_empty() {
        return bad("empty type");
    }
    if o.json.is_empty() {
        return bad("empty JSON text");
    }
    if o.content_hash.is_empty() {
        return bad("empty content hash");
    }
    Ok(())
}

/// Inserts `objects` into the store and each of `collections`; see
/// [`crate::WriteTx::insert`] and [`InsertOutcome`].
pub(crate) async fn insert_batch<T: InsertOps + ?Sized>(
    ops: &mut T,
    objects: &[NewObject],
    collections: &[CollectionId],
    chunk: usize,
) -> Result<Vec<InsertOutcome>> {
    if objects.is_empty() {
        return Ok(Vec::new());
    }
    for (i, o) in objects.iter().enumerate() {
        check_object(i, o)?;
    }
    let mut colls: Vec<&CollectionId> = Vec::with_capacity(collections.len());
    for c in collections {
        if !colls.contains(&c) {
            colls.push(c);
        }
    }
    if !colls.is_empty() {
        let owned: Vec<CollectionId> = colls.iter().map(|c| (*c).clone()).collect();
        if let Some(missing) = ops.missing_collection(&owned).await? {
            return Err(StoreError::NotFound {
                kind: "collection",
                id: missing,
            });
        }
    }

    // Distinct (id, version_key) pairs, first occurrence wins.
    let mut first_of: Vec<usize> = Vec::with_capacity(objects.len());
    let mut unique: Vec<usize> = Vec::with_capacity(objects.len());
    {
        let mut seen: HashMap<(&str, &str), usize> = HashMap::with_capacity(objects.len());
        for (i, o) in objects.iter().enumerate() {
            let slot = *seen
                .entry((o.id.as_str(), o.version_key.as_str()))
                .or_insert_with(|| {
                    unique.push(i);
                    unique.len() - 1
                });
            first_of.push(slot);
        }
    }

    let n = i64::try_from(unique.len())
        .map_err(|_| StoreError::InvalidArgument("batch too large".into()))?;
    let nc = i64::try_from(colls.len())
        .map_err(|_| StoreError::InvalidArgument("too many collections".into()))?;
    let now = stix::Timestamp::now_unix_micros();
    let top = ops.alloc(n, n * nc, n, now).await?;
    let cursor0 = top.object_cursor - n + 1;
    let member0 = top.member_cursor - n * nc + 1;
    let date0 = top.date_added - n + 1;

    // Insert the object rows; find out which were already stored.
    let rows: Vec<ObjectRow<'_>> = unique
        .iter()
        .enumerate()
        .map(|(j, &i)| ObjectRow {
            obj: &objects[i],
            cursor: cursor0 + j as i64,
            date_added: date0 + j as i64,
        })
        .collect();
    let mut fates: Vec<Fate> = Vec::with_capacity(rows.len());
    for part in rows.chunks(chunk.max(1)) {
        let written = ops.insert_objects(part).await?;
        if written == part.len() as u64 {
            fates.extend(part.iter().map(|r| Fate::New { cursor: r.cursor }));
            continue;
        }
        let mut keys: Vec<(&str, &str)> = part
            .iter()
            .map(|r| (r.obj.id.as_str(), r.obj.version_key.as_str()))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let mut stored: HashMap<(String, String), (i64, String)> = HashMap::new();
        // Two parameters per key.
        for key_part in keys.chunks((chunk / 2).max(1)) {
            for e in ops.lookup_objects(key_part).await? {
                stored.insert((e.id, e.version_key), (e.cursor, e.content_hash));
            }
        }
        for r in part {
            let key = (r.obj.id.clone(), r.obj.version_key.clone());
            let fate = match stored.get(&key) {
                Some((cursor, _)) if *cursor == r.cursor => Fate::New { cursor: r.cursor },
                Some((cursor, hash)) if *hash == r.obj.content_hash => {
                    Fate::Same { cursor: *cursor }
                }
                Some((_, hash)) => Fate::Differs {
                    existing_hash: hash.clone(),
                },
                None => {
                    return Err(StoreError::Corrupt(format!(
                        "object {:?} version {:?} was neither inserted nor found",
                        r.obj.id, r.obj.version_key
                    )))
                }
            };
            fates.push(fate);
        }
    }

    // Collection memberships. A version stored just now is in no collection yet; an
    // existing one may already be in some of them.
    let mut member_first: Vec<Option<i64>> = vec![None; unique.len()];
    if !colls.is_empty() {
        let same: Vec<i64> = fates
            .iter()
            .filter_map(|f| match f {
                Fate::Same { cursor } => Some(*cursor),
                _ => None,
            })
            .collect();
        let mut present: hashbrown::HashSet<(String, i64)> = hashbrown::HashSet::new();
        for part in same.chunks(chunk.max(1)) {
            present.extend(ops.lookup_members(part).await?);
        }
        let mut members: Vec<MemberRow<'_>> = Vec::with_capacity(unique.len() * colls.len());
        let mut planned: hashbrown::HashSet<(&str, i64)> = hashbrown::HashSet::new();
        for (j, fate) in fates.iter().enumerate() {
            let (object_cursor, is_new) = match fate {
                Fate::New { cursor } => (*cursor, true),
                Fate::Same { cursor } => (*cursor, false),
                Fate::Differs { .. } => continue,
            };
            for (k, c) in colls.iter().enumerate() {
                let key_present = !is_new && present.contains(&(c.0.clone(), object_cursor));
                if key_present || !planned.insert((c.as_str(), object_cursor)) {
                    continue;
                }
                let cursor = member0 + j as i64 * nc + k as i64;
                if member_first[j].is_none() {
                    member_first[j] = Some(cursor);
                }
                members.push(MemberRow {
                    cursor,
                    collection: c.as_str(),
                    object_cursor,
                    date_added: date0 + j as i64,
                });
            }
        }
        for part in members.chunks(chunk.max(1)) {
            let written = ops.insert_members(part).await?;
            if written != part.len() as u64 {
                return Err(StoreError::Corrupt(format!(
                    "{} of {} collection memberships were written",
                    written,
                    part.len()
                )));
            }
        }
    }

    // One outcome per input object.
    let mut out = Vec::with_capacity(objects.len());
    for (i, o) in objects.iter().enumerate() {
        let j = first_of[i];
        let date_added = date0 + j as i64;
        let outcome = if unique[j] != i {
            // A repeat inside this batch: compare with what the first occurrence left.
            match &fates[j] {
                Fate::Differs { existing_hash } if *existing_hash == o.content_hash => {
                    InsertOutcome::Duplicate
                }
                Fate::Differs { existing_hash } => InsertOutcome::Conflict {
                    existing_hash: existing_hash.clone(),
                },
                _ => {
                    let first = &objects[unique[j]];
                    if first.content_hash == o.content_hash {
                        InsertOutcome::Duplicate
                    } else {
                        InsertOutcome::Conflict {
                            existing_hash: first.content_hash.clone(),
                        }
                    }
                }
            }
        } else {
            match &fates[j] {
                Fate::New { cursor } => InsertOutcome::Inserted {
                    added: *cursor,
                    date_added,
                },
                Fate::Same { .. } => match member_first[j] {
                    Some(added) => InsertOutcome::Inserted { added, date_added },
                    None => InsertOutcome::Duplicate,
                },
                Fate::Differs { existing_hash } => InsertOutcome::Conflict {
                    existing_hash: existing_hash.clone(),
                },
            }
        };
        out.push(outcome);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_refresh_as_the_tables_grow() {
        let a = AnalyzeState::default();
        // 1,000-row commits: the first refresh after 10,000 rows.
        let fired = (1..=200u64)
            .filter(|_| {
                let go = a.after_commit(1000);
                if go {
                    a.running.store(false, Ordering::Release);
                }
                go
            })
            .count();
        let at = a.at_last.load(Ordering::Acquire);
        // 10k, 20k, ... 50k, then every fifth more: 60k, 72k, 87k, 105k, 126k, 152k, 183k.
        assert_eq!(fired, 12, "refreshes over 200,000 rows");
        assert_eq!(at, 183_000);
        // No second refresh while one runs.
        let b = AnalyzeState::default();
        assert!(b.after_commit(10_000));
        assert!(!b.after_commit(50_000));
        b.running.store(false, Ordering::Release);
        assert!(b.after_commit(1));
        assert_eq!(b.at_last.load(Ordering::Acquire), 60_001);
    }
}
