//! A hit: one telemetry event matched one indicator. This is the input of the
//! aggregator; the matcher (or any source) produces it.

use crate::ids;
use crate::normalize;
use serde_json::{Map, Value};
use stix::Timestamp;

/// Where a hit came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceRef {
    /// Source kind, e.g. `suricata-eve`, `zeek-dns`, `nats`.
    pub kind: String,
    /// Source name as configured, e.g. a file path or a JetStream subject.
    pub name: String,
}

/// How much an asset matters to its owner.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Criticality {
    Low,
    Medium,
    High,
    Critical,
}

impl Criticality {
    /// The criticality as a factor in `[0, 1]` for the severity formula.
    pub fn factor(self) -> f64 {
        match self {
            Criticality::Low => 0.25,
            Criticality::Medium => 0.5,
            Criticality::High => 0.75,
            Criticality::Critical => 1.0,
        }
    }
}

/// The asset the hit concerns (e.g. the internal host in the flow), when known.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AssetRef {
    pub id: String,
    pub name: String,
    pub criticality: Criticality,
}

/// One telemetry event matching one indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Identifies the event at its source and stays the same when the event is
    /// delivered again: `file:<path>:<byte offset>`, `nats:<stream>:<sequence>`, …
    pub event_id: String,
    pub indicator_id: String,
    /// STIX SCO type of the observable that matched: `ipv4-addr`, `ipv6-addr`,
    /// `domain-name`, `url`, `email-addr`, `mac-addr`, `autonomous-system` (value is
    /// the AS number) or `file` (value is `ALGORITHM:hex`, e.g. `SHA-256:9f…`).
    pub observable_type: String,
    pub value: String,
    /// When the event happened (event time, not processing time).
    pub observed_at: Timestamp,
    pub source: SourceRef,
    pub asset: Option<AssetRef>,
}

/// Why a hit cannot be turned into STIX.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HitError {
    #[error("hit for event {event_id:?}: indicator_id {value:?} is not an indicator id")]
    BadIndicatorId { event_id: String, value: String },
    #[error("hit for event {event_id:?}: empty event id")]
    EmptyEventId { event_id: String },
    #[error("hit for event {event_id:?}: observable type {observable_type:?} is not supported")]
    UnsupportedObservable {
        event_id: String,
        observable_type: String,
    },
    #[error("hit for event {event_id:?}: {source}")]
    BadValue {
        event_id: String,
        #[source]
        source: normalize::NormalizeError,
    },
    #[error("hit for event {event_id:?}: {reason}")]
    BadFile {
        event_id: String,
        reason: &'static str,
    },
    #[error("hit for event {event_id:?}: {source}")]
    Id {
        event_id: String,
        #[source]
        source: ids::IdError,
    },
}

impl HitError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            HitError::BadIndicatorId { .. } => "warning.hit.bad_indicator_id",
            HitError::EmptyEventId { .. } => "warning.hit.empty_event_id",
            HitError::UnsupportedObservable { .. } => "warning.hit.unsupported_observable",
            HitError::BadValue { .. } => "warning.hit.bad_value",
            HitError::BadFile { .. } => "warning.hit.bad_file_hash",
            HitError::Id { .. } => "warning.hit.no_deterministic_id",
        }
    }
}

/// Is `id` shaped `type--uuid`?
pub fn is_stix_id(id: &str, stix_type: &str) -> bool {
    id.strip_prefix(stix_type)
        .and_then(|r| r.strip_prefix("--"))
        .is_some_and(|u| uuid::Uuid::parse_str(u).is_ok() && u.len() == 36)
}

