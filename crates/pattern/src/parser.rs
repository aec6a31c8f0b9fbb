//! Recursive-descent parser for the STIX 2.1 patterning grammar, plus the semantic checks
//! that `stix2patterns.validator.run_validator(pattern, stix_version='2.1')` applies:
//! the leading-bracket check, duplicate qualifiers on one `[...]`, hash-value formats and
//! the index forms its inspector accepts.
//!
//! *Invariant*: recursion depth is checked before every recursive call, so deep input gives
//! [`ParseErrorKind::TooDeep`], never a stack overflow.

use std::fmt;
use std::ops::Range;

use base64::Engine as _;

use crate::ast::*;
use crate::lexer::{lex, Tok, Token};

/// Bounds applied while parsing untrusted patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum pattern length in bytes.
    pub max_len: usize,
    /// Maximum nesting depth of parentheses and brackets.
    pub max_depth: usize,
    /// Maximum number of property tests (including set members).
    pub max_comparisons: usize,
    /// Maximum `REPEATS n` count.
    pub max_repeats: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_len: 64 * 1024,
            max_depth: 64,
            max_comparisons: 4096,
            max_repeats: 1000,
        }
    }
}

/// What went wrong while parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The grammar does not allow this token here.
    Syntax {
        /// What the grammar allows at this position.
        expected: String,
        /// What was found.
        found: String,
    },
    /// The pattern does not begin with `[` (after any `(` and whitespace).
    MissingBrackets,
    /// The same qualifier type appears twice on one `[...]`.
    DuplicateQualifier(&'static str),
    /// A comparison on `hashes.<algorithm>` with a value that is not a hash of that kind.
    InvalidHash {
        /// The hash value as the reference validator sees it.
        value: String,
        /// The algorithm key.
        algorithm: String,
    },
    /// A negative list index, or an integer index on a `hashes` path (the reference
    /// validator fails on both).
    BadIndex(String),
    /// A number too large for this implementation.
    NumberOutOfRange(String),
    /// Nesting deeper than [`Limits::max_depth`].
    TooDeep(usize),
    /// The pattern is longer than [`Limits::max_len`] bytes.
    TooLong(usize),
    /// More comparisons than [`Limits::max_comparisons`].
    TooManyComparisons(usize),
    /// `REPEATS n` over [`Limits::max_repeats`].
    TooManyRepeats(u64),
}

/// A parse error: what, where (a code-point column span, 0-based) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// The kind of error.
    pub kind: ParseErrorKind,
    /// Column span (in Unicode code points, 0-based, end exclusive).
    pub span: Range<usize>,
}

impl ParseError {
    /// A stable code for this error.
    pub fn code(&self) -> &'static str {
        match self.kind {
            ParseErrorKind::Syntax { .. } => "pattern.syntax",
            ParseErrorKind::MissingBrackets => "pattern.missing_brackets",
            ParseErrorKind::DuplicateQualifier(_) => "pattern.duplicate_qualifier",
            ParseErrorKind::InvalidHash { .. } => "pattern.invalid_hash",
            ParseErrorKind::BadIndex(_) => "pattern.bad_index",
            ParseErrorKind::NumberOutOfRange(_) => "pattern.number_out_of_range",
            ParseErrorKind::TooDeep(_) => "pattern.limit.depth",
            ParseErrorKind::TooLong(_) => "pattern.limit.length",
            ParseErrorKind::TooManyComparisons(_) => "pattern.limit.comparisons",
            ParseErrorKind::TooManyRepeats(_) => "pattern.limit.repeats",
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] column {}: ", self.code(), self.span.start + 1)?;
        match &self.kind {
            ParseErrorKind::Syntax { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            ParseErrorKind::MissingBrackets => {
                write!(f, "a pattern must begin with '[' (after any '(')")
            }
            ParseErrorKind::DuplicateQualifier(q) => {
                write!(f, "duplicate {q} qualifier on one observation expression")
            }
            ParseErrorKind::InvalidHash { value, algorithm } => {
                write!(f, "'{value}' is not a valid {algorithm} hash")
            }
            ParseErrorKind::BadIndex(why) => write!(f, "unsupported list index: {why}"),
            ParseErrorKind::NumberOutOfRange(n) => write!(f, "number out of range: {n}"),
            ParseErrorKind::TooDeep(max) => write!(f, "nesting deeper than {max} levels"),
            ParseErrorKind::TooLong(max) => write!(f, "pattern longer than {max} bytes"),
            ParseErrorKind::TooManyComparisons(max) => {
                write!(f, "more than {max} comparisons")
            }
            ParseErrorKind::TooManyRepeats(max) => write!(f, "REPEATS count over {max}"),
        }
    }
}

