//! Validation of STIX 2.1 objects against the specification's MUST requirements.
//!
//! [`validate`] checks one object and returns every problem found (an empty vector
//! means the object is valid). [`validate_bundle`] checks a bundle and each object
//! in it. Each [`ValidationError`] carries a stable `code`, the object's id (when
//! it has a usable one), an RFC 6901 JSON pointer relative to the object, and one
//! sentence saying what is wrong.
//!
//! The shapes of the types come from [`crate::registry`]; the rules that relate
//! several properties (one-of, ordering, mutual exclusion) are in this module.
//!
//! *Invariant*: validation never panics and never fails for reasons outside its
//! input; it allocates only when it reports an error.

use crate::registry::{self, ExtensionDef, Format, Kind, Prop, Targets, TypeDef, Val};
use crate::timestamp::Timestamp;
use crate::vocab;
use serde_json::{Map, Value};
use std::fmt;

/// One violation of the specification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ValidationError {
    /// Stable machine-readable code, e.g. `required-property-missing`.
    pub code: &'static str,
    /// The id of the offending object, when it has a string `id`.
    pub object_id: Option<String>,
    /// RFC 6901 JSON pointer relative to the object (`""` is the object itself).
    pub pointer: String,
    /// One sentence saying what is wrong.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.object_id.as_deref().unwrap_or("<no id>");
        let ptr = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{id} at {ptr}: {} [{}]", self.message, self.code)
    }
}

/// Stable error codes. Each is documented in `crates/stix/README.md`.
pub mod codes {
    pub const NOT_AN_OBJECT: &str = "not-an-object";
    pub const REQUIRED_PROPERTY_MISSING: &str = "required-property-missing";
    pub const WRONG_VALUE_KIND: &str = "wrong-value-kind";
    pub const INVALID_TYPE_NAME: &str = "invalid-type-name";
    pub const INVALID_ID: &str = "invalid-id";
    pub const ID_TYPE_MISMATCH: &str = "id-type-mismatch";
    pub const SCO_ID_MUST_BE_UUID4: &str = "sco-id-must-be-uuid4";
    pub const INVALID_PROPERTY_NAME: &str = "invalid-property-name";
    pub const RESERVED_PROPERTY: &str = "reserved-property";
    pub const INVALID_TIMESTAMP: &str = "invalid-timestamp";
    pub const TIMESTAMP_PRECISION: &str = "timestamp-precision";
    pub const MODIFIED_BEFORE_CREATED: &str = "modified-before-created";
    pub const TIMESTAMP_ORDER: &str = "timestamp-order";
    pub const INVALID_REFERENCE: &str = "invalid-reference";
    pub const REFERENCE_TYPE_NOT_ALLOWED: &str = "reference-type-not-allowed";
    pub const NOT_IN_ENUMERATION: &str = "value-not-in-enumeration";
    pub const EMPTY_LIST: &str = "empty-list";
    pub const EMPTY_DICTIONARY: &str = "empty-dictionary";
    pub const INVALID_DICTIONARY_KEY: &str = "invalid-dictionary-key";
    pub const INTEGER_OUT_OF_RANGE: &str = "integer-out-of-range";
    pub const NUMBER_OUT_OF_RANGE: &str = "number-out-of-range";
    pub const INVALID_FORMAT: &str = "invalid-format";
    pub const INVALID_HASH: &str = "invalid-hash";
    pub const INVALID_SELECTOR: &str = "invalid-granular-marking-selector";
    pub const INVALID_GRANULAR_MARKING: &str = "invalid-granular-marking";
    pub const INVALID_EXTENSION_KEY: &str = "invalid-extension-key";
    pub const MISSING_ONE_OF: &str = "missing-one-of";
    pub const MUTUALLY_EXCLUSIVE: &str = "mutually-exclusive-properties";
    pub const DEPENDENT_PROPERTY: &str = "dependent-property-missing";
    pub const INVALID_EXTERNAL_REFERENCE: &str = "invalid-external-reference";
    pub const INVALID_MARKING_DEFINITION: &str = "invalid-marking-definition";
    pub const CIRCULAR_MARKING_REFERENCE: &str = "circular-marking-reference";
    pub const INVALID_LANGUAGE_CONTENT: &str = "invalid-language-content";
    pub const INVALID_BUNDLE: &str = "invalid-bundle";
}
use codes as c;

/// The index reported with errors that concern the bundle itself, not one of its
/// objects (see [`validate_bundle`]).
pub const BUNDLE_ITSELF: usize = usize::MAX;

/// Properties that STIX 2.1 reserves and that MUST NOT be used (§3.2, §6.1, §4.3).
const RESERVED_PROPERTIES: &[&str] = &["severity", "action", "username", "phone_numbers"];

/// Validates one STIX object. An empty vector means it is valid.
pub fn validate(value: &Value) -> Vec<ValidationError> {
    let mut cx = Cx::new();
    let Value::Object(map) = value else {
        cx.err(
            c::NOT_AN_OBJECT,
            format!(
                "a STIX object must be a JSON object, found {}",
                kind_name(value)
            ),
        );
        return cx.out;
    };
    cx.id = map.get("id").and_then(Value::as_str);
    validate_object(&mut cx, map);
    cx.out
}

/// Validates one STIX object given as a JSON map (e.g. [`crate::Object::as_map`]).
pub fn validate_map(map: &Map<String, Value>) -> Vec<ValidationError> {
    let mut cx = Cx::new();
    cx.id = map.get("id").and_then(Value::as_str);
    validate_object(&mut cx, map);
    cx.out
}

/// Validates a bundle and every object in it. Errors about object `i` come as
/// `(i, error)` with pointers relative to that object; errors about the bundle
/// itself come with index [`BUNDLE_ITSELF`] and pointers relative to the bundle.
pub fn validate_bundle(value: &Value) -> Vec<(usize, ValidationError)> {
    let mut out = Vec::new();
    let Value::Object(map) = value else {
        let mut cx = Cx::new();
        cx.err(
            c::NOT_AN_OBJECT,
            format!("a bundle must be a JSON object, found {}", kind_name(value)),
        );
        return cx.out.into_iter().map(|e| (BUNDLE_ITSELF, e)).collect();
    };
    let mut cx = Cx::new();
    cx.id = map.get("id").and_then(Value::as_str);
    match map.get("type") {
        Some(Value::String(t)) if t == "bundle" => {}
        Some(Value::String(t)) => cx.at("type", |cx| {
            cx.err(
                c::INVALID_BUNDLE,
                format!("a bundle's type must be \"bundle\", found {t:?}"),
            )
        }),
        Some(v) => cx.at("type", |cx| cx.wrong_kind("a string", v)),
        None => cx.at("type", |cx| {
            cx.err(
                c::REQUIRED_PROPERTY_MISSING,
                "required property 'type' is missing".into(),
            )
        }),
    }
    match map.get("id") {
        Some(Value::String(id)) => cx.at("id", |cx| check_id(cx, id, Some("bundle"))),
        Some(v) => cx.at("id", |cx| cx.wrong_kind("a string", v)),
        None => cx.at("id", |cx| {
            cx.err(
                c::REQUIRED_PROPERTY_MISSING,
                "required property 'id' is missing".into(),
            )
        }),
    }
    let mut objects: &[Value] = &[];
    match map.get("objects") {
        None => {}
        Some(Value::Array(items)) if items.is_empty() => cx.at("objects", |cx| {
            cx.err(
                c::EMPTY_LIST,
                "'objects' must not be an empty list; omit it instead".into(),
            )
        }),
        Some(Value::Array(items)) => objects = items,
        Some(v) => cx.at("objects", |cx| cx.wrong_kind("a list", v)),
    }
    out.extend(cx.out.into_iter().map(|e| (BUNDLE_ITSELF, e)));
    for (i, obj) in objects.iter().enumerate() {
        out.extend(validate(obj).into_iter().map(|e| (i, e)));
    }
    out
}

