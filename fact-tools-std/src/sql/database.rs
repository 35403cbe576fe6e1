//! [`SqlDatabase`]: the connection the SQL tools read through, and the second and third of their
//! read-only layers. The connection itself cannot write (SQLite opened read-only with
//! `query_only`; PostgreSQL sessions with `default_transaction_read_only` and every statement in
//! a `READ ONLY` transaction), and every statement runs under a timeout the database enforces
//! and a row cap. These hold even for a statement that layer one ([`super::check`]) let through.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest as _, Sha256};
use sqlx::ConnectOptions as _;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use tokio_util::sync::CancellationToken;

use super::admission::{Admission, Turn};
pub(crate) use super::collect::Rows;
use super::collect::{Cap, FetchError};
use super::guard::{CheckedQuery, Refusal, SqlDialect};
use super::policy::{PolicyError, SqlPolicy};
use super::postgres_fetch::{PgText, postgres_fetch};
use super::sqlite_fetch::sqlite_fetch;

/// The environment variable naming the database the SQL tools read. It has no default, and
/// is never FACT's own `DATABASE_URL`.
pub const DATABASE_URL_VAR: &str = "FACT_SQL_DATABASE_URL";

/// How long a caller told the database is busy should wait before trying again.
pub(crate) const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Why the SQL tools could not answer.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// Layer one refused the statement.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The database refused to write (layer two).
    #[error("the database refused to write: {0}")]
    ReadOnly(String),
    /// The statement ran past the policy's timeout (layer three).
    #[error("the statement ran longer than the {} s statement timeout and was stopped", .0.as_secs_f64())]
    Timeout(Duration),
    /// The database rejected the statement (unknown table, type mismatch, ...).
    #[error("the database rejected the statement: {0}")]
    Statement(String),
    /// A value or row is larger than the result cap allows; nothing that large was read.
    #[error(
        "{what} is larger than the {limit} bytes it may take of the {cap}-byte result cap \
         (FACT_SQL_MAX_RESULT_BYTES), so it was not read; select less (substr(), length(), \
         fewer columns)"
    )]
    TooLarge {
        /// What was too large.
        what: String,
        /// The bytes it may take.
        limit: usize,
        /// The result cap.
        cap: usize,
    },
    /// No statement could start in time: the caller's own statements, or every connection,
    /// were busy. Nothing ran.
    #[error("the database is busy: {reason}; try again in a moment")]
    Busy {
        /// Who is holding what.
        reason: String,
    },
    /// The SQL tools have no database: `FACT_SQL_DATABASE_URL` is not set.
    #[error(
        "the SQL tools have no database: set FACT_SQL_DATABASE_URL to a sqlite:// or \
         postgres:// URL of the data they may read (FACT's own DATABASE_URL is never used)"
    )]
    NotConfigured,
    /// A setting of the environment does not parse.
    #[error(transparent)]
    Config(#[from] PolicyError),
    /// No table of that name (among those the policy allows).
    #[error("no table named '{name}'; the tables are: {known}")]
    NoSuchTable {
        /// The name asked for.
        name: String,
        /// The tables that can be read, comma-separated.
        known: String,
    },
    /// The database could not be reached or opened.
    #[error("cannot open the database {database}: {reason}")]
    Connect {
        /// The database, without credentials.
        database: String,
        /// Why.
        reason: String,
    },
    /// A parameter does not fit its placeholder.
    #[error("{0}")]
    Parameter(String),
    /// Any other failure talking to the database.
    #[error("database error: {0}")]
    Database(String),
}

/// A database the SQL tools read: a SQLite file or PostgreSQL, with the [`SqlPolicy`] that
/// says what may be read. Cheap to clone; clones share one pool.
///
/// Hand one to an executor with `ToolExecutorBuilder::extension`; without one, the tools
/// connect on first use to `FACT_SQL_DATABASE_URL` (no default) with the policy from the
/// environment ([`SqlPolicy::from_env`]). FACT's own state (`DATABASE_URL`) is never read.
///
/// ```no_run
/// use fact_tools_std::sql::{SqlDatabase, SqlPolicy};
///
/// # async fn demo() -> Result<(), fact_tools_std::sql::SqlError> {
/// let db = SqlDatabase::connect("sqlite://sales.db", SqlPolicy::default().allow_tables(["revenue"])).await?;
/// let executor = fact_runtime::ToolExecutor::builder().extension(db).build();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqlDatabase {
    inner: Arc<Inner>,
}

