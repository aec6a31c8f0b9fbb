//! Deterministic identifiers.
//!
//! SCO ids follow STIX 2.1 §2.9: UUIDv5 in the namespace
//! `00abedb4-aa42-466c-9c01-fed23315a9b7` over the RFC 8785 canonical JSON of the
//! type's ID-contributing properties (for `hashes`, one hash chosen in the order
//! MD5, SHA-1, SHA-256, SHA-512, else the first, as the OASIS `stix2` library does).
//!
//! [`sco_id`] delegates to `stix::sco::deterministic_id` and names the reason when an
//! object has no id (the oracle test `tests/oracle_stix2.rs` pins it to the OASIS library).
//!
//! Sighting, observed-data and opinion ids are derived from a namespace of the node's
//! identity and the (indicator, window), formatted as UUIDv4 ([`derived_id`]), so the
//! same window always names the same sighting — on any worker, after any restart.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// STIX 2.1 §2.9 namespace for SCO ids.
pub const SCO_NAMESPACE: Uuid = Uuid::from_bytes([
    0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c, 0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7,
]);

/// Why no deterministic id can be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("SCO type {0:?} has no ID-contributing properties known to this node")]
    UnknownType(String),
    #[error("{sco_type} has none of its ID-contributing properties ({props})")]
    NoContributingProperty { sco_type: String, props: String },
    #[error("'hashes' of a {0} is empty")]
    EmptyHashes(String),
}

impl IdError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            IdError::UnknownType(_) => "warning.id.unknown_sco_type",
            IdError::NoContributingProperty { .. } => "warning.id.no_contributing_property",
            IdError::EmptyHashes(_) => "warning.id.empty_hashes",
        }
    }
}

/// The deterministic id `type--uuid5` of an SCO whose properties are `props`
/// ([`stix::sco::deterministic_id`], with the reason when there is none).
pub fn sco_id(sco_type: &str, props: &Map<String, Value>) -> Result<String, IdError> {
    let keys = stix::sco::id_contributing_properties(sco_type)
        .ok_or_else(|| IdError::UnknownType(sco_type.into()))?;
    if keys.contains(&"hashes")
        && matches!(props.get("hashes"), Some(Value::Object(h)) if h.is_empty())
    {
        return Err(IdError::EmptyHashes(sco_type.into()));
    }
    stix::sco::deterministic_id(sco_type, props).ok_or_else(|| IdError::NoContributingProperty {
        sco_type: sco_type.into(),
        props: keys.join(", "),
    })
}

/// The namespace for ids this node derives (sightings, observed-data, opinions):
/// UUIDv5 of the node's identity id in the SCO namespace, so two nodes never collide
/// and one node is stable across restarts.
pub fn node_namespace(identity_id: &str) -> Uuid {
    Uuid::new_v5(
        &SCO_NAMESPACE,
        format!("nadhir-node:{identity_id}").as_bytes(),
    )
}

/// A deterministic id `type--<uuid>` for (namespace, parts).
///
/// STIX 2.1 §2.9 says ids of SDOs and SROs SHOULD be UUIDv4 (the OASIS validator warns
/// otherwise), while the aggregator needs the same window to get the same id on every
/// worker. So the id is *formatted* as UUIDv4 (version nibble 4, RFC 4122 variant)
/// with its 122 free bits taken from SHA-256 over the namespace and the NUL-joined
/// parts: as unique and as opaque as a random v4, yet reproducible.
pub fn derived_id(stix_type: &str, namespace: &Uuid, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(namespace.as_bytes());
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    format!(
        "{stix_type}--{}",
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn spec_example_ipv4() {
        // Value computed by the OASIS stix2 library: IPv4Address(value="198.51.100.3").
        assert_eq!(
            sco_id("ipv4-addr", &map(json!({"value": "198.51.100.3"}))).unwrap(),
            "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"
        );
    }

    #[test]
    fn hash_choice_follows_the_reference_library() {
        let a = sco_id(
            "file",
            &map(json!({"hashes": {"SHA-256": "ab", "MD5": "cd"}})),
        )
        .unwrap();
        let b = sco_id("file", &map(json!({"hashes": {"MD5": "cd"}}))).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            sco_id("file", &map(json!({"hashes": {}})))
                .unwrap_err()
                .code(),
            "warning.id.empty_hashes"
        );
    }

    #[test]
    fn unknown_and_empty() {
        assert_eq!(
            sco_id("x-thing", &Map::new()).unwrap_err().code(),
            "warning.id.unknown_sco_type"
        );
        assert!(matches!(
            sco_id("url", &Map::new()),
            Err(IdError::NoContributingProperty { .. })
        ));
    }

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let ns = node_namespace("identity--0b9a5a4e-6b7b-4c61-9d0e-0c2c7e6a2f11");
        let a = derived_id("sighting", &ns, &["indicator--x", "100"]);
        assert_eq!(a, derived_id("sighting", &ns, &["indicator--x", "100"]));
        assert_ne!(a, derived_id("sighting", &ns, &["indicator--x", "101"]));
        assert_ne!(a, derived_id("sighting", &ns, &["indicator--x1", "00"]));
        let u = uuid::Uuid::parse_str(a.strip_prefix("sighting--").unwrap()).unwrap();
        assert_eq!(u.get_version_num(), 4);
        assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
    }
}
