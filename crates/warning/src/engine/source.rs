//! File and stream sources: newline-delimited JSON read in batches.
//!
//! - A **file** is read once or followed like `tail -F`: when the path is renamed away
//!   and a new file appears (log rotation) the old file is read to its end and the new
//!   one from its start; a truncated file is read again from the start. The read
//!   position (device, inode, offset of the first byte not yet processed) is
//!   checkpointed in the store after every processed batch, so a restart neither
//!   re-reads nor skips. Event ids are `file:{path}:{inode}:{offset}`; after a
//!   truncation the same inode holds new content at the same offsets, so its events
//!   are `file:{path}:{inode}:{generation}:{offset}` with a new generation, which the
//!   checkpoint keeps so a restart goes on naming them the same way.
//! - **stdin** (or any reader) is read to its end; event ids are
//!   `stdin:{run id}:{offset}`.
//!
//! A line longer than [`super::EngineConfig::max_line_bytes`] is never buffered whole:
//! the framer drops its bytes as they arrive, counts it and keeps a sample of its head.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use std::io::{Read, Seek};

use tokio::io::{AsyncRead, AsyncReadExt};

use super::pipeline::{Batch, BatchReport, EventIds};
use super::{BadSample, Engine, EngineError, Result};
use crate::hit::SourceRef;

/// How much is read per system call.
const CHUNK: usize = 256 << 10;

/// Settings of a file source.
#[derive(Debug, Clone)]
pub struct FileSource {
    pub path: PathBuf,
    /// Keep reading as the file grows and across rotation, until shutdown.
    pub follow: bool,
    /// Bytes of complete lines per batch while catching up (at the end of a followed
    /// file whatever is there is taken at once, so latency does not wait for a full batch).
    pub batch_bytes: usize,
    /// How often a followed file is checked for growth or rotation when it has been
    /// quiet: after new data it is checked again within [`FOLLOW_POLL_MIN`], and the
    /// interval doubles with each empty check up to this.
    pub poll: Duration,
}

/// The shortest interval between checks of a followed file: right after new data, so
/// a burst of events reaches the matcher within ~10 ms, while a quiet file costs one
/// check per [`FileSource::poll`] (measured: event-to-alert p50 33 ms → 14 ms on the
/// file path at 50 events/s, `bench/warning/latency.sh`).
pub const FOLLOW_POLL_MIN: Duration = Duration::from_millis(10);

impl FileSource {
    pub fn new(path: impl Into<PathBuf>, follow: bool) -> Self {
        FileSource {
            path: path.into(),
            follow,
            batch_bytes: 16 << 20,
            poll: Duration::from_millis(50),
        }
    }
}

/// Where a file source is up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub dev: u64,
    pub ino: u64,
    pub offset: u64,
    /// Set once the file was truncated (new content at old offsets): part of the
    /// event ids of everything read since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<String>,
}

/// The event-id prefix of a file's content.
fn file_prefix(path: &Path, ino: u64, generation: Option<&str>) -> String {
    match generation {
        Some(g) => format!("file:{}:{ino}:{g}", path.display()),
        None => format!("file:{}:{ino}", path.display()),
    }
}

/// The state key of a file source's checkpoint.
pub fn checkpoint_key(path: &Path) -> String {
    format!("source.file:{}", path.display())
}

/// Splits bytes into batches of complete lines, skipping over-long lines.
#[derive(Debug)]
pub(crate) struct Framer {
    buf: Vec<u8>,
    /// Source offset of `buf[0]`.
    pos: u64,
    /// Inside an over-long line whose head was already reported.
    skipping: bool,
    max_line: usize,
    /// Complete lines set aside when an over-long line began after them.
    ready: std::collections::VecDeque<(u64, Vec<u8>)>,
    /// A processed batch's buffer, reused for the next one (a file read in 4 MiB
    /// batches then allocates, and faults in, its buffers once).
    spare: Vec<u8>,
}

/// An over-long line the framer dropped.
#[derive(Debug)]
pub(crate) struct Skipped {
    offset: u64,
    head: Vec<u8>,
}

impl Framer {
    pub(crate) fn new(pos: u64, max_line: usize) -> Self {
        Framer {
            buf: Vec::new(),
            pos,
            skipping: false,
            max_line,
            ready: std::collections::VecDeque::new(),
            spare: Vec::new(),
        }
    }

