//! STIX 2.1: lossless objects, validation, deterministic SCO ids, versioning and markings.
//!
//! *Boundary*: this crate does no I/O and cannot fail for reasons outside its input.

pub mod jcs;
pub mod object;
pub mod timestamp;

pub use object::{Object, ObjectParseError, ShapeError};
pub use timestamp::{Timestamp, TimestampError};
