//! Field maps: which JSON fields of a telemetry event hold which observable.
//!
//! A field path is a dot-separated list of object keys. Arrays are transparent: the
//! path `dns.answers.rdata` reaches `{"dns":{"answers":[{"rdata":"…"}]}}`, and a path
//! whose last key holds an array of strings looks up every string. A JSON key that itself
//! contains dots (Zeek's flat `"id.orig_h"`) is matched as its dot-separated parts, so the
//! path `id.orig_h` reaches both `{"id.orig_h": …}` and `{"id": {"orig_h": …}}`.
//!
//! Built-in maps: [`FieldMap::suricata_eve`], [`FieldMap::zeek`], and their union
//! [`FieldMap::auto`]. A user mapping file is a JSON object from field path to type:
//!
//! ```json
//! {"client.address": "ip", "query.name": "domain-name", "file.sha256": "hash:SHA-256"}
//! ```
//!
//! Types: `ipv4-addr`, `ipv6-addr`, `ip` (all three detect the family from the text),
//! `domain-name`, `ip-or-domain`, `url`, `email-addr`, `hash:<ALG>` (`MD5`, `SHA-1`,
//! `SHA-256`, `SHA-512`, `SHA3-256`, `SHA3-512`), and for building a URL from parts of an
//! HTTP event: `http-host`, `http-path` and `http-port` (`http://host[:port]path`, port
//! left out when it is 80). `event-time` marks the event's time (an ISO 8601 string or
//! epoch seconds, see [`crate::time`]); the built-in maps give EVE `timestamp` and Zeek
//! `ts` that role.

use crate::normalize::HashAlg;
use crate::ValueKind;
use serde_json::Value;

/// The role of a mapped field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The field's value is an observable of this kind.
    Value(ValueKind),
    /// An HTTP host: looked up as an IP or domain, and kept to build the request's URL.
    HttpHost,
    /// An HTTP request target: looked up as a URL when absolute, else joined with the
    /// host into `http://host[:port]path`.
    HttpPath,
    /// The server port, used only to build the request's URL.
    HttpPort,
    /// The event's time (ISO 8601 string or epoch seconds), reported as
    /// [`crate::scan::EventSummary::time_micros`]; see [`crate::time`].
    EventTime,
}

/// Errors in a user mapping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// The mapping is not a JSON object of strings.
    #[error("mapping at {pointer}: {reason}")]
    Shape { pointer: String, reason: String },
    /// An unknown observable type.
    #[error("mapping at {pointer}: unknown type {value:?} (expected ipv4-addr, ipv6-addr, ip, domain-name, ip-or-domain, url, email-addr, hash:<ALG>, http-host, http-path, http-port, event-time)")]
    UnknownType { pointer: String, value: String },
    /// An empty path or an empty key in a path.
    #[error("mapping at {pointer}: field path {path:?} has an empty key")]
    BadPath { pointer: String, path: String },
}

impl MappingError {
    /// A stable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            MappingError::Shape { .. } => "matcher.mapping.shape",
            MappingError::UnknownType { .. } => "matcher.mapping.unknown_type",
            MappingError::BadPath { .. } => "matcher.mapping.bad_path",
        }
    }
}

/// The first 8 bytes of a key (zero-padded) and its length, compared before the bytes.
#[inline(always)]
fn key_tag(key: &[u8]) -> (u64, usize) {
    if let Some(head) = key.first_chunk::<8>() {
        return (u64::from_le_bytes(*head), key.len());
    }
    // Short keys: a shift loop (at most 7 rounds) instead of a variable-length copy.
    let mut t = 0u64;
    for (i, &c) in key.iter().enumerate() {
        t |= u64::from(c) << (8 * i);
    }
    (t, key.len())
}

/// The tag of the key `b[start..end]` (as [`key_tag`]), read with one 8-byte load when
/// the event has 8 bytes from `start`.
#[inline(always)]
pub(crate) fn key_tag_at(b: &[u8], start: usize, end: usize) -> u64 {
    let len = end - start;
    match b.get(start..).and_then(|s| s.first_chunk::<8>()) {
        Some(head) => {
            let w = u64::from_le_bytes(*head);
            if len >= 8 {
                w
            } else {
                w & ((1u64 << (8 * len)) - 1)
            }
        }
        None => key_tag(&b[start..end]).0,
    }
}