/// Base64 as Python's `base64.standard_b64decode` reads it: non-zero trailing bits allowed.
pub(crate) const LENIENT_BASE64: base64::engine::GeneralPurpose =
    base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    );

/// Parses a STIX 2.1 pattern with the default [`Limits`].
pub fn parse(input: &str) -> Result<Pattern, ParseError> {
    parse_with_limits(input, &Limits::default())
}

/// Parses a STIX 2.1 pattern with explicit limits.
pub fn parse_with_limits(input: &str, limits: &Limits) -> Result<Pattern, ParseError> {
    if input.len() > limits.max_len {
        return Err(ParseError {
            kind: ParseErrorKind::TooLong(limits.max_len),
            span: 0..input.chars().count(),
        });
    }
    let chars: Vec<char> = input.chars().collect();
    let tokens = lex(&chars);
    let mut p = Parser {
        chars: &chars,
        toks: &tokens,
        pos: 0,
        depth: 0,
        comparisons: 0,
        limits,
    };
    let root = p.observation_exprs()?;
    p.expect(
        Tok::Eof,
        "AND, OR, FOLLOWEDBY, a qualifier or end of pattern",
    )?;
    // The reference validator's bracket check runs on the raw text; report it after the
    // grammar so a syntax error keeps its more precise position.
    if !brackets_check(&chars) {
        return Err(ParseError {
            kind: ParseErrorKind::MissingBrackets,
            span: 0..1,
        });
    }
    Ok(Pattern { root })
}

/// Python's `str.isspace()` (Unicode White_Space plus the ASCII separators 0x1c-0x1f).
fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `stix2patterns.helpers.brackets_check`.
fn brackets_check(chars: &[char]) -> bool {
    chars
        .iter()
        .find(|c| **c != '(' && !py_isspace(**c))
        .is_some_and(|c| *c == '[')
}

struct Parser<'a> {
    chars: &'a [char],
    toks: &'a [Token],
    pos: usize,
    depth: usize,
    comparisons: usize,
    limits: &'a Limits,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum QualKind {
    Within,
    Repeats,
    StartStop,
}

