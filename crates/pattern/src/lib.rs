//! STIX 2.1 patterning: the whole grammar (spec section 9, ported from the OASIS
//! `STIXPattern.g4`), a typed AST, a canonical printer and an evaluator over observed data
//! with the semantics of the OASIS `stix2-matcher`.
//!
//! ```
//! let ast = pattern::parse("[ipv4-addr:value ISSUBSET '10.0.0.0/8'] WITHIN 60 SECONDS").unwrap();
//! assert_eq!(pattern::parse(&ast.to_string()).unwrap(), ast);
//! ```
//!
//! * [`parse`] accepts exactly what `stix2patterns.validator.run_validator(p, '2.1')`
//!   accepts (grammar plus its semantic checks: leading `[`, duplicate qualifiers on one
//!   `[...]`, hash formats), within [`Limits`].
//! * `Display` on [`Pattern`] prints the canonical form; `parse(print(ast)) == ast`.
//! * [`CompiledPattern::matches`] over [`Observations`] follows `stix2matcher.matcher.match
//!   (pattern, observed, stix_version='2.1')`, including which observed-data it reports.
//!   [`CompiledPattern::matches_involving`] keeps only bindings through one given
//!   observed-data (streaming evaluation: what the newest event completes).
//!
//! *Invariant*: no I/O, and nothing here can hang or overflow the stack on hostile input:
//! pattern size, nesting depth, comparison count, `REPEATS` count, regex size and
//! evaluation work are bounded ([`Limits`], [`EvalOptions`]).
//!
//! Known differences from the references, each deliberate:
//! * Bounds: patterns over 64 KiB, nesting over 64 levels, over 4096 comparisons,
//!   `REPEATS` over 1000, integers beyond `i128` and list indices beyond `usize` are
//!   rejected (the reference validator accepts them; its ANTLR parser fails on deep
//!   nesting anyway).
//! * `MATCHES` uses the `regex` crate: Python `re` constructs it lacks (look-around,
//!   backreferences, conditionals) give [`EvalError::Regex`]; possessive quantifiers and
//!   atomic groups are read as ordinary ones. `$`, `\Z` and `[` inside a class are
//!   translated to Python's meaning.
//! * `ISSUBSET` / `ISSUPERSET` also work on IPv6 when both sides are IPv6 (the reference
//!   raises an error); IPv4 follows `inet_aton` as the reference does.
//! * Duplicate qualifiers such as `[a:b = 1] REPEATS 2 TIMES REPEATS 2 TIMES` are rejected,
//!   as `stix2-patterns` does; `stix2-matcher` alone would evaluate them.
//! * Besides STIX 2.1 bundles, [`Observations::new`] accepts bare objects and 2.0-style
//!   observed-data with an embedded `objects` map.

pub mod ast;
pub mod eval;
mod lexer;
mod object_check;
mod parser;
mod printer;

pub use ast::{
    CompOp, Comparison, ComparisonExpr, Constant, ObjectPath, ObservationExpr, PathStep, Pattern,
    Qualifier,
};
pub use eval::{match_pattern, CompiledPattern, EvalError, EvalOptions, MatchResult, Observations};
pub use object_check::{check_pattern, validate_object};
pub use parser::{parse, parse_with_limits, Limits, ParseError, ParseErrorKind};

/// Either a parse error or an evaluation error (for [`match_pattern`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    /// The pattern is not valid STIX 2.1 patterning.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The pattern could not be evaluated on this data.
    #[error(transparent)]
    Eval(#[from] EvalError),
}

impl MatchError {
    /// A stable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            MatchError::Parse(e) => e.code(),
            MatchError::Eval(e) => e.code(),
        }
    }
}
