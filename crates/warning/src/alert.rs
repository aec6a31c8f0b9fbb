//! Alerts: severity, state machine, false positives.
//!
//! **Severity formula.** A score from 0 to 100:
//!
//! ```text
//! score = round(100 × (0.40·C + 0.20·T + 0.20·K + 0.20·A))
//! ```
//!
//! - `C` — effective confidence / 100 (after the false-positive weight, see
//!   [`crate::active`]);
//! - `T` — the highest *threat-type* factor among the indicator's `indicator_types`
//!   and `labels` ([`type_factor`]): `malicious-activity` 1.0, `attribution` and
//!   `compromised` 0.9, `anomalous-activity` and `unknown` 0.5, `anonymization` 0.4,
//!   `benign` 0; labels naming ransomware, APT or wipers 1.0, C2/botnet/exploit 0.9,
//!   phishing/malware 0.8, scanners/Tor 0.3; 0.5 when nothing is known;
//! - `K` — the latest kill-chain phase among `kill_chain_phases` ([`phase_factor`]):
//!   Lockheed Martin reconnaissance 0.1 … delivery 0.4 … command-and-control 0.85,
//!   actions-on-objectives 1.0; MITRE ATT&CK tactics likewise, from reconnaissance 0.1
//!   to exfiltration and impact 1.0 (ICS: impair-process-control and
//!   inhibit-response-function 1.0); 0.5 when there are none;
//! - `A` — the asset's criticality: low 0.25, medium 0.5, high 0.75, critical 1.0;
//!   0.5 when unknown.
//!
//! If every type/label factor found is 0 (`benign`), the score is capped at 19. Bands:
//! 0–19 info, 20–39 low, 40–59 medium, 60–79 high, 80–100 critical.
//!
//! **States.** `new → acknowledged → closed`, `new → closed`, and `closed → new`
//! (reopen). Anything else is an [`AlertError::InvalidTransition`]. Marking a false
//! positive is allowed from `new` and `acknowledged`, closes the alert, adds one to
//! the indicator's penalty, and yields a [`FalsePositiveReport`].
//!
//! **How a false positive is shared.** STIX 2.1 has no false-positive flag on a
//! sighting. What a STIX consumer does understand: an `opinion` (§4.11) is "an
//! assessment of the correctness of the information in a STIX Object" — an opinion of
//! `strongly-disagree` whose `object_refs` name the indicator and our sighting says, in
//! the standard vocabulary, "this indicator fired on benign activity here; this
//! sighting was wrong". And a sighting we published that turned out wrong is retracted
//! the standard way: a new version with `revoked: true` (§3.6). The report carries
//! both; the sharing rules decide where they go (the indicator's producer first).

use crate::active::WeightBook;
use crate::aggregate::map_object;
use crate::hit::{is_stix_id, AssetRef, Criticality};
use crate::ids;
use serde_json::{Map, Value};
use stix::{Object, Timestamp};

/// Alert severity bands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn from_score(score: u8) -> Severity {
        match score {
            0..=19 => Severity::Info,
            20..=39 => Severity::Low,
            40..=59 => Severity::Medium,
            60..=79 => Severity::High,
            _ => Severity::Critical,
        }
    }
}

/// The factors that went into a severity, for display ("why is this critical?").
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SeverityBreakdown {
    pub score: u8,
    pub severity: Severity,
    pub confidence: f64,
    pub threat_type: f64,
    pub kill_chain: f64,
    pub asset: f64,
}

/// The factor of one `indicator_types` value or label (`None` when unknown).
pub fn type_factor(word: &str) -> Option<f64> {
    let w = word.to_ascii_lowercase();
    let has = |keys: &[&str]| {
        w.split(|c: char| !c.is_ascii_alphanumeric())
            .any(|t| keys.contains(&t))
    };
    Some(match w.as_str() {
        "malicious-activity" => 1.0,
        "attribution" | "compromised" => 0.9,
        "anomalous-activity" | "unknown" => 0.5,
        "anonymization" => 0.4,
        "benign" => 0.0,
        "command-and-control" => 0.9,
        _ if has(&["ransomware", "apt", "wiper"]) => 1.0,
        _ if has(&["c2", "cnc", "botnet", "exploit"]) => 0.9,
        _ if has(&["phishing", "malware"]) => 0.8,
        _ if has(&["scanner", "scanning", "tor"]) => 0.3,
        _ => return None,
    })
}