// ---------------------------------------------------------------------------
// Context: the current JSON pointer and the collected errors.

#[derive(Debug, Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

struct Cx<'a> {
    id: Option<&'a str>,
    path: Vec<Seg<'a>>,
    out: Vec<ValidationError>,
}

impl<'a> Cx<'a> {
    fn new() -> Self {
        Cx {
            id: None,
            path: Vec::with_capacity(8),
            out: Vec::new(),
        }
    }
    fn pointer(&self) -> String {
        let mut p = String::new();
        for seg in &self.path {
            p.push('/');
            match seg {
                Seg::Key(k) => {
                    for ch in k.chars() {
                        match ch {
                            '~' => p.push_str("~0"),
                            '/' => p.push_str("~1"),
                            _ => p.push(ch),
                        }
                    }
                }
                Seg::Index(i) => p.push_str(&i.to_string()),
            }
        }
        p
    }
    fn err(&mut self, code: &'static str, message: String) {
        self.out.push(ValidationError {
            code,
            object_id: self.id.map(str::to_owned),
            pointer: self.pointer(),
            message,
        });
    }
    fn wrong_kind(&mut self, expected: &str, found: &Value) {
        let name = self.last_name();
        self.err(
            c::WRONG_VALUE_KIND,
            format!("{name} must be {expected}, found {}", kind_name(found)),
        );
    }
    /// A readable name for the current location, for messages.
    fn last_name(&self) -> String {
        match self.path.last() {
            Some(Seg::Key(k)) => format!("'{k}'"),
            Some(Seg::Index(i)) => format!("item {i}"),
            None => "the object".to_owned(),
        }
    }
    fn at(&mut self, key: &'a str, f: impl FnOnce(&mut Self)) {
        self.path.push(Seg::Key(key));
        f(self);
        self.path.pop();
    }
    fn at_index(&mut self, i: usize, f: impl FnOnce(&mut Self)) {
        self.path.push(Seg::Index(i));
        f(self);
        self.path.pop();
    }
    fn missing(&mut self, name: &str, what: &str) {
        // Point at the missing property itself.
        let mut ptr = self.pointer();
        ptr.push('/');
        ptr.push_str(&name.replace('~', "~0").replace('/', "~1"));
        self.out.push(ValidationError {
            code: c::REQUIRED_PROPERTY_MISSING,
            object_id: self.id.map(str::to_owned),
            pointer: ptr,
            message: format!("required property '{name}' is missing from {what}"),
        });
    }
}

fn kind_name(v: &Value) -> &'static str {
    crate::object::json_kind(v)
}

// ---------------------------------------------------------------------------
// Objects.

fn validate_object<'a>(cx: &mut Cx<'a>, map: &'a Map<String, Value>) {
    let type_name = match map.get("type") {
        Some(Value::String(t)) => {
            if let Err(why) = check_type_name(t) {
                cx.at("type", |cx| {
                    cx.err(
                        c::INVALID_TYPE_NAME,
                        format!("type {t:?} is not a valid STIX type name: {why}"),
                    )
                });
            }
            Some(t.as_str())
        }
        Some(v) => {
            cx.at("type", |cx| cx.wrong_kind("a string", v));
            None
        }
        None => {
            cx.missing("type", "the object");
            None
        }
    };
    let def = type_name.and_then(registry::lookup);
    let kind = match def {
        Some(d) => d.kind,
        None => custom_kind(map),
    };
    if kind == Kind::Bundle {
        // A bundle nested where an object is expected.
        cx.err(
            c::INVALID_BUNDLE,
            "a bundle is not a STIX object and cannot appear here".into(),
        );
        return;
    }
    let type_label = type_name.unwrap_or_default();
    let what = || match type_label {
        "" => "the object".to_owned(),
        t => format!("a {t} object"),
    };

    // One pass over the properties: check each, remember which defined ones were
    // seen (bit i = i-th of specific ++ common), and pick out the few that later
    // rules need, so that no property is looked up by hashing twice.
    let common = registry::common_props(kind);
    let specific: &[Prop] = def.map_or(&[], |d| d.props);
    let mut seen: u64 = 0;
    let mut has_id = false;
    let (mut created, mut modified, mut extensions, mut granular) = (None, None, None, None);
    for (key, value) in map {
        match key.as_str() {
            "type" => continue,
            "id" => {
                has_id = true;
                match value {
                    Value::String(id) => cx.at("id", |cx| check_id(cx, id, type_name)),
                    v => cx.at("id", |cx| cx.wrong_kind("a string", v)),
                }
                continue;
            }
            "created" => created = Some(value),
            "modified" => modified = Some(value),
            "extensions" => extensions = Some(value),
            "granular_markings" => granular = Some(value),
            _ => {}
        }
        let pos = specific
            .iter()
            .position(|p| p.name == key.as_str())
            .or_else(|| {
                common
                    .iter()
                    .position(|p| p.name == key.as_str())
                    .map(|i| i + specific.len())
            });
        match pos {
            Some(i) => {
                if i < 64 {
                    seen |= 1 << i;
                }
                let p = specific
                    .get(i)
                    .unwrap_or_else(|| &common[i - specific.len()]);
                cx.at(key, |cx| check_value(cx, &p.val, value));
            }
            None if RESERVED_PROPERTIES.contains(&key.as_str()) => cx.at(key, |cx| {
                cx.err(
                    c::RESERVED_PROPERTY,
                    format!("'{key}' is reserved by STIX 2.1 and must not be used"),
                )
            }),
            None => {
                if let Err(why) = check_property_name(key) {
                    cx.at(key, |cx| {
                        cx.err(
                            c::INVALID_PROPERTY_NAME,
                            format!("custom property name {key:?} is invalid: {why}"),
                        )
                    });
                }
            }
        }
    }
    if !has_id {
        cx.missing("id", &what());
    }
    for (i, p) in specific.iter().chain(common).enumerate() {
        let present = if i < 64 {
            seen & (1 << i) != 0
        } else {
            map.contains_key(p.name)
        };
        if p.required && !present && p.name != "id" && p.name != "type" {
            cx.missing(p.name, &what());
        }
    }

    if kind != Kind::Sco {
        let ts = |v: Option<&Value>| {
            v.and_then(Value::as_str)
                .and_then(|s| Timestamp::parse(s).ok())
        };
        if let (Some(c), Some(m)) = (ts(created), ts(modified)) {
            if m < c {
                cx.at("modified", |cx| {
                    cx.err(
                        c::MODIFIED_BEFORE_CREATED,
                        "'modified' must be the same as or later than 'created'".into(),
                    )
                });
            }
        }
    }
    if let Some(ext) = extensions {
        cx.at("extensions", |cx| check_extensions(cx, def, ext));
    }
    if let Some(Value::Array(gms)) = granular {
        cx.at("granular_markings", |cx| check_selectors(cx, map, gms));
    }
    rules(cx, type_name.unwrap_or(""), def, map);
}

