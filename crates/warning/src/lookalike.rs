//! Lookalike-domain detection: does a domain imitate one an organisation owns?
//!
//! Both names are first normalised (RFC 4343 lowercase, no trailing dot) and IDN
//! `xn--` labels are decoded to the Unicode a victim would see. Each name is then split
//! into *subdomain labels*, the *registrable label* and the *public suffix*
//! (`login.examplebank.com.sa` → `[login]`, `examplebank`, `com.sa`). The suffix is an
//! approximation of the Public Suffix List: the last label, or the last two when the
//! last is a two-letter country code and the one before is a generic second level
//! (`com`, `co`, `net`, `org`, `gov`, `edu`, `ac`, …).
//!
//! The checks, in the order they are tried (the first that fires is reported):
//!
//! 1. **tld-swap** — same registrable label, other suffix (`examplebank.net`).
//! 2. **homoglyph** — the labels differ but their *skeletons* are equal. The skeleton
//!    follows Unicode TR39 §4: NFD, then each character mapped through a confusables
//!    table (a subset of TR39 `confusables.txt` for Latin, Cyrillic, Greek and
//!    Arabic-Indic digits, plus ASCII tricks `0`→`o`, `1`/`i`→`l`, `rn`/`m`, `vv`/`w`),
//!    then combining marks removed (an extension: `é` reads as `e`). Reported as
//!    `digit-substitution` when both labels are ASCII (`examp1ebank`), as `homoglyph`
//!    otherwise (`exаmplebank` with Cyrillic `а`, or `xn--…`).
//! 3. **hyphenation** — removing hyphens gives the owned label (`example-bank`).
//! 4. **edit-distance** — Damerau–Levenshtein distance (insertions, deletions,
//!    substitutions and transpositions of adjacent characters) between the skeletons is
//!    (the smaller of the distance on the labels and on their skeletons) is
//!    at least 1 and at most a threshold that grows with the owned label's length:
//!    0 for 1–4 characters (too many innocent neighbours), 1 for 5–8, 2 for 9–15, 3 from
//!    16. `examplbank`, `exmaplebank`.
//! 5. **combosquatting** — the owned label appears as a hyphen-separated token of the
//!    candidate's registrable label together with other tokens (`examplebank-login`,
//!    `secure-examplebank`), or, for owned labels of 6 characters or more, as a
//!    substring beside a known lure word (`examplebanklogin`).
//! 6. **subdomain-embedding** — a subdomain label of another registrable domain is the
//!    owned label or the owned name with its dots as hyphens
//!    (`examplebank.com.verify-account.net`, `examplebank-com.evil.net`).
//!
//! Equal names and subdomains of an owned name are not lookalikes; they are reported as
//! ownership matches by the watchlist.

use crate::normalize;
use crate::punycode;
use unicode_normalization::UnicodeNormalization;

/// Which lookalike check fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LookalikeMethod {
    TldSwap,
    DigitSubstitution,
    Homoglyph,
    Hyphenation,
    EditDistance,
    Combosquatting,
    SubdomainEmbedding,
}

impl LookalikeMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            LookalikeMethod::TldSwap => "tld-swap",
            LookalikeMethod::DigitSubstitution => "digit-substitution",
            LookalikeMethod::Homoglyph => "homoglyph",
            LookalikeMethod::Hyphenation => "hyphenation",
            LookalikeMethod::EditDistance => "edit-distance",
            LookalikeMethod::Combosquatting => "combosquatting",
            LookalikeMethod::SubdomainEmbedding => "subdomain-embedding",
        }
    }
}

/// A lookalike finding: the method and a sentence saying why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Lookalike {
    pub method: LookalikeMethod,
    /// The candidate as a victim would read it (IDN labels decoded).
    pub displayed: String,
    pub explanation: String,
}

/// Words phishing domains put beside a brand.
pub const LURE_WORDS: &[&str] = &[
    "login",
    "log-in",
    "signin",
    "sign-in",
    "secure",
    "security",
    "account",
    "accounts",
    "verify",
    "verification",
    "update",
    "online",
    "portal",
    "support",
    "auth",
    "mobile",
    "banking",
    "bank",
    "pay",
    "payment",
    "service",
    "services",
    "customer",
    "help",
    "web",
    "mail",
    "app",
    "my",
    "id",
    "access",
    "confirm",
    "alert",
    "wallet",
    "card",
    "otp",
];

