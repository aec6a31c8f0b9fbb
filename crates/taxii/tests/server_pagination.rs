//! Paging over 10,000 objects while another task keeps writing: no object that was
//! there before the walk is skipped, and nothing is returned twice.

mod server_support;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use hashbrown::HashSet;
use server_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walk_10000_objects_under_concurrent_writes() {
    let n = Arc::new(node().await);
    let objs: Vec<_> = (0..10_000)
        .map(|i| indicator(i, "2024-01-01T00:00:00.000Z"))
        .collect();
    for chunk in objs.chunks(2000) {
        n.store_objects(SHARED, chunk).await;
    }
    let before: HashSet<String> = objs
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();

    // A writer adds new objects and new versions of existing ones while we page.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU32::new(0));
    let writer = {
        let (n, stop, written) = (n.clone(), stop.clone(), written.clone());
        tokio::spawn(async move {
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let fresh: Vec<_> = (0..20)
                    .map(|k| indicator(100_000 + i * 20 + k, "2024-01-01T00:00:00.000Z"))
                    .collect();
                n.store_objects(SHARED, &fresh).await;
                // New versions of old objects: with the default match[version]=last an
                // updated object may show up again later as its new version.
                n.store_objects(SHARED, &[indicator(i % 10_000, "2024-06-01T00:00:00.000Z")])
                    .await;
                written.fetch_add(21, Ordering::Relaxed);
                i += 1;
                tokio::task::yield_now().await;
            }
        })
    };

    let base = format!("/api/collections/{SHARED}/objects/?match[version]=all");
    let mut url = format!("{base}&limit=700");
    let mut seen_versions: HashSet<(String, String)> = HashSet::new();
    let mut seen_ids: HashSet<String> = HashSet::new();
    let mut last_date = String::new();
    let mut pages = 0;
    loop {
        let r = n.get(&url).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let j = r.json();
        pages += 1;
        if let Some(objects) = j["objects"].as_array() {
            for o in objects {
                let key = (
                    o["id"].as_str().unwrap().to_owned(),
                    o["modified"].as_str().unwrap().to_owned(),
                );
                assert!(
                    seen_versions.insert(key.clone()),
                    "duplicate {key:?} on page {pages}"
                );
                seen_ids.insert(key.0);
            }
            let first = r.header("x-taxii-date-added-first").unwrap();
            assert!(first > last_date, "pages go forward in date_added");
            last_date = r.header("x-taxii-date-added-last").unwrap();
        }
        if j["more"] == true {
            url = format!("{base}&limit=700&next={}", j["next"].as_str().unwrap());
        } else {
            break;
        }
        // Once past the original objects, stop the writer so the walk can finish.
        if seen_ids.is_superset(&before) {
            stop.store(true, Ordering::Relaxed);
        }
        assert!(pages < 1000, "walk does not end");
    }
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let missing: Vec<_> = before
        .iter()
        .filter(|id| !seen_ids.contains(*id))
        .take(5)
        .collect();
    assert!(missing.is_empty(), "skipped objects: {missing:?}");
    assert!(
        written.load(Ordering::Relaxed) > 0,
        "the writer ran during the walk"
    );
    assert!(pages >= 15);
}
