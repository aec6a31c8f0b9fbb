//! Granular markings: selector paths (STIX 2.1 §7.2.3), the required-properties table,
//! and removal of selected properties from a copy without breaking it.
//!
//! Removal rules (each keeps the copy valid and keeps every remaining selector pointing
//! at the same content it pointed at in the original):
//! - a selector that ends at a list element removes the whole list (removing one element
//!   would shift the indices other selectors use);
//! - removing a property that an element of `external_references` / `kill_chain_phases`
//!   requires removes that element, hence its whole list;
//! - a dictionary left empty is removed in turn (STIX forbids empty dictionaries);
//! - removing a property the object's type requires withholds the whole object;
//! - selectors of the copy's `granular_markings` that pointed into removed content are
//!   dropped, and so are markings left without selectors.

use serde_json::{Map, Value};

/// One step of a selector path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A parsed selector such as `external_references.[0].url`.
pub type Path = Vec<Segment>;

/// Parses a granular-marking selector. `None` when it is not well formed.
pub fn parse_selector(selector: &str) -> Option<Path> {
    if selector.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for part in selector.split('.') {
        if let Some(inner) = part.strip_prefix('[').and_then(|p| p.strip_suffix(']')) {
            if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            out.push(Segment::Index(inner.parse().ok()?));
        } else if part.is_empty() || part.contains(['[', ']']) {
            return None;
        } else {
            out.push(Segment::Key(part.to_owned()));
        }
    }
    // A selector starts with a property name.
    matches!(out.first(), Some(Segment::Key(_))).then_some(out)
}