/// Whether a byte of `w` equals `c` (exact: no false positives).
#[inline(always)]
fn has_byte(w: u64, c: u8) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOWS: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = w ^ (ONES * u64::from(c));
    // High bit of each byte set iff that byte of x is zero.
    let t = !(((x & LOWS) + LOWS) | x | LOWS);
    t != 0
}

#[derive(Debug, Clone)]
pub(crate) struct Child {
    tag: u64,
    len: usize,
    key: Box<[u8]>,
    node: u32,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    pub(crate) children: Vec<Child>,
    pub(crate) role: Option<(Role, u16)>,
    /// For nodes with more than [`LINEAR_CHILDREN`] children (the root of the EVE +
    /// Zeek map has about 30): an open-addressed table of child numbers + 1 by key tag,
    /// so an unmapped key costs one or two probes instead of a scan of every child.
    table: Box<[u16]>,
}

/// Up to this many children are searched one by one.
const LINEAR_CHILDREN: usize = 4;

/// The slot of a key tag and length in a table of `mask + 1` slots.
#[inline(always)]
fn slot(tag: u64, len: usize, mask: usize) -> usize {
    let h = (tag ^ (len as u64).rotate_right(8)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> 40) as usize & mask
}

impl Node {
    fn rebuild_table(&mut self) {
        if self.children.len() <= LINEAR_CHILDREN {
            self.table = Box::default();
            return;
        }
        let size = (self.children.len() * 4).next_power_of_two();
        let mask = size - 1;
        let mut table = vec![0u16; size];
        for (i, c) in self.children.iter().enumerate() {
            let mut at = slot(c.tag, c.len, mask);
            while table[at] != 0 {
                at = (at + 1) & mask;
            }
            table[at] = (i + 1) as u16;
        }
        self.table = table.into_boxed_slice();
    }

    #[inline(always)]
    fn find(&self, key: &[u8], tag: u64) -> Option<u32> {
        let len = key.len();
        let matches = |c: &Child| c.tag == tag && c.len == len && (len <= 8 || *c.key == *key);
        if self.table.is_empty() {
            return self.children.iter().find(|c| matches(c)).map(|c| c.node);
        }
        let mask = self.table.len() - 1;
        let mut at = slot(tag, len, mask);
        loop {
            let e = self.table[at];
            if e == 0 {
                return None;
            }
            let c = &self.children[usize::from(e) - 1];
            if matches(c) {
                return Some(c.node);
            }
            at = (at + 1) & mask;
        }
    }
}

/// Whether `key` (whose tag is `tag`) holds a dot.
#[inline(always)]
fn has_dot(key: &[u8], tag: u64) -> bool {
    if key.len() <= 8 {
        return has_byte(tag, b'.');
    }
    if let Some(tail) = key.last_chunk::<8>() {
        if key.len() <= 16 {
            return has_byte(tag, b'.') || has_byte(u64::from_le_bytes(*tail), b'.');
        }
    }
    memchr::memchr(b'.', key).is_some()
}

/// A compiled field map (a trie over keys).
#[derive(Debug, Clone)]
pub struct FieldMap {
    pub(crate) nodes: Vec<Node>,
    pub(crate) names: Vec<String>,
    /// `"host+path"` labels for composed URLs, by (host field, path field).
    pub(crate) composite: Vec<(u16, u16, String)>,
}

impl Default for FieldMap {
    fn default() -> Self {
        FieldMap {
            nodes: vec![Node::default()],
            names: Vec::new(),
            composite: Vec::new(),
        }
    }
}

const EVE: &[(&str, &str)] = &[
    ("timestamp", "event-time"),
    ("src_ip", "ip"),
    ("dest_ip", "ip"),
    ("dns.rrname", "domain-name"),
    ("dns.rdata", "ip-or-domain"),
    ("dns.query.rrname", "domain-name"),
    ("dns.queries.rrname", "domain-name"),
    ("dns.answers.rrname", "domain-name"),
    ("dns.answers.rdata", "ip-or-domain"),
    ("dns.grouped.A", "ip"),
    ("dns.grouped.AAAA", "ip"),
    ("dns.grouped.CNAME", "domain-name"),
    ("http.hostname", "http-host"),
    ("http.url", "http-path"),
    ("http.http_port", "http-port"),
    ("http.http_refer", "url"),
    ("tls.sni", "domain-name"),
    ("quic.sni", "domain-name"),
    ("fileinfo.md5", "hash:MD5"),
    ("fileinfo.sha1", "hash:SHA-1"),
    ("fileinfo.sha256", "hash:SHA-256"),
    ("smtp.mail_from", "email-addr"),
    ("smtp.rcpt_to", "email-addr"),
    ("email.from", "email-addr"),
    ("email.to", "email-addr"),
    ("email.cc", "email-addr"),
];

