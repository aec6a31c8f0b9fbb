//! The bundled sample data set (`nadhir import --sample`) and the STIX 2.0 → 2.1
//! conversion it needs. See `crates/nadhir/sample/README.md`.

use super::import::Source;
use serde_json::{Map, Value};

const ATTACK_ICS: &[u8] = include_bytes!("../../sample/attack-ics-stix20.json");
const CENTRE_IOCS: &[u8] = include_bytes!("../../sample/national-centre-iocs.json");

/// The sample's inputs, in import order (ATT&CK first: the advisory references it).
pub fn sources() -> Vec<Source> {
    vec![
        Source::Bytes("sample:attack-ics-stix20.json".into(), ATTACK_ICS),
        Source::Bytes("sample:national-centre-iocs.json".into(), CENTRE_IOCS),
    ]
}

/// Converts a STIX 2.0 object to 2.1 in place; objects that already carry a
/// `spec_version` (and non-objects) are left alone.
pub fn upgrade_stix20(value: &mut Value) {
    let Value::Object(map) = value else { return };
    if map.contains_key("spec_version") {
        return;
    }
    let type_name = map
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut out = Map::with_capacity(map.len() + 2);
    for (k, v) in std::mem::take(map) {
        let is_type = k == "type";
        out.insert(k, v);
        if is_type {
            out.insert("spec_version".into(), Value::String("2.1".into()));
        }
    }
    if !out.contains_key("spec_version") {
        out.insert("spec_version".into(), Value::String("2.1".into()));
    }
    for key in ["created", "modified"] {
        if let Some(Value::String(s)) = out.get_mut(key) {
            if let Ok(t) = stix::Timestamp::parse(s) {
                if t.precision() < 3 {
                    *s = t.with_precision(3).to_string();
                }
            }
        }
    }
    repair_external_references(&mut out);
    match type_name.as_str() {
        "malware" => {
            if !out.contains_key("is_family") {
                out.insert("is_family".into(), Value::Bool(true));
            }
            move_labels(&mut out, "malware_types", stix::vocab::MALWARE_TYPE);
        }
        "tool" => move_labels(&mut out, "tool_types", stix::vocab::TOOL_TYPE),
        "indicator" if !out.contains_key("pattern_type") => {
            out.insert("pattern_type".into(), Value::String("stix".into()));
        }
        _ => {}
    }
    *map = out;
}

/// Legacy content often has citation text in an external reference's `url`, or a URL
/// with stray whitespace; STIX 2.1 requires a URI there. Whitespace is trimmed; text that
/// is not a URL moves to `description` (when that is free) instead of being lost.
fn repair_external_references(map: &mut Map<String, Value>) {
    let Some(Value::Array(refs)) = map.get_mut("external_references") else {
        return;
    };
    for r in refs.iter_mut() {
        let Value::Object(r) = r else { continue };
        let Some(Value::String(url)) = r.get("url") else {
            continue;
        };
        let trimmed = url.trim();
        let looks_like_url = trimmed
            .split_once("://")
            .is_some_and(|(scheme, rest)| !scheme.is_empty() && !rest.is_empty())
            && !trimmed.contains(char::is_whitespace);
        if looks_like_url {
            if trimmed.len() != url.len() {
                let t = trimmed.to_owned();
                r.insert("url".into(), Value::String(t));
            }
        } else {
            let text = trimmed.to_owned();
            r.remove("url");
            if !r.contains_key("description") {
                r.insert("description".into(), Value::String(text));
            }
        }
    }
}

/// Copies 2.0 `labels` that are 2.1 vocabulary values into `target` (when absent).
fn move_labels(map: &mut Map<String, Value>, target: &str, vocab: &[&str]) {
    if map.contains_key(target) {
        return;
    }
    let Some(Value::Array(labels)) = map.get("labels") else {
        return;
    };
    let typed: Vec<Value> = labels
        .iter()
        .filter(|l| l.as_str().is_some_and(|s| vocab.contains(&s)))
        .cloned()
        .collect();
    if !typed.is_empty() {
        map.insert(target.into(), Value::Array(typed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn upgrades_a_20_malware() {
        let mut v = json!({"type": "malware", "id": "malware--a4a98eab-b691-45d9-8c48-869ef8fefd57",
            "created": "2017-06-01T00:00:00Z", "modified": "2020-01-02T00:14:20.652Z",
            "name": "X", "labels": ["malware", "worm"]});
        upgrade_stix20(&mut v);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(&keys[..3], ["type", "spec_version", "id"]);
        assert_eq!(v["created"], "2017-06-01T00:00:00.000Z");
        assert_eq!(v["modified"], "2020-01-02T00:14:20.652Z");
        assert_eq!(v["is_family"], true);
        assert_eq!(v["malware_types"], json!(["worm"]));
    }

    #[test]
    fn repairs_citation_text_in_urls() {
        let mut v = json!({"type": "relationship", "id": "relationship--f65a8ce8-90fa-4d92-a0dc-3ee544c541fe",
            "external_references": [
                {"source_name": "a", "url": "Dragos. (n.d.). Chrysene. Retrieved October 27, 2019."},
                {"source_name": "b", "url": "https://example.com/x "},
                {"source_name": "c", "url": "https://example.com/y", "description": "kept"}]});
        upgrade_stix20(&mut v);
        let refs = &v["external_references"];
        assert_eq!(
            refs[0],
            json!({"source_name": "a", "description": "Dragos. (n.d.). Chrysene. Retrieved October 27, 2019."})
        );
        assert_eq!(refs[1]["url"], "https://example.com/x");
        assert_eq!(refs[2]["url"], "https://example.com/y");
    }

    #[test]
    fn leaves_21_objects_alone() {
        let orig = json!({"type": "malware", "spec_version": "2.1", "id": "malware--a4a98eab-b691-45d9-8c48-869ef8fefd57", "created": "2017-06-01T00:00:00Z"});
        let mut v = orig.clone();
        upgrade_stix20(&mut v);
        assert_eq!(v, orig);
    }

    #[test]
    fn bundled_sample_parses() {
        for source in sources() {
            let Source::Bytes(name, bytes) = source else {
                unreachable!()
            };
            let v: Value = serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(v["type"], "bundle", "{name}");
        }
    }
}