/// The factor of one kill-chain phase (`None` when unknown).
pub fn phase_factor(kill_chain_name: &str, phase_name: &str) -> Option<f64> {
    let chain = kill_chain_name.to_ascii_lowercase();
    let phase = phase_name.to_ascii_lowercase();
    if chain.contains("lockheed") {
        return Some(match phase.as_str() {
            "reconnaissance" => 0.1,
            "weaponization" => 0.2,
            "delivery" => 0.4,
            "exploitation" => 0.6,
            "installation" => 0.7,
            "command-and-control" => 0.85,
            "actions-on-objectives" => 1.0,
            _ => return None,
        });
    }
    Some(match phase.as_str() {
        "reconnaissance" => 0.1,
        "resource-development" => 0.15,
        "initial-access" => 0.4,
        "execution" => 0.55,
        "persistence" | "defense-evasion" | "evasion" => 0.6,
        "privilege-escalation" => 0.65,
        "discovery" => 0.5,
        "credential-access" => 0.7,
        "lateral-movement" => 0.75,
        "collection" => 0.8,
        "command-and-control" => 0.85,
        "exfiltration" | "impact" | "actions-on-objectives" => 1.0,
        "inhibit-response-function" | "impair-process-control" => 1.0,
        _ => return None,
    })
}

fn strings<'a>(o: &'a Object, prop: &str) -> impl Iterator<Item = &'a str> {
    o.get(prop)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// Computes the severity of a hit on `indicator` (see the module docs).
pub fn severity(
    indicator: &Object,
    effective_confidence: u8,
    asset: Option<Criticality>,
) -> SeverityBreakdown {
    let c = f64::from(effective_confidence.min(100)) / 100.0;
    let types: Vec<f64> = strings(indicator, "indicator_types")
        .chain(strings(indicator, "labels"))
        .filter_map(type_factor)
        .collect();
    let t = types
        .iter()
        .copied()
        .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
    let benign = t == Some(0.0);
    let t = t.unwrap_or(0.5);
    let k = indicator
        .get("kill_chain_phases")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            phase_factor(
                p.get("kill_chain_name")?.as_str()?,
                p.get("phase_name")?.as_str()?,
            )
        })
        .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
        .unwrap_or(0.5);
    let a = asset.map_or(0.5, Criticality::factor);
    let mut score = (100.0 * (0.40 * c + 0.20 * t + 0.20 * k + 0.20 * a)).round() as u8;
    if benign {
        score = score.min(19);
    }
    SeverityBreakdown {
        score,
        severity: Severity::from_score(score),
        confidence: c,
        threat_type: t,
        kill_chain: k,
        asset: a,
    }
}

/// Alert lifecycle states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    New,
    Acknowledged,
    Closed,
}

/// What was asked of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertAction {
    Acknowledge,
    Close,
    Reopen,
    MarkFalsePositive,
}

/// Why an alert operation is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    #[error("alert {id}: cannot {action:?} an alert that is {state:?}")]
    InvalidTransition {
        id: String,
        state: AlertState,
        action: AlertAction,
    },
    #[error("alert {id} is already marked as a false positive")]
    AlreadyFalsePositive { id: String },
    #[error("{what} {value:?} is not a {expected} id")]
    BadReference {
        what: &'static str,
        value: String,
        expected: &'static str,
    },
}

impl AlertError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            AlertError::InvalidTransition { .. } => "warning.alert.invalid_transition",
            AlertError::AlreadyFalsePositive { .. } => "warning.alert.already_false_positive",
            AlertError::BadReference { .. } => "warning.alert.bad_reference",
        }
    }
}

/// One recorded state change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Transition {
    pub at: Timestamp,
    pub by: String,
    pub action: AlertAction,
    pub from: AlertState,
    pub to: AlertState,
}

/// An alert raised for one sighting (one indicator, one window).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Alert {
    /// UUIDv5 of the sighting id, so one sighting never raises two alerts.
    pub id: String,
    pub indicator_id: String,
    pub sighting_id: String,
    pub severity: Severity,
    pub breakdown: SeverityBreakdown,
    pub state: AlertState,
    pub false_positive: bool,
    pub asset: Option<AssetRef>,
    pub created: Timestamp,
    pub updated: Timestamp,
    pub history: Vec<Transition>,
}

