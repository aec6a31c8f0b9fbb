//! Anonymised sightings.
//!
//! An anonymised sighting keeps what was seen and when (`sighting_of_ref`, `first_seen`,
//! `last_seen`, `summary`, …) and drops who saw it: `where_sighted_refs`,
//! `created_by_ref` and `observed_data_refs` are removed, and `count` is rounded up
//! with [`round_count`].

use serde_json::Value;

/// The largest `count` STIX 2.1 allows.
pub const MAX_COUNT: u64 = 999_999_999;

/// Rounds a sighting count up to the next value of the 1-2-5 series (1, 2, 5, 10, 20,
/// 50, 100, …), capped at STIX's maximum 999 999 999. 0 stays 0; any positive count stays
/// positive (a sighting never disappears by rounding). Examples: 3→5, 7→10, 10→10,
/// 11→20, 51→100, 600→1000.
pub fn round_count(count: u64) -> u64 {
    if count == 0 {
        return 0;
    }
    let mut decade: u64 = 1;
    loop {
        for step in [1u64, 2, 5] {
            let v = decade.saturating_mul(step);
            if v >= count {
                return v.min(MAX_COUNT);
            }
        }
        if decade > MAX_COUNT {
            return MAX_COUNT;
        }
        decade = decade.saturating_mul(10);
    }
}

/// Anonymises a sighting in place (no-op for other types).
pub fn anonymise_sighting(object: &mut stix::Object) {
    if object.type_name() != "sighting" {
        return;
    }
    let map = object.as_map_mut();
    for key in ["where_sighted_refs", "created_by_ref", "observed_data_refs"] {
        map.shift_remove(key);
    }
    if let Some(n) = map.get("count").and_then(Value::as_u64) {
        map.insert("count".to_owned(), Value::from(round_count(n)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rounding_rule() {
        let cases = [
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 5),
            (5, 5),
            (6, 10),
            (10, 10),
            (11, 20),
            (21, 50),
            (51, 100),
            (600, 1000),
            (999_999_999, 999_999_999),
            (500_000_001, 999_999_999),
        ];
        for (n, want) in cases {
            assert_eq!(round_count(n), want, "{n}");
        }
        for n in 1..5000 {
            let r = round_count(n);
            assert!(r >= n && r <= n * 5 / 2 + 1, "{n} -> {r}");
        }
    }

    #[test]
    fn anonymises() {
        let mut o = stix::Object::from_value(json!({
            "type": "sighting", "spec_version": "2.1", "id": "sighting--1",
            "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
            "created_by_ref": "identity--b", "sighting_of_ref": "indicator--1",
            "where_sighted_refs": ["identity--b"], "observed_data_refs": ["observed-data--1"],
            "count": 37
        }))
        .unwrap();
        anonymise_sighting(&mut o);
        assert_eq!(
            o.to_value(),
            json!({
                "type": "sighting", "spec_version": "2.1", "id": "sighting--1",
                "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
                "sighting_of_ref": "indicator--1", "count": 50
            })
        );
    }
}
