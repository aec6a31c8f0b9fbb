//! Reading and checking the egress ledger (`nadhir audit verify|egress`).

use store::{verify_egress_chain, EgressRow, Store, GENESIS_HASH};

use crate::error::FederationError;

/// What a full check of the ledger found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChainReport {
    pub entries: u64,
    /// The hash of the last entry (the genesis hash when empty): publish or escrow it,
    /// and a later verify proves nothing before it changed.
    pub head: String,
}

/// Checks the whole chain, reading it in bounded chunks; `progress` gets the entries
/// checked so far.
pub async fn verify(
    store: &dyn Store,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<ChainReport, FederationError> {
    let mut prev = GENESIS_HASH.to_owned();
    let mut after = 0;
    let mut entries = 0u64;
    loop {
        let rows = store.egress_after(after, None, 10_000).await?;
        let Some(last) = rows.last() else { break };
        if rows[0].seq != after + 1 {
            return Err(FederationError::Chain(format!(
                "egress ledger entry #{}: expected entry #{} (a gap)",
                rows[0].seq,
                after + 1
            )));
        }
        after = last.seq;
        prev =
            verify_egress_chain(&prev, &rows).map_err(|e| FederationError::Chain(e.to_string()))?;
        entries += rows.len() as u64;
        progress(entries);
    }
    Ok(ChainReport {
        entries,
        head: prev,
    })
}

/// The entries addressed to one partner, oldest first.
pub async fn for_peer(
    store: &dyn Store,
    peer: &str,
    after: i64,
    limit: usize,
) -> Result<Vec<EgressRow>, FederationError> {
    Ok(store.egress_after(after, Some(peer), limit).await?)
}
