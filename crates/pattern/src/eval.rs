//! The evaluator: a port of the OASIS `stix2-matcher` (3.0.0) semantics for STIX 2.1.
//!
//! Matching finds a *binding*: observations bound to every `[...]` of the pattern so that
//! all constraints hold. Comparison expressions are evaluated eagerly per observation;
//! observation expressions are lazy iterators of bindings, pulled in exactly the order the
//! reference's generators use, so the first binding (and so the reported observed-data) is
//! the same one the reference reports.
//!
//! *Invariant*: every step of the binding search is charged against a work budget
//! ([`EvalOptions::max_work`]); going over gives [`EvalError::Budget`], never a hang.

use std::cell::Cell;
use std::cmp::Ordering;
use std::rc::Rc;
use std::sync::OnceLock;

use base64::Engine as _;
use indexmap::IndexMap;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use crate::ast::*;

/// Options for evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalOptions {
    /// Maximum number of binding-search steps per evaluation.
    pub max_work: u64,
    /// Compiled size limit for each `MATCHES`/`LIKE` regex (bytes).
    pub regex_size_limit: usize,
    /// Lazy-DFA cache limit for each regex (bytes).
    pub regex_dfa_size_limit: usize,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            max_work: 5_000_000,
            regex_size_limit: 1 << 20,
            regex_dfa_size_limit: 1 << 21,
        }
    }
}

/// Why an evaluation could not decide. The reference matcher raises an exception in the
/// same situations (an error never counts as a match).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The observed data is malformed (what and where).
    #[error("[eval.input] invalid observed data: {0}")]
    Input(String),
    /// A literal in the pattern cannot be used (e.g. an impossible date).
    #[error("[eval.literal] invalid literal in pattern: {0}")]
    Literal(String),
    /// A value in the observed data cannot be compared as the pattern requires.
    #[error("[eval.value] {0}")]
    Value(String),
    /// A `MATCHES` regex does not compile (or uses an unsupported construct), or is too big.
    #[error("[eval.regex] regex {pattern:?}: {reason}")]
    Regex {
        /// The regex text.
        pattern: String,
        /// Why it failed.
        reason: String,
    },
    /// The binding search went over [`EvalOptions::max_work`] steps.
    #[error("[eval.budget] evaluation work budget of {0} steps exhausted")]
    Budget(u64),
}

impl EvalError {
    /// A stable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            EvalError::Input(_) => "eval.input",
            EvalError::Literal(_) => "eval.literal",
            EvalError::Value(_) => "eval.value",
            EvalError::Regex { .. } => "eval.regex",
            EvalError::Budget(_) => "eval.budget",
        }
    }
}

/// The outcome of matching a pattern.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MatchResult {
    /// Whether the pattern matched.
    pub matched: bool,
    /// Ids of the observed-data objects in the first binding found (sorted by input order).
    pub observed_data_refs: Vec<String>,
}

// ---------------------------------------------------------------------------------------
// Timestamps (Python `datetime` semantics: microsecond precision, years 1..=9999).

/// Microseconds since the Unix epoch.
type Micros = i64;

const MAX_MICROS: Micros = 253_402_300_799_999_999; // 9999-12-31T23:59:59.999999

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn strptime_re(frac: bool) -> &'static regex::Regex {
    static WITH: OnceLock<regex::Regex> = OnceLock::new();
    static WITHOUT: OnceLock<regex::Regex> = OnceLock::new();
    // Python's `_strptime` regexes for %Y-%m-%dT%H:%M:%S(.%f)Z, tried leftmost-first.
    let body = r"^(?i)(\d\d\d\d)-(1[0-2]|0[1-9]|[1-9])-(3[01]|[12]\d|0[1-9]|[1-9]| [1-9])T(2[0-3]|[0-1]\d|\d):([0-5]\d|\d):(6[0-1]|[0-5]\d|\d)";
    let cell = if frac { &WITH } else { &WITHOUT };
    cell.get_or_init(|| {
        let src = if frac {
            format!(r"{body}\.([0-9]{{1,6}})Z")
        } else {
            format!("{body}Z")
        };
        let src = src.replace(r"\d", "[0-9]");
        #[allow(clippy::expect_used)] // a constant, tested regex
        regex::Regex::new(&src).expect("strptime regex")
    })
}

/// The common shape `YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z` with two-digit fields in range,
/// without the regex: `Some(result)` (the same result as [`py_datetime`]'s general path),
/// or `None` when the text has another shape (the general path decides).
fn canonical_datetime(b: &[u8]) -> Option<Option<Micros>> {
    let n = b.len();
    if !(n == 20 || (22..=27).contains(&n)) || b[n - 1] != b'Z' {
        return None;
    }
    let d2 = |i: usize| -> Option<i64> {
        let (x, y) = (b[i], b[i + 1]);
        (x.is_ascii_digit() && y.is_ascii_digit())
            .then(|| i64::from(x - b'0') * 10 + i64::from(y - b'0'))
    };
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let y = d2(0)? * 100 + d2(2)?;
    let (mo, d, h, mi, sec) = (d2(5)?, d2(8)?, d2(11)?, d2(14)?, d2(17)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 61 {
        return None;
    }
    let micro = if n == 20 {
        0
    } else {
        if b[19] != b'.' {
            return None;
        }
        let digits = &b[20..n - 1];
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut v = 0i64;
        for k in 0..6 {
            v = v * 10 + digits.get(k).map_or(0, |c| i64::from(c - b'0'));
        }
        v
    };
    if y < 1 || d > days_in_month(y, mo) || sec > 59 {
        return Some(None);
    }
    let days = days_from_civil(y, mo, d);
    Some(Some(
        ((days * 24 + h) * 60 + mi) * 60_000_000 + sec * 1_000_000 + micro,
    ))
}

/// `stix2matcher.matcher._str_to_datetime`.
fn py_datetime(s: &str) -> Option<Micros> {
    match canonical_datetime(s.as_bytes()) {
        Some(r) => r,
        None => py_datetime_general(s),
    }
}

/// [`py_datetime`] through the reference's regexes.
fn py_datetime_general(s: &str) -> Option<Micros> {
    if s.chars().any(char::is_lowercase) {
        return None;
    }
    let owned;
    let (s, frac) = if s.contains('.') {
        let parts: Vec<&str> = s.split('.').collect();
        let p1 = parts.get(1).copied().unwrap_or("");
        if p1.chars().count() > 7 && p1.ends_with('Z') {
            let head: String = p1.chars().take(6).collect();
            let mut ps: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
            ps[1] = format!("{head}Z");
            owned = ps.join(".");
            (owned.as_str(), true)
        } else {
            (s, true)
        }
    } else {
        (s, false)
    };
    let caps = strptime_re(frac).captures(s)?;
    if caps.get(0)?.end() != s.len() {
        return None;
    }
    let num = |i: usize| -> Option<i64> { caps.get(i)?.as_str().trim().parse().ok() };
    let (y, mo, d, h, mi, sec) = (num(1)?, num(2)?, num(3)?, num(4)?, num(5)?, num(6)?);
    let micro = if frac {
        let f = caps.get(7)?.as_str();
        format!("{f:0<6}").parse::<i64>().ok()?
    } else {
        0
    };
    if y < 1 || d > days_in_month(y, mo) || sec > 59 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some(((days * 24 + h) * 60 + mi) * 60_000_000 + sec * 1_000_000 + micro)
}

// ---------------------------------------------------------------------------------------
// Observations.

#[derive(Debug)]
struct Observation<'a> {
    /// The observed-data object.
    sdo: &'a Value,
    /// The objects of this observation: (id, object), deduplicated by id (first position,
    /// last value wins), as the reference's `{v['id']: v for v in objs}`.
    objects: Vec<(&'a str, &'a Value)>,
    /// All objects in order, duplicates kept (the reference dereferences against this list).
    all: Vec<(&'a str, &'a Value)>,
    /// 2.0-style embedded `objects` map (references resolve by key).
    embedded: bool,
    first: Micros,
    last: Micros,
    number: u64,
}

/// Observed data prepared for matching (parse once, match many patterns). It caches each
/// object path's selection and string index as patterns use them, so it is not `Sync`:
/// give each thread its own.
#[derive(Debug)]
pub struct Observations<'a> {
    obs: Vec<Observation<'a>>,
    /// SCO type -> (observation index, object index), in scan order.
    by_type: hashbrown::HashMap<&'a str, Vec<(u32, u32)>>,
    /// Selections already computed for an object path: the data never changes, so
    /// patterns sharing a path (most real ones do) select its values once.
    cache: std::cell::RefCell<hashbrown::HashMap<ObjectPath, Rc<Selected<'a>>>>,
    /// For an object path: each string value -> the (observation, root) pairs holding it,
    /// in scan order. Serves `=` and `IN` on string literals without a scan.
    str_index: std::cell::RefCell<hashbrown::HashMap<ObjectPath, Rc<StrIndex<'a>>>>,
    /// For an object path: its distinct scalar values (strings, numbers, booleans, null;
    /// each list, object or bytes value counts as distinct) and every selected value as a
    /// number into them, in scan order. Serves the tests the string index does not
    /// (`LIKE`, `MATCHES`, `ISSUBSET`, order, `!=`, numbers): the predicate runs once per
    /// distinct value, and the scan reads a compact array instead of chasing each value.
    str_table: std::cell::RefCell<hashbrown::HashMap<ObjectPath, Rc<StrTable<'a>>>>,
}

/// See [`Observations::str_table`].
#[derive(Debug)]
struct StrTable<'a> {
    /// Distinct values (the first selected value of each).
    values: Vec<Val<'a>>,
    /// (observation, root, value number), in the selection's order.
    entries: Vec<(u32, u32, u32)>,
}

type StrIndex<'a> = hashbrown::HashMap<&'a str, Vec<(u32, u32)>>;

/// Most distinct object paths whose selections are kept (then the cache starts over).
const SELECT_CACHE_PATHS: usize = 256;

/// A property of a small JSON object: a scan of its few keys beats hashing the key
/// (`serde_json`'s map hashes with SipHash); big objects use the map.
#[inline]
fn map_get<'v>(m: &'v serde_json::Map<String, Value>, k: &str) -> Option<&'v Value> {
    if m.len() <= 16 {
        m.iter().find(|(key, _)| key.as_str() == k).map(|(_, v)| v)
    } else {
        m.get(k)
    }
}

