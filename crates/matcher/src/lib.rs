//! Nadhir's compiled indicator index.
//!
//! Most indicators are equality IOCs. This crate compiles them into purpose-built
//! structures — interned hash sets for addresses, domains, URLs, emails and hashes, CIDR
//! tables, a domain-suffix set for "this domain and its subdomains", and Aho-Corasick and
//! regex sets for `LIKE` / `MATCHES` — and matches raw JSON telemetry events against them
//! without allocating per event. Patterns that are not IOC-shaped are kept as
//! [`GeneralPattern`]s with a cheap prefilter for the pattern evaluator.
//!
//! * [`IndexBuilder`] → [`Index`]; [`SharedIndex`] swaps a rebuilt index atomically.
//! * [`normalize`] holds the normalisation rules, applied to indicator values at build
//!   time and to telemetry values at lookup time (see the README for the list).
//! * [`fields::FieldMap`] says which JSON fields of an event hold which observable
//!   (built-in Suricata EVE and Zeek maps, plus user mapping files);
//!   [`scan::Scanner`] walks an event's bytes and pushes [`scan::Hit`]s and
//!   [`scan::Observed`] values into a [`scan::Sink`], and reports the event's time
//!   ([`time`]) in its [`scan::EventSummary`].
//!
//! *Boundary*: no I/O, no async; [`lines::BoundedLines`] only wraps a caller's `BufRead`.

pub mod compile;
pub mod fields;
mod index;
mod iptable;
pub mod layers;
pub mod lines;
pub mod normalize;
pub mod punycode;
pub mod scan;
mod shared;
mod strset;
pub mod textset;
pub mod time;

/// The deterministic generator the unit tests draw their cases from (xorshift64):
/// advances `x` and returns its new value.
#[cfg(test)]
pub(crate) fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

pub use index::{
    normalize_value, GeneralPattern, Index, IndexBuilder, IndexStats, Ioc, KindMask, LookupScratch,
    Match, MatchVia, Normalized, ObservableKind, TextKind, ValueKind,
};
pub use layers::Layers;
pub use normalize::{Cidr, HashAlg};
pub use shared::SharedIndex;

/// Errors while building an index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// An indicator value cannot be normalised for its kind.
    #[error("bad {kind} value {value:?}: {reason}")]
    BadValue {
        kind: &'static str,
        value: String,
        reason: &'static str,
    },
    /// A `LIKE` or `MATCHES` operand does not compile within the limits.
    #[error("pattern operand {pattern:?} does not compile: {reason}")]
    Regex { pattern: String, reason: String },
    /// An IOC names an indicator number that was never registered.
    #[error("indicator number {0} was not registered")]
    UnknownIndicator(u32),
    /// More than 2^31 keys or bytes in one structure.
    #[error("index is full (more than 2^31 keys or bytes in one structure)")]
    Full,
}

impl BuildError {
    /// A stable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            BuildError::BadValue { .. } => "matcher.bad_value",
            BuildError::Regex { .. } => "matcher.regex",
            BuildError::UnknownIndicator(_) => "matcher.unknown_indicator",
            BuildError::Full => "matcher.full",
        }
    }
}
