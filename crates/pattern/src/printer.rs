//! The canonical printer: `Display` for the AST. For every AST that [`crate::parse`]
//! produces, `parse(&ast.to_string()) == Ok(ast)`.
//!
//! Canonical form: single spaces, `=`/`!=`, keywords upper-case, parentheses only where the
//! AST nests an operator node inside another, hex in lower case, floats always with a `.`,
//! property names quoted only when they are not plain identifiers.

use std::fmt::{self, Display, Formatter, Write as _};

use base64::Engine as _;

use crate::ast::*;

const RESERVED: [&str; 21] = [
    "AND",
    "OR",
    "NOT",
    "FOLLOWEDBY",
    "LIKE",
    "MATCHES",
    "ISSUPERSET",
    "ISSUBSET",
    "EXISTS",
    "LAST",
    "IN",
    "START",
    "STOP",
    "SECONDS",
    "true",
    "false",
    "WITHIN",
    "REPEATS",
    "TIMES",
    "TRUE",
    "FALSE",
];

fn is_plain_ident(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.contains(&s)
}

fn write_str_lit(f: &mut Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('\'')?;
    for c in s.chars() {
        match c {
            '\'' => f.write_str("\\'")?,
            '\\' => f.write_str("\\\\")?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('\'')
}

fn write_float(f: &mut Formatter<'_>, x: f64) -> fmt::Result {
    if x.is_infinite() {
        // The grammar has no exponent; a literal this long parses back to infinity.
        let sign = if x < 0.0 { "-" } else { "" };
        return write!(f, "{sign}1{}.0", "0".repeat(400));
    }
    let s = format!("{x}");
    if s.contains('.') {
        f.write_str(&s)
    } else {
        write!(f, "{s}.0")
    }
}

impl Display for Pattern {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.root.fmt(f)
    }
}

fn is_nary(e: &ObservationExpr) -> bool {
    matches!(
        e,
        ObservationExpr::And(_) | ObservationExpr::Or(_) | ObservationExpr::FollowedBy(_)
    )
}

impl Display for ObservationExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let (items, op) = match self {
            ObservationExpr::Comparison(c) => return write!(f, "[{c}]"),
            ObservationExpr::And(v) => (v, " AND "),
            ObservationExpr::Or(v) => (v, " OR "),
            ObservationExpr::FollowedBy(v) => (v, " FOLLOWEDBY "),
            ObservationExpr::Qualified { .. } => {
                let mut quals = Vec::new();
                let mut base = self;
                while let ObservationExpr::Qualified { expr, qualifier } = base {
                    quals.push(qualifier);
                    base = expr;
                }
                quals.reverse();
                let kind = |q: &Qualifier| match q {
                    Qualifier::Within { .. } => 0,
                    Qualifier::Repeats { .. } => 1,
                    Qualifier::StartStop { .. } => 2,
                };
                let dup =
                    (0..quals.len()).any(|i| quals[..i].iter().any(|p| kind(p) == kind(quals[i])));
                if is_nary(base) || dup {
                    write!(f, "({base})")?;
                } else {
                    write!(f, "{base}")?;
                }
                for q in quals {
                    write!(f, " {q}")?;
                }
                return Ok(());
            }
        };
        for (i, e) in items.iter().enumerate() {
            if i > 0 {
                f.write_str(op)?;
            }
            if is_nary(e) {
                write!(f, "({e})")?;
            } else {
                write!(f, "{e}")?;
            }
        }
        Ok(())
    }
}

impl Display for Qualifier {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Qualifier::Within { seconds } => {
                f.write_str("WITHIN ")?;
                write_float(f, *seconds)?;
                f.write_str(" SECONDS")
            }
            Qualifier::Repeats { times } => write!(f, "REPEATS {times} TIMES"),
            Qualifier::StartStop { start, stop } => write!(f, "START t'{start}' STOP t'{stop}'"),
        }
    }
}

impl Display for ComparisonExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let (items, op) = match self {
            ComparisonExpr::Test(c) => return c.fmt(f),
            ComparisonExpr::Exists(p) => return write!(f, "EXISTS {p}"),
            ComparisonExpr::And(v) => (v, " AND "),
            ComparisonExpr::Or(v) => (v, " OR "),
        };
        let is_or = matches!(self, ComparisonExpr::Or(_));
        for (i, e) in items.iter().enumerate() {
            if i > 0 {
                f.write_str(op)?;
            }
            // An AND directly under an OR needs no parentheses (AND binds tighter).
            let paren = match e {
                ComparisonExpr::Or(_) => true,
                ComparisonExpr::And(_) => !is_or,
                _ => false,
            };
            if paren {
                write!(f, "({e})")?;
            } else {
                write!(f, "{e}")?;
            }
        }
        Ok(())
    }
}

impl Display for Comparison {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.path)?;
        if self.negated {
            f.write_str("NOT ")?;
        }
        write!(f, "{} {}", self.op.as_str(), self.value)
    }
}

impl Display for ObjectPath {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.object_type)?;
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                PathStep::Key(k) => {
                    if i > 0 {
                        f.write_char('.')?;
                    }
                    if is_plain_ident(k) {
                        f.write_str(k)?;
                    } else {
                        write_str_lit(f, k)?;
                    }
                }
                PathStep::Index(n) => write!(f, "[{n}]")?,
                PathStep::AnyIndex => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

impl Display for Constant {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Constant::Str(s) => write_str_lit(f, s),
            Constant::Int(n) => write!(f, "{n}"),
            Constant::Float(x) => write_float(f, *x),
            Constant::Bool(b) => write!(f, "{b}"),
            Constant::Binary(b) => write!(
                f,
                "b'{}'",
                base64::engine::general_purpose::STANDARD.encode(b)
            ),
            Constant::Hex(b) => write!(f, "h'{}'", hex::encode(b)),
            Constant::Timestamp(t) => write!(f, "t'{t}'"),
            Constant::Set(items) => {
                f.write_char('(')?;
                for (i, c) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_char(')')
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::parse;

    #[test]
    fn canonical_forms() {
        let cases = [
            ("[a:b == 1]", "[a:b = 1]"),
            ("[a:b <> 1.0]", "[a:b != 1.0]"),
            (
                "[a:'b c'.'x'[*][+2] NOT IN ('q\\'', -1, true, h'AB', b'AAA=')]",
                "[a:'b c'.x[*][2] NOT IN ('q\\'', -1, true, h'ab', b'AAA=')]",
            ),
            (
                "[a:b = 1 OR (c:d = 2 OR e:f = 3) AND g:h = 4]",
                "[a:b = 1 OR (c:d = 2 OR e:f = 3) AND g:h = 4]",
            ),
            (
                "([a:b = 1]) WITHIN 5 SECONDS WITHIN 1 SECONDS",
                "([a:b = 1]) WITHIN 5.0 SECONDS WITHIN 1.0 SECONDS",
            ),
            (
                "(([a:b=1] AND [c:d=1]) OR [e:f=1]) REPEATS 2 TIMES",
                "(([a:b = 1] AND [c:d = 1]) OR [e:f = 1]) REPEATS 2 TIMES",
            ),
            (
                "[a:'true' = 'x'] FOLLOWEDBY [a:'AND' = 1]",
                "[a:'true' = 'x'] FOLLOWEDBY [a:'AND' = 1]",
            ),
        ];
        for (input, want) in cases {
            let ast = parse(input).unwrap();
            let printed = ast.to_string();
            assert_eq!(printed, want);
            assert_eq!(parse(&printed).unwrap(), ast, "{input}");
        }
    }
}