impl Parser<'_> {
    fn peek(&self) -> Token {
        // `lex` always ends with Eof and we never advance past it.
        self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek();
        if t.kind != Tok::Eof {
            self.pos += 1;
        }
        t
    }

    fn text(&self, t: Token) -> String {
        self.chars[t.start..t.end].iter().collect()
    }

    fn found(&self, t: Token) -> String {
        if t.kind == Tok::Eof {
            "end of pattern".to_string()
        } else {
            let mut s = self.text(t);
            if s.chars().count() > 40 {
                s = s.chars().take(40).collect::<String>() + "...";
            }
            format!("{} `{}`", t.kind.describe(), s)
        }
    }

    fn error(&self, t: Token, expected: &str) -> ParseError {
        ParseError {
            kind: ParseErrorKind::Syntax {
                expected: expected.to_string(),
                found: self.found(t),
            },
            span: t.start..t.end.max(t.start + 1),
        }
    }

    fn expect(&mut self, kind: Tok, expected: &str) -> Result<Token, ParseError> {
        let t = self.peek();
        if t.kind == kind {
            Ok(self.bump())
        } else {
            Err(self.error(t, expected))
        }
    }

    fn enter(&mut self, t: Token) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(ParseError {
                kind: ParseErrorKind::TooDeep(self.limits.max_depth),
                span: t.start..t.end,
            });
        }
        Ok(())
    }

    fn count(&mut self, t: Token, n: usize) -> Result<(), ParseError> {
        self.comparisons += n;
        if self.comparisons > self.limits.max_comparisons {
            return Err(ParseError {
                kind: ParseErrorKind::TooManyComparisons(self.limits.max_comparisons),
                span: t.start..t.end,
            });
        }
        Ok(())
    }

    fn observation_exprs(&mut self) -> Result<ObservationExpr, ParseError> {
        let mut items = vec![self.observation_or()?];
        while self.peek().kind == Tok::FollowedBy {
            self.bump();
            items.push(self.observation_or()?);
        }
        Ok(one_or(items, ObservationExpr::FollowedBy))
    }

    fn observation_or(&mut self) -> Result<ObservationExpr, ParseError> {
        let mut items = vec![self.observation_and()?];
        while self.peek().kind == Tok::Or {
            self.bump();
            items.push(self.observation_and()?);
        }
        Ok(one_or(items, ObservationExpr::Or))
    }

    fn observation_and(&mut self) -> Result<ObservationExpr, ParseError> {
        let mut items = vec![self.observation_expr()?];
        while self.peek().kind == Tok::And {
            self.bump();
            items.push(self.observation_expr()?);
        }
        Ok(one_or(items, ObservationExpr::And))
    }

    fn observation_expr(&mut self) -> Result<ObservationExpr, ParseError> {
        let t = self.peek();
        let (mut expr, simple) = match t.kind {
            Tok::LBrack => {
                self.bump();
                self.enter(t)?;
                let c = self.comparison_expr()?;
                self.depth -= 1;
                self.expect(Tok::RBrack, "AND, OR or ']'")?;
                (ObservationExpr::Comparison(c), true)
            }
            Tok::LParen => {
                self.bump();
                self.enter(t)?;
                let e = self.observation_exprs()?;
                self.depth -= 1;
                self.expect(Tok::RParen, "AND, OR, FOLLOWEDBY, a qualifier or ')'")?;
                (e, false)
            }
            _ => return Err(self.error(t, "'[' or '('")),
        };
        let mut seen: Vec<QualKind> = Vec::new();
        loop {
            let t = self.peek();
            let (qualifier, kind) = match t.kind {
                Tok::Within => {
                    self.bump();
                    let n = self.peek();
                    let seconds = match n.kind {
                        Tok::IntPos | Tok::FloatPos => {
                            self.bump();
                            let text = self.text(n);
                            text.parse::<f64>().map_err(|_| ParseError {
                                kind: ParseErrorKind::NumberOutOfRange(text.clone()),
                                span: n.start..n.end,
                            })?
                        }
                        _ => return Err(self.error(n, "a non-negative number of seconds")),
                    };
                    self.expect(Tok::Seconds, "SECONDS")?;
                    (Qualifier::Within { seconds }, QualKind::Within)
                }
                Tok::Repeats => {
                    self.bump();
                    let n = self.expect(Tok::IntPos, "a non-negative integer")?;
                    let text = self.text(n);
                    let too_many = ParseError {
                        kind: ParseErrorKind::TooManyRepeats(self.limits.max_repeats),
                        span: n.start..n.end,
                    };
                    let times: u64 = text.parse().map_err(|_| too_many.clone())?;
                    if times > self.limits.max_repeats {
                        return Err(too_many);
                    }
                    self.expect(Tok::Times, "TIMES")?;
                    (Qualifier::Repeats { times }, QualKind::Repeats)
                }
                Tok::Start => {
                    self.bump();
                    let a = self.expect(Tok::Timestamp, "a timestamp literal t'...'")?;
                    self.expect(Tok::Stop, "STOP")?;
                    let b = self.expect(Tok::Timestamp, "a timestamp literal t'...'")?;
                    (
                        Qualifier::StartStop {
                            start: self.ts_text(a),
                            stop: self.ts_text(b),
                        },
                        QualKind::StartStop,
                    )
                }
                _ => break,
            };
            if simple {
                if seen.contains(&kind) {
                    let name = match kind {
                        QualKind::Within => "WITHIN",
                        QualKind::Repeats => "REPEATS",
                        QualKind::StartStop => "STARTSTOP",
                    };
                    return Err(ParseError {
                        kind: ParseErrorKind::DuplicateQualifier(name),
                        span: t.start..self.toks[self.pos.saturating_sub(1)].end,
                    });
                }
                seen.push(kind);
            }
            expr = ObservationExpr::Qualified {
                expr: Box::new(expr),
                qualifier,
            };
        }
        Ok(expr)
    }

    fn ts_text(&self, t: Token) -> String {
        self.chars[t.start + 2..t.end - 1].iter().collect()
    }

    fn comparison_expr(&mut self) -> Result<ComparisonExpr, ParseError> {
        let mut items = vec![self.comparison_and()?];
        while self.peek().kind == Tok::Or {
            self.bump();
            items.push(self.comparison_and()?);
        }
        Ok(one_or(items, ComparisonExpr::Or))
    }

    fn comparison_and(&mut self) -> Result<ComparisonExpr, ParseError> {
        let mut items = vec![self.prop_test()?];
        while self.peek().kind == Tok::And {
            self.bump();
            items.push(self.prop_test()?);
        }
        Ok(one_or(items, ComparisonExpr::And))
    }

    fn prop_test(&mut self) -> Result<ComparisonExpr, ParseError> {
        let t = self.peek();
        match t.kind {
            Tok::LParen => {
                self.bump();
                self.enter(t)?;
                let c = self.comparison_expr()?;
                self.depth -= 1;
                self.expect(Tok::RParen, "AND, OR or ')'")?;
                Ok(c)
            }
            Tok::Exists => {
                self.bump();
                self.count(t, 1)?;
                let (path, _) = self.object_path()?;
                Ok(ComparisonExpr::Exists(path))
            }
            Tok::IdentNoHyphen | Tok::IdentHyphen => {
                self.count(t, 1)?;
                let (path, path_span) = self.object_path()?;
                let negated = if self.peek().kind == Tok::Not {
                    self.bump();
                    true
                } else {
                    false
                };
                let op_tok = self.bump();
                let op = match op_tok.kind {
                    Tok::Eq => CompOp::Eq,
                    Tok::Neq => CompOp::Ne,
                    Tok::Lt => CompOp::Lt,
                    Tok::Le => CompOp::Le,
                    Tok::Gt => CompOp::Gt,
                    Tok::Ge => CompOp::Ge,
                    Tok::In => CompOp::In,
                    Tok::Like => CompOp::Like,
                    Tok::Matches => CompOp::Matches,
                    Tok::IsSubset => CompOp::IsSubset,
                    Tok::IsSuperset => CompOp::IsSuperset,
                    _ => {
                        return Err(self.error(
                            op_tok,
                            if negated {
                                "a comparison operator"
                            } else {
                                "a comparison operator or NOT"
                            },
                        ))
                    }
                };
                let lit_start = self.pos;
                let value = match op {
                    CompOp::Eq | CompOp::Ne => self.literal(true)?,
                    CompOp::Lt | CompOp::Le | CompOp::Gt | CompOp::Ge => self.literal(false)?,
                    CompOp::In => self.set_literal()?,
                    _ => {
                        let s = self.expect(Tok::Str, "a string literal")?;
                        Constant::Str(self.unescape(s))
                    }
                };
                let raw: String = self.toks[lit_start..self.pos]
                    .iter()
                    .map(|t| self.text(*t))
                    .collect();
                check_hash(&path, &raw, path_span)?;
                Ok(ComparisonExpr::Test(Comparison {
                    path,
                    op,
                    negated,
                    value,
                }))
            }
            _ => Err(self.error(t, "an object path, EXISTS or '('")),
        }
    }

    fn unescape(&self, t: Token) -> String {
        let inner: String = self.chars[t.start + 1..t.end - 1].iter().collect();
        inner.replace("\\'", "'").replace("\\\\", "\\")
    }

    fn object_path(&mut self) -> Result<(ObjectPath, Range<usize>), ParseError> {
        let t = self.bump();
        if !matches!(t.kind, Tok::IdentNoHyphen | Tok::IdentHyphen) {
            return Err(self.error(t, "an object type"));
        }
        let object_type = self.text(t);
        self.expect(Tok::Colon, "':'")?;
        let first = self.bump();
        let mut steps = vec![match first.kind {
            Tok::IdentNoHyphen => PathStep::Key(self.text(first)),
            Tok::Str => PathStep::Key(self.unescape(first)),
            _ => return Err(self.error(first, "a property name")),
        }];
        loop {
            let t = self.peek();
            match t.kind {
                Tok::Dot => {
                    self.bump();
                    let k = self.bump();
                    steps.push(match k.kind {
                        Tok::IdentNoHyphen => PathStep::Key(self.text(k)),
                        Tok::Str => PathStep::Key(self.unescape(k)),
                        _ => return Err(self.error(k, "a property name")),
                    });
                }
                Tok::LBrack => {
                    self.bump();
                    let k = self.bump();
                    steps.push(match k.kind {
                        Tok::Asterisk => PathStep::AnyIndex,
                        Tok::IntPos => {
                            let text = self.text(k);
                            PathStep::Index(text.parse().map_err(|_| ParseError {
                                kind: ParseErrorKind::NumberOutOfRange(text.clone()),
                                span: k.start..k.end,
                            })?)
                        }
                        Tok::IntNeg => {
                            return Err(ParseError {
                                kind: ParseErrorKind::BadIndex(
                                    "negative list indices are not supported".into(),
                                ),
                                span: k.start..k.end,
                            })
                        }
                        _ => return Err(self.error(k, "an index or '*'")),
                    });
                    self.expect(Tok::RBrack, "']'")?;
                }
                _ => break,
            }
        }
        let end = self.toks[self.pos.saturating_sub(1)].end;
        Ok((ObjectPath { object_type, steps }, t.start..end))
    }

    fn set_literal(&mut self) -> Result<Constant, ParseError> {
        let open = self.expect(Tok::LParen, "'(' opening a set")?;
        let mut items = Vec::new();
        if self.peek().kind == Tok::RParen {
            self.bump();
            return Ok(Constant::Set(items));
        }
        loop {
            items.push(self.literal(true)?);
            self.count(open, 1)?;
            let t = self.bump();
            match t.kind {
                Tok::Comma => continue,
                Tok::RParen => break,
                _ => return Err(self.error(t, "',' or ')'")),
            }
        }
        Ok(Constant::Set(items))
    }

    fn literal(&mut self, allow_bool: bool) -> Result<Constant, ParseError> {
        let t = self.bump();
        let text = self.text(t);
        let out_of_range = || ParseError {
            kind: ParseErrorKind::NumberOutOfRange(text.clone()),
            span: t.start..t.end,
        };
        Ok(match t.kind {
            Tok::IntPos | Tok::IntNeg => Constant::Int(text.parse().map_err(|_| out_of_range())?),
            Tok::FloatPos | Tok::FloatNeg => {
                Constant::Float(text.parse().map_err(|_| out_of_range())?)
            }
            Tok::Str => Constant::Str(self.unescape(t)),
            Tok::Bool if allow_bool => Constant::Bool(text == "true"),
            Tok::Hex => {
                Constant::Hex(hex::decode(&text[2..text.len() - 1]).map_err(|_| out_of_range())?)
            }
            Tok::Binary => Constant::Binary(
                LENIENT_BASE64
                    .decode(&text[2..text.len() - 1])
                    .map_err(|_| out_of_range())?,
            ),
            Tok::Timestamp => Constant::Timestamp(self.ts_text(t)),
            _ => {
                return Err(self.error(
                    t,
                    if allow_bool {
                        "a literal"
                    } else {
                        "an orderable literal (number, string, binary, hex or timestamp)"
                    },
                ))
            }
        })
    }
}

