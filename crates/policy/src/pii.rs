//! Minimisation: detect personal data in free text and redact or generalise it.
//!
//! Detectors (all rule-based, no machine learning; see the crate README for limits):
//! - **email**: `local@domain.tld`;
//! - **phone**: international numbers written with `+` or `00` and a country code
//!   (8–15 digits, spaces / dots / dashes / parentheses allowed), Gulf-style local mobiles
//!   `05X XXX XXXX`, Egyptian local mobiles `01X XXXX XXXX`, and `(NXX) NXX-XXXX`;
//! - **national ids**: a configurable list ([`NationalIdPattern`]); the defaults are the
//!   Saudi national / iqama number, the UAE Emirates ID and the Egyptian national id;
//! - **IBAN**: country code, check digits, BBAN (grouped by 4 or not), with the
//!   country's length when known and the ISO 13616 mod-97 check;
//! - **person names**: a configurable list of names, and honorific-triggered rules:
//!   English `Mr/Mrs/Ms/Miss/Dr/Prof/Eng/Sheikh/Sir` followed by capitalised words, Arabic
//!   `السيد/السيدة/الدكتور/الدكتورة/د./المهندس/المهندسة/الأستاذ/الأستاذة/الشيخ/الشيخة`
//!   followed by a name (with `بن/ابن/بنت` links and an `ال…` family name).
//!
//! Digits may be ASCII or Arabic-Indic (٠–٩, ۰–۹).

use crate::error::PolicyError;
use regex::Regex;
use serde_json::Value;

/// A kind of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    Email,
    Phone,
    NationalId,
    Iban,
    PersonName,
}

impl PiiKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::NationalId => "national-id",
            PiiKind::Iban => "iban",
            PiiKind::PersonName => "person",
        }
    }
}

/// What to do with a kind of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiAction {
    /// Leave it.
    Keep,
    /// Replace it with `[REDACTED:<kind>]`.
    Redact,
    /// Keep the non-personal part: email → `[email]@domain`; phone → `+CC [phone]`
    /// (international) or `[phone]`; national id → `[national-id:CC]`; IBAN →
    /// `CC[iban]`; person name → initials (`A. M.`).
    Generalise,
}

/// An agreement's minimisation rules, one action per kind.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RedactionRules {
    pub email: PiiAction,
    pub phone: PiiAction,
    pub national_id: PiiAction,
    pub iban: PiiAction,
    pub person_name: PiiAction,
}

impl RedactionRules {
    /// Redact every kind (the default for agreements).
    pub fn redact_all() -> Self {
        RedactionRules {
            email: PiiAction::Redact,
            phone: PiiAction::Redact,
            national_id: PiiAction::Redact,
            iban: PiiAction::Redact,
            person_name: PiiAction::Redact,
        }
    }
    /// Keep everything.
    pub fn keep_all() -> Self {
        RedactionRules {
            email: PiiAction::Keep,
            phone: PiiAction::Keep,
            national_id: PiiAction::Keep,
            iban: PiiAction::Keep,
            person_name: PiiAction::Keep,
        }
    }
    pub fn action(&self, kind: PiiKind) -> PiiAction {
        match kind {
            PiiKind::Email => self.email,
            PiiKind::Phone => self.phone,
            PiiKind::NationalId => self.national_id,
            PiiKind::Iban => self.iban,
            PiiKind::PersonName => self.person_name,
        }
    }
}

impl Default for RedactionRules {
    fn default() -> Self {
        Self::redact_all()
    }
}

/// The check a national-id candidate must pass besides its pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdCheck {
    /// The pattern alone.
    None,
    /// The Luhn check digit over all digits.
    Luhn,
    /// Egyptian structure: century digit 2/3, a real month and day, a governorate code.
    EgyptianStructure,
}

/// A national-id detector.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NationalIdPattern {
    pub name: String,
    /// ISO 3166 alpha-2 code used when generalising.
    pub country: String,
    /// A regular expression (Rust `regex` syntax) matching the id.
    pub regex: String,
    pub check: IdCheck,
}

/// Configuration of the detectors.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PiiConfig {
    pub national_ids: Vec<NationalIdPattern>,
    /// Names (given or family, any script) always treated as personal data, matched
    /// case-insensitively on word boundaries.
    pub person_names: Vec<String>,
}