/// [`map_get`] on a value that may be an object.
#[inline]
fn get<'v>(v: &'v Value, k: &str) -> Option<&'v Value> {
    match v {
        Value::Object(m) => map_get(m, k),
        _ => None,
    }
}

fn str_field<'a>(v: &'a Value, key: &str, what: &str) -> Result<&'a str, EvalError> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| EvalError::Input(format!("{what}: missing string property '{key}'")))
}

impl<'a> Observations<'a> {
    /// Prepares observed data: STIX 2.1 bundles (observed-data with `object_refs` plus the
    /// SCOs, as `stix2matcher.match(..., stix_version='2.1')` takes), bare objects (treated as
    /// one more bundle's contents), or 2.0-style observed-data with an embedded `objects` map.
    pub fn new(input: &'a [Value]) -> Result<Self, EvalError> {
        Self::from_values(input)
    }

    /// [`Observations::new`] over values that need not be contiguous (e.g. a selection
    /// from a buffer), without copying them.
    pub fn from_values(input: impl IntoIterator<Item = &'a Value>) -> Result<Self, EvalError> {
        let mut merged: Vec<&'a Value> = Vec::new();
        let mut embedded: Vec<&'a Value> = Vec::new();
        for (i, v) in input.into_iter().enumerate() {
            match v.get("objects") {
                Some(Value::Array(objs)) => merged.extend(objs.iter()),
                Some(Value::Object(_)) if v.get("type") == Some(&Value::from("observed-data")) => {
                    embedded.push(v)
                }
                Some(_) => {
                    return Err(EvalError::Input(format!(
                        "/{i}/objects: expected an array of objects"
                    )))
                }
                None if v.is_object() => merged.push(v),
                None => return Err(EvalError::Input(format!("/{i}: expected a JSON object"))),
            }
        }
        let mut scos: hashbrown::HashMap<&'a str, &'a Value> = hashbrown::HashMap::new();
        let mut sdos = Vec::new();
        for (i, o) in merged.iter().enumerate() {
            // The error context is formatted only on the error path.
            let ty = match get(o, "type").and_then(Value::as_str) {
                Some(t) => t,
                None => str_field(o, "type", &format!("object {i}"))?,
            };
            if ty == "observed-data" {
                sdos.push(*o);
            } else {
                let id = match get(o, "id").and_then(Value::as_str) {
                    Some(id) => id,
                    None => str_field(o, "id", &format!("object {i} ({ty})"))?,
                };
                scos.insert(id, *o);
            }
        }
        let mut obs = Vec::new();
        for sdo in sdos {
            let id = str_field(sdo, "id", "observed-data")?;
            let refs = sdo
                .get("object_refs")
                .and_then(Value::as_array)
                .ok_or_else(|| EvalError::Input(format!("{id}: missing 'object_refs'")))?;
            let mut all = vec![sdo];
            for r in refs {
                if let Some(sco) = r.as_str().and_then(|r| scos.get(r)) {
                    all.push(*sco);
                }
            }
            let mut objects: Vec<(&'a str, &'a Value)> = Vec::new();
            let mut with_ids = Vec::with_capacity(all.len());
            for o in &all {
                let oid = str_field(o, "id", "object")?;
                with_ids.push((oid, *o));
                match objects.iter_mut().find(|(k, _)| *k == oid) {
                    Some(slot) => slot.1 = o,
                    None => objects.push((oid, o)),
                }
            }
            let all = with_ids;
            obs.push(Self::observation(sdo, id, objects, all, false)?);
        }
        for sdo in embedded {
            let id = str_field(sdo, "id", "observed-data").unwrap_or("observed-data");
            let mut objects = Vec::new();
            let mut all = Vec::new();
            if let Some(Value::Object(map)) = sdo.get("objects") {
                for (k, o) in map {
                    objects.push((k.as_str(), o));
                    all.push((k.as_str(), o));
                }
            }
            obs.push(Self::observation(sdo, id, objects, all, true)?);
        }
        let mut by_type: hashbrown::HashMap<&'a str, Vec<(u32, u32)>> = hashbrown::HashMap::new();
        for (oi, o) in obs.iter().enumerate() {
            for (ri, (_, obj)) in o.objects.iter().enumerate() {
                if let Some(t) = get(obj, "type").and_then(Value::as_str) {
                    by_type.entry(t).or_default().push((oi as u32, ri as u32));
                }
            }
        }
        Ok(Observations {
            obs,
            by_type,
            cache: Default::default(),
            str_index: Default::default(),
            str_table: Default::default(),
        })
    }

    fn observation(
        sdo: &'a Value,
        id: &str,
        objects: Vec<(&'a str, &'a Value)>,
        all: Vec<(&'a str, &'a Value)>,
        embedded: bool,
    ) -> Result<Observation<'a>, EvalError> {
        let (Some(n), Some(f), Some(l)) = (
            sdo.get("number_observed"),
            sdo.get("first_observed"),
            sdo.get("last_observed"),
        ) else {
            return Err(EvalError::Input(format!(
                "{id}: observed-data must have number_observed, first_observed, last_observed"
            )));
        };
        let number = n
            .as_i64()
            .ok_or_else(|| EvalError::Input(format!("{id}/number_observed: not an integer")))?;
        if number < 1 {
            return Err(EvalError::Input(format!(
                "{id}/number_observed: must be >= 1, got {number}"
            )));
        }
        let ts = |v: &Value, what: &str| {
            v.as_str()
                .and_then(py_datetime)
                .ok_or_else(|| EvalError::Input(format!("{id}/{what}: invalid timestamp {v}")))
        };
        Ok(Observation {
            sdo,
            objects,
            all,
            embedded,
            first: ts(f, "first_observed")?,
            last: ts(l, "last_observed")?,
            number: number as u64,
        })
    }

    /// Number of observed-data objects.
    pub fn len(&self) -> usize {
        self.obs.len()
    }

    /// Whether there are no observed-data objects.
    pub fn is_empty(&self) -> bool {
        self.obs.is_empty()
    }
}

// ---------------------------------------------------------------------------------------
// Values selected by object paths.

#[derive(Debug, Clone)]
enum Val<'a> {
    J(&'a Value),
    Bytes(Rc<Vec<u8>>),
    List(Rc<Vec<Val<'a>>>),
    /// A JSON number, parsed once when a selection is made (only ever a final value).
    Num(Num),
}

/// Python's view of a value's type, for the reference's type tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PyType {
    Int,
    Float,
    Str,
    Bool,
    Bytes,
    Datetime,
}

#[derive(Debug, Clone, Copy)]
enum Num {
    I(i128),
    F(f64),
}

fn json_num(n: &serde_json::Number) -> Num {
    // With `arbitrary_precision` the number keeps its JSON text: classify it as Python's
    // `json` module does (a fraction or exponent makes a float).
    let s = n.as_str();
    if s.contains(['.', 'e', 'E']) {
        Num::F(s.parse().unwrap_or(f64::NAN))
    } else {
        match s.parse::<i128>() {
            Ok(i) => Num::I(i),
            Err(_) => Num::F(s.parse().unwrap_or(f64::NAN)),
        }
    }
}

fn cmp_int_float(i: i128, f: f64) -> Ordering {
    if f.is_nan() {
        return Ordering::Equal; // Python's (a > b) - (a < b) is 0 for NaN
    }
    if f >= 1.7e38 {
        return Ordering::Less;
    }
    if f <= -1.7e38 {
        return Ordering::Greater;
    }
    let fl = f.floor();
    let fi = fl as i128;
    match i.cmp(&fi) {
        Ordering::Equal if f > fl => Ordering::Less,
        o => o,
    }
}

