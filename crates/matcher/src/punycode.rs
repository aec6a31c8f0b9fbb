//! Punycode (RFC 3492) and IDNA `xn--` labels.
//!
//! Encoding turns an internationalised label into the A-label DNS carries, so an
//! indicator written `bücher.example` matches telemetry that logs `xn--bcher-kva.example`
//! ([`crate::normalize::domain`]). Decoding turns `xn--80ak6aa92e.com` back into the
//! Unicode a victim would see (`аррӏе.com`, Cyrillic), for lookalike detection.

const BASE: u32 = 36;
const TMIN: u32 = 1;
const TMAX: u32 = 26;
const SKEW: u32 = 38;
const DAMP: u32 = 700;
const INITIAL_BIAS: u32 = 72;
const INITIAL_N: u32 = 128;
/// Longest input decoded.
pub const MAX_INPUT: usize = 1024;

/// Why a Punycode string cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid punycode {input:?} at byte {position}: {reason}")]
pub struct PunycodeError {
    pub input: String,
    pub position: usize,
    pub reason: &'static str,
}

impl PunycodeError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        "matcher.punycode.invalid"
    }
}

fn adapt(mut delta: u32, numpoints: u32, first: bool) -> u32 {
    delta = if first { delta / DAMP } else { delta / 2 };
    delta += delta / numpoints;
    let mut k = 0;
    while delta > ((BASE - TMIN) * TMAX) / 2 {
        delta /= BASE - TMIN;
        k += BASE;
    }
    k + (((BASE - TMIN + 1) * delta) / (delta + SKEW))
}

/// The threshold `t` of the generalised variable-length integers at position `k`
/// (RFC 3492 §6.2, §6.3), clamped to `[TMIN, TMAX]`.
fn threshold(k: u32, bias: u32) -> u32 {
    if k <= bias {
        TMIN
    } else if k >= bias + TMAX {
        TMAX
    } else {
        k - bias
    }
}

fn digit(b: u8) -> Option<u32> {
    match b {
        b'0'..=b'9' => Some(u32::from(b - b'0') + 26),
        b'a'..=b'z' => Some(u32::from(b - b'a')),
        b'A'..=b'Z' => Some(u32::from(b - b'A')),
        _ => None,
    }
}

/// Decodes a Punycode string (without the `xn--` prefix), RFC 3492 §6.2.
pub fn decode(input: &str) -> Result<String, PunycodeError> {
    let err = |position, reason| PunycodeError {
        input: input.chars().take(256).collect(),
        position,
        reason,
    };
    let bytes = input.as_bytes();
    if !input.is_ascii() {
        return Err(err(0, "non-ASCII input"));
    }
    // DNS labels are at most 63 octets; the bound keeps the quadratic insertion cheap.
    if input.len() > MAX_INPUT {
        return Err(err(MAX_INPUT, "longer than 1024 characters"));
    }
    let (basic, rest_start) = match input.rfind('-') {
        Some(i) => (&input[..i], i + 1),
        None => ("", 0),
    };
    let mut output: Vec<char> = basic.chars().collect();
    let mut n = INITIAL_N;
    let mut i: u32 = 0;
    let mut bias = INITIAL_BIAS;
    let mut pos = rest_start;
    while pos < bytes.len() {
        let oldi = i;
        let mut w: u32 = 1;
        let mut k = BASE;
        loop {
            let b = *bytes
                .get(pos)
                .ok_or_else(|| err(pos, "truncated variable-length integer"))?;
            let d = digit(b).ok_or_else(|| err(pos, "not a base-36 digit"))?;
            pos += 1;
            i = d
                .checked_mul(w)
                .and_then(|dw| i.checked_add(dw))
                .ok_or_else(|| err(pos, "overflow"))?;
            let t = threshold(k, bias);
            if d < t {
                break;
            }
            w = w
                .checked_mul(BASE - t)
                .ok_or_else(|| err(pos, "overflow"))?;
            k += BASE;
        }
        let len = u32::try_from(output.len() + 1).map_err(|_| err(pos, "too long"))?;
        bias = adapt(i - oldi, len, oldi == 0);
        n = n.checked_add(i / len).ok_or_else(|| err(pos, "overflow"))?;
        i %= len;
        let c = char::from_u32(n).ok_or_else(|| err(pos, "decodes to an invalid code point"))?;
        if n < INITIAL_N {
            return Err(err(pos, "decodes to a basic code point"));
        }
        output.insert(i as usize, c);
        i += 1;
    }
    Ok(output.into_iter().collect())
}

fn encode_digit(d: u32) -> char {
    match u8::try_from(d) {
        Ok(d @ 0..=25) => char::from(b'a' + d),
        Ok(d @ 26..=35) => char::from(b'0' + d - 26),
        _ => '?',
    }
}