/// What marking a false positive produces for sharing back.
#[derive(Debug, Clone, PartialEq)]
pub struct FalsePositiveReport {
    /// `opinion` `strongly-disagree` on the indicator and the sighting.
    pub opinion: Object,
    /// The sighting's retraction (a new version with `revoked: true`), when the
    /// current sighting was given.
    pub revoked_sighting: Option<Object>,
}

/// The alert id for a sighting.
pub fn alert_id(sighting_id: &str) -> String {
    uuid::Uuid::new_v5(
        &ids::SCO_NAMESPACE,
        format!("nadhir-alert:{sighting_id}").as_bytes(),
    )
    .to_string()
}

impl Alert {
    /// Raises an alert for a sighting of `indicator`.
    pub fn raise(
        indicator: &Object,
        sighting_id: &str,
        effective_confidence: u8,
        asset: Option<AssetRef>,
        now: Timestamp,
    ) -> Result<Alert, AlertError> {
        if !is_stix_id(indicator.id(), "indicator") {
            return Err(AlertError::BadReference {
                what: "indicator",
                value: indicator.id().to_owned(),
                expected: "indicator",
            });
        }
        if !is_stix_id(sighting_id, "sighting") {
            return Err(AlertError::BadReference {
                what: "sighting_id",
                value: sighting_id.to_owned(),
                expected: "sighting",
            });
        }
        let breakdown = severity(
            indicator,
            effective_confidence,
            asset.as_ref().map(|a| a.criticality),
        );
        Ok(Alert {
            id: alert_id(sighting_id),
            indicator_id: indicator.id().to_owned(),
            sighting_id: sighting_id.to_owned(),
            severity: breakdown.severity,
            breakdown,
            state: AlertState::New,
            false_positive: false,
            asset,
            created: now,
            updated: now,
            history: Vec::new(),
        })
    }

    fn transition(
        &mut self,
        action: AlertAction,
        to: AlertState,
        by: &str,
        now: Timestamp,
    ) -> Result<(), AlertError> {
        use AlertAction as A;
        use AlertState as S;
        let ok = matches!(
            (self.state, action),
            (S::New, A::Acknowledge)
                | (S::New | S::Acknowledged, A::Close | A::MarkFalsePositive)
                | (S::Closed, A::Reopen)
        );
        if !ok {
            return Err(AlertError::InvalidTransition {
                id: self.id.clone(),
                state: self.state,
                action,
            });
        }
        self.history.push(Transition {
            at: now,
            by: by.to_owned(),
            action,
            from: self.state,
            to,
        });
        self.state = to;
        self.updated = now;
        Ok(())
    }

    /// `new → acknowledged`.
    pub fn acknowledge(&mut self, by: &str, now: Timestamp) -> Result<(), AlertError> {
        self.transition(AlertAction::Acknowledge, AlertState::Acknowledged, by, now)
    }

    /// `new | acknowledged → closed` as a true positive: the indicator's penalty
    /// shrinks by one.
    pub fn close(
        &mut self,
        by: &str,
        now: Timestamp,
        weights: &mut WeightBook,
    ) -> Result<(), AlertError> {
        self.transition(AlertAction::Close, AlertState::Closed, by, now)?;
        weights.record_true_positive(&self.indicator_id);
        Ok(())
    }

    /// `closed → new`. Reopening a false positive withdraws the false-positive mark
    /// (and its penalty).
    pub fn reopen(
        &mut self,
        by: &str,
        now: Timestamp,
        weights: &mut WeightBook,
    ) -> Result<(), AlertError> {
        self.transition(AlertAction::Reopen, AlertState::New, by, now)?;
        if self.false_positive {
            self.false_positive = false;
            weights.record_true_positive(&self.indicator_id);
        }
        Ok(())
    }