/// Names the database kind and policy only: a connection's options may hold a password.
impl std::fmt::Debug for SqlDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlDatabase")
            .field("dialect", &self.dialect())
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

struct Inner {
    pool: Pool,
    policy: SqlPolicy,
    admission: Arc<Admission>,
    /// PostgreSQL: the relations of `pg_catalog`, which an unqualified name means first.
    catalog_relations: HashSet<String>,
}

enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl SqlDatabase {
    /// Connects to `url` (`sqlite://path` or `postgres://...`) read-only. A SQLite file must
    /// exist: the tools never create one.
    ///
    /// # Errors
    ///
    /// [`SqlError::Connect`] when the URL is not one of those, or the database cannot be opened.
    pub async fn connect(url: &str, policy: SqlPolicy) -> Result<Self, SqlError> {
        let database = redact(url);
        let connect_error = |error: sqlx::Error| SqlError::Connect {
            database: database.clone(),
            reason: error.to_string(),
        };
        let mut catalog_relations = HashSet::new();
        let pool = if url.starts_with("sqlite:") {
            // sqlx's own statement logs would print the SQL text: slow statements are logged
            // here, by digest.
            let options = SqliteConnectOptions::from_str(url)
                .map_err(connect_error)?
                .read_only(true)
                .create_if_missing(false)
                .pragma("query_only", "ON")
                .disable_statement_logging();
            Pool::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(policy.connections())
                    .acquire_timeout(policy.queue_wait())
                    .connect_with(options)
                    .await
                    .map_err(connect_error)?,
            )
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let timeout_ms = policy.timeout().as_millis().max(1).to_string();
            // Functions, operators and types resolve in pg_catalog only, so that a function
            // of the same name in another schema (`public.upper(integer)`) is never called;
            // unqualified tables are qualified with the policy's schema before they run.
            let options = PgConnectOptions::from_str(url)
                .map_err(connect_error)?
                .options([
                    ("default_transaction_read_only", "on"),
                    ("statement_timeout", timeout_ms.as_str()),
                    ("search_path", "pg_catalog"),
                ])
                .disable_statement_logging();
            let pool = PgPoolOptions::new()
                .max_connections(policy.connections())
                .acquire_timeout(policy.queue_wait())
                .connect_with(options)
                .await
                .map_err(connect_error)?;
            catalog_relations = sqlx::query_scalar::<_, String>(
                "SELECT relname::text FROM pg_catalog.pg_class \
                 WHERE relnamespace = 'pg_catalog'::pg_catalog.regnamespace",
            )
            .fetch_all(&pool)
            .await
            .map_err(connect_error)?
            .into_iter()
            .collect();
            Pool::Postgres(pool)
        } else {
            return Err(SqlError::Connect {
                database,
                reason: "expected a sqlite:// or postgres:// URL".to_owned(),
            });
        };
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                admission: Admission::new(policy.statements_per_user(), policy.queue_wait()),
                policy,
                catalog_relations,
            }),
        })
    }

    /// Connects to `FACT_SQL_DATABASE_URL` with the policy from the environment
    /// ([`SqlPolicy::from_env`]).
    ///
    /// # Errors
    ///
    /// [`SqlError::NotConfigured`] when the variable is not set, [`SqlError::Config`] when a
    /// policy variable does not parse, else as [`connect`](Self::connect).
    pub async fn from_env() -> Result<Self, SqlError> {
        let url = std::env::var(DATABASE_URL_VAR)
            .ok()
            .filter(|url| !url.trim().is_empty())
            .ok_or(SqlError::NotConfigured)?;
        Self::connect(url.trim(), SqlPolicy::from_env()?).await
    }

    /// Which database this is.
    pub fn dialect(&self) -> SqlDialect {
        match self.inner.pool {
            Pool::Sqlite(_) => SqlDialect::Sqlite,
            Pool::Postgres(_) => SqlDialect::Postgres,
        }
    }

    /// What may be read.
    pub fn policy(&self) -> &SqlPolicy {
        &self.inner.policy
    }

    /// Closes the pool.
    pub async fn close(&self) {
        match &self.inner.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }

    /// Runs a checked query for `user` with `params` bound in order, returning at most
    /// `max_rows` rows. `cancel` stops a running statement early (the tool's own timeout).
    pub(crate) async fn fetch(
        &self,
        query: &CheckedQuery,
        user: &str,
        params: &[Value],
        max_rows: usize,
        cancel: &CancellationToken,
    ) -> Result<Rows, SqlError> {
        let statement = match self.dialect() {
            SqlDialect::Sqlite => Statement::Sqlite(query.sql()),
            SqlDialect::Postgres => Statement::Postgres(PgText::Guarded(self.qualified(query)?)),
        };
        self.run(statement, user, params, max_rows, cancel).await
    }

    /// The body of `query` with each unqualified table qualified as the policy says: the
    /// policy's schema, or `pg_catalog` for a name PostgreSQL finds there first.
    fn qualified(&self, query: &CheckedQuery) -> Result<String, SqlError> {
        let body = query.body();
        let policy = &self.inner.policy;
        let schema = quote_ident(policy.schema());
        let mut text = String::with_capacity(body.len() + 16 * query.unqualified_tables().len());
        let mut copied = 0;
        for (range, name) in query.unqualified_tables() {
            text.push_str(&body[copied..range.start]);
            if self.inner.catalog_relations.contains(name) {
                if !policy.allows_table(SqlDialect::Postgres, Some("pg_catalog"), name) {
                    return Err(Refusal::Table(format!("pg_catalog.{name}")).into());
                }
            } else {
                text.push_str(&schema);
                text.push('.');
            }
            copied = range.start;
        }
        text.push_str(&body[copied..]);
        Ok(text)
    }

    /// Runs `sql` without layer one: only the connection's own read-only mode, the timeout and
    /// the caps stand in its way. Used by the catalog queries (which are ours, fully
    /// qualified), and by tests of layers two and three on their own.
    pub(crate) async fn fetch_unchecked(
        &self,
        sql: &str,
        params: &[Value],
        max_rows: usize,
        cancel: &CancellationToken,
    ) -> Result<Rows, SqlError> {
        let statement = match self.dialect() {
            SqlDialect::Sqlite => Statement::Sqlite(sql),
            SqlDialect::Postgres => Statement::Postgres(PgText::Raw(sql.to_owned())),
        };
        self.run(statement, "", params, max_rows, cancel).await
    }

    /// Waits for `user`'s turn and a connection, then runs the statement under the timeout.
    async fn run(
        &self,
        statement: Statement<'_>,
        user: &str,
        params: &[Value],
        max_rows: usize,
        cancel: &CancellationToken,
    ) -> Result<Rows, SqlError> {
        let policy = &self.inner.policy;
        let timeout = policy.timeout();
        let cap = Cap {
            rows: max_rows,
            bytes: policy.result_bytes(),
        };
        let turn = self
            .inner
            .admission
            .admit(user)
            .await
            .map_err(|refused| SqlError::Busy {
                reason: format!(
                    "{} already has {} SQL statement(s) running, the most one caller may run \
                     at once, and none ended within {} s",
                    if user.is_empty() {
                        "the anonymous caller".to_owned()
                    } else {
                        format!("user '{user}'")
                    },
                    refused.running,
                    refused.waited.as_secs_f64()
                ),
            })?;
        let text = statement.text();
        let started = Instant::now();
        // The timeout starts once a connection is held: waiting for one is not running.
        let result = match (&self.inner.pool, &statement) {
            (Pool::Sqlite(pool), Statement::Sqlite(sql)) => {
                let connection = self.acquire(pool, &turn).await?;
                let work = sqlite_fetch(connection, sql, params, cap, timeout, cancel);
                bounded(work, timeout).await
            }
            (Pool::Postgres(pool), Statement::Postgres(sql)) => {
                let connection = self.acquire(pool, &turn).await?;
                let work = postgres_fetch(connection, sql, params, cap);
                bounded(work, timeout).await
            }
            _ => Err(FetchError::Ours(SqlError::Database(
                "the statement is for another database".to_owned(),
            ))),
        };
        let elapsed = started.elapsed();
        if elapsed >= policy.slow_threshold() {
            tracing::warn!(
                statement_sha256 = %digest(text),
                statement_length = text.len(),
                elapsed_ms = elapsed.as_millis() as u64,
                "slow SQL statement"
            );
        }
        drop(turn);
        result.map_err(|error| classify(error, timeout))
    }

    /// A connection of `pool`, or [`SqlError::Busy`] when none is free within the queue timeout.
    async fn acquire<DB: sqlx::Database>(
        &self,
        pool: &sqlx::Pool<DB>,
        _turn: &Turn,
    ) -> Result<sqlx::pool::PoolConnection<DB>, SqlError> {
        pool.acquire().await.map_err(|error| match error {
            sqlx::Error::PoolTimedOut => SqlError::Busy {
                reason: format!(
                    "all {} connections to the database stayed in use for {} s",
                    self.inner.policy.connections(),
                    self.inner.policy.queue_wait().as_secs_f64()
                ),
            },
            error => SqlError::Database(error.to_string()),
        })
    }
}