fn one_or<T>(mut items: Vec<T>, wrap: fn(Vec<T>) -> T) -> T {
    if items.len() == 1 {
        if let Some(x) = items.pop() {
            return x;
        }
    }
    wrap(items)
}

/// Python's `$`: end of string, or before a final newline.
fn py_full(s: &str, ok: impl Fn(usize) -> bool, allowed: impl Fn(char) -> bool) -> bool {
    let body = s.strip_suffix('\n').unwrap_or(s);
    let n = body.chars().count();
    ok(n) && body.chars().all(allowed)
}

/// `stix2patterns.v21.object_validator.verify_object`, applied to one comparison.
fn check_hash(path: &ObjectPath, raw_value: &str, span: Range<usize>) -> Result<(), ParseError> {
    let has_hashes = path
        .steps
        .iter()
        .any(|s| matches!(s, PathStep::Key(k) if k == "hashes"));
    if !has_hashes {
        return Ok(());
    }
    let selector = match path.steps.last() {
        Some(PathStep::Key(k)) => k,
        Some(PathStep::AnyIndex) | None => return Ok(()),
        Some(PathStep::Index(_)) => {
            return Err(ParseError {
                kind: ParseErrorKind::BadIndex(
                    "a path through 'hashes' cannot end in an integer index".into(),
                ),
                span,
            })
        }
    };
    let hash_type: String = selector
        .to_uppercase()
        .chars()
        .filter(|c| *c != '-' && *c != '\'')
        .collect();
    let value: String = raw_value.chars().filter(|c| *c != '\'').collect();
    let hexd = |c: char| c.is_ascii_hexdigit();
    let ok = match hash_type.as_str() {
        "MD5" => py_full(&value, |n| n == 32, hexd),
        "MD6" => {
            let lead: usize = value.chars().take_while(|c| c.is_ascii_hexdigit()).count();
            lead >= 32
                || value.strip_prefix("\n    ").is_some_and(|rest| {
                    rest.chars().take_while(|c| c.is_ascii_hexdigit()).count() >= 64
                })
        }
        "RIPEMD160" | "SHA1" => py_full(&value, |n| n == 40, hexd),
        "SHA224" | "SHA3224" => py_full(&value, |n| n == 56, hexd),
        "SHA256" | "SHA3256" => py_full(&value, |n| n == 64, hexd),
        "SHA384" | "SHA3384" => py_full(&value, |n| n == 96, hexd),
        "SHA512" | "SHA3512" | "WHIRLPOOL" => py_full(&value, |n| n == 128, hexd),
        "SSDEEP" => py_full(
            &value,
            |n| (1..=128).contains(&n),
            |c| c.is_ascii_alphanumeric() || "/+:.".contains(c),
        ),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(ParseError {
            kind: ParseErrorKind::InvalidHash {
                value,
                algorithm: selector.clone(),
            },
            span,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spec_shapes() {
        let p = parse("[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f'] FOLLOWEDBY ([a:b[*].c = 1] AND [x:y IN (1, 'a')]) WITHIN 5 SECONDS").unwrap();
        match p.root {
            ObservationExpr::FollowedBy(v) => {
                assert_eq!(v.len(), 2);
                assert!(matches!(v[1], ObservationExpr::Qualified { .. }));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn errors_carry_span_and_expectation() {
        let e = parse("[file:name = 'x'").unwrap_err();
        assert_eq!(e.code(), "pattern.syntax");
        assert_eq!(e.span, 16..17);
        assert!(e.to_string().contains("expected AND, OR or ']'"), "{e}");
        let e = parse("[a:b = 1] WITHIN 1 SECONDS WITHIN 2 SECONDS").unwrap_err();
        assert_eq!(e.code(), "pattern.duplicate_qualifier");
        assert!(parse("([a:b = 1]) WITHIN 1 SECONDS WITHIN 2 SECONDS").is_ok());
        assert_eq!(parse("  ([a:b = 1]").unwrap_err().code(), "pattern.syntax");
        assert_eq!(
            parse("/* c */ [a:b = 1]").unwrap_err().code(),
            "pattern.missing_brackets"
        );
        assert_eq!(
            parse("[file:hashes.MD5 = 'abc']").unwrap_err().code(),
            "pattern.invalid_hash"
        );
        assert_eq!(
            parse("[a:b[-1] = 1]").unwrap_err().code(),
            "pattern.bad_index"
        );
        // Python decodes base64 with non-zero trailing bits; so must we.
        assert_eq!(
            parse("[a:b = b'AB==']").unwrap().to_string(),
            "[a:b = b'AA==']"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}[a:b = 1]{}", "(".repeat(100_000), ")".repeat(100_000));
        let limits = Limits {
            max_len: usize::MAX,
            ..Limits::default()
        };
        assert_eq!(
            parse_with_limits(&deep, &limits).unwrap_err().code(),
            "pattern.limit.depth"
        );
        let deep = format!("[{}a:b = 1{}]", "(".repeat(100_000), ")".repeat(100_000));
        assert_eq!(
            parse_with_limits(&deep, &limits).unwrap_err().code(),
            "pattern.limit.depth"
        );
        assert_eq!(parse(&deep).unwrap_err().code(), "pattern.limit.length");
    }
}