/// Encodes a Unicode string as Punycode (RFC 3492 §6.3), without the `xn--` prefix.
/// Basic (ASCII) code points are copied as they are, followed by `-` when there are any.
pub fn encode(input: &str) -> Result<String, PunycodeError> {
    let err = |position, reason| PunycodeError {
        input: input.chars().take(256).collect(),
        position,
        reason,
    };
    let chars: Vec<u32> = input.chars().map(u32::from).collect();
    if chars.len() > MAX_INPUT {
        return Err(err(MAX_INPUT, "longer than 1024 characters"));
    }
    let mut output: String = input.chars().filter(char::is_ascii).collect();
    let basic = u32::try_from(output.len()).map_err(|_| err(0, "too long"))?;
    let total = u32::try_from(chars.len()).map_err(|_| err(0, "too long"))?;
    if basic > 0 {
        output.push('-');
    }
    let (mut n, mut delta, mut bias, mut handled) = (INITIAL_N, 0u32, INITIAL_BIAS, basic);
    while handled < total {
        // The smallest code point not yet handled (there is one: handled < total).
        let m = chars
            .iter()
            .copied()
            .filter(|&c| c >= n)
            .min()
            .ok_or_else(|| err(0, "no code point left"))?;
        delta = (m - n)
            .checked_mul(handled + 1)
            .and_then(|d| delta.checked_add(d))
            .ok_or_else(|| err(0, "overflow"))?;
        n = m;
        for (at, &c) in chars.iter().enumerate() {
            if c < n {
                delta = delta.checked_add(1).ok_or_else(|| err(at, "overflow"))?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = threshold(k, bias);
                    if q < t {
                        break;
                    }
                    output.push(encode_digit(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                output.push(encode_digit(q));
                bias = adapt(delta, handled + 1, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta += 1;
        n += 1;
    }
    Ok(output)
}

/// Decodes each `xn--` label of a (lowercased) domain name to Unicode; other labels
/// are kept.
pub fn decode_domain(domain: &str) -> Result<String, PunycodeError> {
    let mut out = String::with_capacity(domain.len());
    for (idx, label) in domain.split('.').enumerate() {
        if idx > 0 {
            out.push('.');
        }
        match label.get(..4) {
            Some(p) if p.eq_ignore_ascii_case("xn--") => out.push_str(&decode(&label[4..])?),
            _ => out.push_str(label),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_3492_sample_strings() {
        // 7.1 (A) Arabic (Egyptian)
        assert_eq!(
            decode("egbpdaj6bu4bxfgehfvwxn").unwrap(),
            "\u{644}\u{64A}\u{647}\u{645}\u{627}\u{628}\u{62A}\u{643}\u{644}\u{645}\u{648}\u{634}\u{639}\u{631}\u{628}\u{64A}\u{61F}"
        );
        // 7.1 (B) Chinese (simplified)
        assert_eq!(
            decode("ihqwcrb4cv8a8dqg056pqjye").unwrap(),
            "他们为什么不说中文"
        );
        // 7.1 (L) 3<nen>B<gumi><kinpachi><sensei>
        assert_eq!(
            decode("3B-ww4c5e180e575a65lsy2b").unwrap(),
            "3年B組金八先生"
        );
        // 7.1 (S) -> $1.00 <-
        assert_eq!(decode("-> $1.00 <--").unwrap(), "-> $1.00 <-");
    }

    #[test]
    fn rfc_3492_sample_strings_encode() {
        for (text, code) in [
            (
                "\u{644}\u{64A}\u{647}\u{645}\u{627}\u{628}\u{62A}\u{643}\u{644}\u{645}\u{648}\u{634}\u{639}\u{631}\u{628}\u{64A}\u{61F}",
                "egbpdaj6bu4bxfgehfvwxn",
            ),
            ("他们为什么不说中文", "ihqwcrb4cv8a8dqg056pqjye"),
            ("3年B組金八先生", "3B-ww4c5e180e575a65lsy2b"),
            ("-> $1.00 <-", "-> $1.00 <--"),
            ("bücher", "bcher-kva"),
            ("abc", "abc-"),
        ] {
            assert_eq!(encode(text).unwrap(), code, "{text}");
            assert_eq!(decode(code).unwrap(), text, "{code}");
        }
        assert!(encode(&"é".repeat(2000)).is_err());
    }

    #[test]
    fn idn_homograph_domains() {
        assert_eq!(decode_domain("xn--80ak6aa92e.com").unwrap(), "аррӏе.com");
        assert_eq!(decode_domain("www.example.com").unwrap(), "www.example.com");
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert!(decode("!!!").is_err());
        assert!(decode("a-99999999999999").is_err());
        assert!(decode("zz").is_err());
        assert_eq!(decode("!").unwrap_err().code(), "matcher.punycode.invalid");
        assert_eq!(
            decode(&"a".repeat(2000)).unwrap_err().reason,
            "longer than 1024 characters"
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "[a-z0-9-]{0,40}") {
            let _ = decode(&s);
        }

        #[test]
        fn decode_inverts_encode(s in "\\PC{0,30}") {
            let code = encode(&s).unwrap();
            proptest::prop_assert!(code.is_ascii());
            proptest::prop_assert_eq!(decode(&code).unwrap(), s);
        }
    }
}