const ZEEK: &[(&str, &str)] = &[
    ("ts", "event-time"),
    ("id.orig_h", "ip"),
    ("id.resp_h", "ip"),
    ("query", "domain-name"),
    ("answers", "ip-or-domain"),
    ("host", "http-host"),
    ("uri", "http-path"),
    ("id.resp_p", "http-port"),
    ("referrer", "url"),
    ("server_name", "domain-name"),
    ("md5", "hash:MD5"),
    ("sha1", "hash:SHA-1"),
    ("sha256", "hash:SHA-256"),
    ("tx_hosts", "ip"),
    ("rx_hosts", "ip"),
    ("san.dns", "domain-name"),
    ("san.ip", "ip"),
    ("mailfrom", "email-addr"),
    ("rcptto", "email-addr"),
    ("from", "email-addr"),
    ("to", "email-addr"),
];

/// Parses a mapping type name.
pub fn parse_role(t: &str) -> Option<Role> {
    Some(match t {
        "ipv4-addr" | "ipv6-addr" | "ip" => Role::Value(ValueKind::Ip),
        "domain-name" => Role::Value(ValueKind::Domain),
        "ip-or-domain" => Role::Value(ValueKind::IpOrDomain),
        "url" => Role::Value(ValueKind::Url),
        "email-addr" => Role::Value(ValueKind::Email),
        "http-host" => Role::HttpHost,
        "http-path" => Role::HttpPath,
        "http-port" => Role::HttpPort,
        "event-time" => Role::EventTime,
        _ => {
            let alg = t
                .strip_prefix("hash:")
                .or_else(|| t.strip_prefix("file:hashes."))?;
            Role::Value(ValueKind::Hash(HashAlg::from_name(alg.trim_matches('\''))?))
        }
    })
}

