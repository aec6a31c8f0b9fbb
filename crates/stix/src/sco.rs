//! Deterministic identifiers for STIX Cyber-observable Objects (STIX 2.1 §2.9).
//!
//! An SCO's id is `type--UUIDv5(NAMESPACE, JCS(contributing))` where
//! `contributing` is a JSON object holding the type's id-contributing properties
//! that are present. The details follow the OASIS `stix2` library, which the
//! integration test `tests/sco_ids.rs` checks for all 18 SCO types:
//!
//! - `hashes` contributes exactly one hash: MD5, else SHA-1, else SHA-256, else
//!   SHA-512, else the first one listed; algorithm names are first normalised to
//!   the hash-algorithm-ov spelling (`sha256` → `SHA-256`);
//! - timestamps contribute in the library's normal form: UTC, fractional seconds
//!   to microseconds with trailing zeros removed (`…:00.000Z` → `…:00Z`);
//! - when no contributing property is present (and always for `process`) there
//!   is no deterministic id: the spec requires a UUIDv4 instead.

use crate::registry::{self, Kind};
use crate::timestamp::Timestamp;
use serde_json::{Map, Value};
use uuid::Uuid;

/// The STIX 2.1 namespace for SCO UUIDv5 identifiers.
pub const NAMESPACE: Uuid = Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7);

/// The id-contributing properties of an SCO type, or `None` for types that are
/// not SCOs defined by the specification.
pub fn id_contributing_properties(type_name: &str) -> Option<&'static [&'static str]> {
    registry::lookup(type_name)
        .filter(|t| t.kind == Kind::Sco)
        .map(|t| t.id_contributing)
}

/// The canonical JSON the UUID is computed from, or `None` when the type has no
/// contributing property present.
pub fn contributing_json(type_name: &str, object: &Map<String, Value>) -> Option<String> {
    let props = id_contributing_properties(type_name)?;
    let mut contrib = Map::new();
    for &key in props {
        let Some(value) = object.get(key) else {
            continue;
        };
        let v = match key {
            "hashes" => match choose_one_hash(value) {
                Some(h) => h,
                None => continue,
            },
            "start" | "end" if type_name == "network-traffic" => normalise_timestamp(value),
            "extensions" => normalise_extensions(value),
            _ => value.clone(),
        };
        contrib.insert(key.to_owned(), v);
    }
    if contrib.is_empty() {
        return None;
    }
    Some(crate::jcs::to_string(&Value::Object(contrib)))
}

/// The deterministic id of an SCO, e.g. `ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4`.
pub fn deterministic_id(type_name: &str, object: &Map<String, Value>) -> Option<String> {
    let data = contributing_json(type_name, object)?;
    let uuid = Uuid::new_v5(&NAMESPACE, data.as_bytes());
    Some(format!("{type_name}--{uuid}"))
}

/// The hash-algorithm-ov spelling of a hash name the way `stix2` recognises it
/// (case-insensitive, ignoring `-` and `_`), or `None` for other names.
pub fn normalise_hash_name(name: &str) -> Option<&'static str> {
    let mut key = String::with_capacity(name.len());
    for ch in name.chars() {
        if ch != '-' && ch != '_' {
            key.push(ch.to_ascii_uppercase());
        }
    }
    Some(match key.as_str() {
        "MD5" => "MD5",
        "SHA1" => "SHA-1",
        "SHA256" => "SHA-256",
        "SHA512" => "SHA-512",
        "SHA3256" => "SHA3-256",
        "SHA3512" => "SHA3-512",
        "SSDEEP" => "SSDEEP",
        "TLSH" => "TLSH",
        _ => return None,
    })
}

fn choose_one_hash(hashes: &Value) -> Option<Value> {
    let Value::Object(map) = hashes else {
        return Some(hashes.clone());
    };
    let normalised: Vec<(String, &Value)> = map
        .iter()
        .map(|(k, v)| {
            (
                normalise_hash_name(k).map_or_else(|| k.clone(), str::to_owned),
                v,
            )
        })
        .collect();
    let pick = ["MD5", "SHA-1", "SHA-256", "SHA-512"]
        .iter()
        .find_map(|alg| normalised.iter().find(|(k, _)| k == alg))
        .or_else(|| normalised.first())?;
    let mut one = Map::new();
    one.insert(pick.0.clone(), pick.1.clone());
    Some(Value::Object(one))
}

/// The `stix2` library's timestamp form: microseconds at most, trailing zeros removed.
pub fn library_timestamp_form(ts: &Timestamp) -> String {
    let micros = ts.subsec_nanos() / 1000;
    let whole = ts.with_precision(0).to_string();
    if micros == 0 {
        return whole;
    }
    let frac = format!("{micros:06}");
    let frac = frac.trim_end_matches('0');
    format!("{}.{frac}Z", &whole[..whole.len() - 1])
}

fn normalise_timestamp(v: &Value) -> Value {
    match v.as_str().and_then(|s| Timestamp::parse(s).ok()) {
        Some(ts) => Value::String(library_timestamp_form(&ts)),
        None => v.clone(),
    }
}

/// Timestamps inside predefined extensions (`windows-pebinary-ext.time_date_stamp`)
/// are normalised like top-level ones; everything else contributes as written.
fn normalise_extensions(v: &Value) -> Value {
    let mut out = v.clone();
    if let Some(ts) = out
        .get_mut("windows-pebinary-ext")
        .and_then(|e| e.get_mut("time_date_stamp"))
    {
        *ts = normalise_timestamp(ts);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(v: Value) -> Option<String> {
        let m = v.as_object().unwrap().clone();
        let t = m["type"].as_str().unwrap().to_owned();
        deterministic_id(&t, &m)
    }

    #[test]
    fn spec_example_ipv4() {
        // Value computed by the OASIS stix2 3.0.1 library for {"value": "198.51.100.3"}.
        assert_eq!(
            id(json!({"type": "ipv4-addr", "value": "198.51.100.3"})).unwrap(),
            "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"
        );
    }

    #[test]
    fn hash_preference_and_alias() {
        let a = id(json!({"type": "file", "hashes": {"SHA-256": "aa", "md5": "bb"}}));
        let b = id(json!({"type": "file", "hashes": {"MD5": "bb"}}));
        assert_eq!(a, b);
        let c = id(json!({"type": "file", "hashes": {"x-custom": "1", "tlsh": "2"}}));
        let d = id(json!({"type": "file", "hashes": {"x-custom": "1"}}));
        assert_eq!(c, d);
    }

    #[test]
    fn process_and_empty_have_no_deterministic_id() {
        assert_eq!(id(json!({"type": "process", "pid": 1})), None);
        assert_eq!(
            id(json!({"type": "user-account", "display_name": "x"})),
            None
        );
        assert_eq!(id(json!({"type": "indicator", "name": "x"})), None);
    }

    #[test]
    fn timestamps_take_the_library_form() {
        let t = Timestamp::parse("2016-01-01T00:00:00.000Z").unwrap();
        assert_eq!(library_timestamp_form(&t), "2016-01-01T00:00:00Z");
        let t = Timestamp::parse("2016-01-01T00:00:00.1200Z").unwrap();
        assert_eq!(library_timestamp_form(&t), "2016-01-01T00:00:00.12Z");
        let t = Timestamp::parse("2016-01-01T00:00:00.123456789Z").unwrap();
        assert_eq!(library_timestamp_form(&t), "2016-01-01T00:00:00.123456Z");
    }
}
