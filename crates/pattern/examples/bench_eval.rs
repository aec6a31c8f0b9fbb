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
    let mut verdicts = Vec::new();
    for run in 0..runs {
        let t = Instant::now();
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
        eprintln!("run {run}: {:.3} s", dt.as_secs_f64());
        times.push(dt.as_secs_f64());
        verdicts = v;
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
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
        "nadhir: {} patterns x {} observed-data: median {:.3} s over {runs} runs ({:.1} us/pattern); {matched} matched",
        patterns.len(),
        10_000,
        median,
        median * 1e6 / patterns.len() as f64
    );
    Ok(())
}
