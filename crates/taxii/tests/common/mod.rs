//! Helpers shared by the client test files.
pub mod medallion;
