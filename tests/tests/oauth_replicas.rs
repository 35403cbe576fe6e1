//! OAuth state shared by replicas (docs/ARCHITECTURE.md, "Shared OAuth state"): several
//! `AuthorizationManager`s, each with its own connection pool, on one SQLite file or one
//! PostgreSQL schema, against the loopback OAuth2 provider. A flow started on one completes on
//! another, at most once; a waiting client sees another replica's completion; the flow table
//! stays bounded; refreshing one grant on N replicas at once makes one request at the provider.

/// Runs the specification `async fn $spec(db: Database)` on a SQLite file and on PostgreSQL, as
/// the tests `$spec::sqlite` and `$spec::postgres`.
macro_rules! on_sqlite_and_postgres {
    ($spec:ident) => {
        mod $spec {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$spec(crate::support::Database::sqlite()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let test = concat!(stringify!($spec), " on PostgreSQL");
                let Some(db) = crate::support::Database::postgres(test).await else {
                    return;
                };
                super::$spec(db).await;
            }
        }
    };
}

#[path = "oauth_replicas/flows.rs"]
mod flows;
#[path = "oauth_replicas/refresh.rs"]
mod refresh;
#[path = "oauth_replicas/support.rs"]
mod support;
