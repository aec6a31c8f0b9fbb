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
use ed25519_dalek::VerifyingKey;
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

/// The bytes a node signs for `object`: its canonical form as if [`strip_sharing`] had
/// been applied, written without copying the object.
pub fn signing_bytes(object: &stix::Object) -> Vec<u8> {
    let mut out = String::with_capacity(1024);
    let map = object.as_map();
    match map.get("extensions") {
        Some(Value::Object(exts)) if exts.is_empty() || exts.contains_key(SHARING_EXTENSION_ID) => {
            // Only the other extensions (rarely any) are copied.
            let others: Map<String, Value> = exts
                .iter()
                .filter(|(k, _)| k.as_str() != SHARING_EXTENSION_ID)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let others = Value::Object(others);
            let mut entries: Vec<(&str, &Value)> = map
                .iter()
                .filter(|(k, _)| k.as_str() != "extensions")
                .map(|(k, v)| (k.as_str(), v))
                .collect();
            if others.as_object().is_some_and(|o| !o.is_empty()) {
                entries.push(("extensions", &others));
            }
            stix::jcs::write_entries(&mut out, entries);
        }
        _ => stix::jcs::write_map(&mut out, map),
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
    let item = Pending {
        object_id,
        bytes,
        signature,
    };
    let (key, sig) = decode(&item, keys)?;
    strict(&item, &key, &sig)
}

/// How many signatures one batch equation checks in [`verify_many`]. Larger batches
/// cost less per signature (one multiscalar multiplication) but more when one
/// signature in the batch is bad (the whole batch is then checked one by one).
pub const BATCH: usize = 256;

/// One signature for [`verify_many`]: the object it is on, the signing bytes
/// ([`signing_bytes`]) and the signature as received.
#[derive(Debug, Clone, Copy)]
pub struct Pending<'a> {
    pub object_id: &'a str,
    pub bytes: &'a [u8],
    pub signature: &'a Signature,
}

/// [`verify_canonical`] of many signatures, each with its own result, in order.
///
/// Signatures are checked together in batches of [`BATCH`] (Ed25519 batch
/// verification); when a batch fails, each of its signatures is checked alone with
/// [`verify_canonical`]'s strict check, so every bad signature is refused with its own
/// error and its neighbours are accepted.
///
/// What the batch checks, and how that relates to the strict check: both decode the
/// signature the same way (64 bytes, `s` a canonical scalar below the group order, `R` a
/// point on the curve) and use the same key, looked up by signer, whose registration
/// ([`PeerKeys::insert`]) already refused small-order ("weak") keys. The strict check
/// then refuses a small-order `R` and a non-canonical encoding of `R`, and tests the
/// cofactorless equation `[s]B = R + [k]A` of one signature. The batch tests one random
/// linear combination of those equations (`z_i`, 128-bit, random; see
/// [`batch_equation_holds`]) and
/// does not look at `R` itself; so before batching, this function refuses to batch any
/// signature whose `R` is a non-canonical encoding or a small-order point (it goes to
/// the strict check alone, which rejects it). What remains different: a signature whose
/// `R` has a small-order (torsion) component while `[s]B - [k]A` is torsion-free fails
/// the strict check but passes the batch when the random `z_i` happens to cancel that
/// component (probability 1/2 to 1/8). Only the holder of the signer's private key can
/// make such a signature (the batch equation still implies the cofactored equation
/// `[8][s]B = [8]R + [8][k]A`, which is unforgeable without the key), so it cannot make
/// anyone's content pass as signed by a node that did not sign it; a node that crafts
/// one could only see some copies accepted here that a single strict check refuses.
pub fn verify_many(items: &[Pending<'_>], keys: &PeerKeys) -> Vec<Result<(), FederationError>> {
    let mut out = Vec::with_capacity(items.len());
    let mut ready = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match decode(item, keys) {
            Ok((key, sig)) if batchable(&sig) => {
                out.push(Ok(()));
                ready.push((i, key, sig));
            }
            Ok((key, sig)) => out.push(strict(item, &key, &sig)),
            Err(e) => out.push(Err(e)),
        }
    }
    for chunk in ready.chunks(BATCH) {
        if chunk.len() > 1 {
            let batch: Vec<(&[u8], &VerifyingKey, &ed25519_dalek::Signature)> = chunk
                .iter()
                .map(|(i, key, sig)| (items[*i].bytes, key, sig))
                .collect();
            if batch_equation_holds(&batch) {
                continue;
            }
        }
        for (i, key, sig) in chunk {
            if let Some(slot) = out.get_mut(*i) {
                *slot = strict(&items[*i], key, sig);
            }
        }
    }
    out
}

