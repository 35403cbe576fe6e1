//! The SQL connection shared by the stores that persist (audit log, grants): one code path for
//! the embedded SQLite file and for PostgreSQL, through sqlx's `Any` driver.

use std::sync::Once;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

/// The database used when `DATABASE_URL` is not set: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://fact.db";

/// Opens a pool on `url` (`sqlite://path` or `postgres://...`). A SQLite file is created when
/// missing and opened in WAL mode, so readers do not block the writer.
#[allow(dead_code)] // used by the audit log and the grant store, which land next
pub(crate) async fn connect(url: &str, max_connections: u32) -> Result<AnyPool, sqlx::Error> {
    static DRIVERS: Once = Once::new();
    DRIVERS.call_once(sqlx::any::install_default_drivers);
    let url = sqlite_options(url);
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .connect(&url)
        .await
}

/// Adds `mode=rwc` (create when missing) and WAL journaling to a SQLite URL that sets neither.
#[allow(dead_code)]
fn sqlite_options(url: &str) -> String {
    if !url.starts_with("sqlite:") {
        return url.to_owned();
    }
    let mut url = url.to_owned();
    for (key, value) in [("mode", "rwc"), ("journal_mode", "wal")] {
        if !url.contains(&format!("{key}=")) {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(key);
            url.push('=');
            url.push_str(value);
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_gain_create_and_wal() {
        assert_eq!(
            sqlite_options("sqlite://a.db"),
            "sqlite://a.db?mode=rwc&journal_mode=wal"
        );
        assert_eq!(
            sqlite_options("sqlite://a.db?mode=ro"),
            "sqlite://a.db?mode=ro&journal_mode=wal"
        );
        assert_eq!(sqlite_options("postgres://x/y"), "postgres://x/y");
    }
}
