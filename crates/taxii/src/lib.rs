//! TAXII 2.1: the server ([`server::router`]) and the client ([`client`]).
//!
//! *Boundary*: TAXII wire formats (envelopes, manifests, status resources, error
//! messages) are explicit types here; domain types from `store` do not leak onto the wire.

pub mod client;
pub mod server;