/// The Ed25519 batch equation over `batch` (message, key, signature):
/// `[-Σ z_i s_i] B + Σ [z_i] R_i + Σ_keys [Σ_{i signed by the key} z_i k_i] A == 0`, with
/// `k_i = SHA-512(R_i ‖ A_i ‖ M_i) mod ℓ` and `z_i` random 128-bit scalars from the
/// thread's cryptographic generator (`rand::thread_rng`: ChaCha, seeded by the operating
/// system), checked with one variable-time multiscalar
/// multiplication.
///
/// This is the equation `ed25519_dalek::verify_batch` checks (same decoding: `s` must
/// be canonical, `R` must decompress), with one change: the terms of signatures by the
/// same key are added into one coefficient of that key. A page from a peer is signed
/// almost entirely by one node, so the multiplication has `n + 2` points instead of
/// `2n + 1`. Both are the same linear combination of the per-signature equations, so
/// the check accepts and refuses exactly the same batches (up to the 2^-128 chance of
/// the random coefficients).
fn batch_equation_holds(batch: &[(&[u8], &VerifyingKey, &ed25519_dalek::Signature)]) -> bool {
    use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
    use curve25519_dalek::scalar::Scalar;
    use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
    use rand::RngCore;
    use sha2::{Digest, Sha512};

    let mut rng = rand::thread_rng();
    let mut basepoint = Scalar::ZERO;
    let mut scalars: Vec<Scalar> = Vec::with_capacity(batch.len() + 2);
    let mut points: Vec<Option<EdwardsPoint>> = Vec::with_capacity(batch.len() + 2);
    // Per distinct key (few: usually one), the sum of z_i k_i.
    let mut keys: Vec<(&VerifyingKey, Scalar)> = Vec::new();
    for (message, key, sig) in batch {
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(*sig.s_bytes())) else {
            return false;
        };
        let mut h = Sha512::new();
        h.update(sig.r_bytes());
        h.update(key.as_bytes());
        h.update(message);
        let k = Scalar::from_hash(h);
        let mut z = [0u8; 32];
        rng.fill_bytes(&mut z[..16]);
        let z = Scalar::from_bytes_mod_order(z);
        basepoint -= z * s;
        scalars.push(z);
        points.push(CompressedEdwardsY(*sig.r_bytes()).decompress());
        match keys
            .iter_mut()
            .find(|(known, _)| known.as_bytes() == key.as_bytes())
        {
            Some((_, sum)) => *sum += z * k,
            None => keys.push((key, z * k)),
        }
    }
    scalars.push(basepoint);
    points.push(Some(curve25519_dalek::constants::ED25519_BASEPOINT_POINT));
    for (key, sum) in keys {
        scalars.push(sum);
        points.push(Some(key.to_edwards()));
    }
    EdwardsPoint::optional_multiscalar_mul(scalars, points).is_some_and(|p| p.is_identity())
}

fn bad(item: &Pending<'_>, reason: SignatureFault) -> FederationError {
    FederationError::BadSignature {
        object_id: item.object_id.to_owned(),
        signer: item.signature.signer.clone(),
        reason,
    }
}

