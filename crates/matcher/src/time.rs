//! Event time parsing for the scanner, without allocating.
//!
//! A field with the `event-time` role ([`crate::fields::Role::EventTime`]; EVE
//! `timestamp`, Zeek `ts`) is read as Unix microseconds:
//!
//! * an ISO 8601 / RFC 3339 date-time string `YYYY-MM-DDTHH:MM:SS[.fraction][offset]`
//!   (`T`, `t` or a space between date and time), where the offset is `Z`/`z`, `±HHMM`,
//!   `±HH:MM` or `±HH`; without an offset the time is taken as UTC. Suricata writes
//!   `2026-03-01T10:05:00.123456+0000`.
//! * epoch seconds, as a JSON number (`1772359500.123456`, as Zeek writes it; an exponent
//!   is accepted) or as a string holding such a number.
//!
//! Fractions finer than a microsecond are truncated (rounded towards the past). Years
//! are 0000-9999; month, day (leap years included), hour, minute and offset are checked;
//! a second of 60 (a leap second) is accepted and counts as the next second's start.

/// Parses an event time (ISO 8601 string content or epoch seconds) into Unix
/// microseconds. `None` when the text is neither.
pub fn parse_event_time(b: &[u8]) -> Option<i64> {
    parse_event_time_cached(b, &mut HourCache::default())
}

fn trim(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if first.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if last.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

/// Fixed-width decimal field at `b[i..i + n]`.
fn digits(b: &[u8], i: usize, n: usize) -> Option<i64> {
    let s = b.get(i..i + n)?;
    let mut v = 0i64;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days from 1970-01-01 to the proleptic Gregorian date `y-m-d` (eras of 400 years).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Two decimal digits.
#[inline(always)]
fn two(a: u8, b: u8) -> Option<i64> {
    (a.is_ascii_digit() && b.is_ascii_digit())
        .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
}

/// An ISO 8601 date-time (see the module docs) as Unix microseconds.
pub fn parse_iso8601(b: &[u8]) -> Option<i64> {
    let h: &[u8; 19] = b.first_chunk()?;
    iso8601_after_hour(b, h, hour_start(h)?)
}

/// The hour a date-time falls in, as read by [`parse_event_time_cached`]: its first 13
/// bytes (`YYYY-MM-DDThh`) and the Unix seconds at which that hour starts (before any
/// offset). Telemetry arrives in time order, so most events share the previous one's.
#[derive(Debug, Clone, Copy, Default)]
pub struct HourCache {
    head: Option<([u8; 13], i64)>,
}

/// [`parse_event_time`], reading the date and hour of an ISO 8601 time from `cache` when
/// they are the previous call's (the result is the same either way).
pub fn parse_event_time_cached(b: &[u8], cache: &mut HourCache) -> Option<i64> {
    let t = trim(b);
    if t.get(4) != Some(&b'-') {
        return parse_epoch_seconds(t);
    }
    let h: &[u8; 19] = t.first_chunk()?;
    let head: &[u8; 13] = h.first_chunk()?;
    let base = match cache.head {
        Some((cached, base)) if cached == *head => base,
        _ => {
            let base = hour_start(h)?;
            cache.head = Some((*head, base));
            base
        }
    };
    iso8601_after_hour(t, h, base)
}

/// Unix seconds at the start of the hour named by `h[..13]` (`YYYY-MM-DDThh`, checked),
/// before any offset.
fn hour_start(h: &[u8; 19]) -> Option<i64> {
    if h[4] != b'-' || h[7] != b'-' || !matches!(h[10], b'T' | b't' | b' ') {
        return None;
    }
    let year = two(h[0], h[1])? * 100 + two(h[2], h[3])?;
    let month = two(h[5], h[6])?;
    let day = two(h[8], h[9])?;
    let hour = two(h[11], h[12])?;
    if !(1..=12).contains(&month) || !(1..=days_in_month(year, month)).contains(&day) || hour > 23 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600)
}

/// The rest of a date-time after its hour (`:mm:ss[.fraction][offset]`, checked), added
/// to `base` ([`hour_start`]), as Unix microseconds.
fn iso8601_after_hour(b: &[u8], h: &[u8; 19], base: i64) -> Option<i64> {
    if h[13] != b':' || h[16] != b':' {
        return None;
    }
    let minute = two(h[14], h[15])?;
    let second = two(h[17], h[18])?;
    if minute > 59 || second > 60 {
        return None;
    }
    let mut i = 19;
    let mut micros = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        // Up to six digits are microseconds; finer ones are checked and dropped.
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            if i - start < 6 {
                micros = micros * 10 + i64::from(c - b'0');
            }
            i += 1;
        }
        match i - start {
            0 => return None,
            n @ 1..=5 => micros *= [100_000, 10_000, 1_000, 100, 10][n - 1],
            _ => {}
        }
    }
    let offset_s = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let rest = &b[i + 1..];
            let (h, m) = match rest.len() {
                2 => (digits(rest, 0, 2)?, 0),
                4 => (digits(rest, 0, 2)?, digits(rest, 2, 2)?),
                5 if rest[2] == b':' => (digits(rest, 0, 2)?, digits(rest, 3, 2)?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let s = h * 3600 + m * 60;
            if sign == b'-' {
                -s
            } else {
                s
            }
        }
        _ => return None,
    };
    let secs = base + minute * 60 + second - offset_s;
    Some(secs * 1_000_000 + micros)
}

