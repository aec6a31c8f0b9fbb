//! Streaming readers for STIX input files: a bundle, a JSON array of objects, a single
//! object, or newline-delimited JSON (each line an object or a bundle).
//!
//! *Invariant*: memory is bounded by the largest single object (itself capped by
//! `max_object_bytes`), never by the file: a 1 GB bundle is read element by element,
//! and an over-long line is skipped without being buffered.

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

/// Where an item came from, for messages: `file`, the object's index in the file
/// (0-based, counting every element, bad ones included) and, for JSON lines, the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub index: u64,
    pub line: Option<u64>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}, object #{}", self.index),
            None => write!(f, "object #{}", self.index),
        }
    }
}

/// One element read from the input, or why it could not be read.
#[derive(Debug)]
pub enum Item {
    Object(Location, Value),
    /// This element is unusable, but reading continues with the next one.
    Bad(Location, String),
}

/// The input as a whole could not be read (from here on); items already yielded stand.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read: {0}")]
    Io(#[from] io::Error),
    #[error("not JSON: {0}")]
    Syntax(String),
}

/// Default cap on a single object's (or JSON line's) size: 64 MiB.
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 64 * 1024 * 1024;

/// Reads every item of `reader`, calling `sink` for each. Returns the number of items.
/// A fatal error (unreadable input, broken JSON structure) stops the read; what was
/// already passed to `sink` is unaffected.
pub fn read_items<R: Read>(
    reader: R,
    max_object_bytes: u64,
    sink: &mut dyn FnMut(Item) -> io::Result<()>,
) -> Result<u64, InputError> {
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    // Peek at the first non-whitespace byte and at whether the first line is complete JSON.
    let first = loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Err(InputError::Syntax("the input is empty".into()));
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(pos) => {
                let b = buf[pos];
                reader.consume(pos);
                break b;
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    };
    match first {
        b'[' => read_document(reader, max_object_bytes, sink),
        b'{' => {
            if first_line_is_complete(&mut reader)? {
                read_lines(reader, max_object_bytes, sink)
            } else {
                read_document(reader, max_object_bytes, sink)
            }
        }
        other => Err(InputError::Syntax(format!(
            "expected a STIX bundle, a JSON array or JSON lines, but the input starts with {:?}",
            char::from(other)
        ))),
    }
}

/// True when the buffered first line (up to 1 MiB) parses as one JSON value: the file is
/// JSON lines. A pretty-printed document's first line (`{`) is not complete.
fn first_line_is_complete<R: Read>(reader: &mut BufReader<R>) -> io::Result<bool> {
    let buf = reader.fill_buf()?;
    let Some(end) = memchr_newline(buf) else {
        // No newline in the buffer: either a one-line document or a long first line.
        // Treat it as a document, which streams either way.
        return Ok(false);
    };
    let line = &buf[..end];
    Ok(serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok())
}

fn memchr_newline(buf: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', buf)
}

// ----- JSON lines -----

fn read_lines<R: Read>(
    mut reader: BufReader<R>,
    max: u64,
    sink: &mut dyn FnMut(Item) -> io::Result<()>,
) -> Result<u64, InputError> {
    let mut index = 0u64;
    let mut line_no = 0u64;
    let mut line = Vec::with_capacity(4096);
    loop {
        line.clear();
        line_no += 1;
        let Some((len, overflow)) = read_bounded_line(&mut reader, &mut line, max)? else {
            break;
        };
        let loc = Location {
            index,
            line: Some(line_no),
        };
        if overflow {
            sink(Item::Bad(
                loc,
                format!("the line is {len} bytes long, over the limit of {max} bytes; skipped"),
            ))?;
            index += 1;
            continue;
        }
        let text = trim_ascii(&line);
        if text.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Value>(text) {
            Ok(Value::Object(map)) if map.get("type").and_then(Value::as_str) == Some("bundle") => {
                match map.get("objects") {
                    Some(Value::Array(objects)) => {
                        for obj in objects {
                            let loc = Location {
                                index,
                                line: Some(line_no),
                            };
                            sink(Item::Object(loc, obj.clone()))?;
                            index += 1;
                        }
                    }
                    None => {}
                    Some(_) => {
                        sink(Item::Bad(
                            loc,
                            "the bundle's 'objects' is not an array".into(),
                        ))?;
                        index += 1;
                    }
                }
            }
            Ok(value) => {
                sink(Item::Object(loc, value))?;
                index += 1;
            }
            Err(e) => {
                let msg = if std::str::from_utf8(text).is_err() {
                    "the line is not valid UTF-8".to_owned()
                } else {
                    format!("not JSON: {e}")
                };
                sink(Item::Bad(loc, msg))?;
                index += 1;
            }
        }
    }
    Ok(index)
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// Reads one line into `out`, keeping at most `max` bytes. Returns `None` at the end of
/// the input, else the line's full length (without the newline) and whether it was
/// longer than `max` (then `out` is empty: the line was skipped, never buffered).
fn read_bounded_line<R: BufRead>(
    reader: &mut R,
    out: &mut Vec<u8>,
    max: u64,
) -> io::Result<Option<(u64, bool)>> {
    let mut total = 0u64;
    let mut overflow = false;
    let mut any = false;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(any.then_some((total, overflow)));
        }
        any = true;
        let (chunk, done) = match memchr_newline(buf) {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if !overflow {
            if total + chunk.len() as u64 > max {
                overflow = true;
                out.clear();
            } else {
                out.extend_from_slice(chunk);
            }
        }
        total += chunk.len() as u64;
        match done {
            Some(consumed) => {
                reader.consume(consumed);
                return Ok(Some((total, overflow)));
            }
            None => {
                let n = chunk.len();
                reader.consume(n);
            }
        }
    }
}