    /// Marks the alert a false positive: closes it, penalises the indicator and
    /// builds the report to share back. `identity_id` is this node's identity;
    /// `sighting` is the current version of the alert's sighting, if at hand.
    pub fn mark_false_positive(
        &mut self,
        by: &str,
        explanation: &str,
        now: Timestamp,
        identity_id: &str,
        sighting: Option<&Object>,
        weights: &mut WeightBook,
    ) -> Result<FalsePositiveReport, AlertError> {
        if self.false_positive {
            return Err(AlertError::AlreadyFalsePositive {
                id: self.id.clone(),
            });
        }
        if !is_stix_id(identity_id, "identity") {
            return Err(AlertError::BadReference {
                what: "identity_id",
                value: identity_id.to_owned(),
                expected: "identity",
            });
        }
        if let Some(s) = sighting {
            if s.id() != self.sighting_id {
                return Err(AlertError::BadReference {
                    what: "sighting",
                    value: s.id().to_owned(),
                    expected: "this alert's sighting",
                });
            }
        }
        self.transition(AlertAction::MarkFalsePositive, AlertState::Closed, by, now)?;
        self.false_positive = true;
        weights.record_false_positive(&self.indicator_id);

        let ns = ids::node_namespace(identity_id);
        let stamp = Timestamp::from_unix_millis(now.unix_micros().div_euclid(1000));
        let mut op = Map::new();
        op.insert("type".into(), "opinion".into());
        op.insert("spec_version".into(), "2.1".into());
        op.insert(
            "id".into(),
            Value::String(ids::derived_id(
                "opinion",
                &ns,
                &[&self.sighting_id, "false-positive"],
            )),
        );
        op.insert(
            "created_by_ref".into(),
            Value::String(identity_id.to_owned()),
        );
        op.insert("created".into(), Value::String(stamp.to_string()));
        op.insert("modified".into(), Value::String(stamp.to_string()));
        let text = if explanation.trim().is_empty() {
            "False positive: the indicator matched benign activity at this organisation.".to_owned()
        } else {
            format!("False positive: {explanation}")
        };
        op.insert("explanation".into(), Value::String(text));
        op.insert("opinion".into(), "strongly-disagree".into());
        op.insert(
            "object_refs".into(),
            Value::Array(
                [&self.indicator_id, &self.sighting_id]
                    .into_iter()
                    // An asset alert has no sighting: the opinion is on the object alone.
                    .filter(|r| !r.is_empty())
                    .map(|r| Value::String(r.clone()))
                    .collect(),
            ),
        );
        let revoked_sighting = sighting.map(|s| revoke(s, now));
        Ok(FalsePositiveReport {
            opinion: map_object(op),
            revoked_sighting,
        })
    }
}

