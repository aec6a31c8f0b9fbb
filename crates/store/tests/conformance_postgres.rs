//! The conformance suite on PostgreSQL: a fresh database per case, dropped afterwards.
//! Needs NADHIR_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test);
//! without it the cases are skipped, unless CI is set, in which case they fail.

// Test helpers outside #[test] functions: a failed setup step should panic.
#![allow(clippy::unwrap_used)]

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Executor};
use store::PostgresStore;

fn base_url() -> Option<String> {
    match std::env::var("NADHIR_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "CI is set but NADHIR_TEST_POSTGRES_URL is not: the PostgreSQL suite must run"
                );
            }
            eprintln!("skipping: NADHIR_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// A database of its own for one test.
struct Scratch {
    admin: PgConnectOptions,
    name: String,
}

impl Scratch {
    async fn create(url: &str) -> (Self, PgConnectOptions) {
        static N: AtomicU32 = AtomicU32::new(0);
        let admin = PgConnectOptions::from_str(url).unwrap();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "nadhir_store_test_{}_{}_{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let mut conn: PgConnection = admin.connect().await.unwrap();
        conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .unwrap();
        conn.close().await.unwrap();
        let opts = admin.clone().database(&name);
        (Scratch { admin, name }, opts)
    }

    async fn drop_db(self) {
        let mut conn: PgConnection = self.admin.connect().await.unwrap();
        conn.execute(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name).as_str())
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
}

macro_rules! postgres_cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(url) = base_url() else { return };
                let (scratch, opts) = Scratch::create(&url).await;
                let s = PostgresStore::connect_with(opts).await.unwrap();
                store::conformance::$name(&s).await;
                s.close().await;
                scratch.drop_db().await;
            }
        )*
    };
}

store::conformance_cases!(postgres_cases);

/// `store::open` picks PostgreSQL for a postgres:// URL.
#[tokio::test]
async fn open_by_url() {
    let Some(url) = base_url() else { return };
    let (scratch, opts) = Scratch::create(&url).await;
    let (host, port) = (opts.get_host().to_owned(), opts.get_port());
    let user = opts.get_username().to_owned();
    let db_url = format!("postgres://{user}@{host}:{port}/{}", scratch.name);
    let s = store::open(std::path::Path::new("/nonexistent"), Some(&db_url))
        .await
        .unwrap();
    assert_eq!(s.backend(), "postgres");
    s.set_state("k", "v").await.unwrap();
    assert_eq!(s.get_state("k").await.unwrap().as_deref(), Some("v"));
    drop(s);
    scratch.drop_db().await;
}
