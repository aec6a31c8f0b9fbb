//! Federation errors, each with a stable code.

/// Errors of the federation layer.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("{0}")]
    Store(#[from] store::StoreError),
}

impl FederationError {
    /// Stable code (see the crate README's error table).
    pub fn code(&self) -> &'static str {
        match self {
            FederationError::Store(e) => e.code(),
        }
    }
}