/// Kind of a type that is not in the specification. An extension with
/// `extension_type` `new-sco` / `new-sro` / `new-sdo` decides; otherwise an object
/// with `created` is treated as a custom SDO and one without as a custom SCO.
fn custom_kind(map: &Map<String, Value>) -> Kind {
    if let Some(Value::Object(exts)) = map.get("extensions") {
        for ext in exts.values() {
            match ext.get("extension_type").and_then(Value::as_str) {
                Some("new-sco") => return Kind::Sco,
                Some("new-sro") => return Kind::Sro,
                Some("new-sdo") => return Kind::Sdo,
                _ => {}
            }
        }
    }
    if map.contains_key("created") {
        Kind::Sdo
    } else {
        Kind::Sco
    }
}

/// Type names: a-z, 0-9, '-'; no "--"; 3..=250 characters (§3.1 / §11.1).
pub fn check_type_name(t: &str) -> Result<(), &'static str> {
    if t.len() < 3 {
        return Err("it must be at least 3 characters long");
    }
    if t.len() > 250 {
        return Err("it must be at most 250 characters long");
    }
    if !t
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err("only a-z, 0-9 and '-' are allowed");
    }
    if t.contains("--") {
        return Err("it must not contain two hyphens in a row");
    }
    Ok(())
}

/// Property names: a letter first, then a-z, 0-9, '_'; 3..=250 characters (§3.1 / §11.1).
pub fn check_property_name(name: &str) -> Result<(), &'static str> {
    if !name.starts_with(|ch: char| ch.is_ascii_lowercase()) {
        return Err("it must begin with a lowercase letter");
    }
    if name.len() < 3 {
        return Err("it must be at least 3 characters long");
    }
    if name.len() > 250 {
        return Err("it must be at most 250 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err("only a-z, 0-9 and '_' are allowed");
    }
    Ok(())
}

/// Splits an identifier `type--uuid`, checking the UUID is RFC 4122 (versions 1-5,
/// variant 10xx). Returns the type part.
pub fn parse_identifier(id: &str) -> Result<(&str, uuid::Uuid), &'static str> {
    let Some((ty, uuid_text)) = id.rsplit_once("--") else {
        return Err("it must have the form type--UUID");
    };
    if check_type_name(ty).is_err() {
        return Err("its type part is not a valid type name");
    }
    let b = uuid_text.as_bytes();
    if b.len() != 36 {
        return Err("its UUID part must be 36 characters (8-4-4-4-12 hex digits)");
    }
    for (i, &ch) in b.iter().enumerate() {
        let ok = if matches!(i, 8 | 13 | 18 | 23) {
            ch == b'-'
        } else {
            ch.is_ascii_hexdigit()
        };
        if !ok {
            return Err("its UUID part must be 8-4-4-4-12 hex digits");
        }
    }
    if !(b'1'..=b'5').contains(&b[14]) {
        return Err("its UUID part must be an RFC 4122 UUID (version 1 to 5)");
    }
    if !matches!(b[19], b'8' | b'9' | b'a' | b'b' | b'A' | b'B') {
        return Err("its UUID part must have the RFC 4122 variant");
    }
    let uuid = uuid::Uuid::parse_str(uuid_text).map_err(|_| "its UUID part is not a UUID")?;
    Ok((ty, uuid))
}

fn check_id(cx: &mut Cx<'_>, id: &str, type_name: Option<&str>) {
    match parse_identifier(id) {
        Err(why) => cx.err(
            c::INVALID_ID,
            format!("id {id:?} is not a valid identifier: {why}"),
        ),
        Ok((ty, _)) => {
            if let Some(t) = type_name {
                if ty != t {
                    cx.err(
                        c::ID_TYPE_MISMATCH,
                        format!("id {id:?} must start with the object's type \"{t}--\""),
                    );
                }
            }
        }
    }
}

fn parse_ts(cx: &mut Cx<'_>, text: &str) -> Option<Timestamp> {
    match Timestamp::parse(text) {
        Ok(ts) => Some(ts),
        Err(e) => {
            let name = cx.last_name();
            cx.err(
                c::INVALID_TIMESTAMP,
                format!("{name} is not a valid STIX timestamp ({})", e.reason),
            );
            None
        }
    }
}

fn target_allowed(targets: Targets, ty: &str) -> bool {
    let kind = registry::kind_of(ty);
    match targets {
        Targets::Types(list) => list.contains(&ty),
        // Types outside the specification may be custom objects of the right kind.
        Targets::AnySdo => matches!(kind, Some(Kind::Sdo) | None),
        Targets::SdoOrSco => matches!(kind, Some(Kind::Sdo) | Some(Kind::Sco) | None),
        Targets::ScoOrSro => matches!(kind, Some(Kind::Sco) | Some(Kind::Sro) | None),
        Targets::AnySco => matches!(kind, Some(Kind::Sco) | None),
        Targets::Any => kind != Some(Kind::Bundle),
    }
}

fn describe_targets(targets: Targets) -> String {
    match targets {
        Targets::Types(list) => list.join(" or "),
        Targets::AnySdo => "an SDO".to_owned(),
        Targets::SdoOrSco => "an SDO or SCO".to_owned(),
        Targets::ScoOrSro => "an SCO or SRO".to_owned(),
        Targets::AnySco => "an SCO".to_owned(),
        Targets::Any => "a STIX object".to_owned(),
    }
}

