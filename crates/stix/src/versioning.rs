//! Versioning rules (STIX 2.1 §3.6).
//!
//! A version of an SDO, SRO, language-content or extension-definition is
//! identified by `(id, modified)`. A successor keeps `id`, `type`, `created` and
//! `created_by_ref`, and has a strictly greater `modified`. A revoked object is
//! final: nothing may follow it. Marking definitions are never versioned, and
//! SCOs have no versions (they carry no `modified`).

use crate::object::Object;
use crate::registry::{self, Kind};
use crate::timestamp::Timestamp;
use serde_json::Value;

/// Why one object cannot be a new version of another.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("marking definitions are never versioned ({id})")]
    MarkingDefinition { id: String },
    #[error("cyber-observable objects have no versions ({id})")]
    Observable { id: String },
    #[error("a new version must keep the id: {prev} became {next}")]
    IdChanged { prev: String, next: String },
    #[error("a new version must keep the type: {prev} became {next}")]
    TypeChanged { prev: String, next: String },
    #[error("a new version of {id} must keep 'created' ({prev}), found {next}")]
    CreatedChanged {
        id: String,
        prev: String,
        next: String,
    },
    #[error("a new version of {id} must keep 'created_by_ref'")]
    CreatorChanged { id: String },
    #[error("{id} has no valid 'modified' timestamp")]
    MissingModified { id: String },
    #[error("a new version of {id} must have 'modified' later than {prev}, found {next}")]
    NotNewer {
        id: String,
        prev: String,
        next: String,
    },
    #[error("{id} is revoked; a revoked object is final and cannot have new versions")]
    Revoked { id: String },
}

impl VersionError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            VersionError::MarkingDefinition { .. } => "marking-definition-not-versioned",
            VersionError::Observable { .. } => "sco-not-versioned",
            VersionError::IdChanged { .. } => "version-id-changed",
            VersionError::TypeChanged { .. } => "version-type-changed",
            VersionError::CreatedChanged { .. } => "version-created-changed",
            VersionError::CreatorChanged { .. } => "version-creator-changed",
            VersionError::MissingModified { .. } => "version-missing-modified",
            VersionError::NotNewer { .. } => "version-not-newer",
            VersionError::Revoked { .. } => "version-after-revoked",
        }
    }
}

/// What identifies one version of an object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VersionKey {
    pub id: String,
    pub modified: Timestamp,
}

/// The version key of a versioned object; `None` for SCOs, marking definitions and
/// objects without a valid `modified`.
pub fn version_key(obj: &Object) -> Option<VersionKey> {
    if !is_versioned_type(obj.type_name()) {
        return None;
    }
    Some(VersionKey {
        id: obj.id().to_owned(),
        modified: obj.modified()?,
    })
}

/// Whether objects of this type have versions. Custom types are versioned when
/// they are not SCOs (i.e. they carry `created`/`modified`).
pub fn is_versioned_type(type_name: &str) -> bool {
    match registry::kind_of(type_name) {
        Some(Kind::Sco) | Some(Kind::Bundle) => false,
        Some(_) => type_name != "marking-definition",
        None => true,
    }
}

fn check_versionable(obj: &Object) -> Result<Timestamp, VersionError> {
    let id = || obj.id().to_owned();
    match obj.type_name() {
        "marking-definition" => return Err(VersionError::MarkingDefinition { id: id() }),
        t if registry::kind_of(t) == Some(Kind::Sco) => {
            return Err(VersionError::Observable { id: id() })
        }
        _ => {}
    }
    obj.modified()
        .ok_or_else(|| VersionError::MissingModified { id: id() })
}

