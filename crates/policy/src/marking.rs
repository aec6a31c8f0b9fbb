//! TLP and PAP marking definitions and the effective marking of a stored object.
//!
//! TLP 2.0 ids are the official ones of the OASIS TLP 2.0 extension
//! (`extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d`); TLP 1.0 ids are those
//! of the STIX 2.1 specification §7.2.1.4 and are mapped to their 2.0 equivalents.
//! PAP ids are the official ones of the OASIS PAP extension
//! (`extension-definition--f8d78575-edfd-406e-8e84-6162a8450f5b`, cti-stix-common-objects
//! `extension-definition-specifications/pap-marking-definition-f8d`); its legacy
//! `PAP:WHITE` maps to `PAP:CLEAR`.

use serde_json::Value;

// The TLP 1.0 and 2.0 marking-definition ids and the TLP 2.0 levels are the STIX crate's
// (one definition of each for the whole workspace).
pub use stix::markings::{
    Tlp, TLP1_AMBER, TLP1_GREEN, TLP1_RED, TLP1_WHITE, TLP2_AMBER, TLP2_AMBER_STRICT, TLP2_CLEAR,
    TLP2_EXTENSION_ID, TLP2_GREEN, TLP2_RED,
};

/// The PAP extension definition.
pub const PAP_EXTENSION_ID: &str = "extension-definition--f8d78575-edfd-406e-8e84-6162a8450f5b";
pub const PAP_CLEAR: &str = "marking-definition--ad15a0cd-55b6-4588-a14c-a66105329b92";
pub const PAP_GREEN: &str = "marking-definition--c43594d1-4b11-4c59-93ab-1c9b14d53ce9";
pub const PAP_AMBER: &str = "marking-definition--60f8932b-e51e-4458-b265-a2e8be9a80ab";
pub const PAP_RED: &str = "marking-definition--740d36e5-7714-4c30-961a-3ae632ceee0e";
/// Legacy `PAP:WHITE` of the same extension; read as `PAP:CLEAR`.
pub const PAP_WHITE: &str = "marking-definition--a3bea94c-b469-41dc-9cfe-d6e7daba7730";

/// A PAP level (Permissible Actions Protocol), ordered from least to most restrictive.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Pap {
    Clear,
    Green,
    Amber,
    Red,
}

impl Pap {
    pub const ALL: [Pap; 4] = [Pap::Clear, Pap::Green, Pap::Amber, Pap::Red];

    pub fn label(self) -> &'static str {
        match self {
            Pap::Clear => "PAP:CLEAR",
            Pap::Green => "PAP:GREEN",
            Pap::Amber => "PAP:AMBER",
            Pap::Red => "PAP:RED",
        }
    }

    /// The official marking-definition id of the OASIS PAP extension.
    pub fn marking_id(self) -> &'static str {
        match self {
            Pap::Clear => PAP_CLEAR,
            Pap::Green => PAP_GREEN,
            Pap::Amber => PAP_AMBER,
            Pap::Red => PAP_RED,
        }
    }

    /// The PAP level a marking-definition id stands for (`PAP:WHITE` reads as CLEAR).
    pub fn from_marking_id(id: &str) -> Option<Pap> {
        Some(match id {
            PAP_CLEAR | PAP_WHITE => Pap::Clear,
            PAP_GREEN => Pap::Green,
            PAP_AMBER => Pap::Amber,
            PAP_RED => Pap::Red,
            _ => return None,
        })
    }
}

/// The object-level marking of an object as the policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectiveMarking {
    /// The most restrictive TLP among `object_marking_refs`, or the node default.
    pub tlp: Tlp,
    /// `true` when the TLP came from the node default (no TLP marking on the object).
    pub tlp_defaulted: bool,
    /// The most restrictive PAP among `object_marking_refs`, if any.
    pub pap: Option<Pap>,
}

/// The marking ids listed in `object_marking_refs` (non-strings are ignored here; the
/// `stix` validator reports them).
pub fn object_marking_refs(object: &stix::Object) -> impl Iterator<Item = &str> + Clone {
    object
        .get("object_marking_refs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// The most restrictive TLP in a list of marking ids, if any is a TLP marking.
pub fn max_tlp<'a>(ids: impl IntoIterator<Item = &'a str>) -> Option<Tlp> {
    ids.into_iter().filter_map(Tlp::from_marking_id).max()
}

/// The most restrictive PAP in a list of marking ids, if any is a PAP marking.
pub fn max_pap<'a>(ids: impl IntoIterator<Item = &'a str>) -> Option<Pap> {
    ids.into_iter().filter_map(Pap::from_marking_id).max()
}

