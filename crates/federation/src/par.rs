//! CPU work of a page (verification, decisions, signatures) spread over the cores on the
//! blocking pool, order kept.

use std::sync::Arc;

use crate::error::FederationError;

/// Below this many items one task does it all.
const MIN_SPLIT: usize = 64;

/// `items.map(f)` on the blocking pool, one chunk per available core, in order.
pub async fn par_map<T, R, F>(items: Vec<T>, f: F) -> Result<Vec<R>, FederationError>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> R + Send + Sync + 'static,
{
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let f = Arc::new(f);
    let chunk = if items.len() < MIN_SPLIT || cores < 2 {
        items.len().max(1)
    } else {
        items.len().div_ceil(cores)
    };
    let mut tasks = Vec::new();
    let mut it = items.into_iter();
    loop {
        let part: Vec<T> = it.by_ref().take(chunk).collect();
        if part.is_empty() {
            break;
        }
        let f = f.clone();
        tasks.push(tokio::task::spawn_blocking(move || {
            part.into_iter().map(|x| f(x)).collect::<Vec<R>>()
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.extend(
            t.await
                .map_err(|e| FederationError::Invalid(format!("a worker task failed: {e}")))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keeps_order_over_chunks() {
        let v: Vec<u32> = (0..1000).collect();
        let out = super::par_map(v, |x| x * 2).await.unwrap();
        assert_eq!(out, (0..1000).map(|x| x * 2).collect::<Vec<_>>());
        assert!(super::par_map(Vec::<u32>::new(), |x| x)
            .await
            .unwrap()
            .is_empty());
    }
}
