//! Benchmark: nanoseconds per `decide` call (and the PII minimiser under it) for typical
//! cases, on the fixtures of the integration tests.
//!
//! ```text
//! cargo run --release -p policy --example decide_bench            # 7 runs per case, median
//! cargo run -p policy --example decide_bench -- --quick           # smoke run for CI
//! ```
//!
//! Each case is run 7 times (`--quick`: 3 times, with a tenth of the iterations); the
//! median of the per-call time is printed. Checks (exit status non-zero when one fails):
//! a reader of the recipient organisation gets the indicator, an anonymous requester
//! does not, a peer under the agreement gets both objects, and the granular-marked
//! report comes back without its `description`.

// A benchmark harness: the fixtures are the tests' own, a broken one panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use common::*;
use policy::{
    decide, Agreement, Context, Decision, NodeId, ObjectMeta, OrgId, ReadPurpose, RedactionRules,
    Requester, Role, Tlp,
};
use serde_json::json;

fn median_ns_per_op(runs: usize, iters: usize, mut f: impl FnMut() -> usize) -> f64 {
    let mut v: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let mut sink = 0usize;
            for _ in 0..iters {
                sink = sink.wrapping_add(f());
            }
            black_box(sink);
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> ExitCode {
    let quick = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--quick") => true,
        Some(other) => {
            eprintln!("unknown argument {other}; usage: decide_bench [--quick]");
            return ExitCode::from(2);
        }
    };
    let (runs, scale) = if quick { (3, 10) } else { (7, 1) };
    let ctx = Context::new(NodeId::new(NODE_A));
    let meta = ObjectMeta {
        owner: OrgId::new("ncA"),
        recipients: vec!["ncB".into()],
        ..ObjectMeta::default()
    };
    let reader = Requester {
        org: "ncB".into(),
        user_id: "u".into(),
        role: Role::Reader,
        anonymous: false,
        communities: vec![],
    };
    let peer = Requester {
        role: Role::Peer,
        ..reader.clone()
    };
    let agreement = Agreement {
        id: "a".into(),
        version: 1,
        partner_node: NODE_B.into(),
        partner_org: "ncB".into(),
        max_tlp: Tlp::Amber,
        allowed_types: vec![],
        allowed_sectors: vec![],
        allowed_collections: vec![],
        sightings_back: true,
        may_reshare: false,
        retention_days: 30,
        purpose: "p".into(),
        active: true,
        anonymise_sightings: true,
        redaction: RedactionRules::redact_all(),
    };
    let plain = indicator_with_email();
    let mut granular = report_en();
    granular.as_map_mut().insert(
        "granular_markings".into(),
        json!([{"marking_ref": policy::marking::TLP2_RED, "selectors": ["description", "external_references.[0].description"]}]),
    );
    let report = report_en();

    // The decisions the timings stand for.
    let mut failed = Vec::new();
    let anon = Requester::anonymous();
    if decide(&ctx, &reader, &plain, &meta, ReadPurpose::Read)
        .object()
        .is_none()
    {
        failed.push("a reader of the recipient organisation is refused the indicator");
    }
    if decide(&ctx, &anon, &plain, &meta, ReadPurpose::Read)
        .object()
        .is_some()
    {
        failed.push("an anonymous requester gets the indicator");
    }
    match decide(&ctx, &reader, &granular, &meta, ReadPurpose::Read).object() {
        Some(o) if o.get("description").is_none() => {}
        Some(_) => failed.push("the granular-marked description was not removed"),
        None => failed.push("the granular-marked report was refused whole"),
    }
    for o in [&plain, &report] {
        if decide(&ctx, &peer, o, &meta, ReadPurpose::Sync(&agreement))
            .object()
            .is_none()
        {
            failed.push("a peer under the agreement is refused an object");
        }
    }
    if !failed.is_empty() {
        for f in failed {
            eprintln!("check failed: {f}");
        }
        return ExitCode::FAILURE;
    }

    let ok = |d: Decision| usize::from(d.object().is_some());
    let n = |i: usize| i / scale;
    let read = median_ns_per_op(runs, n(20_000), || {
        ok(decide(&ctx, &reader, &plain, &meta, ReadPurpose::Read))
    });
    let deny = median_ns_per_op(runs, n(20_000), || {
        ok(decide(&ctx, &anon, &plain, &meta, ReadPurpose::Read))
    });
    let pruned = median_ns_per_op(runs, n(20_000), || {
        ok(decide(&ctx, &reader, &granular, &meta, ReadPurpose::Read))
    });
    let sync_plain = median_ns_per_op(runs, n(5_000), || {
        ok(decide(
            &ctx,
            &peer,
            &plain,
            &meta,
            ReadPurpose::Sync(&agreement),
        ))
    });
    let sync_report = median_ns_per_op(runs, n(5_000), || {
        ok(decide(
            &ctx,
            &peer,
            &report,
            &meta,
            ReadPurpose::Sync(&agreement),
        ))
    });
    let report_bytes = report.to_json().len();
    let m = &ctx.minimiser;
    let desc = plain
        .get("description")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let find_desc = median_ns_per_op(runs, n(20_000), || m.find(black_box(&desc)).len());
    let find_short = median_ns_per_op(runs, n(20_000), || {
        m.find(black_box("Phishing sender")).len()
    });
    let rules = RedactionRules::redact_all();
    let min_obj = median_ns_per_op(runs, n(20_000), || {
        m.minimise_object(&plain, &rules).1.len()
    });
    let clone = median_ns_per_op(runs, n(20_000), || plain.clone().as_map().len());
    println!("clone of the indicator:                        {clone:>9.0} ns/op");
    println!(
        "find() on a {}-char description:               {find_desc:>9.0} ns/op",
        desc.len()
    );
    println!("find() on a 15-char name:                      {find_short:>9.0} ns/op");
    println!("minimise_object(indicator):                    {min_obj:>9.0} ns/op");
    println!("decide Read, indicator, allowed:               {read:>9.0} ns/op");
    println!("decide Read, anonymous, denied:                {deny:>9.0} ns/op");
    println!("decide Read, report with granular removal:     {pruned:>9.0} ns/op");
    println!("decide Sync, indicator (PII scan + stamp):     {sync_plain:>9.0} ns/op");
    println!("decide Sync, report {report_bytes} B with 9 PII hits: {sync_report:>9.0} ns/op");
    println!("(medians of {runs} runs; every checked decision as expected)");
    ExitCode::SUCCESS
}
