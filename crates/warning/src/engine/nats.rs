//! NATS JetStream source: several `nadhir` workers share one durable pull consumer of
//! one stream; each message (one event, or several newline-separated events) is
//! acknowledged only after [`Engine::process`] returned for the batch holding it.
//!
//! Delivery is at-least-once: a worker that dies before acknowledging leaves its
//! messages to be redelivered (after `ack_wait`) to another worker. Event ids are
//! `nats:{stream}:{stream sequence}` (with `:{line}` for the second and later lines of a
//! message), the same on every redelivery, so the store's dedup keys count every event
//! exactly once in the aggregated sightings.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy};
use futures::StreamExt;

use super::pipeline::{Batch, BatchReport, EventIds};
use super::source::add;
use super::{Engine, EngineError, Result};
use crate::hit::SourceRef;

/// Settings of a JetStream source.
#[derive(Debug, Clone)]
pub struct NatsSource {
    /// `nats://127.0.0.1:4222`
    pub url: String,
    /// Stream name; created (file storage, the subject below) when missing.
    pub stream: String,
    /// Subject the stream captures, e.g. `telemetry.>`.
    pub subject: String,
    /// Durable consumer name shared by the workers.
    pub consumer: String,
    /// Messages fetched per batch.
    pub batch: usize,
    /// How long an unacknowledged message waits before redelivery.
    pub ack_wait: Duration,
    /// Stop when the stream has had nothing for this long and the consumer has no
    /// message waiting or unacknowledged (a killed worker's messages come back after
    /// `ack_wait` and are processed first); for tests and one-shot runs. `None`: run
    /// until shutdown.
    pub idle_exit: Option<Duration>,
}

impl NatsSource {
    pub fn new(url: &str, stream: &str, subject: &str, consumer: &str) -> Self {
        NatsSource {
            url: url.to_owned(),
            stream: stream.to_owned(),
            subject: subject.to_owned(),
            consumer: consumer.to_owned(),
            batch: 500,
            ack_wait: Duration::from_secs(10),
            idle_exit: None,
        }
    }
}

fn nats_err(what: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::Nats(format!("{what}: {e}"))
}

/// Connects and returns the stream (created, with file storage, when missing).
pub async fn ensure_stream(src: &NatsSource) -> Result<jetstream::stream::Stream> {
    let client = async_nats::connect(&src.url)
        .await
        .map_err(|e| nats_err(&format!("connect {}", src.url), e))?;
    let js = jetstream::new(client);
    js.get_or_create_stream(jetstream::stream::Config {
        name: src.stream.clone(),
        subjects: vec![src.subject.clone()],
        ..Default::default()
    })
    .await
    .map_err(|e| nats_err(&format!("stream {}", src.stream), e))
}

/// Connects and returns the stream's durable pull consumer (creating both if needed).
pub async fn consumer(src: &NatsSource) -> Result<jetstream::consumer::Consumer<pull::Config>> {
    let stream = ensure_stream(src).await?;
    stream
        .get_or_create_consumer(
            &src.consumer,
            pull::Config {
                durable_name: Some(src.consumer.clone()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: src.ack_wait,
                max_ack_pending: 100_000,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| nats_err(&format!("consumer {}", src.consumer), e))
}

impl Engine {
    /// Consumes the stream until shutdown (or idle exit); `progress` sees the
    /// cumulative report after each batch.
    pub async fn run_nats(
        self: &Arc<Self>,
        src: NatsSource,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
        mut progress: impl FnMut(&BatchReport),
    ) -> Result<BatchReport> {
        let consumer = consumer(&src).await?;
        let source = SourceRef {
            kind: "nats".into(),
            name: format!("{}/{}", src.stream, src.consumer),
        };
        let mut total = BatchReport::default();
        let mut idle_since = tokio::time::Instant::now();
        loop {
            if *shutdown.borrow() {
                return Ok(total);
            }
            let fetch = consumer
                .fetch()
                .max_messages(src.batch)
                .expires(Duration::from_millis(200))
                .messages();
            let mut messages = tokio::select! {
                m = fetch => m.map_err(|e| nats_err("fetch", e))?,
                _ = shutdown.changed() => return Ok(total),
            };
            let mut msgs = Vec::with_capacity(src.batch);
            while let Some(m) = messages.next().await {
                match m {
                    Ok(m) => msgs.push(m),
                    Err(e) => {
                        tracing::warn!("nats message error: {e}");
                        break;
                    }
                }
            }
            if msgs.is_empty() {
                if src.idle_exit.is_some_and(|d| idle_since.elapsed() >= d)
                    && drained(&consumer).await
                {
                    return Ok(total);
                }
                continue;
            }
            idle_since = tokio::time::Instant::now();
            let mut data = Vec::new();
            let mut ids = Vec::new();
            for m in &msgs {
                let seq = m.info().map(|i| i.stream_sequence).unwrap_or(0);
                let payload: &[u8] = &m.payload;
                for (no, line) in payload.split(|&b| b == b'\n').enumerate() {
                    if no > 0 && line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    data.extend_from_slice(line);
                    data.push(b'\n');
                    ids.push(if no == 0 {
                        format!("nats:{}:{seq}", src.stream)
                    } else {
                        format!("nats:{}:{seq}:{no}", src.stream)
                    });
                }
            }
            let r = self
                .process(Batch {
                    source: source.clone(),
                    data,
                    ids: EventIds::PerLine(ids),
                })
                .await?;
            // Processed: now, and only now, acknowledge.
            for m in &msgs {
                if let Err(e) = m.ack().await {
                    tracing::warn!(
                        "nats ack failed (the message will be redelivered and deduplicated): {e}"
                    );
                }
            }
            add(&mut total, &r);
            progress(&total);
        }
    }
}

/// Whether nothing is left for the consumer: no message waiting, and none delivered and
/// not yet acknowledged. A message another worker took and never acknowledged (it was
/// killed, say) counts as not drained: it is delivered again once `ack_wait` has
/// passed, so an idle exit must not come before it. When the server cannot be asked,
/// the stream counts as drained (idle exit is for batch runs and tests).
async fn drained(consumer: &jetstream::consumer::Consumer<pull::Config>) -> bool {
    match consumer.get_info().await {
        Ok(info) => info.num_pending == 0 && info.num_ack_pending == 0,
        Err(e) => {
            tracing::warn!("nats consumer info: {e}");
            true
        }
    }
}

/// Publishes newline-delimited events to `subject`, one message per line, waiting for
/// the stream's acknowledgements (for `nadhir watch --publish` and tests).
pub async fn publish_lines(url: &str, subject: &str, data: &[u8]) -> Result<u64> {
    let client = async_nats::connect(url)
        .await
        .map_err(|e| nats_err(&format!("connect {url}"), e))?;
    let js = jetstream::new(client);
    let mut pending = Vec::new();
    let mut n = 0u64;
    for line in data.split(|&b| b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let ack = js
            .publish(subject.to_owned(), line.to_vec().into())
            .await
            .map_err(|e| nats_err("publish", e))?;
        pending.push(ack);
        n += 1;
        if pending.len() >= 1000 {
            for a in pending.drain(..) {
                a.await.map_err(|e| nats_err("publish ack", e))?;
            }
        }
    }
    for a in pending {
        a.await.map_err(|e| nats_err("publish ack", e))?;
    }
    Ok(n)
}