impl Default for PiiConfig {
    fn default() -> Self {
        PiiConfig {
            national_ids: vec![
                NationalIdPattern {
                    name: "sa-national-id".into(),
                    country: "SA".into(),
                    // 10 digits starting 1 (citizen) or 2 (resident / iqama).
                    regex: r"\b[12١٢]\d{9}\b".into(),
                    check: IdCheck::Luhn,
                },
                NationalIdPattern {
                    name: "ae-emirates-id".into(),
                    country: "AE".into(),
                    // 784-YYYY-NNNNNNN-N (dashes optional).
                    regex: r"\b784-?(?:19|20)\d{2}-?\d{7}-?\d\b".into(),
                    check: IdCheck::Luhn,
                },
                NationalIdPattern {
                    name: "eg-national-id".into(),
                    country: "EG".into(),
                    // 14 digits: century, YYMMDD, governorate, sequence, check.
                    regex: r"\b[23]\d{13}\b".into(),
                    check: IdCheck::EgyptianStructure,
                },
            ],
            person_names: Vec::new(),
        }
    }
}

/// One detected span in a text (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiiHit {
    pub kind: PiiKind,
    /// The detector that found it (`email`, `phone`, `iban`, `person-honorific-en`, a
    /// national-id pattern's name, …).
    pub detector: String,
    pub start: usize,
    pub end: usize,
    /// For national ids: the country; for phones: the country calling code if written.
    pub qualifier: String,
}

/// A change made to an object (never the personal data itself).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PiiFinding {
    /// JSON pointer of the property in the object.
    pub pointer: String,
    pub kind: PiiKind,
    pub detector: String,
    pub action: PiiAction,
}

/// The compiled detectors.
#[derive(Debug, Clone)]
pub struct Minimiser {
    email: Regex,
    phone_intl: Regex,
    phone_local: Regex,
    iban: Regex,
    honorific_en: Regex,
    honorific_ar: Regex,
    names: Option<Regex>,
    national_ids: Vec<(NationalIdPattern, Regex)>,
}

const EMAIL: &str = r"[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}";
const PHONE_INTL: &str = r"(?:\+|\b00)[1-9١-٩]\d{0,2}(?:[ .\-]?\(?\d{1,5}\)?){1,6}";
const PHONE_LOCAL: &str = r"\b0[5٥]\d[ \-]?\d{3}[ \-]?\d{4}\b|\b01[0125][ \-]?\d{4}[ \-]?\d{4}\b|\(\d{3}\) ?\d{3}[\-.]\d{4}\b";
const IBAN: &str = r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,8}(?: ?[A-Z0-9]{1,4})?\b";
const HONORIFIC_EN: &str = r"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof|Eng|Sheikh|Sir)\.?[ \t]+([A-Z][\p{L}'’\-]+(?:[ \t]+(?:(?:bin|ibn|bint|al|el|Al|El|Abu|abu)[ \t\-]+)?[A-Z][\p{L}'’\-]+){0,3})";
const HONORIFIC_AR: &str = r"(?:(?:السيدة|السيد|الدكتورة|الدكتور|المهندسة|المهندس|الأستاذة|الأستاذ|الشيخة|الشيخ)\s+|د\.\s*)([\p{Arabic}&&\p{L}]+(?:\s+(?:بن|ابن|بنت)\s+[\p{Arabic}&&\p{L}]+)*(?:\s+ال[\p{Arabic}&&\p{L}]+)?)";

/// IBAN lengths by country (ISO 13616 registry, the region's and common partners').
fn iban_length(country: &str) -> Option<usize> {
    Some(match country {
        "SA" => 24,
        "AE" => 23,
        "QA" => 29,
        "KW" => 30,
        "BH" => 22,
        "OM" => 23,
        "JO" => 30,
        "EG" => 29,
        "LB" => 28,
        "IQ" => 23,
        "PS" => 29,
        "TN" => 24,
        "MR" => 27,
        "LY" => 25,
        "SD" => 18,
        "GB" => 22,
        "DE" => 22,
        "FR" => 27,
        "NL" => 18,
        "BE" => 16,
        "CH" => 21,
        "ES" => 24,
        "IT" => 27,
        "TR" => 26,
        "PK" => 24,
        _ => return None,
    })
}

