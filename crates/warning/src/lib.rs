//! Early warning: the decisions between "telemetry matched an indicator" and "people
//! are told" as pure logic (no I/O, no async), and [`engine`], the runtime that reads
//! telemetry, matches it, writes sightings and alerts, and delivers them.
//!
//! - [`aggregate`]: hits → STIX 2.1 sightings per (indicator, window), exactly once
//!   under at-least-once delivery, with bounded state.
//! - [`active`]: which indicators take part in matching, and their weight after false
//!   positives.
//! - [`alert`]: alerts with a documented severity formula and a state machine; false
//!   positives become a shareable STIX `opinion`.
//! - [`watchlist`]: constituents' assets (CIDRs, domains, ASNs) and the check of
//!   incoming intelligence against them, including lookalike domains ([`lookalike`]).
//! - [`normalize`]: observable normalisation at the telemetry boundary.
//! - [`stream`]: full STIX patterns (`AND`, `OR`, `FOLLOWEDBY`, `WITHIN`, `REPEATS`,
//!   `START`/`STOP`) evaluated over a stream of events with bounded state.
//!
//! See `README.md` in this crate for the rules in prose.

pub mod active;
pub mod aggregate;
pub mod alert;
pub mod engine;
pub mod hit;
pub mod ids;
pub mod lookalike;
pub mod normalize;
pub use matcher::punycode;
pub mod stream;
pub mod watchlist;

pub use active::{activity, is_active, ActivePolicy, Activity, WeightBook};
pub use aggregate::{
    AggregatorConfig, AggregatorSnapshot, IngestOutcome, SightingAggregator, WindowUpdate,
};
pub use alert::{Alert, AlertState, Severity};
pub use hit::{AssetRef, Criticality, Hit, HitError, SourceRef};
pub use stream::{
    Observation, StreamConfig, StreamError, StreamEvaluator, StreamMatch, StreamPrefilter,
    StreamStats,
};
pub use watchlist::{CheckReport, WatchMatch, Watchlist};
