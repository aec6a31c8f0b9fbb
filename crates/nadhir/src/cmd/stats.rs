//! `nadhir stats`: what the store holds.

use super::GlobalArgs;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &GlobalArgs, args: StatsArgs) -> anyhow::Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async {
        let store = super::open_store(g).await?;
        let stats = store.stats().await?;
        if args.json {
            let v = serde_json::json!({
                "backend": store.backend(),
                "total_versions": stats.total_versions,
                "distinct_objects": stats.distinct_objects,
                "size_bytes": stats.size_bytes,
                "by_type": stats.by_type.iter().map(|(t, n)| serde_json::json!({"type": t, "count": n})).collect::<Vec<_>>(),
                "by_collection": stats.by_collection.iter().map(|(id, name, n)| serde_json::json!({"id": id, "name": name, "count": n})).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
            return Ok(ExitCode::SUCCESS);
        }
        println!("store:             {} ({})", store.backend(), human_bytes(stats.size_bytes));
        println!("objects:           {}", stats.distinct_objects);
        println!("object versions:   {}", stats.total_versions);
        println!();
        println!("{:<32} {:>12}", "type", "versions");
        for (t, n) in &stats.by_type {
            println!("{t:<32} {n:>12}");
        }
        println!();
        println!("{:<38} {:<24} {:>12}", "collection", "name", "versions");
        for (id, name, n) in &stats.by_collection {
            println!("{:<38} {name:<24} {n:>12}", id.as_str());
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_bytes_units() {
        assert_eq!(super::human_bytes(512), "512 B");
        assert_eq!(super::human_bytes(1536), "1.5 KiB");
        assert_eq!(super::human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
