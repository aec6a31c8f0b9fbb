//! Properties of `stix::validate` on arbitrary input: it never panics, every
//! error's pointer resolves in the object (or names a missing property whose
//! parent exists), codes are kebab-case, and the id is reported when present.

use proptest::prelude::*;
use serde_json::{Map, Value};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1.0e6f64..1.0e6).prop_map(Value::from),
        Just(Value::from("2016-04-06T20:03:48.000Z")),
        Just(Value::from("2016-13-45T99:03:48Z")),
        Just(Value::from(
            "identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
        )),
        Just(Value::from(
            "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
        )),
        Just(Value::from("malware--not-a-uuid")),
        Just(Value::from("198.51.100.0/24")),
        "[ -~ءا~/]{0,10}".prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z_~/\\[\\]0-9.-]{1,8}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn object() -> impl Strategy<Value = Value> {
    let types: Vec<&'static str> = stix::registry::all()
        .map(|t| t.name)
        .chain(["x-custom", "Bad Type"])
        .collect();
    (
        prop::sample::select(types),
        prop::collection::vec((0usize..40, value()), 0..12),
        any::<bool>(),
    )
        .prop_map(|(ty, props, with_id)| {
            let mut m = Map::new();
            m.insert("type".into(), ty.into());
            if with_id {
                m.insert(
                    "id".into(),
                    format!("{ty}--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").into(),
                );
            }
            let names: Vec<&str> = stix::registry::lookup(ty)
                .map(|d| {
                    d.props
                        .iter()
                        .chain(stix::registry::common_props(d.kind))
                        .map(|p| p.name)
                        .collect()
                })
                .unwrap_or_default();
            for (i, v) in props {
                let key = names
                    .get(i)
                    .map_or_else(|| format!("x_prop_{i}"), |n| (*n).to_owned());
                m.insert(key, v);
            }
            Value::Object(m)
        })
}

fn resolves(obj: &Value, pointer: &str) -> bool {
    if obj.pointer(pointer).is_some() {
        return true;
    }
    // A missing property: its parent must exist.
    match pointer.rsplit_once('/') {
        Some((parent, _)) => obj.pointer(parent).is_some(),
        None => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn errors_are_well_formed(obj in object()) {
        let errors = stix::validate(&obj);
        let id = obj.get("id").and_then(Value::as_str);
        for e in &errors {
            prop_assert!(resolves(&obj, &e.pointer), "{} does not resolve in {}", e.pointer, obj);
            prop_assert!(!e.code.is_empty() && e.code.bytes().all(|b| b.is_ascii_lowercase() || b == b'-' || b.is_ascii_digit()), "{}", e.code);
            prop_assert!(!e.message.is_empty());
            prop_assert_eq!(e.object_id.as_deref(), id);
        }
    }

    #[test]
    fn bundle_never_panics(objs in prop::collection::vec(object(), 0..4)) {
        let bundle = serde_json::json!({"type": "bundle", "id": "bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "objects": objs});
        for (i, e) in stix::validate_bundle(&bundle) {
            prop_assert!(i == stix::validate::BUNDLE_ITSELF || i < objs.len());
            let target = if i == stix::validate::BUNDLE_ITSELF { &bundle } else { &objs[i] };
            prop_assert!(resolves(target, &e.pointer), "{} in {}", e.pointer, target);
        }
    }
}
