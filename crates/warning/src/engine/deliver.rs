//! Delivery: the live feed (replayable from a sequence, for Server-Sent Events) and
//! webhooks signed with HMAC-SHA256, retried with backoff, with a dead-letter record.
//!
//! **Webhook signature.** Each POST carries
//! `X-Nadhir-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
//! `X-Nadhir-Event: <feed kind>` and `X-Nadhir-Delivery: <feed sequence>` (the same
//! sequence the live stream uses as its event id, so receivers can deduplicate).
//! A receiver recomputes the HMAC over the timestamp, a dot and the raw body, compares
//! in constant time, and refuses old timestamps.
//!
//! **Retries.** Network errors, timeouts, 408, 429 and 5xx are retried up to
//! `max_attempts` times with exponential backoff (0.5 s, 1 s, 2 s, … capped at 30 s).
//! Other 4xx answers, and the last failed attempt, write a dead letter (record kind
//! `dead-letter`) and delivery moves on. Each webhook keeps its own cursor in the store,
//! so deliveries resume after a restart, in feed order.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use store::{FeedRow, RecordRow, Store};

use super::{Engine, EngineError, Result};

/// Record kind of webhook subscriptions.
pub const WEBHOOK_KIND: &str = "webhook";
/// Record kind of undeliverable webhook posts.
pub const DEAD_LETTER_KIND: &str = "dead-letter";

/// A webhook subscription.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    /// HMAC key (never shown again after creation by the CLI or API).
    pub secret: String,
    /// Feed kinds delivered (default: `alert`).
    pub kinds: Vec<String>,
    pub max_attempts: u32,
    /// Unix microseconds.
    pub created: i64,
    /// The organisation the deliveries are for: only alerts about objects it may read
    /// are posted. Empty: the node's own organisation.
    #[serde(default)]
    pub org: String,
}

/// An undeliverable post.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeadLetter {
    pub id: String,
    pub webhook_id: String,
    pub url: String,
    pub seq: i64,
    pub kind: String,
    pub attempts: u32,
    pub last_error: String,
    pub body: String,
    pub at: i64,
}

/// The signature header value for `body` at Unix time `t`.
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    format!(
        "t={t},v1={}",
        hex::encode(signed(secret, t, body).finalize().into_bytes())
    )
}

/// HMAC-SHA256 keyed with `secret` over `"<t>.<body>"`.
fn signed(secret: &str, t: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC accepts keys of any length.
        Err(_) => unreachable!("HMAC takes any key length"),
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Checks a signature header (for receivers and tests): constant-time comparison.
pub fn verify_signature(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = x.parse::<i64>().ok(),
            Some(("v1", x)) => v1 = hex::decode(x).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    signed(secret, t, body).verify_slice(&v1).is_ok()
}

fn cursor_key(id: &str) -> String {
    format!("webhook.{id}.cursor")
}

/// The latest feed sequence (0 when empty).
pub async fn feed_end(store: &dyn Store) -> Result<i64> {
    let mut last = 0;
    loop {
        let rows = store.feed_after(last, 10_000).await?;
        match rows.last() {
            Some(r) => last = r.seq,
            None => return Ok(last),
        }
    }
}

/// Registers a webhook; deliveries start with the next feed entry.
pub async fn add_webhook(
    store: &dyn Store,
    url: &str,
    secret: &str,
    kinds: Vec<String>,
    max_attempts: u32,
    org: &str,
) -> Result<Webhook> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| EngineError::BadWebhook(format!("url {url:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(EngineError::BadWebhook(format!(
            "url {url:?}: scheme must be http or https"
        )));
    }
    if secret.len() < 16 {
        return Err(EngineError::BadWebhook(
            "secret must be at least 16 characters".into(),
        ));
    }
    if max_attempts == 0 {
        return Err(EngineError::BadWebhook(
            "max_attempts must be at least 1".into(),
        ));
    }
    let hook = Webhook {
        id: uuid::Uuid::now_v7().to_string(),
        url: url.to_owned(),
        secret: secret.to_owned(),
        kinds: if kinds.is_empty() {
            vec![super::alerts::ALERT_KIND.to_owned()]
        } else {
            kinds
        },
        max_attempts,
        created: store::now_micros(),
        org: org.to_owned(),
    };
    store
        .set_state(&cursor_key(&hook.id), &feed_end(store).await?.to_string())
        .await?;
    store
        .put_record(&to_row(WEBHOOK_KIND, &hook.id, "active", &hook)?, None)
        .await?;
    Ok(hook)
}