    /// Appends bytes read from the source; returns the over-long line it started
    /// dropping, if any.
    pub(crate) fn push(&mut self, data: &[u8]) -> Option<Skipped> {
        let appended = self.fill(|buf| {
            buf.extend_from_slice(data);
            Ok(data.len())
        });
        appended.ok().and_then(|(_, skipped)| skipped)
    }

    /// Bytes buffered and not yet taken.
    pub(crate) fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Appends what `read` appends to the buffer (reading straight into it, without a
    /// copy); returns the bytes read and the over-long line it started dropping, if any.
    pub(crate) fn fill(
        &mut self,
        read: impl FnOnce(&mut Vec<u8>) -> std::io::Result<usize>,
    ) -> std::io::Result<(usize, Option<Skipped>)> {
        let old = self.buf.len();
        let n = read(&mut self.buf)?;
        if self.skipping {
            // Still inside a dropped line (the buffer was emptied when it began).
            match memchr::memchr(b'\n', &self.buf[old..]) {
                Some(i) => {
                    self.skipping = false;
                    self.pos += i as u64 + 1;
                    self.buf.drain(old..old + i + 1);
                }
                None => {
                    self.pos += (self.buf.len() - old) as u64;
                    self.buf.truncate(old);
                    return Ok((n, None));
                }
            }
        }
        Ok((n, self.check_tail()))
    }

    /// Hands a processed batch's buffer back for reuse.
    pub(crate) fn recycle(&mut self, mut data: Vec<u8>) {
        if data.capacity() > self.spare.capacity() {
            data.clear();
            self.spare = data;
        }
    }

    /// Drops an unfinished line that is already over the limit.
    fn check_tail(&mut self) -> Option<Skipped> {
        // The unfinished tail (after the last newline) may not exceed the limit.
        let tail_start = memchr::memrchr(b'\n', &self.buf).map_or(0, |i| i + 1);
        let tail = self.buf.len() - tail_start;
        if tail <= self.max_line {
            return None;
        }
        if tail_start > 0 {
            self.ready
                .push_back((self.pos, self.buf[..tail_start].to_vec()));
        }
        let head = self.buf[tail_start..tail_start + tail.min(256)].to_vec();
        let offset = self.pos + tail_start as u64;
        self.pos += self.buf.len() as u64;
        self.buf.clear();
        self.skipping = true;
        Some(Skipped { offset, head })
    }

    /// Takes complete lines when there are at least `min_bytes` of them (any, with
    /// `min_bytes == 0`); at the end of the source (`eof`) an unfinished last line is
    /// taken too. Returns (source offset, bytes).
    pub(crate) fn take(&mut self, min_bytes: usize, eof: bool) -> Option<(u64, Vec<u8>)> {
        if let Some(r) = self.ready.pop_front() {
            return Some(r);
        }
        let end = if eof && !self.skipping {
            self.buf.len()
        } else {
            memchr::memrchr(b'\n', &self.buf).map_or(0, |i| i + 1)
        };
        if end == 0 || end < min_bytes {
            return None;
        }
        // The unfinished rest moves to the spare buffer, which becomes the buffer.
        let mut rest = std::mem::take(&mut self.spare);
        rest.clear();
        rest.extend_from_slice(&self.buf[end..]);
        self.buf.truncate(end);
        let data = std::mem::replace(&mut self.buf, rest);
        let base = self.pos;
        self.pos += end as u64;
        Some((base, data))
    }

    /// Offset of the first byte not yet taken.
    pub(crate) fn position(&self) -> u64 {
        self.ready.front().map_or(self.pos, |r| r.0)
    }
}

impl Engine {
    /// Processes lines read from a byte stream at offset `base` (event ids
    /// `{prefix}:{offset}`).
    async fn process_at(
        self: &Arc<Self>,
        source: &SourceRef,
        prefix: &str,
        base: u64,
        data: Vec<u8>,
    ) -> Result<BatchReport> {
        self.process(Batch {
            source: source.clone(),
            data,
            ids: EventIds::Offsets {
                prefix: prefix.to_owned(),
                base,
            },
        })
        .await
    }

    /// Counts an over-long line the framer dropped, in the engine's counters and in
    /// the run's report `total`, and keeps a sample of it.
    fn note_skipped(&self, source: &SourceRef, prefix: &str, s: Skipped, total: &mut BatchReport) {
        total.events += 1;
        total.bad += 1;
        self.stats.events.fetch_add(1, Ordering::Relaxed);
        self.stats.bad.fetch_add(1, Ordering::Relaxed);
        self.stats.too_long.fetch_add(1, Ordering::Relaxed);
        self.sample_bad(BadSample {
            event_id: format!("{prefix}:{}", s.offset),
            reason: format!(
                "event over the {}-byte limit from {}; skipped to its end",
                self.cfg.max_line_bytes, source.name
            ),
            head: String::from_utf8_lossy(&s.head).into_owned(),
            len: self.cfg.max_line_bytes as u64 + 1,
            at: store::now_micros(),
        });
    }