fn check_value<'a>(cx: &mut Cx<'a>, val: &'static Val, v: &'a Value) {
    match val {
        Val::Any => {}
        Val::Str | Val::Open(_) => {
            if !v.is_string() {
                cx.wrong_kind("a string", v);
            }
        }
        Val::Fmt(f) => match v.as_str() {
            Some(s) => {
                if let Err(why) = check_format(*f, s) {
                    let name = cx.last_name();
                    cx.err(
                        c::INVALID_FORMAT,
                        format!("{name} value {s:?} is invalid: {why}"),
                    );
                }
            }
            None => cx.wrong_kind("a string", v),
        },
        Val::Timestamp | Val::TimestampMillis => match v.as_str() {
            Some(s) => {
                if let Some(ts) = parse_ts(cx, s) {
                    if matches!(val, Val::TimestampMillis) && ts.precision() < 3 {
                        let name = cx.last_name();
                        cx.err(c::TIMESTAMP_PRECISION, format!("{name} must have at least millisecond precision (three fractional digits), found {s:?}"));
                    }
                }
            }
            None => cx.wrong_kind("a timestamp string", v),
        },
        Val::Int { min, max } => match v {
            Value::Number(n) => match n.as_i64() {
                Some(i) if i >= *min && i <= *max => {}
                Some(i) => {
                    let name = cx.last_name();
                    cx.err(
                        c::INTEGER_OUT_OF_RANGE,
                        format!("{name} must be between {min} and {max}, found {i}"),
                    );
                }
                None if n.as_u64().is_some() || is_integer_text(&n.to_string()) => {
                    let name = cx.last_name();
                    cx.err(
                        c::INTEGER_OUT_OF_RANGE,
                        format!("{name} must be between {min} and {max}, found {n}"),
                    );
                }
                None => cx.wrong_kind("an integer", v),
            },
            _ => cx.wrong_kind("an integer", v),
        },
        Val::Num { min, max } => match v.as_f64() {
            Some(f) if v.is_number() => {
                if f < *min || f > *max {
                    let name = cx.last_name();
                    cx.err(
                        c::NUMBER_OUT_OF_RANGE,
                        format!("{name} must be between {min} and {max}, found {f}"),
                    );
                }
            }
            _ => cx.wrong_kind("a number", v),
        },
        Val::Bool => {
            if !v.is_boolean() {
                cx.wrong_kind("a boolean", v);
            }
        }
        Val::Ref(targets) => match v.as_str() {
            Some(id) => match parse_identifier(id) {
                Err(why) => {
                    let name = cx.last_name();
                    cx.err(
                        c::INVALID_REFERENCE,
                        format!("{name} value {id:?} is not a valid identifier: {why}"),
                    );
                }
                Ok((ty, _)) => {
                    if !target_allowed(*targets, ty) {
                        let name = cx.last_name();
                        cx.err(
                            c::REFERENCE_TYPE_NOT_ALLOWED,
                            format!(
                                "{name} must refer to {}, not to a {ty}",
                                describe_targets(*targets)
                            ),
                        );
                    }
                }
            },
            None => cx.wrong_kind("an identifier string", v),
        },
        Val::List(item) => match v {
            Value::Array(items) if items.is_empty() => {
                let name = cx.last_name();
                cx.err(
                    c::EMPTY_LIST,
                    format!("{name} must not be an empty list; omit the property instead"),
                );
            }
            Value::Array(items) => {
                for (i, it) in items.iter().enumerate() {
                    cx.at_index(i, |cx| check_value(cx, item, it));
                }
            }
            _ => cx.wrong_kind("a list", v),
        },
        Val::Enum(allowed) => match v.as_str() {
            Some(s) if allowed.contains(&s) => {}
            Some(s) => {
                let name = cx.last_name();
                cx.err(
                    c::NOT_IN_ENUMERATION,
                    format!("{name} value {s:?} is not one of: {}", allowed.join(", ")),
                );
            }
            None => cx.wrong_kind("a string", v),
        },
        Val::Hashes => check_hashes(cx, v),
        Val::Dict => check_dict(cx, v),
        Val::Binary => match v.as_str() {
            Some(s) => {
                if !is_base64(s) {
                    let name = cx.last_name();
                    cx.err(
                        c::INVALID_FORMAT,
                        format!("{name} must be base64-encoded binary"),
                    );
                }
            }
            None => cx.wrong_kind("a base64 string", v),
        },
        Val::Hex => {
            match v.as_str() {
                Some(s) => {
                    if s.is_empty() || s.len() % 2 != 0 || !s.bytes().all(|b| b.is_ascii_hexdigit())
                    {
                        let name = cx.last_name();
                        cx.err(c::INVALID_FORMAT, format!("{name} value {s:?} must be hex-encoded bytes (pairs of hex digits)"));
                    }
                }
                None => cx.wrong_kind("a hex string", v),
            }
        }
        Val::Struct(props) => check_struct(cx, props, v, &|| "the embedded object".into(), 0),
        Val::ExternalReference => check_external_reference(cx, v),
        Val::KillChainPhase => check_struct(
            cx,
            registry::KILL_CHAIN_PHASE,
            v,
            &|| "a kill chain phase".into(),
            0,
        ),
        Val::GranularMarking => check_granular_marking(cx, v),
    }
}

/// Checks an embedded object's defined properties; properties not listed are allowed.
/// `at_least_one`: when non-zero, at least one listed property MUST be present.
fn check_struct<'a>(
    cx: &mut Cx<'a>,
    props: &'static [Prop],
    v: &'a Value,
    what: &dyn Fn() -> String,
    at_least_one: usize,
) {
    let Value::Object(map) = v else {
        cx.wrong_kind("a JSON object", v);
        return;
    };
    let mut seen: u64 = 0;
    for (key, pv) in map {
        if let Some(i) = props.iter().position(|p| p.name == key.as_str()) {
            if i < 64 {
                seen |= 1 << i;
            }
            cx.at(key, |cx| check_value(cx, &props[i].val, pv));
        }
    }
    let present = |i: usize, p: &Prop| {
        if i < 64 {
            seen & (1 << i) != 0
        } else {
            map.contains_key(p.name)
        }
    };
    for (i, p) in props.iter().enumerate() {
        if p.required && !present(i, p) {
            cx.missing(p.name, &what());
        }
    }
    if at_least_one > 0 && !props.iter().enumerate().any(|(i, p)| present(i, p)) {
        let names: Vec<&str> = props.iter().map(|p| p.name).collect();
        cx.err(
            c::MISSING_ONE_OF,
            format!(
                "{} must contain at least one of: {}",
                what(),
                names.join(", ")
            ),
        );
    }
}

fn check_format(f: Format, s: &str) -> Result<(), &'static str> {
    match f {
        Format::Ipv4 => {
            let (addr, prefix) = split_cidr(s);
            if addr.parse::<std::net::Ipv4Addr>().is_err() {
                return Err("it must be an IPv4 address or CIDR block");
            }
            check_prefix(prefix, 32)
        }
        Format::Ipv6 => {
            let (addr, prefix) = split_cidr(s);
            if addr.parse::<std::net::Ipv6Addr>().is_err() {
                return Err("it must be an IPv6 address or CIDR block");
            }
            check_prefix(prefix, 128)
        }
        Format::Mac => {
            let b = s.as_bytes();
            let ok = b.len() == 17
                && b.iter().enumerate().all(|(i, &ch)| {
                    if i % 3 == 2 {
                        ch == b':'
                    } else {
                        ch.is_ascii_digit() || (b'a'..=b'f').contains(&ch)
                    }
                });
            if ok {
                Ok(())
            } else {
                Err("it must be a colon-delimited, lowercase MAC-48 address with leading zeros")
            }
        }
        Format::Url => {
            let Some((scheme, rest)) = s.split_once(':') else {
                return Err("it must be an absolute URL with a scheme");
            };
            let scheme_ok = scheme
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic())
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
            if !scheme_ok || rest.is_empty() || s.chars().any(char::is_whitespace) {
                return Err("it must be an absolute URL with a scheme and no whitespace");
            }
            Ok(())
        }
        Format::PropertyName => check_property_name(s),
        Format::RelationshipType => {
            if !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                Ok(())
            } else {
                Err("it must contain only a-z, 0-9 and '-'")
            }
        }
    }
}

/// Whether a JSON number is written as an integer (no fraction, no exponent).
fn is_integer_text(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn split_cidr(s: &str) -> (&str, Option<&str>) {
    match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    }
}

fn check_prefix(prefix: Option<&str>, max: u8) -> Result<(), &'static str> {
    match prefix {
        None => Ok(()),
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max && !p.starts_with('+') => Ok(()),
            _ => Err("its CIDR prefix length is out of range"),
        },
    }
}

