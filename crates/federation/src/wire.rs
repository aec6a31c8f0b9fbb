//! The wire form of a shared object.
//!
//! Outgoing: `decide` (sync purpose) returns the copy with the sharing extension
//! stamped; the sender signs it ([`crate::signature::sign`]) and [`seal`]s it, which
//! writes `signer` and `signature` into that extension. Incoming: [`open`] reads and
//! validates the extension, requires and verifies the signature, and hands back the
//! object without the extension (what the receiving node stores) with the sharing
//! information beside it (what the receiving node records as metadata).

use crate::error::FederationError;
use crate::identity::PeerKeys;
use crate::signature::{signing_bytes, strip_sharing, verify_canonical, verify_many, Pending};
use policy::sharing::{read_sharing, stamp, SharingInfo, Signature, SHARING_EXTENSION_ID};

/// Writes `signature` into the sharing extension of `copy`. Fails when the copy carries
/// no valid sharing extension (over sync, `decide` stamps one on every copy).
pub fn seal(copy: stix::Object, signature: Signature) -> Result<stix::Object, FederationError> {
    let mut copy = copy;
    let Some(mut info) = read_sharing(&copy)? else {
        return Err(FederationError::Extension(policy::ExtensionError {
            object_id: copy.id().to_owned(),
            pointer: format!("/extensions/{SHARING_EXTENSION_ID}"),
            message: "missing: only a copy stamped for sync (by decide) can be sealed".into(),
        }));
    };
    info.signature = Some(signature);
    stamp(&mut copy, &info);
    Ok(copy)
}

/// An object received from a peer whose signature holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The object without the sharing extension (and without `extensions` if that was
    /// its only one): exactly the signed content.
    pub object: stix::Object,
    /// The sharing extension as received; `signature` is `Some`.
    pub sharing: SharingInfo,
    /// The object's RFC 8785 canonical JSON (the signed bytes; its SHA-256 is the
    /// store's content hash).
    pub canonical: Vec<u8>,
}

/// Checks an object received from a peer: its sharing extension must be valid and
/// signed by a node in `keys`, and the signature must match the content.
pub fn open(object: stix::Object, keys: &PeerKeys) -> Result<Incoming, FederationError> {
    let (incoming, signature) = unseal(object)?;
    verify_canonical(incoming.object.id(), &incoming.canonical, &signature, keys)?;
    Ok(incoming)
}

/// [`open`] of many objects (a page from a peer), with their signatures checked
/// together ([`verify_many`]: batch verification, then one by one only when a batch
/// fails); per object in order, the same result as [`open`].
pub fn open_many(
    objects: Vec<stix::Object>,
    keys: &PeerKeys,
) -> Vec<Result<Incoming, FederationError>> {
    let unsealed: Vec<Result<(Incoming, Signature), FederationError>> =
        objects.into_iter().map(unseal).collect();
    let pending: Vec<Pending<'_>> = unsealed
        .iter()
        .filter_map(|u| u.as_ref().ok())
        .map(|(incoming, signature)| Pending {
            object_id: incoming.object.id(),
            bytes: &incoming.canonical,
            signature,
        })
        .collect();
    let mut verdicts = verify_many(&pending, keys).into_iter();
    drop(pending);
    unsealed
        .into_iter()
        .map(|u| {
            let (incoming, _) = u?;
            match verdicts.next() {
                Some(Ok(())) => Ok(incoming),
                Some(Err(e)) => Err(e),
                None => Err(FederationError::Invalid(format!(
                    "{}: no signature verdict",
                    incoming.object.id()
                ))),
            }
        })
        .collect()
}