/// The length of the ITU-T E.164 country calling code at the start of `digits`
/// (1 for 1 and 7, 2 for the two-digit codes, 3 otherwise).
fn calling_code_len(digits: &str) -> usize {
    let b = digits.as_bytes();
    match b.first() {
        Some(b'1' | b'7') => 1,
        _ if b.len() >= 2
            && matches!(
                &digits[..2],
                "20" | "27"
                    | "30"
                    | "31"
                    | "32"
                    | "33"
                    | "34"
                    | "36"
                    | "39"
                    | "40"
                    | "41"
                    | "43"
                    | "44"
                    | "45"
                    | "46"
                    | "47"
                    | "48"
                    | "49"
                    | "51"
                    | "52"
                    | "53"
                    | "54"
                    | "55"
                    | "56"
                    | "57"
                    | "58"
                    | "60"
                    | "61"
                    | "62"
                    | "63"
                    | "64"
                    | "65"
                    | "66"
                    | "81"
                    | "82"
                    | "84"
                    | "86"
                    | "90"
                    | "91"
                    | "92"
                    | "93"
                    | "94"
                    | "95"
                    | "98"
            ) =>
        {
            2
        }
        _ => b.len().min(3),
    }
}

/// The value of a decimal digit in ASCII or Arabic-Indic / Extended Arabic-Indic.
pub fn digit_value(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        '\u{0660}'..='\u{0669}' => Some(c as u32 - 0x0660),
        '\u{06F0}'..='\u{06F9}' => Some(c as u32 - 0x06F0),
        _ => None,
    }
}

fn digits(s: &str) -> Option<Vec<u32>> {
    let d: Vec<u32> = s.chars().filter_map(digit_value).collect();
    // Every decimal digit in the span must be one we can read.
    let all = s.chars().filter(|c| c.is_numeric()).count();
    (d.len() == all).then_some(d)
}