/// Prints a path back in selector syntax.
pub fn selector_string(path: &[Segment]) -> String {
    path.iter()
        .map(|s| match s {
            Segment::Key(k) => k.clone(),
            Segment::Index(i) => format!("[{i}]"),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The value a path selects, if present.
pub fn resolve<'a>(root: &'a Map<String, Value>, path: &[Segment]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let Segment::Key(k) = first else { return None };
    let mut cur = root.get(k)?;
    for seg in rest {
        cur = match (seg, cur) {
            (Segment::Key(k), Value::Object(m)) => m.get(k)?,
            (Segment::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Properties every object must keep (any type). The markings are here because a copy
/// without them would look unmarked (and take the receiver's default) — never less
/// restrictive by accident.
const ALWAYS_REQUIRED: &[&str] = &[
    "type",
    "id",
    "spec_version",
    "created",
    "modified",
    "object_marking_refs",
    "granular_markings",
];

/// The properties STIX 2.1 requires for a type (beyond the common ones), plus those
/// without which the object loses its meaning (e.g. a `location`'s coordinates). A
/// property listed here is never removed: the whole object is withheld instead.
pub fn required_properties(object_type: &str) -> &'static [&'static str] {
    match object_type {
        "attack-pattern" | "campaign" | "course-of-action" | "identity" | "incident"
        | "infrastructure" | "intrusion-set" | "threat-actor" | "tool" | "vulnerability" => {
            &["name"]
        }
        "grouping" => &["context", "object_refs"],
        "indicator" => &["pattern", "pattern_type", "valid_from"],
        "location" => &["region", "country", "latitude", "longitude"],
        "malware" => &["is_family", "name"],
        "malware-analysis" => &["product", "result", "analysis_sco_refs"],
        "note" => &["content", "object_refs"],
        "observed-data" => &[
            "first_observed",
            "last_observed",
            "number_observed",
            "object_refs",
        ],
        "opinion" => &["opinion", "object_refs"],
        "report" => &["name", "published", "object_refs"],
        "relationship" => &["relationship_type", "source_ref", "target_ref"],
        "sighting" => &["sighting_of_ref"],
        "marking-definition" => &["definition_type", "definition", "extensions"],
        "language-content" => &["object_ref", "object_modified", "contents"],
        "extension-definition" => &[
            "name",
            "schema",
            "version",
            "extension_types",
            "created_by_ref",
        ],
        "artifact" => &["payload_bin", "url"],
        "autonomous-system" => &["number"],
        "directory" => &["path"],
        "domain-name" | "email-addr" | "ipv4-addr" | "ipv6-addr" | "mac-addr" | "url" => &["value"],
        "email-message" => &["is_multipart"],
        "file" => &["hashes", "name"],
        "mutex" => &["name"],
        "network-traffic" => &["protocols"],
        "software" => &["name"],
        _ => &[],
    }
}

/// Whether removing the top-level property `key` from an object of `object_type` would
/// leave it invalid or meaningless.
pub fn is_required(object_type: &str, key: &str) -> bool {
    ALWAYS_REQUIRED.contains(&key) || required_properties(object_type).contains(&key)
}

/// Sub-properties required in the elements of well-known lists.
fn element_requires(list_key: &str, key: &str) -> bool {
    matches!(
        (list_key, key),
        ("external_references", "source_name")
            | ("kill_chain_phases", "kill_chain_name" | "phase_name")
            | ("granular_markings", "selectors")
    )
}

/// The outcome of removing selected content from a copy.
#[derive(Debug, Clone, PartialEq)]
pub struct Pruned {
    pub map: Map<String, Value>,
    /// Selectors (normalised, in selector syntax) actually removed, in order.
    pub removed: Vec<String>,
}

/// Removal failed because a required property would go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredRemoval {
    pub property: String,
    /// Index into the `targets` given to [`prune`] of the selector that caused it.
    pub target: usize,
}

/// Normalises a removal target against the current content (see the module rules).
fn normalise(map: &Map<String, Value>, mut path: Path) -> Path {
    loop {
        match path.last() {
            Some(Segment::Index(_)) => {
                path.pop();
            }
            Some(Segment::Key(k)) if path.len() >= 3 => {
                let n = path.len();
                let is_element = matches!(path[n - 2], Segment::Index(_));
                let list_key = match &path[n - 3] {
                    Segment::Key(l) => l.as_str(),
                    Segment::Index(_) => "",
                };
                if is_element && element_requires(list_key, k) {
                    path.pop();
                } else {
                    break;
                }
            }
            _ => break,
        }
    }
    // Removing everything left in a dictionary removes the dictionary.
    if path.len() >= 2 {
        if let Some(Value::Object(m)) = resolve(map, &path[..path.len() - 1]) {
            if m.len() == 1 {
                path.pop();
                return normalise(map, path);
            }
        }
    }
    path
}

fn remove_at(map: &mut Map<String, Value>, path: &[Segment]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let Segment::Key(last) = last else { return };
    if parent.is_empty() {
        map.shift_remove(last);
        return;
    }
    let Some((Segment::Key(first), rest)) = parent.split_first() else {
        return;
    };
    let mut cur = match map.get_mut(first) {
        Some(v) => v,
        None => return,
    };
    for seg in rest {
        cur = match (seg, cur) {
            (Segment::Key(k), Value::Object(m)) => match m.get_mut(k) {
                Some(v) => v,
                None => return,
            },
            (Segment::Index(i), Value::Array(a)) => match a.get_mut(*i) {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
    }
    if let Value::Object(m) = cur {
        m.shift_remove(last);
    }
}

fn is_prefix(prefix: &[Segment], path: &[Segment]) -> bool {
    path.len() >= prefix.len() && path[..prefix.len()] == *prefix
}

/// Removes each target path from a copy of `map` (an object of type `object_type`),
/// following the module rules. Targets that select nothing are ignored.
pub fn prune(
    map: &Map<String, Value>,
    object_type: &str,
    targets: &[Path],
) -> Result<Pruned, RequiredRemoval> {
    let mut out = map.clone();
    let mut removed: Vec<Path> = Vec::new();
    for (i, target) in targets.iter().enumerate() {
        if resolve(&out, target).is_none() {
            continue;
        }
        let path = normalise(&out, target.clone());
        if let Some(Segment::Key(top)) = path.first() {
            if path.len() == 1 && is_required(object_type, top) {
                return Err(RequiredRemoval {
                    property: top.clone(),
                    target: i,
                });
            }
        }
        remove_at(&mut out, &path);
        removed.retain(|r| !is_prefix(&path, r));
        removed.push(path);
    }
    if !removed.is_empty() {
        fix_granular_markings(&mut out, &removed);
    }
    Ok(Pruned {
        map: out,
        removed: removed.iter().map(|p| selector_string(p)).collect(),
    })
}

/// Drops selectors that point into removed content, markings left without selectors,
/// and the property itself when no marking is left.
fn fix_granular_markings(map: &mut Map<String, Value>, removed: &[Path]) {
    let Some(Value::Array(markings)) = map.get_mut("granular_markings") else {
        return;
    };
    markings.retain_mut(|gm| {
        let Some(Value::Array(selectors)) = gm.get_mut("selectors") else {
            return true;
        };
        selectors.retain(|s| match s.as_str().and_then(parse_selector) {
            Some(p) => !removed.iter().any(|r| is_prefix(r, &p)),
            None => true,
        });
        !selectors.is_empty()
    });
    if markings.is_empty() {
        map.shift_remove("granular_markings");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn p(s: &str) -> Path {
        parse_selector(s).unwrap()
    }

    #[test]
    fn parses_and_prints_selectors() {
        let path = p("external_references.[0].url");
        assert_eq!(
            path,
            vec![
                Segment::Key("external_references".into()),
                Segment::Index(0),
                Segment::Key("url".into())
            ]
        );
        assert_eq!(selector_string(&path), "external_references.[0].url");
        for bad in ["", "[0]", "a..b", "a.[x]", "a.[]", "a.b]", "a.[-1]"] {
            assert_eq!(parse_selector(bad), None, "{bad}");
        }
    }

    #[test]
    fn removes_a_nested_property_and_fixes_selectors() {
        let m = map(json!({
            "type": "indicator", "id": "indicator--1", "description": "d",
            "external_references": [{"source_name": "a", "url": "https://x"}],
            "granular_markings": [
                {"marking_ref": "m1", "selectors": ["external_references.[0].url"]},
                {"marking_ref": "m2", "selectors": ["description", "external_references.[0].source_name"]}
            ]
        }));
        let out = prune(&m, "indicator", &[p("external_references.[0].url")]).unwrap();
        assert_eq!(out.removed, vec!["external_references.[0].url"]);
        assert_eq!(
            out.map["external_references"],
            json!([{"source_name": "a"}])
        );
        assert_eq!(
            out.map["granular_markings"],
            json!([{"marking_ref": "m2", "selectors": ["description", "external_references.[0].source_name"]}])
        );
    }

    #[test]
    fn list_element_removes_the_whole_list() {
        let m = map(json!({
            "type": "malware", "id": "malware--1", "name": "n", "is_family": true,
            "kill_chain_phases": [{"kill_chain_name": "k", "phase_name": "a"}, {"kill_chain_name": "k", "phase_name": "b"}],
        }));
        let out = prune(&m, "malware", &[p("kill_chain_phases.[1]")]).unwrap();
        assert!(!out.map.contains_key("kill_chain_phases"));
        let out = prune(&m, "malware", &[p("kill_chain_phases.[0].phase_name")]).unwrap();
        assert!(!out.map.contains_key("kill_chain_phases"));
        assert_eq!(out.removed, vec!["kill_chain_phases"]);
    }

    #[test]
    fn emptied_dictionary_goes_too() {
        let m = map(json!({
            "type": "file", "id": "file--1", "name": "a.exe", "hashes": {"MD5": "x"},
            "x_extra": {"only": 1}
        }));
        let out = prune(&m, "file", &[p("x_extra.only")]).unwrap();
        assert!(!out.map.contains_key("x_extra"));
        assert_eq!(out.removed, vec!["x_extra"]);
        // hashes is required for a file: emptying it withholds the object.
        let err = prune(&m, "file", &[p("hashes.MD5")]).unwrap_err();
        assert_eq!(err.property, "hashes");
    }

    #[test]
    fn required_property_refuses() {
        let m = map(
            json!({"type": "indicator", "id": "indicator--1", "pattern": "[x:y = 'z']", "name": "n"}),
        );
        assert_eq!(
            prune(&m, "indicator", &[p("pattern")])
                .unwrap_err()
                .property,
            "pattern"
        );
        assert_eq!(
            prune(&m, "indicator", &[p("id")]).unwrap_err().property,
            "id"
        );
        let out = prune(&m, "indicator", &[p("name"), p("missing.x")]).unwrap();
        assert_eq!(out.removed, vec!["name"]);
    }
}
