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

fn sent(peer: &str, n: u32) -> store::EgressEntry {
    store::EgressEntry {
        peer: peer.into(),
        object_id: format!("indicator--{n}"),
        version_key: String::new(),
        content_hash: format!("{n:064x}"),
        agreement_id: "agreement--1".into(),
        agreement_version: 1,
        action: "sent".into(),
        detail: String::new(),
    }
}

/// The ledger refuses UPDATE and DELETE in SQL; a row edited behind the store's back
/// (the guard dropped) is detected at its seq when the chain is read back.
#[tokio::test]
async fn egress_ledger_edit_through_sql_is_refused_and_detected() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nadhir.db");
    let s = SqliteStore::open(&path).await.unwrap();
    let entries: Vec<_> = (0..5).map(|n| sent("identity--p", n)).collect();
    use store::Store;
    s.append_egress(&entries, 10).await.unwrap();
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    for stmt in [
        "UPDATE egress_ledger SET peer = 'identity--x' WHERE seq = 3",
        "DELETE FROM egress_ledger WHERE seq = 5",
    ] {
        let err = sqlx::query(stmt).execute(&mut conn).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{stmt}: {err}");
    }
    sqlx::query("DROP TRIGGER egress_ledger_no_update")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("UPDATE egress_ledger SET content_hash = 'forged' WHERE seq = 3")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let rows = s.egress_after(0, None, 100).await.unwrap();
    let err = store::verify_egress_chain(store::GENESIS_HASH, &rows).unwrap_err();
    assert_eq!(err.seq, 3, "{err}");
    s.close().await;
}

/// Two stores opened on the same file (as two processes would) append from spawned
/// tasks, 50 single-entry appends each: one unbroken chain of 100.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egress_appenders_sharing_a_file_never_fork_the_chain() {
    use store::Store;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nadhir.db");
    let a = SqliteStore::open(&path).await.unwrap();
    let b = SqliteStore::open(&path).await.unwrap();
    let run = |s: SqliteStore, peer: &'static str| {
        tokio::spawn(async move {
            for n in 0..50 {
                s.append_egress(&[sent(peer, n)], 1).await.unwrap();
            }
        })
    };
    let (ra, rb) = tokio::join!(run(a.clone(), "identity--a"), run(b.clone(), "identity--b"));
    ra.unwrap();
    rb.unwrap();
    let rows = a.egress_after(0, None, 1000).await.unwrap();
    assert_eq!(rows.len(), 100);
    store::verify_egress_chain(store::GENESIS_HASH, &rows).unwrap();
    assert_eq!(
        b.egress_after(0, Some("identity--b"), 1000)
            .await
            .unwrap()
            .len(),
        50
    );
    a.close().await;
    b.close().await;
}
