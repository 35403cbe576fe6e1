//! The `sql` family: read-only queries on a SQLite file or PostgreSQL.
//!
//! | tool | what it answers |
//! | --- | --- |
//! | `SQL.Query(statement, params, max_rows)` | [`QueryOutput`]: columns, rows, row count, truncated, execution time |
//! | `SQL.TableInfo(table)` | [`TableInfo`]: the table's columns (name, type, nullable, primary key, default) |
//! | `SQL.SchemaInfo()` | [`SchemaInfo`]: every table with its columns |
//!
//! Read-only by three independent layers, each enough on its own to stop a write:
//!
//! 1. **The statement** is parsed ([`check`], with sqlparser) and must be exactly one query
//!    whose body is only SELECT, VALUES or set operations of them: no `INTO`, no locking
//!    clause, no data-modifying CTE, no `EXPLAIN`, and only functions known to only compute.
//!    With an allow-list of tables ([`SqlPolicy::allow_tables`], `FACT_SQL_ALLOWED_TABLES`),
//!    every table it names must be on the list. On SQLite the text is also read as SQLite's
//!    own tokenizer reads it, since the two can disagree: a second statement, or a `$name`
//!    parameter (whose Tcl syntax can swallow quotes), is refused; write parameters as `?`.
//!    A statement has at most 100,000 characters and 4,000 tokens.
//! 2. **The connection** cannot write: SQLite is opened read-only with `PRAGMA query_only`,
//!    asserted again before every statement; PostgreSQL sessions default to read-only
//!    transactions and every statement runs in a `BEGIN READ ONLY` transaction that is rolled
//!    back.
//! 3. **Every statement** stops at the policy's timeout (enforced by the database: PostgreSQL's
//!    `statement_timeout`, SQLite's progress handler) and returns at most `max_rows` rows
//!    (default 100, at most 1000) and about 8 MiB of JSON; on PostgreSQL the row cap is part
//!    of the statement, so the rest are never sent.
//!
//! A write refused by layer two is a 403 (`SecurityError`), like a refusal by layer one; a
//! statement that does not parse is a 400; a timeout is a 504.
//!
//! The database is the [`SqlDatabase`] the executor was given
//! (`ToolExecutorBuilder::extension`), or else `DATABASE_URL` (default `sqlite://fact.db`),
//! connected on first use.

mod admission;
mod catalog;
mod database;
mod decode;
mod functions;
mod guard;
mod params;
mod pg_time;
mod policy;
mod query;
mod sqlite_text;

#[cfg(test)]
mod layers_tests;

pub use catalog::{ColumnInfo, MAX_SCHEMA_TABLES, SchemaInfo, TableInfo, schema_info, table_info};
pub use database::{DATABASE_URL_VAR, SqlDatabase, SqlError};
pub use guard::{
    CheckedQuery, MAX_STATEMENT_CHARS, MAX_STATEMENT_DEPTH, MAX_STATEMENT_TOKENS, Refusal,
    SqlDialect, check,
};
pub use policy::{
    ALLOWED_TABLES_VAR, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_RESULT_BYTES,
    DEFAULT_MAX_STATEMENTS_PER_USER, DEFAULT_QUEUE_TIMEOUT, DEFAULT_STATEMENT_TIMEOUT,
    MAX_CONNECTIONS_VAR, MAX_RESULT_BYTES_VAR, MAX_STATEMENTS_PER_USER_VAR, PolicyError,
    STATEMENT_TIMEOUT_VAR, SqlPolicy,
};
pub use query::{DEFAULT_MAX_ROWS, MAX_ROWS_LIMIT, QueryColumn, QueryOutput, query};

use fact_runtime::{ErrorKind, ToolContext, ToolError};
use tokio::sync::OnceCell;

/// The database a SQL tool reads: the executor's, or the one the environment names.
async fn tool_database(ctx: &ToolContext) -> Result<SqlDatabase, ToolError> {
    if let Some(database) = ctx.extension::<SqlDatabase>() {
        return Ok(database.clone());
    }
    static FROM_ENV: OnceCell<SqlDatabase> = OnceCell::const_new();
    // A failed connection is not kept: the next call tries again.
    Ok(FROM_ENV
        .get_or_try_init(SqlDatabase::from_env)
        .await?
        .clone())
}

impl From<SqlError> for ToolError {
    fn from(error: SqlError) -> Self {
        let kind = match &error {
            SqlError::Refused(refusal) if refusal.is_invalid_input() => ErrorKind::Validation,
            SqlError::Refused(_) | SqlError::ReadOnly(_) => ErrorKind::Security,
            SqlError::Timeout(_) => ErrorKind::Timeout,
            SqlError::Statement(_) | SqlError::NoSuchTable { .. } | SqlError::Parameter(_) => {
                ErrorKind::Validation
            }
            SqlError::TooLarge { limit, .. } => {
                let limit = *limit;
                return ToolError::security(error.to_string())
                    .with_metadata("limit", "max_result_bytes")
                    .with_metadata("max", limit);
            }
            SqlError::Busy { .. } => {
                return ToolError::unavailable(error.to_string(), database::BUSY_RETRY_AFTER);
            }
            SqlError::Connect { .. }
            | SqlError::Database(_)
            | SqlError::NotConfigured
            | SqlError::Config(_) => ErrorKind::Execution,
        };
        ToolError::new(kind, error.to_string())
    }
}
