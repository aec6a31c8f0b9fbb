//! Nadhir federation: what crosses between nodes, and the record of it.
//!
//! - [`identity`]: the node's Ed25519 key pair and the directory of peer keys.
//! - [`signature`]: signatures over the JCS-canonical object (the sharing extension
//!   excluded, so relays can extend the provenance without breaking them).
//! - [`wire`]: the outgoing copy (sharing extension + signature) and the checks on an
//!   incoming one.

pub mod error;
pub mod identity;
pub mod signature;
pub mod wire;

pub use error::FederationError;
