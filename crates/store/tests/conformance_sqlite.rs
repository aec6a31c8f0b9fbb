//! The conformance suite on the embedded SQLite store (a fresh database per case).

// Test helpers outside #[test] functions: a failed setup step should panic.
#![allow(clippy::unwrap_used)]

use store::SqliteStore;

macro_rules! sqlite_cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let s = SqliteStore::open(&dir.path().join("data").join("nadhir.db")).await.unwrap();
                store::conformance::$name(&s).await;
                s.close().await;
            }
        )*
    };
}

store::conformance_cases!(sqlite_cases);

/// Cursors and date_added come from the database, so they keep increasing across
/// restarts (and across processes sharing the file).
#[tokio::test]
async fn counters_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let first = store::open(dir.path(), None).await.unwrap();
    assert_eq!(first.backend(), "sqlite");
    let a = store::conformance::indicator(1, "2024-01-01T00:00:00.000Z", "a");
    let out = first.insert(&[a], &[]).await.unwrap();
    let store::InsertOutcome::Inserted { added, date_added } = out[0] else {
        panic!("{out:?}")
    };
    drop(first);
    assert!(dir.path().join(store::SQLITE_FILE_NAME).exists());
    let url = format!(
        "sqlite://{}",
        dir.path().join(store::SQLITE_FILE_NAME).display()
    );
    let second = store::open(std::path::Path::new("/nonexistent"), Some(&url))
        .await
        .unwrap();
    let b = store::conformance::indicator(2, "2024-01-01T00:00:00.000Z", "b");
    let out = second.insert(&[b], &[]).await.unwrap();
    let store::InsertOutcome::Inserted {
        added: added2,
        date_added: date2,
    } = out[0]
    else {
        panic!("{out:?}")
    };
    assert!(added2 > added && date2 > date_added);
    let page = second
        .query(&store::Query {
            with_body: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.objects.len(), 2);
}

#[tokio::test]
async fn open_refuses_unknown_urls() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["mysql://localhost/x", "sqlite://", "file.db"] {
        let err = store::open(dir.path(), Some(url)).await.unwrap_err();
        assert_eq!(err.code(), "store.unsupported_url", "{url}: {err}");
    }
}

#[tokio::test]
async fn open_reports_an_unusable_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let err = store::open(&file.join("sub"), None).await.unwrap_err();
    assert_eq!(err.code(), "store.open", "{err}");
    assert!(err.to_string().contains("a-file"), "{err}");
}
