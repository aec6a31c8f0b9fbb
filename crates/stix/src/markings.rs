//! Traffic Light Protocol marking definitions: the four TLP 1.0 objects from the
//! STIX 2.1 specification (§7.2.1.4) and the five TLP 2.0 objects defined with the
//! OASIS TLP 2.0 extension (cti-stix-common-objects,
//! `extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d`).
//!
//! *Invariant*: the objects returned here are byte-for-byte the official JSON
//! (property order included), so they can be emitted and compared as is.

use serde_json::{Map, Value};

/// The TLP 2.0 extension definition id.
pub const TLP2_EXTENSION_ID: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

pub const TLP1_WHITE: &str = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9";
pub const TLP1_GREEN: &str = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da";
pub const TLP1_AMBER: &str = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82";
pub const TLP1_RED: &str = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";

pub const TLP2_CLEAR: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
pub const TLP2_GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
pub const TLP2_AMBER: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
pub const TLP2_AMBER_STRICT: &str = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
pub const TLP2_RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";

const TLP1_CREATED: &str = "2017-01-20T00:00:00.000Z";
const TLP2_CREATED: &str = "2022-10-01T00:00:00.000Z";

/// A TLP 2.0 level, ordered from least to most restrictive.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Tlp {
    #[serde(rename = "clear")]
    Clear,
    #[serde(rename = "green")]
    Green,
    #[serde(rename = "amber")]
    Amber,
    #[serde(rename = "amber+strict")]
    AmberStrict,
    #[serde(rename = "red")]
    Red,
}

impl Tlp {
    pub const ALL: [Tlp; 5] = [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ];

    /// The value of the extension's `tlp_2_0` property (`clear`, `amber+strict`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }
    /// The marking definition's `name` (`TLP:CLEAR`, …).
    pub fn label(self) -> &'static str {
        match self {
            Tlp::Clear => "TLP:CLEAR",
            Tlp::Green => "TLP:GREEN",
            Tlp::Amber => "TLP:AMBER",
            Tlp::AmberStrict => "TLP:AMBER+STRICT",
            Tlp::Red => "TLP:RED",
        }
    }
    /// The official TLP 2.0 marking-definition id.
    pub fn marking_id(self) -> &'static str {
        match self {
            Tlp::Clear => TLP2_CLEAR,
            Tlp::Green => TLP2_GREEN,
            Tlp::Amber => TLP2_AMBER,
            Tlp::AmberStrict => TLP2_AMBER_STRICT,
            Tlp::Red => TLP2_RED,
        }
    }
    /// Parses `clear` / `TLP:CLEAR` (any case); TLP 1.0's `white` maps to `Clear`.
    pub fn parse(text: &str) -> Option<Tlp> {
        let t = text
            .strip_prefix("TLP:")
            .or_else(|| text.strip_prefix("tlp:"))
            .unwrap_or(text);
        Tlp::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(t))
            .or_else(|| t.eq_ignore_ascii_case("white").then_some(Tlp::Clear))
    }
    /// The level of a TLP 1.0 or 2.0 marking-definition id. TLP 1.0 ids map to their
    /// 2.0 equivalents (WHITE → CLEAR; GREEN, AMBER, RED unchanged).
    pub fn from_marking_id(id: &str) -> Option<Tlp> {
        Tlp::ALL
            .into_iter()
            .find(|l| l.marking_id() == id)
            .or_else(|| tlp1_to_tlp2(id))
    }
    /// The official TLP 2.0 marking-definition object.
    pub fn marking_definition(self) -> Value {
        let mut ext = Map::new();
        ext.insert("extension_type".into(), "property-extension".into());
        ext.insert("tlp_2_0".into(), self.as_str().into());
        let mut exts = Map::new();
        exts.insert(TLP2_EXTENSION_ID.into(), Value::Object(ext));
        let mut m = Map::new();
        m.insert("type".into(), "marking-definition".into());
        m.insert("spec_version".into(), "2.1".into());
        m.insert("id".into(), self.marking_id().into());
        m.insert("created".into(), TLP2_CREATED.into());
        m.insert("name".into(), self.label().into());
        m.insert("extensions".into(), Value::Object(exts));
        Value::Object(m)
    }
}

impl std::fmt::Display for Tlp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// One of the four TLP 1.0 marking definitions of STIX 2.1 §7.2.1.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlp1 {
    pub id: &'static str,
    /// `white`, `green`, `amber` or `red`.
    pub tlp: &'static str,
    pub name: &'static str,
}

pub const TLP1: [Tlp1; 4] = [
    Tlp1 {
        id: TLP1_WHITE,
        tlp: "white",
        name: "TLP:WHITE",
    },
    Tlp1 {
        id: TLP1_GREEN,
        tlp: "green",
        name: "TLP:GREEN",
    },
    Tlp1 {
        id: TLP1_AMBER,
        tlp: "amber",
        name: "TLP:AMBER",
    },
    Tlp1 {
        id: TLP1_RED,
        tlp: "red",
        name: "TLP:RED",
    },
];