/// Epoch seconds written as a JSON number (`-?int[.frac][e±exp]`) as Unix microseconds
/// (`None` when not such a number or out of range).
pub fn parse_epoch_seconds(b: &[u8]) -> Option<i64> {
    epoch_plain(b).or_else(|| epoch_general(b))
}

/// [`parse_epoch_seconds`] for any JSON number (sign, exponent, many digits).
fn epoch_general(b: &[u8]) -> Option<i64> {
    let (neg, mut i) = match b.first() {
        Some(b'-') => (true, 1),
        _ => (false, 0),
    };
    let mut mant: i128 = 0;
    let mut sig = 0u32;
    let mut frac = 0i32;
    let int_start = i;
    let mut push = |c: u8, mant: &mut i128| -> Option<()> {
        if *mant != 0 || c != b'0' {
            sig += 1;
            if sig > 30 {
                return None;
            }
        }
        *mant = *mant * 10 + i128::from(c - b'0');
        Some(())
    };
    while let Some(&c) = b.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        push(c, &mut mant)?;
        i += 1;
    }
    if i == int_start {
        return None;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            push(c, &mut mant)?;
            frac += 1;
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let mut exp = 0i32;
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let eneg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            if exp > 1000 {
                return None;
            }
            exp = exp * 10 + i32::from(c - b'0');
            i += 1;
        }
        if i == start {
            return None;
        }
        if eneg {
            exp = -exp;
        }
    }
    if i != b.len() {
        return None;
    }
    if neg {
        mant = -mant;
    }
    let scale = 6 + exp - frac;
    let v = if mant == 0 {
        0
    } else if scale >= 0 {
        let mul = 10i128.checked_pow(u32::try_from(scale).ok()?)?;
        mant.checked_mul(mul)?
    } else {
        match 10i128.checked_pow(u32::try_from(-scale).ok()?) {
            Some(div) => mant.div_euclid(div),
            // Smaller than a microsecond in magnitude.
            None if mant < 0 => -1,
            None => 0,
        }
    };
    i64::try_from(v).ok()
}

