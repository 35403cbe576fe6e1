//! The SQL connection shared by the stores that persist (audit log, grants): one code path for
//! the embedded SQLite file and for PostgreSQL, through sqlx's `Any` driver.

use std::sync::Once;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

/// The database used when `DATABASE_URL` is not set: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://fact.db";

/// Opens a pool on `url` (`sqlite://path` or `postgres://...`). A SQLite file is created when
/// missing and put in WAL mode, so readers do not block the writer.
#[allow(dead_code)] // used by the audit log and the grant store, which land next
pub(crate) async fn connect(url: &str, max_connections: u32) -> Result<AnyPool, sqlx::Error> {
    static DRIVERS: Once = Once::new();
    DRIVERS.call_once(sqlx::any::install_default_drivers);
    let sqlite = url.starts_with("sqlite:");
    let url = sqlite_options(url);
    AnyPoolOptions::new()
        .max_connections(max_connections)
        // sqlx's SQLite URLs take no `journal_mode` parameter, so WAL is set by a pragma.
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if sqlite {
                    sqlx::query("PRAGMA journal_mode = WAL")
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            })
        })
        .connect(&url)
        .await
}

/// Adds `mode=rwc` (create when missing) to a SQLite URL that sets no mode.
#[allow(dead_code)]
fn sqlite_options(url: &str) -> String {
    if !url.starts_with("sqlite:") || url.contains("mode=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}mode=rwc")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_gain_create_mode() {
        assert_eq!(sqlite_options("sqlite://a.db"), "sqlite://a.db?mode=rwc");
        assert_eq!(
            sqlite_options("sqlite://a.db?cache=shared"),
            "sqlite://a.db?cache=shared&mode=rwc"
        );
        assert_eq!(
            sqlite_options("sqlite://a.db?mode=ro"),
            "sqlite://a.db?mode=ro"
        );
        assert_eq!(sqlite_options("postgres://x/y"), "postgres://x/y");
    }

    #[tokio::test]
    async fn sqlite_file_is_created_and_opened_in_wal_mode() {
        let path = std::env::temp_dir().join(format!("fact-db-{}.db", uuid::Uuid::new_v4()));
        let pool = connect(&format!("sqlite://{}", path.display()), 1)
            .await
            .expect("connect");
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&pool)
            .await
            .expect("pragma");
        assert_eq!(mode.to_lowercase(), "wal");
        pool.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