const SECOND_LEVEL: &[&str] = &[
    "com", "co", "net", "org", "gov", "edu", "ac", "gob", "mil", "nic", "sch", "ltd", "plc", "or",
    "ne", "go", "info", "biz", "med",
];

/// A domain split into subdomain labels, registrable label and public suffix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainParts {
    pub subdomains: Vec<String>,
    pub registrable: String,
    pub suffix: String,
}

impl DomainParts {
    /// Splits a normalised domain name. A single-label name has an empty suffix.
    pub fn split(domain: &str) -> DomainParts {
        let labels: Vec<&str> = domain.split('.').collect();
        let n = labels.len();
        let suffix_len = if n >= 3
            && labels[n - 1].chars().count() == 2
            && SECOND_LEVEL.contains(&labels[n - 2])
        {
            2
        } else if n >= 2 {
            1
        } else {
            0
        };
        let reg_idx = n - suffix_len - 1;
        DomainParts {
            subdomains: labels[..reg_idx].iter().map(|s| (*s).to_owned()).collect(),
            registrable: labels[reg_idx].to_owned(),
            suffix: labels[reg_idx + 1..].join("."),
        }
    }

    /// `registrable.suffix`.
    pub fn registrable_domain(&self) -> String {
        if self.suffix.is_empty() {
            self.registrable.clone()
        } else {
            format!("{}.{}", self.registrable, self.suffix)
        }
    }
}

fn lure_skeletons() -> &'static [String] {
    static CELL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    CELL.get_or_init(|| LURE_WORDS.iter().map(|w| skeleton(w)).collect())
}

/// The TR39-style confusable mapping of one (lowercased, decomposed) character.
fn confusable(c: char) -> Option<&'static str> {
    Some(match c {
        // ASCII tricks
        '0' => "o",
        '1' | 'i' | '|' => "l",
        '5' => "s",
        '3' => "e",
        '$' => "s",
        '@' => "a",
        // Cyrillic
        'а' => "a",
        'в' => "b",
        'с' => "c",
        'ԁ' => "d",
        'е' | 'ё' => "e",
        'һ' => "h",
        'і' | 'ӏ' | 'ї' => "l",
        'ј' => "j",
        'к' => "k",
        'м' => "rn",
        'о' => "o",
        'р' => "p",
        'ԛ' => "q",
        'ѕ' => "s",
        'т' => "t",
        'υ' | 'ս' => "u",
        'ѵ' | 'ν' => "v",
        'ԝ' | 'ѡ' => "vv",
        'х' | 'χ' => "x",
        'у' | 'γ' => "y",
        'ɡ' => "g",
        'ɑ' | 'α' => "a",
        // Greek
        'ο' | 'σ' => "o",
        'ι' | 'ί' => "l",
        'κ' => "k",
        'ρ' => "p",
        'τ' => "t",
        'β' => "b",
        'ε' => "e",
        'η' => "n",
        // Arabic-Indic and Extended Arabic-Indic digits
        '\u{0660}' | '\u{06F0}' => "o",
        '\u{0661}' | '\u{06F1}' => "l",
        '\u{0665}' | '\u{06F5}' => "o",
        '\u{0667}' | '\u{06F7}' => "v",
        // Latin letters that render alike
        'm' => "rn",
        'w' => "vv",
        'ł' | 'ı' => "l",
        'ø' => "o",
        'đ' => "d",
        _ => return None,
    })
}

/// The skeleton of a label: NFD, lowercase, confusables folded, combining marks removed.
pub fn skeleton(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    for c in label.nfd().flat_map(char::to_lowercase) {
        if is_combining_mark(c) {
            continue;
        }
        match confusable(c) {
            Some(s) => out.push_str(s),
            None => out.push(c),
        }
    }
    out
}

fn is_combining_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
}

