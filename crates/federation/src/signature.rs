//! Signatures over shared objects.
//!
//! What is signed: the RFC 8785 (JCS) canonical JSON of the object without the Nadhir
//! sharing extension, and without `extensions` when that leaves it empty. Property
//! order and whitespace therefore do not matter, and a relay may extend the provenance
//! or narrow `may_relay` (which live in the extension) without breaking the signature;
//! any change to the content does. The signature travels in the sharing extension
//! itself (`signer`, `signature`), see [`crate::wire`].

use crate::error::{FederationError, SignatureFault};
use crate::identity::{NodeKey, PeerKeys};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use policy::sharing::{Signature, SHARING_EXTENSION_ID};
use policy::NodeId;
use serde_json::{Map, Value};

/// Removes the sharing extension, and `extensions` when that leaves it empty.
pub(crate) fn strip_sharing(map: &mut Map<String, Value>) {
    if let Some(Value::Object(exts)) = map.get_mut("extensions") {
        exts.shift_remove(SHARING_EXTENSION_ID);
        if exts.is_empty() {
            map.shift_remove("extensions");
        }
    }
}

fn carries_extensions(object: &stix::Object) -> bool {
    matches!(object.get("extensions"), Some(Value::Object(exts))
        if exts.is_empty() || exts.contains_key(SHARING_EXTENSION_ID))
}

/// The bytes a node signs for `object`.
pub fn signing_bytes(object: &stix::Object) -> Vec<u8> {
    let mut out = String::with_capacity(1024);
    if carries_extensions(object) {
        let mut map = object.as_map().clone();
        strip_sharing(&mut map);
        stix::jcs::write_map(&mut out, &map);
    } else {
        stix::jcs::write_map(&mut out, object.as_map());
    }
    out.into_bytes()
}

/// `signer`'s signature of `object` with `key`.
pub fn sign(object: &stix::Object, key: &NodeKey, signer: &NodeId) -> Signature {
    sign_canonical(&signing_bytes(object), key, signer)
}

/// `signer`'s signature over signing bytes already computed with [`signing_bytes`].
pub fn sign_canonical(bytes: &[u8], key: &NodeKey, signer: &NodeId) -> Signature {
    Signature {
        signer: signer.clone(),
        value: STANDARD.encode(key.sign_bytes(bytes)),
    }
}

/// Checks `signature` on `object` against the signer's key in `keys` (strict Ed25519
/// verification: no small-order keys, no malleable signatures).
pub fn verify(
    object: &stix::Object,
    signature: &Signature,
    keys: &PeerKeys,
) -> Result<(), FederationError> {
    verify_canonical(object.id(), &signing_bytes(object), signature, keys)
}

