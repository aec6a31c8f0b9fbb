//! Nadhir federation: what crosses between nodes, and the record of it.
//!
//! - [`identity`]: the node's Ed25519 key pair (a 0600 key file) and the directory of
//!   peer keys.
//! - [`signature`]: signatures over the JCS-canonical object (the sharing extension
//!   excluded, so relays can extend the provenance without breaking them).
//! - [`wire`]: the outgoing copy (sharing extension + signature) and the checks on an
//!   incoming one.
//! - [`error`]: `FederationError` with a stable `code()` and an `http_status()`.
//!
//! These modules are pure: no network, no store calls (beyond the key file).

pub mod error;
pub mod identity;
pub mod signature;
pub mod wire;

pub use error::{FederationError, SignatureFault};
pub use identity::{NodeKey, PeerKeys};
pub use signature::{sign, signing_bytes, verify};
pub use wire::{open, seal, Incoming};
