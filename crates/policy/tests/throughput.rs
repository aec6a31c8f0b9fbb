//! Throughput of the policy function (ignored by default; run in release):
//! `cargo test -p policy --release --test throughput -- --ignored --nocapture`

mod common;

use common::*;
use policy::{
    decide, Agreement, Context, Decision, NodeId, ObjectMeta, OrgId, ReadPurpose, RedactionRules,
    Requester, Role, Tlp,
};
use serde_json::json;
use std::time::Instant;

fn median_ns_per_op(mut f: impl FnMut() -> usize, iters: usize) -> f64 {
    let mut runs: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            let mut sink = 0usize;
            for _ in 0..iters {
                sink = sink.wrapping_add(f());
            }
            assert!(sink > 0);
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    runs.sort_by(|a, b| a.total_cmp(b));
    runs[3]
}

#[test]
#[ignore = "throughput measurement; run in release with --ignored --nocapture"]
fn decide_throughput() {
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
    let ok = |d: Decision| usize::from(d.object().is_some());
    let read = median_ns_per_op(
        || ok(decide(&ctx, &reader, &plain, &meta, ReadPurpose::Read)),
        20_000,
    );
    let deny = median_ns_per_op(
        || {
            1 + ok(decide(
                &ctx,
                &Requester::anonymous(),
                &plain,
                &meta,
                ReadPurpose::Read,
            ))
        },
        20_000,
    );
    let pruned = median_ns_per_op(
        || ok(decide(&ctx, &reader, &granular, &meta, ReadPurpose::Read)),
        20_000,
    );
    let sync_plain = median_ns_per_op(
        || {
            ok(decide(
                &ctx,
                &peer,
                &plain,
                &meta,
                ReadPurpose::Sync(&agreement),
            ))
        },
        5_000,
    );
    let sync_report = median_ns_per_op(
        || {
            ok(decide(
                &ctx,
                &peer,
                &report,
                &meta,
                ReadPurpose::Sync(&agreement),
            ))
        },
        5_000,
    );
    let report_bytes = report.to_json().len();
    let m = &ctx.minimiser;
    let desc = plain
        .get("description")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let find_desc = median_ns_per_op(|| 1 + m.find(&desc).len(), 20_000);
    let find_short = median_ns_per_op(|| 1 + m.find("Phishing sender").len(), 20_000);
    let rules = RedactionRules::redact_all();
    let min_obj = median_ns_per_op(|| 1 + m.minimise_object(&plain, &rules).1.len(), 20_000);
    let clone = median_ns_per_op(|| plain.clone().as_map().len(), 20_000);
    eprintln!("clone of the indicator:                        {clone:>9.0} ns/op");
    eprintln!(
        "find() on a {}-char description:               {find_desc:>9.0} ns/op",
        desc.len()
    );
    eprintln!("find() on a 15-char name:                      {find_short:>9.0} ns/op");
    eprintln!("minimise_object(indicator):                    {min_obj:>9.0} ns/op");
    eprintln!("decide Read, indicator, allowed:               {read:>9.0} ns/op");
    eprintln!("decide Read, anonymous, denied:                {deny:>9.0} ns/op");
    eprintln!("decide Read, report with granular removal:     {pruned:>9.0} ns/op");
    eprintln!("decide Sync, indicator (PII scan + stamp):     {sync_plain:>9.0} ns/op");
    eprintln!("decide Sync, report {report_bytes} B with 9 PII hits: {sync_report:>9.0} ns/op");
}