fn is_base64(s: &str) -> bool {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(4) {
        return false;
    }
    let pad = b.iter().rev().take_while(|&&ch| ch == b'=').count();
    if pad > 2 {
        return false;
    }
    b[..b.len() - pad]
        .iter()
        .all(|&ch| ch.is_ascii_alphanumeric() || ch == b'+' || ch == b'/')
}

/// Expected hex length of the hash algorithms whose format the spec fixes.
fn hash_hex_len(algorithm: &str) -> Option<usize> {
    match algorithm {
        "MD5" => Some(32),
        "SHA-1" => Some(40),
        "SHA-256" | "SHA3-256" => Some(64),
        "SHA-512" | "SHA3-512" => Some(128),
        _ => None,
    }
}

fn check_hashes<'a>(cx: &mut Cx<'a>, v: &'a Value) {
    let Value::Object(map) = v else {
        cx.wrong_kind("a hashes dictionary", v);
        return;
    };
    if map.is_empty() {
        let name = cx.last_name();
        cx.err(
            c::EMPTY_DICTIONARY,
            format!("{name} must not be an empty dictionary"),
        );
        return;
    }
    for (alg, value) in map {
        cx.at(alg, |cx| {
            if alg.len() > 250 || !alg.is_ascii() || alg.is_empty() {
                cx.err(
                    c::INVALID_HASH,
                    "a hash algorithm name must be 1 to 250 ASCII characters".into(),
                );
                return;
            }
            let Some(text) = value.as_str() else {
                cx.wrong_kind("a string", value);
                return;
            };
            if let Some(len) = hash_hex_len(alg) {
                if text.len() != len || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
                    cx.err(
                        c::INVALID_HASH,
                        format!("a {alg} hash must be {len} hex digits, found {text:?}"),
                    );
                }
            } else if !vocab::HASH_ALGORITHM.contains(&alg.as_str())
                && vocab::HASH_ALGORITHM
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(alg))
            {
                cx.err(
                    c::INVALID_HASH,
                    format!(
                        "hash algorithm {alg:?} must be written exactly as in hash-algorithm-ov"
                    ),
                );
            }
        });
    }
}

fn check_dict<'a>(cx: &mut Cx<'a>, v: &'a Value) {
    let Value::Object(map) = v else {
        cx.wrong_kind("a dictionary (JSON object)", v);
        return;
    };
    if map.is_empty() {
        let name = cx.last_name();
        cx.err(
            c::EMPTY_DICTIONARY,
            format!("{name} must not be an empty dictionary"),
        );
    }
    for (key, value) in map {
        if key.is_empty() || key.len() > 250 || !key.is_ascii() {
            cx.at(key, |cx| {
                cx.err(
                    c::INVALID_DICTIONARY_KEY,
                    "a dictionary key must be 1 to 250 ASCII characters".into(),
                )
            });
        }
        if let Value::Array(items) = value {
            if items.is_empty() {
                cx.at(key, |cx| {
                    cx.err(
                        c::EMPTY_LIST,
                        "a dictionary value must not be an empty list".into(),
                    )
                });
            }
        }
    }
}

fn check_external_reference<'a>(cx: &mut Cx<'a>, v: &'a Value) {
    check_struct(
        cx,
        registry::EXTERNAL_REFERENCE,
        v,
        &|| "an external reference".into(),
        0,
    );
    let Value::Object(map) = v else { return };
    if !["description", "url", "external_id"]
        .iter()
        .any(|k| map.contains_key(*k))
    {
        cx.err(
            c::INVALID_EXTERNAL_REFERENCE,
            "an external reference must have at least one of 'description', 'url' or 'external_id' besides 'source_name'".into(),
        );
    }
    let source = map
        .get("source_name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (prefix, label) = match source {
        "cve" => ("CVE-", "CVE"),
        "capec" => ("CAPEC-", "CAPEC"),
        _ => return,
    };
    match map.get("external_id").and_then(Value::as_str) {
        None => cx.at("external_id", |cx| {
            cx.err(
                c::INVALID_EXTERNAL_REFERENCE,
                format!("an external reference to {label} must have an 'external_id'"),
            )
        }),
        Some(eid) => {
            let ok = match eid.strip_prefix(prefix) {
                Some(rest) if label == "CVE" => is_cve_suffix(rest),
                Some(rest) => !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()),
                None => false,
            };
            if !ok {
                cx.at("external_id", |cx| {
                    cx.err(
                        c::INVALID_EXTERNAL_REFERENCE,
                        format!("{eid:?} is not a valid {label} identifier"),
                    )
                });
            }
        }
    }
}

/// `YYYY-NNNN` with four or more digits (no leading zero when more than four).
fn is_cve_suffix(rest: &str) -> bool {
    let Some((year, num)) = rest.split_once('-') else {
        return false;
    };
    year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && num.len() >= 4
        && num.bytes().all(|b| b.is_ascii_digit())
        && (num.len() == 4 || !num.starts_with('0'))
}

fn check_granular_marking<'a>(cx: &mut Cx<'a>, v: &'a Value) {
    check_struct(
        cx,
        registry::GRANULAR_MARKING,
        v,
        &|| "a granular marking".into(),
        0,
    );
    let Value::Object(map) = v else { return };
    match (map.contains_key("marking_ref"), map.contains_key("lang")) {
        (true, true) => cx.err(
            c::INVALID_GRANULAR_MARKING,
            "a granular marking must have either 'marking_ref' or 'lang', not both".into(),
        ),
        (false, false) => cx.err(
            c::INVALID_GRANULAR_MARKING,
            "a granular marking must have 'marking_ref' or 'lang'".into(),
        ),
        _ => {}
    }
}

/// Resolves a granular-marking selector (§7.2.3.1) against the object.
pub fn resolve_selector<'v>(
    object: &'v Map<String, Value>,
    selector: &str,
) -> Result<&'v Value, String> {
    let mut segments = selector.split('.');
    let first = segments.next().unwrap_or_default();
    let mut cur = match object.get(first) {
        Some(v) => v,
        None => return Err(format!("'{first}' is not a property of the object")),
    };
    for seg in segments {
        if let Some(idx) = seg.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            let i: usize = idx
                .parse()
                .map_err(|_| format!("'{seg}' is not a valid list index"))?;
            cur = match cur {
                Value::Array(items) => items
                    .get(i)
                    .ok_or_else(|| format!("index {i} is past the end of the list"))?,
                _ => return Err(format!("'{seg}' indexes something that is not a list")),
            };
        } else {
            cur = match cur {
                Value::Object(m) => m
                    .get(seg)
                    .ok_or_else(|| format!("'{seg}' is not a property there"))?,
                _ => {
                    return Err(format!(
                        "'{seg}' names a property of something that is not an object"
                    ))
                }
            };
        }
    }
    Ok(cur)
}

