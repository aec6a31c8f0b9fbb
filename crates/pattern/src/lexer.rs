//! The lexer: a faithful port of the lexer rules of the OASIS `STIXPattern.g4` (STIX 2.1).
//!
//! ANTLR lexers take the longest match over all rules and break ties by rule order; this
//! lexer computes the same thing by hand. Columns are counted in Unicode code points, as
//! ANTLR does.

/// Token kinds, in the grammar's rule order (which decides ties).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    IntNeg,
    IntPos,
    FloatNeg,
    FloatPos,
    Hex,
    Binary,
    Str,
    Bool,
    Timestamp,
    And,
    Or,
    Not,
    FollowedBy,
    Like,
    Matches,
    IsSuperset,
    IsSubset,
    Exists,
    Last,
    In,
    Start,
    Stop,
    Seconds,
    Within,
    Repeats,
    Times,
    IdentNoHyphen,
    IdentHyphen,
    Eq,
    Neq,
    Lt,
    Le,
    Gt,
    Ge,
    Quote,
    Colon,
    Dot,
    Comma,
    RParen,
    LParen,
    RBrack,
    LBrack,
    Plus,
    Hyphen,
    Power,
    Divide,
    Asterisk,
    Invalid,
    Eof,
}

impl Tok {
    /// How the token kind is named in error messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Tok::IntNeg => "negative integer",
            Tok::IntPos => "integer",
            Tok::FloatNeg => "negative float",
            Tok::FloatPos => "float",
            Tok::Hex => "hex literal h'..'",
            Tok::Binary => "binary literal b'..'",
            Tok::Str => "string literal",
            Tok::Bool => "boolean",
            Tok::Timestamp => "timestamp literal t'..'",
            Tok::And => "AND",
            Tok::Or => "OR",
            Tok::Not => "NOT",
            Tok::FollowedBy => "FOLLOWEDBY",
            Tok::Like => "LIKE",
            Tok::Matches => "MATCHES",
            Tok::IsSuperset => "ISSUPERSET",
            Tok::IsSubset => "ISSUBSET",
            Tok::Exists => "EXISTS",
            Tok::Last => "LAST",
            Tok::In => "IN",
            Tok::Start => "START",
            Tok::Stop => "STOP",
            Tok::Seconds => "SECONDS",
            Tok::Within => "WITHIN",
            Tok::Repeats => "REPEATS",
            Tok::Times => "TIMES",
            Tok::IdentNoHyphen => "identifier",
            Tok::IdentHyphen => "identifier with hyphen",
            Tok::Eq => "'='",
            Tok::Neq => "'!='",
            Tok::Lt => "'<'",
            Tok::Le => "'<='",
            Tok::Gt => "'>'",
            Tok::Ge => "'>='",
            Tok::Quote => "lone quote",
            Tok::Colon => "':'",
            Tok::Dot => "'.'",
            Tok::Comma => "','",
            Tok::RParen => "')'",
            Tok::LParen => "'('",
            Tok::RBrack => "']'",
            Tok::LBrack => "'['",
            Tok::Plus => "'+'",
            Tok::Hyphen => "'-'",
            Tok::Power => "'^'",
            Tok::Divide => "'/'",
            Tok::Asterisk => "'*'",
            Tok::Invalid => "invalid character",
            Tok::Eof => "end of pattern",
        }
    }
}

/// One token: kind and code-point span `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
}

const KEYWORDS: [(&str, Tok); 19] = [
    ("AND", Tok::And),
    ("OR", Tok::Or),
    ("NOT", Tok::Not),
    ("FOLLOWEDBY", Tok::FollowedBy),
    ("LIKE", Tok::Like),
    ("MATCHES", Tok::Matches),
    ("ISSUPERSET", Tok::IsSuperset),
    ("ISSUBSET", Tok::IsSubset),
    ("EXISTS", Tok::Exists),
    ("LAST", Tok::Last),
    ("IN", Tok::In),
    ("START", Tok::Start),
    ("STOP", Tok::Stop),
    ("SECONDS", Tok::Seconds),
    ("true", Tok::Bool),
    ("false", Tok::Bool),
    ("WITHIN", Tok::Within),
    ("REPEATS", Tok::Repeats),
    ("TIMES", Tok::Times),
];

