//! The Nadhir sharing extension: the originator's relay permission, the provenance
//! path, the TLP audience the object was shared to, and the sending node's signature,
//! carried with every object that leaves a node.
//!
//! It is a STIX 2.1 property-extension (§7.3) with a deterministic id (UUIDv5 in the URL
//! namespace of `https://example.invalid/nadhir/stix/extension/sharing/1.0`):
//!
//! ```json
//! "extensions": {
//!   "extension-definition--a0aa3fc7-6b9d-58d3-a79a-e98dc01215c0": {
//!     "extension_type": "property-extension",
//!     "originator": "identity--…",      // the node the object was first published at
//!     "may_relay": false,               // may the recipient send it further?
//!     "provenance": ["identity--…", …], // nodes it has left, originator first
//!     "recipients": ["…"],              // organisations it was shared to (optional)
//!     "communities": ["…"],             // communities it was shared into (optional)
//!     "signer": "identity--…",          // the node that signed this copy (optional,
//!     "signature": "<base64, 64 bytes>" //   with `signature`: both or neither)
//!   }
//! }
//! ```
//!
//! *Invariant*: `may_relay` can only be narrowed along the path: a relay sets it to the
//! value it received AND its own agreement's `may_reshare` with the next partner.
//!
//! The signature covers the object without this extension (see the federation crate),
//! so a relay can extend the provenance, narrow `may_relay` and re-sign without touching
//! the content.

use crate::error::ExtensionError;
use crate::model::{CommunityId, NodeId, OrgId};
use serde_json::{json, Map, Value};

/// The extension-definition id of the Nadhir sharing extension.
pub const SHARING_EXTENSION_ID: &str = "extension-definition--a0aa3fc7-6b9d-58d3-a79a-e98dc01215c0";
/// The identity that authors the extension definition (the Nadhir product; UUIDv5 of
/// `https://example.invalid/nadhir/identity` in the URL namespace).
pub const NADHIR_IDENTITY_ID: &str = "identity--9fc8f021-fafe-55bf-98a6-78d9d090efee";

/// The extension-definition object (valid STIX 2.1; emitted with exports and on sync).
pub fn sharing_extension_definition() -> stix::Object {
    let value = json!({
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": SHARING_EXTENSION_ID,
        "created_by_ref": NADHIR_IDENTITY_ID,
        "created": "2026-11-22T00:00:00.000Z",
        "modified": "2026-11-22T00:00:00.000Z",
        "name": "Nadhir sharing",
        "description": "Relay permission, provenance, TLP audience and signature of an object shared between Nadhir nodes. Properties: originator (identity id of the node the object was first published at), may_relay (boolean: whether the recipient may send it to further nodes), provenance (list of identity ids of the nodes the object has left, originator first), recipients (optional list of organisation ids the object was shared to: its TLP:AMBER audience), communities (optional list of community ids the object was shared into: its TLP:GREEN audience), signer (optional identity id of the node that signed this copy) and signature (optional standard base64 of the 64-byte Ed25519 signature over the RFC 8785 canonical JSON of the object without this extension); signer and signature appear together or not at all.",
        "schema": "https://example.invalid/nadhir/crates/policy/README.md#the-sharing-extension",
        "version": "1.0.0",
        "extension_types": ["property-extension"]
    });
    match stix::Object::from_value(value) {
        Ok(o) => o,
        // The literal above has string `type` and `id`.
        Err(_) => unreachable!("the extension definition literal is an object with type and id"),
    }
}

/// A node's signature over an object (the object without the sharing extension; see
/// the federation crate). JSON keys in the extension: `signer` and `signature`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The node that signed (its identity id).
    pub signer: NodeId,
    /// Standard base64 (with padding) of the 64-byte Ed25519 signature.
    pub value: String,
}

/// The sharing information carried with an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharingInfo {
    pub originator: NodeId,
    pub may_relay: bool,
    pub provenance: Vec<NodeId>,
    /// The organisations the object was shared to (its TLP:AMBER audience).
    pub recipients: Vec<OrgId>,
    /// The communities the object was shared into (its TLP:GREEN audience).
    pub communities: Vec<CommunityId>,
    /// The sending node's signature, when the copy has been sealed.
    pub signature: Option<Signature>,
}