impl Tlp1 {
    /// The official object, as in the specification.
    pub fn marking_definition(&self) -> Value {
        let mut def = Map::new();
        def.insert("tlp".into(), self.tlp.into());
        let mut m = Map::new();
        m.insert("type".into(), "marking-definition".into());
        m.insert("spec_version".into(), "2.1".into());
        m.insert("id".into(), self.id.into());
        m.insert("created".into(), TLP1_CREATED.into());
        m.insert("definition_type".into(), "tlp".into());
        m.insert("name".into(), self.name.into());
        m.insert("definition".into(), Value::Object(def));
        Value::Object(m)
    }
    /// Whether an object is this official definition: only `type`, `spec_version`,
    /// `id`, `created`, `definition_type`, `name` and `definition` with the official
    /// values (timestamps compared as instants).
    pub fn matches(&self, map: &Map<String, Value>) -> bool {
        let s = |k: &str| map.get(k).and_then(Value::as_str);
        let created_ok = s("created")
            .and_then(|c| crate::Timestamp::parse(c).ok())
            .zip(crate::Timestamp::parse(TLP1_CREATED).ok())
            .is_some_and(|(a, b)| a == b);
        let def_ok = match map.get("definition") {
            Some(Value::Object(d)) => {
                d.len() == 1 && d.get("tlp").and_then(Value::as_str) == Some(self.tlp)
            }
            _ => false,
        };
        let allowed = [
            "type",
            "spec_version",
            "id",
            "created",
            "definition_type",
            "name",
            "definition",
        ];
        s("id") == Some(self.id)
            && s("name") == Some(self.name)
            && s("spec_version") == Some("2.1")
            && created_ok
            && def_ok
            && map.keys().all(|k| allowed.contains(&k.as_str()))
    }
}

/// The TLP 1.0 definition with this id.
pub fn tlp1_by_id(id: &str) -> Option<&'static Tlp1> {
    TLP1.iter().find(|t| t.id == id)
}

/// Maps a TLP 1.0 marking-definition id to the equivalent TLP 2.0 level.
pub fn tlp1_to_tlp2(id: &str) -> Option<Tlp> {
    match tlp1_by_id(id)?.tlp {
        "white" => Some(Tlp::Clear),
        "green" => Some(Tlp::Green),
        "amber" => Some(Tlp::Amber),
        "red" => Some(Tlp::Red),
        _ => None,
    }
}

/// The TLP level an object carries through `object_marking_refs` (TLP 1.0 or 2.0);
/// the most restrictive wins when several are present.
pub fn object_tlp(object: &Map<String, Value>) -> Option<Tlp> {
    object
        .get("object_marking_refs")?
        .as_array()?
        .iter()
        .filter_map(|r| r.as_str().and_then(Tlp::from_marking_id))
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_objects_are_valid() {
        for l in Tlp::ALL {
            let v = l.marking_definition();
            assert_eq!(crate::validate(&v), vec![], "{l}");
            assert_eq!(Tlp::from_marking_id(l.marking_id()), Some(l));
        }
        for t in TLP1 {
            let v = t.marking_definition();
            assert_eq!(crate::validate(&v), vec![], "{}", t.name);
            assert!(t.matches(v.as_object().unwrap()));
        }
    }

    #[test]
    fn tlp2_json_is_the_official_text() {
        let v = Tlp::AmberStrict.marking_definition();
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003","created":"2022-10-01T00:00:00.000Z","name":"TLP:AMBER+STRICT","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"amber+strict"}}}"#
        );
    }

    #[test]
    fn tlp1_maps_to_tlp2() {
        assert_eq!(tlp1_to_tlp2(TLP1_WHITE), Some(Tlp::Clear));
        assert_eq!(tlp1_to_tlp2(TLP1_RED), Some(Tlp::Red));
        assert_eq!(tlp1_to_tlp2(TLP2_RED), None);
        assert_eq!(Tlp::parse("TLP:AMBER+STRICT"), Some(Tlp::AmberStrict));
        assert_eq!(Tlp::parse("white"), Some(Tlp::Clear));
        assert_eq!(Tlp::parse("purple"), None);
        assert!(Tlp::Clear < Tlp::Red);
    }

    #[test]
    fn tampered_tlp1_definition_is_rejected() {
        let mut v = TLP1[1].marking_definition();
        v["definition"]["tlp"] = "red".into();
        let errs = crate::validate(&v);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].code, "invalid-marking-definition");
    }

    #[test]
    fn object_tlp_takes_the_most_restrictive() {
        let v = serde_json::json!({"object_marking_refs": [TLP1_GREEN, TLP2_AMBER_STRICT, "marking-definition--00000000-0000-4000-8000-000000000000"]});
        assert_eq!(object_tlp(v.as_object().unwrap()), Some(Tlp::AmberStrict));
    }
}