/// The whitespace set of the grammar's `WS` rule.
pub(crate) fn is_ws(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t'
            | '\r'
            | '\n'
            | '\u{000B}'
            | '\u{000C}'
            | '\u{0085}'
            | '\u{00a0}'
            | '\u{1680}'
            | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

fn is_b64(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '+' || c == '/'
}

struct Cursor<'a> {
    s: &'a [char],
}

impl Cursor<'_> {
    fn at(&self, i: usize) -> Option<char> {
        self.s.get(i).copied()
    }
    fn is(&self, i: usize, c: char) -> bool {
        self.at(i) == Some(c)
    }
    fn digit(&self, i: usize) -> bool {
        self.at(i).is_some_and(|c| c.is_ascii_digit())
    }
    fn digits_from(&self, mut i: usize) -> usize {
        while self.digit(i) {
            i += 1;
        }
        i
    }

    /// `'0' | [1-9] [0-9]*` from `i`; returns the end.
    fn int_body(&self, i: usize) -> Option<usize> {
        match self.at(i) {
            Some('0') => Some(i + 1),
            Some('1'..='9') => Some(self.digits_from(i + 1)),
            _ => None,
        }
    }

    /// `[0-9]* '.' [0-9]+` from `i`.
    fn float_body(&self, i: usize) -> Option<usize> {
        let j = self.digits_from(i);
        if !self.is(j, '.') || !self.digit(j + 1) {
            return None;
        }
        Some(self.digits_from(j + 1))
    }

    fn hex_lit(&self, i: usize) -> Option<usize> {
        if !self.is(i, 'h') || !self.is(i + 1, '\'') {
            return None;
        }
        let mut j = i + 2;
        while self.at(j).is_some_and(|c| c.is_ascii_hexdigit())
            && self.at(j + 1).is_some_and(|c| c.is_ascii_hexdigit())
        {
            j += 2;
        }
        self.is(j, '\'').then_some(j + 1)
    }

    fn binary_lit(&self, i: usize) -> Option<usize> {
        if !self.is(i, 'b') || !self.is(i + 1, '\'') {
            return None;
        }
        let body = i + 2;
        let mut j = body;
        while self.at(j).is_some_and(is_b64) {
            j += 1;
        }
        let n = j - body;
        let pad = if self.is(j, '=') {
            if self.is(j + 1, '=') {
                2
            } else {
                1
            }
        } else {
            0
        };
        let ok = match pad {
            0 => n >= 4 && n.is_multiple_of(4),
            1 => n % 4 == 3,
            _ => n % 4 == 2,
        };
        (ok && self.is(j + pad, '\'')).then_some(j + pad + 1)
    }

    fn string_lit(&self, i: usize) -> Option<usize> {
        if !self.is(i, '\'') {
            return None;
        }
        let mut j = i + 1;
        loop {
            match self.at(j)? {
                '\'' => return Some(j + 1),
                '\\' => match self.at(j + 1)? {
                    '\'' | '\\' => j += 2,
                    _ => return None,
                },
                _ => j += 1,
            }
        }
    }

    fn two(&self, i: usize, ok: impl Fn(char, char) -> bool) -> bool {
        match (self.at(i), self.at(i + 1)) {
            (Some(a), Some(b)) => ok(a, b),
            _ => false,
        }
    }

    fn timestamp_lit(&self, i: usize) -> Option<usize> {
        if !self.is(i, 't') || !self.is(i + 1, '\'') {
            return None;
        }
        let d = |c: char| c.is_ascii_digit();
        let mut j = i + 2;
        for k in 0..4 {
            if !self.digit(j + k) {
                return None;
            }
        }
        j += 4;
        if !self.is(j, '-') {
            return None;
        }
        j += 1;
        if !self.two(j, |a, b| {
            (a == '0' && ('1'..='9').contains(&b)) || (a == '1' && "012".contains(b))
        }) {
            return None;
        }
        j += 2;
        if !self.is(j, '-') {
            return None;
        }
        j += 1;
        if !self.two(j, |a, b| {
            (a == '0' && ('1'..='9').contains(&b))
                || ((a == '1' || a == '2') && d(b))
                || (a == '3' && (b == '0' || b == '1'))
        }) {
            return None;
        }
        j += 2;
        if !self.is(j, 'T') {
            return None;
        }
        j += 1;
        if !self.two(j, |a, b| {
            ((a == '0' || a == '1') && d(b)) || (a == '2' && "0123".contains(b))
        }) {
            return None;
        }
        j += 2;
        if !self.is(j, ':') {
            return None;
        }
        j += 1;
        if !self.two(j, |a, b| ('0'..='5').contains(&a) && d(b)) {
            return None;
        }
        j += 2;
        if !self.is(j, ':') {
            return None;
        }
        j += 1;
        if !self.two(j, |a, b| {
            (('0'..='5').contains(&a) && d(b)) || (a == '6' && b == '0')
        }) {
            return None;
        }
        j += 2;
        if self.is(j, '.') && self.digit(j + 1) {
            j = self.digits_from(j + 1);
        }
        if !self.is(j, 'Z') || !self.is(j + 1, '\'') {
            return None;
        }
        Some(j + 2)
    }

    fn ident(&self, i: usize, hyphen: bool) -> Option<usize> {
        let c = self.at(i)?;
        if !(c.is_ascii_alphabetic() || c == '_') {
            return None;
        }
        let mut j = i + 1;
        while self
            .at(j)
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || (hyphen && c == '-'))
        {
            j += 1;
        }
        Some(j)
    }
}

