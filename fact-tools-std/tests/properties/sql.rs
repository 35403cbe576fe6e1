//! Properties of the SQL tools: whatever the statement, the database stays byte for byte as it
//! was, nothing outside the allowed tables is read, and plain reads are never refused.
//!
//! Each layer is checked on its own: the guard ([`check`]) by running what it accepts on a
//! *writable* connection, so that only the guard stands between the statement and the file;
//! the whole tool (`SQL.Query` through an executor) on the real read-only connection.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fact_runtime::{ToolCall, ToolExecutor};
use fact_tests::property;
use fact_tests::scratch::unique;
use fact_tools_std::sql::{SqlDatabase, SqlDialect, SqlPolicy, check};
use proptest::prelude::*;
use serde_json::json;
use sqlx::Connection as _;

use super::sql_grammar::hostile;
use super::sql_reads::{legitimate, reaching_for_hidden_tables};

/// Values that live only in tables the allow-list leaves out.
const HIDDEN: [&str; 2] = ["hunter2-secret-token", "audit-record-secret"];

const SET_UP: &[&str] = &[
    "PRAGMA journal_mode = DELETE",
    "CREATE TABLE revenue (id INTEGER PRIMARY KEY, region TEXT NOT NULL, amount REAL, \
     note TEXT DEFAULT 'none')",
    "CREATE INDEX revenue_region ON revenue(region)",
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, region TEXT)",
    "CREATE TABLE secrets (token TEXT)",
    "CREATE TABLE fact_audit_log (call_id TEXT, detail TEXT)",
    "CREATE VIEW north AS SELECT * FROM revenue WHERE region = 'north'",
    "INSERT INTO revenue VALUES (1, 'north', 100.5, 'Q1 & Q2'), (2, 'south', 250, 'update \
     pending'), (3, 'north', 75.25, NULL), (4, 'east', 300, 'drop-in client')",
    "INSERT INTO customers VALUES (1, 'O''Brien', 'north'), (2, 'Zoë', 'south')",
    "INSERT INTO secrets VALUES ('hunter2-secret-token')",
    "INSERT INTO fact_audit_log VALUES ('c1', 'audit-record-secret')",
];

/// A directory holding one SQLite database with the tables above, removed when dropped.
struct Scratch {
    dir: PathBuf,
    runtime: tokio::runtime::Runtime,
}

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(unique("fact-prop-sql"));
        std::fs::create_dir_all(&dir).expect("creates the directory");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let scratch = Self { dir, runtime };
        scratch.runtime.block_on(async {
            let mut writer = sqlx::SqliteConnection::connect(&scratch.url("data.db", "rwc"))
                .await
                .expect("creates the database");
            for statement in SET_UP {
                sqlx::raw_sql(statement)
                    .execute(&mut writer)
                    .await
                    .expect("set-up");
            }
            writer.close().await.expect("closes");
        });
        scratch
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    fn url(&self, file: &str, mode: &str) -> String {
        format!("sqlite://{}?mode={mode}", self.path(file).display())
    }

    /// Every file of the directory and its bytes: the database, and any journal, WAL or
    /// attached or vacuumed-into file a statement made.
    fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        files(&self.dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| {
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            (entry.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect()
}

#[test]
fn a_statement_the_guard_accepts_changes_nothing_even_on_a_writable_connection() {
    let scratch = Scratch::new();
    let template = std::fs::read(scratch.path("data.db")).expect("the database");
    let policy = SqlPolicy::default();
    let case_dir = scratch.path("case");
    property::check(
        "the guard alone",
        512,
        hostile(&case_dir.display().to_string()),
        |statement| {
            let Ok(checked) = check(&statement, SqlDialect::Sqlite, &policy) else {
                return Ok(());
            };
            // A fresh copy for each case, so that a shrinking run starts from the same file.
            let _ = std::fs::remove_dir_all(&case_dir);
            std::fs::create_dir_all(&case_dir).expect("the case directory");
            std::fs::write(case_dir.join("data.db"), &template).expect("copies the database");
            let before = files(&case_dir);
            let url = format!("sqlite://{}?mode=rw", case_dir.join("data.db").display());
            scratch.runtime.block_on(async {
                let mut writable = sqlx::SqliteConnection::connect(&url)
                    .await
                    .expect("opens for writing");
                // All of it, as SQLite reads it: every statement of the text runs. Errors
                // (an unknown column, say) are not the point.
                let _ = sqlx::raw_sql(checked.sql()).execute(&mut writable).await;
                let _ = writable.close().await;
            });
            prop_assert!(
                files(&case_dir) == before,
                "accepted {:?} (runs as {:?}) and the files changed",
                statement,
                checked.sql()
            );
            Ok(())
        },
    );
}

/// An executor whose SQL tools read the scratch database, allowed revenue and customers only.
fn executor(scratch: &Scratch) -> ToolExecutor {
    let policy = SqlPolicy::default()
        .allow_tables(["revenue", "customers"])
        .statement_timeout(std::time::Duration::from_secs(2));
    let database = scratch
        .runtime
        .block_on(SqlDatabase::connect(&scratch.url("data.db", "ro"), policy))
        .expect("opens read-only");
    ToolExecutor::builder()
        .extension(database)
        .build()
        .expect("an executor")
}

#[test]
fn no_statement_through_the_tool_changes_the_database_or_reads_a_hidden_table() {
    let scratch = Scratch::new();
    let executor = executor(&scratch);
    let before = scratch.snapshot();
    property::check(
        "SQL.Query on a read-only connection",
        512,
        prop_oneof![
            3 => hostile(&scratch.dir.display().to_string()),
            1 => reaching_for_hidden_tables(),
        ],
        |statement| {
            let call = ToolCall::new("SQL.Query", json!({"statement": statement}));
            let result = scratch.runtime.block_on(executor.execute_tool_call(call));
            prop_assert!(
                matches!(result.status_code, 200 | 400 | 403),
                "{:?}: {:?}",
                statement,
                result
            );
            prop_assert!(
                scratch.snapshot() == before,
                "{:?} changed the database's files: {:?}",
                statement,
                result
            );
            let answer = result.data.map(|data| data.to_string()).unwrap_or_default();
            for hidden in HIDDEN {
                prop_assert!(
                    !answer.contains(hidden),
                    "{:?} read a table off the allow-list: {}",
                    statement,
                    answer
                );
            }
            Ok(())
        },
    );
}

#[test]
fn a_plain_read_of_the_allowed_tables_is_never_refused() {
    let scratch = Scratch::new();
    let executor = executor(&scratch);
    property::check("plain reads are answered", 512, legitimate(), |statement| {
        let call = ToolCall::new("SQL.Query", json!({"statement": statement}));
        let result = scratch.runtime.block_on(executor.execute_tool_call(call));
        prop_assert_eq!(
            result.status_code,
            200,
            "{:?} was refused: {:?}",
            statement,
            result.error
        );
        Ok(())
    });
}
