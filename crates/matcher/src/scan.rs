//! The event scanner: walks one JSON event's bytes, follows only the keys a
//! [`FieldMap`] names, looks their values up in an [`Index`] and pushes [`Hit`]s to a
//! [`Sink`].
//!
//! It is a purpose-built scanner, not a general JSON parser: values under keys nobody
//! asked for are skipped (strings with `memchr`), strings are unescaped only when they
//! contain a backslash and then into a buffer the scanner reuses, and nothing is
//! allocated per event once the scanner's buffers are warm. It checks the structure of
//! the whole event (balanced and matching brackets, string termination, a single
//! top-level object, nesting at most [`MAX_DEPTH`]) and the escapes and UTF-8 of every
//! string it extracts; it does not check the digits of numbers it skips, nor UTF-8 of
//! strings it skips.

use crate::fields::{FieldMap, Role};
use crate::index::{LookupScratch, Match};
use crate::layers::Layers;
use crate::time::{parse_epoch_seconds, parse_event_time_cached, HourCache};
use crate::{Index, KindMask, MatchVia, ObservableKind, ValueKind};
use memchr::memchr2;
use std::sync::Arc;

/// Deepest bracket nesting accepted in an event.
pub const MAX_DEPTH: usize = 128;

/// One hit: a value in an event that matched one or more indicators.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'a> {
    /// The index that matched (to resolve indicator numbers).
    pub index: &'a Index,
    /// Numbers of the matching indicators.
    pub indicators: &'a [u32],
    /// The observable kind.
    pub kind: ObservableKind,
    /// How it matched.
    pub via: MatchVia,
    /// The value as it appeared in the event (unescaped).
    pub value: &'a str,
    /// The value after normalisation.
    pub normalized: &'a str,
    /// The field path it came from (a mapped path, or `host+path` for a composed URL).
    pub field: &'a str,
}

impl<'a> Hit<'a> {
    /// The ids of the matching indicators.
    pub fn indicator_ids(&self) -> impl Iterator<Item = &'a str> + 'a {
        let index = self.index;
        self.indicators
            .iter()
            .filter_map(move |&no| index.indicator_id(no))
    }
}

/// One mapped value of an event that was looked up, hit or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed<'a> {
    /// The observable kind the value was read as.
    pub kind: ObservableKind,
    /// The value as it appeared in the event (unescaped); for a composed HTTP URL, the
    /// composed `http://host[:port]path`.
    pub value: &'a str,
    /// The value after normalisation (see the crate's README); for IP addresses the
    /// canonical text of the address.
    pub normalized: &'a str,
    /// The field path it came from (a mapped path, or `host+path` for a composed URL).
    pub field: &'a str,
}

/// Receives hits and observed values. Both are delivered when the whole event has been
/// scanned and found well-formed, so a malformed event never produces either. Delivery
/// is in event order: for each looked-up value, [`Sink::observed`] first, then a
/// [`Sink::hit`] for each structure it matched (a composed HTTP URL comes last, after
/// the event's other values).
pub trait Sink {
    /// Called once per (value, matching structure) with every indicator that matched.
    fn hit(&mut self, hit: &Hit<'_>);

    /// Called once for every mapped value that was looked up and read as an observable
    /// (including composed HTTP URLs), hit or not. Values that do not read as their
    /// field's kind (an `ip` field holding a word) or are not valid UTF-8 are not
    /// observables and are not reported. The default does nothing.
    fn observed(&mut self, _o: &Observed<'_>) {}
}

impl<F: FnMut(&Hit<'_>)> Sink for F {
    fn hit(&mut self, hit: &Hit<'_>) {
        self(hit)
    }
}

/// What one event held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventSummary {
    /// Mapped values looked up.
    pub values: u32,
    /// Hits pushed to the sink.
    pub hits: u32,
    /// Kinds of the observables seen (for [`Index::general_candidates`]).
    pub kinds: KindMask,
    /// Mapped string values skipped because they were not valid UTF-8.
    pub invalid_utf8: u32,
    /// The event's time in Unix microseconds, from the first field with the
    /// `event-time` role that parses (EVE `timestamp`, Zeek `ts`; see [`crate::time`]).
    /// `None` when there is no such field or none parses.
    pub time_micros: Option<i64>,
    /// Whether an `event-time` field held something that is not a time (a string or
    /// number that does not parse, an object, `true`/`false`); `null` counts as absent.
    pub bad_time: bool,
}

/// Why an event could not be scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset}: {reason}")]
pub struct ScanError {
    /// Byte offset in the event (0-based; add 1 for a column).
    pub offset: usize,
    /// What was wrong.
    pub reason: &'static str,
}

impl ScanError {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        "matcher.scan"
    }
}

fn err<T>(offset: usize, reason: &'static str) -> Result<T, ScanError> {
    Err(ScanError { offset, reason })
}

/// What the scanner looks values up in: one [`Index`], or an index in [`Layers`].
pub trait Lookups {
    /// Normalises `raw` as a value of kind `vk` and calls `f` with every match and the
    /// number of the layer it came from; returns the observable kind and normalised text
    /// ([`Index::lookup_normalized`]).
    fn lookup_normalized<'s>(
        &self,
        vk: ValueKind,
        raw: &'s str,
        scratch: &'s mut LookupScratch,
        f: impl FnMut(usize, Match<'_>),
    ) -> Option<(ObservableKind, &'s str)>;

    /// The index of layer `i` (to resolve a match's indicator numbers).
    fn layer(&self, i: usize) -> &Index;
}

impl Lookups for Index {
    #[inline]
    fn lookup_normalized<'s>(
        &self,
        vk: ValueKind,
        raw: &'s str,
        scratch: &'s mut LookupScratch,
        mut f: impl FnMut(usize, Match<'_>),
    ) -> Option<(ObservableKind, &'s str)> {
        Index::lookup_normalized(self, vk, raw, scratch, |m| f(0, m))
    }

    fn layer(&self, _: usize) -> &Index {
        self
    }
}

impl Lookups for Layers {
    #[inline]
    fn lookup_normalized<'s>(
        &self,
        vk: ValueKind,
        raw: &'s str,
        scratch: &'s mut LookupScratch,
        f: impl FnMut(usize, Match<'_>),
    ) -> Option<(ObservableKind, &'s str)> {
        Layers::lookup_normalized(self, vk, raw, scratch, f)
    }

    fn layer(&self, i: usize) -> &Index {
        self.layers()
            .get(i)
            .or_else(|| self.layers().first())
            .map_or(&EMPTY, |l| l.index())
    }
}

static EMPTY: std::sync::LazyLock<Index> = std::sync::LazyLock::new(Index::default);

/// Scans events against an index. Keep one per thread and reuse it: its buffers are what
/// make the hot path allocation-free.
#[derive(Debug)]
pub struct Scanner {
    map: Arc<FieldMap>,
    unescaped: String,
    key_buf: Vec<u8>,
    scratch: LookupScratch,
    host: String,
    host_field: Option<u16>,
    path: String,
    path_field: Option<u16>,
    port: Option<u16>,
    url_buf: String,
    summary: EventSummary,
    pending: Vec<PendingValue>,
    pending_hits: Vec<PendingHit>,
    pending_ids: Vec<u32>,
    pending_text: String,
    hours: HourCache,
    /// The key last read at each position of each map node's objects
    /// ([`SEEN_POSITIONS`] per node) and where it led: telemetry repeats the same keys in
    /// the same order, so most keys are recognised by one comparison instead of a hashed
    /// probe of the node's children.
    seen: Vec<SeenKey>,
}

/// Positions of an object whose keys are remembered ([`Scanner::seen`]).
const SEEN_POSITIONS: usize = 32;

/// A key of up to 16 bytes, as its first and last 8 bytes (zero-padded when shorter)
/// and its length, which together determine every byte; and the map node it leads to.
#[derive(Debug, Clone, Copy)]
struct SeenKey {
    head: u64,
    tail: u64,
    /// `u32::MAX`: nothing remembered yet.
    len: u32,
    /// `u32::MAX`: the key is not in the map.
    child: u32,
}

impl SeenKey {
    const EMPTY: SeenKey = SeenKey {
        head: 0,
        tail: 0,
        len: u32::MAX,
        child: u32::MAX,
    };