/// Damerau–Levenshtein distance (unrestricted adjacent transpositions,
/// Lowrance–Wagner), on characters.
pub fn damerau_levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    let inf = n + m;
    let w = m + 2;
    // d has (n+2) x (m+2) cells; row/col 0 hold `inf`.
    let mut d = vec![0usize; (n + 2) * w];
    d[0] = inf;
    for i in 0..=n {
        d[(i + 1) * w] = inf;
        d[(i + 1) * w + 1] = i;
    }
    for j in 0..=m {
        d[j + 1] = inf;
        d[w + j + 1] = j;
    }
    // last row where each character of `a` was seen (labels have few distinct characters)
    let mut last_row: Vec<(char, usize)> = Vec::new();
    for i in 1..=n {
        let mut last_match_col = 0;
        for j in 1..=m {
            let i1 = last_row
                .iter()
                .find(|(c, _)| *c == b[j - 1])
                .map_or(0, |&(_, r)| r);
            let j1 = last_match_col;
            let cost = if a[i - 1] == b[j - 1] {
                last_match_col = j;
                0
            } else {
                1
            };
            let sub = d[i * w + j] + cost;
            let ins = d[(i + 1) * w + j] + 1;
            let del = d[i * w + j + 1] + 1;
            let trans = d[i1 * w + j1] + (i - i1 - 1) + 1 + (j - j1 - 1);
            d[(i + 1) * w + j + 1] = sub.min(ins).min(del).min(trans);
        }
        match last_row.iter_mut().find(|(c, _)| *c == a[i - 1]) {
            Some(slot) => slot.1 = i,
            None => last_row.push((a[i - 1], i)),
        }
    }
    d[(n + 1) * w + m + 1]
}

/// A lower bound of the edit distance, in linear time: the larger of the numbers of
/// characters of each string missing from the other, counted as multisets (each edit
/// fixes at most one on each side; a transposition none). `None` for non-ASCII input.
pub fn bag_distance(a: &str, b: &str) -> Option<usize> {
    if !a.is_ascii() || !b.is_ascii() {
        return None;
    }
    let mut bag = [0i32; 128];
    for c in a.bytes() {
        bag[usize::from(c)] += 1;
    }
    for c in b.bytes() {
        bag[usize::from(c)] -= 1;
    }
    let (mut extra_a, mut extra_b) = (0usize, 0usize);
    for n in bag {
        if n > 0 {
            extra_a += n as usize;
        } else {
            extra_b += n.unsigned_abs() as usize;
        }
    }
    Some(extra_a.max(extra_b))
}

/// The edit-distance threshold for an owned label of `len` characters.
pub fn edit_threshold(len: usize) -> usize {
    match len {
        0..=4 => 0,
        5..=8 => 1,
        9..=15 => 2,
        _ => 3,
    }
}

/// A domain prepared for comparison: normalised, IDN-decoded, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedDomain {
    /// Normalised (lowercase, no trailing dot, internationalised labels as A-labels).
    pub normalized: String,
    /// With `xn--` labels decoded (what a reader sees).
    pub displayed: String,
    pub parts: DomainParts,
    pub registrable_skeleton: String,
    /// Skeletons of the hyphen-separated tokens of the registrable label.
    pub token_skeletons: Vec<String>,
    /// Skeletons of the subdomain labels.
    pub subdomain_skeletons: Vec<String>,
    /// `registrable.suffix` with dots as hyphens (`examplebank-com-sa`).
    pub dashed: String,
}

impl PreparedDomain {
    /// Prepares a domain; `None` when it is not a valid DNS name.
    pub fn new(domain: &str) -> Option<PreparedDomain> {
        let normalized = normalize::domain(domain).ok()?;
        let displayed = punycode::decode_domain(&normalized)
            .map(|d| d.to_lowercase())
            .unwrap_or_else(|_| normalized.clone());
        let parts = DomainParts::split(&displayed);
        let registrable_skeleton = skeleton(&parts.registrable);
        let token_skeletons = parts
            .registrable
            .split('-')
            .filter(|t| !t.is_empty())
            .map(skeleton)
            .collect();
        let subdomain_skeletons = parts.subdomains.iter().map(|l| skeleton(l)).collect();
        let dashed = parts.registrable_domain().replace('.', "-");
        Some(PreparedDomain {
            normalized,
            displayed,
            parts,
            registrable_skeleton,
            token_skeletons,
            subdomain_skeletons,
            dashed,
        })
    }