fn cmp_num(a: Num, b: Num) -> Ordering {
    match (a, b) {
        (Num::I(x), Num::I(y)) => x.cmp(&y),
        (Num::I(x), Num::F(y)) => cmp_int_float(x, y),
        (Num::F(x), Num::I(y)) => cmp_int_float(y, x).reverse(),
        (Num::F(x), Num::F(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
    }
}

fn num_eq(a: Num, b: Num) -> bool {
    match (a, b) {
        (Num::F(x), _) | (_, Num::F(x)) if x.is_nan() => false,
        _ => cmp_num(a, b) == Ordering::Equal,
    }
}

/// A literal from the pattern, coerced as the reference does.
#[derive(Debug, Clone)]
enum Lit {
    Int(i128),
    Float(f64),
    Str(String),
    Bool(bool),
    Bytes(Vec<u8>),
    Time(Micros),
}

impl Lit {
    fn py_type(&self) -> PyType {
        match self {
            Lit::Int(_) => PyType::Int,
            Lit::Float(_) => PyType::Float,
            Lit::Str(_) => PyType::Str,
            Lit::Bool(_) => PyType::Bool,
            Lit::Bytes(_) => PyType::Bytes,
            Lit::Time(_) => PyType::Datetime,
        }
    }
}

/// A value on the data side after the reference's "timestamp hackage".
enum DVal<'a, 'v> {
    Num(Num),
    Str(&'v str),
    Bool(bool),
    Bytes(&'v [u8]),
    Time(Micros),
    Other(std::marker::PhantomData<&'v Val<'a>>),
}

fn dval<'a, 'v>(v: &'v Val<'a>, want_time: bool) -> Result<DVal<'a, 'v>, EvalError> {
    Ok(match v {
        Val::J(Value::Number(n)) => DVal::Num(json_num(n)),
        Val::Num(n) => DVal::Num(*n),
        Val::J(Value::String(s)) if want_time => DVal::Time(
            py_datetime(s)
                .ok_or_else(|| EvalError::Value(format!("Invalid timestamp in JSON: {s}")))?,
        ),
        Val::J(Value::String(s)) => DVal::Str(s),
        Val::J(Value::Bool(b)) => DVal::Bool(*b),
        Val::Bytes(b) => DVal::Bytes(b),
        _ => DVal::Other(std::marker::PhantomData),
    })
}

fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

/// `_COMPARE_EQ_FUNCS` through `_get_table_symmetric`.
fn py_eq(v: &DVal<'_, '_>, lit: &Lit) -> bool {
    match (v, lit) {
        (DVal::Num(a), Lit::Int(b)) => num_eq(*a, Num::I(*b)),
        (DVal::Num(a), Lit::Float(b)) => num_eq(*a, Num::F(*b)),
        (DVal::Str(a), Lit::Str(b)) => *a == b.as_str(),
        (DVal::Bool(a), Lit::Bool(b)) => a == b,
        (DVal::Bytes(a), Lit::Bytes(b)) => *a == b.as_slice(),
        (DVal::Bytes(a), Lit::Str(s)) => latin1(s).is_some_and(|s| s == *a),
        (DVal::Str(s), Lit::Bytes(b)) => latin1(s).is_some_and(|s| s == *b),
        (DVal::Time(a), Lit::Time(b)) => a == b,
        _ => false,
    }
}

/// `_COMPARE_ORDER_FUNCS`: `Err(true)` when no comparison function exists for the types
/// (the reference then answers `false` *without* applying `NOT`), `Err(false)` when a string
/// is not binary-convertible (answer `false`, and `NOT` applies).
fn py_cmp(v: &DVal<'_, '_>, lit: &Lit) -> Result<Ordering, bool> {
    let latin1 = |s: &str| latin1(s).ok_or(false);
    Ok(match (v, lit) {
        (DVal::Num(a), Lit::Int(b)) => cmp_num(*a, Num::I(*b)),
        (DVal::Num(a), Lit::Float(b)) => cmp_num(*a, Num::F(*b)),
        (DVal::Str(a), Lit::Str(b)) => (*a).cmp(b.as_str()),
        (DVal::Bytes(a), Lit::Bytes(b)) => (*a).cmp(b.as_slice()),
        (DVal::Bytes(a), Lit::Str(s)) => (*a).cmp(latin1(s)?.as_slice()),
        (DVal::Str(s), Lit::Bytes(b)) => latin1(s)?.as_slice().cmp(b.as_slice()),
        (DVal::Time(a), Lit::Time(b)) => a.cmp(b),
        _ => return Err(true),
    })
}

/// Python `value in set` (hash + `==`: numbers and bools compare numerically).
fn py_in(v: &DVal<'_, '_>, set: &[Lit]) -> bool {
    let as_num = |l: &Lit| match l {
        Lit::Int(i) => Some(Num::I(*i)),
        Lit::Float(f) => Some(Num::F(*f)),
        Lit::Bool(b) => Some(Num::I(i128::from(*b))),
        _ => None,
    };
    set.iter().any(|l| match (v, l) {
        (DVal::Num(a), _) => as_num(l).is_some_and(|b| num_eq(*a, b)),
        (DVal::Bool(a), _) => as_num(l).is_some_and(|b| num_eq(Num::I(i128::from(*a)), b)),
        (DVal::Str(a), Lit::Str(b)) => *a == b.as_str(),
        (DVal::Bytes(a), Lit::Bytes(b)) => *a == b.as_slice(),
        (DVal::Time(a), Lit::Time(b)) => a == b,
        _ => false,
    })
}

// ---------------------------------------------------------------------------------------
// IPv4 (glibc `inet_aton`, as Python's `socket.inet_aton`) and CIDR tests.

fn inet_aton(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut parts: Vec<u64> = Vec::new();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let val;
    loop {
        let mut c = at(i);
        if !c.is_ascii_digit() {
            return None;
        }
        let mut v: u64 = 0;
        let mut base = 10;
        let mut digit = false;
        if c == b'0' {
            i += 1;
            c = at(i);
            if c == b'x' || c == b'X' {
                base = 16;
                i += 1;
                c = at(i);
            } else {
                base = 8;
                digit = true;
            }
        }
        loop {
            if c.is_ascii_digit() {
                if base == 8 && (c == b'8' || c == b'9') {
                    return None;
                }
                v = v.saturating_mul(base).saturating_add(u64::from(c - b'0'));
                digit = true;
            } else if base == 16 && c.is_ascii_hexdigit() {
                v = v
                    .saturating_mul(16)
                    .saturating_add(u64::from(c.to_ascii_lowercase() - b'a' + 10));
                digit = true;
            } else {
                break;
            }
            i += 1;
            c = at(i);
        }
        if !digit {
            return None;
        }
        if c == b'.' {
            if parts.len() > 2 || v > 0xff {
                return None;
            }
            parts.push(v);
            i += 1;
        } else {
            if !(i >= b.len() || c.is_ascii_whitespace() || c == 0x0b) {
                return None;
            }
            val = v;
            break;
        }
    }
    let max: u64 = match parts.len() {
        0 => 0xffff_ffff,
        1 => 0xff_ffff,
        2 => 0xffff,
        _ => 0xff,
    };
    if val > max {
        return None;
    }
    let mut out: u64 = 0;
    for (k, p) in parts.iter().enumerate() {
        out |= p << (24 - 8 * k);
    }
    Some((out | val) as u32)
}

fn ip4(s: &str) -> Result<u32, EvalError> {
    if s.contains('\0') {
        return Err(EvalError::Value(
            "embedded null character in IP address".into(),
        ));
    }
    inet_aton(s).ok_or_else(|| EvalError::Value(format!("Invalid IPv4 address: {s}")))
}

fn cidr4(s: &str) -> Result<(u32, u32), EvalError> {
    let bad = || EvalError::Value(format!("Invalid CIDR subnet: {s}"));
    let (ip, prefix) = s.split_once('/').ok_or_else(bad)?;
    let ip = ip4(ip)?;
    // Python's str.isdigit() + int(): Unicode decimal digits; anything else fails.
    if prefix.is_empty() {
        return Err(bad());
    }
    let n: u64 = prefix
        .chars()
        .try_fold(0u64, |acc, c| {
            let d = c.to_digit(10).or_else(|| unicode_decimal(c))?;
            acc.checked_mul(10)?.checked_add(u64::from(d))
        })
        .ok_or_else(bad)?;
    if !(1..=32).contains(&n) {
        return Err(bad());
    }
    Ok((ip, n as u32))
}

/// Decimal value of a non-ASCII Unicode decimal digit from the common blocks.
fn unicode_decimal(c: char) -> Option<u32> {
    const ZEROS: [u32; 8] = [0x660, 0x6F0, 0x966, 0x9E6, 0xFF10, 0x7C0, 0xE50, 0x1040];
    let cp = u32::from(c);
    ZEROS
        .iter()
        .find(|z| (**z..**z + 10).contains(&cp))
        .map(|z| cp - z)
}

fn v6(s: &str) -> Option<(u128, u32)> {
    let (ip, prefix) = match s.split_once('/') {
        Some((ip, p)) => (ip, p.parse::<u32>().ok().filter(|p| (1..=128).contains(p))?),
        None => (s, 128),
    };
    let ip: std::net::Ipv6Addr = ip.parse().ok()?;
    Some((u128::from(ip), prefix))
}

/// One side of `ISSUBSET` / `ISSUPERSET`, parsed once (the pattern's constant side is
/// parsed when the pattern is compiled; parse errors are kept and raised where the
/// reference raises them, on a value to test).
#[derive(Debug, Clone)]
struct IpArg {
    colon: bool,
    v6: Option<(u128, u32)>,
    v4: Result<(u32, u32), EvalError>,
}

impl IpArg {
    fn containee(s: &str) -> IpArg {
        let colon = s.contains(':');
        IpArg {
            colon,
            v6: if colon { v6(s) } else { None },
            v4: if s.contains('/') {
                cidr4(s)
            } else {
                ip4(s).map(|a| (a, 32))
            },
        }
    }

    fn container(s: &str) -> IpArg {
        let colon = s.contains(':');
        IpArg {
            colon,
            v6: if colon { v6(s) } else { None },
            v4: cidr4(s),
        }
    }
}

/// [`in_subnet`] on parsed sides.
fn in_subnet_parsed(containee: &IpArg, container: &IpArg) -> Result<bool, EvalError> {
    if containee.colon && container.colon {
        if let (Some((a, ap)), Some((b, bp))) = (containee.v6, container.v6) {
            if bp > ap {
                return Ok(false);
            }
            let mask = if bp == 0 { 0 } else { u128::MAX << (128 - bp) };
            return Ok(a & mask == b & mask);
        }
    }
    let (a, ap) = containee.v4.clone()?;
    let (b, bp) = container.v4.clone()?;
    if bp > ap {
        return Ok(false);
    }
    let mask = ((1u64 << bp) - 1) << (32 - bp);
    let mask = mask as u32;
    Ok(a & mask == b & mask)
}

/// `_ip_or_cidr_in_subnet(containee, container)`; IPv6 is an extension (both sides IPv6).
#[cfg(test)]
fn in_subnet(containee: &str, container: &str) -> Result<bool, EvalError> {
    in_subnet_parsed(&IpArg::containee(containee), &IpArg::container(container))
}

// ---------------------------------------------------------------------------------------
// Regexes.

fn is_py_alnum(c: char) -> bool {
    c.is_alphanumeric()
}

/// `_like_to_regex`, producing Rust syntax with Python's `$` (end, or before a final `\n`).
fn like_to_regex(like: &str) -> String {
    let mut s = String::from("^");
    for c in like.chars() {
        match c {
            '%' => s.push_str(".*"),
            '_' => s.push('.'),
            c if is_py_alnum(c) => s.push(c),
            c => s.push_str(&regex::escape(&c.to_string())),
        }
    }
    s.push_str(r"\n?\z");
    s
}

/// Translates a Python `re` pattern to the `regex` crate's dialect where they differ:
/// `$` (without MULTILINE) also matches before a final newline, `\Z` is `\z`, and a `[`
/// inside a class is literal. Constructs the `regex` crate lacks (look-around,
/// backreferences, possessive quantifiers) fail to compile and give [`EvalError::Regex`].
fn py_regex_to_rust(src: &str) -> String {
    let multiline = src.contains("(?m") || src.contains("(?sm") || src.contains("(?im");
    let mut out = String::with_capacity(src.len() + 8);
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if i + 1 < chars.len() => {
                let n = chars[i + 1];
                if n == 'Z' && !in_class {
                    out.push_str(r"\z");
                } else {
                    out.push('\\');
                    out.push(n);
                }
                i += 2;
                continue;
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A leading ']' (or '^]') is literal in both dialects.
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i + 1) == Some(&']') {
                    out.push_str(r"\]");
                    i += 1;
                }
            }
            '[' => out.push_str(r"\["),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '$' if !in_class && !multiline => out.push_str(r"(?:\n?\z)"),
            c if in_class && (c == '&' || c == '~' || c == '-') && chars.get(i + 1) == Some(&c) => {
                // `&&`, `~~` and `--` are set operations in the regex crate, literal in Python.
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

fn build_regex(src: &str, opts: &EvalOptions) -> Result<regex::Regex, EvalError> {
    regex::RegexBuilder::new(src)
        .size_limit(opts.regex_size_limit)
        .dfa_size_limit(opts.regex_dfa_size_limit)
        .build()
        .map_err(|e| EvalError::Regex {
            pattern: src.to_string(),
            reason: e.to_string(),
        })
}

fn build_bytes_regex(src: &str, opts: &EvalOptions) -> Result<regex::bytes::Regex, EvalError> {
    let mut s = String::from("(?-u)");
    for c in src.chars() {
        let cp = u32::from(c);
        if cp >= 0x80 {
            s.push_str(&format!(r"\x{cp:02X}"));
        } else {
            s.push(c);
        }
    }
    regex::bytes::RegexBuilder::new(&s)
        .size_limit(opts.regex_size_limit)
        .dfa_size_limit(opts.regex_dfa_size_limit)
        .build()
        .map_err(|e| EvalError::Regex {
            pattern: src.to_string(),
            reason: e.to_string(),
        })
}

// ---------------------------------------------------------------------------------------
// Compiled pattern.

#[derive(Debug)]
enum Pred {
    Eq {
        lit: Lit,
        ne: bool,
    },
    Order {
        lit: Lit,
        op: CompOp,
    },
    In {
        set: Vec<Lit>,
        times: bool,
    },
    Like {
        re: regex::Regex,
        binary_ok: bool,
    },
    Matches {
        re: regex::Regex,
        bin: Option<regex::bytes::Regex>,
    },
    /// `ISSUBSET`: the pattern's container, parsed.
    Subset(IpArg),
    /// `ISSUPERSET`: the pattern's containee, parsed.
    Superset(IpArg),
}

#[derive(Debug)]
struct Test {
    path: ObjectPath,
    negated: bool,
    pred: Pred,
}

#[derive(Debug)]
enum CExpr {
    And(Vec<CExpr>),
    Or(Vec<CExpr>),
    Test(Box<Test>),
    Exists(ObjectPath),
}

#[derive(Debug)]
enum OExpr {
    Simple(CExpr),
    And(Vec<OExpr>),
    Or(Vec<OExpr>),
    FollowedBy(Vec<OExpr>),
    Within(Box<OExpr>, i64),
    Repeats(Box<OExpr>, usize),
    StartStop(Box<OExpr>, Micros, Micros),
}

/// A pattern prepared for evaluation: literals coerced and regexes compiled once.
#[derive(Debug)]
pub struct CompiledPattern {
    root: OExpr,
    opts: EvalOptions,
}

const SCO_EXCLUDED: [&str; 25] = [
    "attack-pattern",
    "bundle",
    "campaign",
    "course-of-action",
    "extension-definition",
    "grouping",
    "identity",
    "incident",
    "indicator",
    "infrastructure",
    "intrusion-set",
    "language-content",
    "location",
    "malware",
    "malware-analysis",
    "marking-definition",
    "note",
    "observed-data",
    "opinion",
    "relationship",
    "report",
    "threat-actor",
    "tool",
    "sighting",
    "vulnerability",
];

fn lit(c: &Constant) -> Result<Lit, EvalError> {
    Ok(match c {
        Constant::Str(s) => Lit::Str(s.clone()),
        Constant::Int(i) => Lit::Int(*i),
        Constant::Float(f) => Lit::Float(*f),
        Constant::Bool(b) => Lit::Bool(*b),
        Constant::Binary(b) | Constant::Hex(b) => Lit::Bytes(b.clone()),
        Constant::Timestamp(t) => Lit::Time(
            py_datetime(t)
                .ok_or_else(|| EvalError::Literal(format!("Invalid TimestampLiteral: t'{t}'")))?,
        ),
        Constant::Set(_) => return Err(EvalError::Literal("a set is not a single literal".into())),
    })
}

impl CompiledPattern {
    /// Compiles a parsed pattern. Fails where the reference matcher fails regardless of
    /// the data: impossible timestamps, non-homogeneous sets, bad regexes, `WITHIN` not
    /// positive, `REPEATS` below 1.
    pub fn new(p: &Pattern, opts: EvalOptions) -> Result<Self, EvalError> {
        Ok(CompiledPattern {
            root: Self::obs(&p.root, &opts)?,
            opts,
        })
    }

    fn obs(e: &ObservationExpr, opts: &EvalOptions) -> Result<OExpr, EvalError> {
        let many = |v: &[ObservationExpr]| {
            v.iter()
                .map(|e| Self::obs(e, opts))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(match e {
            ObservationExpr::Comparison(c) => OExpr::Simple(Self::cmp(c, opts)?),
            ObservationExpr::And(v) => OExpr::And(many(v)?),
            ObservationExpr::Or(v) => OExpr::Or(many(v)?),
            ObservationExpr::FollowedBy(v) => OExpr::FollowedBy(many(v)?),
            ObservationExpr::Qualified { expr, qualifier } => {
                let inner = Box::new(Self::obs(expr, opts)?);
                match qualifier {
                    Qualifier::Within { seconds } => {
                        if *seconds <= 0.0 || seconds.is_nan() {
                            return Err(EvalError::Literal(format!(
                                "Invalid WITHIN value (must be positive): {seconds}"
                            )));
                        }
                        let micros = (seconds * 1e6).round_ties_even();
                        let micros = if micros > MAX_MICROS as f64 * 2.0 {
                            i64::MAX / 4
                        } else {
                            micros as i64
                        };
                        OExpr::Within(inner, micros)
                    }
                    Qualifier::Repeats { times } => {
                        if *times < 1 {
                            return Err(EvalError::Literal(format!(
                                "Invalid repetition count: {times}"
                            )));
                        }
                        OExpr::Repeats(inner, *times as usize)
                    }
                    Qualifier::StartStop { start, stop } => {
                        let t = |s: &str| {
                            py_datetime(s).ok_or_else(|| {
                                EvalError::Literal(format!("Invalid TimestampLiteral: t'{s}'"))
                            })
                        };
                        OExpr::StartStop(inner, t(start)?, t(stop)?)
                    }
                }
            }
        })
    }

    fn cmp(c: &ComparisonExpr, opts: &EvalOptions) -> Result<CExpr, EvalError> {
        let many = |v: &[ComparisonExpr]| {
            v.iter()
                .map(|e| Self::cmp(e, opts))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(match c {
            ComparisonExpr::And(v) => CExpr::And(many(v)?),
            ComparisonExpr::Or(v) => CExpr::Or(many(v)?),
            ComparisonExpr::Exists(p) => CExpr::Exists(p.clone()),
            ComparisonExpr::Test(t) => {
                let s = |v: &Constant| match v {
                    Constant::Str(s) => Ok(s.clone()),
                    other => Err(EvalError::Literal(format!(
                        "expected a string, got {other}"
                    ))),
                };
                let pred = match t.op {
                    CompOp::Eq | CompOp::Ne => Pred::Eq {
                        lit: lit(&t.value)?,
                        ne: t.op == CompOp::Ne,
                    },
                    CompOp::Lt | CompOp::Le | CompOp::Gt | CompOp::Ge => Pred::Order {
                        lit: lit(&t.value)?,
                        op: t.op,
                    },
                    CompOp::In => {
                        let Constant::Set(items) = &t.value else {
                            return Err(EvalError::Literal("IN needs a set".into()));
                        };
                        let set = items.iter().map(lit).collect::<Result<Vec<_>, _>>()?;
                        let first = set.first().map(Lit::py_type);
                        let homogeneous = set.iter().all(|l| Some(l.py_type()) == first);
                        let numbers = set.iter().all(|l| matches!(l, Lit::Int(_) | Lit::Float(_)));
                        if !homogeneous && !numbers {
                            return Err(EvalError::Literal(format!(
                                "Nonhomogenous set: {}",
                                t.value
                            )));
                        }
                        Pred::In {
                            times: first == Some(PyType::Datetime),
                            set,
                        }
                    }
                    CompOp::Like => {
                        let operand: String = s(&t.value)?.nfc().collect();
                        let src = like_to_regex(&operand);
                        Pred::Like {
                            binary_ok: src.chars().all(|c| u32::from(c) < 256),
                            re: build_regex(&src, opts)?,
                        }
                    }
                    CompOp::Matches => {
                        let src: String = s(&t.value)?.nfc().collect();
                        let re = build_regex(&py_regex_to_rust(&src), opts)?;
                        let bin = if src.chars().all(|c| u32::from(c) < 256) {
                            Some(build_bytes_regex(&py_regex_to_rust(&src), opts)?)
                        } else {
                            None
                        };
                        Pred::Matches { re, bin }
                    }
                    CompOp::IsSubset => Pred::Subset(IpArg::container(&s(&t.value)?)),
                    CompOp::IsSuperset => Pred::Superset(IpArg::containee(&s(&t.value)?)),
                };
                CExpr::Test(Box::new(Test {
                    path: t.path.clone(),
                    negated: t.negated,
                    pred,
                }))
            }
        })
    }

    /// Matches this pattern against prepared observations.
    pub fn matches(&self, data: &Observations<'_>) -> Result<MatchResult, EvalError> {
        self.first_binding(data, None)
    }

    /// Like [`CompiledPattern::matches`], but only bindings that include the observed-data
    /// whose `id` is `observed_data_id` count: reports the first such binding in the
    /// reference's order. The search goes through every binding (within
    /// [`EvalOptions::max_work`]) before answering "no match"; an unknown id never matches.
    /// Streaming evaluation uses this to report only combinations completed by the newest
    /// observation.
    pub fn matches_involving(
        &self,
        data: &Observations<'_>,
        observed_data_id: &str,
    ) -> Result<MatchResult, EvalError> {
        let Some(oi) = data
            .obs
            .iter()
            .position(|o| o.sdo.get("id").and_then(Value::as_str) == Some(observed_data_id))
        else {
            return Ok(MatchResult::default());
        };
        self.first_binding(data, Some(oi as u32))
    }

    fn first_binding(
        &self,
        data: &Observations<'_>,
        involving: Option<u32>,
    ) -> Result<MatchResult, EvalError> {
        let ctx = Ctx {
            data,
            work: Cell::new(0),
            max: self.opts.max_work,
            err: std::cell::RefCell::new(None),
        };
        let mut it = ctx.observe(&self.root)?;
        let first = match involving {
            None => it.next(),
            Some(oi) => it.find(|b| b.iter().any(|(o, _)| *o == oi)),
        };
        drop(it);
        if let Some(e) = ctx.err.borrow_mut().take() {
            return Err(e);
        }
        if ctx.work.get() > ctx.max {
            return Err(EvalError::Budget(ctx.max));
        }
        let Some(binding) = first else {
            return Ok(MatchResult::default());
        };
        let mut idx: Vec<usize> = binding
            .iter()
            .filter(|(_, inst)| *inst == 0)
            .map(|(o, _)| *o as usize)
            .collect();
        idx.sort_unstable();
        idx.dedup();
        let refs = idx
            .into_iter()
            .map(|i| {
                data.obs[i]
                    .sdo
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        Ok(MatchResult {
            matched: true,
            observed_data_refs: refs,
        })
    }
}

/// Parses, compiles and matches in one call. A pattern that does not parse or compile never
/// matches: the error is returned so that callers can report it.
pub fn match_pattern(
    pattern: &str,
    observed: &[Value],
    opts: EvalOptions,
) -> Result<MatchResult, crate::MatchError> {
    let p = crate::parse(pattern)?;
    let c = CompiledPattern::new(&p, opts)?;
    let data = Observations::new(observed)?;
    Ok(c.matches(&data)?)
}

// ---------------------------------------------------------------------------------------
// Comparison-level evaluation.

/// Per observation: the values selected for each root object (by root index).
type Selected<'a> = Vec<(usize, Vec<(usize, Vec<Val<'a>>)>)>;
/// Per observation: the root objects that passed (sorted, deduplicated).
type Passed = IndexMap<usize, Roots, hashbrown::DefaultHashBuilder>;

/// Root object numbers of one observation; the first is kept inline (usually the only
/// one), so most tests allocate nothing per observation.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Roots {
    first: Option<usize>,
    rest: Vec<usize>,
}

impl Roots {
    fn push(&mut self, r: usize) {
        if self.first.is_none() {
            self.first = Some(r);
        } else {
            self.rest.push(r);
        }
    }
    fn is_empty(&self) -> bool {
        self.first.is_none()
    }
    fn contains(&self, r: &usize) -> bool {
        self.first.as_ref() == Some(r) || self.rest.contains(r)
    }
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.first.into_iter().chain(self.rest.iter().copied())
    }
}

impl FromIterator<usize> for Roots {
    fn from_iter<I: IntoIterator<Item = usize>>(it: I) -> Self {
        let mut r = Roots::default();
        for x in it {
            r.push(x);
        }
        r
    }
}

struct Ctx<'d, 'a> {
    data: &'d Observations<'a>,
    work: Cell<u64>,
    max: u64,
    /// The first error raised inside a lazy binding filter.
    err: std::cell::RefCell<Option<EvalError>>,
}

fn type_name(v: &Val<'_>) -> &'static str {
    match v {
        Val::J(Value::Null) => "null",
        Val::J(Value::Bool(_)) => "bool",
        Val::J(Value::Number(_)) | Val::Num(_) => "number",
        Val::J(Value::String(_)) => "string",
        Val::J(Value::Array(_)) | Val::List(_) => "list",
        Val::J(Value::Object(_)) => "dict",
        Val::Bytes(_) => "bytes",
    }
}

impl<'a> Ctx<'_, 'a> {
    fn charge(&self, n: u64) -> bool {
        let w = self.work.get().saturating_add(n);
        self.work.set(w);
        w <= self.max && self.err.borrow().is_none()
    }

    fn fail(&self, e: EvalError) {
        let mut slot = self.err.borrow_mut();
        if slot.is_none() {
            *slot = Some(e);
        }
    }

    /// An observation's interval for a temporal check (the reference asserts
    /// first_observed <= last_observed there).
    fn checked_interval(&self, i: &Inst) -> Option<(Micros, Micros)> {
        let (f, l) = self.interval(i);
        if f > l {
            let id = self.data.obs[i.0 as usize]
                .sdo
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("?");
            self.fail(EvalError::Input(format!(
                "{id}: first_observed is after last_observed"
            )));
            return None;
        }
        Some((f, l))
    }

    fn select(&self, path: &ObjectPath) -> Result<Rc<Selected<'a>>, EvalError> {
        if let Some(hit) = self.data.cache.borrow().get(path) {
            self.charge(1);
            return Ok(Rc::clone(hit));
        }
        let sel = Rc::new(self.select_uncached(path)?);
        let mut cache = self.data.cache.borrow_mut();
        if cache.len() >= SELECT_CACHE_PATHS {
            cache.clear();
        }
        cache.insert(path.clone(), Rc::clone(&sel));
        Ok(sel)
    }

    fn select_uncached(&self, path: &ObjectPath) -> Result<Selected<'a>, EvalError> {
        let mut out: Selected<'a> = Vec::new();
        if SCO_EXCLUDED.contains(&path.object_type.as_str()) {
            return Ok(out);
        }
        let hits = self
            .data
            .by_type
            .get(path.object_type.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        // The first step (always a key) is taken straight from each root object, without
        // materialising the roots as a selection first.
        let mut steps = path.steps.iter();
        let first = steps.next();
        for &(oi, ri) in hits {
            let (oi, ri) = (oi as usize, ri as usize);
            let obj = self.data.obs[oi].objects[ri].1;
            let vals = match first {
                None => vec![Val::J(obj)],
                Some(PathStep::Key(k)) => {
                    let mut v = Vec::new();
                    if let Value::Object(m) = obj {
                        if let Some(val) = map_get(m, k) {
                            v.push(suffix(k, val)?);
                        }
                    }
                    self.deref(oi, k, v)?
                }
                // An index step on an object selects nothing.
                Some(_) => Vec::new(),
            };
            if vals.is_empty() {
                continue;
            }
            match out.last_mut() {
                Some((last, roots)) if *last == oi => roots.push((ri, vals)),
                _ => out.push((oi, vec![(ri, vals)])),
            }
        }
        self.charge(hits.len() as u64 / 16 + 1);
        for step in steps {
            let mut next: Selected<'a> = Vec::with_capacity(out.len());
            for (oi, roots) in out {
                let mut kept = Vec::new();
                for (ri, vals) in roots {
                    let stepped = match step {
                        PathStep::Key(k) => {
                            let mut v = Vec::new();
                            for x in &vals {
                                if let Val::J(Value::Object(m)) = x {
                                    if let Some(val) = map_get(m, k) {
                                        v.push(suffix(k, val)?);
                                    }
                                }
                            }
                            self.deref(oi, k, v)?
                        }
                        PathStep::Index(n) => vals
                            .iter()
                            .filter_map(|x| match x {
                                Val::J(Value::Array(a)) => a.get(*n).map(Val::J),
                                Val::List(l) => l.get(*n).cloned(),
                                _ => None,
                            })
                            .collect(),
                        PathStep::AnyIndex => {
                            let mut v = Vec::new();
                            for x in &vals {
                                match x {
                                    Val::J(Value::Array(a)) => v.extend(a.iter().map(Val::J)),
                                    Val::List(l) => v.extend(l.iter().cloned()),
                                    _ => {}
                                }
                            }
                            v
                        }
                    };
                    if !stepped.is_empty() {
                        kept.push((ri, stepped));
                    }
                }
                if !kept.is_empty() {
                    next.push((oi, kept));
                }
            }
            out = next;
        }
        // Parse numbers once here; the selection is cached and tested by many patterns.
        for (_, roots) in &mut out {
            for (_, vals) in roots {
                for v in vals.iter_mut() {
                    if let Val::J(Value::Number(n)) = v {
                        *v = Val::Num(json_num(n));
                    }
                }
            }
        }
        Ok(out)
    }

    fn resolve(&self, oi: usize, r: &Val<'a>, prop: &str) -> Result<Vec<Val<'a>>, EvalError> {
        let Val::J(Value::String(id)) = r else {
            return Err(EvalError::Value(format!(
                "{} value of reference property '{prop}' was not a string (got a {})",
                if prop.ends_with("_refs") { "A" } else { "The" },
                type_name(r)
            )));
        };
        let o = &self.data.obs[oi];
        Ok(if o.embedded {
            o.objects
                .iter()
                .filter(|(k, _)| *k == id.as_str())
                .map(|(_, v)| Val::J(v))
                .collect()
        } else {
            o.all
                .iter()
                .filter(|(k, _)| *k == id.as_str())
                .map(|(_, v)| Val::J(v))
                .collect()
        })
    }

    fn deref(&self, oi: usize, prop: &str, vals: Vec<Val<'a>>) -> Result<Vec<Val<'a>>, EvalError> {
        if prop.ends_with("_ref") {
            let mut out = Vec::new();
            for r in &vals {
                out.extend(self.resolve(oi, r, prop)?);
            }
            Ok(out)
        } else if prop.ends_with("_refs") {
            let mut out = Vec::new();
            for list in &vals {
                let items: Vec<Val<'a>> = match list {
                    Val::J(Value::Array(a)) => a.iter().map(Val::J).collect(),
                    Val::List(l) => l.to_vec(),
                    other => {
                        return Err(EvalError::Value(format!(
                        "The value of reference list property '{prop}' was not a list (got a {})",
                        type_name(other)
                    )))
                    }
                };
                let mut objs = Vec::new();
                for r in &items {
                    objs.extend(self.resolve(oi, r, prop)?);
                }
                if !objs.is_empty() {
                    out.push(Val::List(Rc::new(objs)));
                }
            }
            Ok(out)
        } else {
            Ok(vals)
        }
    }

    fn comparison(&self, c: &CExpr) -> Result<Passed, EvalError> {
        match c {
            CExpr::Test(t) => self.test(t),
            CExpr::Exists(path) => {
                let sel = self.select(path)?;
                Ok(sel
                    .iter()
                    .map(|(oi, roots)| (*oi, roots.iter().map(|(r, _)| *r).collect()))
                    .collect())
            }
            CExpr::And(v) => {
                let mut acc = self.comparison(&v[0])?;
                for e in &v[1..] {
                    let rhs = self.comparison(e)?;
                    acc = acc
                        .into_iter()
                        .filter_map(|(oi, roots)| {
                            let other = rhs.get(&oi)?;
                            let both: Roots = roots.iter().filter(|r| other.contains(r)).collect();
                            (!both.is_empty()).then_some((oi, both))
                        })
                        .collect();
                }
                Ok(acc)
            }
            CExpr::Or(v) => {
                let mut acc = self.comparison(&v[0])?;
                for e in &v[1..] {
                    for (oi, roots) in self.comparison(e)? {
                        let slot = acc.entry(oi).or_default();
                        for r in roots.iter() {
                            if !slot.contains(&r) {
                                slot.push(r);
                            }
                        }
                    }
                }
                Ok(acc)
            }
        }
    }

    /// The string literals of an `=` / `IN` test that can be answered from the string index
    /// (same result as the scan: only a string value equals a string literal, and bytes
    /// values, which could equal one too, only come from `_hex`/`_bin` properties).
    fn indexable<'t>(&self, t: &'t Test) -> Option<Vec<&'t str>> {
        if t.negated
            || t.path.steps.iter().any(
                |s| matches!(s, PathStep::Key(k) if k.ends_with("_hex") || k.ends_with("_bin")),
            )
        {
            return None;
        }
        match &t.pred {
            Pred::Eq {
                lit: Lit::Str(s),
                ne: false,
            } => Some(vec![s.as_str()]),
            Pred::In { set, times: false } if !set.is_empty() => set
                .iter()
                .map(|l| match l {
                    Lit::Str(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    }

    fn string_index(&self, path: &ObjectPath) -> Result<Rc<StrIndex<'a>>, EvalError> {
        if let Some(hit) = self.data.str_index.borrow().get(path) {
            return Ok(Rc::clone(hit));
        }
        let sel = self.select(path)?;
        let mut idx: StrIndex<'a> = hashbrown::HashMap::new();
        for (oi, roots) in sel.iter() {
            for (ri, vals) in roots {
                for v in vals {
                    if let Val::J(Value::String(s)) = v {
                        let at = (*oi as u32, *ri as u32);
                        let list = idx.entry(s.as_str()).or_default();
                        if list.last() != Some(&at) {
                            list.push(at);
                        }
                    }
                }
            }
        }
        let idx = Rc::new(idx);
        let mut cache = self.data.str_index.borrow_mut();
        if cache.len() >= SELECT_CACHE_PATHS {
            cache.clear();
        }
        cache.insert(path.clone(), Rc::clone(&idx));
        Ok(idx)
    }

    fn str_table(&self, path: &ObjectPath) -> Result<Rc<StrTable<'a>>, EvalError> {
        if let Some(hit) = self.data.str_table.borrow().get(path) {
            return Ok(Rc::clone(hit));
        }
        let sel = self.select(path)?;
        /// Equal keys give equal predicate results.
        #[derive(PartialEq, Eq, Hash)]
        enum Key<'s> {
            S(&'s str),
            I(i128),
            F(u64),
            B(bool),
            Null,
        }
        let mut ids: hashbrown::HashMap<Key<'a>, u32> = hashbrown::HashMap::new();
        let mut table = StrTable {
            values: Vec::new(),
            entries: Vec::new(),
        };
        for (oi, roots) in sel.iter() {
            for (ri, vals) in roots {
                for v in vals {
                    let key = match v {
                        Val::J(Value::String(s)) => Key::S(s.as_str()),
                        Val::J(Value::Bool(b)) => Key::B(*b),
                        Val::J(Value::Null) => Key::Null,
                        Val::Num(Num::I(i)) => Key::I(*i),
                        Val::Num(Num::F(f)) => Key::F(f.to_bits()),
                        // Lists, objects, bytes: a number of their own (no sharing).
                        _ => {
                            table.values.push(v.clone());
                            let id = table.values.len() as u32 - 1;
                            table.entries.push((*oi as u32, *ri as u32, id));
                            continue;
                        }
                    };
                    let next = table.values.len() as u32;
                    let id = *ids.entry(key).or_insert(next);
                    if id == next {
                        table.values.push(v.clone());
                    }
                    table.entries.push((*oi as u32, *ri as u32, id));
                }
            }
        }
        let table = Rc::new(table);
        let mut cache = self.data.str_table.borrow_mut();
        if cache.len() >= SELECT_CACHE_PATHS {
            cache.clear();
        }
        cache.insert(path.clone(), table.clone());
        Ok(table)
    }

    /// [`Ctx::test`] over a [`StrTable`]: the same scan, with the predicate evaluated once
    /// per distinct string (lazily, so an error is raised exactly where the plain scan
    /// would raise it).
    fn table_pairs(&self, t: &Test, tab: &StrTable<'a>) -> Result<Vec<(u32, u32)>, EvalError> {
        const UNSET: u8 = 2;
        let mut memo = vec![UNSET; tab.values.len()];
        let mut hits: Vec<(u32, u32)> = Vec::new();
        for &(oi, ri, id) in &tab.entries {
            if hits.last() == Some(&(oi, ri)) {
                continue;
            }
            let slot = &mut memo[id as usize];
            if *slot == UNSET {
                let r = pred(&t.pred, &tab.values[id as usize])?;
                *slot = u8::from(r.is_some_and(|r| r != t.negated));
            }
            if *slot == 1 {
                hits.push((oi, ri));
            }
        }
        Ok(hits)
    }

    /// The (observation, root) pairs passing one test, in scan order (grouped by
    /// observation).
    fn test_pairs(&self, t: &Test) -> Result<Vec<(u32, u32)>, EvalError> {
        if let Some(keys) = self.indexable(t) {
            let idx = self.string_index(&t.path)?;
            let mut hits: Vec<(u32, u32)> = Vec::new();
            for k in &keys {
                if let Some(list) = idx.get(k) {
                    hits.extend_from_slice(list);
                }
            }
            if keys.len() > 1 {
                hits.sort_unstable();
                hits.dedup();
            }
            self.charge(hits.len() as u64 / 16 + 1);
            return Ok(hits);
        }
        // The table scan: the predicate once per distinct value, lazily, so an error is
        // raised exactly where a plain scan of every value would raise it.
        let tab = self.str_table(&t.path)?;
        self.table_pairs(t, &tab)
    }

    fn test(&self, t: &Test) -> Result<Passed, EvalError> {
        let hits = self.test_pairs(t)?;
        let groups = hits.windows(2).filter(|w| w[0].0 != w[1].0).count() + 1;
        let mut out = Passed::with_capacity_and_hasher(groups, Default::default());
        for (oi, ri) in hits {
            out.entry(oi as usize).or_default().push(ri as usize);
        }
        Ok(out)
    }

    /// The observations passing one test, in the order [`Ctx::test`]'s keys have (the
    /// pairs come grouped by observation, in increasing order: selections follow the
    /// observations' order).
    fn test_observations(&self, t: &Test) -> Result<Vec<usize>, EvalError> {
        let mut out: Vec<usize> = Vec::new();
        for (oi, _) in self.test_pairs(t)? {
            if out.last() != Some(&(oi as usize)) {
                out.push(oi as usize);
            }
        }
        Ok(out)
    }
}

fn suffix<'a>(k: &str, v: &'a Value) -> Result<Val<'a>, EvalError> {
    if k.ends_with("_hex") {
        let s = v
            .as_str()
            .ok_or_else(|| EvalError::Value(format!("'{k}' is not a hex string")))?;
        return hex::decode(s)
            .map(|b| Val::Bytes(Rc::new(b)))
            .map_err(|e| EvalError::Value(format!("'{k}': invalid hex: {e}")));
    }
    if k.ends_with("_bin") {
        let s = v
            .as_str()
            .ok_or_else(|| EvalError::Value(format!("'{k}' is not a base64 string")))?;
        return py_b64decode(s)
            .map(|b| Val::Bytes(Rc::new(b)))
            .ok_or_else(|| EvalError::Value(format!("'{k}': invalid base64")));
    }
    Ok(Val::J(v))
}

/// `base64.standard_b64decode` (non-validating: characters outside the alphabet are
/// discarded, then padding must be right).
fn py_b64decode(s: &str) -> Option<Vec<u8>> {
    let mut clean: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/' || *c == '=')
        .collect();
    // Python stops at the first complete padded quantum; data after padding is ignored.
    if let Some(p) = clean.find('=') {
        let q = p - p % 4;
        let end = (q + 4).min(clean.len());
        clean.truncate(end);
    }
    crate::parser::LENIENT_BASE64.decode(clean).ok()
}

/// NFC form of `s`, borrowing when it already is (the common case).
fn nfc(s: &str) -> std::borrow::Cow<'_, str> {
    if s.is_ascii() {
        return std::borrow::Cow::Borrowed(s);
    }
    match unicode_normalization::is_nfc_quick(s.chars()) {
        unicode_normalization::IsNormalized::Yes => std::borrow::Cow::Borrowed(s),
        _ => std::borrow::Cow::Owned(s.nfc().collect()),
    }
}

/// One property test on one value, before `NOT`; `None` means "false, whatever `NOT`
/// says" (the reference's early return for incomparable types in order tests).
fn pred(p: &Pred, v: &Val<'_>) -> Result<Option<bool>, EvalError> {
    Ok(Some(match p {
        Pred::Eq { lit, ne } => {
            let d = dval(v, matches!(lit, Lit::Time(_)))?;
            py_eq(&d, lit) != *ne
        }
        Pred::Order { lit, op } => {
            let d = dval(v, matches!(lit, Lit::Time(_)))?;
            match py_cmp(&d, lit) {
                Err(true) => return Ok(None),
                Err(false) => false,
                Ok(o) => match op {
                    CompOp::Lt => o == Ordering::Less,
                    CompOp::Gt => o == Ordering::Greater,
                    CompOp::Le => o != Ordering::Greater,
                    _ => o != Ordering::Less,
                },
            }
        }
        Pred::In { set, times } => {
            let d = dval(v, *times)?;
            py_in(&d, set)
        }
        Pred::Like { re, binary_ok } => {
            let owned;
            let s: &str = match v {
                Val::Bytes(b) if *binary_ok => {
                    owned = String::from_utf8(b.to_vec())
                        .map_err(|_| EvalError::Value("binary value is not UTF-8".into()))?;
                    &owned
                }
                Val::J(Value::String(s)) => s,
                _ => return Ok(Some(false)),
            };
            re.is_match(&nfc(s))
        }
        Pred::Matches { re, bin } => match v {
            Val::J(Value::String(s)) => re.is_match(&nfc(s)),
            Val::Bytes(b) => bin.as_ref().is_some_and(|r| r.is_match(b)),
            _ => false,
        },
        Pred::Subset(container) => match v {
            Val::J(Value::String(s)) => in_subnet_parsed(&IpArg::containee(s), container)?,
            _ => false,
        },
        Pred::Superset(containee) => match v {
            Val::J(Value::String(s)) => in_subnet_parsed(containee, &IpArg::container(s))?,
            _ => false,
        },
    }))
}

// ---------------------------------------------------------------------------------------
// Observation-level evaluation: lazy binding iterators.

/// An observation instance: (observation index, instance index < number_observed).
type Inst = (u32, u32);
type Binding = Rc<[Inst]>;
type Bindings<'c> = Box<dyn Iterator<Item = Binding> + 'c>;

fn disjoint(a: &[Inst], b: &[Inst]) -> bool {
    a.iter().all(|x| !b.contains(x))
}

fn concat(a: &[Inst], b: &[Inst]) -> Binding {
    a.iter().chain(b.iter()).copied().collect()
}

impl<'d, 'a> Ctx<'d, 'a> {
    fn interval(&self, i: &Inst) -> (Micros, Micros) {
        let o = &self.data.obs[i.0 as usize];
        (o.first, o.last)
    }

    fn latest_first(&self, b: &[Inst]) -> Micros {
        b.iter()
            .map(|i| self.interval(i).0)
            .max()
            .unwrap_or(Micros::MIN)
    }

    fn earliest_last(&self, b: &[Inst]) -> Micros {
        b.iter()
            .map(|i| self.interval(i).1)
            .min()
            .unwrap_or(Micros::MAX)
    }

    fn observe<'c>(&'c self, e: &'c OExpr) -> Result<Bindings<'c>, EvalError> {
        Ok(match e {
            OExpr::Simple(c) => {
                // One test: only which observations pass matters here.
                let passed: Vec<usize> = match c {
                    CExpr::Test(t) => self.test_observations(t)?,
                    _ => self.comparison(c)?.into_keys().collect(),
                };
                let data = self.data;
                Box::new(
                    passed
                        .into_iter()
                        .flat_map(move |oi| {
                            let n = data.obs[oi].number;
                            (0..n).map(move |k| -> Binding {
                                Rc::from([(oi as u32, k as u32)].as_slice())
                            })
                        })
                        .take_while(move |_| self.charge(1)),
                )
            }
            OExpr::And(v) | OExpr::FollowedBy(v) => {
                let fb = matches!(e, OExpr::FollowedBy(_));
                let mut acc = self.observe(&v[0])?;
                for x in &v[1..] {
                    let rhs = self.observe(x)?;
                    acc = Box::new(Join {
                        ctx: self,
                        followed_by: fb,
                        lhs: acc,
                        rhs,
                        lhs_cache: Vec::new(),
                        rhs_cache: Vec::new(),
                        next_l: None,
                        next_r: None,
                        phase: Phase::Init,
                    });
                }
                acc
            }
            OExpr::Or(v) => {
                let mut acc = self.observe(&v[0])?;
                for x in &v[1..] {
                    let rhs = self.observe(x)?;
                    acc = Box::new(OrJoin {
                        lhs: acc,
                        rhs,
                        next_l: None,
                        next_r: None,
                        started: false,
                        turn_left: true,
                    });
                }
                acc
            }
            OExpr::Within(inner, micros) => {
                let it = self.observe(inner)?;
                let d = *micros;
                Box::new(it.filter(move |b| {
                    self.charge(b.len() as u64);
                    let earliest_last = self.earliest_last(b);
                    let end = earliest_last.saturating_add(d);
                    if end > MAX_MICROS {
                        self.fail(EvalError::Value(
                            "WITHIN window ends after year 9999".into(),
                        ));
                        return false;
                    }
                    b.iter().all(|i| match self.checked_interval(i) {
                        Some((f, l)) => earliest_last <= l && f <= end,
                        None => false,
                    })
                }))
            }
            OExpr::StartStop(inner, start, stop) => {
                let it = self.observe(inner)?;
                let (start, stop) = (*start, *stop);
                if start < stop {
                    Box::new(it.filter(move |b| {
                        self.charge(b.len() as u64);
                        b.iter().all(|i| match self.checked_interval(i) {
                            Some((f, l)) => f < stop && start <= l,
                            None => false,
                        })
                    }))
                } else {
                    // The reference still walks (and so checks) the inner expression.
                    Box::new(it.take(0))
                }
            }
            OExpr::Repeats(inner, k) => {
                let it = self.observe(inner)?;
                if *k == 1 {
                    it
                } else {
                    Box::new(Repeats {
                        ctx: self,
                        src: it,
                        k: *k,
                        generated: Vec::new(),
                        primed: false,
                        current: None,
                    })
                }
            }
        })
    }
}

enum Phase {
    Init,
    R(usize),
    L(usize),
    Check,
    Done,
}

/// The reference's AND / FOLLOWEDBY join: a lazily built, filtered cross product that
/// alternates between new right-hand and new left-hand bindings.
struct Join<'c, 'd, 'a> {
    ctx: &'c Ctx<'d, 'a>,
    followed_by: bool,
    lhs: Bindings<'c>,
    rhs: Bindings<'c>,
    lhs_cache: Vec<Binding>,
    rhs_cache: Vec<Binding>,
    next_l: Option<Binding>,
    next_r: Option<Binding>,
    phase: Phase,
}

impl Join<'_, '_, '_> {
    fn ok(&self, l: &[Inst], r: &[Inst]) -> bool {
        disjoint(l, r)
            && (!self.followed_by || self.ctx.latest_first(l) <= self.ctx.earliest_last(r))
    }
}