/// The common form of [`parse_epoch_seconds`] in 64-bit arithmetic: up to 12 integer
/// digits and up to 9 decimals, no sign, no exponent (Zeek's `ts`); digits past the
/// sixth decimal are dropped, as the general form's floor division does for a
/// non-negative value. `None` sends anything else to the general form.
#[inline]
fn epoch_plain(b: &[u8]) -> Option<i64> {
    let mut i = 0;
    let mut secs: i64 = 0;
    while let Some(&c) = b.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        if i == 12 {
            return None;
        }
        secs = secs * 10 + i64::from(c - b'0');
        i += 1;
    }
    if i == 0 {
        return None;
    }
    let mut micros = 0i64;
    if i < b.len() {
        if b[i] != b'.' {
            return None;
        }
        i += 1;
        let start = i;
        let mut scale = 100_000i64;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() || i - start == 9 {
                return None;
            }
            micros += i64::from(c - b'0') * scale;
            scale /= 10;
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    Some(secs * 1_000_000 + micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_772_359_500; // 2026-03-01T10:05:00Z

    #[test]
    fn iso_forms() {
        let us = T * 1_000_000 + 123_456;
        for s in [
            "2026-03-01T10:05:00.123456+0000",
            "2026-03-01T10:05:00.123456Z",
            "2026-03-01T10:05:00.123456+00:00",
            "2026-03-01t10:05:00.123456z",
            "2026-03-01 10:05:00.123456",
            "2026-03-01T11:05:00.123456+01:00",
            "2026-03-01T05:05:00.123456-0500",
            "2026-03-01T12:05:00.123456+02",
            "2026-03-01T10:05:00.1234569Z",
            " 2026-03-01T10:05:00.123456Z ",
        ] {
            assert_eq!(parse_event_time(s.as_bytes()), Some(us), "{s}");
        }
        assert_eq!(
            parse_event_time(b"2026-03-01T10:05:00Z"),
            Some(T * 1_000_000)
        );
        assert_eq!(parse_event_time(b"1970-01-01T00:00:00Z"), Some(0));
        // Every fraction length: up to six digits are microseconds, finer ones dropped.
        for (frac, us) in [
            ("1", 100_000),
            ("12", 120_000),
            ("123", 123_000),
            ("1234", 123_400),
            ("12345", 123_450),
            ("000001", 1),
            ("9999999999", 999_999),
        ] {
            let s = format!("1970-01-01T00:00:01.{frac}Z");
            assert_eq!(parse_event_time(s.as_bytes()), Some(1_000_000 + us), "{s}");
        }
        assert_eq!(parse_event_time(b"1969-12-31T23:59:59.5Z"), Some(-500_000));
        assert_eq!(
            parse_event_time(b"2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000_000)
        );
        assert_eq!(
            parse_event_time(b"2000-03-01T00:00:00Z"),
            Some(951_868_800_000_000)
        );
    }

    #[test]
    fn iso_rejects() {
        for s in [
            "",
            "2026-03-01",
            "2026-03-01T10:05",
            "2026-13-01T10:05:00Z",
            "2026-02-29T10:05:00Z",
            "2026-03-32T10:05:00Z",
            "2026-03-01T24:00:00Z",
            "2026-03-01T10:60:00Z",
            "2026-03-01T10:05:61Z",
            "2026-03-01T10:05:00.Z",
            "2026-03-01T10:05:00+2400",
            "2026-03-01T10:05:00+0060",
            "2026-03-01T10:05:00+000",
            "2026-03-01T10:05:00Zx",
            "2026-03-01X10:05:00Z",
            "2026/03/01T10:05:00Z",
            "2026-03-01T10:05:00 UTC",
            "yesterday",
        ] {
            assert_eq!(parse_event_time(s.as_bytes()), None, "{s:?}");
        }
    }

    /// Reading the date and hour from the cache never changes a result: every form and
    /// refusal above, and generated times around hour, day, month and leap-day
    /// boundaries, parsed in several orders through one cache, agree with the uncached
    /// parse.
    #[test]
    fn the_hour_cache_never_changes_a_result() {
        let mut inputs: Vec<String> = [
            "2026-03-01T10:05:00.123456+0000",
            "2026-03-01T10:05:00.123456Z",
            "2026-03-01T10:60:00Z",
            "2026-03-01T10:05:61Z",
            "2026-03-01T10:05:00.Z",
            "2026-03-01T10:05:00+2400",
            "2026-03-01T10:05",
            "2026-03-01T10",
            "2026-03-01X10:05:00Z",
            "2026-02-29T10:05:00Z",
            "2026-03-01T24:00:00Z",
            " 2026-03-01T10:05:00.123456Z ",
            "1772359500.123456",
            "yesterday",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..3_000 {
            crate::xorshift(&mut x);
            let year = [1999, 2000, 2023, 2024, 2026][(x % 5) as usize];
            let month = 1 + (x >> 8) % 12;
            let day = [1, 28, 29, 30, 31][((x >> 16) % 5) as usize];
            let hour = [0, 9, 10, 23, 24][((x >> 24) % 5) as usize];
            let minute = (x >> 32) % 61;
            let second = (x >> 40) % 62;
            let off = ["Z", "+0000", "-05:00", "+02", ""][((x >> 48) % 5) as usize];
            inputs.push(format!(
                "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{:06}{off}",
                (x >> 20) % 1_000_000
            ));
            // The next event of the same hour, as telemetry usually has it.
            inputs.push(format!(
                "{year:04}-{month:02}-{day:02}T{hour:02}:{:02}:{:02}{off}",
                (minute + 1) % 61,
                (x >> 56) % 62
            ));
        }
        let mut cache = HourCache::default();
        let n = inputs.len();
        let orders: [Box<dyn Fn(usize) -> usize>; 3] = [
            Box::new(|k| k),
            Box::new(move |k| n - 1 - k),
            Box::new(move |k| (k * 7919) % n),
        ];
        let mut hits = 0;
        for order in &orders {
            for k in 0..n {
                let s = &inputs[order(k)];
                let before = cache.head;
                let got = parse_event_time_cached(s.as_bytes(), &mut cache);
                assert_eq!(got, parse_event_time(s.as_bytes()), "{s:?}");
                if before.is_some() && before == cache.head && got.is_some() {
                    hits += 1;
                }
            }
        }
        // The cache was used, not only filled.
        assert!(hits > 100, "{hits}");
    }

    #[test]
    fn plain_epoch_numbers_agree_with_the_general_form() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            crate::xorshift(&mut x);
            let int_digits = 1 + (x % 13) as usize;
            let frac_digits = ((x >> 8) % 11) as usize;
            let mut s = String::new();
            let mut y = x;
            for k in 0..int_digits {
                s.push(char::from(b'0' + (y % 10) as u8));
                y /= 10;
                if k == 0 && y.is_multiple_of(7) {
                    y += 1;
                }
            }
            if frac_digits > 0 || (x >> 40).is_multiple_of(5) {
                s.push('.');
                for _ in 0..frac_digits {
                    y = y.wrapping_mul(6364136223846793005).wrapping_add(1);
                    s.push(char::from(b'0' + ((y >> 33) % 10) as u8));
                }
            }
            let b = s.as_bytes();
            if let Some(fast) = epoch_plain(b) {
                assert_eq!(Some(fast), epoch_general(b), "{s}");
            } else {
                // Only forms outside the fast one (too long, a trailing dot) go on.
                assert!(
                    int_digits > 12 || frac_digits > 9 || s.ends_with('.'),
                    "{s}"
                );
            }
        }
        assert_eq!(
            epoch_plain(b"1795168801.856451"),
            Some(1_795_168_801_856_451)
        );
        assert_eq!(epoch_plain(b"-1.5"), None);
        assert_eq!(epoch_plain(b"1e3"), None);
        assert_eq!(epoch_plain(b"1."), None);
    }

    #[test]
    fn epoch_numbers() {
        assert_eq!(
            parse_event_time(b"1772359500.123456"),
            Some(T * 1_000_000 + 123_456)
        );
        assert_eq!(parse_event_time(b"1772359500"), Some(T * 1_000_000));
        assert_eq!(
            parse_event_time(b"1772359500.1234567"),
            Some(T * 1_000_000 + 123_456)
        );
        assert_eq!(parse_event_time(b"1.7723595e9"), Some(T * 1_000_000));
        assert_eq!(
            parse_event_time(b"17723595001E-1"),
            Some(T * 1_000_000 + 100_000)
        );
        assert_eq!(parse_event_time(b"0"), Some(0));
        assert_eq!(parse_event_time(b"-1.5"), Some(-1_500_000));
        assert_eq!(parse_event_time(b"1e-9"), Some(0));
        assert_eq!(parse_event_time(b"-1e-9"), Some(-1));
        for s in [
            "",
            "-",
            "1.",
            ".5",
            "1e",
            "1e+",
            "0x10",
            "1.5.5",
            "1e99",
            "99999999999999999999",
        ] {
            assert_eq!(parse_event_time(s.as_bytes()), None, "{s:?}");
        }
    }
}
