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
    par_map_batches(items, usize::MAX, move |part: Vec<T>| {
        part.into_iter().map(&f).collect()
    })
    .await
}

/// Like [`par_map`], but `f` maps a batch of up to `batch` consecutive items at a time
/// (for work that is cheaper together, such as batch signature verification) and must
/// return one result per item, in order.
pub async fn par_map_batches<T, R, F>(
    items: Vec<T>,
    batch: usize,
    f: F,
) -> Result<Vec<R>, FederationError>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(Vec<T>) -> Vec<R> + Send + Sync + 'static,
{
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let f = Arc::new(f);
    let batch = batch.max(1);
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
            let mut out = Vec::with_capacity(part.len());
            let mut rest = part.into_iter();
            loop {
                let group: Vec<T> = rest.by_ref().take(batch).collect();
                if group.is_empty() {
                    break;
                }
                let n = group.len();
                let done = f(group);
                if done.len() != n {
                    return Err(FederationError::Invalid(format!(
                        "a batch of {n} items gave {} results",
                        done.len()
                    )));
                }
                out.extend(done);
            }
            Ok(out)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.extend(
            t.await
                .map_err(|e| FederationError::Invalid(format!("a worker task failed: {e}")))??,
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_keep_order_and_size() {
        let v: Vec<u32> = (0..1000).collect();
        let out = super::par_map_batches(v, 64, |b: Vec<u32>| {
            assert!(!b.is_empty() && b.len() <= 64, "{}", b.len());
            // Consecutive items.
            assert!(b.windows(2).all(|w| w[1] == w[0] + 1));
            b.into_iter().map(|x| x + 1).collect()
        })
        .await
        .unwrap();
        assert_eq!(out, (1..1001).collect::<Vec<_>>());
        // A batch function that loses an item is an error, not a shifted result.
        let e = super::par_map_batches((0..10).collect(), 4, |mut b: Vec<u32>| {
            b.pop();
            b
        })
        .await
        .unwrap_err();
        assert!(e.to_string().contains("gave"), "{e}");
    }
}
