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
//!    whose body is only SELECT, VALUES, `TABLE name` or set operations of them: no `INTO`, no
//!    locking clause, no data-modifying CTE, no `EXPLAIN`, and only functions known to only
//!    compute. On PostgreSQL, functions, operators and types are PostgreSQL's built-in ones
//!    (`OPERATOR(schema.op)` and casts to a type of another schema are refused, and the
//!    session resolves every unqualified name in `pg_catalog` only), and each unqualified
//!    table is read from the policy's schema ([`SqlPolicy::default_schema`], `public`), never
//!    from whatever the role's `search_path` finds first. With an allow-list of tables
//!    ([`SqlPolicy::allow_tables`], `FACT_SQL_ALLOWED_TABLES`), every table it names must be on
//!    the list, and no cast may name a table's row type. FACT's own tables (audit log, grants)
//!    are never readable. On SQLite the text is also read as SQLite's own tokenizer reads it,
//!    since the two can disagree: a second statement, or a `$name` parameter (whose Tcl syntax
//!    can swallow quotes), is refused; write parameters as `?`. A statement has at most
//!    100,000 characters, 4,000 tokens and 200 levels of nesting.
//! 2. **The connection** cannot write: SQLite is opened read-only with `PRAGMA query_only`,
//!    asserted again before every statement; PostgreSQL sessions default to read-only
//!    transactions and every statement runs in a `BEGIN READ ONLY` transaction that is rolled
//!    back. FACT never creates or writes anything in this database: a read-only role is
//!    enough.
//! 3. **Every statement** runs within bounds the database enforces:
//!
//! | bound | default | set by |
//! | --- | --- | --- |
//! | time: a statement stops at the timeout (PostgreSQL's `statement_timeout`, SQLite's progress handler) | 10 s | `FACT_SQL_STATEMENT_TIMEOUT`, [`SqlPolicy::statement_timeout`] |
//! | answer: at most `max_rows` rows, and rows stop at the byte cap (the result says `truncated`) | 100 rows (at most 1000), 8 MiB | `max_rows`; `FACT_SQL_MAX_RESULT_BYTES`, [`SqlPolicy::max_result_bytes`] |
//! | memory: no value (SQLite: its column's share of the cap, at least 64 KiB) or row (PostgreSQL, sized by the server) past the cap is built or read; a call past it is a 403 naming `max_result_bytes` | a small multiple of the cap per call | as above |
//! | concurrency: statements at once in the process | 4 | `FACT_SQL_MAX_CONNECTIONS`, [`SqlPolicy::max_connections`] |
//! | concurrency: statements at once per user, so one caller cannot take every connection | 2 | `FACT_SQL_MAX_STATEMENTS_PER_USER`, [`SqlPolicy::max_statements_per_user`] |
//! | waiting: a call that gets no turn or connection in time is a 503 with `Retry-After` | 2 s | [`SqlPolicy::queue_timeout`] |
//!
//! On PostgreSQL the row cap is part of the statement, so the rest are never sent. Process
//! memory for SQL is therefore bounded by the connections times a small multiple of the
//! byte cap, whatever the batch. A statement slower than 1 s is logged by the SHA-256 digest
//! and length of its text, never the text.
//!
//! A write refused by layer two is a 403 (`SecurityError`), like a refusal by layer one; a
//! statement that does not parse, nests too deep or binds the wrong number of parameters is a
//! 400; a timeout is a 504; a busy database is a 503 (`ServiceUnavailableError`).
//!
//! The database is the [`SqlDatabase`] the executor was given
//! (`ToolExecutorBuilder::extension`), or else `FACT_SQL_DATABASE_URL`, connected on first
//! use. It has no default and is never FACT's own `DATABASE_URL` (audit log, grants):
//! without it the tools answer an error naming the variable.

mod admission;
mod catalog;
mod collect;
mod database;
mod decode;
mod functions;
mod guard;
mod guard_walk;
mod params;
mod pg_time;
mod policy;
mod postgres_fetch;
mod query;
mod sqlite_fetch;
mod sqlite_text;
mod statement_text;

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