/// The signer's key and the decoded signature.
fn decode(
    item: &Pending<'_>,
    keys: &PeerKeys,
) -> Result<(VerifyingKey, ed25519_dalek::Signature), FederationError> {
    let signature = item.signature;
    let Some(key) = keys.get(&signature.signer) else {
        return Err(FederationError::UnknownSigner {
            object_id: item.object_id.to_owned(),
            signer: signature.signer.clone(),
        });
    };
    let raw = STANDARD
        .decode(&signature.value)
        .map_err(|_| bad(item, SignatureFault::NotBase64))?;
    let raw: [u8; 64] = raw
        .as_slice()
        .try_into()
        .map_err(|_| bad(item, SignatureFault::WrongLength(raw.len())))?;
    Ok((*key, ed25519_dalek::Signature::from_bytes(&raw)))
}

/// Strict Ed25519 verification: no small-order keys or `R`, no malleable signatures.
fn strict(
    item: &Pending<'_>,
    key: &VerifyingKey,
    sig: &ed25519_dalek::Signature,
) -> Result<(), FederationError> {
    key.verify_strict(item.bytes, sig)
        .map_err(|_| bad(item, SignatureFault::Mismatch))
}

/// Whether `R` of `sig` is a canonical encoding of a point that is not of small order,
/// as the strict check requires (decided on the bytes, without decompressing).
fn batchable(sig: &ed25519_dalek::Signature) -> bool {
    let mut y = *sig.r_bytes();
    y[31] &= 0x7f;
    // y >= p = 2^255 - 19 (little-endian): a non-canonical encoding.
    let non_canonical = y[31] == 0x7f && y[1..31].iter().all(|&b| b == 0xff) && y[0] >= 0xed;
    !non_canonical && !small_order_ys().contains(&y)
}

