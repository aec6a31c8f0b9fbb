//! Property test: random organisations (with parent relations), communities, agreements,
//! markings (object-level and granular, TLP 1.0 / 2.0 and PAP) and objects; every
//! requester, over every read purpose. No returned copy may contain an object or a
//! granular-marked property its TLP audience excludes.
//!
//! Each copy is re-checked against `oracle`, an independent, deliberately plain
//! transcription of the audience table that shares no code with the crate.

use indexmap::IndexSet;
use policy::{
    decide, Agreement, Community, Context, Decision, NodeId, ObjectMeta, Org, OrgId, OrgKind,
    ReadPurpose, RedactionRules, Requester, Role, Tlp,
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// The independent oracle: string tables and the audience table, nothing else.
mod oracle {
    use serde_json::{Map, Value};

    // rank: 0 CLEAR, 1 GREEN, 2 AMBER, 3 AMBER+STRICT, 4 RED
    pub fn tlp_rank(id: &str) -> Option<u8> {
        match id {
            "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487" => Some(0),
            "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9" => Some(0),
            "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb" => Some(1),
            "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da" => Some(1),
            "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421" => Some(2),
            "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82" => Some(2),
            "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003" => Some(3),
            "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1" => Some(4),
            "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed" => Some(4),
            _ => None,
        }
    }

    pub fn is_pap_red(id: &str) -> bool {
        id == "marking-definition--740d36e5-7714-4c30-961a-3ae632ceee0e"
    }

    pub struct World<'a> {
        pub parents: &'a [(String, Option<String>)],
        pub communities: &'a [(String, Vec<String>)],
        pub allow_anonymous: bool,
    }

    pub struct Who<'a> {
        pub org: &'a str,
        pub user: &'a str,
        pub anonymous: bool,
        pub claims: &'a [String],
    }

    pub struct Meta<'a> {
        pub owner: &'a str,
        pub recipients: &'a [String],
        pub communities: &'a [String],
        pub named: &'a [String],
    }

    /// The audience table, written level by level.
    pub fn may_see(w: &World, who: &Who, m: &Meta, rank: u8) -> bool {
        if who.anonymous {
            return rank == 0 && w.allow_anonymous;
        }
        let named = m.named.iter().any(|u| u == who.user);
        let recipient = |org: &str| org == m.owner || m.recipients.iter().any(|r| r == org);
        let parent = w
            .parents
            .iter()
            .find(|(o, _)| o == who.org)
            .and_then(|(_, p)| p.as_deref());
        let client = parent.is_some_and(recipient);
        let member = who.claims.iter().any(|c| {
            m.communities.contains(c)
                && w.communities
                    .iter()
                    .any(|(id, members)| id == c && members.iter().any(|x| x == who.org))
        });
        match rank {
            0 => true,
            1 => named || recipient(who.org) || client || member,
            2 => named || recipient(who.org) || client,
            3 => named || recipient(who.org),
            _ => named,
        }
    }

    pub fn object_rank(obj: &Map<String, Value>, default: u8) -> u8 {
        obj.get("object_marking_refs")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().and_then(tlp_rank)).max())
            .unwrap_or(None)
            .unwrap_or(default)
    }

    pub fn object_pap_red(obj: &Map<String, Value>) -> bool {
        obj.get("object_marking_refs")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v.as_str().is_some_and(is_pap_red)))
    }

    /// Resolves "a.[0].b" the simple way; `Err` when the selector is malformed.
    pub fn lookup<'v>(obj: &'v Map<String, Value>, sel: &str) -> Result<Option<&'v Value>, ()> {
        let mut parts = sel.split('.');
        let first = parts.next().ok_or(())?;
        if first.is_empty() || first.starts_with('[') {
            return Err(());
        }
        let mut cur = obj.get(first);
        for p in parts {
            let next = if let Some(n) = p.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
                let i: usize = n.parse().map_err(|_| ())?;
                cur.and_then(|c| c.as_array()).and_then(|a| a.get(i))
            } else if p.is_empty() || p.contains('[') || p.contains(']') {
                return Err(());
            } else {
                cur.and_then(|c| c.as_object()).and_then(|m| m.get(p))
            };
            cur = next;
        }
        Ok(cur)
    }
}