/// Builds the SCO (with its deterministic id) that a hit observed.
pub fn sco_for(hit: &Hit) -> Result<stix::Object, HitError> {
    let event_id = || hit.event_id.clone();
    let mut props = Map::new();
    props.insert("type".into(), Value::String(hit.observable_type.clone()));
    props.insert("spec_version".into(), Value::String("2.1".into()));
    let mut body = Map::new();
    match hit.observable_type.as_str() {
        "ipv4-addr" | "ipv6-addr" | "domain-name" | "url" | "email-addr" | "mac-addr" => {
            let v = normalize::observable(&hit.observable_type, &hit.value).map_err(|source| {
                HitError::BadValue {
                    event_id: event_id(),
                    source,
                }
            })?;
            body.insert("value".into(), Value::String(v));
        }
        "autonomous-system" => {
            let text = hit.value.trim_start_matches("AS").trim_start_matches("as");
            let n: u32 = text.parse().map_err(|_| HitError::BadValue {
                event_id: event_id(),
                source: normalize::NormalizeError {
                    observable_type: "autonomous-system".into(),
                    value: hit.value.chars().take(256).collect(),
                    reason: "not an AS number",
                },
            })?;
            body.insert("number".into(), Value::from(n));
        }
        "file" => {
            let (algo, hex) = hit.value.split_once(':').ok_or_else(|| HitError::BadFile {
                event_id: event_id(),
                reason: "file value must be ALGORITHM:hex",
            })?;
            let want = match algo.to_ascii_uppercase().as_str() {
                "MD5" => 32,
                "SHA-1" | "SHA1" => 40,
                "SHA-256" | "SHA256" => 64,
                "SHA-512" | "SHA512" => 128,
                _ => {
                    return Err(HitError::BadFile {
                        event_id: event_id(),
                        reason: "hash algorithm must be MD5, SHA-1, SHA-256 or SHA-512",
                    })
                }
            };
            if hex.len() != want || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(HitError::BadFile {
                    event_id: event_id(),
                    reason: "hash has the wrong length or is not hex",
                });
            }
            let algo = match want {
                32 => "MD5",
                40 => "SHA-1",
                64 => "SHA-256",
                _ => "SHA-512",
            };
            let mut h = Map::new();
            h.insert(algo.into(), Value::String(hex.to_ascii_lowercase()));
            body.insert("hashes".into(), Value::Object(h));
        }
        other => {
            return Err(HitError::UnsupportedObservable {
                event_id: event_id(),
                observable_type: other.to_owned(),
            })
        }
    }
    let id = ids::sco_id(&hit.observable_type, &body).map_err(|source| HitError::Id {
        event_id: event_id(),
        source,
    })?;
    props.insert("id".into(), Value::String(id));
    props.extend(body);
    stix::Object::from_map(props).map_err(|_| HitError::UnsupportedObservable {
        event_id: event_id(),
        observable_type: hit.observable_type.clone(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn hit(event: &str, indicator: &str, t: &str, ty: &str, value: &str) -> Hit {
        Hit {
            event_id: event.into(),
            indicator_id: indicator.into(),
            observable_type: ty.into(),
            value: value.into(),
            observed_at: Timestamp::parse(t).unwrap(),
            source: SourceRef {
                kind: "suricata-eve".into(),
                name: "/var/log/eve.json".into(),
            },
            asset: None,
        }
    }

    #[test]
    fn sco_values_are_normalised_before_the_id_is_computed() {
        let a = hit(
            "e1",
            "indicator--x",
            "2026-01-01T00:00:00Z",
            "domain-name",
            "EvIl.Example.",
        );
        let b = hit(
            "e2",
            "indicator--x",
            "2026-01-01T00:00:00Z",
            "domain-name",
            "evil.example",
        );
        let (sa, sb) = (sco_for(&a).unwrap(), sco_for(&b).unwrap());
        assert_eq!(sa.id(), sb.id());
        assert_eq!(sa.get("value").unwrap(), "evil.example");
    }

    #[test]
    fn unsupported_and_bad_values_are_typed_errors() {
        let h = hit("e1", "indicator--x", "2026-01-01T00:00:00Z", "process", "1");
        assert_eq!(
            sco_for(&h).unwrap_err().code(),
            "warning.hit.unsupported_observable"
        );
        let h = hit(
            "e1",
            "indicator--x",
            "2026-01-01T00:00:00Z",
            "ipv4-addr",
            "1.2.3",
        );
        assert_eq!(sco_for(&h).unwrap_err().code(), "warning.hit.bad_value");
        let h = hit(
            "e1",
            "indicator--x",
            "2026-01-01T00:00:00Z",
            "file",
            "SHA-256:zz",
        );
        assert_eq!(sco_for(&h).unwrap_err().code(), "warning.hit.bad_file_hash");
        let h = hit(
            "e1",
            "indicator--x",
            "2026-01-01T00:00:00Z",
            "autonomous-system",
            "ASx",
        );
        assert_eq!(sco_for(&h).unwrap_err().code(), "warning.hit.bad_value");
    }

    #[test]
    fn file_and_as() {
        let h = hit(
            "e",
            "i",
            "2026-01-01T00:00:00Z",
            "file",
            &format!("sha256:{}", "AB".repeat(32)),
        );
        let o = sco_for(&h).unwrap();
        assert_eq!(o.get("hashes").unwrap()["SHA-256"], "ab".repeat(32));
        let h = hit(
            "e",
            "i",
            "2026-01-01T00:00:00Z",
            "autonomous-system",
            "AS64500",
        );
        assert_eq!(sco_for(&h).unwrap().get("number").unwrap(), 64500);
    }

    #[test]
    fn stix_id_shape() {
        assert!(is_stix_id(
            "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "indicator"
        ));
        assert!(!is_stix_id("indicator--nope", "indicator"));
        assert!(!is_stix_id(
            "malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "indicator"
        ));
    }
}