impl Iterator for Join<'_, '_, '_> {
    type Item = Binding;
    fn next(&mut self) -> Option<Binding> {
        loop {
            if !self.ctx.charge(1) {
                self.phase = Phase::Done;
            }
            match self.phase {
                Phase::Done => return None,
                Phase::Init => {
                    self.next_r = self.rhs.next();
                    self.next_l = self.lhs.next();
                    self.phase = if self.next_r.is_none() || self.next_l.is_none() {
                        Phase::Done
                    } else {
                        Phase::R(0)
                    };
                }
                Phase::R(i) => {
                    let Some(r) = self.next_r.clone() else {
                        self.phase = Phase::L(0);
                        continue;
                    };
                    if i < self.lhs_cache.len() {
                        self.phase = Phase::R(i + 1);
                        let l = &self.lhs_cache[i];
                        if self.ok(l, &r) {
                            return Some(concat(l, &r));
                        }
                        continue;
                    }
                    self.rhs_cache.push(r);
                    self.next_r = self.rhs.next();
                    self.phase = Phase::L(0);
                }
                Phase::L(i) => {
                    let Some(l) = self.next_l.clone() else {
                        self.phase = Phase::Check;
                        continue;
                    };
                    if i < self.rhs_cache.len() {
                        self.phase = Phase::L(i + 1);
                        let r = &self.rhs_cache[i];
                        if self.ok(&l, r) {
                            return Some(concat(&l, r));
                        }
                        continue;
                    }
                    self.lhs_cache.push(l);
                    self.next_l = self.lhs.next();
                    self.phase = Phase::Check;
                }
                Phase::Check => {
                    self.phase = if self.next_r.is_none() && self.next_l.is_none() {
                        Phase::Done
                    } else {
                        Phase::R(0)
                    };
                }
            }
        }
    }
}