fn check_selectors<'a>(cx: &mut Cx<'a>, object: &'a Map<String, Value>, gms: &'a [Value]) {
    for (i, gm) in gms.iter().enumerate() {
        let Some(Value::Array(selectors)) = gm.get("selectors") else {
            continue;
        };
        for (j, sel) in selectors.iter().enumerate() {
            let Some(sel) = sel.as_str() else { continue };
            if let Err(why) = resolve_selector(object, sel) {
                cx.at_index(i, |cx| {
                    cx.at("selectors", |cx| {
                        cx.at_index(j, |cx| {
                            cx.err(c::INVALID_SELECTOR, format!("selector {sel:?} does not select anything in the object: {why}"))
                        })
                    })
                });
            }
        }
    }
}

fn check_extensions<'a>(cx: &mut Cx<'a>, def: Option<&'static TypeDef>, v: &'a Value) {
    let Value::Object(exts) = v else {
        cx.wrong_kind("a dictionary of extensions", v);
        return;
    };
    if exts.is_empty() {
        cx.err(
            c::EMPTY_DICTIONARY,
            "'extensions' must not be an empty dictionary".into(),
        );
    }
    for (key, ext) in exts {
        cx.at(key, |cx| check_extension(cx, def, key, ext));
    }
}

fn check_extension<'a>(
    cx: &mut Cx<'a>,
    def: Option<&'static TypeDef>,
    key: &'a str,
    ext: &'a Value,
) {
    let predefined: Option<&'static ExtensionDef> = def.and_then(|d| d.extension(key));
    if let Some(ed) = predefined {
        let what = || format!("the {} extension", ed.name);
        check_struct(cx, ed.props, ext, &what, usize::from(ed.at_least_one));
        check_extension_property_names(cx, ext, ed.props);
        return;
    }
    if key.starts_with("extension-definition--") {
        if !matches!(parse_identifier(key), Ok(("extension-definition", _))) {
            cx.err(
                c::INVALID_EXTENSION_KEY,
                format!("extension key {key:?} is not a valid extension-definition identifier"),
            );
            return;
        }
        let Value::Object(m) = ext else {
            cx.wrong_kind("a JSON object", ext);
            return;
        };
        match m.get("extension_type") {
            Some(t) => cx.at("extension_type", |cx| {
                check_value(cx, &Val::Enum(vocab::EXTENSION_TYPE), t)
            }),
            None => cx.missing("extension_type", "an extension-definition based extension"),
        }
        check_extension_property_names(cx, ext, &[]);
        return;
    }
    if registry::SCOS.iter().any(|t| t.extension(key).is_some()) {
        let ty = def.map_or("this", |d| d.name);
        cx.err(
            c::INVALID_EXTENSION_KEY,
            format!("the predefined extension {key:?} does not apply to {ty} objects"),
        );
    } else if key.ends_with("-ext")
        && key.starts_with(|ch: char| ch.is_ascii_lowercase())
        && check_type_name(key).is_ok()
    {
        // A custom extension in the deprecated STIX 2.0 style (`x-acme-ext`): allowed.
        if ext.is_object() {
            check_extension_property_names(cx, ext, &[]);
        } else {
            cx.wrong_kind("a JSON object", ext);
        }
    } else {
        cx.err(
            c::INVALID_EXTENSION_KEY,
            format!(
                "extension key {key:?} must be a predefined extension name, an extension-definition identifier or a custom name ending in -ext"
            ),
        );
    }
}

/// Properties inside an extension that the extension does not define must follow
/// the property-name rules.
fn check_extension_property_names(cx: &mut Cx<'_>, ext: &Value, defined: &[Prop]) {
    let Value::Object(m) = ext else { return };
    for key in m.keys() {
        if key == "extension_type" || defined.iter().any(|p| p.name == key.as_str()) {
            continue;
        }
        if let Err(why) = check_property_name(key) {
            let (code, msg) = (
                c::INVALID_PROPERTY_NAME,
                format!("extension property name {key:?} is invalid: {why}"),
            );
            let mut ptr = cx.pointer();
            ptr.push('/');
            ptr.push_str(&key.replace('~', "~0").replace('/', "~1"));
            cx.out.push(ValidationError {
                code,
                object_id: cx.id.map(str::to_owned),
                pointer: ptr,
                message: msg,
            });
        }
    }
}

// ---------------------------------------------------------------------------
// Cross-property rules.

fn ts_of(map: &Map<String, Value>, key: &str) -> Option<Timestamp> {
    map.get(key)
        .and_then(Value::as_str)
        .and_then(|s| Timestamp::parse(s).ok())
}

/// `later` must be >= (or > when `strict`) `earlier`.
fn order(
    cx: &mut Cx<'_>,
    map: &Map<String, Value>,
    earlier: &'static str,
    later: &'static str,
    strict: bool,
) {
    if let (Some(a), Some(b)) = (ts_of(map, earlier), ts_of(map, later)) {
        let bad = if strict { b <= a } else { b < a };
        if bad {
            let rel = if strict {
                "later than"
            } else {
                "the same as or later than"
            };
            let code = c::TIMESTAMP_ORDER;
            cx.at(later, |cx| {
                cx.err(code, format!("'{later}' must be {rel} '{earlier}'"))
            });
        }
    }
}

fn one_of(cx: &mut Cx<'_>, map: &Map<String, Value>, names: &[&str], what: &str) {
    if !names.iter().any(|n| map.contains_key(*n)) {
        cx.err(
            c::MISSING_ONE_OF,
            format!("{what} must have at least one of: {}", names.join(", ")),
        );
    }
}

fn exclusive(
    cx: &mut Cx<'_>,
    map: &Map<String, Value>,
    a: &'static str,
    b: &'static str,
    why: &str,
) {
    if map.contains_key(a) && map.contains_key(b) {
        cx.at(b, |cx| {
            cx.err(
                c::MUTUALLY_EXCLUSIVE,
                format!("'{a}' and '{b}' must not both be present: {why}"),
            )
        });
    }
}

fn requires(
    cx: &mut Cx<'_>,
    map: &Map<String, Value>,
    present: &'static str,
    needed: &'static str,
) {
    if map.contains_key(present) && !map.contains_key(needed) {
        cx.at(present, |cx| {
            cx.err(
                c::DEPENDENT_PROPERTY,
                format!("'{present}' requires '{needed}' to be present"),
            )
        });
    }
}

fn uuid_version(map: &Map<String, Value>) -> Option<usize> {
    let id = map.get("id")?.as_str()?;
    parse_identifier(id).ok().map(|(_, u)| u.get_version_num())
}

