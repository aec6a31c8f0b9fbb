//! STIX timestamps (RFC 3339, UTC, `Z` suffix, optional fractional seconds).
//!
//! *Invariant*: a [`Timestamp`] keeps the precision it was written with, so
//! re-serialising an object never changes a timestamp's text; comparisons are
//! on the instant (nanosecond resolution), so `…:00.1Z` equals `…:00.100Z`.

use std::cmp::Ordering;
use std::fmt;

/// An instant in UTC with the number of fractional digits it was written with.
#[derive(Debug, Clone, Copy)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    secs: i64,
    /// Nanoseconds within the second.
    nanos: u32,
    /// Fractional digits as written (0 = none, max 9 kept).
    precision: u8,
}

/// Why a string is not a STIX timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp {text:?}: {reason}")]
pub struct TimestampError {
    pub text: String,
    pub reason: &'static str,
}

impl Timestamp {
    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z`. Lower-case `t`/`z` are refused, as
    /// are offsets other than `Z` (STIX 2.1 §3.2 requires UTC with `Z`).
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let err = |reason| TimestampError {
            text: text.to_owned(),
            reason,
        };
        let b = text.as_bytes();
        if b.len() < 20 {
            return Err(err("too short; expected YYYY-MM-DDTHH:MM:SS[.s]Z"));
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let s = b.get(r)?;
            if !s.iter().all(u8::is_ascii_digit) {
                return None;
            }
            s.iter()
                .try_fold(0u32, |acc, d| Some(acc * 10 + u32::from(d - b'0')))
        };
        let year = num(0..4).ok_or_else(|| err("year is not four digits"))?;
        if b[4] != b'-' || b[7] != b'-' {
            return Err(err("date must be YYYY-MM-DD"));
        }
        let month = num(5..7).ok_or_else(|| err("month is not two digits"))?;
        let day = num(8..10).ok_or_else(|| err("day is not two digits"))?;
        if b[10] != b'T' {
            return Err(err("expected 'T' between date and time"));
        }
        let hour = num(11..13).ok_or_else(|| err("hour is not two digits"))?;
        if b[13] != b':' || b[16] != b':' {
            return Err(err("time must be HH:MM:SS"));
        }
        let minute = num(14..16).ok_or_else(|| err("minute is not two digits"))?;
        let second = num(17..19).ok_or_else(|| err("second is not two digits"))?;
        let mut i = 19;
        let mut nanos = 0u32;
        let mut precision = 0u8;
        if b[i] == b'.' {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 9 {
                    nanos = nanos * 10 + u32::from(b[i] - b'0');
                }
                i += 1;
            }
            let digits = i - start;
            if digits == 0 {
                return Err(err("a '.' must be followed by fractional digits"));
            }
            for _ in digits..9 {
                nanos *= 10;
            }
            precision = digits.min(9) as u8;
        }
        if i != b.len() - 1 || b[i] != b'Z' {
            return Err(err("must end with 'Z' (UTC)"));
        }
        if !(1..=12).contains(&month) {
            return Err(err("month out of range"));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(err("day out of range for the month"));
        }
        if hour > 23 || minute > 59 {
            return Err(err("hour or minute out of range"));
        }
        // A leap second (:60) is allowed by RFC 3339; it is folded into the next second.
        if second > 60 {
            return Err(err("second out of range"));
        }
        let days = days_from_civil(i64::from(year), month, day);
        let secs =
            days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
        Ok(Timestamp {
            secs,
            nanos,
            precision,
        })
    }

    /// Builds a timestamp from Unix microseconds, written with 6 fractional digits.
    pub fn from_unix_micros(micros: i64) -> Self {
        Timestamp {
            secs: micros.div_euclid(1_000_000),
            nanos: (micros.rem_euclid(1_000_000) as u32) * 1000,
            precision: 6,
        }
    }

    /// Builds a timestamp from Unix milliseconds, written with 3 fractional digits.
    pub fn from_unix_millis(millis: i64) -> Self {
        Timestamp {
            secs: millis.div_euclid(1000),
            nanos: (millis.rem_euclid(1000) as u32) * 1_000_000,
            precision: 3,
        }
    }

    /// The current time, with millisecond precision (what STIX producers conventionally write).
    pub fn now_millis() -> Self {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self::from_unix_millis(d.as_millis() as i64)
    }

    /// The current time in Unix microseconds.
    pub fn now_unix_micros() -> i64 {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        d.as_micros() as i64
    }

    pub fn unix_seconds(&self) -> i64 {
        self.secs
    }
    pub fn subsec_nanos(&self) -> u32 {
        self.nanos
    }
    /// Unix time in microseconds (sub-microsecond digits are truncated).
    pub fn unix_micros(&self) -> i64 {
        self.secs * 1_000_000 + i64::from(self.nanos / 1000)
    }
    /// Unix time in nanoseconds, as i128 so no date overflows.
    pub fn unix_nanos(&self) -> i128 {
        i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos)
    }
    /// Number of fractional digits the timestamp was written with.
    pub fn precision(&self) -> u8 {
        self.precision
    }
    /// The same instant written with `digits` fractional digits (extra digits are truncated).
    pub fn with_precision(mut self, digits: u8) -> Self {
        let digits = digits.min(9);
        let div = 10u32.pow(u32::from(9 - digits));
        self.nanos = self.nanos / div * div;
        self.precision = digits;
        self
    }

    /// A fixed-width, lexically sortable key (`YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`).
    /// Two timestamps are the same instant exactly when their keys are equal.
    pub fn sort_key(&self) -> String {
        self.with_precision(9).to_string()
    }
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.secs == other.secs && self.nanos == other.nanos
    }
}
impl Eq for Timestamp {}
impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.secs, self.nanos).cmp(&(other.secs, other.nanos))
    }
}
impl std::hash::Hash for Timestamp {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.secs.hash(state);
        self.nanos.hash(state);
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            y,
            m,
            d,
            rem / 3600,
            (rem % 3600) / 60,
            rem % 60
        )?;
        if self.precision > 0 {
            let frac = format!("{:09}", self.nanos);
            write!(f, ".{}", &frac[..usize::from(self.precision)])?;
        }
        f.write_str("Z")
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

fn is_leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}
fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}
// Howard Hinnant's civil-date algorithms.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_text_at_written_precision() {
        for s in [
            "2016-04-06T20:03:48Z",
            "2016-04-06T20:03:48.000Z",
            "2016-04-06T20:03:48.123456Z",
            "1970-01-01T00:00:00.1Z",
            "2000-02-29T23:59:59.999999999Z",
            "1969-12-31T23:59:59.5Z",
        ] {
            assert_eq!(Timestamp::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn compares_instants_not_text() {
        let a = Timestamp::parse("2016-04-06T20:03:48.1Z").unwrap();
        let b = Timestamp::parse("2016-04-06T20:03:48.100Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.sort_key(), b.sort_key());
        let c = Timestamp::parse("2016-04-06T20:03:48.101Z").unwrap();
        assert!(c > a);
        assert!(c.sort_key() > a.sort_key());
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "garbage",
            "2016-04-06 20:03:48Z",
            "2016-04-06T20:03:48",
            "2016-04-06T20:03:48+00:00",
            "2016-04-06T20:03:48.Z",
            "2016-13-06T20:03:48Z",
            "2015-02-29T20:03:48Z",
            "2016-04-06T24:03:48Z",
            "2016-04-06t20:03:48z",
        ] {
            assert!(Timestamp::parse(s).is_err(), "{s} should be rejected");
        }
    }

    #[test]
    fn micros_conversions() {
        let t = Timestamp::parse("2020-01-02T03:04:05.678901Z").unwrap();
        assert_eq!(Timestamp::from_unix_micros(t.unix_micros()), t);
        assert_eq!(
            Timestamp::from_unix_micros(t.unix_micros()).to_string(),
            t.to_string()
        );
    }
}