/// The reference's pattern-level OR: one-sided bindings, alternating left and right.
struct OrJoin<'c> {
    lhs: Bindings<'c>,
    rhs: Bindings<'c>,
    next_l: Option<Binding>,
    next_r: Option<Binding>,
    started: bool,
    turn_left: bool,
}

impl Iterator for OrJoin<'_> {
    type Item = Binding;
    fn next(&mut self) -> Option<Binding> {
        if !self.started {
            self.started = true;
            self.next_l = self.lhs.next();
            self.next_r = self.rhs.next();
        }
        loop {
            if self.next_l.is_none() && self.next_r.is_none() {
                return None;
            }
            if self.turn_left {
                self.turn_left = false;
                if let Some(l) = self.next_l.take() {
                    self.next_l = self.lhs.next();
                    return Some(l);
                }
            } else {
                self.turn_left = true;
                if let Some(r) = self.next_r.take() {
                    self.next_r = self.rhs.next();
                    return Some(r);
                }
            }
        }
    }
}

/// `_filtered_combinations(bindings, k)`, flattened.
struct Repeats<'c, 'd, 'a> {
    ctx: &'c Ctx<'d, 'a>,
    src: Bindings<'c>,
    k: usize,
    generated: Vec<Binding>,
    primed: bool,
    current: Option<(Binding, FromList<'c, 'd, 'a>)>,
}

