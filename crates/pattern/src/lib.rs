//! STIX 2.1 patterning: the whole grammar (spec section 9, ported from the OASIS
//! `STIXPattern.g4`), a typed AST, a canonical printer and an evaluator over observed data
//! with the semantics of the OASIS `stix2-matcher`.
//!
//! *Invariant*: no I/O, and nothing here can hang or overflow the stack on hostile input:
//! pattern size, nesting depth, comparison count, regex size and evaluation work are bounded
//! by [`Limits`].

pub mod ast;
pub mod eval;
mod lexer;
mod parser;
mod printer;

pub use ast::{
    CompOp, Comparison, ComparisonExpr, Constant, ObjectPath, ObservationExpr, PathStep, Pattern,
    Qualifier,
};
pub use eval::{match_pattern, CompiledPattern, EvalError, EvalOptions, MatchResult, Observations};
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
