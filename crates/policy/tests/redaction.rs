//! Minimisation of realistic English and Arabic objects, through `decide` over sync
//! and directly, and validity of every result against the OASIS validator and library.

mod common;

use common::*;
use policy::pii::{PiiAction, RedactionRules};
use policy::{
    decide, Agreement, Context, Decision, Minimiser, NodeId, ObjectMeta, OrgId, PiiKind,
    ReadPurpose, Requester, Role, Tlp,
};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn generalise_all() -> RedactionRules {
    RedactionRules {
        email: PiiAction::Generalise,
        phone: PiiAction::Generalise,
        national_id: PiiAction::Generalise,
        iban: PiiAction::Generalise,
        person_name: PiiAction::Generalise,
    }
}

fn text(o: &stix::Object, key: &str) -> String {
    o.get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn english_report_redacted() {
    let m = Minimiser::default();
    let (out, findings) = m.minimise_object(&report_en(), &RedactionRules::redact_all());
    assert_eq!(
        text(&out, "description"),
        "On 12 March the SOC of a commercial bank received spear-phishing emails from [REDACTED:email] impersonating HR. Ms. [REDACTED:person] ([REDACTED:email], [REDACTED:phone]) forwarded the message. The lure asked for a transfer to [REDACTED:iban]. Indicators: 203.0.113.7, secure-payroll.example."
    );
    assert_eq!(
        out.get("external_references").unwrap()[0]["description"],
        json!("Reported by Dr. [REDACTED:person], [REDACTED:email]")
    );
    assert_eq!(
        text(&out, "x_analyst_comment"),
        "Follow up with Mr. [REDACTED:person] on [REDACTED:phone]"
    );
    // Findings say where and what, never the data.
    let pointers: Vec<(&str, PiiKind)> = findings
        .iter()
        .map(|f| (f.pointer.as_str(), f.kind))
        .collect();
    assert!(pointers.contains(&("/description", PiiKind::Iban)));
    assert!(pointers.contains(&("/external_references/0/description", PiiKind::PersonName)));
    assert!(pointers.contains(&("/x_analyst_comment", PiiKind::Phone)));
    assert_eq!(findings.len(), 9);
    // Untouched: ids, refs, timestamps, markings, vocabularies.
    for key in [
        "id",
        "created",
        "modified",
        "object_refs",
        "object_marking_refs",
        "report_types",
        "published",
        "name",
    ] {
        assert_eq!(out.get(key), report_en().get(key), "{key}");
    }
}

#[test]
fn english_report_generalised() {
    let m = Minimiser::default();
    let (out, _) = m.minimise_object(&report_en(), &generalise_all());
    assert_eq!(
        text(&out, "description"),
        "On 12 March the SOC of a commercial bank received spear-phishing emails from [email]@secure-payroll.example impersonating HR. Ms. M. A. ([email]@gcb.example, +974 [phone]) forwarded the message. The lure asked for a transfer to QA[iban]. Indicators: 203.0.113.7, secure-payroll.example."
    );
}

#[test]
fn arabic_note_redacted_and_generalised() {
    let m = Minimiser::default();
    let (out, findings) = m.minimise_object(&note_ar(), &RedactionRules::redact_all());
    assert_eq!(
        text(&out, "content"),
        "أبلغ المهندس [REDACTED:person] من مركز العمليات عن رسالة تصيد من العنوان [REDACTED:email] ورقم الهاتف [REDACTED:phone]، وطلب المهاجم رقم الهوية [REDACTED:national-id] وتحويل مبلغ إلى الحساب [REDACTED:iban]. تواصلوا مع السيدة [REDACTED:person] للمتابعة."
    );
    assert_eq!(out.get("authors"), Some(&json!(["[REDACTED:person]"])));
    assert_eq!(text(&out, "abstract"), "بلاغ تصيد احتيالي");
    assert_eq!(findings.len(), 7);
    let (gen, _) = m.minimise_object(&note_ar(), &generalise_all());
    let c = text(&gen, "content");
    assert!(c.contains("[national-id:SA]"), "{c}");
    assert!(c.contains("SA[iban]"), "{c}");
    assert!(c.contains("+966 [phone]"), "{c}");
    assert!(c.contains("[email]@bank-alerts.example"), "{c}");
    assert!(c.contains("المهندس خ. س. غ."), "{c}");
}

#[test]
fn egyptian_opinion_and_individual_identity() {
    let m = Minimiser::default();
    let (out, _) = m.minimise_object(&opinion_eg(), &RedactionRules::redact_all());
    assert_eq!(
        text(&out, "explanation"),
        "الرقم القومي للضحية [REDACTED:national-id] ورقم المحمول [REDACTED:phone]، الحساب [REDACTED:iban]."
    );
    let (gen, _) = m.minimise_object(&opinion_eg(), &generalise_all());
    assert!(text(&gen, "explanation").contains("[national-id:EG]"));
    let (p, _) = m.minimise_object(&person(), &RedactionRules::redact_all());
    assert_eq!(text(&p, "name"), "[REDACTED:person]");
    assert_eq!(
        text(&p, "contact_information"),
        "[REDACTED:email], [REDACTED:phone]"
    );
    // Keeping names but redacting contacts.
    let rules = RedactionRules {
        person_name: PiiAction::Keep,
        ..RedactionRules::redact_all()
    };
    let (p, _) = m.minimise_object(&person(), &rules);
    assert_eq!(text(&p, "name"), "Nasser Al-Harthy");
}

#[test]
fn patterns_are_never_rewritten() {
    let m = Minimiser::default();
    let (out, findings) = m.minimise_object(&indicator_with_email(), &RedactionRules::redact_all());
    assert_eq!(out.get("pattern"), indicator_with_email().get("pattern"));
    assert_eq!(
        text(&out, "description"),
        "Sender used in the payroll campaign; victims included [REDACTED:email]."
    );
    assert_eq!(findings.len(), 1);
    let (same, none) = m.minimise_object(&indicator_with_email(), &RedactionRules::keep_all());
    assert_eq!(same, indicator_with_email());
    assert!(none.is_empty());
}

fn ctx() -> Context {
    Context::new(NodeId::new(NODE_A))
}

fn agreement(rules: RedactionRules) -> Agreement {
    Agreement {
        id: "a-b".into(),
        version: 3,
        partner_node: NODE_B.into(),
        partner_org: "ncB".into(),
        max_tlp: Tlp::Amber,
        allowed_types: vec![],
        allowed_sectors: vec![],
        allowed_collections: vec![],
        sightings_back: true,
        may_reshare: true,
        retention_days: 180,
        purpose: "early warning".into(),
        active: true,
        anonymise_sightings: true,
        redaction: rules,
    }
}

fn peer() -> Requester {
    Requester {
        org: "ncB".into(),
        user_id: "peer-b".into(),
        role: Role::Peer,
        anonymous: false,
        communities: vec![],
    }
}

fn meta() -> ObjectMeta {
    ObjectMeta {
        owner: OrgId::new("ncA"),
        recipients: vec!["ncB".into()],
        ..ObjectMeta::default()
    }
}

/// Every object as it would leave A for B under the agreement.
fn synced(rules: RedactionRules) -> Vec<stix::Object> {
    let a = agreement(rules);
    [
        report_en(),
        note_ar(),
        person(),
        indicator_with_email(),
        opinion_eg(),
        sighting(),
    ]
    .iter()
    .map(
        |o| match decide(&ctx(), &peer(), o, &meta(), ReadPurpose::Sync(&a)) {
            Decision::Allow(c) => c,
            Decision::Redacted(r) => r.object,
            Decision::Deny(d) => panic!("{}: {d}", o.id()),
        },
    )
    .collect()
}

#[test]
fn sync_anonymises_sightings() {
    let out = synced(RedactionRules::redact_all());
    let s = out.iter().find(|o| o.type_name() == "sighting").unwrap();
    assert!(s.get("where_sighted_refs").is_none());
    assert!(s.get("created_by_ref").is_none());
    assert_eq!(s.get("count"), Some(&json!(50)));
    assert_eq!(s.get("sighting_of_ref"), sighting().get("sighting_of_ref"));
}

fn python() -> Option<PathBuf> {
    let p = std::env::var_os("NADHIR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"));
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but the oracle interpreter {} is missing",
        p.display()
    );
    eprintln!(
        "skipping: no Python interpreter with stix2-validator at {} (set NADHIR_PYTHON)",
        p.display()
    );
    None
}