/// [`verify`] over signing bytes already computed with [`signing_bytes`].
pub fn verify_canonical(
    object_id: &str,
    bytes: &[u8],
    signature: &Signature,
    keys: &PeerKeys,
) -> Result<(), FederationError> {
    let bad = |reason| FederationError::BadSignature {
        object_id: object_id.to_owned(),
        signer: signature.signer.clone(),
        reason,
    };
    let Some(key) = keys.get(&signature.signer) else {
        return Err(FederationError::UnknownSigner {
            object_id: object_id.to_owned(),
            signer: signature.signer.clone(),
        });
    };
    let raw = STANDARD
        .decode(&signature.value)
        .map_err(|_| bad(SignatureFault::NotBase64))?;
    let raw: [u8; 64] = raw
        .as_slice()
        .try_into()
        .map_err(|_| bad(SignatureFault::WrongLength(raw.len())))?;
    let sig = ed25519_dalek::Signature::from_bytes(&raw);
    key.verify_strict(bytes, &sig)
        .map_err(|_| bad(SignatureFault::Mismatch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::sharing::{read_sharing, stamp, SharingInfo};
    use serde_json::json;

    pub(crate) const A: &str = "identity--00000000-0000-4000-8000-00000000000a";
    pub(crate) const B: &str = "identity--00000000-0000-4000-8000-00000000000b";

    fn indicator() -> stix::Object {
        stix::Object::from_json_str(
            r#"{"type":"indicator","spec_version":"2.1",
                "id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                "created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z",
                "name":"C2 domain","pattern":"[domain-name:value = 'evil.example']",
                "pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z",
                "confidence":80,"labels":["c2","apt"],
                "extensions":{"x-acme-ext":{"score":1.5}}}"#,
        )
        .unwrap()
    }

    fn setup() -> (NodeKey, PeerKeys) {
        let key = NodeKey::from_seed(&[1u8; 32]);
        let mut peers = PeerKeys::new();
        peers.insert(NodeId::new(A), &key.public_b64()).unwrap();
        peers
            .insert(NodeId::new(B), &NodeKey::from_seed(&[2u8; 32]).public_b64())
            .unwrap();
        (key, peers)
    }

    fn fault(e: FederationError) -> SignatureFault {
        match e {
            FederationError::BadSignature {
                object_id,
                signer,
                reason,
            } => {
                assert_eq!(object_id, "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
                assert!(signer.as_str().starts_with("identity--"));
                reason
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sign_verify_round_trip() {
        let (key, peers) = setup();
        let o = indicator();
        let sig = sign(&o, &key, &NodeId::new(A));
        assert_eq!(sig.signer, NodeId::new(A));
        assert_eq!(STANDARD.decode(&sig.value).unwrap().len(), 64);
        verify(&o, &sig, &peers).unwrap();
        // Deterministic (Ed25519).
        assert_eq!(sign(&o, &key, &NodeId::new(A)), sig);
    }

    #[test]
    fn property_order_and_whitespace_do_not_matter() {
        let (key, peers) = setup();
        let sig = sign(&indicator(), &key, &NodeId::new(A));
        let reordered = stix::Object::from_json_str(
            r#"{ "extensions" : { "x-acme-ext" : { "score" : 1.50 } },
                 "labels" : [ "c2", "apt" ], "confidence" : 80.0,
                 "valid_from":"2026-01-01T00:00:00Z", "pattern_type":"stix",
                 "pattern":"[domain-name:value = 'evil.example']", "name":"C2 domain",
                 "modified":"2026-01-01T00:00:00.000Z", "created":"2026-01-01T00:00:00.000Z",
                 "id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                 "spec_version":"2.1", "type":"indicator" }"#,
        )
        .unwrap();
        assert_eq!(signing_bytes(&reordered), signing_bytes(&indicator()));
        verify(&reordered, &sig, &peers).unwrap();
    }

    #[test]
    fn any_content_change_breaks_the_signature() {
        let (key, peers) = setup();
        let o = indicator();
        let sig = sign(&o, &key, &NodeId::new(A));
        type Edit = Box<dyn Fn(&mut Map<String, Value>)>;
        let edits: Vec<Edit> = vec![
            Box::new(|m| {
                m.insert("name".into(), json!("C2 domain "));
            }),
            Box::new(|m| {
                m.insert("confidence".into(), json!(81));
            }),
            Box::new(|m| {
                m.insert("labels".into(), json!(["apt", "c2"]));
            }),
            Box::new(|m| {
                m.shift_remove("valid_from");
            }),
            Box::new(|m| {
                m.insert("x_new".into(), json!(null));
            }),
            Box::new(|m| {
                m["extensions"]["x-acme-ext"]["score"] = json!(2);
            }),
            Box::new(|m| {
                m.shift_remove("extensions");
            }),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut changed = o.clone();
            edit(changed.as_map_mut());
            let e = verify(&changed, &sig, &peers).unwrap_err();
            assert_eq!(e.code(), "federation.bad_signature", "edit {i}");
            assert_eq!(fault(e), SignatureFault::Mismatch, "edit {i}");
        }
    }

    #[test]
    fn another_signer_or_a_flipped_byte_fails() {
        let (key, peers) = setup();
        let o = indicator();
        let sig = sign(&o, &key, &NodeId::new(A));
        // Claimed by B, whose key did not sign it.
        let as_b = Signature {
            signer: NodeId::new(B),
            ..sig.clone()
        };
        assert_eq!(
            fault(verify(&o, &as_b, &peers).unwrap_err()),
            SignatureFault::Mismatch
        );
        // Each byte flipped.
        let raw = STANDARD.decode(&sig.value).unwrap();
        for i in 0..64 {
            let mut bytes = raw.clone();
            bytes[i] ^= 0x01;
            let flipped = Signature {
                value: STANDARD.encode(&bytes),
                ..sig.clone()
            };
            assert_eq!(
                fault(verify(&o, &flipped, &peers).unwrap_err()),
                SignatureFault::Mismatch,
                "byte {i}"
            );
        }
        // Malformed values are told apart from mismatches.
        let not_b64 = Signature {
            value: "!!not base64!!".into(),
            ..sig.clone()
        };
        assert_eq!(
            fault(verify(&o, &not_b64, &peers).unwrap_err()),
            SignatureFault::NotBase64
        );
        let short = Signature {
            value: STANDARD.encode(&raw[..63]),
            ..sig.clone()
        };
        assert_eq!(
            fault(verify(&o, &short, &peers).unwrap_err()),
            SignatureFault::WrongLength(63)
        );
    }

    #[test]
    fn unknown_signer_is_its_own_error() {
        let (key, _) = setup();
        let o = indicator();
        let sig = sign(&o, &key, &NodeId::new(A));
        let e = verify(&o, &sig, &PeerKeys::new()).unwrap_err();
        assert_eq!(e.code(), "federation.unknown_signer");
        assert_eq!(e.http_status(), 422);
        let msg = e.to_string();
        assert!(msg.contains(A) && msg.contains(o.id()), "{msg}");
    }

    #[test]
    fn the_sharing_extension_is_not_signed() {
        let (key, peers) = setup();
        let mut o = indicator();
        stamp(
            &mut o,
            &SharingInfo::outgoing(None, &NodeId::new(A), true).with_audience(
                [policy::OrgId::new("ncB")],
                [policy::CommunityId::new("gulf-fin")],
            ),
        );
        let sig = sign(&o, &key, &NodeId::new(A));
        assert_eq!(signing_bytes(&o), signing_bytes(&indicator()));
        // A relay extends the path, narrows the permission, changes the audience.
        let mut relayed = o.clone();
        let cur = read_sharing(&relayed).unwrap().unwrap();
        stamp(
            &mut relayed,
            &SharingInfo::outgoing(Some(&cur), &NodeId::new(B), false)
                .with_audience([policy::OrgId::new("hub")], []),
        );
        assert_ne!(relayed, o);
        verify(&relayed, &sig, &peers).unwrap();
        // An object whose only extension is the sharing one signs as if it had none.
        let mut bare = indicator();
        bare.as_map_mut().shift_remove("extensions");
        let mut stamped = bare.clone();
        stamp(
            &mut stamped,
            &SharingInfo::outgoing(None, &NodeId::new(A), true),
        );
        assert_eq!(signing_bytes(&stamped), signing_bytes(&bare));
        assert_eq!(signing_bytes(&bare), bare.canonical_json().into_bytes());
    }
}
