//! STIX 2.1: lossless objects, validation, deterministic SCO ids, versioning and markings.
//!
//! - [`Object`] keeps the JSON exactly as received (property order, custom properties,
//!   unknown extensions) and offers typed accessors.
//! - [`registry`] describes every type of the specification as data; [`validate()`]
//!   walks it and reports every MUST violation as a [`ValidationError`] with a stable
//!   code, the object id, a JSON pointer and a sentence.
//! - [`sco::deterministic_id`] gives SCO ids identical to the OASIS `stix2` library's.
//! - [`versioning`] holds the rules for new versions and revocation; [`markings`] the
//!   official TLP 1.0 and 2.0 marking definitions.
//!
//! ```
//! let v = serde_json::json!({
//!     "type": "indicator", "spec_version": "2.1",
//!     "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
//!     "created": "2016-04-06T20:03:48.000Z", "modified": "2016-04-06T20:03:48.000Z",
//!     "pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type": "stix",
//!     "valid_from": "2016-04-06T20:03:48Z",
//!     "created_by_ref": "malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
//! });
//! let errors = stix::validate(&v);
//! assert_eq!(errors[0].code, "reference-type-not-allowed");
//! assert_eq!(errors[0].pointer, "/created_by_ref");
//! ```
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
pub use validate::{validate, validate_bundle, validate_map, ValidationError};