/// Checks that `next` may follow `prev` as a newer version of the same object.
pub fn check_successor(prev: &Object, next: &Object) -> Result<(), VersionError> {
    if prev.id() != next.id() {
        return Err(VersionError::IdChanged {
            prev: prev.id().into(),
            next: next.id().into(),
        });
    }
    if prev.type_name() != next.type_name() {
        return Err(VersionError::TypeChanged {
            prev: prev.type_name().into(),
            next: next.type_name().into(),
        });
    }
    let prev_modified = check_versionable(prev)?;
    let next_modified = check_versionable(next)?;
    let id = prev.id().to_owned();
    if prev.is_revoked() {
        return Err(VersionError::Revoked { id });
    }
    let text = |o: &Object, k: &str| {
        o.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    if prev.created() != next.created() {
        return Err(VersionError::CreatedChanged {
            id,
            prev: text(prev, "created"),
            next: text(next, "created"),
        });
    }
    if prev.get("created_by_ref") != next.get("created_by_ref") {
        return Err(VersionError::CreatorChanged { id });
    }
    if next_modified <= prev_modified {
        return Err(VersionError::NotNewer {
            id,
            prev: prev_modified.to_string(),
            next: next_modified.to_string(),
        });
    }
    Ok(())
}

/// A new version of `obj` with `modified` set (at millisecond precision or
/// better, as written). Fails when `obj` cannot be versioned or `modified` is not
/// later than the current one.
pub fn new_version(obj: &Object, modified: Timestamp) -> Result<Object, VersionError> {
    let current = check_versionable(obj)?;
    if obj.is_revoked() {
        return Err(VersionError::Revoked {
            id: obj.id().to_owned(),
        });
    }
    let modified = if modified.precision() < 3 {
        modified.with_precision(3)
    } else {
        modified
    };
    if modified <= current {
        return Err(VersionError::NotNewer {
            id: obj.id().to_owned(),
            prev: current.to_string(),
            next: modified.to_string(),
        });
    }
    let mut next = obj.clone();
    next.as_map_mut()
        .insert("modified".into(), Value::String(modified.to_string()));
    Ok(next)
}

/// The revoked (final) version of `obj`, with `modified` set to `at`, or to one
/// millisecond after the current `modified` when `at` is not later.
pub fn revoke_at(obj: &Object, at: Timestamp) -> Result<Object, VersionError> {
    let current = check_versionable(obj)?;
    let floor = Timestamp::from_unix_millis(current.unix_nanos().div_euclid(1_000_000) as i64 + 1);
    let modified = if at > current {
        at.with_precision(at.precision().max(3))
    } else {
        floor
    };
    let mut next = new_version(obj, modified)?;
    next.as_map_mut()
        .insert("revoked".into(), Value::Bool(true));
    Ok(next)
}

/// The revoked (final) version of `obj`, modified now.
pub fn revoke(obj: &Object) -> Result<Object, VersionError> {
    revoke_at(obj, Timestamp::now_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        Object::from_value(v).unwrap()
    }
    fn campaign(modified: &str) -> Object {
        obj(json!({"type": "campaign", "spec_version": "2.1",
            "id": "campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "created": "2016-04-06T20:03:00.000Z", "modified": modified, "name": "Green Group Attacks"}))
    }

    #[test]
    fn successor_must_be_strictly_newer() {
        let a = campaign("2016-04-06T20:03:00.000Z");
        let b = campaign("2016-04-06T20:03:00.001Z");
        assert_eq!(check_successor(&a, &b), Ok(()));
        assert_eq!(
            check_successor(&b, &a).unwrap_err().code(),
            "version-not-newer"
        );
        assert_eq!(
            check_successor(&a, &a).unwrap_err().code(),
            "version-not-newer"
        );
        assert_eq!(
            version_key(&a).unwrap().modified.to_string(),
            "2016-04-06T20:03:00.000Z"
        );
    }

    #[test]
    fn identity_of_the_object_must_not_change() {
        let a = campaign("2016-04-06T20:03:00.000Z");
        let mut b = campaign("2016-04-07T00:00:00.000Z");
        b.as_map_mut()
            .insert("created".into(), json!("2016-04-06T20:03:00.500Z"));
        assert_eq!(
            check_successor(&a, &b).unwrap_err().code(),
            "version-created-changed"
        );
        let mut c = campaign("2016-04-07T00:00:00.000Z");
        c.as_map_mut().insert(
            "created_by_ref".into(),
            json!("identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"),
        );
        assert_eq!(
            check_successor(&a, &c).unwrap_err().code(),
            "version-creator-changed"
        );
        let mut d = campaign("2016-04-07T00:00:00.000Z");
        d.as_map_mut().insert(
            "id".into(),
            json!("campaign--00000000-0000-4000-8000-000000000000"),
        );
        assert_eq!(
            check_successor(&a, &d).unwrap_err().code(),
            "version-id-changed"
        );
    }

    #[test]
    fn revoked_is_final() {
        let a = campaign("2016-04-06T20:03:00.000Z");
        let r = revoke_at(&a, Timestamp::parse("2016-04-06T20:03:00.000Z").unwrap()).unwrap();
        assert!(r.is_revoked());
        assert_eq!(r.get("modified"), Some(&json!("2016-04-06T20:03:00.001Z")));
        assert_eq!(check_successor(&a, &r), Ok(()));
        let later = new_version(&a, Timestamp::parse("2017-01-01T00:00:00Z").unwrap()).unwrap();
        assert_eq!(
            later.get("modified"),
            Some(&json!("2017-01-01T00:00:00.000Z"))
        );
        assert_eq!(
            check_successor(&r, &later).unwrap_err().code(),
            "version-after-revoked"
        );
        assert_eq!(
            new_version(&r, Timestamp::parse("2030-01-01T00:00:00.000Z").unwrap())
                .unwrap_err()
                .code(),
            "version-after-revoked"
        );
        assert!(crate::validate(&r.to_value()).is_empty());
        assert!(revoke(&a).unwrap().is_revoked());
    }

    #[test]
    fn markings_and_scos_are_not_versioned() {
        let m = obj(crate::markings::Tlp::Green.marking_definition());
        assert_eq!(version_key(&m), None);
        let ts = Timestamp::parse("2030-01-01T00:00:00.000Z").unwrap();
        assert_eq!(
            new_version(&m, ts).unwrap_err().code(),
            "marking-definition-not-versioned"
        );
        let s = obj(
            json!({"type": "ipv4-addr", "id": "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4", "value": "198.51.100.3"}),
        );
        assert_eq!(version_key(&s), None);
        assert_eq!(
            check_successor(&s, &s).unwrap_err().code(),
            "sco-not-versioned"
        );
    }
}
