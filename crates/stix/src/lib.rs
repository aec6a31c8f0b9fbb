//! STIX 2.1: lossless objects, validation, deterministic SCO ids, versioning and markings.
//!
//! *Boundary*: this crate does no I/O and cannot fail for reasons outside its input.

pub mod jcs;
pub mod markings;
pub mod object;
pub mod registry;
pub mod sco;
pub mod timestamp;
pub mod validate;
pub mod versioning;
pub mod vocab;

pub use object::{Object, ObjectParseError, ShapeError};
pub use timestamp::{Timestamp, TimestampError};
pub use validate::{validate, validate_bundle, ValidationError};