/// A statement ready for its database.
enum Statement<'s> {
    Sqlite(&'s str),
    Postgres(PgText),
}

impl Statement<'_> {
    fn text(&self) -> &str {
        match self {
            Self::Sqlite(sql) => sql,
            Self::Postgres(PgText::Guarded(sql) | PgText::Raw(sql)) => sql,
        }
    }
}

/// Runs `work` with a backstop for the database's own timeout, should it not answer.
async fn bounded(
    work: impl Future<Output = Result<Rows, FetchError>>,
    timeout: Duration,
) -> Result<Rows, FetchError> {
    match tokio::time::timeout(timeout + Duration::from_secs(1), work).await {
        Ok(result) => result,
        Err(_elapsed) => Err(FetchError::Ours(SqlError::Timeout(timeout))),
    }
}

/// The first 16 hex digits of the SHA-256 of `text`: names a statement in logs without
/// showing it.
fn digest(text: &str) -> String {
    let hash = Sha256::digest(text.as_bytes());
    hash.iter()
        .take(8)
        .fold(String::with_capacity(16), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// `name` as a quoted PostgreSQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Tells the database's refusals apart: a write refused by the read-only connection, a
/// statement stopped by the timeout, a statement the database rejected, and the rest.
fn classify(error: FetchError, timeout: Duration) -> SqlError {
    let error = match error {
        FetchError::Ours(error) => return error,
        FetchError::Sqlx(error) => error,
    };
    match &error {
        sqlx::Error::Database(database) => {
            let message = database.message().to_owned();
            let code = database.code().unwrap_or_default();
            match code.as_ref() {
                // PostgreSQL: read_only_sql_transaction; SQLite: SQLITE_READONLY (8) and its
                // extended codes.
                "25006" => SqlError::ReadOnly(message),
                "8" | "264" | "520" | "776" | "1032" | "1288" | "1544" => {
                    SqlError::ReadOnly(message)
                }
                // PostgreSQL: query_canceled (statement_timeout); SQLite: SQLITE_INTERRUPT.
                "57014" | "9" => SqlError::Timeout(timeout),
                _ if message.contains("readonly database") || message.contains("query_only") => {
                    SqlError::ReadOnly(message)
                }
                _ => SqlError::Statement(message),
            }
        }
        _ => SqlError::Database(error.to_string()),
    }
}

/// `url` without its password, to name the database in messages and logs.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        // What does not parse cannot be shown safely: it may hold a password.
        Err(_) => format!(
            "(a {} URL that does not parse, not shown)",
            url.split_once(':').map_or("database", |(scheme, _)| scheme)
        ),
    }
}