/// Splits the pattern into tokens (whitespace and comments skipped), ending with `Eof`.
/// Never fails: unusable characters become `Invalid` tokens, as in the grammar.
pub(crate) fn lex(chars: &[char]) -> Vec<Token> {
    let cur = Cursor { s: chars };
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        // Skipped rules: WS, COMMENT, LINE_COMMENT.
        if is_ws(chars[i]) {
            while i < chars.len() && is_ws(chars[i]) {
                i += 1;
            }
            continue;
        }
        if cur.is(i, '/') && cur.is(i + 1, '*') {
            let mut j = i + 2;
            let mut closed = None;
            while j + 1 < chars.len() {
                if chars[j] == '*' && chars[j + 1] == '/' {
                    closed = Some(j + 2);
                    break;
                }
                j += 1;
            }
            if let Some(end) = closed {
                i = end;
                continue;
            }
        }
        if cur.is(i, '/') && cur.is(i + 1, '/') {
            let mut j = i + 2;
            while j < chars.len() && chars[j] != '\r' && chars[j] != '\n' {
                j += 1;
            }
            i = j;
            continue;
        }
        let mut best: Option<(usize, Tok)> = None;
        let mut offer = |end: Option<usize>, kind: Tok| {
            if let Some(end) = end {
                // Strictly longer wins; ties keep the earlier rule (offered first).
                if best.is_none_or(|(b, _)| end > b) {
                    best = Some((end, kind));
                }
            }
        };
        let c = chars[i];
        offer(
            if c == '-' { cur.int_body(i + 1) } else { None },
            Tok::IntNeg,
        );
        let after_plus = if c == '+' { i + 1 } else { i };
        offer(cur.int_body(after_plus), Tok::IntPos);
        offer(
            if c == '-' {
                cur.float_body(i + 1)
            } else {
                None
            },
            Tok::FloatNeg,
        );
        offer(cur.float_body(after_plus), Tok::FloatPos);
        offer(cur.hex_lit(i), Tok::Hex);
        offer(cur.binary_lit(i), Tok::Binary);
        offer(cur.string_lit(i), Tok::Str);
        let word_end = cur.ident(i, false);
        if let Some(we) = word_end {
            let word: String = chars[i..we].iter().collect();
            // Bool comes before Timestamp in rule order but cannot tie with it.
            for (kw, kind) in KEYWORDS.iter().take(16).skip(14) {
                if word.starts_with(kw) {
                    offer(Some(i + kw.chars().count()), *kind);
                }
            }
            offer(cur.timestamp_lit(i), Tok::Timestamp);
            for (kw, kind) in KEYWORDS.iter() {
                if *kind != Tok::Bool && word.starts_with(kw) {
                    offer(Some(i + kw.chars().count()), *kind);
                }
            }
        } else {
            offer(cur.timestamp_lit(i), Tok::Timestamp);
        }
        offer(word_end, Tok::IdentNoHyphen);
        offer(cur.ident(i, true), Tok::IdentHyphen);
        let punct = match c {
            '=' => Some(if cur.is(i + 1, '=') {
                (2, Tok::Eq)
            } else {
                (1, Tok::Eq)
            }),
            '!' if cur.is(i + 1, '=') => Some((2, Tok::Neq)),
            '<' if cur.is(i + 1, '>') => Some((2, Tok::Neq)),
            '<' if cur.is(i + 1, '=') => Some((2, Tok::Le)),
            '<' => Some((1, Tok::Lt)),
            '>' if cur.is(i + 1, '=') => Some((2, Tok::Ge)),
            '>' => Some((1, Tok::Gt)),
            '\'' => Some((1, Tok::Quote)),
            ':' => Some((1, Tok::Colon)),
            '.' => Some((1, Tok::Dot)),
            ',' => Some((1, Tok::Comma)),
            ')' => Some((1, Tok::RParen)),
            '(' => Some((1, Tok::LParen)),
            ']' => Some((1, Tok::RBrack)),
            '[' => Some((1, Tok::LBrack)),
            '+' => Some((1, Tok::Plus)),
            '-' => Some((1, Tok::Hyphen)),
            '^' => Some((1, Tok::Power)),
            '/' => Some((1, Tok::Divide)),
            '*' => Some((1, Tok::Asterisk)),
            _ => None,
        };
        if let Some((len, kind)) = punct {
            offer(Some(i + len), kind);
        }
        offer(Some(i + 1), Tok::Invalid);
        let (end, kind) = best.unwrap_or((i + 1, Tok::Invalid));
        out.push(Token {
            kind,
            start: i,
            end,
        });
        i = end;
    }
    out.push(Token {
        kind: Tok::Eof,
        start: chars.len(),
        end: chars.len(),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<Tok> {
        let chars: Vec<char> = s.chars().collect();
        lex(&chars).into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn longest_match_and_rule_order() {
        assert_eq!(kinds("AND"), vec![Tok::And, Tok::Eof]);
        assert_eq!(kinds("ANDx"), vec![Tok::IdentNoHyphen, Tok::Eof]);
        assert_eq!(kinds("true"), vec![Tok::Bool, Tok::Eof]);
        assert_eq!(kinds("ipv4-addr"), vec![Tok::IdentHyphen, Tok::Eof]);
        assert_eq!(
            kinds("-5 +5 5.5 .5 -.5"),
            vec![
                Tok::IntNeg,
                Tok::IntPos,
                Tok::FloatPos,
                Tok::FloatPos,
                Tok::FloatNeg,
                Tok::Eof
            ]
        );
        assert_eq!(kinds("0123"), vec![Tok::IntPos, Tok::IntPos, Tok::Eof]);
        assert_eq!(
            kinds("<> <= == ="),
            vec![Tok::Neq, Tok::Le, Tok::Eq, Tok::Eq, Tok::Eof]
        );
        assert_eq!(
            kinds("h'0a' h'0'"),
            vec![Tok::Hex, Tok::IdentNoHyphen, Tok::Str, Tok::Eof]
        );
        assert_eq!(kinds("b''")[..2], [Tok::IdentNoHyphen, Tok::Str]);
        assert_eq!(
            kinds("b'AAA=' t'2020-01-01T00:00:60.5Z' t'2020-13-01T00:00:00Z'")[..3],
            [Tok::Binary, Tok::Timestamp, Tok::IdentNoHyphen]
        );
        assert_eq!(kinds("'a\\'b' /* c */ // d"), vec![Tok::Str, Tok::Eof]);
        assert_eq!(kinds("'a\\b'")[0], Tok::Quote);
        assert_eq!(
            kinds("/* x"),
            vec![Tok::Divide, Tok::Asterisk, Tok::IdentNoHyphen, Tok::Eof]
        );
    }
}