    /// Reads `reader` to its end (stdin, a pipe), processing batches as they fill.
    /// `progress` sees the cumulative report and bytes read after every batch.
    pub async fn run_reader<R: AsyncRead + Unpin>(
        self: &Arc<Self>,
        mut reader: R,
        source: SourceRef,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
        mut progress: impl FnMut(&BatchReport, u64),
    ) -> Result<BatchReport> {
        let prefix = format!("{}:{}", source.kind, uuid::Uuid::now_v7());
        let mut framer = Framer::new(0, self.cfg.max_line_bytes);
        let mut total = BatchReport::default();
        let mut chunk = vec![0u8; CHUNK];
        let mut read = 0u64;
        loop {
            let n = tokio::select! {
                n = reader.read(&mut chunk) => n.map_err(|e| EngineError::Io { path: source.name.clone(), source: e })?,
                _ = shutdown.changed() => 0,
            };
            let eof = n == 0;
            read += n as u64;
            if let Some(s) = framer.push(&chunk[..n]) {
                self.note_skipped(&source, &prefix, s, &mut total);
            }
            let min = if eof { 0 } else { 1 << 20 };
            while let Some((base, data)) = framer.take(min, eof) {
                let r = self.process_at(&source, &prefix, base, data).await?;
                add(&mut total, &r);
                progress(&total, read);
            }
            if eof || *shutdown.borrow() {
                return Ok(total);
            }
        }
    }

