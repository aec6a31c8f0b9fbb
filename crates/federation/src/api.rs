//! The node's federation endpoints, mounted beside TAXII by `nadhir serve`:
//!
//! | endpoint | who | what |
//! |---|---|---|
//! | `GET /federation/v1/identity` | anyone | the node's STIX identity with its public key |
//! | `GET /federation/v1/recalls?after=N` | a peer account | the recalls and deletions addressed to that peer's node, after ledger entry N, and the version of the agreement in force with it |

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use taxii::server::{AppState, ServerError};

use crate::directory;
use crate::node::Node;
use crate::sync::{RecallEntry, RecallPage};

#[derive(Clone, Debug)]
struct Api {
    taxii: AppState,
    node: Arc<Node>,
}

#[derive(Debug, serde::Deserialize)]
struct After {
    #[serde(default)]
    after: i64,
}

/// The federation routes.
pub fn router(taxii: AppState, node: Arc<Node>) -> Router {
    Router::new()
        .route("/federation/v1/identity", get(identity))
        .route("/federation/v1/recalls", get(recalls))
        .with_state(Api { taxii, node })
}

async fn identity(State(api): State<Api>) -> Result<Response, ServerError> {
    let v = api
        .node
        .identity()
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    Ok(Json(v).into_response())
}

async fn recalls(
    State(api): State<Api>,
    headers: HeaderMap,
    Query(q): Query<After>,
) -> Result<Response, ServerError> {
    let p = api
        .taxii
        .auth
        .authenticate(api.taxii.store.as_ref(), &headers)
        .await?;
    if p.role != "peer" {
        return Err(ServerError::Forbidden(
            "recalls are read by partner nodes' peer accounts".into(),
        ));
    }
    let peers = directory::list_peers(api.node.store.as_ref())
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    let Some(peer) = peers.into_iter().find(|x| x.org.as_str() == p.org_id) else {
        return Ok(Json(RecallPage {
            through: q.after,
            entries: Vec::new(),
            agreement_version: None,
        })
        .into_response());
    };
    let mut out = Vec::new();
    let mut after = q.after.max(0);
    loop {
        let rows = api
            .node
            .store
            .egress_after(after, Some(peer.node.as_str()), 10_000)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        out.extend(
            rows.into_iter()
                .filter(|r| r.entry.action != "sent")
                .map(|r| RecallEntry {
                    seq: r.seq,
                    object_id: r.entry.object_id,
                    action: r.entry.action,
                    detail: r.entry.detail,
                }),
        );
        if out.len() >= 10_000 {
            break;
        }
    }
    let agreement_version = directory::agreement_with(api.node.store.as_ref(), &peer.node)
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))?
        .filter(|a| a.active)
        .map(|a| a.version);
    Ok(Json(RecallPage {
        through: after,
        entries: out,
        agreement_version,
    })
    .into_response())
}