    /// `self` when `b[ks..]` starts with this key followed by a quote and a colon (compact
    /// JSON, as sensors write it), so that the key string starting at `ks - 1` is this key
    /// (a remembered key holds no quote and no backslash, so the quote after it is the
    /// string's end). Reads 16 bytes from `ks` and answers `None` when they are not all
    /// there, leaving the event's last keys, and keys followed by whitespace, to the
    /// search.
    #[inline(always)]
    fn matches_at(&self, b: &[u8], ks: usize) -> Option<&SeenKey> {
        let len = self.len as usize;
        if len > 16 {
            return None;
        }
        let w = b.get(ks..).and_then(|s| s.first_chunk::<16>())?;
        let lo = u64::from_le_bytes(*w.first_chunk::<8>()?);
        let head = if len >= 8 {
            lo
        } else {
            lo & ((1u64 << (8 * len)) - 1)
        };
        let tail = if len > 8 {
            u64::from_le_bytes(*w.get(len - 8..len)?.first_chunk::<8>()?)
        } else {
            0
        };
        (head == self.head && tail == self.tail && b.get(ks + len..ks + len + 2) == Some(b"\":"))
            .then_some(self)
    }
}

/// A looked-up value held until the event is known to be well-formed (ranges into the
/// scanner's reused buffers).
#[derive(Debug, Clone, Copy)]
struct PendingValue {
    vk: ValueKind,
    kind: ObservableKind,
    value: (u32, u32),
    normalized: (u32, u32),
    field: FieldRef,
    hits: (u32, u32),
}

/// A hit of a [`PendingValue`].
#[derive(Debug, Clone, Copy)]
struct PendingHit {
    ids: (u32, u32),
    /// The layer of the index that matched ([`Lookups::layer`]).
    layer: u32,
    kind: ObservableKind,
    via: MatchVia,
    normalized: (u32, u32),
}

struct Ctx<'s, 'i, 'e, L: Lookups + ?Sized, S: Sink + ?Sized> {
    index: &'i L,
    sink: &'s mut S,
    /// The whole event as text when all of it is valid UTF-8 (the usual case): a
    /// string's content is then a slice of it, with no check of its own. `None` when
    /// some byte is not, and each extracted string is checked by itself.
    text: Option<&'e str>,
}

impl Scanner {
    /// A scanner for events described by `map`.
    pub fn new(map: Arc<FieldMap>) -> Self {
        Scanner {
            unescaped: String::with_capacity(256),
            key_buf: Vec::with_capacity(64),
            scratch: LookupScratch::default(),
            host: String::with_capacity(256),
            host_field: None,
            path: String::with_capacity(1024),
            path_field: None,
            port: None,
            url_buf: String::with_capacity(1024),
            summary: EventSummary::default(),
            pending: Vec::with_capacity(16),
            pending_hits: Vec::with_capacity(16),
            pending_ids: Vec::with_capacity(64),
            pending_text: String::with_capacity(1024),
            hours: HourCache::default(),
            seen: vec![SeenKey::EMPTY; map.nodes.len() * SEEN_POSITIONS],
            map,
        }
    }

    /// The field map.
    pub fn field_map(&self) -> &Arc<FieldMap> {
        &self.map
    }