fn to_row<T: Serialize>(kind: &str, id: &str, tag: &str, v: &T) -> Result<RecordRow> {
    Ok(RecordRow {
        kind: kind.into(),
        id: id.into(),
        tag: tag.into(),
        body: serde_json::to_string(v).map_err(|e| EngineError::Corrupt {
            kind: "record",
            id: id.to_owned(),
            reason: e.to_string(),
        })?,
        updated: store::now_micros(),
    })
}

/// Webhook subscriptions.
pub async fn list_webhooks(store: &dyn Store) -> Result<Vec<Webhook>> {
    let rows = store.list_records(WEBHOOK_KIND, None, 10_000).await?;
    rows.iter()
        .map(|r| {
            serde_json::from_str(&r.body).map_err(|e| EngineError::Corrupt {
                kind: "webhook",
                id: r.id.clone(),
                reason: e.to_string(),
            })
        })
        .collect()
}

/// Removes a webhook.
pub async fn remove_webhook(store: &dyn Store, id: &str) -> Result<()> {
    if !store.delete_record(WEBHOOK_KIND, id).await? {
        return Err(EngineError::WebhookNotFound(id.to_owned()));
    }
    Ok(())
}

/// Dead letters, newest first.
pub async fn dead_letters(store: &dyn Store, limit: usize) -> Result<Vec<DeadLetter>> {
    let rows = store.list_records(DEAD_LETTER_KIND, None, limit).await?;
    rows.iter()
        .map(|r| {
            serde_json::from_str(&r.body).map_err(|e| EngineError::Corrupt {
                kind: "dead-letter",
                id: r.id.clone(),
                reason: e.to_string(),
            })
        })
        .collect()
}