impl SharingInfo {
    /// Whether `node` already appears on the object's path.
    pub fn has_visited(&self, node: &NodeId) -> bool {
        self.originator == *node || self.provenance.contains(node)
    }

    /// What the object carries when `local` sends it on: a locally published object
    /// (`current` is `None`) gets `local` as originator and `may_reshare` as permission;
    /// a relayed one keeps its originator, narrows the permission and extends the path.
    /// The audience starts empty (set it with [`SharingInfo::with_audience`]) and the
    /// signature is `None`: the sender signs its own copy.
    pub fn outgoing(current: Option<&SharingInfo>, local: &NodeId, may_reshare: bool) -> Self {
        match current {
            None => SharingInfo {
                originator: local.clone(),
                may_relay: may_reshare,
                provenance: vec![local.clone()],
                recipients: Vec::new(),
                communities: Vec::new(),
                signature: None,
            },
            Some(cur) => {
                let mut provenance = cur.provenance.clone();
                if provenance.last() != Some(local) {
                    provenance.push(local.clone());
                }
                SharingInfo {
                    originator: cur.originator.clone(),
                    may_relay: cur.may_relay && may_reshare,
                    provenance,
                    recipients: Vec::new(),
                    communities: Vec::new(),
                    signature: None,
                }
            }
        }
    }

    /// Sets the TLP audience, dropping repeats (first occurrence kept).
    pub fn with_audience(
        mut self,
        recipients: impl IntoIterator<Item = OrgId>,
        communities: impl IntoIterator<Item = CommunityId>,
    ) -> Self {
        self.recipients = dedup(recipients);
        self.communities = dedup(communities);
        self
    }

    fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("extension_type".into(), json!("property-extension"));
        m.insert("originator".into(), json!(self.originator.as_str()));
        m.insert("may_relay".into(), json!(self.may_relay));
        m.insert(
            "provenance".into(),
            json!(self
                .provenance
                .iter()
                .map(NodeId::as_str)
                .collect::<Vec<_>>()),
        );
        if !self.recipients.is_empty() {
            m.insert(
                "recipients".into(),
                json!(self
                    .recipients
                    .iter()
                    .map(OrgId::as_str)
                    .collect::<Vec<_>>()),
            );
        }
        if !self.communities.is_empty() {
            m.insert(
                "communities".into(),
                json!(self
                    .communities
                    .iter()
                    .map(CommunityId::as_str)
                    .collect::<Vec<_>>()),
            );
        }
        if let Some(sig) = &self.signature {
            m.insert("signer".into(), json!(sig.signer.as_str()));
            m.insert("signature".into(), json!(sig.value));
        }
        Value::Object(m)
    }
}

fn dedup<T: std::hash::Hash + Eq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    items
        .into_iter()
        .collect::<indexmap::IndexSet<T>>()
        .into_iter()
        .collect()
}

/// Whether `s` has the shape of standard base64 (with padding) of 64 bytes: 86
/// alphabet characters then `==`. Whether the bytes decode is the verifier's check.
fn is_signature_b64(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 88
        && b[..86]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        && &b[86..] == b"=="
}

