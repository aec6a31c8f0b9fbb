//! Request and ingestion metrics, rendered in the Prometheus text format at `/metrics`.
//!
//! One registry per server (no process-global recorder), so several servers in one
//! process (tests, multi-node sandboxes) keep separate figures.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default, Clone)]
struct Series {
    count: u64,
    sum_secs: f64,
    buckets: [u64; BUCKETS.len()],
}

/// The server's metrics registry.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Series keyed by (method, route, status), kept sorted for stable output.
    requests: Mutex<BTreeMap<(String, String, u16), Series>>,
    objects_ingested: AtomicU64,
    objects_failed: AtomicU64,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one finished request.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if let Ok(mut map) = self.requests.lock() {
            let s = map
                .entry((method.to_owned(), route.to_owned(), status))
                .or_default();
            s.count += 1;
            s.sum_secs += secs;
            for (i, b) in BUCKETS.iter().enumerate() {
                if secs <= *b {
                    s.buckets[i] += 1;
                }
            }
        }
    }

    /// Records the outcome of ingesting objects.
    pub fn observe_ingest(&self, stored: u64, failed: u64) {
        self.objects_ingested.fetch_add(stored, Ordering::Relaxed);
        self.objects_failed.fetch_add(failed, Ordering::Relaxed);
    }

    /// Objects stored (or found identical) through POST so far.
    pub fn objects_ingested(&self) -> u64 {
        self.objects_ingested.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let map = self.requests.lock().map(|m| m.clone()).unwrap_or_default();
        out.push_str(
            "# HELP nadhir_taxii_requests_total TAXII HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE nadhir_taxii_requests_total counter\n");
        for ((m, r, st), s) in &map {
            let _ = writeln!(
                out,
                "nadhir_taxii_requests_total{{method=\"{m}\",route=\"{r}\",status=\"{st}\"}} {}",
                s.count
            );
        }
        out.push_str("# HELP nadhir_taxii_request_duration_seconds TAXII HTTP request latency.\n");
        out.push_str("# TYPE nadhir_taxii_request_duration_seconds histogram\n");
        for ((m, r, st), s) in &map {
            let labels = format!("method=\"{m}\",route=\"{r}\",status=\"{st}\"");
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "nadhir_taxii_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "nadhir_taxii_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "nadhir_taxii_request_duration_seconds_sum{{{labels}}} {}",
                s.sum_secs
            );
            let _ = writeln!(
                out,
                "nadhir_taxii_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        out.push_str("# HELP nadhir_taxii_objects_ingested_total Objects accepted through POST (stored or identical duplicates).\n");
        out.push_str("# TYPE nadhir_taxii_objects_ingested_total counter\n");
        let _ = writeln!(
            out,
            "nadhir_taxii_objects_ingested_total {}",
            self.objects_ingested.load(Ordering::Relaxed)
        );
        out.push_str("# HELP nadhir_taxii_objects_failed_total Objects refused through POST (invalid or conflicting).\n");
        out.push_str("# TYPE nadhir_taxii_objects_failed_total counter\n");
        let _ = writeln!(
            out,
            "nadhir_taxii_objects_failed_total {}",
            self.objects_failed.load(Ordering::Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::new();
        m.observe_request(
            "GET",
            "/{api_root}/collections/",
            200,
            Duration::from_millis(2),
        );
        m.observe_request(
            "GET",
            "/{api_root}/collections/",
            200,
            Duration::from_millis(20),
        );
        m.observe_ingest(5, 1);
        let t = m.render();
        assert!(t.contains(
            "nadhir_taxii_requests_total{method=\"GET\",route=\"/{api_root}/collections/\",status=\"200\"} 2"
        ));
        assert!(t.contains("le=\"0.005\"} 1\n"));
        assert!(t.contains("le=\"+Inf\"} 2\n"));
        assert!(t.contains("nadhir_taxii_objects_ingested_total 5\n"));
        assert!(t.contains("nadhir_taxii_objects_failed_total 1\n"));
    }
}
