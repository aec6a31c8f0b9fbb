//! The abstract syntax tree of a STIX 2.1 pattern.
//!
//! *Boundary*: this is the public shape other crates (the `matcher` index) build on. Chains of
//! the same operator at one level are flattened into one n-ary node (`A AND B AND C` is
//! `And([A, B, C])`, always with two or more operands); a parenthesised group stays a nested
//! node, so `(A AND B) AND C` is `And([And([A, B]), C])`. Parentheses around a single operand
//! leave no trace. The evaluator folds n-ary nodes from the left, which is exactly the
//! left-associative reading of the OASIS grammar.

/// A whole pattern: one observation expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    /// The top-level observation expression.
    pub root: ObservationExpr,
}

/// An observation expression: what must be observed, and how observations relate.
#[derive(Debug, Clone, PartialEq)]
pub enum ObservationExpr {
    /// `[ comparison-expression ]`: one observation (one observed-data object) satisfying it.
    Comparison(ComparisonExpr),
    /// `A AND B ...`: all operands match (each from its own observations).
    And(Vec<ObservationExpr>),
    /// `A OR B ...`: any operand matches.
    Or(Vec<ObservationExpr>),
    /// `A FOLLOWEDBY B ...`: operands match in time order.
    FollowedBy(Vec<ObservationExpr>),
    /// An observation expression with one qualifier (qualifiers chain by nesting:
    /// `[a] WITHIN 5 SECONDS REPEATS 2 TIMES` is `Qualified(Qualified([a], Within), Repeats)`).
    Qualified {
        /// The qualified expression.
        expr: Box<ObservationExpr>,
        /// The qualifier applied to it.
        qualifier: Qualifier,
    },
}

/// A qualifier on an observation expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Qualifier {
    /// `WITHIN n SECONDS` (the grammar allows a non-negative int or float).
    Within {
        /// The window length in seconds.
        seconds: f64,
    },
    /// `REPEATS n TIMES`.
    Repeats {
        /// How many times the expression must match (disjointly).
        times: u64,
    },
    /// `START t'..' STOP t'..'`: the timestamps' text between the quotes, as written
    /// (already checked against the grammar's timestamp shape).
    StartStop {
        /// The start timestamp text.
        start: String,
        /// The stop timestamp text.
        stop: String,
    },
}

/// The comparison expression inside one `[...]`.
#[derive(Debug, Clone, PartialEq)]
pub enum ComparisonExpr {
    /// `a AND b ...` (binds tighter than `OR`).
    And(Vec<ComparisonExpr>),
    /// `a OR b ...`.
    Or(Vec<ComparisonExpr>),
    /// One property test.
    Test(Comparison),
    /// `EXISTS path`.
    Exists(ObjectPath),
}

/// One property test: `path [NOT] op value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The object path on the left.
    pub path: ObjectPath,
    /// The comparison operator.
    pub op: CompOp,
    /// Whether `NOT` precedes the operator.
    pub negated: bool,
    /// The constant on the right (a [`Constant::Set`] for `IN`, a [`Constant::Str`] for
    /// `LIKE`, `MATCHES`, `ISSUBSET` and `ISSUPERSET`).
    pub value: Constant,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompOp {
    /// `=` (or `==`).
    Eq,
    /// `!=` (or `<>`).
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `IN ( ... )`.
    In,
    /// `LIKE 'sql-like'`.
    Like,
    /// `MATCHES 'regex'`.
    Matches,
    /// `ISSUBSET 'cidr'`.
    IsSubset,
    /// `ISSUPERSET 'cidr'`.
    IsSuperset,
}

impl CompOp {
    /// The canonical spelling of the operator.
    pub fn as_str(self) -> &'static str {
        match self {
            CompOp::Eq => "=",
            CompOp::Ne => "!=",
            CompOp::Lt => "<",
            CompOp::Le => "<=",
            CompOp::Gt => ">",
            CompOp::Ge => ">=",
            CompOp::In => "IN",
            CompOp::Like => "LIKE",
            CompOp::Matches => "MATCHES",
            CompOp::IsSubset => "ISSUBSET",
            CompOp::IsSuperset => "ISSUPERSET",
        }
    }
}

/// An object path: `object-type:first.second[0].'quoted key'[*]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectPath {
    /// The SCO type, e.g. `file` or `ipv4-addr`.
    pub object_type: String,
    /// The path steps; the first is always a [`PathStep::Key`] (the top-level property).
    pub steps: Vec<PathStep>,
}

/// One step of an object path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// A property name (unquoted identifier or unescaped quoted string).
    Key(String),
    /// `[n]`: one list element.
    Index(usize),
    /// `[*]`: any list element.
    AnyIndex,
}

/// A constant (literal) in a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Constant {
    /// `'text'`, unescaped.
    Str(String),
    /// An integer literal.
    Int(i128),
    /// A float literal (`1.5`, `-.5`).
    Float(f64),
    /// `true` / `false`.
    Bool(bool),
    /// `b'base64'`, decoded.
    Binary(Vec<u8>),
    /// `h'hex'`, decoded.
    Hex(Vec<u8>),
    /// `t'...'`: the timestamp text between the quotes, as written.
    Timestamp(String),
    /// `( a, b, ... )` for `IN`.
    Set(Vec<Constant>),
}
