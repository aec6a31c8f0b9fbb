//! Which indicators take part in matching, and how false positives lower their weight.
//!
//! An indicator is **active** at `now` when all of these hold:
//!
//! - its `type` is `indicator` and it is not `revoked`;
//! - `valid_from <= now` and, when `valid_until` is present, `now < valid_until`
//!   (STIX 2.1 §4.7: after `valid_until` it "should no longer be considered a valid
//!   indicator", so the end is exclusive);
//! - `pattern_type` is `stix` (the only language this node evaluates);
//! - its *effective confidence* is at least the configured minimum.
//!
//! **Unset confidence.** STIX 2.1 §3.2 says a missing `confidence` means the confidence
//! is unspecified. This node then uses [`ActivePolicy::default_confidence`], 50 unless
//! configured: the middle of the 0–100 scale ("Medium" in the spec's None/Low/Med/High
//! mapping, Appendix A), so an unscored indicator passes a permissive threshold but not
//! a strict one.
//!
//! **Weight model.** Every indicator starts with weight 1. Each false positive an
//! analyst marks adds one to the indicator's *penalty*; each confirmed true positive
//! takes one away (never below 0). The weight is `2^-penalty`, and the effective
//! confidence is `floor(confidence × weight)`. So one false positive halves an
//! indicator's say: confidence 80 becomes 40, and with a minimum of 50 the indicator
//! stops matching until a true positive is confirmed. The penalty is local to this
//! node; partners learn of it through the shared opinion (see [`crate::alert`]).

use stix::{Object, Timestamp};

/// The knobs of the activity rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivePolicy {
    /// Minimum effective confidence (0–100).
    pub min_confidence: u8,
    /// Confidence assumed when an indicator has none.
    pub default_confidence: u8,
}

impl Default for ActivePolicy {
    fn default() -> Self {
        ActivePolicy {
            min_confidence: 0,
            default_confidence: 50,
        }
    }
}

/// Why an indicator is not active.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Inactive {
    NotAnIndicator { found: String },
    Revoked,
    NotYetValid { valid_from: String },
    Expired { valid_until: String },
    UnsupportedPatternType { pattern_type: String },
    LowConfidence { effective: u8, minimum: u8 },
}

/// The verdict for one indicator.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Activity {
    Active { effective_confidence: u8 },
    Inactive(Inactive),
}

/// An indicator whose properties cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("indicator {id}: {pointer}: {reason}")]
pub struct IndicatorError {
    pub id: String,
    /// JSON pointer of the faulty property.
    pub pointer: String,
    pub reason: String,
}

impl IndicatorError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        "warning.indicator.invalid"
    }
}

fn err(o: &Object, prop: &str, reason: impl Into<String>) -> IndicatorError {
    IndicatorError {
        id: o.id().to_owned(),
        pointer: format!("/{prop}"),
        reason: reason.into(),
    }
}

fn timestamp(o: &Object, prop: &str) -> Result<Option<Timestamp>, IndicatorError> {
    match o.get(prop) {
        None => Ok(None),
        Some(serde_json::Value::String(s)) => Timestamp::parse(s)
            .map(Some)
            .map_err(|e| err(o, prop, e.to_string())),
        Some(v) => Err(err(
            o,
            prop,
            format!(
                "must be a timestamp string, found {}",
                stix::object::json_kind(v)
            ),
        )),
    }
}

/// The indicator's `confidence`, if present and valid (integer 0–100).
pub fn confidence(o: &Object) -> Result<Option<u8>, IndicatorError> {
    match o.get("confidence") {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(c) if c <= 100 => Ok(Some(c as u8)),
            _ => Err(err(
                o,
                "confidence",
                format!("must be an integer from 0 to 100, found {v}"),
            )),
        },
    }
}

/// Per-indicator false-positive penalties (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct WeightBook {
    penalty: hashbrown::HashMap<String, u32>,
}

impl WeightBook {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a false positive: the penalty grows by one.
    pub fn record_false_positive(&mut self, indicator_id: &str) {
        let p = self.penalty.entry(indicator_id.to_owned()).or_insert(0);
        *p = p.saturating_add(1);
    }