/// The effective object-level marking: the most restrictive TLP among the object's
/// `object_marking_refs` (1.0 ids mapped to 2.0), or `default_tlp` when it has none;
/// and the most restrictive PAP, if any.
///
/// A `marking-definition` that is itself a TLP or PAP definition is always CLEAR: the
/// definitions are public by nature (everyone must be able to resolve the refs).
pub fn effective_marking(object: &stix::Object, default_tlp: Tlp) -> EffectiveMarking {
    effective_marking_of(
        object.type_name(),
        object.id(),
        object_marking_refs(object),
        default_tlp,
    )
}

/// [`effective_marking`] from the parts it depends on: the object's type, id and the
/// ids in its `object_marking_refs`.
pub fn effective_marking_of<'a>(
    type_name: &str,
    id: &str,
    refs: impl IntoIterator<Item = &'a str> + Clone,
    default_tlp: Tlp,
) -> EffectiveMarking {
    if type_name == "marking-definition"
        && (Tlp::from_marking_id(id).is_some() || Pap::from_marking_id(id).is_some())
    {
        return EffectiveMarking {
            tlp: Tlp::Clear,
            tlp_defaulted: false,
            pap: None,
        };
    }
    let tlp = max_tlp(refs.clone());
    EffectiveMarking {
        tlp: tlp.unwrap_or(default_tlp),
        tlp_defaulted: tlp.is_none(),
        pap: max_pap(refs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(refs: &[&str]) -> stix::Object {
        stix::Object::from_value(json!({
            "type": "indicator", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "object_marking_refs": refs,
        }))
        .unwrap()
    }

    #[test]
    fn tlp1_ids_map_to_tlp2() {
        assert_eq!(Tlp::from_marking_id(TLP1_WHITE), Some(Tlp::Clear));
        assert_eq!(Tlp::from_marking_id(TLP1_GREEN), Some(Tlp::Green));
        assert_eq!(Tlp::from_marking_id(TLP1_AMBER), Some(Tlp::Amber));
        assert_eq!(Tlp::from_marking_id(TLP1_RED), Some(Tlp::Red));
        for t in Tlp::ALL {
            assert_eq!(Tlp::from_marking_id(t.marking_id()), Some(t));
        }
        assert_eq!(Tlp::from_marking_id(PAP_RED), None);
    }

    #[test]
    fn most_restrictive_wins_and_default_applies() {
        let m = effective_marking(&obj(&[TLP2_GREEN, TLP1_RED, TLP2_AMBER]), Tlp::Amber);
        assert_eq!(m.tlp, Tlp::Red);
        assert!(!m.tlp_defaulted);
        let m = effective_marking(&obj(&[TLP1_WHITE]), Tlp::Amber);
        assert_eq!(m.tlp, Tlp::Clear);
        let m = effective_marking(&obj(&[]), Tlp::Amber);
        assert_eq!((m.tlp, m.tlp_defaulted), (Tlp::Amber, true));
        let m = effective_marking(&obj(&[PAP_RED]), Tlp::Green);
        assert_eq!((m.tlp, m.pap), (Tlp::Green, Some(Pap::Red)));
        let m = effective_marking(&obj(&[PAP_WHITE, PAP_AMBER, TLP2_CLEAR]), Tlp::Red);
        assert_eq!((m.tlp, m.pap), (Tlp::Clear, Some(Pap::Amber)));
    }

    #[test]
    fn tlp_definitions_are_public() {
        let def = stix::Object::from_value(json!({
            "type": "marking-definition", "id": TLP2_RED, "name": "TLP:RED"
        }))
        .unwrap();
        assert_eq!(effective_marking(&def, Tlp::Red).tlp, Tlp::Clear);
    }

    #[test]
    fn order_is_restrictiveness() {
        assert!(Tlp::Clear < Tlp::Green && Tlp::Green < Tlp::Amber);
        assert!(Tlp::Amber < Tlp::AmberStrict && Tlp::AmberStrict < Tlp::Red);
        assert!(Pap::Amber < Pap::Red);
        assert_eq!(
            serde_json::to_string(&Tlp::AmberStrict).unwrap(),
            "\"amber+strict\""
        );
    }
}