    /// The observables of the last event [`Scanner::scan`] accepted, in the order
    /// [`Sink::observed`] received them (without copying them out): for a caller that
    /// only needs them for some events. Empty after an event that was refused.
    pub fn observed(&self) -> impl Iterator<Item = Observed<'_>> {
        let text = |r: (u32, u32)| {
            self.pending_text
                .get(r.0 as usize..r.1 as usize)
                .unwrap_or("")
        };
        let map = &*self.map;
        self.pending.iter().map(move |p| Observed {
            kind: p.kind,
            value: text(p.value),
            normalized: text(p.normalized),
            field: match p.field {
                FieldRef::Named(no) => map.field_name(no),
                FieldRef::Composite(h, pf) => map.composite_label(h, pf),
            },
        })
    }

    /// Scans one event (a JSON object, surrounding whitespace allowed).
    pub fn scan<L: Lookups + ?Sized, S: Sink + ?Sized>(
        &mut self,
        index: &L,
        event: &[u8],
        sink: &mut S,
    ) -> Result<EventSummary, ScanError> {
        self.summary = EventSummary::default();
        self.pending.clear();
        self.pending_hits.clear();
        self.pending_ids.clear();
        self.pending_text.clear();
        self.host.clear();
        self.path.clear();
        self.host_field = None;
        self.path_field = None;
        self.port = None;
        // One SIMD pass over the whole event costs less than checking each extracted
        // string by itself.
        let text = simdutf8::basic::from_utf8(event).ok();
        let mut ctx = Ctx { index, sink, text };
        let walked = self.walk_event(&mut ctx, event);
        if walked.is_err() {
            self.pending.clear();
        }
        walked?;
        self.compose_url(&mut ctx);
        // The event is well-formed: deliver its values and hits.
        let map = &*self.map;
        let text = |r: (u32, u32)| {
            self.pending_text
                .get(r.0 as usize..r.1 as usize)
                .unwrap_or("")
        };
        for p in &self.pending {
            let value = text(p.value);
            let field = match p.field {
                FieldRef::Named(no) => map.field_name(no),
                FieldRef::Composite(h, pf) => map.composite_label(h, pf),
            };
            ctx.sink.observed(&Observed {
                kind: p.kind,
                value,
                normalized: text(p.normalized),
                field,
            });
            let hits = self
                .pending_hits
                .get(p.hits.0 as usize..p.hits.1 as usize)
                .unwrap_or(&[]);
            for h in hits {
                ctx.sink.hit(&Hit {
                    index: index.layer(h.layer as usize),
                    indicators: self
                        .pending_ids
                        .get(h.ids.0 as usize..h.ids.1 as usize)
                        .unwrap_or(&[]),
                    kind: h.kind,
                    via: h.via,
                    value,
                    normalized: text(h.normalized),
                    field,
                });
            }
        }
        Ok(self.summary)
    }

    /// Walks the whole event (one object, surrounding whitespace allowed).
    fn walk_event<L: Lookups + ?Sized, S: Sink + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, '_, '_, L, S>,
        event: &[u8],
    ) -> Result<(), ScanError> {
        let mut i = skip_ws(event, 0);
        if event.get(i) != Some(&b'{') {
            return err(i, "expected a JSON object");
        }
        i = self.walk_object(ctx, event, i, 0, 1)?;
        i = skip_ws(event, i);
        if i != event.len() {
            return err(i, "unexpected data after the JSON object");
        }
        Ok(())
    }

    fn compose_url<L: Lookups + ?Sized, S: Sink + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, '_, '_, L, S>,
    ) {
        let Some(pf) = self.path_field else { return };
        let path = std::mem::take(&mut self.path);
        let absolute = {
            let p = path.as_bytes();
            p.len() > 8
                && (p[..7].eq_ignore_ascii_case(b"http://")
                    || p[..8].eq_ignore_ascii_case(b"https://"))
        };
        if absolute {
            self.lookup_value(ctx, ValueKind::Url, &path, FieldRef::Named(pf));
        } else if let (Some(hf), true) = (self.host_field, path.starts_with('/')) {
            let mut url = std::mem::take(&mut self.url_buf);
            url.clear();
            url.push_str("http://");
            url.push_str(&self.host);
            if let Some(port) = self.port {
                if port != 80 && !self.host.contains(':') {
                    url.push(':');
                    push_u16(&mut url, port);
                }
            }
            url.push_str(&path);
            self.lookup_value(ctx, ValueKind::Url, &url, FieldRef::Composite(hf, pf));
            self.url_buf = url;
        }
        self.path = path;
    }

    fn lookup_value<L: Lookups + ?Sized, S: Sink + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, '_, '_, L, S>,
        vk: ValueKind,
        value: &str,
        field: FieldRef,
    ) {
        self.summary.values += 1;
        // The same value under another field of this event (DNS `rrname` and
        // `answers.rrname`, `answers.rdata` and `grouped.A`): reuse its lookup.
        let earlier = self.pending.iter().rposition(|p| {
            p.vk == vk
                && (p.value.1 - p.value.0) as usize == value.len()
                && self
                    .pending_text
                    .get(p.value.0 as usize..p.value.1 as usize)
                    == Some(value)
        });
        if let Some(j) = earlier {
            let p = self.pending[j];
            let start = self.pending_hits.len() as u32;
            for k in p.hits.0..p.hits.1 {
                if let Some(&h) = self.pending_hits.get(k as usize) {
                    self.pending_hits.push(h);
                }
            }
            let end = self.pending_hits.len() as u32;
            self.summary.hits += end - start;
            self.pending.push(PendingValue {
                field,
                hits: (start, end),
                ..p
            });
            return;
        }
        let summary = &mut self.summary;
        let (hits, ids, text) = (
            &mut self.pending_hits,
            &mut self.pending_ids,
            &mut self.pending_text,
        );
        let hits_start = hits.len() as u32;
        // Values and hits wait until the whole event is known to be well-formed; their
        // text is copied into buffers the scanner reuses.
        let push = |text: &mut String, s: &str| {
            let start = text.len() as u32;
            text.push_str(s);
            (start, text.len() as u32)
        };
        let value_at = push(text, value);
        let seen =
            ctx.index
                .lookup_normalized(vk, value, &mut self.scratch, |layer, m: Match<'_>| {
                    summary.hits += 1;
                    summary.kinds = summary.kinds.with(m.kind.bit());
                    let normalized = if same_text(m.normalized, value) {
                        value_at
                    } else {
                        push(text, m.normalized)
                    };
                    let start = ids.len() as u32;
                    ids.extend_from_slice(m.indicators);
                    hits.push(PendingHit {
                        ids: (start, ids.len() as u32),
                        layer: layer as u32,
                        kind: m.kind,
                        via: m.via,
                        normalized,
                    });
                });
        match seen {
            Some((kind, normalized)) => {
                summary.kinds = summary.kinds.with(kind.bit());
                let normalized = if same_text(normalized, value) {
                    value_at
                } else {
                    push(text, normalized)
                };
                self.pending.push(PendingValue {
                    vk,
                    kind,
                    value: value_at,
                    normalized,
                    field,
                    hits: (hits_start, self.pending_hits.len() as u32),
                });
            }
            None => text.truncate(value_at.0 as usize),
        }
    }

    fn walk_object<L: Lookups + ?Sized, S: Sink + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, '_, '_, L, S>,
        b: &[u8],
        start: usize,
        node: u32,
        depth: usize,
    ) -> Result<usize, ScanError> {
        if depth > MAX_DEPTH {
            return err(start, "nesting deeper than the limit");
        }
        let mut i = skip_ws(b, start + 1);
        if b.get(i) == Some(&b'}') {
            return Ok(i + 1);
        }
        let mut slot = node as usize * SEEN_POSITIONS;
        let slots_end = slot + SEEN_POSITIONS;
        loop {
            if b.get(i) != Some(&b'"') {
                return err(i, "expected a string key");
            }
            let at = slot;
            slot += 1;
            // The key remembered at this position, when the bytes here are that key, its
            // closing quote and a colon: no search for the string's end, no lookup.
            let remembered = match self.seen.get(at) {
                Some(s) if at < slots_end => s.matches_at(b, i + 1).copied(),
                _ => None,
            };
            let child = match remembered {
                Some(c) => {
                    // After the key, its quote and the colon.
                    i = skip_ws(b, i + 1 + c.len as usize + 2);
                    (c.child != u32::MAX).then_some(c.child)
                }
                None => {
                    let (ks, ke, esc) = string_end(b, i)?;
                    let child = if esc {
                        let mut kb = std::mem::take(&mut self.key_buf);
                        unescape_into(&b[ks..ke], ks, &mut kb)?;
                        let c = self.map.step(node, &kb);
                        self.key_buf = kb;
                        c
                    } else {
                        let head = crate::fields::key_tag_at(b, ks, ke);
                        let key = &b[ks..ke];
                        if at < slots_end {
                            self.remembered_step(node, at, key, head)
                        } else {
                            self.map.step_tagged(node, key, head)
                        }
                    };
                    i = skip_ws(b, ke + 1);
                    if b.get(i) != Some(&b':') {
                        return err(i, "expected ':' after a key");
                    }
                    i = skip_ws(b, i + 1);
                    child
                }
            };
            i = match child {
                Some(c) => self.walk_value(ctx, b, i, c, depth)?,
                None => skip_value(b, i, depth)?,
            };
            i = skip_ws(b, i);
            match b.get(i) {
                Some(b',') => i = skip_ws(b, i + 1),
                Some(b'}') => return Ok(i + 1),
                _ => return err(i, "expected ',' or '}' in an object"),
            }
        }
    }

    /// [`FieldMap::step_tagged`] from `node` by `key` (whose tag is `head`), answered by
    /// the key remembered in slot `at` of [`Scanner::seen`] when it is the same key, and
    /// remembered there otherwise (keys over 16 bytes are not).
    #[inline(always)]
    fn remembered_step(&mut self, node: u32, at: usize, key: &[u8], head: u64) -> Option<u32> {
        let len = key.len();
        let tail = match key.last_chunk::<8>() {
            Some(t) if len > 8 => u64::from_le_bytes(*t),
            _ => 0,
        };
        match self.seen.get_mut(at) {
            Some(s) if len <= 16 && s.len as usize == len && s.head == head && s.tail == tail => {
                (s.child != u32::MAX).then_some(s.child)
            }
            Some(s) if len <= 16 => {
                let c = self.map.step_tagged(node, key, head);
                *s = SeenKey {
                    head,
                    tail,
                    len: len as u32,
                    child: c.unwrap_or(u32::MAX),
                };
                c
            }
            _ => self.map.step_tagged(node, key, head),
        }
    }

    /// One value of `node` (inlined in the walk over an object's keys and an array's
    /// elements).
    #[inline(always)]
    fn walk_value<L: Lookups + ?Sized, S: Sink + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, '_, '_, L, S>,
        b: &[u8],
        i: usize,
        node: u32,
        depth: usize,
    ) -> Result<usize, ScanError> {
        match b.get(i) {
            Some(b'"') => {
                let (s, e, esc) = string_end(b, i)?;
                if let Some((role, no)) = self.map.nodes[node as usize].role {
                    self.string_value(ctx, &b[s..e], s, esc, role, no)?;
                }
                Ok(e + 1)
            }
            Some(b'{') => {
                if self.map.nodes[node as usize].children.is_empty() {
                    if let Some((Role::EventTime, _)) = self.map.nodes[node as usize].role {
                        self.summary.bad_time = true;
                    }
                    skip_value(b, i, depth)
                } else {
                    self.walk_object(ctx, b, i, node, depth + 1)
                }
            }
            Some(b'[') => self.walk_array(ctx, b, i, node, depth),
            Some(_) => {
                let e = scalar_end(b, i)?;
                match self.map.nodes[node as usize].role {
                    Some((Role::HttpPort, _)) => self.port = parse_u16(&b[i..e]),
                    Some((Role::EventTime, _)) if &b[i..e] != b"null" => {
                        self.event_time(parse_epoch_seconds(&b[i..e]));
                    }
                    _ => {}
                }
                Ok(e)
            }
            None => err(i, "expected a value"),
        }
    }

    /// [`Scanner::walk_value`] for an array: each element is a value of `node`.
    #[inline(never)]
    fn walk_array<L: Lookups + ?Sized, S: Sink + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, '_, '_, L, S>,
        b: &[u8],
        i: usize,
        node: u32,
        depth: usize,
    ) -> Result<usize, ScanError> {
        if depth + 1 > MAX_DEPTH {
            return err(i, "nesting deeper than the limit");
        }
        let mut j = skip_ws(b, i + 1);
        if b.get(j) == Some(&b']') {
            return Ok(j + 1);
        }
        loop {
            j = self.walk_value(ctx, b, j, node, depth + 1)?;
            j = skip_ws(b, j);
            match b.get(j) {
                Some(b',') => j = skip_ws(b, j + 1),
                Some(b']') => return Ok(j + 1),
                _ => return err(j, "expected ',' or ']' in an array"),
            }
        }
    }

    fn event_time(&mut self, t: Option<i64>) {
        match t {
            Some(t) if self.summary.time_micros.is_none() => self.summary.time_micros = Some(t),
            Some(_) => {}
            None => self.summary.bad_time = true,
        }
    }

    fn string_value<L: Lookups + ?Sized, S: Sink + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, '_, '_, L, S>,
        raw: &[u8],
        at: usize,
        esc: bool,
        role: Role,
        no: u16,
    ) -> Result<(), ScanError> {
        if role == Role::EventTime {
            let t = if esc {
                let mut kb = std::mem::take(&mut self.key_buf);
                unescape_into(raw, at, &mut kb)?;
                let t = parse_event_time_cached(&kb, &mut self.hours);
                self.key_buf = kb;
                t
            } else {
                parse_event_time_cached(raw, &mut self.hours)
            };
            self.event_time(t);
            return Ok(());
        }
        let mut owned = std::mem::take(&mut self.unescaped);
        let text: &str = if esc {
            let mut bytes = std::mem::take(&mut owned).into_bytes();
            bytes.clear();
            unescape_into(raw, at, &mut bytes)?;
            match String::from_utf8(bytes) {
                Ok(s) => owned = s,
                Err(e) => {
                    let mut v = e.into_bytes();
                    v.clear();
                    // Keeps the buffer's capacity; an empty Vec is valid UTF-8.
                    owned = String::from_utf8(v).unwrap_or_default();
                    self.unescaped = owned;
                    self.summary.invalid_utf8 += 1;
                    return Ok(());
                }
            }
            &owned
        } else {
            // `raw` lies between two ASCII quotes, so in valid UTF-8 text it starts and
            // ends on character boundaries.
            let checked = match ctx.text {
                Some(t) => t.get(at..at + raw.len()).ok_or(()),
                None => std::str::from_utf8(raw).map_err(|_| ()),
            };
            match checked {
                Ok(s) => s,
                Err(()) => {
                    self.unescaped = owned;
                    self.summary.invalid_utf8 += 1;
                    return Ok(());
                }
            }
        };
        match role {
            Role::Value(vk) => self.lookup_value(ctx, vk, text, FieldRef::Named(no)),
            Role::HttpHost => {
                self.host.clear();
                self.host.push_str(text);
                self.host_field = Some(no);
                self.lookup_value(ctx, ValueKind::IpOrDomain, text, FieldRef::Named(no));
            }
            Role::HttpPath => {
                self.path.clear();
                self.path.push_str(text);
                self.path_field = Some(no);
            }
            Role::HttpPort => self.port = text.trim().parse().ok(),
            Role::EventTime => {}
        }
        self.unescaped = owned;
        Ok(())
    }
}

