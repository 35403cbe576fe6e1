//! The SQL connection shared by the stores that persist (audit log, grants, flows): one code path for
//! the embedded SQLite file and for PostgreSQL, through sqlx's `Any` driver.

use std::sync::Once;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

/// The database used when `DATABASE_URL` is not set: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://fact.db";

/// The tables FACT keeps its own state in (audit log, OAuth grants and pending flows), in
/// whatever database `DATABASE_URL` names. Tools that read a database (the standard SQL tools)
/// never show them, even when they are pointed at the same database.
pub const FACT_TABLES: &[&str] = &[
    "fact_audit_log",
    crate::auth::GRANTS_TABLE,
    crate::auth::FLOWS_TABLE,
];

/// `DATABASE_URL`, or [`DEFAULT_DATABASE_URL`] when it is not set: where the stores that
/// persist (audit log, grants) connect by default. The standard SQL tools never read it: their
/// data is `FACT_SQL_DATABASE_URL`.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned())
}

/// Opens a pool on `url` (`sqlite://path` or `postgres://...`). A SQLite file is created when
/// missing and opened in WAL mode, so readers do not block the writer.
pub(crate) async fn connect(url: &str, max_connections: u32) -> Result<AnyPool, sqlx::Error> {
    connect_with(url, max_connections, DEFAULT_ACQUIRE_TIMEOUT).await
}

/// sqlx's own default: how long taking a connection from a pool may wait, connecting included.
const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// [`connect`], with the longest wait for a connection. While the database refuses
/// connections, sqlx keeps trying within that wait, pausing up to a fifth of it in between.
pub(crate) async fn connect_with(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<AnyPool, sqlx::Error> {
    static DRIVERS: Once = Once::new();
    DRIVERS.call_once(sqlx::any::install_default_drivers);
    let mut options = AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout);
    if is_sqlite(url) {
        // sqlx reads no `journal_mode` from a URL (it rejects unknown parameters), so WAL is
        // set on each new connection; the mode is stored in the file, so this is a no-op
        // after the first.
        options = options.after_connect(|connection, _| {
            Box::pin(async move {
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&mut *connection)
                    .await?;
                Ok(())
            })
        });
    }
    options.connect(&sqlite_options(url)).await
}

/// Whether `url` names a SQLite database.
pub(crate) fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Adds `mode=rwc` (create when missing) to a SQLite URL that sets no mode.
fn sqlite_options(url: &str) -> String {
    if !is_sqlite(url) || url.contains("mode=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}mode=rwc")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fact_tables_name_the_audit_log_grants_and_flows_tables() {
        assert!(FACT_TABLES.contains(&crate::audit::sql::TABLE));
        assert!(FACT_TABLES.contains(&crate::auth::GRANTS_TABLE));
        assert!(FACT_TABLES.contains(&crate::auth::FLOWS_TABLE));
    }

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
    async fn sqlite_files_are_created_in_wal_mode() {
        let path = std::env::temp_dir().join(format!("fact-db-wal-{}.db", std::process::id()));
        let pool = connect(&format!("sqlite://{}", path.display()), 1)
            .await
            .expect("a SQLite URL sqlx accepts");
        let row = sqlx::query("PRAGMA journal_mode")
            .fetch_one(&pool)
            .await
            .expect("journal mode");
        let mode: String = sqlx::Row::try_get(&row, 0).expect("a text column");
        assert_eq!(mode, "wal");
        pool.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
