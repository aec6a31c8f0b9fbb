//! A lossless STIX object: the JSON map exactly as received (property order, custom
//! properties and unknown extensions kept), with typed accessors for the common
//! properties.
//!
//! *Invariant*: `Object::from_value(v).into_value() == v` and serialising an object
//! writes its properties in the order they were read.

use crate::timestamp::Timestamp;
use serde_json::{Map, Value};

/// A STIX object as a JSON map with accessors. Equality is JSON equality
/// (property order does not matter for `==`, but it is kept for output).
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    map: Map<String, Value>,
}

/// Why a JSON value is not even shaped like a STIX object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("expected a JSON object, found {0}")]
    NotAnObject(&'static str),
    #[error("required property '{0}' is missing")]
    Missing(&'static str),
    #[error("property '{0}' must be a string")]
    NotAString(&'static str),
}

impl ShapeError {
    /// JSON pointer (relative to the object) of the problem.
    pub fn pointer(&self) -> String {
        match self {
            ShapeError::NotAnObject(_) => String::new(),
            ShapeError::Missing(p) | ShapeError::NotAString(p) => format!("/{p}"),
        }
    }
}

/// The name of a JSON value's kind, for messages.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Object {
    /// Wraps a JSON value that has string `type` and `id` properties.
    pub fn from_value(value: Value) -> Result<Self, ShapeError> {
        match value {
            Value::Object(map) => Self::from_map(map),
            other => Err(ShapeError::NotAnObject(json_kind(&other))),
        }
    }

    /// Wraps a JSON map that has string `type` and `id` properties.
    pub fn from_map(map: Map<String, Value>) -> Result<Self, ShapeError> {
        for key in ["type", "id"] {
            match map.get(key) {
                None => return Err(ShapeError::Missing(key)),
                Some(Value::String(_)) => {}
                Some(_) => return Err(ShapeError::NotAString(key)),
            }
        }
        Ok(Object { map })
    }

    /// Parses one object from JSON text.
    pub fn from_json_str(text: &str) -> Result<Self, ObjectParseError> {
        let value: Value = serde_json::from_str(text).map_err(ObjectParseError::Json)?;
        Object::from_value(value).map_err(ObjectParseError::Shape)
    }

    fn str_prop(&self, key: &str) -> &str {
        self.map
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn id(&self) -> &str {
        self.str_prop("id")
    }
    pub fn type_name(&self) -> &str {
        self.str_prop("type")
    }
    /// `spec_version` as written, if present (SCOs may omit it; STIX 2.0 objects lack it).
    pub fn spec_version(&self) -> Option<&str> {
        self.map.get("spec_version").and_then(Value::as_str)
    }
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }
    pub fn created(&self) -> Option<Timestamp> {
        self.map
            .get("created")
            .and_then(Value::as_str)
            .and_then(|s| Timestamp::parse(s).ok())
    }
    pub fn modified(&self) -> Option<Timestamp> {
        self.map
            .get("modified")
            .and_then(Value::as_str)
            .and_then(|s| Timestamp::parse(s).ok())
    }
    /// The version of this object: `modified`, else `created`; `None` for objects
    /// that are not versioned (SCOs, and marking definitions without either).
    pub fn version(&self) -> Option<Timestamp> {
        self.modified().or_else(|| self.created())
    }
    /// The kind of a type defined by the specification; `None` for custom types.
    pub fn kind(&self) -> Option<crate::registry::Kind> {
        crate::registry::kind_of(self.type_name())
    }
    /// The registry definition of this object's type, if the spec defines it.
    pub fn definition(&self) -> Option<&'static crate::registry::TypeDef> {
        crate::registry::lookup(self.type_name())
    }
    pub fn created_by_ref(&self) -> Option<&str> {
        self.map.get("created_by_ref").and_then(Value::as_str)
    }
    /// The ids in `object_marking_refs` (empty when absent).
    pub fn object_marking_refs(&self) -> impl Iterator<Item = &str> {
        self.map
            .get("object_marking_refs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
    }
    /// The most restrictive TLP level among `object_marking_refs` (TLP 1.0 ids map to 2.0).
    pub fn tlp(&self) -> Option<crate::markings::Tlp> {
        crate::markings::object_tlp(&self.map)
    }
    /// Every violation of the specification (empty when valid).
    pub fn validate(&self) -> Vec<crate::ValidationError> {
        crate::validate::validate_map(&self.map)
    }
    /// The deterministic (UUIDv5) id this object would have as an SCO, if any.
    pub fn deterministic_id(&self) -> Option<String> {
        crate::sco::deterministic_id(self.type_name(), &self.map)
    }
    pub fn is_revoked(&self) -> bool {
        matches!(self.map.get("revoked"), Some(Value::Bool(true)))
    }
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.map
    }
    pub fn as_map_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.map
    }
    pub fn into_value(self) -> Value {
        Value::Object(self.map)
    }
    pub fn to_value(&self) -> Value {
        Value::Object(self.map.clone())
    }
    /// Compact JSON in the original property order.
    pub fn to_json(&self) -> String {
        // Serialising a Map of Values cannot fail.
        serde_json::to_string(&self.map).unwrap_or_default()
    }
    /// RFC 8785 canonical JSON (sorted keys, normalised numbers).
    pub fn canonical_json(&self) -> String {
        let mut out = String::with_capacity(1024);
        crate::jcs::write_map(&mut out, &self.map);
        out
    }
    /// SHA-256 of the canonical JSON: equal exactly when the contents are equal.
    pub fn content_hash(&self) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(self.canonical_json().as_bytes()).into()
    }
}

