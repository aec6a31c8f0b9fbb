//! Federation errors, each with a stable code and an HTTP status.

use policy::NodeId;
use std::path::PathBuf;

/// Why a signature does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureFault {
    #[error("the signature is not standard base64")]
    NotBase64,
    #[error("the signature is {0} bytes, not 64")]
    WrongLength(usize),
    #[error("the signature does not match the object's content and the signer's key")]
    Mismatch,
}

/// Errors of the federation layer.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("{object_id}: bad signature by {signer}: {reason}")]
    BadSignature {
        object_id: String,
        signer: NodeId,
        reason: SignatureFault,
    },
    #[error("{object_id}: signed by {signer}, whose key this node does not know")]
    UnknownSigner { object_id: String, signer: NodeId },
    #[error("{object_id}: the object carries no signature (no sharing extension, or one without signer and signature)")]
    Unsigned { object_id: String },
    #[error("invalid sharing extension: {0}")]
    Extension(#[from] policy::ExtensionError),
    #[error("public key of peer {node}: {reason}")]
    PeerKey { node: NodeId, reason: String },
    #[error("node key {}: {reason}", path.display())]
    Key { path: PathBuf, reason: String },
    #[error("node key {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Store(#[from] store::StoreError),
    #[error("stored {kind} record {id:?} is not valid: {reason}")]
    Record {
        kind: String,
        id: String,
        reason: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Taxii(#[from] taxii::client::ClientError),
    #[error("{0}")]
    Chain(String),
}

impl FederationError {
    /// Stable code (see the crate README's error table).
    pub fn code(&self) -> &'static str {
        match self {
            FederationError::BadSignature { .. } => "federation.bad_signature",
            FederationError::UnknownSigner { .. } => "federation.unknown_signer",
            FederationError::Unsigned { .. } => "federation.unsigned",
            FederationError::Extension(_) => "federation.invalid_extension",
            FederationError::PeerKey { .. } => "federation.bad_peer_key",
            FederationError::Key { .. } => "federation.node_key",
            FederationError::Io { .. } => "federation.io",
            FederationError::Store(e) => e.code(),
            FederationError::Record { .. } => "federation.bad_record",
            FederationError::Invalid(_) => "federation.invalid",
            FederationError::Taxii(e) => e.code(),
            FederationError::Chain(_) => "federation.ledger_broken",
        }
    }

    /// The HTTP status an API answers with: what a peer sent (or an operator entered)
    /// is unprocessable (422); the node's own key, files and store are server faults
    /// (500).
    pub fn http_status(&self) -> u16 {
        match self {
            FederationError::BadSignature { .. }
            | FederationError::UnknownSigner { .. }
            | FederationError::Unsigned { .. }
            | FederationError::Extension(_)
            | FederationError::PeerKey { .. }
            | FederationError::Invalid(_) => 422,
            FederationError::Taxii(_) => 502,
            FederationError::Key { .. }
            | FederationError::Io { .. }
            | FederationError::Store(_)
            | FederationError::Record { .. }
            | FederationError::Chain(_) => 500,
        }
    }
}