    /// Records a confirmed true positive: the penalty shrinks by one.
    pub fn record_true_positive(&mut self, indicator_id: &str) {
        if let Some(p) = self.penalty.get_mut(indicator_id) {
            *p = p.saturating_sub(1);
            if *p == 0 {
                self.penalty.remove(indicator_id);
            }
        }
    }

    /// Every (indicator, penalty) with a penalty above zero, sorted by indicator id.
    pub fn entries(&self) -> Vec<(String, u32)> {
        let mut v: Vec<(String, u32)> = self.penalty.iter().map(|(k, v)| (k.clone(), *v)).collect();
        v.sort();
        v
    }

    /// A book holding these penalties (zeros are dropped).
    pub fn from_entries(entries: impl IntoIterator<Item = (String, u32)>) -> Self {
        WeightBook {
            penalty: entries.into_iter().filter(|(_, p)| *p > 0).collect(),
        }
    }

    pub fn penalty(&self, indicator_id: &str) -> u32 {
        self.penalty.get(indicator_id).copied().unwrap_or(0)
    }

    /// `2^-penalty`.
    pub fn weight(&self, indicator_id: &str) -> f64 {
        0.5f64.powi(self.penalty(indicator_id).min(64) as i32)
    }

    /// `floor(confidence × weight)`.
    pub fn effective_confidence(&self, indicator_id: &str, confidence: u8) -> u8 {
        (f64::from(confidence) * self.weight(indicator_id)).floor() as u8
    }
}

/// Decides whether `indicator` is active at `now` (see the module docs).
pub fn activity(
    indicator: &Object,
    now: Timestamp,
    policy: &ActivePolicy,
    weights: &WeightBook,
) -> Result<Activity, IndicatorError> {
    let inactive = |r| Ok(Activity::Inactive(r));
    if indicator.type_name() != "indicator" {
        return inactive(Inactive::NotAnIndicator {
            found: indicator.type_name().to_owned(),
        });
    }
    match indicator.get("revoked") {
        None | Some(serde_json::Value::Bool(false)) => {}
        Some(serde_json::Value::Bool(true)) => return inactive(Inactive::Revoked),
        Some(v) => {
            return Err(err(
                indicator,
                "revoked",
                format!("must be a boolean, found {v}"),
            ))
        }
    }
    let valid_from = timestamp(indicator, "valid_from")?
        .ok_or_else(|| err(indicator, "valid_from", "required property is missing"))?;
    if now < valid_from {
        return inactive(Inactive::NotYetValid {
            valid_from: valid_from.to_string(),
        });
    }
    if let Some(until) = timestamp(indicator, "valid_until")? {
        if now >= until {
            return inactive(Inactive::Expired {
                valid_until: until.to_string(),
            });
        }
    }
    match indicator.get("pattern_type") {
        Some(serde_json::Value::String(t)) if t == "stix" => {}
        Some(serde_json::Value::String(t)) => {
            return inactive(Inactive::UnsupportedPatternType {
                pattern_type: t.clone(),
            })
        }
        Some(v) => {
            return Err(err(
                indicator,
                "pattern_type",
                format!("must be a string, found {v}"),
            ))
        }
        None => {
            return Err(err(
                indicator,
                "pattern_type",
                "required property is missing",
            ))
        }
    }
    let c = confidence(indicator)?.unwrap_or(policy.default_confidence);
    let effective = weights.effective_confidence(indicator.id(), c);
    if effective < policy.min_confidence {
        return inactive(Inactive::LowConfidence {
            effective,
            minimum: policy.min_confidence,
        });
    }
    Ok(Activity::Active {
        effective_confidence: effective,
    })
}