impl Iterator for Repeats<'_, '_, '_> {
    type Item = Binding;
    fn next(&mut self) -> Option<Binding> {
        if !self.primed {
            self.primed = true;
            while self.generated.len() < self.k - 1 {
                match self.src.next() {
                    Some(b) => self.generated.push(b),
                    None => break,
                }
            }
        }
        loop {
            if let Some((next_value, sub)) = &mut self.current {
                match sub.next() {
                    Some(Ok(combo)) => {
                        let mut flat: Vec<Inst> =
                            combo.iter().flat_map(|b| b.iter().copied()).collect();
                        flat.extend(next_value.iter().copied());
                        return Some(flat.into());
                    }
                    Some(Err(_)) | None => {
                        if let Some((nv, _)) = self.current.take() {
                            self.generated.push(nv);
                        }
                    }
                }
            }
            let next_value = self.src.next()?;
            if !self.ctx.charge(self.generated.len() as u64 + 1) {
                return None;
            }
            let filtered: Vec<Binding> = self
                .generated
                .iter()
                .filter(|c| disjoint(c, &next_value))
                .cloned()
                .collect();
            let sub = FromList::new(self.ctx, Rc::new(filtered), self.k - 1);
            self.current = Some((next_value, sub));
        }
    }
}

fn bound_largest_combination(values: &[Binding]) -> usize {
    if values.is_empty() {
        return 0;
    }
    let max_size = values.iter().map(|v| v.len()).max().unwrap_or(0);
    let mut by_size: Vec<Vec<Inst>> = vec![Vec::new(); max_size + 1];
    for v in values {
        for x in v.iter() {
            if !by_size[v.len()].contains(x) {
                by_size[v.len()].push(*x);
            }
        }
    }
    let mut consumed: Vec<Inst> = Vec::new();
    let mut size = 0;
    for (i, idx) in by_size.iter().enumerate().take(max_size).skip(1) {
        let avail: Vec<Inst> = idx
            .iter()
            .filter(|x| !consumed.contains(x))
            .copied()
            .collect();
        size += avail.len().div_ceil(i);
        consumed.extend(avail);
    }
    let avail = by_size[max_size]
        .iter()
        .filter(|x| !consumed.contains(x))
        .count();
    size + avail / max_size.max(1)
}

