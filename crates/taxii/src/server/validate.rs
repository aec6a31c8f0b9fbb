//! Per-object checks applied to POSTed objects before they are stored. An object that
//! fails is reported in the status resource's `failures` with the JSON pointer (relative
//! to the object) and the reason; the objects beside it are still stored.

use serde_json::Value;
use stix::{Object, Timestamp};

/// STIX 2.1 domain and relationship object types: these carry `spec_version`,
/// `created` and `modified` as required properties.
const SDO_SRO: [&str; 21] = [
    "attack-pattern",
    "campaign",
    "course-of-action",
    "grouping",
    "identity",
    "incident",
    "indicator",
    "infrastructure",
    "intrusion-set",
    "location",
    "malware",
    "malware-analysis",
    "note",
    "observed-data",
    "opinion",
    "report",
    "threat-actor",
    "tool",
    "vulnerability",
    "relationship",
    "sighting",
];

/// One reason an object is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// JSON pointer inside the object ("" for the object itself).
    pub pointer: String,
    pub reason: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{p}: {}", self.reason)
    }
}

fn invalid(pointer: &str, reason: impl Into<String>) -> Invalid {
    Invalid {
        pointer: pointer.to_owned(),
        reason: reason.into(),
    }
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Checks one object: first the properties the store relies on (type, id, spec_version,
/// version timestamps), then every MUST of the STIX 2.1 specification
/// and the pattern grammar ([`pattern::validate_object`]). On success returns it wrapped
/// as a [`stix::Object`].
pub fn check(value: Value) -> Result<Object, Invalid> {
    let value = check_core(value)?.into_value();
    let errors = pattern::validate_object(&value);
    if let Some(first) = errors.first() {
        let mut reason = format!("{} [{}]", first.message, first.code);
        if errors.len() > 1 {
            reason.push_str(&format!(" (and {} more problem(s))", errors.len() - 1));
        }
        return Err(invalid(&first.pointer, reason));
    }
    Object::from_value(value).map_err(|e| invalid(&e.pointer(), e.to_string()))
}

fn check_core(value: Value) -> Result<Object, Invalid> {
    let obj = Object::from_value(value).map_err(|e| invalid(&e.pointer(), e.to_string()))?;
    let ty = obj.type_name();
    if ty.len() < 3
        || ty.len() > 250
        || !ty
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        return Err(invalid(
            "/type",
            format!("{ty:?} is not a valid STIX type name"),
        ));
    }
    let id = obj.id();
    match id.split_once("--") {
        Some((prefix, uuid)) if prefix == ty && is_uuid(uuid) => {}
        Some((prefix, _)) if prefix != ty => {
            return Err(invalid(
                "/id",
                format!("id {id:?} does not start with its type {ty:?}"),
            ));
        }
        _ => {
            return Err(invalid(
                "/id",
                format!("id {id:?} is not of the form {ty}--<uuid>"),
            ))
        }
    }
    let required = SDO_SRO.contains(&ty) || ty == "marking-definition" || ty == "language-content";
    match obj.get("spec_version") {
        Some(Value::String(s)) if s == "2.1" => {}
        Some(other) => {
            return Err(invalid(
                "/spec_version",
                format!("must be \"2.1\", found {other}"),
            ));
        }
        None if required => return Err(invalid("/spec_version", "required property is missing")),
        None => {}
    }
    for key in ["created", "modified"] {
        match obj.get(key) {
            Some(Value::String(s)) => {
                Timestamp::parse(s).map_err(|e| invalid(&format!("/{key}"), e.to_string()))?;
            }
            Some(other) => {
                return Err(invalid(
                    &format!("/{key}"),
                    format!("must be a timestamp string, found {other}"),
                ))
            }
            None if required && (key == "created" || ty != "marking-definition") => {
                return Err(invalid(&format!("/{key}"), "required property is missing"));
            }
            None => {}
        }
    }
    if let (Some(c), Some(m)) = (obj.created(), obj.modified()) {
        if m < c {
            return Err(invalid("/modified", "must not be earlier than created"));
        }
    }
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";

    fn ind() -> Value {
        json!({"type":"indicator","spec_version":"2.1","id":ID,"created":"2020-01-01T00:00:00.000Z","modified":"2020-01-02T00:00:00.000Z","pattern":"[ipv4-addr:value = '1.2.3.4']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"})
    }

    #[test]
    fn accepts_valid_objects() {
        assert_eq!(check(ind()).unwrap().id(), ID);
        let sco = json!({"type":"ipv4-addr","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"1.2.3.4"});
        assert!(check(sco).is_ok());
    }

    #[test]
    fn applies_the_full_specification() {
        let mut v = ind();
        v["name"] = json!(5);
        let e = check(v).unwrap_err();
        assert_eq!(e.pointer, "/name", "{e}");
        let mut v = ind();
        v.as_object_mut().unwrap().remove("valid_from");
        assert_eq!(check(v).unwrap_err().pointer, "/valid_from");
    }

    #[test]
    fn reports_pointer_and_reason() {
        let cases = [
            (json!([1]), ""),
            (json!({"type":"indicator"}), "/id"),
            (
                json!({"type":"indicator","id":"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}),
                "/id",
            ),
            (json!({"type":"indicator","id":"indicator--nope"}), "/id"),
            (
                json!({"type":"Bad_Type","id":"Bad_Type--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}),
                "/type",
            ),
        ];
        for (v, pointer) in cases {
            assert_eq!(check(v.clone()).unwrap_err().pointer, pointer, "{v}");
        }
        let mut v = ind();
        v["created"] = json!("yesterday");
        assert_eq!(check(v).unwrap_err().pointer, "/created");
        let mut v = ind();
        v.as_object_mut().unwrap().remove("modified");
        assert_eq!(
            check(v).unwrap_err().to_string(),
            "/modified: required property is missing"
        );
        let mut v = ind();
        v["spec_version"] = json!("2.0");
        assert_eq!(check(v).unwrap_err().pointer, "/spec_version");
        let mut v = ind();
        v["modified"] = json!("2019-01-01T00:00:00Z");
        assert_eq!(check(v).unwrap_err().pointer, "/modified");
    }
}