impl FieldMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in Suricata EVE map.
    pub fn suricata_eve() -> Self {
        let mut m = Self::new();
        m.add_builtin(EVE);
        m
    }

    /// The built-in Zeek JSON map (conn, dns, http, ssl, files, x509, smtp logs).
    pub fn zeek() -> Self {
        let mut m = Self::new();
        m.add_builtin(ZEEK);
        m
    }

    /// The union of the EVE and Zeek maps (their keys do not collide).
    pub fn auto() -> Self {
        let mut m = Self::new();
        m.add_builtin(EVE);
        m.add_builtin(ZEEK);
        m
    }

    fn add_builtin(&mut self, table: &[(&str, &str)]) {
        for (path, t) in table {
            if let Some(role) = parse_role(t) {
                // Built-in paths are non-empty by construction.
                let _ = self.add(path, role);
            }
        }
    }

    /// Field display names, by field number.
    pub fn field_name(&self, no: u16) -> &str {
        self.names.get(no as usize).map_or("", String::as_str)
    }

    /// Number of mapped fields.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no field is mapped.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Maps `path` to `role` (replacing an earlier role for the same path).
    pub fn add(&mut self, path: &str, role: Role) -> Result<(), String> {
        if path.is_empty() || path.split('.').any(str::is_empty) {
            return Err(path.to_owned());
        }
        let mut node = 0usize;
        for key in path.split('.') {
            let existing = self.nodes[node]
                .children
                .iter()
                .find(|c| &*c.key == key.as_bytes())
                .map(|c| c.node as usize);
            node = match existing {
                Some(n) => n,
                None => {
                    let n = self.nodes.len();
                    self.nodes.push(Node::default());
                    let (tag, len) = key_tag(key.as_bytes());
                    self.nodes[node].children.push(Child {
                        tag,
                        len,
                        key: key.as_bytes().into(),
                        node: n as u32,
                    });
                    self.nodes[node].rebuild_table();
                    n
                }
            };
        }
        let no = match self.names.iter().position(|n| n == path) {
            Some(p) => p as u16,
            None => {
                self.names.push(path.to_owned());
                (self.names.len() - 1) as u16
            }
        };
        self.nodes[node].role = Some((role, no));
        self.rebuild_aliases();
        self.rebuild_composites();
        Ok(())
    }

    /// Gives each node its two-level descendants as children of their own under the
    /// dotted key (`id` → `orig_h` also as `id.orig_h`), so a flattened key such as
    /// Zeek's is found with one probe instead of a split and a probe per part. The node
    /// reached is the one the split would reach; keys of three or more parts still split.
    fn rebuild_aliases(&mut self) {
        for n in &mut self.nodes {
            n.children.retain(|c| !c.key.contains(&b'.'));
        }
        for at in 0..self.nodes.len() {
            let mut aliases = Vec::new();
            for c in &self.nodes[at].children {
                for g in &self.nodes[c.node as usize].children {
                    let mut key = Vec::with_capacity(c.key.len() + 1 + g.key.len());
                    key.extend_from_slice(&c.key);
                    key.push(b'.');
                    key.extend_from_slice(&g.key);
                    let (tag, len) = key_tag(&key);
                    aliases.push(Child {
                        tag,
                        len,
                        key: key.into(),
                        node: g.node,
                    });
                }
            }
            self.nodes[at].children.extend(aliases);
            self.nodes[at].rebuild_table();
        }
    }

    fn rebuild_composites(&mut self) {
        let mut hosts = Vec::new();
        let mut paths = Vec::new();
        for n in &self.nodes {
            match n.role {
                Some((Role::HttpHost, no)) => hosts.push(no),
                Some((Role::HttpPath, no)) => paths.push(no),
                _ => {}
            }
        }
        self.composite.clear();
        for &h in &hosts {
            for &p in &paths {
                let label = format!("{}+{}", self.field_name(h), self.field_name(p));
                self.composite.push((h, p, label));
            }
        }
    }

    /// The label of a URL composed from fields `host` and `path`.
    pub(crate) fn composite_label(&self, host: u16, path: u16) -> &str {
        self.composite
            .iter()
            .find(|c| c.0 == host && c.1 == path)
            .map_or("", |c| c.2.as_str())
    }

    /// Adds the entries of a user mapping (a JSON object `{"path": "type"}`).
    pub fn add_mapping_json(&mut self, mapping: &Value) -> Result<(), MappingError> {
        let obj = mapping.as_object().ok_or_else(|| MappingError::Shape {
            pointer: String::new(),
            reason: "expected a JSON object from field path to observable type".into(),
        })?;
        for (path, t) in obj {
            let pointer = format!("/{}", path.replace('~', "~0").replace('/', "~1"));
            let t = t.as_str().ok_or_else(|| MappingError::Shape {
                pointer: pointer.clone(),
                reason: "expected a string naming an observable type".into(),
            })?;
            let role = parse_role(t).ok_or_else(|| MappingError::UnknownType {
                pointer: pointer.clone(),
                value: t.to_owned(),
            })?;
            self.add(path, role)
                .map_err(|path| MappingError::BadPath { pointer, path })?;
        }
        Ok(())
    }

    /// The child of `node` reached by `key` (a JSON key, split on dots).
    #[inline(always)]
    pub(crate) fn step(&self, node: u32, key: &[u8]) -> Option<u32> {
        self.step_tagged(node, key, key_tag(key).0)
    }

    /// [`FieldMap::step`] with the key's tag ([`key_tag`]) already computed by the caller
    /// (the scanner reads it straight from the event's bytes).
    #[inline(always)]
    pub(crate) fn step_tagged(&self, node: u32, key: &[u8], tag: u64) -> Option<u32> {
        let n = &self.nodes[node as usize];
        if n.children.is_empty() {
            return None;
        }
        // A plain key, or a dotted one of two parts ([`FieldMap::rebuild_aliases`]).
        if let Some(c) = n.find(key, tag) {
            return Some(c);
        }
        if !has_dot(key, tag) {
            return None;
        }
        let mut n = node;
        for part in key.split(|&b| b == b'.') {
            n = self.child(n, part)?;
        }
        Some(n)
    }

    #[inline(always)]
    fn child(&self, node: u32, part: &[u8]) -> Option<u32> {
        self.nodes[node as usize].find(part, key_tag(part).0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The root of the EVE + Zeek map is searched through its hash table: every mapped
    /// path is found, by nested keys and by Zeek's dotted keys, and keys that differ
    /// from a mapped one only after their first 8 bytes, by length, or by one byte are
    /// not.
    #[test]
    fn hashed_children_find_exactly_the_mapped_keys() {
        let m = FieldMap::auto();
        assert!(m.nodes[0].children.len() > LINEAR_CHILDREN);
        assert!(!m.nodes[0].table.is_empty());
        let walk = |path: &str| -> Option<u32> {
            let mut n = 0u32;
            for part in path.split('.') {
                n = m.step(n, part.as_bytes())?;
            }
            Some(n)
        };
        for (path, _) in EVE.iter().chain(ZEEK) {
            let n = walk(path).unwrap_or_else(|| panic!("{path} not found"));
            assert!(m.nodes[n as usize].role.is_some(), "{path}");
            // The dotted form, as one key, reaches the same node.
            assert_eq!(m.step(0, path.as_bytes()), Some(n), "{path} as one key");
        }
        for key in [
            "timestamq",
            "timestamp_",
            "timestam",
            "src_ipx",
            "server_namf",
            "sha2567",
            "uid",
            "flow_id",
            "id.orig_p",
            "id.resp_p2",
            "answerz",
            "",
            "t",
            "event_type",
            "dns.rrnamx",
            "http.hostnam",
            "a.b.c.d.e",
        ] {
            assert_eq!(m.step(0, key.as_bytes()), None, "{key:?}");
        }
    }

    /// A dotted key reaches, in one step, exactly the node the walk part by part
    /// reaches, whether it has two parts (a child under its dotted key) or more (split):
    /// every combination of one to three parts drawn from the map's own keys, some
    /// unknown ones and an empty one, from every node, in the built-in map and in a user
    /// map with deeper paths added after it (the dotted children are rebuilt).
    #[test]
    fn dotted_keys_reach_what_the_walk_reaches() {
        let mut user = FieldMap::auto();
        user.add("a.b.c.d", Role::Value(ValueKind::Domain)).unwrap();
        user.add("id.deep.orig_h", Role::Value(ValueKind::Ip))
            .unwrap();
        user.add("dns.x", Role::Value(ValueKind::Domain)).unwrap();
        for m in [FieldMap::auto(), FieldMap::zeek(), user] {
            let walk = |from: u32, key: &str| -> Option<u32> {
                let mut n = from;
                for part in key.split('.') {
                    n = m.nodes[n as usize]
                        .children
                        .iter()
                        .find(|c| !c.key.contains(&b'.') && *c.key == *part.as_bytes())?
                        .node;
                }
                Some(n)
            };
            let mut parts: Vec<String> = m
                .nodes
                .iter()
                .flat_map(|n| n.children.iter())
                .filter(|c| !c.key.contains(&b'.'))
                .map(|c| String::from_utf8(c.key.to_vec()).unwrap())
                .collect();
            parts.sort();
            parts.dedup();
            parts.extend(["nope".to_owned(), String::new(), "orig_hh".to_owned()]);
            let mut two_part_hits = 0;
            for from in 0..m.nodes.len() as u32 {
                for a in &parts {
                    for b in &parts {
                        let key = format!("{a}.{b}");
                        let got = m.step(from, key.as_bytes());
                        assert_eq!(got, walk(from, &key), "{key:?} from {from}");
                        two_part_hits += usize::from(got.is_some());
                        for c in ["rrname", "orig_h", "c", "nope"] {
                            let key = format!("{a}.{b}.{c}");
                            assert_eq!(m.step(from, key.as_bytes()), walk(from, &key), "{key:?}");
                        }
                    }
                    assert_eq!(m.step(from, a.as_bytes()), walk(from, a), "{a:?}");
                }
            }
            assert!(two_part_hits >= 5, "{two_part_hits}");
        }
    }

    /// Keys of 9 to 24 bytes are told apart in every byte, by the linear search and by
    /// the hashed table (the tag holds the first 8 bytes; longer keys are compared
    /// whole).
    #[test]
    fn long_keys_differ_in_any_byte() {
        let keys: Vec<String> = (9..=24)
            .map(|n| "abcdefghijklmnopqrstuvwxyz"[..n].to_owned())
            .collect();
        for few in [2usize, keys.len()] {
            let mut m = FieldMap::suricata_eve();
            let mapping: serde_json::Map<String, Value> = keys[..few]
                .iter()
                .map(|k| (format!("custom.{k}"), Value::from("domain-name")))
                .collect();
            m.add_mapping_json(&Value::Object(mapping)).unwrap();
            let custom = m.step(0, b"custom").unwrap();
            for k in &keys[..few] {
                assert!(m.step(custom, k.as_bytes()).is_some(), "{k}");
                for i in 0..k.len() {
                    let mut other = k.clone().into_bytes();
                    other[i] = b'_';
                    assert_eq!(m.step(custom, &other), None, "{k} changed at {i}");
                }
            }
        }
    }

    #[test]
    fn tags_from_event_bytes_equal_tags_of_keys() {
        let ev = br#"{"a":1,"src_ip":2,"timestamp":3,"dns.x":4,"k"}"#;
        for (s, e) in [(2, 3), (8, 14), (19, 28), (33, 38), (43, 44)] {
            assert_eq!(key_tag_at(ev, s, e), key_tag(&ev[s..e]).0, "{s}..{e}");
        }
        assert!(has_byte(key_tag(b"id.orig").0, b'.'));
        assert!(!has_byte(key_tag(b"id_orig").0, b'.'));
        let m = FieldMap::zeek();
        let tag = key_tag_at(b"\"id.orig_h\"", 1, 10);
        assert_eq!(m.step_tagged(0, b"id.orig_h", tag), m.step(0, b"id.orig_h"));
        assert!(m.step(0, b"id.orig_h").is_some());
    }

    #[test]
    fn trie_steps_and_dotted_keys() {
        let m = FieldMap::zeek();
        let id = m.step(0, b"id").unwrap();
        let a = m.step(id, b"orig_h").unwrap();
        let b = m.step(0, b"id.orig_h").unwrap();
        assert_eq!(a, b);
        assert_eq!(
            m.nodes[a as usize].role.map(|r| r.0),
            Some(Role::Value(ValueKind::Ip))
        );
        assert!(m.step(0, b"id.orig_p").is_none());
        assert!(m.step(0, b"nope").is_none());
    }

    #[test]
    fn user_mapping_errors_name_the_pointer() {
        let mut m = FieldMap::new();
        let v: Value = serde_json::json!({"a.b": "domain-name", "c": "hash:SHA-256"});
        m.add_mapping_json(&v).unwrap();
        assert_eq!(m.len(), 2);
        let e = m
            .add_mapping_json(&serde_json::json!({"x/y": "host-name"}))
            .unwrap_err();
        assert_eq!(e.code(), "matcher.mapping.unknown_type");
        assert!(e.to_string().contains("/x~1y"), "{e}");
        let e = m
            .add_mapping_json(&serde_json::json!({"a..b": "ip"}))
            .unwrap_err();
        assert_eq!(e.code(), "matcher.mapping.bad_path");
        let e = m
            .add_mapping_json(&serde_json::json!({"a": 1}))
            .unwrap_err();
        assert_eq!(e.code(), "matcher.mapping.shape");
        let e = m.add_mapping_json(&serde_json::json!([])).unwrap_err();
        assert_eq!(e.code(), "matcher.mapping.shape");
    }

    #[test]
    fn roles_parse() {
        assert_eq!(
            parse_role("hash:sha256"),
            Some(Role::Value(ValueKind::Hash(HashAlg::Sha256)))
        );
        assert_eq!(
            parse_role("file:hashes.'SHA-1'"),
            Some(Role::Value(ValueKind::Hash(HashAlg::Sha1)))
        );
        assert_eq!(parse_role("ipv6-addr"), Some(Role::Value(ValueKind::Ip)));
        assert_eq!(parse_role("hash:crc32"), None);
        assert_eq!(parse_role("event-time"), Some(Role::EventTime));
        for (m, key) in [
            (FieldMap::suricata_eve(), "timestamp"),
            (FieldMap::zeek(), "ts"),
        ] {
            let n = m.step(0, key.as_bytes()).unwrap();
            assert_eq!(m.nodes[n as usize].role.map(|r| r.0), Some(Role::EventTime));
        }
        let m = FieldMap::suricata_eve();
        let host = m.names.iter().position(|n| n == "http.hostname").unwrap() as u16;
        let path = m.names.iter().position(|n| n == "http.url").unwrap() as u16;
        assert_eq!(m.composite_label(host, path), "http.hostname+http.url");
    }
}
