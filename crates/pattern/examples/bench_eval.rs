//! Benchmark: the same 1,000 patterns against the same 10,000 observed-data objects.
//!
//! `cargo run --release -p pattern --example bench_eval -- OUTDIR [RUNS]` writes
//! OUTDIR/patterns.txt, OUTDIR/observed.json (one bundle) and OUTDIR/nadhir_verdicts.jsonl,
//! and prints the median wall time of RUNS full runs (prepare the observations once, then
//! parse + compile + match every pattern). `bench/pattern_vs_stix2matcher.py OUTDIR N`
//! times stix2-matcher on the first N patterns and checks the verdicts agree.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::time::Instant;

use pattern::{parse, CompiledPattern, EvalOptions, Observations};

/// CPU time of this (single) thread, from /proc/thread-self/schedstat (Linux); the
/// machines are shared, so CPU time is steadier than wall time.
// The read is bounded by `take(256)`: the ban on unbounded reads does not apply.
#[allow(clippy::disallowed_methods)]
fn cpu_seconds() -> f64 {
    std::fs::File::open("/proc/thread-self/schedstat")
        .and_then(|f| {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::Read::take(f, 256), &mut s)?;
            Ok(s)
        })
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(args.next().ok_or("usage: bench_eval OUTDIR [RUNS]")?);
    let runs: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    std::fs::create_dir_all(&out)?;
    let mut r = common::Rng::new(0xBE4C);
    let mut objects = Vec::new();
    for n in 0..10_000 {
        let b = common::evalgen::gen_bundle(&mut r, n + 1);
        if let Some(objs) = b["objects"].as_array() {
            objects.extend(objs.iter().cloned());
        }
    }
    let bundle = serde_json::json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-00000000beef", "objects": objects});
    let patterns: Vec<String> = (0..1000)
        .map(|_| common::evalgen::gen_eval_pattern(&mut r, 2))
        .collect();
    std::fs::write(out.join("patterns.txt"), patterns.join("\n") + "\n")?;
    std::fs::write(out.join("observed.json"), serde_json::to_vec(&[&bundle])?)?;
    let input = [bundle];

    let mut times = Vec::new();
    let mut cpu_times = Vec::new();
    let mut verdicts = Vec::new();
    for run in 0..runs {
        let t = Instant::now();
        let cpu0 = cpu_seconds();
        let data = Observations::new(&input)?;
        let mut v = Vec::with_capacity(patterns.len());
        for p in &patterns {
            let res = match parse(p) {
                Err(_) => ("parse_error".to_string(), vec![]),
                Ok(ast) => match CompiledPattern::new(&ast, EvalOptions::default())
                    .and_then(|c| c.matches(&data))
                {
                    Ok(m) if m.matched => ("match".to_string(), m.observed_data_refs),
                    Ok(_) => ("nomatch".to_string(), vec![]),
                    Err(e) => (format!("error:{}", e.code()), vec![]),
                },
            };
            v.push(res);
        }
        let dt = t.elapsed();
        let cpu = cpu_seconds() - cpu0;
        eprintln!("run {run}: wall {:.3} s, cpu {cpu:.3} s", dt.as_secs_f64());
        times.push(dt.as_secs_f64());
        cpu_times.push(cpu);
        verdicts = v;
    }
    times.sort_by(f64::total_cmp);
    cpu_times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let cpu_median = cpu_times[cpu_times.len() / 2];
    let mut f = std::io::BufWriter::new(std::fs::File::create(out.join("nadhir_verdicts.jsonl"))?);
    for (p, (o, refs)) in patterns.iter().zip(&verdicts) {
        writeln!(
            f,
            "{}",
            serde_json::json!({"pattern": p, "outcome": o, "observed_data_refs": refs})
        )?;
    }
    let matched = verdicts.iter().filter(|(o, _)| o == "match").count();
    println!(
        "nadhir: {} patterns x {} observed-data: median wall {:.3} s, median cpu {:.3} s over {runs} runs ({:.1} us cpu/pattern); {matched} matched",
        patterns.len(),
        10_000,
        median,
        cpu_median,
        cpu_median * 1e6 / patterns.len() as f64
    );
    Ok(())
}
