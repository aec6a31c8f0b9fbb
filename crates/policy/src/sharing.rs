//! The Nadhir sharing extension: the originator's relay permission and the provenance
//! path, carried with every object that leaves a node.
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
//!     "provenance": ["identity--…", …]  // nodes it has left, originator first
//!   }
//! }
//! ```
//!
//! *Invariant*: `may_relay` can only be narrowed along the path: a relay sets it to the
//! value it received AND its own agreement's `may_reshare` with the next partner.

use crate::error::ExtensionError;
use crate::model::NodeId;
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
        "description": "Relay permission and provenance of an object shared between Nadhir nodes. Properties: originator (identity id of the node the object was first published at), may_relay (boolean: whether the recipient may send it to further nodes), provenance (list of identity ids of the nodes the object has left, originator first).",
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

/// The sharing information carried with an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharingInfo {
    pub originator: NodeId,
    pub may_relay: bool,
    pub provenance: Vec<NodeId>,
}

impl SharingInfo {
    /// Whether `node` already appears on the object's path.
    pub fn has_visited(&self, node: &NodeId) -> bool {
        self.originator == *node || self.provenance.contains(node)
    }

    /// What the object carries when `local` sends it on: a locally published object
    /// (`current` is `None`) gets `local` as originator and `may_reshare` as permission;
    /// a relayed one keeps its originator, narrows the permission and extends the path.
    pub fn outgoing(current: Option<&SharingInfo>, local: &NodeId, may_reshare: bool) -> Self {
        match current {
            None => SharingInfo {
                originator: local.clone(),
                may_relay: may_reshare,
                provenance: vec![local.clone()],
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
                }
            }
        }
    }

    fn to_value(&self) -> Value {
        json!({
            "extension_type": "property-extension",
            "originator": self.originator.as_str(),
            "may_relay": self.may_relay,
            "provenance": self.provenance.iter().map(NodeId::as_str).collect::<Vec<_>>(),
        })
    }
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
    for key in ext.keys() {
        if !matches!(
            key.as_str(),
            "extension_type" | "originator" | "may_relay" | "provenance"
        ) {
            return Err(err(format!("{base}/{key}"), "unknown property"));
        }
    }
    Ok(Some(SharingInfo {
        originator,
        may_relay,
        provenance,
    }))
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