/// A new version of `object` with `revoked: true` and `modified` later than before.
pub fn revoke(object: &Object, now: Timestamp) -> Object {
    let mut map = object.as_map().clone();
    let now_ms = now.unix_micros().div_euclid(1000);
    let prev_ms = object.modified().map(|m| m.unix_micros().div_euclid(1000));
    let ms = match prev_ms {
        Some(p) if p >= now_ms => p + 1,
        _ => now_ms,
    };
    map.insert(
        "modified".into(),
        Value::String(Timestamp::from_unix_millis(ms).to_string()),
    );
    map.insert("revoked".into(), Value::Bool(true));
    map_object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SIGHTING: &str = "sighting--5b5c6e3e-2b9a-4f0e-8a55-1b0b2a9c8d11";
    const IDENTITY: &str = "identity--0b9a5a4e-6b7b-4c61-9d0e-0c2c7e6a2f11";

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
    fn severity_formula_worked_examples() {
        // exfiltration C2 indicator, confidence 90, critical asset:
        // 100 × (0.4×0.9 + 0.2×1.0 + 0.2×1.0 + 0.2×1.0) = 96
        let i = ind(json!({
            "indicator_types": ["malicious-activity"],
            "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "exfiltration"}]
        }));
        let b = severity(&i, 90, Some(Criticality::Critical));
        assert_eq!((b.score, b.severity), (96, Severity::Critical));
        // same indicator at reconnaissance, low-criticality asset, confidence 40:
        // 100 × (0.16 + 0.2 + 0.02 + 0.05) = 43
        let i = ind(json!({
            "indicator_types": ["malicious-activity"],
            "kill_chain_phases": [{"kill_chain_name": "lockheed-martin-cyber-kill-chain", "phase_name": "reconnaissance"}]
        }));
        let b = severity(&i, 40, Some(Criticality::Low));
        assert_eq!((b.score, b.severity), (43, Severity::Medium));
        // nothing known: 100 × (0.4×0.5 + 0.1 + 0.1 + 0.1) = 50
        assert_eq!(severity(&ind(json!({})), 50, None).score, 50);
        // benign is capped at info
        let b = severity(
            &ind(json!({"indicator_types": ["benign"]})),
            100,
            Some(Criticality::Critical),
        );
        assert_eq!((b.score, b.severity), (19, Severity::Info));
    }

    #[test]
    fn later_phases_and_threat_labels_weigh_more() {
        let phase = |chain: &str, p: &str| {
            severity(
                &ind(json!({"kill_chain_phases": [{"kill_chain_name": chain, "phase_name": p}]})),
                50,
                None,
            )
            .score
        };
        assert!(phase("mitre-attack", "impact") > phase("mitre-attack", "initial-access"));
        assert!(
            phase("lockheed-martin-cyber-kill-chain", "actions-on-objectives")
                > phase("lockheed-martin-cyber-kill-chain", "delivery")
        );
        let label = |l: &str| severity(&ind(json!({"labels": [l]})), 50, None).score;
        assert!(label("ransomware") > label("phishing"));
        assert!(label("phishing") > label("tor-exit-node"));
        // words are matched whole: "monitoring" is not "tor", "adaptive" is not "apt"
        assert_eq!(type_factor("monitoring"), None);
        assert_eq!(type_factor("adaptive"), None);
        assert_eq!(type_factor("APT-28"), Some(1.0));
    }

    #[test]
    fn state_machine() {
        let mut w = WeightBook::new();
        let now = t("2026-03-01T10:00:00Z");
        let mut a = Alert::raise(&ind(json!({"confidence": 80})), SIGHTING, 80, None, now).unwrap();
        assert_eq!(a.id, alert_id(SIGHTING));
        assert_eq!(a.state, AlertState::New);
        assert_eq!(
            a.reopen("ops", now, &mut w).unwrap_err().code(),
            "warning.alert.invalid_transition"
        );
        a.acknowledge("ops", now).unwrap();
        assert!(a.acknowledge("ops", now).is_err());
        a.close("ops", now, &mut w).unwrap();
        assert_eq!(a.state, AlertState::Closed);
        let e = a.close("ops", now, &mut w).unwrap_err();
        assert_eq!(
            e,
            AlertError::InvalidTransition {
                id: a.id.clone(),
                state: AlertState::Closed,
                action: AlertAction::Close
            }
        );
        a.reopen("ops", now, &mut w).unwrap();
        a.close("ops", now, &mut w).unwrap();
        assert_eq!(a.history.len(), 4);
        assert!(Alert::raise(&ind(json!({})), "sighting--x", 50, None, now).is_err());
    }

    #[test]
    fn false_positive_penalises_and_produces_an_opinion_and_a_retraction() {
        let mut w = WeightBook::new();
        let now = t("2026-03-01T10:00:00Z");
        let i = ind(json!({"confidence": 80}));
        let mut a = Alert::raise(&i, SIGHTING, 80, None, now).unwrap();
        let sighting = Object::from_value(json!({
            "type": "sighting", "spec_version": "2.1", "id": SIGHTING,
            "created": "2026-03-01T10:00:00.000Z", "modified": "2026-03-01T10:00:00.000Z",
            "sighting_of_ref": i.id(), "count": 3
        }))
        .unwrap();
        let r = a
            .mark_false_positive(
                "ops",
                "internal vulnerability scanner",
                now,
                IDENTITY,
                Some(&sighting),
                &mut w,
            )
            .unwrap();
        assert_eq!(a.state, AlertState::Closed);
        assert!(a.false_positive);
        assert_eq!(w.effective_confidence(i.id(), 80), 40);
        assert_eq!(r.opinion.get("opinion").unwrap(), "strongly-disagree");
        assert_eq!(
            r.opinion.get("object_refs").unwrap(),
            &json!([i.id(), SIGHTING])
        );
        let rev = r.revoked_sighting.unwrap();
        assert_eq!(rev.get("revoked").unwrap(), true);
        assert!(rev.modified().unwrap() > sighting.modified().unwrap());
        assert_eq!(rev.get("count").unwrap(), 3);
        assert_eq!(
            a.mark_false_positive("ops", "", now, IDENTITY, None, &mut w)
                .unwrap_err()
                .code(),
            "warning.alert.already_false_positive"
        );
        // reopening withdraws the penalty
        a.reopen("ops", now, &mut w).unwrap();
        assert_eq!(w.penalty(i.id()), 0);
    }
}