fn is_identity_id(s: &str) -> bool {
    let Some(uuid) = s.strip_prefix("identity--") else {
        return false;
    };
    let b = uuid.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Reads and validates the sharing extension of an object: `Ok(None)` when absent.
pub fn read_sharing(object: &stix::Object) -> Result<Option<SharingInfo>, ExtensionError> {
    let base = format!("/extensions/{SHARING_EXTENSION_ID}");
    let err = |pointer: String, message: &str| ExtensionError {
        object_id: object.id().to_owned(),
        pointer,
        message: message.to_owned(),
    };
    let Some(ext) = object
        .get("extensions")
        .and_then(|e| e.get(SHARING_EXTENSION_ID))
    else {
        return Ok(None);
    };
    let Value::Object(ext) = ext else {
        return Err(err(base, "the extension must be a JSON object"));
    };
    if ext.get("extension_type").and_then(Value::as_str) != Some("property-extension") {
        return Err(err(
            format!("{base}/extension_type"),
            "must be \"property-extension\"",
        ));
    }
    let originator = match ext.get("originator").and_then(Value::as_str) {
        Some(s) if is_identity_id(s) => NodeId::new(s),
        _ => {
            return Err(err(
                format!("{base}/originator"),
                "must be an identity id (identity--<uuid>)",
            ))
        }
    };
    let Some(may_relay) = ext.get("may_relay").and_then(Value::as_bool) else {
        return Err(err(format!("{base}/may_relay"), "must be a boolean"));
    };
    let Some(list) = ext.get("provenance").and_then(Value::as_array) else {
        return Err(err(
            format!("{base}/provenance"),
            "must be a list of identity ids",
        ));
    };
    let mut provenance: Vec<NodeId> = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        match v.as_str() {
            Some(s) if is_identity_id(s) => {
                let node = NodeId::new(s);
                if provenance.contains(&node) {
                    return Err(err(
                        format!("{base}/provenance/{i}"),
                        "node appears twice on the path (a loop)",
                    ));
                }
                provenance.push(node);
            }
            _ => {
                return Err(err(
                    format!("{base}/provenance/{i}"),
                    "must be an identity id (identity--<uuid>)",
                ))
            }
        }
    }
    if provenance.first() != Some(&originator) {
        return Err(err(
            format!("{base}/provenance/0"),
            "the path must start with the originator",
        ));
    }
    let recipients = read_names(ext, "recipients", &base, &err)?
        .into_iter()
        .map(OrgId::new)
        .collect();
    let communities = read_names(ext, "communities", &base, &err)?
        .into_iter()
        .map(CommunityId::new)
        .collect();
    let signature = match (ext.get("signer"), ext.get("signature")) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(err(
                format!("{base}/signature"),
                "missing: signer and signature appear together",
            ))
        }
        (None, Some(_)) => {
            return Err(err(
                format!("{base}/signer"),
                "missing: signer and signature appear together",
            ))
        }
        (Some(signer), Some(value)) => {
            let signer = match signer.as_str() {
                Some(s) if is_identity_id(s) => NodeId::new(s),
                _ => {
                    return Err(err(
                        format!("{base}/signer"),
                        "must be an identity id (identity--<uuid>)",
                    ))
                }
            };
            let value = match value.as_str() {
                Some(s) if is_signature_b64(s) => s.to_owned(),
                _ => {
                    return Err(err(
                        format!("{base}/signature"),
                        "must be the standard base64 (with padding) of a 64-byte signature",
                    ))
                }
            };
            Some(Signature { signer, value })
        }
    };
    for key in ext.keys() {
        if !matches!(
            key.as_str(),
            "extension_type"
                | "originator"
                | "may_relay"
                | "provenance"
                | "recipients"
                | "communities"
                | "signer"
                | "signature"
        ) {
            return Err(err(format!("{base}/{key}"), "unknown property"));
        }
    }
    Ok(Some(SharingInfo {
        originator,
        may_relay,
        provenance,
        recipients,
        communities,
        signature,
    }))
}

/// An optional list of non-empty strings without repeats (absent = empty).
fn read_names(
    ext: &Map<String, Value>,
    key: &str,
    base: &str,
    err: &dyn Fn(String, &str) -> ExtensionError,
) -> Result<Vec<String>, ExtensionError> {
    let Some(value) = ext.get(key) else {
        return Ok(Vec::new());
    };
    let Some(list) = value.as_array() else {
        return Err(err(format!("{base}/{key}"), "must be a list of strings"));
    };
    let mut out: indexmap::IndexSet<&str> = indexmap::IndexSet::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        match v.as_str() {
            Some(s) if !s.is_empty() => {
                if !out.insert(s) {
                    return Err(err(format!("{base}/{key}/{i}"), "appears twice"));
                }
            }
            _ => {
                return Err(err(
                    format!("{base}/{key}/{i}"),
                    "must be a non-empty string",
                ))
            }
        }
    }
    Ok(out.into_iter().map(str::to_owned).collect())
}