/// Reads the sharing extension and its signature and strips it: the object is then
/// exactly the signed content, whose canonical form is computed once, for the check and
/// for the store's content hash. The signature is not checked yet.
fn unseal(object: stix::Object) -> Result<(Incoming, Signature), FederationError> {
    let mut object = object;
    let Some(sharing) = read_sharing(&object)? else {
        return Err(FederationError::Unsigned {
            object_id: object.id().to_owned(),
        });
    };
    let Some(signature) = sharing.signature.clone() else {
        return Err(FederationError::Unsigned {
            object_id: object.id().to_owned(),
        });
    };
    strip_sharing(object.as_map_mut());
    let canonical = signing_bytes(&object);
    Ok((
        Incoming {
            object,
            sharing,
            canonical,
        },
        signature,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::NodeKey;
    use crate::signature::{sign, signing_bytes};
    use policy::{CommunityId, NodeId, OrgId};
    use proptest::prelude::*;
    use serde_json::{json, Map, Value};

    const A: &str = "identity--00000000-0000-4000-8000-00000000000a";
    const B: &str = "identity--00000000-0000-4000-8000-00000000000b";
    const H: &str = "identity--00000000-0000-4000-8000-0000000000f0";

    fn keys() -> (NodeKey, NodeKey, PeerKeys) {
        let a = NodeKey::from_seed(&[10u8; 32]);
        let h = NodeKey::from_seed(&[11u8; 32]);
        let mut peers = PeerKeys::new();
        peers.insert(NodeId::new(A), &a.public_b64()).unwrap();
        peers.insert(NodeId::new(H), &h.public_b64()).unwrap();
        (a, h, peers)
    }

    fn stamped(base: &stix::Object) -> stix::Object {
        let mut o = base.clone();
        stamp(
            &mut o,
            &SharingInfo::outgoing(None, &NodeId::new(A), true)
                .with_audience([OrgId::new("ncB")], [CommunityId::new("gulf-fin")]),
        );
        o
    }

    fn indicator() -> stix::Object {
        stix::Object::from_value(json!({
            "type": "indicator", "spec_version": "2.1",
            "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
            "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
            "valid_from": "2026-01-01T00:00:00Z"
        }))
        .unwrap()
    }

    /// Sends `o` as node A: sign, seal, serialise.
    fn send(o: &stix::Object, key: &NodeKey, signer: &str) -> String {
        let copy = stamped(o);
        let sig = sign(&copy, key, &NodeId::new(signer));
        seal(copy, sig).unwrap().to_json()
    }

    #[test]
    fn seal_then_open_returns_the_content_and_the_sharing_info() {
        let (a, _, peers) = keys();
        let o = indicator();
        let wire = send(&o, &a, A);
        let incoming = open(stix::Object::from_json_str(&wire).unwrap(), &peers).unwrap();
        assert_eq!(incoming.object, o);
        assert_eq!(incoming.object.get("extensions"), None);
        let sig = incoming.sharing.signature.clone().unwrap();
        assert_eq!(sig.signer, NodeId::new(A));
        assert_eq!(incoming.sharing.originator, NodeId::new(A));
        assert_eq!(incoming.sharing.recipients, vec![OrgId::new("ncB")]);
        assert_eq!(
            incoming.sharing.communities,
            vec![CommunityId::new("gulf-fin")]
        );
    }

    #[test]
    fn a_relay_may_extend_the_path_without_breaking_the_signature() {
        let (a, _, peers) = keys();
        let wire = stix::Object::from_json_str(&send(&indicator(), &a, A)).unwrap();
        let mut info = read_sharing(&wire).unwrap().unwrap();
        info.provenance.push(NodeId::new(H));
        info.may_relay = false;
        let mut relayed = wire.clone();
        stamp(&mut relayed, &info);
        let incoming = open(relayed, &peers).unwrap();
        assert_eq!(
            incoming.sharing.provenance,
            vec![NodeId::new(A), NodeId::new(H)]
        );
        assert!(!incoming.sharing.may_relay);
        assert_eq!(incoming.object, indicator());
    }

    #[test]
    fn tampering_or_a_missing_signature_is_refused() {
        let (a, h, peers) = keys();
        let wire = stix::Object::from_json_str(&send(&indicator(), &a, A)).unwrap();
        // Content changed in transit.
        let mut tampered = wire.clone();
        tampered
            .as_map_mut()
            .insert("pattern".into(), json!("[ipv4-addr:value = '203.0.113.9']"));
        let e = open(tampered, &peers).unwrap_err();
        assert_eq!(e.code(), "federation.bad_signature");
        assert_eq!(e.http_status(), 422);
        // Signer swapped for another known node.
        let mut info = read_sharing(&wire).unwrap().unwrap();
        if let Some(sig) = info.signature.as_mut() {
            sig.signer = NodeId::new(H);
        }
        let mut swapped = wire.clone();
        stamp(&mut swapped, &info);
        assert_eq!(
            open(swapped, &peers).unwrap_err().code(),
            "federation.bad_signature"
        );
        // Signed by a node not in the directory.
        let stranger = NodeKey::from_seed(&[12u8; 32]);
        let from_b = stix::Object::from_json_str(&send(&indicator(), &stranger, B)).unwrap();
        assert_eq!(
            open(from_b, &peers).unwrap_err().code(),
            "federation.unknown_signer"
        );
        // H signs honestly: accepted (the signer need not be the originator).
        let from_h = stix::Object::from_json_str(&send(&indicator(), &h, H)).unwrap();
        open(from_h, &peers).unwrap();
        // Stamped but unsigned, and not stamped at all.
        let e = open(stamped(&indicator()), &peers).unwrap_err();
        assert_eq!(e.code(), "federation.unsigned");
        assert!(e.to_string().contains(indicator().id()));
        assert_eq!(
            open(indicator(), &peers).unwrap_err().code(),
            "federation.unsigned"
        );
        // A malformed extension is reported with its pointer.
        let mut broken = wire.clone();
        broken.as_map_mut()["extensions"][SHARING_EXTENSION_ID]["signer"] = json!("node-a");
        let e = open(broken, &peers).unwrap_err();
        assert_eq!(e.code(), "federation.invalid_extension");
        assert!(e.to_string().contains("/signer"), "{e}");
    }

    /// A page checked together: the tampered and the unsigned object are refused with
    /// their own errors, every neighbour is accepted, each result is `open`'s.
    #[test]
    fn a_page_with_one_tampered_object_refuses_only_that_one() {
        let (a, h, peers) = keys();
        let n = 300;
        let mut page: Vec<stix::Object> = (0..n)
            .map(|i| {
                let mut o = indicator();
                o.as_map_mut().insert(
                    "id".into(),
                    json!(format!("indicator--{i:08x}-17d4-4cbf-938f-98ee46b3cd3f")),
                );
                let (key, signer) = if i % 2 == 0 { (&a, A) } else { (&h, H) };
                stix::Object::from_json_str(&send(&o, key, signer)).unwrap()
            })
            .collect();
        page[137]
            .as_map_mut()
            .insert("pattern".into(), json!("[ipv4-addr:value = '203.0.113.9']"));
        page[200] = stamped(&indicator());
        let one_by_one: Vec<Result<Incoming, FederationError>> =
            page.iter().cloned().map(|o| open(o, &peers)).collect();
        let together = open_many(page, &peers);
        assert_eq!(together.len(), n);
        for (i, (got, alone)) in together.into_iter().zip(one_by_one).enumerate() {
            match i {
                137 => {
                    let e = got.unwrap_err();
                    assert_eq!(e.code(), "federation.bad_signature");
                    assert!(e.to_string().contains("indicator--00000089-"), "{e}");
                    assert_eq!(alone.unwrap_err().code(), e.code());
                }
                200 => {
                    assert_eq!(got.unwrap_err().code(), "federation.unsigned");
                    assert!(alone.is_err());
                }
                _ => assert_eq!(got.unwrap(), alone.unwrap(), "object {i}"),
            }
        }
    }

    #[test]
    fn sealing_needs_the_stamp() {
        let (a, _, _) = keys();
        let o = indicator();
        let sig = sign(&o, &a, &NodeId::new(A));
        let e = seal(o, sig).unwrap_err();
        assert_eq!(e.code(), "federation.invalid_extension");
    }

    #[test]
    fn other_extensions_survive_the_trip() {
        let (a, _, peers) = keys();
        let mut o = indicator();
        o.as_map_mut()
            .insert("extensions".into(), json!({"x-acme": {"k": [1, 2]}}));
        let incoming = open(
            stix::Object::from_json_str(&send(&o, &a, A)).unwrap(),
            &peers,
        )
        .unwrap();
        assert_eq!(incoming.object, o);
    }

    fn json_leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            (-1.0e12f64..1.0e12).prop_map(|f| json!(f)),
            "[ -~\\u{a0}-\\u{2fff}\\u{1F600}]{0,12}".prop_map(Value::String),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        json_leaf().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(("[a-z_]{1,8}", inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn object() -> impl Strategy<Value = stix::Object> {
        (
            "[a-z][a-z-]{0,10}",
            prop::collection::vec(("[a-z_]{1,10}", json_value()), 0..8),
            prop::option::of(prop::collection::vec(("x-[a-z]{1,6}", json_value()), 1..3)),
        )
            .prop_map(|(ty, props, exts)| {
                let mut m = Map::new();
                m.insert("type".into(), json!(ty));
                m.insert(
                    "id".into(),
                    json!(format!("{ty}--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")),
                );
                for (k, v) in props {
                    if k != "type" && k != "id" && k != "extensions" {
                        m.insert(k, v);
                    }
                }
                if let Some(exts) = exts {
                    m.insert(
                        "extensions".into(),
                        Value::Object(exts.into_iter().collect()),
                    );
                }
                stix::Object::from_map(m).unwrap()
            })
    }

    proptest! {
        #[test]
        fn random_objects_round_trip_through_seal_and_open(o in object(), pretty in any::<bool>()) {
            let (a, _, peers) = keys();
            let copy = stamped(&o);
            let sig = sign(&copy, &a, &NodeId::new(A));
            let sealed = seal(copy, sig).unwrap();
            let text = if pretty {
                serde_json::to_string_pretty(&sealed).unwrap()
            } else {
                sealed.to_json()
            };
            let incoming = open(stix::Object::from_json_str(&text).unwrap(), &peers).unwrap();
            prop_assert_eq!(signing_bytes(&incoming.object), signing_bytes(&o));
            prop_assert_eq!(incoming.object.canonical_json(), o.canonical_json());
            prop_assert_eq!(incoming.sharing.originator, NodeId::new(A));
        }
    }

    /// The canonical bytes `open` hands back are the stored object's canonical JSON, so
    /// the store's content hash computed from them is the usual one.
    #[test]
    fn open_returns_the_stored_objects_canonical_json() {
        let (a_key, _, peers) = keys();
        let a = NodeId::new(A);
        let mut o = stix::Object::from_value(json!({
            "type": "indicator", "spec_version": "2.1", "id": "indicator--1",
            "name": "x", "extensions": {"x-other": {"k": 1.5}}
        }))
        .unwrap();
        policy::sharing::stamp(&mut o, &SharingInfo::outgoing(None, &a, true));
        let sig = sign(&o, &a_key, &a);
        let inc = open(seal(o, sig).unwrap(), &peers).unwrap();
        assert_eq!(inc.canonical, inc.object.canonical_json().into_bytes());
        assert_eq!(
            store::NewObject::from_object_canonical(&inc.object, &inc.canonical),
            store::NewObject::from_object(&inc.object)
        );
    }
}