/// `true` when the indicator is active at `now` with confidence at least
/// `min_confidence`, unset confidence counting as 50 and no false-positive penalty.
/// Malformed indicators are not active.
pub fn is_active(indicator: &Object, now: Timestamp, min_confidence: u8) -> bool {
    let policy = ActivePolicy {
        min_confidence,
        ..ActivePolicy::default()
    };
    matches!(
        activity(indicator, now, &policy, &WeightBook::new()),
        Ok(Activity::Active { .. })
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ind(extra: serde_json::Value) -> Object {
        let mut v = json!({
            "type": "indicator", "spec_version": "2.1",
            "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
            "pattern": "[ipv4-addr:value = '203.0.113.9']", "pattern_type": "stix",
            "valid_from": "2026-01-01T00:00:00Z"
        });
        if let (Some(m), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
            m.extend(e);
        }
        Object::from_value(v).unwrap()
    }
    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn validity_interval_is_half_open() {
        let i = ind(json!({"valid_until": "2026-02-01T00:00:00Z"}));
        assert!(!is_active(&i, t("2025-12-31T23:59:59.999Z"), 0));
        assert!(is_active(&i, t("2026-01-01T00:00:00Z"), 0));
        assert!(is_active(&i, t("2026-01-31T23:59:59.999Z"), 0));
        assert!(!is_active(&i, t("2026-02-01T00:00:00Z"), 0));
    }

    #[test]
    fn revoked_and_other_pattern_languages_are_inactive() {
        let now = t("2026-01-02T00:00:00Z");
        assert!(!is_active(&ind(json!({"revoked": true})), now, 0));
        assert!(!is_active(&ind(json!({"pattern_type": "sigma"})), now, 0));
        let w = WeightBook::new();
        assert_eq!(
            activity(
                &ind(json!({"pattern_type": "yara"})),
                now,
                &ActivePolicy::default(),
                &w
            )
            .unwrap(),
            Activity::Inactive(Inactive::UnsupportedPatternType {
                pattern_type: "yara".into()
            })
        );
    }

    #[test]
    fn confidence_threshold_and_default() {
        let now = t("2026-01-02T00:00:00Z");
        assert!(is_active(&ind(json!({"confidence": 70})), now, 70));
        assert!(!is_active(&ind(json!({"confidence": 69})), now, 70));
        // unset confidence counts as 50
        assert!(is_active(&ind(json!({})), now, 50));
        assert!(!is_active(&ind(json!({})), now, 51));
    }

    #[test]
    fn false_positives_halve_the_weight_and_true_positives_restore_it() {
        let now = t("2026-01-02T00:00:00Z");
        let i = ind(json!({"confidence": 80}));
        let policy = ActivePolicy {
            min_confidence: 50,
            default_confidence: 50,
        };
        let mut w = WeightBook::new();
        assert_eq!(
            activity(&i, now, &policy, &w).unwrap(),
            Activity::Active {
                effective_confidence: 80
            }
        );
        w.record_false_positive(i.id());
        assert_eq!(
            activity(&i, now, &policy, &w).unwrap(),
            Activity::Inactive(Inactive::LowConfidence {
                effective: 40,
                minimum: 50
            })
        );
        w.record_false_positive(i.id());
        assert_eq!(w.effective_confidence(i.id(), 80), 20);
        w.record_true_positive(i.id());
        w.record_true_positive(i.id());
        w.record_true_positive(i.id());
        assert_eq!(w.penalty(i.id()), 0);
        assert_eq!(
            activity(&i, now, &policy, &w).unwrap(),
            Activity::Active {
                effective_confidence: 80
            }
        );
    }

    #[test]
    fn malformed_indicators_are_errors_with_a_pointer() {
        let now = t("2026-01-02T00:00:00Z");
        let w = WeightBook::new();
        let p = ActivePolicy::default();
        let e = activity(&ind(json!({"confidence": 101})), now, &p, &w).unwrap_err();
        assert_eq!(
            (e.pointer.as_str(), e.code()),
            ("/confidence", "warning.indicator.invalid")
        );
        let e = activity(&ind(json!({"valid_until": "yesterday"})), now, &p, &w).unwrap_err();
        assert_eq!(e.pointer, "/valid_until");
        let mut i = ind(json!({}));
        i.as_map_mut().remove("valid_from");
        assert_eq!(
            activity(&i, now, &p, &w).unwrap_err().pointer,
            "/valid_from"
        );
        assert!(!is_active(&i, now, 0));
    }
}