/// The y coordinates (encoded, sign bit cleared) of the eight small-order points.
fn small_order_ys() -> &'static [[u8; 32]] {
    static YS: std::sync::OnceLock<Vec<[u8; 32]>> = std::sync::OnceLock::new();
    YS.get_or_init(|| {
        curve25519_dalek::constants::EIGHT_TORSION
            .iter()
            .map(|p| {
                let mut y = p.compress().to_bytes();
                y[31] &= 0x7f;
                y
            })
            .collect()
    })
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

    /// Written without a copy, the signing bytes are still the canonical JSON of the
    /// object with the sharing extension stripped, whatever else `extensions` holds.
    #[test]
    fn signing_bytes_equal_the_stripped_objects_canonical_json() {
        let info = SharingInfo::outgoing(None, &NodeId::new(A), true);
        let mut cases = Vec::new();
        let mut o = indicator();
        cases.push(o.clone());
        stamp(&mut o, &info);
        cases.push(o.clone());
        let mut only_sharing = indicator();
        only_sharing.as_map_mut().shift_remove("extensions");
        stamp(&mut only_sharing, &info);
        cases.push(only_sharing.clone());
        let mut empty = indicator();
        empty.as_map_mut().insert("extensions".into(), json!({}));
        cases.push(empty);
        let mut not_an_object = indicator();
        not_an_object
            .as_map_mut()
            .insert("extensions".into(), json!(["x"]));
        cases.push(not_an_object);
        // `extensions` first in the object, with a key sorting after it.
        let mut first = stix::Object::from_value(json!({
            "extensions": {"x-z": {"a": 1}}, "type": "indicator", "id": "indicator--1", "zz": 2
        }))
        .unwrap();
        stamp(&mut first, &info);
        cases.push(first);
        for c in cases {
            let mut stripped = c.as_map().clone();
            strip_sharing(&mut stripped);
            let mut want = String::new();
            stix::jcs::write_map(&mut want, &stripped);
            assert_eq!(String::from_utf8(signing_bytes(&c)).unwrap(), want, "{c:?}");
        }
    }

    /// A page of signatures by two nodes: batch verification accepts the good ones and
    /// every bad one is refused alone with its own error, whichever batch it is in.
    #[test]
    fn many_signatures_one_bad_one_refused_alone() {
        let (key_a, peers) = setup();
        let key_b = NodeKey::from_seed(&[2u8; 32]);
        let n = 2 * BATCH + 45;
        let msgs: Vec<Vec<u8>> = (0..n)
            .map(|i| format!("{{\"id\":\"indicator--{i}\"}}").into_bytes())
            .collect();
        let mut sigs: Vec<Signature> = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| {
                if i % 3 == 0 {
                    sign_canonical(m, &key_b, &NodeId::new(B))
                } else {
                    sign_canonical(m, &key_a, &NodeId::new(A))
                }
            })
            .collect();
        let ids: Vec<String> = (0..n).map(|i| format!("indicator--{i}")).collect();
        // The content of 5 changed after signing; 200 carries 199's signature; 250 is
        // claimed by a node not in the directory; 260 is not base64.
        let mut bytes = msgs.clone();
        bytes[5] = b"{\"id\":\"indicator--5\",\"x\":1}".to_vec();
        sigs[200] = sigs[199].clone();
        sigs[250].signer = NodeId::new("identity--00000000-0000-4000-8000-0000000000cc");
        sigs[260].value = "!!".into();
        let items: Vec<Pending<'_>> = (0..n)
            .map(|i| Pending {
                object_id: &ids[i],
                bytes: &bytes[i],
                signature: &sigs[i],
            })
            .collect();
        let out = verify_many(&items, &peers);
        assert_eq!(out.len(), n);
        for (i, r) in out.into_iter().enumerate() {
            // Each result is the one-by-one check's.
            let one = verify_canonical(&ids[i], &bytes[i], &sigs[i], &peers);
            assert_eq!(r.is_ok(), one.is_ok(), "item {i}");
            match i {
                5 | 200 | 260 => {
                    let e = r.unwrap_err();
                    assert_eq!(e.code(), "federation.bad_signature", "item {i}");
                    assert!(e.to_string().contains(&ids[i]), "{e}");
                }
                250 => assert_eq!(r.unwrap_err().code(), "federation.unknown_signer"),
                _ => r.unwrap_or_else(|e| panic!("item {i}: {e}")),
            }
        }
        // Small and empty inputs.
        assert!(verify_many(&[], &peers).is_empty());
        assert!(verify_many(&items[5..6], &peers)[0].is_err());
        assert!(verify_many(&items[6..7], &peers)[0].is_ok());
    }

    /// The batch equation itself (not only `verify_many`, which would also pass with a
    /// batch that always fails, through its one-by-one fallback): it holds for good
    /// signatures of two signers mixed, and not once any one of them is wrong.
    #[test]
    fn batch_equation_aggregates_signers_and_refuses_one_bad() {
        let (key_a, _) = setup();
        let key_b = NodeKey::from_seed(&[2u8; 32]);
        let (va, vb) = (key_a.verifying_key(), key_b.verifying_key());
        let msgs: Vec<Vec<u8>> = (0..40)
            .map(|i| format!("{{\"n\":{i}}}").into_bytes())
            .collect();
        let sigs: Vec<ed25519_dalek::Signature> = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let k = if i % 4 == 0 { &key_b } else { &key_a };
                ed25519_dalek::Signature::from_bytes(&k.sign_bytes(m))
            })
            .collect();
        let batch = |msgs: &[Vec<u8>], sigs: &[ed25519_dalek::Signature]| {
            let items: Vec<(&[u8], &VerifyingKey, &ed25519_dalek::Signature)> = msgs
                .iter()
                .zip(sigs)
                .enumerate()
                .map(|(i, (m, s))| (m.as_slice(), if i % 4 == 0 { &vb } else { &va }, s))
                .collect();
            batch_equation_holds(&items)
        };
        assert!(batch(&msgs, &sigs));
        assert!(batch(&msgs[..1], &sigs[..1]));
        let mut changed = msgs.clone();
        changed[17].push(b' ');
        assert!(!batch(&changed, &sigs));
        let mut swapped = sigs.clone();
        swapped.swap(3, 4); // both by A: each valid, on the other's message
        assert!(!batch(&msgs, &swapped));
        let mut wrong_key = sigs.clone();
        wrong_key[8] = ed25519_dalek::Signature::from_bytes(&key_a.sign_bytes(&msgs[8]));
        assert!(!batch(&msgs, &wrong_key)); // 8 is checked against B's key
        let mut big_s = sigs[1].to_bytes();
        big_s[63] |= 0xf0; // s >= the group order: not canonical
        let mut bad_s = sigs.clone();
        bad_s[1] = ed25519_dalek::Signature::from_bytes(&big_s);
        assert!(!batch(&msgs, &bad_s));
    }

    /// Signatures the strict check refuses because `R` is a small-order point (once
    /// canonically, once non-canonically encoded), made with the private scalar: the
    /// batch equation by itself accepts them, `verify_many` does not.
    #[test]
    fn batches_refuse_small_order_r_like_the_strict_check() {
        use curve25519_dalek::{constants::ED25519_BASEPOINT_POINT, Scalar};
        use sha2::{Digest, Sha512};
        let secret = Scalar::from_bytes_mod_order([7u8; 32]);
        let public = (ED25519_BASEPOINT_POINT * secret).compress().to_bytes();
        let vk = VerifyingKey::from_bytes(&public).unwrap();
        let mut peers = PeerKeys::new();
        peers
            .insert(NodeId::new(B), &STANDARD.encode(public))
            .unwrap();
        // s = r + k·a with R = [r]B for an honest signature, or any chosen R with r = 0.
        let make = |msg: &[u8], r: Scalar, big_r: [u8; 32]| {
            let mut h = Sha512::new();
            h.update(big_r);
            h.update(public);
            h.update(msg);
            let mut wide = [0u8; 64];
            wide.copy_from_slice(&h.finalize());
            let k = Scalar::from_bytes_mod_order_wide(&wide);
            let s = r + k * secret;
            let mut raw = [0u8; 64];
            raw[..32].copy_from_slice(&big_r);
            raw[32..].copy_from_slice(s.as_bytes());
            ed25519_dalek::Signature::from_bytes(&raw)
        };
        let mut identity = [0u8; 32];
        identity[0] = 1;
        // y = p + 1: the identity again, not canonically encoded.
        let mut identity_non_canonical = [0xffu8; 32];
        identity_non_canonical[0] = 0xee;
        identity_non_canonical[31] = 0x7f;
        let n = 100;
        let msgs: Vec<Vec<u8>> = (0..n).map(|i| format!("m{i}").into_bytes()).collect();
        let raw: Vec<ed25519_dalek::Signature> = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| match i {
                10 => make(m, Scalar::ZERO, identity),
                70 => make(m, Scalar::ZERO, identity_non_canonical),
                _ => {
                    let r = Scalar::from_bytes_mod_order([i as u8 + 1; 32]);
                    make(m, r, (ED25519_BASEPOINT_POINT * r).compress().to_bytes())
                }
            })
            .collect();
        for i in [10, 70] {
            assert!(vk.verify_strict(&msgs[i], &raw[i]).is_err());
        }
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        ed25519_dalek::verify_batch(&refs, &raw, &vec![vk; n])
            .expect("the batch equation alone accepts them");
        let sigs: Vec<Signature> = raw
            .iter()
            .map(|s| Signature {
                signer: NodeId::new(B),
                value: STANDARD.encode(s.to_bytes()),
            })
            .collect();
        let items: Vec<Pending<'_>> = (0..n)
            .map(|i| Pending {
                object_id: "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                bytes: &msgs[i],
                signature: &sigs[i],
            })
            .collect();
        for (i, r) in verify_many(&items, &peers).into_iter().enumerate() {
            match i {
                10 | 70 => assert_eq!(fault(r.unwrap_err()), SignatureFault::Mismatch),
                _ => r.unwrap_or_else(|e| panic!("item {i}: {e}")),
            }
        }
    }
}