const MARKINGS: &[&str] = &[
    policy::marking::TLP2_CLEAR,
    policy::marking::TLP2_GREEN,
    policy::marking::TLP2_AMBER,
    policy::marking::TLP2_AMBER_STRICT,
    policy::marking::TLP2_RED,
    policy::marking::TLP1_WHITE,
    policy::marking::TLP1_GREEN,
    policy::marking::TLP1_AMBER,
    policy::marking::TLP1_RED,
    policy::marking::PAP_CLEAR,
    policy::marking::PAP_GREEN,
    policy::marking::PAP_AMBER,
    policy::marking::PAP_RED,
    "marking-definition--0b1b5e11-1c1c-4d2b-9c4e-3f9b1f0d2a77", // an unknown statement
];

const SELECTORS: &[&str] = &[
    "description",
    "name",
    "external_references",
    "external_references.[0].url",
    "external_references.[1]",
    "external_references.[1].source_name",
    "kill_chain_phases.[0].phase_name",
    "x_note",
    "x_nested",
    "x_nested.inner",
    "x_nested.list.[1]",
    "labels.[0]",
    "pattern",
    "count",
    "where_sighted_refs",
    "description.[x]",
    "missing_property",
];

const TYPES: &[&str] = &["indicator", "malware", "note", "sighting", "report"];
const USERS: &[&str] = &["u0", "u1", "u2", "u3"];
const NODES: &[&str] = &[
    "identity--00000000-0000-4000-8000-000000000001",
    "identity--00000000-0000-4000-8000-000000000002",
    "identity--00000000-0000-4000-8000-000000000003",
];

/// Draws small numbers from a byte string (the proptest input), so one `Vec<u8>`
/// describes the whole scenario and shrinks as a whole.
struct Dice<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Dice<'_> {
    fn n(&mut self, below: usize) -> usize {
        let b = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b as usize % below.max(1)
    }
    fn coin(&mut self) -> bool {
        self.n(2) == 1
    }
    fn subset<T: Clone>(&mut self, items: &[T]) -> Vec<T> {
        items.iter().filter(|_| self.n(3) == 0).cloned().collect()
    }
}

struct Scenario {
    ctx: Context,
    parents: Vec<(String, Option<String>)>,
    communities: Vec<(String, Vec<String>)>,
    object: stix::Object,
    meta: ObjectMeta,
    agreement: Agreement,
    requesters: Vec<Requester>,
}