// ----- one JSON document (bundle, array, object, or several concatenated) -----

/// Counts bytes since the last element boundary and fails past the cap.
struct BudgetReader<R> {
    inner: R,
    used: Rc<Cell<u64>>,
    max: u64,
}

impl<R: Read> Read for BudgetReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let used = self.used.get() + n as u64;
        self.used.set(used);
        if used > self.max.saturating_add(1 << 20) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("an object is larger than the limit of {} bytes", self.max),
            ));
        }
        Ok(n)
    }
}

fn read_document<R: Read>(
    reader: BufReader<R>,
    max: u64,
    sink: &mut dyn FnMut(Item) -> io::Result<()>,
) -> Result<u64, InputError> {
    let used = Rc::new(Cell::new(0u64));
    let budget = BudgetReader {
        inner: reader,
        used: used.clone(),
        max,
    };
    let mut de = serde_json::Deserializer::from_reader(budget);
    let mut state = DocState {
        index: 0,
        used,
        sink_error: None,
        sink,
    };
    loop {
        let seed = TopLevel { state: &mut state };
        match seed.deserialize(&mut de) {
            Ok(()) => {}
            Err(e) => {
                if let Some(io_err) = state.sink_error.take() {
                    return Err(InputError::Io(io_err));
                }
                if e.is_eof() && state.index > 0 {
                    return Err(InputError::Syntax(format!(
                        "the input ends early (truncated JSON) after object #{}: {e}",
                        state.index - 1
                    )));
                }
                return Err(InputError::Syntax(e.to_string()));
            }
        }
        // Several documents may follow one another (concatenated JSON).
        match skip_ws_peek(&mut de) {
            Ok(true) => continue,
            Ok(false) => break,
            Err(e) => return Err(InputError::Syntax(e.to_string())),
        }
    }
    Ok(state.index)
}

fn skip_ws_peek<R: Read>(
    de: &mut serde_json::Deserializer<serde_json::de::IoRead<R>>,
) -> Result<bool, serde_json::Error> {
    // `end()` succeeds only when nothing but whitespace remains.
    match de.end() {
        Ok(()) => Ok(false),
        Err(e) if e.is_syntax() => Ok(true),
        Err(e) => Err(e),
    }
}

struct DocState<'s> {
    index: u64,
    used: Rc<Cell<u64>>,
    sink_error: Option<io::Error>,
    sink: &'s mut dyn FnMut(Item) -> io::Result<()>,
}

impl DocState<'_> {
    fn emit(&mut self, value: Value) -> bool {
        let loc = Location {
            index: self.index,
            line: None,
        };
        self.index += 1;
        self.used.set(0);
        if let Err(e) = (self.sink)(Item::Object(loc, value)) {
            self.sink_error = Some(e);
            return false;
        }
        true
    }
    fn bad(&mut self, msg: String) -> bool {
        let loc = Location {
            index: self.index,
            line: None,
        };
        self.index += 1;
        self.used.set(0);
        if let Err(e) = (self.sink)(Item::Bad(loc, msg)) {
            self.sink_error = Some(e);
            return false;
        }
        true
    }
}

struct TopLevel<'a, 's> {
    state: &'a mut DocState<'s>,
}