/// `_filtered_combinations_from_list(values, k)` as a lazy iterator; `Err(n)` is the
/// reference's `NotEnoughValues(n)` (only ever produced before any combination).
struct FromList<'c, 'd, 'a> {
    ctx: &'c Ctx<'d, 'a>,
    values: Rc<Vec<Binding>>,
    k: usize,
    i: usize,
    started: bool,
    done: bool,
    sub: Option<(Box<FromList<'c, 'd, 'a>>, usize)>,
    yielded: bool,
}

impl<'c, 'd, 'a> FromList<'c, 'd, 'a> {
    fn new(ctx: &'c Ctx<'d, 'a>, values: Rc<Vec<Binding>>, k: usize) -> Self {
        FromList {
            ctx,
            values,
            k,
            i: 0,
            started: false,
            done: false,
            sub: None,
            yielded: false,
        }
    }
}

impl Iterator for FromList<'_, '_, '_> {
    type Item = Result<Vec<Binding>, usize>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.k == 1 {
            let v = self.values.get(self.i)?.clone();
            self.i += 1;
            return Some(Ok(vec![v]));
        }
        if !self.started {
            self.started = true;
            let bound = bound_largest_combination(&self.values);
            if bound < self.k {
                self.done = true;
                return Some(Err(self.k - bound));
            }
        }
        loop {
            if !self.ctx.charge(1) {
                self.done = true;
                return None;
            }
            if self.sub.is_none() {
                let n = self.values.len();
                if self.i + self.k > n {
                    self.done = true;
                    return None;
                }
                let head = &self.values[self.i];
                let filtered: Vec<Binding> = self.values[self.i + 1..]
                    .iter()
                    .filter(|c| disjoint(head, c))
                    .cloned()
                    .collect();
                self.ctx.charge((n - self.i) as u64);
                let flen = filtered.len();
                self.sub = Some((
                    Box::new(FromList::new(self.ctx, Rc::new(filtered), self.k - 1)),
                    flen,
                ));
                self.yielded = false;
            }
            let Some((sub, flen)) = &mut self.sub else {
                continue;
            };
            let flen = *flen;
            match sub.next() {
                Some(Ok(mut combo)) => {
                    self.yielded = true;
                    combo.insert(0, self.values[self.i].clone());
                    return Some(Ok(combo));
                }
                Some(Err(missing)) => {
                    self.sub = None;
                    if !self.yielded {
                        let rest = self.values.len() - self.i - 1;
                        let max_add = (rest - flen).min(self.values[self.i].len());
                        let expected = (missing + 1) as i64 - max_add as i64;
                        if expected > 0 {
                            self.done = true;
                            if self.i == 0 {
                                return Some(Err(expected as usize));
                            }
                            return None;
                        }
                    }
                    self.i += 1;
                }
                None => {
                    self.sub = None;
                    self.i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(n: u32, t: &str, ip: &str) -> Vec<Value> {
        let sco = format!("ipv4-addr--00000000-0000-4000-8000-{n:012x}");
        vec![
            serde_json::json!({"type": "observed-data", "id": format!("observed-data--{n}"),
                "first_observed": t, "last_observed": t, "number_observed": 1,
                "object_refs": [sco]}),
            serde_json::json!({"type": "ipv4-addr", "id": sco, "value": ip}),
        ]
    }

    #[test]
    fn matches_involving_only_counts_bindings_with_that_observation() {
        let mut data = observed(1, "2026-01-01T00:00:00Z", "10.0.0.1");
        data.extend(observed(2, "2026-01-01T00:00:10Z", "10.0.0.2"));
        data.extend(observed(3, "2026-01-01T00:00:20Z", "10.0.0.1"));
        let obs = Observations::new(&data).unwrap();
        let p = |s: &str| CompiledPattern::new(&crate::parse(s).unwrap(), EvalOptions::default());
        // [10.0.0.1] alone: the first binding is observation 1, but 3 also binds.
        let one = p("[ipv4-addr:value = '10.0.0.1']").unwrap();
        assert_eq!(
            one.matches(&obs).unwrap().observed_data_refs,
            ["observed-data--1"]
        );
        let r = one.matches_involving(&obs, "observed-data--3").unwrap();
        assert_eq!(r.observed_data_refs, ["observed-data--3"]);
        assert!(
            !one.matches_involving(&obs, "observed-data--2")
                .unwrap()
                .matched
        );
        assert!(
            !one.matches_involving(&obs, "observed-data--9")
                .unwrap()
                .matched
        );
        // A FOLLOWEDBY binding through the middle observation, and a window it misses.
        let fb =
            p("[ipv4-addr:value = '10.0.0.2'] FOLLOWEDBY [ipv4-addr:value = '10.0.0.1']").unwrap();
        let r = fb.matches_involving(&obs, "observed-data--2").unwrap();
        assert_eq!(
            r.observed_data_refs,
            ["observed-data--2", "observed-data--3"]
        );
        assert!(
            !fb.matches_involving(&obs, "observed-data--1")
                .unwrap()
                .matched
        );
        let w = p(
            "([ipv4-addr:value = '10.0.0.1'] AND [ipv4-addr:value = '10.0.0.2']) WITHIN 5 SECONDS",
        )
        .unwrap();
        assert!(
            !w.matches_involving(&obs, "observed-data--2")
                .unwrap()
                .matched
        );
    }

    #[test]
    fn observations_from_a_selection_equal_a_copy_of_it() {
        let mut data = observed(1, "2026-01-01T00:00:00Z", "10.0.0.1");
        data.extend(observed(2, "2026-01-01T00:00:10Z", "10.0.0.2"));
        data.extend(observed(3, "2026-01-01T00:00:20Z", "10.0.0.1"));
        // Observations 3 and 1 (in that order), by reference and as a copy.
        let pick = [4, 5, 0, 1];
        let copy: Vec<Value> = pick.iter().map(|&i| data[i].clone()).collect();
        let by_ref = Observations::from_values(pick.iter().map(|&i| &data[i])).unwrap();
        let copied = Observations::new(&copy).unwrap();
        assert_eq!(by_ref.len(), 2);
        let p = "[ipv4-addr:value = '10.0.0.1'] REPEATS 2 TIMES";
        let c = CompiledPattern::new(&crate::parse(p).unwrap(), EvalOptions::default()).unwrap();
        assert_eq!(c.matches(&by_ref).unwrap(), c.matches(&copied).unwrap());
        assert!(c.matches(&by_ref).unwrap().matched);
    }

    #[test]
    fn canonical_datetimes_agree_with_the_general_path() {
        // The general path alone (as before the fast path existed).
        let general = |s: &str| {
            assert!(
                canonical_datetime(s.as_bytes()).is_some(),
                "{s} is canonical"
            );
            py_datetime_general(s)
        };
        for s in [
            "2026-03-01T10:05:00Z",
            "2026-03-01T10:05:00.1Z",
            "2026-03-01T10:05:00.123456Z",
            "2024-02-29T23:59:59.000001Z",
            "2023-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "2026-03-01T10:05:60Z",
            "2026-03-01T10:05:61.5Z",
            "1969-12-31T23:59:59.999999Z",
        ] {
            assert_eq!(py_datetime(s), general(s), "{s}");
        }
        for s in [
            "2026-03-01T24:00:00Z",
            "2026-3-01T10:05:00Z",
            "2026-03-01T10:05:00.1234567Z",
            "2026-03-01t10:05:00Z",
            "2026-03-01T10:05:00+00:00",
            "2026-00-01T10:05:00Z",
            "2026-03-00T10:05:00Z",
        ] {
            assert!(canonical_datetime(s.as_bytes()).is_none(), "{s}");
        }
    }

    #[test]
    fn python_datetime_rules() {
        assert_eq!(py_datetime("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(py_datetime("1970-01-01T00:00:01.5Z"), Some(1_500_000));
        assert_eq!(py_datetime("1970-1-1T0:0:1Z"), Some(1_000_000));
        assert_eq!(py_datetime("1970-01-01T00:00:00.1234567Z"), Some(123_456));
        assert_eq!(py_datetime("2016-02-30T00:00:00Z"), None);
        assert_eq!(py_datetime("2016-01-01T00:00:60Z"), None);
        assert_eq!(py_datetime("2016-01-01t00:00:00Z"), None);
    }

    #[test]
    fn inet_aton_forms() {
        assert_eq!(inet_aton("1.2.3.4"), Some(0x01020304));
        assert_eq!(inet_aton("1"), Some(1));
        assert_eq!(inet_aton("1.2"), Some(0x01000002));
        assert_eq!(inet_aton("0x7f.1"), Some(0x7f000001));
        assert_eq!(inet_aton("010.0.0.1"), Some(0x08000001));
        assert_eq!(inet_aton("1.2.3.4 junk"), Some(0x01020304));
        assert_eq!(inet_aton("1.2.3.256"), None);
        assert_eq!(inet_aton("09.1.1.1"), None);
        assert_eq!(inet_aton("a.b"), None);
    }

    #[test]
    fn cidr_and_regex_translation() {
        assert_eq!(in_subnet("10.1.2.3", "10.0.0.0/8"), Ok(true));
        assert_eq!(in_subnet("10.1.2.3/16", "10.1.0.0/16"), Ok(true));
        assert_eq!(in_subnet("10.0.0.0/8", "10.1.0.0/16"), Ok(false));
        assert!(in_subnet("10.0.0.1", "10.0.0.0/0").is_err());
        assert_eq!(in_subnet("2001:db8::1", "2001:db8::/32"), Ok(true));
        let re = build_regex(&py_regex_to_rust("^abc$"), &EvalOptions::default()).unwrap();
        assert!(re.is_match("abc\n"));
        assert!(!re.is_match("abc\n\n"));
        let re = build_regex(&like_to_regex("a%.b_"), &EvalOptions::default()).unwrap();
        assert!(re.is_match("axx.bz"));
        assert!(!re.is_match("axxzbz"));
    }
}