/// Whether two strings are equal, without reading them when they are the same slice (a
/// normalised value that borrows the value it came from).
#[inline(always)]
fn same_text(a: &str, b: &str) -> bool {
    a.len() == b.len() && (std::ptr::eq(a.as_ptr(), b.as_ptr()) || a == b)
}

#[derive(Debug, Clone, Copy)]
enum FieldRef {
    Named(u16),
    Composite(u16, u16),
}

fn push_u16(out: &mut String, mut n: u16) {
    let mut buf = [0u8; 5];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &buf[i..] {
        out.push(char::from(d));
    }
}

fn parse_u16(b: &[u8]) -> Option<u16> {
    if b.is_empty() || b.len() > 5 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u32 = 0;
    for &d in b {
        n = n * 10 + u32::from(d - b'0');
    }
    u16::try_from(n).ok()
}

#[inline(always)]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(&c) = b.get(i) {
        // Compact JSON (what sensors write): one comparison.
        if c > b' ' {
            return i;
        }
        if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
            i += 1;
        } else {
            break;
        }
    }
    i
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `w` equal to `c` (exact for the lowest such byte, which is
/// the only one used).
#[inline(always)]
fn bytes_eq(w: u64, c: u8) -> u64 {
    let x = w ^ (ONES * u64::from(c));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// `b[i]` is the opening quote; returns (content start, closing quote index, had escapes).
#[inline(always)]
fn string_end(b: &[u8], i: usize) -> Result<(usize, usize, bool), ScanError> {
    let start = i + 1;
    // Most strings are short: test 16 bytes at a time (SSE2), then 8 (SWAR), before
    // paying for the general search's setup.
    let mut j = start;
    let quick = b.len().min(start + 64);
    #[cfg(target_arch = "x86_64")]
    while j + 16 <= quick {
        let Some(chunk) = b.get(j..j + 16).and_then(|s| s.first_chunk::<16>()) else {
            break;
        };
        let m = sse2::quote_or_backslash(chunk);
        if m != 0 {
            let k = m.trailing_zeros() as usize & 15;
            // The closing quote of a string without escapes (the usual case).
            if chunk[k] == b'"' {
                return Ok((start, j + k, false));
            }
            return string_end_from(b, i, j + k);
        }
        j += 16;
    }
    while j + 8 <= quick {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[j..j + 8]);
        let w = u64::from_le_bytes(w);
        let m = bytes_eq(w, b'"') | bytes_eq(w, b'\\');
        if m != 0 {
            j += (m.trailing_zeros() / 8) as usize;
            if b.get(j) == Some(&b'"') {
                return Ok((start, j, false));
            }
            break;
        }
        j += 8;
    }
    string_end_from(b, i, j)
}

/// The rest of [`string_end`] from `j` (no quote or backslash in `b[i + 1..j]`).
#[inline(always)]
fn string_end_from(b: &[u8], i: usize, mut j: usize) -> Result<(usize, usize, bool), ScanError> {
    let start = i + 1;
    let mut esc = false;
    loop {
        let found = match b.get(j) {
            Some(b'"') => Some(0),
            Some(b'\\') => Some(0),
            _ => memchr2(b'"', b'\\', b.get(j..).unwrap_or(&[])),
        };
        match found {
            Some(k) => {
                let p = j + k;
                if b[p] == b'"' {
                    return Ok((start, p, esc));
                }
                esc = true;
                j = p + 2;
                if j > b.len() {
                    return err(i, "unterminated string");
                }
            }
            None => return err(i, "unterminated string"),
        }
    }
}

/// Byte classes for [`scalar_end`]: what may end a scalar, and what a number is made of.
const DELIMITER: u8 = 1;
const NUMBER: u8 = 2;
static SCALAR_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let delims = b",}] \n\r\t";
    let mut k = 0;
    while k < delims.len() {
        t[delims[k] as usize] = DELIMITER;
        k += 1;
    }
    let nums = b"0123456789-+.eE";
    let mut k = 0;
    while k < nums.len() {
        t[nums[k] as usize] = NUMBER;
        k += 1;
    }
    t
};

/// End of a number, `true`, `false` or `null` starting at `i` (the token runs to the
/// next `,`, `}`, `]`, whitespace or the end of the event).
#[inline]
fn scalar_end(b: &[u8], i: usize) -> Result<usize, ScanError> {
    let ends_at = |j: usize| match b.get(j) {
        None => true,
        Some(&c) => SCALAR_CLASS[c as usize] == DELIMITER,
    };
    let j = match b.get(i) {
        Some(b't') if b.get(i..i + 4) == Some(b"true") => i + 4,
        Some(b'f') if b.get(i..i + 5) == Some(b"false") => i + 5,
        Some(b'n') if b.get(i..i + 4) == Some(b"null") => i + 4,
        Some(&c) if c == b'-' || c.is_ascii_digit() => {
            let mut j = i + 1;
            while let Some(&c) = b.get(j) {
                if SCALAR_CLASS[c as usize] != NUMBER {
                    break;
                }
                j += 1;
            }
            j
        }
        _ => return err(i, "expected a value"),
    };
    if ends_at(j) {
        Ok(j)
    } else {
        err(i, "expected a value")
    }
}

/// Skips one value starting at `b[i]`, checking bracket balance and matching without
/// recursion. Inlined where it is called: most skipped values are strings and numbers,
/// and a call that saves the registers an object's skip needs would cost more than
/// skipping them.
#[inline(always)]
fn skip_value(b: &[u8], i: usize, depth: usize) -> Result<usize, ScanError> {
    match b.get(i) {
        Some(b'"') => Ok(string_end(b, i)?.1 + 1),
        Some(b'{') | Some(b'[') => skip_nested(b, i, depth),
        Some(_) => scalar_end(b, i),
        None => err(i, "expected a value"),
    }
}

/// [`skip_value`] for an object or array.
#[inline(never)]
fn skip_nested(b: &[u8], i: usize, depth: usize) -> Result<usize, ScanError> {
    let room = MAX_DEPTH.saturating_sub(depth);
    #[cfg(target_arch = "x86_64")]
    if let Some(end) = skip_container_chunks(b, i, room) {
        return Ok(end);
    }
    skip_container(b, i, room)
}