/// Feed entries after `after`, live: replays what is stored, then waits for more,
/// until `shutdown` turns true.
pub fn feed_stream(
    engine: Arc<Engine>,
    after: i64,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> impl Stream<Item = Result<FeedRow>> {
    let rx = engine.subscribe();
    let state = (engine, after, rx, shutdown, VecDeque::<FeedRow>::new());
    futures::stream::unfold(
        state,
        |(engine, mut cursor, mut rx, mut stop, mut buf)| async move {
            loop {
                if *stop.borrow() {
                    return None;
                }
                if let Some(row) = buf.pop_front() {
                    cursor = row.seq;
                    return Some((Ok(row), (engine, cursor, rx, stop, buf)));
                }
                match engine.store.feed_after(cursor, 500).await {
                    Ok(rows) if !rows.is_empty() => buf.extend(rows),
                    Ok(_) => {
                        // Other processes (workers) append too: poll as well as listen.
                        tokio::select! {
                            _ = rx.changed() => {}
                            _ = stop.changed() => {}
                            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                        }
                    }
                    Err(e) => return Some((Err(e.into()), (engine, cursor, rx, stop, buf))),
                }
            }
        },
    )
}

impl Engine {
    /// Delivers the feed to every webhook until `shutdown`.
    pub fn spawn_webhooks(
        self: &Arc<Self>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            let client = match reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!("webhooks disabled: cannot build an HTTP client: {e}");
                    return;
                }
            };
            let mut rx = engine.subscribe();
            loop {
                match engine.deliver_pending(&client, &mut shutdown).await {
                    Ok(()) => {}
                    Err(e) => tracing::warn!(code = e.code(), "webhook delivery: {e}"),
                }
                if *shutdown.borrow() {
                    return;
                }
                tokio::select! {
                    _ = rx.changed() => {}
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = shutdown.changed() => {}
                }
                if *shutdown.borrow() {
                    return;
                }
            }
        })
    }

    /// One delivery pass now (e.g. before a one-shot `nadhir watch` exits).
    pub async fn deliver_now(&self) {
        let Ok(client) = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
        else {
            return;
        };
        let (_tx, mut rx) = tokio::sync::watch::channel(false);
        if let Err(e) = self.deliver_pending(&client, &mut rx).await {
            tracing::warn!(code = e.code(), "webhook delivery: {e}");
        }
    }

    async fn deliver_pending(
        &self,
        client: &reqwest::Client,
        shutdown: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Result<()> {
        for hook in list_webhooks(self.store.as_ref()).await? {
            let key = cursor_key(&hook.id);
            let mut cursor: i64 = match self.store.get_state(&key).await? {
                Some(t) => t.parse().unwrap_or(0),
                None => feed_end(self.store.as_ref()).await?,
            };
            loop {
                let rows = self.store.feed_after(cursor, 100).await?;
                if rows.is_empty() {
                    break;
                }
                let bodies: Vec<&str> = rows.iter().map(|r| r.body.as_str()).collect();
                let reader = super::gate::Reader {
                    org: hook.org.clone(),
                    user: None,
                    role: "admin".to_owned(),
                };
                let allowed = super::gate::visible(
                    self.gate.get(),
                    &reader,
                    &bodies,
                    super::gate::AlertPurpose::Webhook,
                )
                .await;
                for (row, allowed) in rows.iter().zip(allowed) {
                    if allowed && hook.kinds.contains(&row.kind) {
                        if let Err((attempts, err)) = self.post(client, &hook, row, shutdown).await
                        {
                            if *shutdown.borrow() {
                                return Ok(());
                            }
                            let dl = DeadLetter {
                                id: uuid::Uuid::now_v7().to_string(),
                                webhook_id: hook.id.clone(),
                                url: hook.url.clone(),
                                seq: row.seq,
                                kind: row.kind.clone(),
                                attempts,
                                last_error: err,
                                body: row.body.clone(),
                                at: store::now_micros(),
                            };
                            tracing::warn!(webhook = %hook.id, seq = row.seq, "webhook post failed; dead letter {}", dl.id);
                            self.store
                                .put_record(&to_row(DEAD_LETTER_KIND, &dl.id, &hook.id, &dl)?, None)
                                .await?;
                        }
                    }
                    cursor = row.seq;
                    self.store.set_state(&key, &cursor.to_string()).await?;
                }
            }
        }
        Ok(())
    }

    /// Posts one feed entry, with retries. Err: (attempts, last error).
    async fn post(
        &self,
        client: &reqwest::Client,
        hook: &Webhook,
        row: &FeedRow,
        shutdown: &mut tokio::sync::watch::Receiver<bool>,
    ) -> std::result::Result<(), (u32, String)> {
        let mut delay = Duration::from_millis(500);
        let mut last = String::new();
        for attempt in 1..=hook.max_attempts {
            let t = store::now_micros().div_euclid(1_000_000);
            let sig = signature(&hook.secret, t, row.body.as_bytes());
            let res = client
                .post(&hook.url)
                .header("content-type", "application/json")
                .header("x-nadhir-signature", sig)
                .header("x-nadhir-event", row.kind.as_str())
                .header("x-nadhir-delivery", row.seq.to_string())
                .body(row.body.clone())
                .send()
                .await;
            let retry = match res {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => {
                    let code = r.status().as_u16();
                    last = format!("HTTP {code}");
                    code == 408 || code == 429 || code >= 500
                }
                Err(e) => {
                    last = e.to_string();
                    true
                }
            };
            if !retry || attempt == hook.max_attempts {
                return Err((attempt, last));
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => return Err((attempt, "shutting down".into())),
            }
            delay = (delay * 2).min(Duration::from_secs(30));
        }
        Err((hook.max_attempts, last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_round_trip_and_tamper() {
        let sig = signature("0123456789abcdef", 1_700_000_000, b"{\"a\":1}");
        assert!(sig.starts_with("t=1700000000,v1="));
        assert!(verify_signature("0123456789abcdef", &sig, b"{\"a\":1}"));
        assert!(!verify_signature("0123456789abcdef", &sig, b"{\"a\":2}"));
        assert!(!verify_signature("another-secret-xx", &sig, b"{\"a\":1}"));
        let other_time = sig.replace("t=1700000000", "t=1700000001");
        assert!(!verify_signature(
            "0123456789abcdef",
            &other_time,
            b"{\"a\":1}"
        ));
        assert!(!verify_signature("0123456789abcdef", "garbage", b""));
    }
}