/// The Luhn check over a digit sequence (check digit last).
pub fn luhn_valid(d: &[u32]) -> bool {
    if d.len() < 2 {
        return false;
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 {
                    y - 9
                } else {
                    y
                }
            } else {
                x
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The structure of an Egyptian national id (14 digits): century 2 (1900s) or 3
/// (2000s), a valid birth month and day, and a governorate code (01–04, 11–19, 21–35,
/// or 88 for born abroad).
pub fn egyptian_id_valid(d: &[u32]) -> bool {
    if d.len() != 14 || !(d[0] == 2 || d[0] == 3) {
        return false;
    }
    let month = d[3] * 10 + d[4];
    let day = d[5] * 10 + d[6];
    let gov = d[7] * 10 + d[8];
    (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && matches!(gov, 1..=4 | 11..=19 | 21..=35 | 88)
}

/// ISO 13616 / ISO 7064 mod-97: the IBAN (no spaces, upper case) is valid when moving
/// the first four characters to the end and reading letters as 10–35 gives 1 mod 97.
pub fn iban_valid(iban: &str) -> bool {
    let b = iban.as_bytes();
    if b.len() < 15 || b.len() > 34 {
        return false;
    }
    if !(b[0].is_ascii_uppercase()
        && b[1].is_ascii_uppercase()
        && b[2].is_ascii_digit()
        && b[3].is_ascii_digit())
    {
        return false;
    }
    let mut rem: u32 = 0;
    for &c in b[4..].iter().chain(&b[..4]) {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

fn compile(name: &str, pattern: &str) -> Result<Regex, PolicyError> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 22)
        .build()
        .map_err(|e| PolicyError::InvalidPattern {
            name: name.to_owned(),
            message: e.to_string(),
        })
}

impl Default for Minimiser {
    fn default() -> Self {
        // The built-in patterns are constants covered by unit tests.
        Minimiser::new(&PiiConfig::default()).expect("built-in PII patterns compile")
    }
}

impl Minimiser {
    /// Compiles the detectors.
    pub fn new(config: &PiiConfig) -> Result<Self, PolicyError> {
        let mut national_ids = Vec::with_capacity(config.national_ids.len());
        for p in &config.national_ids {
            if p.country.len() != 2 || !p.country.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(PolicyError::InvalidDetector {
                    name: p.name.clone(),
                    message: format!("country '{}' is not an ISO 3166 alpha-2 code", p.country),
                });
            }
            national_ids.push((p.clone(), compile(&p.name, &p.regex)?));
        }
        let names = config
            .person_names
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
            .map(regex::escape)
            .collect::<Vec<_>>();
        let names = if names.is_empty() {
            None
        } else {
            Some(compile(
                "person-names",
                &format!(r"(?i)\b(?:{})\b", names.join("|")),
            )?)
        };
        Ok(Minimiser {
            email: compile("email", EMAIL)?,
            phone_intl: compile("phone", PHONE_INTL)?,
            phone_local: compile("phone-local", PHONE_LOCAL)?,
            iban: compile("iban", IBAN)?,
            honorific_en: compile("person-honorific-en", HONORIFIC_EN)?,
            honorific_ar: compile("person-honorific-ar", HONORIFIC_AR)?,
            names,
            national_ids,
        })
    }

    /// Every piece of personal data in `text`: non-overlapping, in text order. Where two
    /// detectors overlap, the earlier-starting wins, then the higher-priority kind (IBAN,
    /// national id, email, phone, name), then the longer.
    pub fn find(&self, text: &str) -> Vec<PiiHit> {
        let mut hits: Vec<(u8, PiiHit)> = Vec::new();
        let mut push = |prio: u8, kind: PiiKind, detector: &str, s: usize, e: usize, q: String| {
            hits.push((
                prio,
                PiiHit {
                    kind,
                    detector: detector.to_owned(),
                    start: s,
                    end: e,
                    qualifier: q,
                },
            ));
        };
        // Cheap gates (each detector needs these to match at all).
        let n_digits = text.chars().filter(|c| digit_value(*c).is_some()).count();
        let has_at = text.contains('@');
        let ibans = if n_digits >= 2 {
            Some(self.iban.find_iter(text))
        } else {
            None
        };
        for m in ibans.into_iter().flatten() {
            if let Some((end, country)) = iban_at(text, m.start(), m.end()) {
                push(0, PiiKind::Iban, "iban", m.start(), end, country);
            }
        }
        for (p, re) in &self.national_ids {
            for m in re.find_iter(text) {
                let Some(d) = digits(m.as_str()) else {
                    continue;
                };
                let ok = match p.check {
                    IdCheck::None => true,
                    IdCheck::Luhn => luhn_valid(&d),
                    IdCheck::EgyptianStructure => egyptian_id_valid(&d),
                };
                if ok {
                    push(
                        1,
                        PiiKind::NationalId,
                        &p.name,
                        m.start(),
                        m.end(),
                        p.country.clone(),
                    );
                }
            }
        }
        let emails = if has_at {
            Some(self.email.find_iter(text))
        } else {
            None
        };
        for m in emails.into_iter().flatten() {
            push(
                2,
                PiiKind::Email,
                "email",
                m.start(),
                m.end(),
                String::new(),
            );
        }
        let phones = if n_digits >= 8 {
            Some(self.phone_intl.find_iter(text))
        } else {
            None
        };
        for m in phones.into_iter().flatten() {
            let s = m.as_str();
            // Trim a trailing ')' or separator the repetition may have taken.
            let trimmed = s.trim_end_matches(|c: char| digit_value(c).is_none());
            let Some(d) = digits(trimmed) else { continue };
            let cc_len = if trimmed.starts_with('+') { 0 } else { 2 };
            let n = d.len().saturating_sub(cc_len);
            if (8..=15).contains(&n) {
                let skip = if cc_len == 0 { 0 } else { 2 };
                let cc: String = d[skip..d.len().min(skip + 3)]
                    .iter()
                    .map(|x| x.to_string())
                    .collect();
                let cc = cc[..calling_code_len(&cc)].to_owned();
                push(
                    3,
                    PiiKind::Phone,
                    "phone",
                    m.start(),
                    m.start() + trimmed.len(),
                    cc,
                );
            }
        }
        let locals = if n_digits >= 10 {
            Some(self.phone_local.find_iter(text))
        } else {
            None
        };
        for m in locals.into_iter().flatten() {
            push(
                3,
                PiiKind::Phone,
                "phone-local",
                m.start(),
                m.end(),
                String::new(),
            );
        }
        for (re, det) in [
            (&self.honorific_en, "person-honorific-en"),
            (&self.honorific_ar, "person-honorific-ar"),
        ] {
            // `is_match` runs on the fast engines; captures only where there is a match.
            if !re.is_match(text) {
                continue;
            }
            for c in re.captures_iter(text) {
                if let Some(g) = c.get(1) {
                    push(
                        4,
                        PiiKind::PersonName,
                        det,
                        g.start(),
                        g.end(),
                        String::new(),
                    );
                }
            }
        }
        if let Some(re) = &self.names {
            for m in re.find_iter(text) {
                push(
                    4,
                    PiiKind::PersonName,
                    "person-list",
                    m.start(),
                    m.end(),
                    String::new(),
                );
            }
        }
        hits.sort_by(|(pa, a), (pb, b)| {
            a.start
                .cmp(&b.start)
                .then(pa.cmp(pb))
                .then((b.end - b.start).cmp(&(a.end - a.start)))
        });
        let mut out: Vec<PiiHit> = Vec::new();
        for (_, h) in hits {
            if let Some(last) = out.last_mut() {
                if h.start < last.end {
                    // Adjacent person-name detections merge into one span.
                    if h.kind == PiiKind::PersonName && last.kind == PiiKind::PersonName {
                        last.end = last.end.max(h.end);
                    }
                    continue;
                }
            }
            out.push(h);
        }
        out
    }

    /// Applies `rules` to `text`: the rewritten text and the hits acted on.
    pub fn minimise_text(&self, text: &str, rules: &RedactionRules) -> (String, Vec<PiiHit>) {
        let hits: Vec<PiiHit> = self
            .find(text)
            .into_iter()
            .filter(|h| rules.action(h.kind) != PiiAction::Keep)
            .collect();
        if hits.is_empty() {
            return (text.to_owned(), hits);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for h in &hits {
            out.push_str(&text[at..h.start]);
            out.push_str(&replacement(&text[h.start..h.end], h, rules.action(h.kind)));
            at = h.end;
        }
        out.push_str(&text[at..]);
        (out, hits)
    }

    /// Minimises a copy of `object`'s free-text properties (see [`free_text_targets`]).
    /// Ids, references, timestamps, patterns and vocabulary values are never touched.
    pub fn minimise_object(
        &self,
        object: &stix::Object,
        rules: &RedactionRules,
    ) -> (stix::Object, Vec<PiiFinding>) {
        let mut copy = object.clone();
        let findings = self.minimise_in_place(&mut copy, rules);
        (copy, findings)
    }

    /// [`Minimiser::minimise_object`] in place: rewrites `object`, returns what changed.
    pub fn minimise_in_place(
        &self,
        object: &mut stix::Object,
        rules: &RedactionRules,
    ) -> Vec<PiiFinding> {
        let mut findings = Vec::new();
        if *rules == RedactionRules::keep_all() {
            return findings;
        }
        let individual = object.type_name() == "identity"
            && object.get("identity_class").and_then(Value::as_str) == Some("individual");
        for (key, value) in object.as_map_mut().iter_mut() {
            let pointer = || format!("/{}", escape_pointer(key));
            let whole_name = (individual && key == "name") || key == "authors";
            if whole_name {
                if rules.person_name != PiiAction::Keep {
                    self.replace_whole_names(value, &pointer(), rules.person_name, &mut findings);
                }
                continue;
            }
            let is_ref = key.ends_with("_ref") || key.ends_with("_refs");
            if FREE_TEXT.contains(&key.as_str()) || (key.starts_with("x_") && !is_ref) {
                self.walk(value, &pointer(), rules, &mut findings);
            } else if key == "external_references" {
                if let Value::Array(refs) = value {
                    for (i, r) in refs.iter_mut().enumerate() {
                        if let Some(d) = r.get_mut("description") {
                            let p = format!("{}/{i}/description", pointer());
                            self.walk(d, &p, rules, &mut findings);
                        }
                    }
                }
            }
        }
        findings
    }

    fn walk(
        &self,
        v: &mut Value,
        pointer: &str,
        rules: &RedactionRules,
        out: &mut Vec<PiiFinding>,
    ) {
        match v {
            Value::String(s) => {
                let (new, hits) = self.minimise_text(s, rules);
                for h in hits {
                    out.push(PiiFinding {
                        pointer: pointer.to_owned(),
                        kind: h.kind,
                        detector: h.detector,
                        action: rules.action(h.kind),
                    });
                }
                *s = new;
            }
            Value::Array(a) => {
                for (i, x) in a.iter_mut().enumerate() {
                    self.walk(x, &format!("{pointer}/{i}"), rules, out);
                }
            }
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    // References inside custom properties stay intact.
                    if k.ends_with("_ref") || k.ends_with("_refs") || k == "id" {
                        continue;
                    }
                    self.walk(x, &format!("{pointer}/{}", escape_pointer(k)), rules, out);
                }
            }
            _ => {}
        }
    }

    fn replace_whole_names(
        &self,
        v: &mut Value,
        pointer: &str,
        action: PiiAction,
        out: &mut Vec<PiiFinding>,
    ) {
        match v {
            Value::String(s) => {
                let h = PiiHit {
                    kind: PiiKind::PersonName,
                    detector: "person-field".into(),
                    start: 0,
                    end: s.len(),
                    qualifier: String::new(),
                };
                *s = replacement(s, &h, action);
                out.push(PiiFinding {
                    pointer: pointer.to_owned(),
                    kind: PiiKind::PersonName,
                    detector: h.detector,
                    action,
                });
            }
            Value::Array(a) => {
                for (i, x) in a.iter_mut().enumerate() {
                    self.replace_whole_names(x, &format!("{pointer}/{i}"), action, out);
                }
            }
            _ => {}
        }
    }
}

/// Top-level properties treated as free text (plus every `x_*` custom property, the
/// `description` of each external reference, `name` of an individual's identity and
/// note `authors`, which are person names as a whole).
pub const FREE_TEXT: &[&str] = &[
    "name",
    "description",
    "content",
    "abstract",
    "explanation",
    "objective",
    "contact_information",
    "result_name",
];

/// The free-text properties [`Minimiser::minimise_object`] looks at.
pub fn free_text_targets() -> &'static [&'static str] {
    FREE_TEXT
}