    /// Reads (and with `follow`, keeps reading) a file; see the module docs.
    ///
    /// The file is read on a blocking thread straight into the framer's buffer, up to
    /// a batch at a time (one hand-off per batch, no copy); each batch's checkpoint is
    /// committed in the transaction that records the batch.
    pub async fn run_file(
        self: &Arc<Self>,
        src: FileSource,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
        mut progress: impl FnMut(&BatchReport, u64),
    ) -> Result<BatchReport> {
        let io = |e: std::io::Error| EngineError::Io {
            path: src.path.display().to_string(),
            source: e,
        };
        let path = std::path::absolute(&src.path).map_err(io)?;
        let key = checkpoint_key(&path);
        let source = SourceRef {
            kind: "file".into(),
            name: path.display().to_string(),
        };
        let saved: Option<Checkpoint> = match self.store.get_state(&key).await? {
            Some(t) => serde_json::from_str(&t).ok(),
            None => None,
        };
        let mut total = BatchReport::default();
        let Some((mut file, mut cur, len)) = open_retry(&path, src.follow, &mut shutdown)
            .await
            .map_err(io)?
        else {
            return Ok(total);
        };
        let mut start = 0u64;
        let mut generation = None;
        if let Some(cp) = saved {
            if (cp.dev, cp.ino) == cur {
                if cp.offset <= len {
                    start = cp.offset;
                    generation = cp.generation;
                } else {
                    // Truncated while not watched: new content at old offsets.
                    generation = Some(uuid::Uuid::now_v7().to_string());
                }
            }
        }
        file = blocking(move || {
            let mut f = file;
            f.seek(std::io::SeekFrom::Start(start)).map(|_| f)
        })
        .await
        .map_err(io)?;
        let mut framer = Framer::new(start, self.cfg.max_line_bytes);
        let mut prefix = file_prefix(&path, cur.1, generation.as_deref());
        let fastest = FOLLOW_POLL_MIN.min(src.poll);
        let mut wait = fastest;
        let batch_bytes = src.batch_bytes.max(1);
        loop {
            // Top the buffer up to a batch (less at the end of the file).
            let want = batch_bytes.saturating_sub(framer.buffered()).max(CHUNK);
            let (f, fr, read) = blocking(move || {
                let (mut f, mut fr) = (file, framer);
                let read = fr.fill(|buf| read_up_to(&mut f, buf, want));
                Ok((f, fr, read))
            })
            .await
            .map_err(io)?;
            (file, framer) = (f, fr);
            let (n, skipped) = read.map_err(io)?;
            if n > 0 {
                wait = fastest;
            }
            if let Some(s) = skipped {
                self.note_skipped(&source, &prefix, s, &mut total);
            }
            let at_eof = n < want;
            let final_eof = at_eof && !src.follow;
            // While catching up, batches are about `batch_bytes` (complete lines of a
            // full buffer); at the end of the file whatever is there goes at once.
            let min = if at_eof { 0 } else { batch_bytes / 2 };
            while let Some((base, data)) = framer.take(min, final_eof) {
                let cp = Checkpoint {
                    dev: cur.0,
                    ino: cur.1,
                    offset: framer.position(),
                    generation: generation.clone(),
                };
                let r = self
                    .process_file_batch(&source, &prefix, base, data, &key, &cp, &mut framer)
                    .await?;
                add(&mut total, &r);
                progress(&total, framer.position());
            }
            if !at_eof {
                if *shutdown.borrow() {
                    return Ok(total);
                }
                continue;
            }
            if final_eof {
                let cp = Checkpoint {
                    dev: cur.0,
                    ino: cur.1,
                    offset: framer.position(),
                    generation: generation.clone(),
                };
                self.save_checkpoint(&key, &cp).await?;
                return Ok(total);
            }
            // Following: rotated, truncated, or just no new data yet?
            match tokio::fs::metadata(&path).await {
                Ok(m) if (m.dev(), m.ino()) != cur => {
                    // Rotated: the old file is read to its end (an unfinished last line
                    // included); continue with the new one from its start.
                    while let Some((base, data)) = framer.take(0, true) {
                        let r = self.process_at(&source, &prefix, base, data).await?;
                        add(&mut total, &r);
                    }
                    let Some((f, id, _)) =
                        open_retry(&path, true, &mut shutdown).await.map_err(io)?
                    else {
                        return Ok(total);
                    };
                    file = f;
                    cur = id;
                    generation = None;
                    prefix = file_prefix(&path, cur.1, None);
                    framer = Framer::new(0, self.cfg.max_line_bytes);
                    tracing::info!(path = %path.display(), "followed file rotated; reading the new file");
                    continue;
                }
                Ok(m) if m.len() < framer.position() => {
                    tracing::info!(path = %path.display(), "followed file truncated; reading from the start");
                    file = blocking(move || {
                        let mut f = file;
                        f.seek(std::io::SeekFrom::Start(0)).map(|_| f)
                    })
                    .await
                    .map_err(io)?;
                    framer = Framer::new(0, self.cfg.max_line_bytes);
                    // Same inode, new content: new event ids.
                    generation = Some(uuid::Uuid::now_v7().to_string());
                    prefix = file_prefix(&path, cur.1, generation.as_deref());
                    continue;
                }
                _ => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
            wait = (wait * 2).min(src.poll);
            if *shutdown.borrow() {
                return Ok(total);
            }
        }
    }

    /// One batch of a file: scanned on a blocking thread, recorded with the file's
    /// checkpoint in one transaction; the batch's buffer goes back to the framer.
    #[allow(clippy::too_many_arguments)]
    async fn process_file_batch(
        self: &Arc<Self>,
        source: &SourceRef,
        prefix: &str,
        base: u64,
        data: Vec<u8>,
        key: &str,
        cp: &Checkpoint,
        framer: &mut Framer,
    ) -> Result<BatchReport> {
        let text = serde_json::to_string(cp).map_err(|e| EngineError::Corrupt {
            kind: "checkpoint",
            id: key.to_owned(),
            reason: e.to_string(),
        })?;
        let bytes = data.len() as u64;
        let batch = Batch {
            source: source.clone(),
            data,
            ids: EventIds::Offsets {
                prefix: prefix.to_owned(),
                base,
            },
        };
        let engine = self.clone();
        let (scanned, data) = tokio::task::spawn_blocking(move || {
            let scanned = engine.scan(&batch);
            (scanned, batch.data)
        })
        .await
        .map_err(|e| EngineError::Index(format!("scan thread failed: {e}")))?;
        framer.recycle(data);
        self.record(scanned, bytes, source, Some((key, &text)))
            .await
    }

    async fn save_checkpoint(&self, key: &str, cp: &Checkpoint) -> Result<()> {
        let text = serde_json::to_string(cp).map_err(|e| EngineError::Corrupt {
            kind: "checkpoint",
            id: key.to_owned(),
            reason: e.to_string(),
        })?;
        self.store.set_state(key, &text).await?;
        Ok(())
    }
}

/// Runs blocking file work on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(std::io::Error::other)?
}

/// Appends up to `want` bytes from `f` to `buf` (fewer only at the end of the file),
/// reading into the vector's spare capacity.
fn read_up_to(f: &mut std::fs::File, buf: &mut Vec<u8>, want: usize) -> std::io::Result<usize> {
    buf.reserve(want);
    // Bounded by `take`: at most `want` bytes, whatever the file holds.
    #[allow(clippy::disallowed_methods)]
    let n = f.take(want as u64).read_to_end(buf)?;
    Ok(n)
}

/// An open file, its (device, inode) and its length.
type Opened = (std::fs::File, (u64, u64), u64);

/// Opens `path`; when following and it does not exist (yet), waits for it.
async fn open_retry(
    path: &Path,
    follow: bool,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<Option<Opened>> {
    loop {
        let p = path.to_owned();
        let opened = blocking(move || {
            let f = std::fs::File::open(&p)?;
            let m = f.metadata()?;
            Ok((f, (m.dev(), m.ino()), m.len()))
        })
        .await;
        match opened {
            Ok(o) => return Ok(Some(o)),
            Err(e) if follow && e.kind() == std::io::ErrorKind::NotFound => {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                    _ = shutdown.changed() => {}
                }
                if *shutdown.borrow() {
                    return Ok(None);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Adds `r` into `total`.
pub fn add(total: &mut BatchReport, r: &BatchReport) {
    total.events += r.events;
    total.pattern_matches += r.pattern_matches;
    total.bad += r.bad;
    total.hits += r.hits;
    total.counted += r.counted;
    total.duplicates += r.duplicates;
    total.late += r.late;
    total.sightings += r.sightings;
    total.alerts += r.alerts;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(f: &mut Framer, eof: bool) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        while let Some((base, data)) = f.take(0, eof) {
            out.push((base, String::from_utf8(data).unwrap()));
        }
        out
    }

    #[test]
    fn checkpoint_generation_is_optional_and_names_events() {
        let old: Checkpoint = serde_json::from_str(r#"{"dev":1,"ino":2,"offset":3}"#).unwrap();
        assert_eq!(old.generation, None);
        assert_eq!(
            serde_json::to_string(&old).unwrap(),
            r#"{"dev":1,"ino":2,"offset":3}"#
        );
        let path = Path::new("/var/log/eve.json");
        assert_eq!(file_prefix(path, 2, None), "file:/var/log/eve.json:2");
        let cp = Checkpoint {
            generation: Some("g1".into()),
            ..old
        };
        let back: Checkpoint = serde_json::from_str(&serde_json::to_string(&cp).unwrap()).unwrap();
        assert_eq!(back, cp);
        assert_eq!(
            file_prefix(path, 2, back.generation.as_deref()),
            "file:/var/log/eve.json:2:g1"
        );
    }

    #[test]
    fn framer_keeps_partial_lines_until_complete() {
        let mut f = Framer::new(100, 64);
        assert!(f.push(b"{\"a\":1}\n{\"b\"").is_none());
        assert_eq!(lines(&mut f, false), vec![(100, "{\"a\":1}\n".to_owned())]);
        assert_eq!(f.position(), 108);
        assert!(f.push(b":2}\n").is_none());
        assert_eq!(lines(&mut f, false), vec![(108, "{\"b\":2}\n".to_owned())]);
        // An unfinished last line is taken only at the end of the source.
        f.push(b"{\"c\":3}");
        assert!(lines(&mut f, false).is_empty());
        assert_eq!(lines(&mut f, true), vec![(116, "{\"c\":3}".to_owned())]);
        assert_eq!(f.position(), 123);
    }

    #[test]
    fn framer_drops_overlong_lines_without_buffering_them() {
        let mut f = Framer::new(0, 10);
        assert!(f.push(b"{\"ok\":1}\n").is_none());
        let s = f.push(b"0123456789ABCDEF").expect("over the limit");
        assert_eq!(s.offset, 9);
        // The rest of the long line arrives: dropped as it comes.
        assert!(f.push(&[b'x'; 1000]).is_none());
        assert!(f.buf.len() <= 10, "buffer holds {} bytes", f.buf.len());
        assert!(f.push(b"yy\n{\"n\":2}\n").is_none());
        let got = lines(&mut f, false);
        assert_eq!(got[0], (0, "{\"ok\":1}\n".to_owned()));
        // The next good line is at its true offset.
        assert_eq!(got[1], (9 + 16 + 1000 + 3, "{\"n\":2}\n".to_owned()));
        assert_eq!(f.position(), 9 + 16 + 1000 + 3 + 8);
        assert!(f.ready.is_empty());
    }
}
