//! The node's Ed25519 key pair and the directory of peer public keys.
//!
//! The node key lives in one file: the 32-byte Ed25519 seed as 64 lowercase hex digits
//! and a newline, mode 0600. [`NodeKey::load_or_create`] writes a new key to a
//! temporary file in the same directory (created exclusively, mode 0600, synced) and
//! then hard-links it to the final name, which fails if another process got there
//! first: the final name only ever holds a complete key, and two processes starting
//! together end up with the same one.

use crate::error::FederationError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use indexmap::IndexMap;
use policy::NodeId;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

/// The largest key file accepted on load (a valid one is 65 bytes).
pub const MAX_KEY_FILE_BYTES: u64 = 1024;

/// This node's signing key. `Debug` shows the public key only.
#[derive(Clone)]
pub struct NodeKey {
    key: SigningKey,
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKey")
            .field("public", &self.public_b64())
            .finish_non_exhaustive()
    }
}

impl NodeKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        NodeKey {
            key: SigningKey::generate(&mut rand::rngs::OsRng),
        }
    }

    /// The key with this 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        NodeKey {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// Loads the key at `path`, or creates it (and missing parent directories) when the
    /// file does not exist. The flag is `true` when the key was created.
    pub fn load_or_create(path: &Path) -> Result<(NodeKey, bool), FederationError> {
        match std::fs::File::open(path) {
            Ok(file) => Ok((read_key_file(path, file)?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key_file(path),
            Err(e) => Err(io_err(path, e)),
        }
    }

    /// Standard base64 of the 32-byte public (verifying) key.
    pub fn public_b64(&self) -> String {
        STANDARD.encode(self.key.verifying_key().as_bytes())
    }

    /// The public (verifying) key.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The Ed25519 signature of `bytes`.
    pub fn sign_bytes(&self, bytes: &[u8]) -> [u8; 64] {
        self.key.sign(bytes).to_bytes()
    }
}

fn io_err(path: &Path, source: std::io::Error) -> FederationError {
    FederationError::Io {
        path: path.to_owned(),
        source,
    }
}

fn key_err(path: &Path, reason: impl Into<String>) -> FederationError {
    FederationError::Key {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn read_key_file(path: &Path, file: std::fs::File) -> Result<NodeKey, FederationError> {
    let mut text = Vec::with_capacity(72);
    // Bounded: at most MAX_KEY_FILE_BYTES + 1 bytes are read.
    #[allow(clippy::disallowed_methods)]
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| io_err(path, e))?;
    if text.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(key_err(
            path,
            format!("larger than {MAX_KEY_FILE_BYTES} bytes; a node key file is 64 hex digits and a newline"),
        ));
    }
    let body = text.strip_suffix(b"\n").unwrap_or(&text);
    let mut seed = [0u8; 32];
    hex::decode_to_slice(body, &mut seed).map_err(|e| {
        key_err(
            path,
            format!("not a node key (expected 64 hex digits and a newline): {e}"),
        )
    })?;
    Ok(NodeKey::from_seed(&seed))
}

fn create_key_file(path: &Path) -> Result<(NodeKey, bool), FederationError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
    let name = path
        .file_name()
        .ok_or_else(|| key_err(path, "the path names no file"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", hex::encode(rand::random::<[u8; 8]>())));
    let tmp = dir.join(tmp_name);

    let key = NodeKey::generate();
    let written = write_new(&tmp, &key).and_then(|()| match std::fs::hard_link(&tmp, path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io_err(path, e)),
    });
    // The temporary name goes whatever happened (it may not exist if creating it failed).
    let _ = std::fs::remove_file(&tmp);
    if written? {
        // Make the new directory entry durable.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok((key, true))
    } else {
        // Another process created the key first: use theirs.
        let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
        Ok((read_key_file(path, file)?, false))
    }
}

fn write_new(tmp: &Path, key: &NodeKey) -> Result<(), FederationError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut file = opts.open(tmp).map_err(|e| io_err(tmp, e))?;
    let mut text = hex::encode(key.key.to_bytes());
    text.push('\n');
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| io_err(tmp, e))
}

/// The public keys of the peer nodes, by node id.
#[derive(Debug, Clone, Default)]
pub struct PeerKeys {
    keys: IndexMap<NodeId, VerifyingKey>,
}