fn build(bytes: &[u8]) -> Scenario {
    let mut d = Dice { bytes, at: 0 };
    let mut ctx = Context::new(NodeId::new(NODES[0]));
    ctx.config.default_tlp = Tlp::ALL[d.n(5)];
    ctx.config.allow_anonymous_clear = d.coin();
    let n_orgs = 2 + d.n(6);
    let mut parents = Vec::new();
    for i in 0..n_orgs {
        let parent = if i > 0 && d.coin() {
            Some(format!("org{}", d.n(i)))
        } else {
            None
        };
        parents.push((format!("org{i}"), parent.clone()));
        ctx.add_org(Org {
            id: OrgId::new(format!("org{i}")),
            kind: if parent.is_some() {
                OrgKind::Constituent
            } else {
                OrgKind::NationalCentre
            },
            sector: ["finance", "energy"][d.n(2)].into(),
            country: "XX".into(),
            parent: parent.map(OrgId::new),
        });
    }
    let org_ids: Vec<String> = parents.iter().map(|(o, _)| o.clone()).collect();
    let mut communities = Vec::new();
    for c in 0..1 + d.n(3) {
        let members = d.subset(&org_ids);
        communities.push((format!("c{c}"), members.clone()));
        ctx.add_community(Community {
            id: format!("c{c}").as_str().into(),
            members: members
                .iter()
                .map(|m| OrgId::new(m.clone()))
                .collect::<IndexSet<_>>(),
        });
    }
    let community_ids: Vec<String> = communities.iter().map(|(c, _)| c.clone()).collect();

    // The object.
    let ty = TYPES[d.n(TYPES.len())];
    let mut o = Map::new();
    o.insert("type".into(), json!(ty));
    o.insert("spec_version".into(), json!("2.1"));
    o.insert(
        "id".into(),
        json!(format!("{ty}--6ba7b810-9dad-41d1-80b4-00c04fd430c8")),
    );
    o.insert("created".into(), json!("2026-01-01T00:00:00.000Z"));
    o.insert("modified".into(), json!("2026-01-01T00:00:00.000Z"));
    match ty {
        "indicator" => {
            o.insert("name".into(), json!("C2"));
            o.insert("pattern".into(), json!("[ipv4-addr:value = '203.0.113.7']"));
            o.insert("pattern_type".into(), json!("stix"));
            o.insert("valid_from".into(), json!("2026-01-01T00:00:00Z"));
        }
        "malware" => {
            o.insert("name".into(), json!("Shamoon"));
            o.insert("is_family".into(), json!(true));
        }
        "note" => {
            o.insert(
                "content".into(),
                json!("Contact Dr. Huda Saleh at huda@ops.example"),
            );
            o.insert(
                "object_refs".into(),
                json!(["indicator--6ba7b810-9dad-41d1-80b4-00c04fd430c8"]),
            );
        }
        "sighting" => {
            o.insert(
                "sighting_of_ref".into(),
                json!("indicator--6ba7b810-9dad-41d1-80b4-00c04fd430c8"),
            );
            o.insert(
                "where_sighted_refs".into(),
                json!(["identity--00000000-0000-4000-8000-0000000000b1"]),
            );
            o.insert("count".into(), json!(1 + d.n(200)));
        }
        _ => {
            o.insert("name".into(), json!("Weekly report"));
            o.insert("published".into(), json!("2026-01-01T00:00:00Z"));
            o.insert(
                "object_refs".into(),
                json!(["indicator--6ba7b810-9dad-41d1-80b4-00c04fd430c8"]),
            );
        }
    }
    if d.coin() {
        o.insert(
            "description".into(),
            json!("Observed by SOC; call +966 50 123 4567"),
        );
    }
    if d.coin() {
        o.insert(
            "external_references".into(),
            json!([{"source_name": "a", "url": "https://a.example/1"}, {"source_name": "b", "external_id": "B-2"}]),
        );
    }
    if d.coin() {
        o.insert(
            "kill_chain_phases".into(),
            json!([{"kill_chain_name": "mitre-attack", "phase_name": "exfiltration"}]),
        );
    }
    if d.coin() {
        o.insert("labels".into(), json!(["one", "two"]));
    }
    if d.coin() {
        o.insert("x_note".into(), json!("internal"));
    }
    if d.coin() {
        o.insert(
            "x_nested".into(),
            json!({"inner": "secret", "other": 1, "list": [1, 2]}),
        );
    }
    let refs: Vec<&str> = d.subset(MARKINGS);
    if !refs.is_empty() {
        o.insert("object_marking_refs".into(), json!(refs));
    }
    let mut granular = Vec::new();
    for _ in 0..d.n(5) {
        let m = MARKINGS[d.n(MARKINGS.len())];
        let mut sels: Vec<&str> = d.subset(SELECTORS);
        if sels.is_empty() {
            sels.push(SELECTORS[d.n(SELECTORS.len())]);
        }
        granular.push(json!({"marking_ref": m, "selectors": sels}));
    }
    if !granular.is_empty() {
        o.insert("granular_markings".into(), Value::Array(granular));
    }
    let object = stix::Object::from_map(o).expect("the generated object has type and id");

    let users: Vec<policy::UserId> = USERS.iter().map(|u| policy::UserId::from(*u)).collect();
    let received = d.n(4) == 0;
    let meta = ObjectMeta {
        owner: OrgId::new(org_ids[d.n(org_ids.len())].clone()),
        recipients: d.subset(&org_ids).into_iter().map(OrgId::new).collect(),
        communities: d
            .subset(&community_ids)
            .into_iter()
            .map(|c| c.as_str().into())
            .collect(),
        named_individuals: d.subset(&users),
        originator: received.then(|| NodeId::new(NODES[1])),
        provenance: if received {
            vec![NodeId::new(NODES[1])]
        } else {
            vec![]
        },
        collections: vec![["intel", "ops"][d.n(2)].to_owned()],
        sectors: vec![["finance", "energy"][d.n(2)].to_owned()],
    };
    let partner_org = org_ids[d.n(org_ids.len())].clone();
    let agreement = Agreement {
        id: "agr".into(),
        version: 1 + d.n(3) as u64,
        partner_node: NodeId::new(NODES[1 + d.n(2)]),
        partner_org: OrgId::new(partner_org),
        max_tlp: Tlp::ALL[d.n(5)],
        allowed_types: if d.coin() {
            vec![]
        } else {
            vec![ty.to_owned(), "malware".into()]
        },
        allowed_sectors: if d.coin() {
            vec![]
        } else {
            vec!["finance".into()]
        },
        allowed_collections: if d.coin() {
            vec![]
        } else {
            vec!["intel".into()]
        },
        sightings_back: d.coin(),
        may_reshare: d.coin(),
        retention_days: 30,
        purpose: "early warning".into(),
        active: d.n(5) != 0,
        anonymise_sightings: d.coin(),
        redaction: if d.coin() {
            RedactionRules::redact_all()
        } else {
            RedactionRules::keep_all()
        },
    };

    let mut requesters = vec![Requester::anonymous()];
    for org in org_ids.iter().map(String::as_str).chain(["outsider"]) {
        for user in USERS {
            let role = [Role::Admin, Role::Analyst, Role::Reader, Role::Peer][d.n(4)];
            requesters.push(Requester {
                org: org.into(),
                user_id: (*user).into(),
                role,
                anonymous: false,
                communities: d
                    .subset(&community_ids)
                    .into_iter()
                    .map(|c| c.as_str().into())
                    .collect(),
            });
        }
        // Every organisation also gets a peer account (to exercise sync).
        requesters.push(Requester {
            org: org.into(),
            user_id: "peer".into(),
            role: Role::Peer,
            anonymous: false,
            communities: community_ids.iter().map(|c| c.as_str().into()).collect(),
        });
    }
    Scenario {
        ctx,
        parents,
        communities,
        object,
        meta,
        agreement,
        requesters,
    }
}