/// Skips the object or array opening at `b[i]`, bracket by bracket and string by string,
/// checking bracket balance and matching (at most `room` levels) without recursion.
fn skip_container(b: &[u8], i: usize, room: usize) -> Result<usize, ScanError> {
    // A bit stack of open brackets: 1 = object, 0 = array.
    let mut stack: u128 = 0;
    let mut level = 0usize;
    let mut j = i;
    while let Some(k) = next_structural(b, j) {
        j = k;
        let c = b[j];
        match c {
            b'"' => {
                j = string_end(b, j)?.1 + 1;
                continue;
            }
            b'{' | b'[' => {
                if level >= room || level >= 128 {
                    return err(j, "nesting deeper than the limit");
                }
                stack = (stack << 1) | u128::from(c == b'{');
                level += 1;
            }
            b'}' | b']' => {
                if level == 0 || (stack & 1 == 1) != (c == b'}') {
                    return err(j, "mismatched bracket");
                }
                stack >>= 1;
                level -= 1;
                if level == 0 {
                    return Ok(j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
    err(i, "unterminated object or array")
}

/// [`skip_container`] 16 bytes at a time: the quotes of each chunk give, by a prefix
/// XOR, which of its bytes lie inside strings, and only brackets outside strings are
/// visited. `None` (the caller then takes [`skip_container`]) at a backslash, and
/// wherever that path would report an error: the container's end is then the same.
#[cfg(target_arch = "x86_64")]
fn skip_container_chunks(b: &[u8], i: usize, room: usize) -> Option<usize> {
    let mut stack: u128 = 0;
    let mut level = 0usize;
    let mut inside = 0u32;
    let mut j = i;
    while j < b.len() {
        let mut padded = [0u8; 16];
        let chunk = match b.get(j..).and_then(|s| s.first_chunk::<16>()) {
            Some(c) => c,
            None => {
                let rest = b.get(j..)?;
                padded[..rest.len()].copy_from_slice(rest);
                &padded
            }
        };
        let m = sse2::classes(chunk);
        if m.backslashes != 0 {
            return None;
        }
        // Bit k set when byte k is inside a string (its opening quote included, its
        // closing quote not), carried over from the previous chunk.
        let mut s = m.quotes;
        s ^= s << 1;
        s ^= s << 2;
        s ^= s << 4;
        s ^= s << 8;
        s = (s ^ inside) & 0xffff;
        inside = if s & 0x8000 != 0 { 0xffff } else { 0 };
        let mut brackets = (m.opens | m.closes) & !s;
        while brackets != 0 {
            let k = brackets.trailing_zeros();
            brackets &= brackets - 1;
            let curly = m.curly & (1 << k) != 0;
            if m.opens & (1 << k) != 0 {
                if level >= room || level >= 128 {
                    return None;
                }
                stack = (stack << 1) | u128::from(curly);
                level += 1;
            } else {
                if level == 0 || (stack & 1 == 1) != curly {
                    return None;
                }
                stack >>= 1;
                level -= 1;
                if level == 0 {
                    return Some(j + k as usize + 1);
                }
            }
        }
        j += 16;
    }
    None
}

/// The first `"`, `{`, `}`, `[` or `]` at or after `j` (16 bytes at a time with SSE2,
/// then 8).
#[inline(always)]
fn next_structural(b: &[u8], mut j: usize) -> Option<usize> {
    const CASE: u64 = ONES * 0x20;
    #[cfg(target_arch = "x86_64")]
    while let Some(chunk) = b.get(j..).and_then(|s| s.first_chunk::<16>()) {
        let m = sse2::structural(chunk);
        if m != 0 {
            return Some(j + m.trailing_zeros() as usize);
        }
        j += 16;
    }
    while let Some(chunk) = b.get(j..).and_then(|s| s.first_chunk::<8>()) {
        let w = u64::from_le_bytes(*chunk);
        // `[` | 0x20 = `{` and `]` | 0x20 = `}`; no other byte maps onto them.
        let lw = w | CASE;
        let m = bytes_eq(w, b'"') | bytes_eq(lw, b'{') | bytes_eq(lw, b'}');
        if m != 0 {
            return Some(j + (m.trailing_zeros() / 8) as usize);
        }
        j += 8;
    }
    while let Some(&c) = b.get(j) {
        if matches!(c, b'"' | b'{' | b'}' | b'[' | b']') {
            return Some(j);
        }
        j += 1;
    }
    None
}

/// 16-byte searches with SSE2, part of every x86-64 processor (`safe_arch`, since the
/// workspace forbids `unsafe`). Each returns a mask with bit `k` set when byte `k` of the
/// chunk is one of those searched for.
#[cfg(target_arch = "x86_64")]
mod sse2 {
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i, m128i, move_mask_i8_m128i, set_splat_i8_m128i,
    };

    #[inline(always)]
    fn eq(v: m128i, c: u8) -> m128i {
        cmp_eq_mask_i8_m128i(v, set_splat_i8_m128i(i8::from_ne_bytes([c])))
    }

    /// `"` or `\\`.
    #[inline(always)]
    pub(super) fn quote_or_backslash(chunk: &[u8; 16]) -> u32 {
        let v = m128i::from(*chunk);
        move_mask_i8_m128i(bitor_m128i(eq(v, b'"'), eq(v, b'\\'))) as u32
    }

    /// The bytes of a chunk that matter when skipping a container.
    pub(super) struct Classes {
        pub(super) quotes: u32,
        pub(super) backslashes: u32,
        /// `{` or `[`.
        pub(super) opens: u32,
        /// `}` or `]`.
        pub(super) closes: u32,
        /// `{` or `}`.
        pub(super) curly: u32,
    }

    #[inline(always)]
    pub(super) fn classes(chunk: &[u8; 16]) -> Classes {
        let v = m128i::from(*chunk);
        let lower = bitor_m128i(v, set_splat_i8_m128i(0x20));
        let mask = |m: m128i| move_mask_i8_m128i(m) as u32;
        Classes {
            quotes: mask(eq(v, b'"')),
            backslashes: mask(eq(v, b'\\')),
            opens: mask(eq(lower, b'{')),
            closes: mask(eq(lower, b'}')),
            curly: mask(bitor_m128i(eq(v, b'{'), eq(v, b'}'))),
        }
    }

    /// `"`, `{`, `}`, `[` or `]` (`[` | 0x20 = `{` and `]` | 0x20 = `}`; no other byte
    /// maps onto them).
    #[inline(always)]
    pub(super) fn structural(chunk: &[u8; 16]) -> u32 {
        let v = m128i::from(*chunk);
        let lower = bitor_m128i(v, set_splat_i8_m128i(0x20));
        let m = bitor_m128i(eq(v, b'"'), bitor_m128i(eq(lower, b'{'), eq(lower, b'}')));
        move_mask_i8_m128i(m) as u32
    }
}

/// Unescapes JSON string content `raw` (which starts at byte `at` of the event).
fn unescape_into(raw: &[u8], at: usize, out: &mut Vec<u8>) -> Result<(), ScanError> {
    out.clear();
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        if c != b'\\' {
            if c < 0x20 {
                return err(at + i, "control character in a string");
            }
            out.push(c);
            i += 1;
            continue;
        }
        let Some(&e) = raw.get(i + 1) else {
            return err(at + i, "dangling backslash");
        };
        i += 2;
        let simple = match e {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(8),
            b'f' => Some(12),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'u' => None,
            _ => return err(at + i - 2, "invalid escape"),
        };
        if let Some(s) = simple {
            out.push(s);
            continue;
        }
        let hi = hex4(raw, i).ok_or(ScanError {
            offset: at + i,
            reason: "invalid \\u escape",
        })?;
        i += 4;
        let cp = if (0xD800..0xDC00).contains(&hi) {
            let lo = if raw.get(i) == Some(&b'\\') && raw.get(i + 1) == Some(&b'u') {
                hex4(raw, i + 2)
            } else {
                None
            };
            match lo {
                Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                    i += 6;
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                }
                _ => 0xFFFD,
            }
        } else if (0xDC00..0xE000).contains(&hi) {
            0xFFFD
        } else {
            hi
        };
        let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
    }
    Ok(())
}

fn hex4(raw: &[u8], i: usize) -> Option<u32> {
    let h = raw.get(i..i + 4)?;
    let mut v = 0u32;
    for &c in h {
        v = v * 16 + char::from(c).to_digit(16)?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cidr, IndexBuilder, Ioc};

    fn ix() -> Index {
        let mut b = IndexBuilder::new();
        let a = b.add_indicator("indicator--ip").unwrap();
        b.add_ioc(a, Ioc::Ip(Cidr::parse("203.0.113.0/24").unwrap()))
            .unwrap();
        let d = b.add_indicator("indicator--dom").unwrap();
        b.add_ioc(d, Ioc::Domain("evil.example")).unwrap();
        let u = b.add_indicator("indicator--url").unwrap();
        b.add_ioc(u, Ioc::Url("http://evil.example:8080/x.php?a=1"))
            .unwrap();
        b.build().unwrap()
    }

    fn scan(map: FieldMap, ev: &str) -> Result<Vec<(String, String, String)>, ScanError> {
        let index = ix();
        let mut s = Scanner::new(Arc::new(map));
        let mut out = Vec::new();
        let mut sink = |h: &Hit<'_>| {
            for id in h.indicator_ids() {
                out.push((id.to_owned(), h.field.to_owned(), h.value.to_owned()));
            }
        };
        s.scan(&index, ev.as_bytes(), &mut sink)?;
        out.sort();
        Ok(out)
    }

    #[test]
    fn layers_hit_with_their_own_indicator_numbers_and_masks() {
        let mut layers = crate::Layers::single(ix());
        // indicator--dom changes its value: masked in the base, its new version (and a
        // brand-new indicator) in a newer layer.
        layers.mask_id("indicator--dom");
        let mut b = IndexBuilder::new();
        let n = b.add_indicator("indicator--new").unwrap();
        b.add_ioc(n, Ioc::Domain("evil.example")).unwrap();
        let d = b.add_indicator("indicator--dom").unwrap();
        b.add_ioc(d, Ioc::Domain("moved.example")).unwrap();
        layers.push(std::sync::Arc::new(b.build().unwrap()));
        let mut s = Scanner::new(Arc::new(FieldMap::suricata_eve()));
        let mut got = Vec::new();
        for ev in [
            r#"{"dest_ip":"203.0.113.5","dns":{"rrname":"evil.example"}}"#,
            r#"{"dns":{"rrname":"moved.example"}}"#,
        ] {
            let mut sink = |h: &Hit<'_>| {
                for id in h.indicator_ids() {
                    got.push((id.to_owned(), h.value.to_owned()));
                }
            };
            s.scan(&layers, ev.as_bytes(), &mut sink).unwrap();
        }
        got.sort();
        assert_eq!(
            got,
            vec![
                ("indicator--dom".to_owned(), "moved.example".to_owned()),
                ("indicator--ip".to_owned(), "203.0.113.5".to_owned()),
                ("indicator--new".to_owned(), "evil.example".to_owned()),
            ]
        );
    }

    #[test]
    fn each_hit_keeps_its_value_normalised_text_and_place() {
        // An address with spaces, a name in capitals with the root's dot, a repeat under
        // another field, a miss in between, and a composed URL.
        let index = ix();
        let mut s = Scanner::new(Arc::new(FieldMap::suricata_eve()));
        let ev = r#"{"src_ip":" 203.0.113.9 ","dest_ip":"10.0.0.1","dns":{"rrname":"EVIL.Example.","answers":[{"rrname":"quiet.example"},{"rrname":"EVIL.Example."}]},"http":{"hostname":"evil.example","url":"/y"}}"#;
        let mut got = Vec::new();
        let mut sink = |h: &Hit<'_>| {
            got.push(format!("{} {:?} {:?}", h.field, h.value, h.normalized));
        };
        let summary = s.scan(&index, ev.as_bytes(), &mut sink).unwrap();
        assert_eq!(
            got,
            vec![
                r#"src_ip " 203.0.113.9 " "203.0.113.9""#,
                r#"dns.rrname "EVIL.Example." "evil.example""#,
                r#"dns.answers.rrname "EVIL.Example." "evil.example""#,
                r#"http.hostname "evil.example" "evil.example""#,
            ]
        );
        assert_eq!(summary.hits, 4);
        let observed: Vec<String> = s
            .observed()
            .map(|o| format!("{} {}", o.field, o.normalized))
            .collect();
        assert_eq!(
            observed,
            vec![
                "src_ip 203.0.113.9",
                "dest_ip 10.0.0.1",
                "dns.rrname evil.example",
                "dns.answers.rrname quiet.example",
                "dns.answers.rrname evil.example",
                "http.hostname evil.example",
                "http.hostname+http.url http://evil.example/y",
            ]
        );
    }

    #[test]
    fn eve_dns_and_http() {
        let ev = r#"{"timestamp":"2026-01-01T00:00:00Z","src_ip":"10.0.0.1","dest_ip":"203.0.113.5","event_type":"dns","dns":{"type":"answer","rrname":"EVIL.example.","answers":[{"rrname":"evil.example","rrtype":"A","rdata":"203.0.113.9"}]}}"#;
        assert_eq!(
            scan(FieldMap::suricata_eve(), ev).unwrap(),
            vec![
                (
                    "indicator--dom".into(),
                    "dns.answers.rrname".into(),
                    "evil.example".into()
                ),
                (
                    "indicator--dom".into(),
                    "dns.rrname".into(),
                    "EVIL.example.".into()
                ),
                (
                    "indicator--ip".into(),
                    "dest_ip".into(),
                    "203.0.113.5".into()
                ),
                (
                    "indicator--ip".into(),
                    "dns.answers.rdata".into(),
                    "203.0.113.9".into()
                ),
            ]
        );
        let http = r#"{"event_type":"http","http":{"hostname":"Evil.Example","http_port":8080,"url":"/x.php?a=1","status":200}}"#;
        assert_eq!(
            scan(FieldMap::suricata_eve(), http).unwrap(),
            vec![
                (
                    "indicator--dom".into(),
                    "http.hostname".into(),
                    "Evil.Example".into()
                ),
                (
                    "indicator--url".into(),
                    "http.hostname+http.url".into(),
                    "http://Evil.Example:8080/x.php?a=1".into()
                ),
            ]
        );
    }

    #[test]
    fn zeek_flat_dotted_keys_and_escapes() {
        let ev = r#"{"ts":1.5,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":5353,"id.resp_h":"203.0.113.77","query":"ev\u0069l.example","answers":["203.0.113.1","x.example"],"TTLs":[1.0,2.0]}"#;
        assert_eq!(
            scan(FieldMap::zeek(), ev).unwrap(),
            vec![
                (
                    "indicator--dom".into(),
                    "query".into(),
                    "evil.example".into()
                ),
                (
                    "indicator--ip".into(),
                    "answers".into(),
                    "203.0.113.1".into()
                ),
                (
                    "indicator--ip".into(),
                    "id.resp_h".into(),
                    "203.0.113.77".into()
                ),
            ]
        );
    }

    #[test]
    fn near_misses_do_not_hit() {
        let ev = r#"{"src_ip":"203.0.114.1","dns":{"rrname":"evilexample.com"},"tls":{"sni":"evil.example.net"},"other":{"rrname":"evil.example"}}"#;
        assert_eq!(scan(FieldMap::suricata_eve(), ev).unwrap(), vec![]);
    }

    /// Strings are found and read the same wherever they fall against the 16- and
    /// 8-byte steps of the search for their end, whatever they hold: events with
    /// padding of every length (quotes, backslashes, brackets and multi-byte characters
    /// in it, escaped as `serde_json` writes them) before, inside and after the mapped
    /// values, the mapped values themselves written with random `\u` escapes. Every
    /// such event yields its two hits, and every event cut short is refused.
    #[test]
    fn strings_read_the_same_at_every_offset_and_encoding() {
        let index = ix();
        let mut s = Scanner::new(Arc::new(FieldMap::suricata_eve()));
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || crate::xorshift(&mut x);
        let alphabet = [
            'a', '"', '\\', '\u{e9}', '{', '}', '[', ']', ' ', '/', '\u{645}',
        ];
        for round in 0..4_000usize {
            let mut pad = String::new();
            for _ in 0..round % 41 {
                pad.push(alphabet[(next() % alphabet.len() as u64) as usize]);
            }
            let pad = serde_json::to_string(&pad).unwrap();
            let mut escaped = |v: &str| -> String {
                v.chars()
                    .map(|c| {
                        if next() % 3 == 0 {
                            format!("\\u{:04x}", u32::from(c))
                        } else {
                            c.to_string()
                        }
                    })
                    .collect()
            };
            let dom = escaped("evil.example");
            let ip = escaped("203.0.113.7");
            let ev = format!(
                r#"{{"p":{pad},"flow":{{"k":{pad},"a":[{pad},{{"x":{pad}}}]}},"src_ip":"{ip}","in_iface":{pad},"dns":{{"type":{pad},"rrname":"{dom}"}},"z":{pad}}}"#
            );
            let mut hits = 0;
            let sum = s
                .scan(&index, ev.as_bytes(), &mut |_: &Hit<'_>| hits += 1)
                .unwrap_or_else(|e| panic!("{e}: {ev}"));
            assert_eq!((hits, sum.values), (2, 2), "{ev}");
            let cut = (next() % ev.len() as u64) as usize;
            assert!(
                s.scan(&index, &ev.as_bytes()[..cut], &mut |_: &Hit<'_>| {})
                    .is_err(),
                "{}",
                &ev[..ev.floor_char_boundary(cut)]
            );
        }
    }

    #[test]
    fn malformed_events_are_errors_with_offsets() {
        let m = || FieldMap::suricata_eve();
        for (ev, off) in [
            ("", 0),
            ("[1]", 0),
            ("{\"a\":1", 6),
            ("{\"a\":[1}", 7),
            ("{\"a\" 1}", 5),
            ("{\"src_ip\":\"1.2.3.4}", 10),
            ("{\"a\":tru}", 5),
            ("{\"a\":1} x", 8),
            ("{\"src_ip\":\"\\q\"}", 11),
        ] {
            let Err(e) = scan(m(), ev) else {
                panic!("{ev:?} scanned");
            };
            assert_eq!(e.offset, off, "{ev:?}: {e}");
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert_eq!(
            scan(m(), &deep).unwrap_err().reason,
            "nesting deeper than the limit"
        );
        let deep_mapped = format!("{{\"src_ip\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(scan(m(), &deep_mapped).is_err());
    }

    #[test]
    fn malformed_event_delivers_no_hits() {
        // The hit on src_ip is found before the truncation is; it must not be delivered.
        let ev = r#"{"src_ip":"203.0.113.1","dns":{"rrname":"evil.example"}"#;
        let index = ix();
        let mut s = Scanner::new(Arc::new(FieldMap::suricata_eve()));
        let mut n = 0;
        assert!(s
            .scan(&index, ev.as_bytes(), &mut |_: &Hit<'_>| n += 1)
            .is_err());
        assert_eq!(n, 0);
        let ok = format!("{ev}}}");
        s.scan(&index, ok.as_bytes(), &mut |_: &Hit<'_>| n += 1)
            .unwrap();
        assert_eq!(n, 2);
    }

    #[test]
    fn invalid_utf8_in_a_mapped_value_is_counted() {
        let index = ix();
        let mut s = Scanner::new(Arc::new(FieldMap::suricata_eve()));
        let mut ev = br#"{"src_ip":"203.0.113.1","dns":{"rrname":"X"}}"#.to_vec();
        let pos = ev.iter().position(|&c| c == b'X').unwrap();
        ev[pos] = 0xff;
        let mut n = 0;
        let sum = s.scan(&index, &ev, &mut |_: &Hit<'_>| n += 1).unwrap();
        assert_eq!((sum.invalid_utf8, sum.values, n), (1, 1, 1));
    }

    /// A valid event is checked for UTF-8 once and its strings are sliced from it; an
    /// event with a bad byte anywhere falls back to checking each extracted string. Both
    /// paths read the same values (multi-byte characters included), and a bad byte in a
    /// value nobody looks up is not counted.
    #[test]
    fn utf8_is_checked_per_event_or_per_string_with_the_same_values() {
        let index = ix();
        let mut s = Scanner::new(Arc::new(FieldMap::suricata_eve()));
        let valid = "{\"in_iface\":\"eth0\",\"src_ip\":\"203.0.113.1\",\"dns\":{\"rrname\":\"b\u{fc}cher.\u{645}\u{62b}\u{627}\u{644}.example\"},\"http\":{\"hostname\":\"evil.example\"}}";
        let mut bad = valid.as_bytes().to_vec();
        let at = bad.windows(4).position(|w| w == b"eth0").unwrap();
        bad[at] = 0xff;
        assert!(std::str::from_utf8(&bad).is_err());
        let mut a = Record::default();
        let sa = s.scan(&index, valid.as_bytes(), &mut a).unwrap();
        let mut b = Record::default();
        let sb = s.scan(&index, &bad, &mut b).unwrap();
        assert_eq!(a.0, b.0);
        assert_eq!(sa, sb);
        assert_eq!((sa.invalid_utf8, sa.values, sa.hits), (0, 3, 2));
        assert!(a
            .0
            .iter()
            .any(|l| l.contains("b\u{fc}cher.\u{645}\u{62b}\u{627}\u{644}.example")));
    }

    /// Records everything a sink receives, in order.
    #[derive(Default)]
    struct Record(Vec<String>);
    impl Sink for Record {
        fn hit(&mut self, h: &Hit<'_>) {
            let ids: Vec<&str> = h.indicator_ids().collect();
            self.0
                .push(format!("hit {} {} {}", h.field, h.value, ids.join(",")));
        }
        fn observed(&mut self, o: &Observed<'_>) {
            self.0.push(format!(
                "obs {} {} {} {}",
                o.kind.name(),
                o.field,
                o.value,
                o.normalized
            ));
        }
    }

    fn record(map: FieldMap, ev: &str) -> (Result<EventSummary, ScanError>, Vec<String>) {
        let index = ix();
        let mut s = Scanner::new(Arc::new(map));
        let mut r = Record::default();
        let sum = s.scan(&index, ev.as_bytes(), &mut r);
        (sum, r.0)
    }

    /// A scanner that remembers each position's key ([`Scanner::seen`]) finds exactly
    /// what a fresh scanner finds, over events whose keys change from one event to the
    /// next at the same positions: mapped keys, keys that differ from them in one byte
    /// (within the first 8 bytes, in bytes 9 to 16, or beyond), by case, or only by
    /// length (`aaaaaaaaa` and `aaaaaaaaaa` share their first and last 8 bytes),
    /// escaped keys, dotted keys, and more keys than positions are remembered.
    #[test]
    fn remembered_keys_never_change_a_result() {
        let mut map = FieldMap::auto();
        for (path, role) in [
            ("custom.abcdefghi", ValueKind::Ip),
            ("custom.abcdefghijklmnop", ValueKind::Domain),
            ("custom.abcdefghijklmno", ValueKind::Ip),
            ("custom.abcdefghijklmnopq", ValueKind::Ip),
            ("custom.x", ValueKind::Domain),
            ("custom.aaaaaaaaa", ValueKind::Ip),
        ] {
            map.add(path, Role::Value(role)).unwrap();
        }
        let map = Arc::new(map);
        let root = [
            "src_ip",
            "dest_ip",
            "src_iq",
            "Src_ip",
            "dest_ipX",
            "dest_i",
            "id.orig_h",
            "id.orig_i",
            "id.resp_h",
            "query",
            "querz",
            "timestamp",
            "ts",
            "",
            "flow_id",
            "src\\u005fip",
            "abcdefghijklmnop",
            "custom",
            "custoM",
            "dns",
            "dnt",
        ];
        let custom = [
            "abcdefghi",
            "abcdefghj",
            "bbcdefghi",
            "abcdefgh",
            "abcdefghijklmnop",
            "abcdefghijklmno",
            "abcdefghijklmnx",
            "abcdefghijklmnoq",
            "abcdefghijkXmnop",
            "bbcdefghijklmnop",
            "abcdefghijklmnopq",
            "abcdefghijklmnopr",
            "abcdefghijklmnoqq",
            "x",
            "y",
            "",
            "abc\\u0064efghi",
            "aaaaaaaaa",
            "aaaaaaaaaa",
            "aaaaaaaaaaaaaaaa",
            "aaaaaaaaaaaaaaaaa",
        ];
        let dns = [
            "rrname",
            "rrnamf",
            "rdata",
            "answers",
            "query",
            "rrname\\u0000",
        ];
        let values = [
            "\"203.0.113.5\"",
            "\"evil.example\"",
            "\"10.0.0.1\"",
            "7",
            "\"Evil.Example.\"",
        ];
        let mut x = 0x5EED_F5EE_u64;
        let mut pick = |n: usize| (crate::xorshift(&mut x) % n as u64) as usize;
        let index = ix();
        let mut kept = Scanner::new(map.clone());
        let (mut hits, mut events, mut truncated) = (0usize, 0usize, 0usize);
        for _ in 0..6_000 {
            let mut ev = String::from("{");
            let keys = 1 + pick(SEEN_POSITIONS + 8);
            for k in 0..keys {
                if k > 0 {
                    ev.push(',');
                }
                let key = root[pick(root.len())];
                ev.push_str(&format!("\"{key}\":"));
                let sub: &[&str] = match key {
                    "custom" | "custoM" => &custom,
                    "dns" | "dnt" => &dns,
                    _ => &[],
                };
                if sub.is_empty() {
                    ev.push_str(values[pick(values.len())]);
                    continue;
                }
                ev.push('{');
                for j in 0..1 + pick(SEEN_POSITIONS + 4) {
                    if j > 0 {
                        ev.push(',');
                    }
                    ev.push_str(&format!(
                        "\"{}\":{}",
                        sub[pick(sub.len())],
                        values[pick(values.len())]
                    ));
                }
                ev.push('}');
            }
            ev.push('}');
            let mut a = Record::default();
            let mut b = Record::default();
            let got = kept.scan(&index, ev.as_bytes(), &mut a);
            let want = Scanner::new(map.clone()).scan(&index, ev.as_bytes(), &mut b);
            assert_eq!(got, want, "{ev}");
            assert_eq!(a.0, b.0, "{ev}");
            events += usize::from(want.is_ok());
            hits += b.0.iter().filter(|l| l.starts_with("hit ")).count();
            // Cut short, or with spaces around its colons: the same answer, the same
            // offset of the error.
            let cut = &ev.as_bytes()[..pick(ev.len())];
            let spaced = ev.replace("\":", "\" : ");
            for other in [cut, spaced.as_bytes()] {
                let mut a = Record::default();
                let mut b = Record::default();
                let got = kept.scan(&index, other, &mut a);
                let want = Scanner::new(map.clone()).scan(&index, other, &mut b);
                assert_eq!(got, want, "{}", String::from_utf8_lossy(other));
                assert_eq!(a.0, b.0, "{}", String::from_utf8_lossy(other));
                truncated += usize::from(want.is_err());
            }
        }
        assert_eq!(events, 6_000);
        assert!(truncated > 5_000, "{truncated}");
        assert!(hits > 10_000, "{hits}");
        assert!(kept.seen.iter().filter(|s| s.len != u32::MAX).count() > 40);
    }

    /// Containers skipped 16 bytes at a time end where the bracket-by-bracket skip ends:
    /// generated JSON with brackets and quotes inside strings, nesting across chunk
    /// boundaries, at every offset and near the end of the event, then the same bytes
    /// mutated (mismatched, unbalanced, unterminated, escaped, too deep); whenever the
    /// chunked skip answers, the other gives the same end, and `skip_value` always
    /// answers as the bracket-by-bracket skip does.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn containers_skip_to_the_same_end_by_chunks() {
        fn gen(x: &mut u64, depth: usize, out: &mut Vec<u8>) {
            let r = crate::xorshift(x);
            match r % 7 {
                0 | 1 if depth < 6 => {
                    let curly = r & 8 != 0;
                    out.push(if curly { b'{' } else { b'[' });
                    for k in 0..(r >> 4) % 5 {
                        if k > 0 {
                            out.push(b',');
                        }
                        if curly {
                            out.extend_from_slice(b"\"k\":");
                        }
                        gen(x, depth + 1, out);
                    }
                    out.push(if curly { b'}' } else { b']' });
                }
                2 | 3 => {
                    out.push(b'"');
                    for _ in 0..(r >> 8) % 24 {
                        out.push(b"ab{}[]:, \xc3\xa9"[(crate::xorshift(x) % 11) as usize]);
                    }
                    out.push(b'"');
                }
                4 => out.extend_from_slice(b"\"x\\\"}\""),
                _ => out.extend_from_slice(b"12"),
            }
        }
        let mut x = 0x00DD_BA11_u64;
        let (mut chunked, mut total) = (0, 0);
        for n in 0..30_000 {
            let mut b: Vec<u8> = vec![b' '; n % 19];
            let at = b.len();
            b.push(if n % 2 == 0 { b'{' } else { b'[' });
            let mut body = Vec::new();
            gen(&mut x, 1, &mut body);
            b.extend_from_slice(&body);
            b.push(if n % 2 == 0 { b'}' } else { b']' });
            if n % 3 == 0 {
                b.extend_from_slice(b",\"y\":1}");
            }
            if n % 4 == 1 {
                // A mutation: one byte replaced by a bracket, a quote or a backslash.
                let k = at + 1 + (crate::xorshift(&mut x) as usize) % (b.len() - at - 1);
                b[k] = b"{}[]\"\\"[(crate::xorshift(&mut x) % 6) as usize];
            }
            if n % 7 == 2 && b.len() > at + 2 + n % 5 {
                b.truncate(b.len() - 1 - (n % 5));
            }
            for room in [2, 5, MAX_DEPTH] {
                let want = skip_container(&b, at, room);
                if let Some(end) = skip_container_chunks(&b, at, room) {
                    assert_eq!(
                        Ok(end),
                        want,
                        "{:?} room {room}",
                        String::from_utf8_lossy(&b)
                    );
                    chunked += 1;
                }
                let depth = MAX_DEPTH - room;
                assert_eq!(
                    skip_value(&b, at, depth),
                    want,
                    "{:?}",
                    String::from_utf8_lossy(&b)
                );
                total += 1;
            }
        }
        assert!(chunked > total / 3, "{chunked} of {total}");
    }

    #[test]
    fn observed_values_in_event_order_hit_or_not() {
        let ev = r#"{"timestamp":"2026-03-01T10:05:00.123456+0000","src_ip":"::FFFF:10.0.0.1","dest_ip":"203.0.113.5","http":{"hostname":"Evil.Example","url":"/x.php?a=1","http_port":8080,"http_refer":"nope"},"dns":{"rrname":"a\u002eexample."}}"#;
        let (sum, got) = record(FieldMap::suricata_eve(), ev);
        let sum = sum.unwrap();
        assert_eq!(
            got,
            vec![
                "obs ipv4-addr src_ip ::FFFF:10.0.0.1 10.0.0.1",
                "obs ipv4-addr dest_ip 203.0.113.5 203.0.113.5",
                "hit dest_ip 203.0.113.5 indicator--ip",
                "obs domain-name http.hostname Evil.Example evil.example",
                "hit http.hostname Evil.Example indicator--dom",
                "obs url http.http_refer nope nope",
                "obs domain-name dns.rrname a.example. a.example",
                "obs url http.hostname+http.url http://Evil.Example:8080/x.php?a=1 http://evil.example:8080/x.php?a=1",
                "hit http.hostname+http.url http://Evil.Example:8080/x.php?a=1 indicator--url",
            ]
        );
        assert_eq!((sum.values, sum.hits), (6, 3));
        assert_eq!(sum.time_micros, Some(1_772_359_500_123_456));
        assert!(!sum.bad_time);
        // A value that is not its field's kind is looked up but not an observable.
        let (sum, got) = record(FieldMap::suricata_eve(), r#"{"src_ip":"not-an-ip"}"#);
        assert_eq!((sum.unwrap().values, got.len()), (1, 0));
    }

    /// `Scanner::observed` after a scan gives what the sink received, and nothing after
    /// a refused event.
    #[test]
    fn observed_after_the_scan_equals_what_the_sink_got() {
        let index = ix();
        let mut s = Scanner::new(Arc::new(FieldMap::suricata_eve()));
        let ev = r#"{"src_ip":"::FFFF:10.0.0.1","dest_ip":"203.0.113.5","http":{"hostname":"Evil.Example","url":"/x.php?a=1","http_port":8080},"dns":{"rrname":"a.example."}}"#;
        struct Rec(Vec<(ObservableKind, String, String, String)>);
        impl Sink for Rec {
            fn hit(&mut self, _: &Hit<'_>) {}
            fn observed(&mut self, o: &Observed<'_>) {
                self.0
                    .push((o.kind, o.value.into(), o.normalized.into(), o.field.into()));
            }
        }
        let mut rec = Rec(Vec::new());
        s.scan(&index, ev.as_bytes(), &mut rec).unwrap();
        let after: Vec<_> = s
            .observed()
            .map(|o| (o.kind, o.value.into(), o.normalized.into(), o.field.into()))
            .collect();
        assert_eq!(after, rec.0);
        assert_eq!(after.len(), 5);
        assert!(s
            .scan(&index, br#"{"src_ip":"10.0.0.1","x":[}"#, &mut rec)
            .is_err());
        assert_eq!(s.observed().count(), 0);
    }

    #[test]
    fn malformed_event_delivers_no_observed_values() {
        let (sum, got) = record(
            FieldMap::suricata_eve(),
            r#"{"src_ip":"10.0.0.1","dns":{"rrname":"a.example"},"x":[}"#,
        );
        assert!(sum.is_err());
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn observed_buffers_are_reused_between_events() {
        let index = ix();
        let mut s = Scanner::new(Arc::new(FieldMap::auto()));
        let mut r = Record::default();
        s.scan(&index, br#"{"src_ip":"10.0.0.1"}"#, &mut r).unwrap();
        s.scan(&index, br#"{"query":"evil.example"}"#, &mut r)
            .unwrap();
        assert_eq!(
            r.0,
            vec![
                "obs ipv4-addr src_ip 10.0.0.1 10.0.0.1",
                "obs domain-name query evil.example evil.example",
                "hit query evil.example indicator--dom",
            ]
        );
    }

    #[test]
    fn event_time_from_eve_and_zeek() {
        let t = 1_772_359_500_000_000i64;
        for (map, ev, want, bad) in [
            (
                FieldMap::suricata_eve(),
                r#"{"timestamp":"2026-03-01T10:05:00Z"}"#,
                Some(t),
                false,
            ),
            (
                FieldMap::suricata_eve(),
                r#"{"timestamp":"2026-03-01T10:05:00.5+00:00"}"#,
                Some(t + 500_000),
                false,
            ),
            (
                FieldMap::suricata_eve(),
                r#"{"timestamp":"2026-03-01T10:05:00.5Z"}"#,
                Some(t + 500_000),
                false,
            ),
            (
                FieldMap::zeek(),
                r#"{"ts":1772359500.123456,"uid":"C1"}"#,
                Some(t + 123_456),
                false,
            ),
            (
                FieldMap::zeek(),
                r#"{"ts":"2026-03-01T10:05:00.000001Z"}"#,
                Some(t + 1),
                false,
            ),
            (FieldMap::zeek(), r#"{"ts":"1772359500"}"#, Some(t), false),
            (
                FieldMap::auto(),
                r#"{"ts":1772359500,"uid":"C1"}"#,
                Some(t),
                false,
            ),
            (
                FieldMap::suricata_eve(),
                r#"{"src_ip":"10.0.0.1"}"#,
                None,
                false,
            ),
            (FieldMap::zeek(), r#"{"ts":null}"#, None, false),
            (
                FieldMap::suricata_eve(),
                r#"{"timestamp":"yesterday"}"#,
                None,
                true,
            ),
            (
                FieldMap::suricata_eve(),
                r#"{"timestamp":"2026-02-30T10:05:00Z"}"#,
                None,
                true,
            ),
            (FieldMap::zeek(), r#"{"ts":true}"#, None, true),
            (FieldMap::zeek(), r#"{"ts":{"s":1}}"#, None, true),
            (FieldMap::zeek(), r#"{"ts":1e999}"#, None, true),
            // A nested key of the same name is not the event's time.
            (
                FieldMap::suricata_eve(),
                r#"{"flow":{"timestamp":"x"}}"#,
                None,
                false,
            ),
        ] {
            let (sum, _) = record(map, ev);
            let sum = sum.unwrap();
            assert_eq!((sum.time_micros, sum.bad_time), (want, bad), "{ev}");
        }
        let mut m = FieldMap::new();
        m.add_mapping_json(&serde_json::json!({"event.created": "event-time"}))
            .unwrap();
        let (sum, _) = record(m, r#"{"event":{"created":"2026-03-01T10:05:00Z"}}"#);
        assert_eq!(sum.unwrap().time_micros, Some(t));
    }

    #[test]
    fn a_value_repeated_in_an_event_hits_under_each_field() {
        let ev = r#"{"dns":{"rrname":"evil.example","answers":[{"rrname":"evil.example","rdata":"203.0.113.9"}],"grouped":{"A":["203.0.113.9"]}}}"#;
        let (sum, got) = record(FieldMap::suricata_eve(), ev);
        assert_eq!(
            got,
            vec![
                "obs domain-name dns.rrname evil.example evil.example",
                "hit dns.rrname evil.example indicator--dom",
                "obs domain-name dns.answers.rrname evil.example evil.example",
                "hit dns.answers.rrname evil.example indicator--dom",
                "obs ipv4-addr dns.answers.rdata 203.0.113.9 203.0.113.9",
                "hit dns.answers.rdata 203.0.113.9 indicator--ip",
                "obs ipv4-addr dns.grouped.A 203.0.113.9 203.0.113.9",
                "hit dns.grouped.A 203.0.113.9 indicator--ip",
            ]
        );
        let sum = sum.unwrap();
        assert_eq!((sum.values, sum.hits), (4, 4));
        // Same text, other kind: looked up again (an `ip` field is not a domain).
        let (_, got) = record(
            FieldMap::suricata_eve(),
            r#"{"src_ip":"evil.example","dns":{"rrname":"evil.example"}}"#,
        );
        assert_eq!(
            got,
            vec![
                "obs domain-name dns.rrname evil.example evil.example",
                "hit dns.rrname evil.example indicator--dom",
            ]
        );
    }

    #[test]
    fn surrogate_pairs_unescape() {
        let mut out = Vec::new();
        unescape_into(br"a\ud83d\ude00b\u00e9", 0, &mut out).unwrap();
        assert_eq!(String::from_utf8(out.clone()).unwrap(), "a😀bé");
        unescape_into(br"\ud83d", 0, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "\u{FFFD}");
    }
}
