//! Validation of whole STIX objects including their pattern: [`stix::validate`] checks
//! the specification's MUSTs but leaves the pattern grammar to this crate, while the
//! OASIS validator parses `pattern`. Every ingest path (import, TAXII POST, TAXII pull)
//! calls [`validate_object`] so they agree with it on indicators too.

use serde_json::Value;
use stix::ValidationError;

/// [`stix::validate`] plus, for an indicator whose `pattern_type` is `stix`, a parse of
/// its `pattern` (error code `invalid-pattern`, pointer `/pattern`, the column in the
/// message).
pub fn validate_object(value: &Value) -> Vec<ValidationError> {
    let mut errors = stix::validate(value);
    if let Some(e) = check_pattern(value) {
        errors.push(e);
    }
    errors
}

/// The pattern error of an indicator, if it has one.
pub fn check_pattern(value: &Value) -> Option<ValidationError> {
    let obj = value.as_object()?;
    if obj.get("type").and_then(Value::as_str) != Some("indicator")
        || obj.get("pattern_type").and_then(Value::as_str) != Some("stix")
    {
        return None;
    }
    let text = obj.get("pattern").and_then(Value::as_str)?;
    let err = crate::parse(text).err()?;
    Some(ValidationError {
        code: "invalid-pattern",
        object_id: obj.get("id").and_then(Value::as_str).map(str::to_owned),
        pointer: "/pattern".to_owned(),
        message: format!("the STIX pattern is invalid: {err}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn indicator(pattern: &str) -> Value {
        json!({"type": "indicator", "spec_version": "2.1",
            "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "created": "2016-04-06T20:03:48.000Z", "modified": "2016-04-06T20:03:48.000Z",
            "pattern": pattern, "pattern_type": "stix", "valid_from": "2016-04-06T20:03:48.000Z"})
    }

    #[test]
    fn valid_pattern_adds_nothing() {
        assert!(validate_object(&indicator("[ipv4-addr:value = '198.51.100.1']")).is_empty());
    }

    #[test]
    fn broken_pattern_is_reported_at_pattern() {
        let errors = validate_object(&indicator("[ipv4-addr:value = '198.51.100.1'"));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].code, "invalid-pattern");
        assert_eq!(errors[0].pointer, "/pattern");
        assert!(
            errors[0].message.contains("column"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn other_pattern_languages_are_not_parsed() {
        let mut v = indicator("alert tcp any any -> any any (msg:\"x\";)");
        v["pattern_type"] = json!("snort");
        assert!(validate_object(&v).is_empty());
    }
}
