//! JSON Canonicalization Scheme (RFC 8785).
//!
//! Used for deterministic SCO ids (STIX 2.1 §2.9), content hashes in the store and
//! signatures. Keys are sorted by their UTF-16 code units, strings use the minimal
//! JSON escapes, and numbers are written as ECMAScript's `Number.prototype.toString`.

use serde_json::Value;
use std::fmt::Write;

/// Writes `value` in canonical form.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// Writes `value` in canonical form into `out`.
pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => write_map(out, map),
    }
}

/// Writes a JSON object (a STIX object's map) in canonical form into `out`.
pub fn write_map(out: &mut String, map: &serde_json::Map<String, Value>) {
    write_entries(out, map.iter().map(|(k, v)| (k.as_str(), v)).collect());
}

/// Writes the JSON object with these members (distinct keys, any order) in canonical
/// form into `out`: for writing a map with members left out or replaced without
/// copying it.
pub fn write_entries(out: &mut String, mut entries: Vec<(&str, &Value)>) {
    entries.sort_by(|a, b| utf16_cmp(a.0, b.0));
    out.push('{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, k);
        out.push(':');
        write_value(out, v);
    }
    out.push('}');
}

/// Orders strings by UTF-16 code units, as RFC 8785 requires. UTF-8 byte order equals
/// code point order, which equals UTF-16 order unless a supplementary character (UTF-8
/// lead byte 0xF0..) meets one in U+E000..U+FFFF (lead byte 0xEE/0xEF): only then
/// compare code units.
fn utf16_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let tricky = |s: &str| s.bytes().any(|b| b >= 0xEE);
    if tricky(a) && tricky(b) {
        a.encode_utf16().cmp(b.encode_utf16())
    } else {
        a.as_bytes().cmp(b.as_bytes())
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0C => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1F => "",
            _ => continue,
        };
        // Every escaped byte is ASCII, so these slices fall on character boundaries.
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

fn write_number(out: &mut String, n: &serde_json::Number) {
    // With `arbitrary_precision` the number keeps its source text; JCS wants the
    // IEEE-754 double it denotes, printed the ECMAScript way.
    let text = n.to_string();
    if let Ok(i) = text.parse::<i64>() {
        if i.unsigned_abs() <= (1u64 << 53) {
            let _ = write!(out, "{i}");
            return;
        }
    }
    match text.parse::<f64>() {
        Ok(f) => write_es6_double(out, f),
        Err(_) => out.push_str(&text),
    }
}

/// ECMAScript `Number.prototype.toString` for a finite double.
pub fn write_es6_double(out: &mut String, f: f64) {
    if f == 0.0 {
        out.push('0');
        return;
    }
    if !f.is_finite() {
        // JSON cannot carry these; serde_json never produces them.
        out.push_str("null");
        return;
    }
    if f < 0.0 {
        out.push('-');
    }
    let sci = format!("{:e}", f.abs()); // shortest round-trip digits, e.g. "1.2345e-7"
    let (mant, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let k = digits.len() as i32;
    let n = exp + 1; // position of the decimal point relative to the digits
    if k <= n && n <= 21 {
        out.push_str(&digits);
        for _ in 0..(n - k) {
            out.push('0');
        }
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        for _ in 0..(-n) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        let _ = write!(out, "{}", (n - 1).abs());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(f: f64) -> String {
        let mut s = String::new();
        write_es6_double(&mut s, f);
        s
    }

    #[test]
    fn es6_numbers_match_rfc8785_examples() {
        assert_eq!(num(1e21), "1e+21");
        assert_eq!(num(1e20), "100000000000000000000");
        assert_eq!(num(1e-7), "1e-7");
        assert_eq!(num(1e-6), "0.000001");
        assert_eq!(num(333333333.3333333), "333333333.3333333");
        assert_eq!(num(-1.5), "-1.5");
        assert_eq!(num(4.5), "4.5");
        assert_eq!(num(2e-3), "0.002");
        assert_eq!(num(9007199254740992.0), "9007199254740992");
        assert_eq!(num(1.7976931348623157e308), "1.7976931348623157e+308");
    }

    #[test]
    fn utf16_order_differs_from_code_point_order_only_across_planes() {
        // U+FB01 (ﬁ) sorts after U+1F600 (😀) in UTF-16 (0xD83D < 0xFB01) but before it
        // by code point; ASCII and BMP keys compare as bytes.
        let v: Value =
            serde_json::from_str(r#"{"\ufb01":1,"\ud83d\ude00":2,"b":3,"a\u00e9":4}"#).unwrap();
        assert_eq!(to_string(&v), "{\"aé\":4,\"b\":3,\"😀\":2,\"ﬁ\":1}");
    }

    #[test]
    fn sorts_keys_by_utf16_and_escapes_minimally() {
        let v: Value = serde_json::from_str(
            r#"{"b":1,"a":[true,null,"x\u0001\n"],"\u20ac":1.50,"\ud83d\ude00":2,"1":{"z":0,"y":-0}}"#,
        )
        .unwrap();
        assert_eq!(
            to_string(&v),
            "{\"1\":{\"y\":0,\"z\":0},\"a\":[true,null,\"x\\u0001\\n\"],\"b\":1,\"€\":1.5,\"😀\":2}"
        );
    }
}