fn rules<'a>(
    cx: &mut Cx<'a>,
    ty: &str,
    def: Option<&'static TypeDef>,
    map: &'a Map<String, Value>,
) {
    match ty {
        "campaign" | "infrastructure" | "intrusion-set" | "threat-actor" | "sighting" => {
            order(cx, map, "first_seen", "last_seen", false)
        }
        "malware" => {
            order(cx, map, "first_seen", "last_seen", false);
            if map.get("is_family") == Some(&Value::Bool(true)) && !map.contains_key("name") {
                cx.missing("name", "a malware family (is_family is true)");
            }
        }
        "indicator" => order(cx, map, "valid_from", "valid_until", true),
        "relationship" => order(cx, map, "start_time", "stop_time", true),
        "observed-data" => {
            order(cx, map, "first_observed", "last_observed", false);
            if map.contains_key("objects") && map.contains_key("object_refs") {
                exclusive(
                    cx,
                    map,
                    "objects",
                    "object_refs",
                    "'objects' is the deprecated form of 'object_refs'",
                );
            } else {
                one_of(
                    cx,
                    map,
                    &["object_refs", "objects"],
                    "an observed-data object",
                );
            }
            if let Some(Value::Object(embedded)) = map.get("objects") {
                cx.at("objects", |cx| check_embedded_objects(cx, embedded));
            }
        }
        "location" => {
            let has = |k: &str| map.contains_key(k);
            if !(has("region") || has("country") || (has("latitude") && has("longitude"))) {
                cx.err(
                    c::MISSING_ONE_OF,
                    "a location must have 'region', 'country', or both 'latitude' and 'longitude'"
                        .into(),
                );
            }
            requires(cx, map, "latitude", "longitude");
            requires(cx, map, "longitude", "latitude");
            requires(cx, map, "precision", "latitude");
        }
        "malware-analysis" => one_of(
            cx,
            map,
            &["result", "analysis_sco_refs"],
            "a malware-analysis object",
        ),
        "network-traffic" => {
            order(cx, map, "start", "end", false);
            one_of(cx, map, &["src_ref", "dst_ref"], "a network-traffic object");
            if map.get("is_active") == Some(&Value::Bool(true)) && map.contains_key("end") {
                cx.at("end", |cx| {
                    cx.err(
                        c::MUTUALLY_EXCLUSIVE,
                        "'end' must not be present while 'is_active' is true".into(),
                    )
                });
            }
        }
        "file" => one_of(cx, map, &["hashes", "name"], "a file object"),
        "artifact" => {
            exclusive(
                cx,
                map,
                "payload_bin",
                "url",
                "an artifact carries its content either inline or by URL",
            );
            requires(cx, map, "url", "hashes");
            requires(cx, map, "decryption_key", "encryption_algorithm");
        }
        "email-message" => match map.get("is_multipart") {
            Some(Value::Bool(true)) if map.contains_key("body") => cx.at("body", |cx| {
                cx.err(
                    c::MUTUALLY_EXCLUSIVE,
                    "'body' must not be present when 'is_multipart' is true; use 'body_multipart'"
                        .into(),
                )
            }),
            Some(Value::Bool(false)) if map.contains_key("body_multipart") => {
                cx.at("body_multipart", |cx| {
                    cx.err(
                        c::MUTUALLY_EXCLUSIVE,
                        "'body_multipart' must not be present when 'is_multipart' is false".into(),
                    )
                })
            }
            _ => {}
        },
        "process" | "user-account" | "windows-registry-key" | "x509-certificate" => {
            if let Some(d) = def {
                let any = d.props.iter().any(|p| map.contains_key(p.name))
                    || map.contains_key("extensions");
                if !any {
                    cx.err(
                        c::MISSING_ONE_OF,
                        format!(
                            "a {ty} object must have at least one property besides the common ones"
                        ),
                    );
                }
            }
        }
        "marking-definition" => marking_definition_rules(cx, map),
        "language-content" => language_content_rules(cx, map),
        _ => {}
    }
    // §2.9: SCOs with no id-contributing property present, and all processes, use UUIDv4.
    if let Some(d) = def {
        if d.kind == Kind::Sco {
            let needs_v4 = ty == "process"
                || (matches!(
                    ty,
                    "artifact"
                        | "email-message"
                        | "user-account"
                        | "windows-registry-key"
                        | "x509-certificate"
                ) && !d.id_contributing.iter().any(|p| map.contains_key(*p)));
            if needs_v4 && uuid_version(map).is_some_and(|v| v != 4) {
                cx.at("id", |cx| {
                    cx.err(c::SCO_ID_MUST_BE_UUID4, format!("a {ty} object without id-contributing properties must have a UUIDv4 id"))
                });
            }
        }
    }
}

/// The deprecated `objects` dictionary of observed-data: each value is an SCO and
/// is validated as one; errors keep the outer object's id and point into it.
fn check_embedded_objects<'a>(cx: &mut Cx<'a>, embedded: &'a Map<String, Value>) {
    for (key, obj) in embedded {
        cx.at(key, |cx| {
            let prefix = cx.pointer();
            for e in validate(obj) {
                cx.out.push(ValidationError {
                    code: e.code,
                    object_id: cx.id.map(str::to_owned),
                    pointer: format!("{prefix}{}", e.pointer),
                    message: e.message,
                });
            }
        });
    }
}

fn marking_definition_rules<'a>(cx: &mut Cx<'a>, map: &'a Map<String, Value>) {
    let has_ext = map.contains_key("extensions");
    if !has_ext {
        for p in ["definition_type", "definition"] {
            if !map.contains_key(p) {
                cx.missing(p, "a marking-definition without extensions");
            }
        }
    }
    let id = map.get("id").and_then(Value::as_str).unwrap_or_default();
    if let Some(Value::Array(refs)) = map.get("object_marking_refs") {
        if refs.iter().any(|r| r.as_str() == Some(id)) {
            cx.at("object_marking_refs", |cx| {
                cx.err(
                    c::CIRCULAR_MARKING_REFERENCE,
                    "a marking definition must not mark itself".into(),
                )
            });
        }
    }
    if let Some(Value::Array(gms)) = map.get("granular_markings") {
        if gms
            .iter()
            .any(|g| g.get("marking_ref").and_then(Value::as_str) == Some(id))
        {
            cx.at("granular_markings", |cx| {
                cx.err(
                    c::CIRCULAR_MARKING_REFERENCE,
                    "a marking definition must not mark itself".into(),
                )
            });
        }
    }
    match map.get("definition_type").and_then(Value::as_str) {
        Some("statement") => match map.get("definition") {
            Some(Value::Object(d)) => match d.get("statement") {
                Some(Value::String(_)) => {}
                Some(v) => cx.at("definition", |cx| {
                    cx.at("statement", |cx| cx.wrong_kind("a string", v))
                }),
                None => cx.at("definition", |cx| {
                    cx.missing("statement", "a statement marking")
                }),
            },
            Some(v) => cx.at("definition", |cx| cx.wrong_kind("a JSON object", v)),
            None => {}
        },
        Some("tlp") if crate::markings::tlp1_by_id(id).is_none_or(|m| !m.matches(map)) => {
            cx.err(
                c::INVALID_MARKING_DEFINITION,
                "a TLP 1.0 marking definition must be exactly one of the four official TLP objects (id, name, created and definition)".into(),
            );
        }
        Some("tlp") => {}
        Some(_) => match map.get("definition") {
            Some(v) if !v.is_object() => {
                cx.at("definition", |cx| cx.wrong_kind("a JSON object", v))
            }
            _ => {}
        },
        None => {}
    }
}

fn language_content_rules<'a>(cx: &mut Cx<'a>, map: &'a Map<String, Value>) {
    let Some(Value::Object(contents)) = map.get("contents") else {
        return;
    };
    cx.at("contents", |cx| {
        for (lang, value) in contents {
            cx.at(lang, |cx| {
                if !is_language_tag(lang) {
                    cx.err(
                        c::INVALID_LANGUAGE_CONTENT,
                        format!("{lang:?} is not an RFC 5646 language tag"),
                    );
                }
                match value {
                    Value::Object(props) => {
                        for key in props.keys() {
                            if let Err(why) = check_property_name(key) {
                                cx.at(key, |cx| {
                                    cx.err(
                                        c::INVALID_PROPERTY_NAME,
                                        format!("{key:?} must be a property name: {why}"),
                                    )
                                });
                            }
                        }
                    }
                    other => cx.wrong_kind("a JSON object of translated properties", other),
                }
            })
        }
    });
}