impl serde::Serialize for Object {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.map.serialize(s)
    }
}

/// Why text could not be read as one STIX object.
#[derive(Debug, thiserror::Error)]
pub enum ObjectParseError {
    #[error("not valid JSON: {0}")]
    Json(serde_json::Error),
    #[error("{0}")]
    Shape(ShapeError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_property_order_and_custom_properties() {
        let text = r#"{"type":"indicator","x_custom":{"b":1,"a":2},"id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","spec_version":"2.1","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","extensions":{"x-unknown-ext":{"n":1.50}}}"#;
        let o = Object::from_json_str(text).unwrap();
        assert_eq!(o.to_json(), text);
        assert_eq!(o, Object::from_json_str(text).unwrap());
        assert_eq!(o.type_name(), "indicator");
        assert_eq!(o.version().unwrap().to_string(), "2016-04-06T20:03:48.000Z");
    }

    #[test]
    fn typed_accessors() {
        let text = r#"{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","pattern":"[url:value = 'http://x.example/']","pattern_type":"stix","valid_from":"2016-04-06T20:03:48Z","created_by_ref":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff","object_marking_refs":["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82","marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"]}"#;
        let o = Object::from_json_str(text).unwrap();
        assert_eq!(o.kind(), Some(crate::registry::Kind::Sdo));
        assert_eq!(o.definition().map(|d| d.name), Some("indicator"));
        assert_eq!(
            o.created_by_ref(),
            Some("identity--f431f809-377b-45e0-aa1c-6a4751cae5ff")
        );
        assert_eq!(o.object_marking_refs().count(), 2);
        assert_eq!(o.tlp(), Some(crate::markings::Tlp::Amber));
        assert!(o.validate().is_empty());
        assert_eq!(o.deterministic_id(), None);
        let ip = Object::from_json_str(r#"{"type":"ipv4-addr","id":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","value":"198.51.100.3"}"#).unwrap();
        assert_eq!(ip.deterministic_id().as_deref(), Some(ip.id()));
    }

    #[test]
    fn shape_errors_name_the_property() {
        let e = Object::from_json_str(r#"{"type":"indicator"}"#).unwrap_err();
        assert_eq!(e.to_string(), "required property 'id' is missing");
        let e = Object::from_json_str(r#"[1]"#).unwrap_err();
        assert_eq!(e.to_string(), "expected a JSON object, found an array");
    }
}