fn escape_pointer(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// The IBAN at `[start, end)` of a regex candidate: trims trailing groups to the
/// country's length (or tries every length down to 15) and checks mod-97.
fn iban_at(text: &str, start: usize, end: usize) -> Option<(usize, String)> {
    let cand = &text[start..end];
    // Byte offset (in `text`) just after each alphanumeric character.
    let mut compact = String::new();
    let mut ends = Vec::new();
    for (i, c) in cand.char_indices() {
        if c.is_ascii_alphanumeric() {
            compact.push(c);
            ends.push(start + i + c.len_utf8());
        }
    }
    let country = compact.get(..2)?.to_owned();
    let lengths: Vec<usize> = match iban_length(&country) {
        Some(l) => vec![l],
        None => (15..=compact.len().min(34)).rev().collect(),
    };
    for l in lengths {
        if l <= compact.len() && iban_valid(&compact[..l]) {
            // The IBAN must end on a word boundary (not mid-group).
            let e = ends[l - 1];
            let next = text[e..].chars().next();
            if next.is_none_or(|c| !c.is_ascii_alphanumeric()) {
                return Some((e, country));
            }
        }
    }
    None
}

fn replacement(original: &str, hit: &PiiHit, action: PiiAction) -> String {
    let kind = hit.kind.as_str();
    match action {
        PiiAction::Keep => original.to_owned(),
        PiiAction::Redact => format!("[REDACTED:{kind}]"),
        PiiAction::Generalise => match hit.kind {
            PiiKind::Email => match original.rsplit_once('@') {
                Some((_, domain)) => format!("[email]@{domain}"),
                None => "[email]".to_owned(),
            },
            PiiKind::Phone if !hit.qualifier.is_empty() => format!("+{} [phone]", hit.qualifier),
            PiiKind::Phone => "[phone]".to_owned(),
            PiiKind::NationalId => format!("[national-id:{}]", hit.qualifier),
            PiiKind::Iban => format!("{}[iban]", hit.qualifier),
            PiiKind::PersonName => {
                let initials: Vec<String> = original
                    .split_whitespace()
                    .filter(|w| !matches!(*w, "bin" | "ibn" | "bint" | "بن" | "ابن" | "بنت"))
                    .filter_map(|w| {
                        let w = w.strip_prefix("ال").filter(|r| !r.is_empty()).unwrap_or(w);
                        w.chars().next().map(|c| format!("{c}."))
                    })
                    .collect();
                initials.join(" ")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> Minimiser {
        Minimiser::default()
    }

    fn kinds(text: &str) -> Vec<(PiiKind, String)> {
        m().find(text)
            .into_iter()
            .map(|h| (h.kind, text[h.start..h.end].to_owned()))
            .collect()
    }

    #[test]
    fn luhn_and_mod97() {
        assert!(luhn_valid(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3]));
        assert!(!luhn_valid(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 4]));
        assert!(iban_valid("GB82WEST12345698765432"));
        assert!(iban_valid("SA0380000000608010167519"));
        assert!(!iban_valid("SA0380000000608010167518"));
        assert!(iban_valid("AE070331234567890123456"));
        assert!(!iban_valid("GB82WEST1234569876543"));
    }

    #[test]
    fn emails() {
        assert_eq!(
            kinds("Contact soc.team+ir@bank.example.sa or x@y.co today."),
            vec![
                (PiiKind::Email, "soc.team+ir@bank.example.sa".into()),
                (PiiKind::Email, "x@y.co".into())
            ]
        );
        assert!(kinds("no email @ here, not a@b either").is_empty());
    }

    #[test]
    fn phones() {
        for (text, want) in [
            ("call +966 50 123 4567 now", "+966 50 123 4567"),
            ("call +971-4-555-1234.", "+971-4-555-1234"),
            ("tel 00201001234567 ok", "00201001234567"),
            ("mobile 050 123 4567", "050 123 4567"),
            ("mobile 0501234567", "0501234567"),
            ("EG 010 1234 5678", "010 1234 5678"),
            ("US (202) 555-0143", "(202) 555-0143"),
            ("+44 (20) 7946 0958", "+44 (20) 7946 0958"),
        ] {
            assert_eq!(
                kinds(text),
                vec![(PiiKind::Phone, want.to_owned())],
                "{text}"
            );
        }
        // Not phones: IPs, dates, hashes, short numbers, versions.
        for text in [
            "C2 at 185.220.101.4 since 2024-03-01",
            "+12 points",
            "CVE-2024-3400 affects PAN-OS 10.2.9",
            "md5 d41d8cd98f00b204e9800998ecf8427e",
        ] {
            assert!(kinds(text).is_empty(), "{text}: {:?}", kinds(text));
        }
    }

    #[test]
    fn national_ids() {
        // Luhn-valid 10-digit number starting with 1 (Saudi national id format).
        assert_eq!(
            kinds("ID 1000000008."),
            vec![(PiiKind::NationalId, "1000000008".into())]
        );
        // Checksum fails: not an id.
        assert!(kinds("ref 1000000009").is_empty());
        // Emirates ID, dashed and not.
        assert_eq!(
            kinds("EID 784-1985-1234567-3"),
            vec![(PiiKind::NationalId, "784-1985-1234567-3".into())]
        );
        assert!(luhn_valid(&digits("784198512345673").unwrap()));
        assert!(kinds("EID 784-1985-1234567-6").is_empty());
        // Egyptian: century 2, 1990-05-17, governorate 01 (Cairo).
        assert_eq!(
            kinds("رقم 29005170101234"),
            vec![(PiiKind::NationalId, "29005170101234".into())]
        );
        // Month 13: not an id.
        assert!(kinds("n 29013170101234").is_empty());
        // Arabic-Indic digits.
        assert_eq!(
            kinds("الهوية ١٠٠٠٠٠٠٠٠٨"),
            vec![(PiiKind::NationalId, "١٠٠٠٠٠٠٠٠٨".into())]
        );
    }

    #[test]
    fn ibans() {
        assert_eq!(
            kinds("pay SA03 8000 0000 6080 1016 7519 DATA now"),
            vec![(PiiKind::Iban, "SA03 8000 0000 6080 1016 7519".into())]
        );
        assert_eq!(
            kinds("acct GB82WEST12345698765432."),
            vec![(PiiKind::Iban, "GB82WEST12345698765432".into())]
        );
        // Bad checksum: nothing.
        let bad = kinds("SA03 8000 0000 6080 1016 7518");
        assert!(bad.is_empty(), "{bad:?}");
    }

    #[test]
    fn names_english_and_arabic() {
        assert_eq!(
            kinds("Dr. Ahmed Al-Mansouri reported it to Ms Sarah bin Khalid yesterday."),
            vec![
                (PiiKind::PersonName, "Ahmed Al-Mansouri".into()),
                (PiiKind::PersonName, "Sarah bin Khalid".into())
            ]
        );
        assert_eq!(
            kinds("أبلغ الدكتور محمد بن عبدالله العتيبي عن الحادثة"),
            vec![(PiiKind::PersonName, "محمد بن عبدالله العتيبي".into())]
        );
        assert_eq!(
            kinds("تواصل مع السيدة فاطمة الزهراني"),
            vec![(PiiKind::PersonName, "فاطمة الزهراني".into())]
        );
        // Without a trigger, a capitalised phrase is not a name.
        assert!(kinds("The Lazarus Group targeted Gulf Bank").is_empty());
        let custom = Minimiser::new(&PiiConfig {
            person_names: vec!["Khalid Al-Harbi".into(), "نورة".into()],
            ..PiiConfig::default()
        })
        .unwrap();
        let h = custom.find("Analyst khalid al-harbi and نورة joined");
        assert_eq!(h.len(), 2);
        assert!(h.iter().all(|h| h.kind == PiiKind::PersonName));
    }

    #[test]
    fn redact_and_generalise() {
        let rules = RedactionRules::redact_all();
        let (t, h) = m().minimise_text(
            "Phishing sent to omar@bank.example.sa from +971 50 123 4567; Mr. Omar Haddad clicked.",
            &rules,
        );
        assert_eq!(h.len(), 3);
        assert_eq!(
            t,
            "Phishing sent to [REDACTED:email] from [REDACTED:phone]; Mr. [REDACTED:person] clicked."
        );
        let gen = RedactionRules {
            email: PiiAction::Generalise,
            phone: PiiAction::Generalise,
            national_id: PiiAction::Generalise,
            iban: PiiAction::Generalise,
            person_name: PiiAction::Generalise,
        };
        let (t, _) = m().minimise_text(
            "omar@bank.example.sa, +971 50 123 4567, 784-1985-1234567-3, SA0380000000608010167519, Dr. Omar Haddad",
            &gen,
        );
        assert_eq!(
            t,
            "[email]@bank.example.sa, +971 [phone], [national-id:AE], SA[iban], Dr. O. H."
        );
        let keep_email = RedactionRules {
            email: PiiAction::Keep,
            ..rules
        };
        let (t, _) = m().minimise_text("a@b.example and 0501234567", &keep_email);
        assert_eq!(t, "a@b.example and [REDACTED:phone]");
    }

    #[test]
    fn bad_custom_pattern_is_reported() {
        let mut cfg = PiiConfig::default();
        cfg.national_ids.push(NationalIdPattern {
            name: "broken".into(),
            country: "QA".into(),
            regex: "(".into(),
            check: IdCheck::None,
        });
        let e = Minimiser::new(&cfg).unwrap_err();
        assert_eq!(e.code(), "pii.invalid_pattern");
        assert!(e.to_string().contains("broken"));
        cfg.national_ids.pop();
        cfg.national_ids.push(NationalIdPattern {
            name: "qa".into(),
            country: "Qatar".into(),
            regex: r"\b2\d{10}\b".into(),
            check: IdCheck::None,
        });
        assert_eq!(
            Minimiser::new(&cfg).unwrap_err().code(),
            "pii.invalid_detector"
        );
    }
}