/// RFC 5646 language tag syntax (simplified: primary subtag of 2-3 or 5-8 letters,
/// then subtags of 1-8 alphanumerics).
fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let first = parts.next().unwrap_or_default();
    let primary_ok = matches!(first.len(), 2 | 3 | 5..=8)
        && first.bytes().all(|b| b.is_ascii_alphabetic())
        || (first.eq_ignore_ascii_case("x") || first.eq_ignore_ascii_case("i"));
    primary_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn codes(v: &Value) -> Vec<(&'static str, String)> {
        validate(v)
            .into_iter()
            .map(|e| (e.code, e.pointer))
            .collect()
    }

    fn indicator() -> Value {
        json!({
            "type": "indicator",
            "spec_version": "2.1",
            "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "created": "2016-04-06T20:03:48.000Z",
            "modified": "2016-04-06T20:03:48.000Z",
            "pattern": "[ipv4-addr:value = '198.51.100.1']",
            "pattern_type": "stix",
            "valid_from": "2016-04-06T20:03:48Z"
        })
    }

    #[test]
    fn valid_indicator_has_no_errors() {
        assert_eq!(validate(&indicator()), vec![]);
    }

    #[test]
    fn missing_required_property_is_reported_with_pointer() {
        let mut v = indicator();
        v.as_object_mut().unwrap().shift_remove("pattern");
        let errs = validate(&v);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].code, "required-property-missing");
        assert_eq!(errs[0].pointer, "/pattern");
        assert_eq!(
            errs[0].object_id.as_deref(),
            Some("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")
        );
    }

    #[test]
    fn id_must_match_type_and_be_a_uuid() {
        let mut v = indicator();
        v["id"] = json!("malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
        assert_eq!(codes(&v), vec![("id-type-mismatch", "/id".to_owned())]);
        v["id"] = json!("indicator--not-a-uuid");
        assert_eq!(codes(&v), vec![("invalid-id", "/id".to_owned())]);
    }

    #[test]
    fn created_must_not_be_after_modified_and_needs_millis() {
        let mut v = indicator();
        v["modified"] = json!("2016-04-06T20:03:47.999Z");
        assert_eq!(
            codes(&v),
            vec![("modified-before-created", "/modified".to_owned())]
        );
        let mut v = indicator();
        v["created"] = json!("2016-04-06T20:03:48Z");
        assert_eq!(
            codes(&v),
            vec![("timestamp-precision", "/created".to_owned())]
        );
    }

    #[test]
    fn reference_types_are_checked() {
        let mut v = indicator();
        v["created_by_ref"] = json!("malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
        assert_eq!(
            codes(&v),
            vec![("reference-type-not-allowed", "/created_by_ref".to_owned())]
        );
        v["created_by_ref"] = json!("identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
        v["object_marking_refs"] = json!(["identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]);
        assert_eq!(
            codes(&v),
            vec![(
                "reference-type-not-allowed",
                "/object_marking_refs/0".to_owned()
            )]
        );
    }

    #[test]
    fn granular_selectors_must_exist() {
        let mut v = indicator();
        v["granular_markings"] = json!([{
            "marking_ref": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
            "selectors": ["pattern", "description", "external_references.[0].url"]
        }]);
        let got = codes(&v);
        assert_eq!(
            got,
            vec![
                (
                    "invalid-granular-marking-selector",
                    "/granular_markings/0/selectors/1".to_owned()
                ),
                (
                    "invalid-granular-marking-selector",
                    "/granular_markings/0/selectors/2".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn closed_vocabulary_is_an_error_open_is_not() {
        let op = json!({
            "type": "opinion", "spec_version": "2.1",
            "id": "opinion--b01efc25-77b4-4003-b18b-f6e24b5cd9f7",
            "created": "2016-05-12T08:17:27.000Z", "modified": "2016-05-12T08:17:27.000Z",
            "opinion": "maybe", "object_refs": ["relationship--16d2358f-3b0d-4c88-b047-0da2f7ed4471"]
        });
        assert_eq!(
            codes(&op),
            vec![("value-not-in-enumeration", "/opinion".to_owned())]
        );
        let mut v = indicator();
        v["indicator_types"] = json!(["something-new"]);
        assert_eq!(validate(&v), vec![]);
    }

    #[test]
    fn pointer_escapes_tilde_and_slash() {
        let mut v = indicator();
        v["external_references"] =
            json!([{"source_name": "x", "hashes": {"a/b~c": 1}, "url": "https://example.com"}]);
        let errs = validate(&v);
        assert_eq!(errs[0].pointer, "/external_references/0/hashes/a~1b~0c");
    }

    #[test]
    fn sco_defanged_and_extension_keys() {
        let f = json!({
            "type": "file", "id": "file--5a27d487-c542-5f97-a131-a8866b477b46",
            "name": "a.exe", "defanged": "yes",
            "extensions": {"tcp-ext": {"src_flags_hex": "00"}, "bogus": {}, "ntfs-ext": {"sid": "1"}}
        });
        assert_eq!(
            codes(&f),
            vec![
                ("wrong-value-kind", "/defanged".to_owned()),
                ("invalid-extension-key", "/extensions/tcp-ext".to_owned()),
                ("invalid-extension-key", "/extensions/bogus".to_owned()),
            ]
        );
    }

    #[test]
    fn bundle_errors_are_indexed() {
        let b = json!({"type": "bundle", "id": "bundle--5a27d487-c542-4f97-a131-a8866b477b46",
            "objects": [indicator(), {"type": "indicator"}]});
        let errs = validate_bundle(&b);
        assert!(errs.iter().all(|(i, _)| *i == 1));
        assert!(!errs.is_empty());
        let b = json!({"type": "bundle", "id": "bundle--x", "objects": []});
        let errs = validate_bundle(&b);
        assert_eq!(
            errs.iter().map(|(i, e)| (*i, e.code)).collect::<Vec<_>>(),
            vec![(BUNDLE_ITSELF, "invalid-id"), (BUNDLE_ITSELF, "empty-list")]
        );
    }

    #[test]
    fn malware_family_needs_a_name() {
        let m = json!({
            "type": "malware", "spec_version": "2.1",
            "id": "malware--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061",
            "created": "2016-05-12T08:17:27.000Z", "modified": "2016-05-12T08:17:27.000Z",
            "is_family": true
        });
        assert_eq!(
            codes(&m),
            vec![("required-property-missing", "/name".to_owned())]
        );
        let mut instance = m.clone();
        instance["is_family"] = json!(false);
        assert_eq!(validate(&instance), vec![]);
    }

    #[test]
    fn display_names_code_id_and_pointer() {
        let mut v = indicator();
        v["confidence"] = json!(101);
        let e = &validate(&v)[0];
        assert_eq!(e.to_string(), "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f at /confidence: 'confidence' must be between 0 and 100, found 101 [integer-out-of-range]");
    }
}
