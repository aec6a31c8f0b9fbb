//! Who may read an alert. An alert repeats what it is about (the indicator's name and
//! pattern, who shared it), so every path that hands alerts out (`/warning/alerts`,
//! `/warning/stream`, webhooks) asks the node's policy, through an [`AlertGate`], whether
//! the reader may read the object the alert is about; an alert about an object the
//! reader may not read is withheld. Without a gate installed nothing about an object is
//! handed out.

use std::sync::Arc;

/// Who reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    pub org: String,
    pub user: Option<String>,
    pub role: String,
}

/// The read path asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertPurpose {
    Read,
    Stream,
    Webhook,
}

/// The node's policy, as the engine sees it (implemented over `policy::decide` by the
/// binary's wiring).
#[async_trait::async_trait]
pub trait AlertGate: Send + Sync + std::fmt::Debug {
    /// For each object id (in order), whether `reader` may read it for `purpose`.
    async fn may_read(
        &self,
        reader: &Reader,
        object_ids: &[String],
        purpose: AlertPurpose,
    ) -> Result<Vec<bool>, String>;
}

/// The object an alert or feed entry is about (`alert.indicator_id`), if any.
pub fn subject_of(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v.get("alert")
        .and_then(|a| a.get("indicator_id"))
        .or_else(|| v.get("indicator_id"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}

/// Which of `bodies` (alert records or feed entries) `reader` may receive: those about
/// no object, and those about an object the gate lets the reader read.
pub async fn visible(
    gate: Option<&Arc<dyn AlertGate>>,
    reader: &Reader,
    bodies: &[&str],
    purpose: AlertPurpose,
) -> Vec<bool> {
    let subjects: Vec<Option<String>> = bodies.iter().map(|b| subject_of(b)).collect();
    let ids: Vec<String> = subjects.iter().flatten().cloned().collect();
    let allowed = match (gate, ids.is_empty()) {
        (_, true) => Vec::new(),
        (None, false) => vec![false; ids.len()],
        (Some(g), false) => match g.may_read(reader, &ids, purpose).await {
            Ok(v) if v.len() == ids.len() => v,
            Ok(_) => vec![false; ids.len()],
            Err(e) => {
                tracing::warn!(error = %e, "the alert gate failed: withholding");
                vec![false; ids.len()]
            }
        },
    };
    let mut it = allowed.into_iter();
    subjects
        .iter()
        .map(|s| match s {
            None => true,
            Some(_) => it.next().unwrap_or(false),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct OnlyA;
    #[async_trait::async_trait]
    impl AlertGate for OnlyA {
        async fn may_read(
            &self,
            _: &Reader,
            ids: &[String],
            _: AlertPurpose,
        ) -> Result<Vec<bool>, String> {
            Ok(ids.iter().map(|i| i == "indicator--a").collect())
        }
    }

    #[tokio::test]
    async fn withholds_what_the_gate_refuses_and_everything_without_a_gate() {
        let r = Reader {
            org: "o".into(),
            user: None,
            role: "analyst".into(),
        };
        let a = r#"{"alert":{"indicator_id":"indicator--a"}}"#;
        let b = r#"{"alert":{"indicator_id":"indicator--b"}}"#;
        let none = r#"{"kind":"status"}"#;
        let g: Arc<dyn AlertGate> = Arc::new(OnlyA);
        assert_eq!(
            visible(Some(&g), &r, &[a, b, none], AlertPurpose::Read).await,
            vec![true, false, true]
        );
        assert_eq!(
            visible(None, &r, &[a, none], AlertPurpose::Stream).await,
            vec![false, true]
        );
    }
}