impl PeerKeys {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records (or replaces) `node`'s key from the standard base64 of its 32 bytes.
    pub fn insert(&mut self, node: NodeId, public_b64: &str) -> Result<(), FederationError> {
        let bad = |reason: String| FederationError::PeerKey {
            node: node.clone(),
            reason,
        };
        let bytes = STANDARD
            .decode(public_b64.trim())
            .map_err(|e| bad(format!("not standard base64: {e}")))?;
        let bytes: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| bad(format!("{} bytes, not 32", bytes.len())))?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| bad("not an Ed25519 public key".to_owned()))?;
        if key.is_weak() {
            return Err(bad("a weak (small-order) Ed25519 key".to_owned()));
        }
        self.keys.insert(node, key);
        Ok(())
    }

    /// The key of `node`, if known.
    pub fn get(&self, node: &NodeId) -> Option<&VerifyingKey> {
        self.keys.get(node)
    }

    /// Forgets `node`'s key; returns whether it was known.
    pub fn remove(&mut self, node: &NodeId) -> bool {
        self.keys.shift_remove(node).is_some()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &str = "identity--00000000-0000-4000-8000-00000000000b";

    #[test]
    fn debug_does_not_print_the_secret() {
        let seed = [7u8; 32];
        let k = NodeKey::from_seed(&seed);
        let shown = format!("{k:?}");
        assert!(shown.contains(&k.public_b64()), "{shown}");
        assert!(!shown.contains(&hex::encode(seed)), "{shown}");
        assert!(!shown.contains("0707"), "{shown}");
    }

    #[test]
    fn load_or_create_creates_0600_and_reloads_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("node.key");
        let (k1, created) = NodeKey::load_or_create(&path).unwrap();
        assert!(created);
        let text = std::fs::read(&path).unwrap();
        assert_eq!(text.len(), 65);
        assert_eq!(text.last(), Some(&b'\n'));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (k2, created) = NodeKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(k1.public_b64(), k2.public_b64());
        assert_eq!(k1.sign_bytes(b"x"), k2.sign_bytes(b"x"));
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("node.key")]);
    }

    #[test]
    fn corrupt_or_oversized_key_files_are_rejected_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        for (content, needle) in [
            (b"not hex at all\n".to_vec(), "64 hex digits"),
            (vec![b'a'; 63], "64 hex digits"),
            (
                format!("{}\n\n", "ab".repeat(32)).into_bytes(),
                "64 hex digits",
            ),
            (vec![b'a'; 2000], "larger than 1024 bytes"),
        ] {
            std::fs::write(&path, &content).unwrap();
            let e = NodeKey::load_or_create(&path).unwrap_err();
            assert_eq!(e.code(), "federation.node_key");
            assert_eq!(e.http_status(), 500);
            let msg = e.to_string();
            assert!(msg.contains(needle), "{msg}");
            assert!(msg.contains("node.key"), "{msg}");
            // The bad file is left for the operator, not replaced.
            assert_eq!(std::fs::read(&path).unwrap(), content);
        }
        // Without the trailing newline the key still loads.
        std::fs::write(&path, "ab".repeat(32)).unwrap();
        let (k, created) = NodeKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(k.public_b64(), NodeKey::from_seed(&[0xab; 32]).public_b64());
    }

    #[test]
    fn peer_keys_accept_public_keys_and_reject_garbage() {
        let k = NodeKey::generate();
        let mut peers = PeerKeys::new();
        assert!(peers.is_empty());
        peers.insert(NodeId::new(B), &k.public_b64()).unwrap();
        assert_eq!(peers.len(), 1);
        assert_eq!(peers.get(&NodeId::new(B)), Some(&k.verifying_key()));
        for bad in [
            "%%%".to_owned(),
            STANDARD.encode([1u8; 31]),
            // The identity point: small order.
            STANDARD.encode({
                let mut b = [0u8; 32];
                b[0] = 1;
                b
            }),
        ] {
            let e = peers.insert(NodeId::new(B), &bad).unwrap_err();
            assert_eq!(e.code(), "federation.bad_peer_key", "{bad}");
            assert!(e.to_string().contains(B));
        }
        // A failed insert keeps the previous key.
        assert_eq!(peers.get(&NodeId::new(B)), Some(&k.verifying_key()));
        assert!(peers.remove(&NodeId::new(B)));
        assert!(peers.get(&NodeId::new(B)).is_none());
    }
}