#[derive(Default, Debug)]
struct Tally {
    copies: usize,
    redacted: usize,
    denied: usize,
    synced: usize,
    granular_checks: usize,
}

fn check(s: &Scenario, tally: &mut Tally) -> Result<(), TestCaseError> {
    let world = oracle::World {
        parents: &s.parents,
        communities: &s.communities,
        allow_anonymous: s.ctx.config.allow_anonymous_clear,
    };
    let rec: Vec<String> = s.meta.recipients.iter().map(|o| o.0.clone()).collect();
    let com: Vec<String> = s.meta.communities.iter().map(|c| c.0.clone()).collect();
    let named: Vec<String> = s
        .meta
        .named_individuals
        .iter()
        .map(|u| u.0.clone())
        .collect();
    let meta = oracle::Meta {
        owner: &s.meta.owner.0,
        recipients: &rec,
        communities: &com,
        named: &named,
    };
    let original = s.object.as_map();
    let default_rank = s.ctx.config.default_tlp as u8;
    let obj_rank = oracle::object_rank(original, default_rank);
    let purposes = [
        ReadPurpose::Read,
        ReadPurpose::Stream,
        ReadPurpose::Webhook,
        ReadPurpose::Export { blocking: false },
        ReadPurpose::Export { blocking: true },
        ReadPurpose::Sync(&s.agreement),
    ];
    for r in &s.requesters {
        let claims: Vec<String> = r.communities.iter().map(|c| c.0.clone()).collect();
        let who = oracle::Who {
            org: &r.org.0,
            user: &r.user_id.0,
            anonymous: r.anonymous,
            claims: &claims,
        };
        for purpose in purposes {
            let decision = decide(&s.ctx, r, &s.object, &s.meta, purpose);
            let Some(copy) = decision.object() else {
                tally.denied += 1;
                continue;
            };
            tally.copies += 1;
            if matches!(decision, Decision::Redacted(_)) {
                tally.redacted += 1;
            }
            let ctxmsg = format!(
                "requester {:?} purpose {:?} object {}",
                r,
                purpose,
                s.object.to_json()
            );
            // The object itself.
            prop_assert!(
                oracle::may_see(&world, &who, &meta, obj_rank),
                "object leak: {ctxmsg}"
            );
            let sync = match purpose {
                ReadPurpose::Sync(a) => Some(a),
                _ => None,
            };
            let blocking = matches!(purpose, ReadPurpose::Export { blocking: true });
            if let Some(a) = sync {
                tally.synced += 1;
                prop_assert!(obj_rank < 4, "RED over sync: {ctxmsg}");
                prop_assert!(obj_rank <= a.max_tlp as u8, "above agreement max: {ctxmsg}");
                prop_assert!(a.active, "inactive agreement: {ctxmsg}");
                prop_assert!(
                    r.role == Role::Peer && r.org == a.partner_org,
                    "wrong peer: {ctxmsg}"
                );
                if s.object.type_name() == "sighting" {
                    prop_assert!(
                        a.sightings_back,
                        "sighting without sightings_back: {ctxmsg}"
                    );
                    if a.anonymise_sightings {
                        prop_assert!(
                            copy.get("where_sighted_refs").is_none(),
                            "sighter leaked: {ctxmsg}"
                        );
                    }
                }
                if a.redaction == RedactionRules::redact_all() {
                    let text = copy.to_json();
                    prop_assert!(
                        !text.contains("123 4567") && !text.contains("huda@"),
                        "PII left: {ctxmsg}"
                    );
                }
            } else {
                prop_assert!(r.role != Role::Peer, "peer outside sync: {ctxmsg}");
            }
            if blocking {
                prop_assert!(
                    !oracle::object_pap_red(original),
                    "PAP:RED in blocking export: {ctxmsg}"
                );
            }
            // Granular markings of the original.
            let Some(Value::Array(gms)) = original.get("granular_markings") else {
                continue;
            };
            for gm in gms {
                let mref = gm["marking_ref"].as_str().unwrap_or_default();
                let restricted = match oracle::tlp_rank(mref) {
                    Some(rank) => {
                        !oracle::may_see(&world, &who, &meta, rank)
                            || sync.is_some_and(|a| rank == 4 || rank > a.max_tlp as u8)
                    }
                    None => blocking && oracle::is_pap_red(mref),
                };
                if !restricted {
                    continue;
                }
                for sel in gm["selectors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    tally.granular_checks += 1;
                    match oracle::lookup(copy.as_map(), sel) {
                        Ok(found) => prop_assert!(
                            found.is_none(),
                            "granular leak of '{sel}' marked {mref}: {ctxmsg}\ncopy: {}",
                            copy.to_json()
                        ),
                        Err(()) => prop_assert!(
                            false,
                            "malformed restricted selector '{sel}' yet a copy was sent: {ctxmsg}"
                        ),
                    }
                }
            }
        }
    }
    // Not vacuous: with no granular markings, plain reads are granted exactly as the
    // table says (non-peer, non-anonymous requesters).
    if original.get("granular_markings").is_none() {
        for r in s
            .requesters
            .iter()
            .filter(|r| r.role != Role::Peer && !r.anonymous)
        {
            let claims: Vec<String> = r.communities.iter().map(|c| c.0.clone()).collect();
            let who = oracle::Who {
                org: &r.org.0,
                user: &r.user_id.0,
                anonymous: false,
                claims: &claims,
            };
            let got = decide(&s.ctx, r, &s.object, &s.meta, ReadPurpose::Read)
                .object()
                .is_some();
            prop_assert_eq!(
                got,
                oracle::may_see(&world, &who, &meta, obj_rank),
                "read verdict differs for {:?}",
                r
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
    #[test]
    fn no_requester_receives_what_its_audience_excludes(bytes in prop::collection::vec(any::<u8>(), 64..400)) {
        let s = build(&bytes);
        let mut tally = Tally::default();
        check(&s, &mut tally)?;
    }
}

/// The same property over a fixed number of seeded scenarios, with counts printed so a
/// reader sees the test is not vacuous.
#[test]
fn leak_check_coverage_is_substantial() {
    let mut tally = Tally::default();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..600 {
        let bytes: Vec<u8> = (0..400)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        let s = build(&bytes);
        if let Err(e) = check(&s, &mut tally) {
            panic!("{e}");
        }
    }
    eprintln!("leak check: {tally:?}");
    assert!(tally.copies > 8_000, "{tally:?}");
    assert!(tally.redacted > 400, "{tally:?}");
    assert!(tally.synced > 30, "{tally:?}");
    assert!(tally.granular_checks > 2_000, "{tally:?}");
    assert!(tally.denied > 30_000, "{tally:?}");
}
