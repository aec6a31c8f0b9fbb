//! Lossless round trip: parse then serialise keeps property order, custom
//! properties, unknown extensions and number spelling; two parses compare equal.

use proptest::prelude::*;
use serde_json::{Map, Value};
use stix::Object;

const FIXTURE: &str = r#"{"x_acme_first":{"z":1,"a":[true,null,"ü"]},"type":"file","id":"file--5a27d487-c542-5f97-a131-a8866b477b46","name":"قائمة.pdf","hashes":{"SHA-256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","x-acme-hash":"0001"},"size":1024,"x_acme_big":100000000000000000001,"extensions":{"extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e":{"extension_type":"property-extension","rank":1.50,"tags":["b","a"]},"ntfs-ext":{"sid":"S-1-5"}},"x_acme_last":1e400}"#;

fn expected() -> String {
    FIXTURE.replace("1e400", "1e+400")
}

#[test]
fn compact_text_survives_byte_for_byte() {
    let o = Object::from_json_str(FIXTURE).unwrap();
    // Number text is kept as written (`1.50`, 21-digit integers), except that
    // serde_json spells an exponent with an explicit sign: `1e400` -> `1e+400`.
    // That form is a fixed point of the round trip.
    assert_eq!(o.to_json(), expected());
    assert_eq!(
        Object::from_json_str(&o.to_json()).unwrap().to_json(),
        expected()
    );
    assert_eq!(o, Object::from_json_str(FIXTURE).unwrap());
    // Keys stay in input order, custom and unknown content included.
    let keys: Vec<&str> = o.as_map().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "x_acme_first",
            "type",
            "id",
            "name",
            "hashes",
            "size",
            "x_acme_big",
            "extensions",
            "x_acme_last"
        ]
    );
    assert!(
        stix::validate(&o.to_value()).is_empty(),
        "{:?}",
        stix::validate(&o.to_value())
    );
}

#[test]
fn pretty_text_reparses_equal_and_canonical_form_is_stable() {
    let o = Object::from_json_str(FIXTURE).unwrap();
    let pretty = serde_json::to_string_pretty(&o).unwrap();
    let again = Object::from_json_str(&pretty).unwrap();
    assert_eq!(o, again);
    assert_eq!(again.to_json(), expected());
    assert_eq!(o.canonical_json(), again.canonical_json());
    assert_eq!(o.content_hash(), again.content_hash());
}

#[test]
fn equality_ignores_order_but_not_content() {
    let a = Object::from_json_str(
        r#"{"type":"x-a","id":"x-a--5a27d487-c542-4f97-a131-a8866b477b46","p":1}"#,
    )
    .unwrap();
    let b = Object::from_json_str(
        r#"{"p":1,"id":"x-a--5a27d487-c542-4f97-a131-a8866b477b46","type":"x-a"}"#,
    )
    .unwrap();
    let c = Object::from_json_str(
        r#"{"p":2,"id":"x-a--5a27d487-c542-4f97-a131-a8866b477b46","type":"x-a"}"#,
    )
    .unwrap();
    assert_eq!(a, b);
    assert_eq!(a.content_hash(), b.content_hash());
    assert_ne!(a, c);
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1.0e12f64..1.0e12).prop_map(Value::from),
        "[a-zA-Z0-9 \\-_.:/ءاب€😀]{0,12}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(("[a-z_]{1,8}", inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

proptest! {
    #[test]
    fn any_object_round_trips(extra in prop::collection::vec(("x_[a-z_]{1,10}", json_value()), 0..8)) {
        let mut m = Map::new();
        for (k, v) in extra {
            m.insert(k, v);
        }
        m.insert("type".into(), "x-thing".into());
        m.insert("id".into(), "x-thing--5a27d487-c542-4f97-a131-a8866b477b46".into());
        let v = Value::Object(m);
        let o = Object::from_value(v.clone()).unwrap();
        let text = o.to_json();
        prop_assert_eq!(&o.to_value(), &v);
        let again = Object::from_json_str(&text).unwrap();
        prop_assert_eq!(&again, &o);
        prop_assert_eq!(again.to_json(), text);
    }
}