impl<'de> DeserializeSeed<'de> for TopLevel<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a STIX bundle, a STIX object or an array of objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        stream_elements(self.state, &mut seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // A bundle streams its `objects`; any other object is one item. Keys seen before
        // `objects` are kept so a non-bundle object can be rebuilt in order.
        let mut head = serde_json::Map::new();
        let mut streamed = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "objects" && head.get("type").and_then(Value::as_str) == Some("bundle") {
                map.next_value_seed(ObjectsSeed { state: self.state })?;
                streamed = true;
            } else {
                let v: Value = map.next_value()?;
                head.insert(key, v);
            }
        }
        let is_bundle = head.get("type").and_then(Value::as_str) == Some("bundle");
        if is_bundle {
            // A bundle whose `objects` came before its `type`: they were kept in `head`.
            if !streamed {
                match head.remove("objects") {
                    Some(Value::Array(items)) => {
                        for v in items {
                            if !self.state.emit(v) {
                                return Err(serde::de::Error::custom("stopped"));
                            }
                        }
                    }
                    Some(_)
                        if !self
                            .state
                            .bad("the bundle's 'objects' is not an array".into()) =>
                    {
                        return Err(serde::de::Error::custom("stopped"));
                    }
                    Some(_) => {}
                    None => {}
                }
            }
        } else if !self.state.emit(Value::Object(head)) {
            return Err(serde::de::Error::custom("stopped"));
        }
        Ok(())
    }
}

struct ObjectsSeed<'a, 's> {
    state: &'a mut DocState<'s>,
}

impl<'de> DeserializeSeed<'de> for ObjectsSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ObjectsSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the bundle's 'objects' array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        stream_elements(self.state, &mut seq)
    }
}

fn stream_elements<'de, A: SeqAccess<'de>>(
    state: &mut DocState<'_>,
    seq: &mut A,
) -> Result<(), A::Error> {
    state.used.set(0);
    while let Some(v) = seq.next_element::<Value>()? {
        if !state.emit(v) {
            return Err(serde::de::Error::custom("stopped"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &str) -> (Vec<String>, Result<u64, String>) {
        let mut out = Vec::new();
        let r = read_items(input.as_bytes(), 1000, &mut |item| {
            out.push(match item {
                Item::Object(loc, v) => format!("{loc}: {}", v["id"].as_str().unwrap_or("?")),
                Item::Bad(loc, msg) => format!("{loc}: BAD {msg}"),
            });
            Ok(())
        });
        (out, r.map_err(|e| e.to_string()))
    }

    #[test]
    fn streams_a_pretty_bundle() {
        let (items, r) = collect(
            "{\n \"type\": \"bundle\",\n \"id\": \"bundle--1\",\n \"objects\": [\n {\"id\": \"a\"},\n {\"id\": \"b\"}\n ]\n}\n",
        );
        assert_eq!(items, ["object #0: a", "object #1: b"]);
        assert_eq!(r, Ok(2));
    }

    #[test]
    fn bundle_with_objects_before_type() {
        let (items, _) = collect("{\"objects\":[{\"id\":\"a\"}],\"type\":\"bundle\",\"id\":\"x\"}");
        assert_eq!(items, ["object #0: a"]);
    }

    #[test]
    fn reads_arrays_and_single_objects() {
        let (items, _) = collect("[{\"id\":\"a\"},\n{\"id\":\"b\"}]");
        assert_eq!(items, ["object #0: a", "object #1: b"]);
        let (items, _) = collect("{\"type\":\"indicator\",\n\"id\":\"a\"}");
        assert_eq!(items, ["object #0: a"]);
    }

    #[test]
    fn json_lines_keep_going_past_bad_lines() {
        let big = format!("{{\"id\":\"{}\"}}", "x".repeat(2000));
        let input = format!("{{\"id\":\"a\"}}\n{{\"id\":\n\n{big}\n{{\"type\":\"bundle\",\"objects\":[{{\"id\":\"c\"}}]}}\n");
        let (items, r) = collect(&input);
        assert_eq!(items[0], "line 1, object #0: a");
        assert!(
            items[1].starts_with("line 2, object #1: BAD not JSON"),
            "{}",
            items[1]
        );
        assert!(
            items[2].contains("line 4, object #2: BAD the line is 2009 bytes long"),
            "{}",
            items[2]
        );
        assert_eq!(items[3], "line 5, object #3: c");
        assert_eq!(r, Ok(4));
    }

    #[test]
    fn truncated_document_reports_what_was_read() {
        let (items, r) =
            collect("{\"type\":\"bundle\",\n\"objects\":[{\"id\":\"a\"},{\"id\":\"b\"");
        assert_eq!(items, ["object #0: a"]);
        let err = r.unwrap_err();
        assert!(err.contains("truncated"), "{err}");
    }

    #[test]
    fn oversized_object_in_a_document_is_fatal_with_a_reason() {
        let input = format!(
            "[{{\"id\":\"a\"}},{{\"id\":\"{}\"}}]",
            "y".repeat(3_000_000)
        );
        let (items, r) = collect(&input);
        assert_eq!(items, ["object #0: a"]);
        assert!(r.unwrap_err().contains("larger than the limit"));
    }

    #[test]
    fn rejects_non_json_start() {
        let (_, r) = collect("hello");
        assert!(r.unwrap_err().contains("starts with 'h'"));
        let (_, r) = collect("   ");
        assert!(r.unwrap_err().contains("empty"));
    }
}