#[test]
fn everything_that_leaves_is_valid_stix_per_the_oasis_validator() {
    let Some(py) = python() else { return };
    let mut objects = vec![policy::sharing::sharing_extension_definition().to_value()];
    for rules in [
        RedactionRules::redact_all(),
        generalise_all(),
        RedactionRules::keep_all(),
    ] {
        objects.extend(synced(rules).into_iter().map(|o| o.into_value()));
    }
    // A copy with granular-marked properties removed (a client of the recipient reads a
    // report whose description and reference are AMBER+STRICT).
    let mut marked = report_en();
    marked.as_map_mut().insert(
        "granular_markings".into(),
        json!([
            {"marking_ref": policy::marking::TLP2_AMBER_STRICT, "selectors": ["description", "external_references.[0].description"]},
            {"marking_ref": policy::marking::TLP2_GREEN, "selectors": ["name"]}
        ]),
    );
    let mut c = ctx();
    c.add_org(policy::Org {
        id: "bankB1".into(),
        kind: policy::OrgKind::Constituent,
        sector: "finance".into(),
        country: "BH".into(),
        parent: Some("ncB".into()),
    });
    let client = Requester {
        org: "bankB1".into(),
        role: Role::Reader,
        ..peer()
    };
    match decide(&c, &client, &marked, &meta(), ReadPurpose::Read) {
        Decision::Redacted(r) => {
            assert_eq!(
                r.removed,
                vec!["description", "external_references.[0].description"]
            );
            objects.push(r.object.into_value());
        }
        other => panic!("{other:?}"),
    }
    let input = serde_json::to_string(&objects).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/validate_objects.py");
    let mut child = Command::new(py)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(results.len(), objects.len());
    for (r, o) in results.iter().zip(&objects) {
        assert_eq!(r["valid"], json!(true), "{}: {}\n{o}", r["id"], r["errors"]);
        assert_eq!(
            r["parsed"],
            json!(true),
            "{}: {}\n{o}",
            r["id"],
            r["parse_error"]
        );
    }
    eprintln!(
        "stix2-validator and stix2.parse accepted {} objects",
        results.len()
    );
}