/// Writes (or replaces) the sharing extension on a copy of the object.
pub fn stamp(object: &mut stix::Object, info: &SharingInfo) {
    let map = object.as_map_mut();
    let entry = map
        .entry("extensions")
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    if let Value::Object(exts) = entry {
        exts.insert(SHARING_EXTENSION_ID.to_owned(), info.to_value());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "identity--00000000-0000-4000-8000-00000000000a";
    const H: &str = "identity--00000000-0000-4000-8000-0000000000f0";

    fn indicator() -> stix::Object {
        stix::Object::from_value(json!({"type": "indicator", "id": "indicator--1"})).unwrap()
    }

    #[test]
    fn round_trip_and_narrowing() {
        let a = NodeId::new(A);
        let h = NodeId::new(H);
        let first = SharingInfo::outgoing(None, &a, true);
        assert_eq!(first.provenance, vec![a.clone()]);
        let mut o = indicator();
        stamp(&mut o, &first);
        assert_eq!(read_sharing(&o).unwrap(), Some(first.clone()));
        let relayed = SharingInfo::outgoing(Some(&first), &h, false);
        assert_eq!(relayed.originator, a);
        assert!(!relayed.may_relay);
        assert_eq!(relayed.provenance, vec![a.clone(), h.clone()]);
        assert!(relayed.has_visited(&h));
        // narrowing never widens
        let no = SharingInfo::outgoing(None, &a, false);
        assert!(!SharingInfo::outgoing(Some(&no), &h, true).may_relay);
    }

    #[test]
    fn invalid_extensions_are_located() {
        let cases = [
            (json!("x"), "/extensions/".to_owned() + SHARING_EXTENSION_ID),
            (
                json!({"extension_type": "property-extension", "originator": "node-a", "may_relay": true, "provenance": []}),
                format!("/extensions/{SHARING_EXTENSION_ID}/originator"),
            ),
            (
                json!({"extension_type": "property-extension", "originator": A, "may_relay": "yes", "provenance": [A]}),
                format!("/extensions/{SHARING_EXTENSION_ID}/may_relay"),
            ),
            (
                json!({"extension_type": "property-extension", "originator": A, "may_relay": true, "provenance": [A, H, A]}),
                format!("/extensions/{SHARING_EXTENSION_ID}/provenance/2"),
            ),
            (
                json!({"extension_type": "property-extension", "originator": A, "may_relay": true, "provenance": [H]}),
                format!("/extensions/{SHARING_EXTENSION_ID}/provenance/0"),
            ),
            (
                json!({"extension_type": "toplevel-property-extension", "originator": A, "may_relay": true, "provenance": [A]}),
                format!("/extensions/{SHARING_EXTENSION_ID}/extension_type"),
            ),
            (
                json!({"extension_type": "property-extension", "originator": A, "may_relay": true, "provenance": [A], "x": 1}),
                format!("/extensions/{SHARING_EXTENSION_ID}/x"),
            ),
        ];
        for (ext, pointer) in cases {
            let mut o = indicator();
            o.as_map_mut()
                .insert("extensions".into(), json!({ SHARING_EXTENSION_ID: ext }));
            let e = read_sharing(&o).unwrap_err();
            assert_eq!(e.pointer, pointer);
            assert_eq!(e.object_id, "indicator--1");
        }
        assert_eq!(read_sharing(&indicator()).unwrap(), None);
    }

    fn sig() -> Signature {
        Signature {
            signer: NodeId::new(H),
            value: format!("{}+/==", "Ab9".repeat(28)),
        }
    }

    #[test]
    fn audience_and_signature_round_trip() {
        let a = NodeId::new(A);
        let info = SharingInfo {
            signature: Some(sig()),
            ..SharingInfo::outgoing(None, &a, true).with_audience(
                [OrgId::new("ncB"), OrgId::new("hub"), OrgId::new("ncB")],
                [CommunityId::new("gulf-fin")],
            )
        };
        assert_eq!(info.recipients, vec![OrgId::new("ncB"), OrgId::new("hub")]);
        let mut o = indicator();
        stamp(&mut o, &info);
        let ext = &o.get("extensions").unwrap()[SHARING_EXTENSION_ID];
        assert_eq!(ext["recipients"], json!(["ncB", "hub"]));
        assert_eq!(ext["communities"], json!(["gulf-fin"]));
        assert_eq!(ext["signer"], json!(H));
        assert_eq!(ext["signature"], json!(sig().value));
        assert_eq!(read_sharing(&o).unwrap(), Some(info.clone()));

        // `outgoing` starts a new copy: empty audience, no signature.
        let next = SharingInfo::outgoing(Some(&info), &NodeId::new(H), true);
        assert!(next.recipients.is_empty() && next.communities.is_empty());
        assert_eq!(next.signature, None);
    }

    #[test]
    fn empty_audience_and_absent_signature_are_omitted_and_optional_on_read() {
        let plain = SharingInfo::outgoing(None, &NodeId::new(A), false);
        let mut o = indicator();
        stamp(&mut o, &plain);
        let ext = o.get("extensions").unwrap()[SHARING_EXTENSION_ID]
            .as_object()
            .unwrap()
            .clone();
        let keys: Vec<&str> = ext.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["extension_type", "originator", "may_relay", "provenance"]
        );
        // An extension written before the audience and signature existed still reads.
        let mut old = indicator();
        old.as_map_mut().insert(
            "extensions".into(),
            json!({SHARING_EXTENSION_ID: {"extension_type": "property-extension", "originator": A, "may_relay": false, "provenance": [A]}}),
        );
        assert_eq!(read_sharing(&old).unwrap(), Some(plain));
        // Re-stamping replaces the extension, keeping the object's other extensions.
        let mut both = indicator();
        both.as_map_mut()
            .insert("extensions".into(), json!({"x-other-ext": {"k": 1}}));
        stamp(
            &mut both,
            &SharingInfo::outgoing(None, &NodeId::new(A), true),
        );
        stamp(
            &mut both,
            &SharingInfo::outgoing(None, &NodeId::new(H), false),
        );
        let exts = both.get("extensions").unwrap().as_object().unwrap();
        assert_eq!(exts.len(), 2);
        assert_eq!(
            read_sharing(&both).unwrap().unwrap().originator,
            NodeId::new(H)
        );
    }

    #[test]
    fn invalid_audience_and_signature_are_located() {
        let good = format!("{}==", "A".repeat(86));
        let base = |extra: Value| {
            let mut e = json!({"extension_type": "property-extension", "originator": A, "may_relay": true, "provenance": [A]});
            for (k, v) in extra.as_object().unwrap() {
                e[k] = v.clone();
            }
            e
        };
        let p = |suffix: &str| format!("/extensions/{SHARING_EXTENSION_ID}/{suffix}");
        let cases = [
            (json!({"recipients": "ncB"}), p("recipients")),
            (json!({"recipients": ["ncB", 3]}), p("recipients/1")),
            (json!({"recipients": [""]}), p("recipients/0")),
            (json!({"recipients": ["ncB", "ncB"]}), p("recipients/1")),
            (json!({"communities": {"a": 1}}), p("communities")),
            (json!({"communities": ["c", null]}), p("communities/1")),
            (json!({"signer": H}), p("signature")),
            (json!({"signature": good}), p("signer")),
            (json!({"signer": "node-h", "signature": good}), p("signer")),
            (json!({"signer": H, "signature": 7}), p("signature")),
            (json!({"signer": H, "signature": "AAAA"}), p("signature")),
            (
                json!({"signer": H, "signature": format!("{}=", "A".repeat(87))}),
                p("signature"),
            ),
            (
                json!({"signer": H, "signature": format!("{}-_==", "A".repeat(84))}),
                p("signature"),
            ),
        ];
        for (extra, pointer) in cases {
            let mut o = indicator();
            o.as_map_mut().insert(
                "extensions".into(),
                json!({ SHARING_EXTENSION_ID: base(extra.clone()) }),
            );
            let e = read_sharing(&o).unwrap_err();
            assert_eq!(e.pointer, pointer, "{extra}");
            assert_eq!(e.object_id, "indicator--1");
        }
        let mut o = indicator();
        o.as_map_mut().insert(
            "extensions".into(),
            json!({ SHARING_EXTENSION_ID: base(json!({"signer": H, "signature": good})) }),
        );
        let info = read_sharing(&o).unwrap().unwrap();
        assert_eq!(info.signature.unwrap().value, good);
    }

    #[test]
    fn extension_id_is_the_documented_uuid5() {
        let u = uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            b"https://example.invalid/nadhir/stix/extension/sharing/1.0",
        );
        assert_eq!(SHARING_EXTENSION_ID, format!("extension-definition--{u}"));
        let u = uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            b"https://example.invalid/nadhir/identity",
        );
        assert_eq!(NADHIR_IDENTITY_ID, format!("identity--{u}"));
        assert_eq!(sharing_extension_definition().id(), SHARING_EXTENSION_ID);
    }
}