    /// Is `self` equal to `owned` or one of its subdomains?
    pub fn is_within(&self, owned: &PreparedDomain) -> bool {
        self.displayed == owned.displayed
            || self
                .displayed
                .strip_suffix(owned.displayed.as_str())
                .is_some_and(|head| head.ends_with('.'))
    }
}

/// Checks whether `candidate` imitates `owned`. Returns `None` for equal names,
/// subdomains of the owned name, and names that match no check.
pub fn check(candidate: &PreparedDomain, owned: &PreparedDomain) -> Option<Lookalike> {
    if candidate.is_within(owned) {
        return None;
    }
    let c = &candidate.parts;
    let o = &owned.parts;
    let found = |method: LookalikeMethod, explanation: String| {
        Some(Lookalike {
            method,
            displayed: candidate.displayed.clone(),
            explanation,
        })
    };
    let owned_len = o.registrable.chars().count();

    // 1. same label, other suffix
    if c.registrable == o.registrable && c.suffix != o.suffix {
        return found(
            LookalikeMethod::TldSwap,
            format!(
                "registrable label {:?} is the owned one under suffix {:?} instead of {:?}",
                c.registrable, c.suffix, o.suffix
            ),
        );
    }
    // 2. confusable skeletons
    if c.registrable != o.registrable
        && candidate.registrable_skeleton == owned.registrable_skeleton
    {
        let diffs: Vec<String> = c
            .registrable
            .chars()
            .filter(|ch| !o.registrable.contains(*ch))
            .map(|ch| format!("{ch:?} (U+{:04X})", u32::from(ch)))
            .collect();
        let ascii = c.registrable.is_ascii() && candidate.normalized == candidate.displayed;
        let method = if ascii {
            LookalikeMethod::DigitSubstitution
        } else {
            LookalikeMethod::Homoglyph
        };
        let idn = if candidate.normalized != candidate.displayed {
            format!(
                " (IDN {:?} decodes to {:?})",
                candidate.normalized, candidate.displayed
            )
        } else {
            String::new()
        };
        return found(
            method,
            format!(
                "{:?} has the same TR39 skeleton {:?} as {:?}; look-alike characters: {}{idn}",
                c.registrable,
                owned.registrable_skeleton,
                o.registrable,
                diffs.join(", ")
            ),
        );
    }
    // 3. hyphen inserted
    if c.registrable.contains('-') && c.registrable.replace('-', "") == o.registrable {
        return found(
            LookalikeMethod::Hyphenation,
            format!(
                "{:?} is {:?} with hyphens added",
                c.registrable, o.registrable
            ),
        );
    }
    // 4. edit distance on skeletons
    let threshold = edit_threshold(owned_len);
    if threshold > 0 {
        // the distance is at least the difference in length: skip hopeless pairs
        let len = |s: &str| s.chars().count();
        let near = |a: &str, b: &str| {
            len(a).abs_diff(len(b)) <= threshold
                && bag_distance(a, b).is_none_or(|d| d <= threshold)
        };
        let mut dist = usize::MAX;
        if near(&c.registrable, &o.registrable) {
            dist = damerau_levenshtein(&c.registrable, &o.registrable);
        }
        if near(&candidate.registrable_skeleton, &owned.registrable_skeleton) {
            dist = dist.min(damerau_levenshtein(
                &candidate.registrable_skeleton,
                &owned.registrable_skeleton,
            ));
        }
        if dist >= 1 && dist <= threshold {
            return found(
                LookalikeMethod::EditDistance,
                format!(
                    "Damerau-Levenshtein distance {dist} between {:?} and {:?} (threshold {threshold} for a {owned_len}-character label)",
                    c.registrable, o.registrable
                ),
            );
        }
    }
    // 5. brand + lure tokens
    if candidate.token_skeletons.len() > 1
        && candidate
            .token_skeletons
            .contains(&owned.registrable_skeleton)
    {
        return found(
            LookalikeMethod::Combosquatting,
            format!(
                "{:?} combines the owned label {:?} with other words",
                c.registrable, o.registrable
            ),
        );
    }
    if owned_len >= 6
        && candidate
            .registrable_skeleton
            .contains(&owned.registrable_skeleton)
    {
        let rest = candidate
            .registrable_skeleton
            .replacen(&owned.registrable_skeleton, "", 1);
        let rest = rest.trim_matches('-');
        if lure_skeletons().iter().any(|w| w == rest) {
            return found(
                LookalikeMethod::Combosquatting,
                format!(
                    "{:?} is the owned label {:?} joined with the lure word {rest:?}",
                    c.registrable, o.registrable
                ),
            );
        }
    }
    // 6. owned name inside the subdomains of another domain
    let dashed = owned.dashed.as_str();
    for (i, (label, label_skeleton)) in c
        .subdomains
        .iter()
        .zip(&candidate.subdomain_skeletons)
        .enumerate()
    {
        let embeds_label = *label_skeleton == owned.registrable_skeleton;
        // the dashed name as a whole hyphen-token run of the label
        let b = label.as_bytes();
        let embeds_dashed = label.match_indices(dashed).any(|(i, m)| {
            (i == 0 || b[i - 1] == b'-') && (i + m.len() == b.len() || b[i + m.len()] == b'-')
        });
        if embeds_label || embeds_dashed {
            return found(
                LookalikeMethod::SubdomainEmbedding,
                format!(
                    "subdomain label {} ({label:?}) of {:?} imitates the owned name {:?}",
                    i + 1,
                    c.registrable_domain(),
                    owned.parts.registrable_domain()
                ),
            );
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(candidate: &str, owned: &str) -> Option<LookalikeMethod> {
        let c = PreparedDomain::new(candidate).unwrap();
        let o = PreparedDomain::new(owned).unwrap();
        check(&c, &o).map(|l| l.method)
    }

    #[test]
    fn damerau_levenshtein_basics() {
        assert_eq!(damerau_levenshtein("", ""), 0);
        assert_eq!(damerau_levenshtein("abc", ""), 3);
        assert_eq!(damerau_levenshtein("ca", "abc"), 2);
        assert_eq!(damerau_levenshtein("examplebank", "exmaplebank"), 1);
        assert_eq!(damerau_levenshtein("kitten", "sitting"), 3);
        assert_eq!(damerau_levenshtein("example", "sample"), 2);
    }

    #[test]
    fn bag_distance_is_a_lower_bound() {
        assert_eq!(bag_distance("examplebank", "exmaplebank"), Some(0));
        assert_eq!(bag_distance("phish12", "brand12bank"), Some(9));
        assert_eq!(bag_distance("аbc", "abc"), None);
    }

    #[test]
    fn split_handles_country_second_levels() {
        let p = DomainParts::split("login.examplebank.com.sa");
        assert_eq!(p.subdomains, vec!["login"]);
        assert_eq!(p.registrable, "examplebank");
        assert_eq!(p.suffix, "com.sa");
        let p = DomainParts::split("examplebank.sa");
        assert_eq!(
            (p.registrable.as_str(), p.suffix.as_str()),
            ("examplebank", "sa")
        );
        let p = DomainParts::split("localhost");
        assert_eq!(
            (p.registrable.as_str(), p.suffix.as_str()),
            ("localhost", "")
        );
    }

    #[test]
    fn skeletons_fold_confusables() {
        assert_eq!(skeleton("exаmple"), skeleton("example")); // Cyrillic а
        assert_eq!(skeleton("examp1e"), skeleton("example"));
        assert_eq!(skeleton("rnicrosoft"), skeleton("microsoft"));
        assert_eq!(skeleton("éxample"), skeleton("example"));
        assert_eq!(skeleton("аррӏе"), skeleton("apple"));
        assert_ne!(skeleton("exanple"), skeleton("example"));
    }

    #[test]
    fn each_method_fires_on_a_realistic_case() {
        let owned = "examplebank.com";
        assert_eq!(
            run("examplebank.net", owned),
            Some(LookalikeMethod::TldSwap)
        );
        assert_eq!(
            run("examp1ebank.com", owned),
            Some(LookalikeMethod::DigitSubstitution)
        );
        assert_eq!(run("examplebank.co", owned), Some(LookalikeMethod::TldSwap));
        assert_eq!(
            run("exаmplebank.com", owned),
            Some(LookalikeMethod::Homoglyph)
        );
        assert_eq!(
            run("exarnplebank.com", owned),
            Some(LookalikeMethod::DigitSubstitution)
        );
        assert_eq!(
            run("example-bank.com", owned),
            Some(LookalikeMethod::Hyphenation)
        );
        assert_eq!(
            run("exmaplebank.com", owned),
            Some(LookalikeMethod::EditDistance)
        );
        assert_eq!(
            run("examplbank.com", owned),
            Some(LookalikeMethod::EditDistance)
        );
        assert_eq!(
            run("examplebank-login.com", owned),
            Some(LookalikeMethod::Combosquatting)
        );
        assert_eq!(
            run("secure-examplebank.info", owned),
            Some(LookalikeMethod::Combosquatting)
        );
        assert_eq!(
            run("examplebanklogin.com", owned),
            Some(LookalikeMethod::Combosquatting)
        );
        assert_eq!(
            run("examplebank.com.verify-account.net", owned),
            Some(LookalikeMethod::SubdomainEmbedding)
        );
        assert_eq!(
            run("examplebank-com.evil.example", owned),
            Some(LookalikeMethod::SubdomainEmbedding)
        );
        assert_eq!(
            run(
                "secure-examplebank-com-sa.evil.example",
                "examplebank.com.sa"
            ),
            Some(LookalikeMethod::SubdomainEmbedding)
        );
    }

    #[test]
    fn idn_punycode_homograph() {
        // Cyrillic "аррӏе" as IDN imitates apple.com
        let c = PreparedDomain::new("xn--80ak6aa92e.com").unwrap();
        let o = PreparedDomain::new("apple.com").unwrap();
        let l = check(&c, &o).unwrap();
        assert_eq!(l.method, LookalikeMethod::Homoglyph);
        assert!(
            l.explanation.contains("xn--80ak6aa92e.com"),
            "{}",
            l.explanation
        );
        assert_eq!(l.displayed, "аррӏе.com");
    }

    #[test]
    fn arabic_indic_digits() {
        // ١ (ARABIC-INDIC DIGIT ONE) for l
        assert_eq!(
            run("examp\u{0661}ebank.com", "examplebank.com"),
            Some(LookalikeMethod::Homoglyph)
        );
    }

    #[test]
    fn owned_names_and_near_misses_do_not_fire() {
        let owned = "examplebank.com";
        for innocent in [
            "examplebank.com",
            "www.examplebank.com",
            "EXAMPLEBANK.COM.",
            "example.com",
            "exampleshop.com",
            "bank.com",
            "myexample.org",
            "bankexample.net",
            "google.com",
            "riverbank.org",
            "example.bank",
            "cdn.example-cdn.net",
        ] {
            assert_eq!(
                run(innocent, owned),
                None,
                "{innocent} must not be a lookalike"
            );
        }
        // short brands: edit distance is off, so neighbours do not fire
        assert_eq!(run("visa.com", "vise.com"), None);
        assert_eq!(run("qnb.com", "qnx.com"), None);
        assert_eq!(
            run("qnb-login.com", "qnb.com"),
            Some(LookalikeMethod::Combosquatting)
        );
    }

    proptest::proptest! {
        #[test]
        fn distance_is_a_metric_on_small_strings(a in "[a-c]{0,6}", b in "[a-c]{0,6}") {
            let d = damerau_levenshtein(&a, &b);
            proptest::prop_assert_eq!(d, damerau_levenshtein(&b, &a));
            proptest::prop_assert_eq!(d == 0, a == b);
            proptest::prop_assert!(d <= a.chars().count().max(b.chars().count()));
            proptest::prop_assert!(bag_distance(&a, &b).unwrap() <= d);
        }
    }

    proptest::proptest! {
        /// Arbitrary Unicode names (IDN or not) never panic, and a name is never a
        /// lookalike of itself.
        #[test]
        fn never_panics_and_never_flags_itself(a in "\\PC{1,40}", b in "(xn--)?[a-z0-9-]{1,20}\\.[a-z]{2,4}") {
            for x in [&a, &b] {
                if let Some(c) = PreparedDomain::new(x) {
                    proptest::prop_assert!(check(&c, &c).is_none());
                    if let Some(o) = PreparedDomain::new("examplebank.com") {
                        let _ = check(&c, &o);
                        let _ = check(&o, &c);
                    }
                }
            }
        }
    }
}
