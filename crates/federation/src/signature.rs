//! (filled by the federation core work)
