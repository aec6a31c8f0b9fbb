//! Nadhir federation: what crosses between nodes, and the record of it.
//!
//! - [`identity`]: the node's Ed25519 key pair (a 0600 key file) and the directory of
//!   peer keys.
//! - [`signature`]: signatures over the JCS-canonical object (the sharing extension
//!   excluded, so relays can extend the provenance without breaking them).
//! - [`wire`]: the outgoing copy (sharing extension + signature) and the checks on an
//!   incoming one.
//! - [`directory`]: peers and versioned sharing agreements (store records).
//! - [`node`]: the runtime: what a peer may receive (decide under the agreement, sign,
//!   ledger) and what is accepted from one; [`node::NodeHook`] plugs it into TAXII.
//! - [`sync`]: pull by cursor from each peer, then its recalls.
//! - [`recall`]: recalls after agreement or object changes, deletions passed on.
//! - [`ledger`]: checking the hash-chained egress ledger.
//! - [`api`]: `/federation/v1/*` endpoints.
//! - [`error`]: `FederationError` with a stable `code()` and an `http_status()`.

pub mod api;
pub mod directory;
pub mod error;
pub mod identity;
pub mod ledger;
pub mod node;
pub mod par;
pub mod recall;
pub mod runtime;
pub mod signature;
pub mod sync;
pub mod wire;

pub use error::{FederationError, SignatureFault};
pub use identity::{NodeKey, PeerKeys};
pub use signature::{sign, signing_bytes, verify};
pub use wire::{open, seal, Incoming};
