//! Bulk insert benchmark at the store layer.
//!
//! ```text
//! cargo run --release -p store --example bulk_insert -- \
//!     --objects 1000000 --batch 1000 [--database-url URL] [--data-dir DIR] [--collection]
//! ```
//!
//! Generates indicator objects of about 600 bytes of JSON, inserts them in batches
//! inside ONE streamed write transaction, commits, and prints the throughput (time in
//! the store only, and wall time including generation) and the peak RSS (VmHWM).
//! Without `--database-url` it uses SQLite in `--data-dir` (default: a new temporary
//! directory, removed afterwards).

use std::io::BufRead;
use std::time::{Duration, Instant};

use sha2::Digest;
use store::{CollectionId, InsertOutcome, NewObject};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug)]
struct Args {
    objects: usize,
    batch: usize,
    database_url: Option<String>,
    data_dir: Option<std::path::PathBuf>,
    collection: bool,
}

fn parse_args() -> Result<Args, BoxError> {
    let mut args = Args {
        objects: 1_000_000,
        batch: 1000,
        database_url: None,
        data_dir: None,
        collection: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--objects" => args.objects = value()?.parse()?,
            "--batch" => args.batch = value()?.parse()?,
            "--database-url" => args.database_url = Some(value()?),
            "--data-dir" => args.data_dir = Some(value()?.into()),
            "--collection" => args.collection = true,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    if args.batch == 0 {
        return Err("--batch must be at least 1".into());
    }
    Ok(args)
}

/// One generated indicator, about 600 bytes of JSON.
fn object(n: usize) -> NewObject {
    let id = format!("indicator--{}", uuid::Uuid::new_v4());
    let json = format!(
        concat!(
            r#"{{"type":"indicator","spec_version":"2.1","id":"{id}","#,
            r#""created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","#,
            r#""name":"Command and control server {n}","#,
            r#""description":"Address observed as command-and-control infrastructure for a "#,
            r#"credential phishing campaign targeting the finance sector; shared for blocking "#,
            r#"and retro-hunting in proxy and firewall logs over the last ninety days.","#,
            r#""indicator_types":["malicious-activity","attribution"],"#,
            r#""pattern":"[ipv4-addr:value = '10.{a}.{b}.{c}'] OR [domain-name:value = 'c2-{n}.example.net']","#,
            r#""pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","#,
            r#""labels":["benchmark","phishing"],"confidence":80,"lang":"en"}}"#
        ),
        id = id,
        n = n,
        a = (n >> 16) & 255,
        b = (n >> 8) & 255,
        c = n & 255,
    );
    NewObject {
        content_hash: hex::encode(sha2::Sha256::digest(json.as_bytes())),
        id,
        type_name: "indicator".into(),
        spec_version: "2.1".into(),
        version_key: "2024-01-01T00:00:00.000000000Z".into(),
        version_text: "2024-01-01T00:00:00.000Z".into(),
        revoked: false,
        json,
    }
}

/// Peak resident set size in bytes (VmHWM), if the platform reports it.
fn peak_rss_bytes() -> Option<u64> {
    let file = std::fs::File::open("/proc/self/status").ok()?;
    let mut reader = std::io::BufReader::new(std::io::Read::take(file, 64 * 1024));
    let mut line = String::new();
    while reader.read_line(&mut line).ok()? > 0 {
        if let Some(rest) = line.strip_prefix("VmHWM:") {
            let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
            return Some(kb * 1024);
        }
        line.clear();
    }
    None
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = parse_args()?;
    let temp = match (&args.database_url, &args.data_dir) {
        (None, None) => Some(tempfile::tempdir()?),
        _ => None,
    };
    let data_dir = match (&temp, &args.data_dir) {
        (Some(t), _) => t.path().to_owned(),
        (None, Some(d)) => d.clone(),
        (None, None) => std::path::PathBuf::from("."),
    };
    let store = store::open(&data_dir, args.database_url.as_deref()).await?;
    let collections = if args.collection {
        let c = store::Collection {
            id: CollectionId(uuid::Uuid::new_v4().to_string()),
            api_root: "bench".into(),
            title: "Bulk insert benchmark".into(),
            description: None,
            alias: None,
            media_types: vec!["application/stix+json;version=2.1".into()],
            created: stix::Timestamp::now_unix_micros(),
        };
        store.create_collection(&c).await?;
        vec![c.id]
    } else {
        Vec::new()
    };

    let wall = Instant::now();
    let mut in_store = Duration::ZERO;
    let mut inserted = 0usize;
    let t = Instant::now();
    let mut tx = store.begin().await?;
    in_store += t.elapsed();
    let mut n = 0;
    while n < args.objects {
        let size = args.batch.min(args.objects - n);
        let batch: Vec<NewObject> = (n..n + size).map(object).collect();
        let t = Instant::now();
        let out = tx.insert(&batch, &collections).await?;
        in_store += t.elapsed();
        inserted += out
            .iter()
            .filter(|o| matches!(o, InsertOutcome::Inserted { .. }))
            .count();
        n += size;
    }
    let t = Instant::now();
    tx.commit().await?;
    in_store += t.elapsed();
    let wall = wall.elapsed();

    let stats = store.stats().await?;
    let store_rate = args.objects as f64 / in_store.as_secs_f64();
    let wall_rate = args.objects as f64 / wall.as_secs_f64();
    println!(
        "backend={} objects={} batch={} collection={} inserted={} stored_versions={} \
         store_secs={:.2} store_objects_per_sec={:.0} wall_secs={:.2} wall_objects_per_sec={:.0} \
         peak_rss_mb={:.1} size_mb={:.1}",
        store.backend(),
        args.objects,
        args.batch,
        args.collection,
        inserted,
        stats.total_versions,
        in_store.as_secs_f64(),
        store_rate,
        wall.as_secs_f64(),
        wall_rate,
        peak_rss_bytes().map_or(f64::NAN, |b| b as f64 / 1_048_576.0),
        stats.size_bytes as f64 / 1_048_576.0,
    );
    drop(store);
    drop(temp);
    Ok(())
}
