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

use futures::TryStreamExt as _;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{LockedSqliteHandle, SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{
    Column as _, ConnectOptions as _, Connection as _, Executor as _, Postgres, Row as _, Sqlite,
    Statement as _, TypeInfo as _,
};
use tokio_util::sync::CancellationToken;

use super::admission::{Admission, Turn};
use super::decode::{PgDecoder, bind_json, object, sqlite_value, unique_names};
use super::guard::{CheckedQuery, Refusal, SqlDialect};
use super::params::bind_postgres;
use super::policy::{PolicyError, SqlPolicy};

/// The environment variable naming the database the SQL tools read. It has no default, and
/// is never FACT's own `DATABASE_URL`.
pub const DATABASE_URL_VAR: &str = "FACT_SQL_DATABASE_URL";

/// The smallest size one SQLite value may reach however many columns share the result cap,
/// so that a wide result can still hold ordinary text.
const MIN_VALUE_BYTES: usize = 64 * 1024;

/// How long a caller told the database is busy should wait before trying again.
pub(crate) const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// How often (in SQLite virtual-machine steps) a running SQLite statement checks its deadline.
const SQLITE_PROGRESS_STEPS: i32 = 1_000;

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

/// The rows a query returned, at most `max_rows` of them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rows {
    pub(crate) columns: Vec<(String, String)>,
    pub(crate) rows: Vec<Map<String, Value>>,
    pub(crate) truncated: bool,
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
            SqlDialect::Postgres => {
                Statement::Postgres(PgStatement::Guarded(self.qualified(query)?))
            }
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
            SqlDialect::Postgres => Statement::Postgres(PgStatement::Raw(sql.to_owned())),
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
    Postgres(PgStatement),
}

/// A PostgreSQL statement: a checked query's body, which runs wrapped in the caps, or one of
/// ours, which runs as it is.
enum PgStatement {
    Guarded(String),
    Raw(String),
}

impl Statement<'_> {
    fn text(&self) -> &str {
        match self {
            Self::Sqlite(sql) => sql,
            Self::Postgres(PgStatement::Guarded(sql) | PgStatement::Raw(sql)) => sql,
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

/// How much of a result is kept: at most `rows` rows, and no more rows once their values
/// reach about `bytes` bytes of JSON.
#[derive(Debug, Clone, Copy)]
struct Cap {
    rows: usize,
    bytes: usize,
}

/// A result in the making, kept within its [`Cap`].
struct Collected {
    cap: Cap,
    rows: Vec<Map<String, Value>>,
    bytes: usize,
    truncated: bool,
}

impl Collected {
    fn new(cap: Cap) -> Self {
        Self {
            cap,
            rows: Vec::new(),
            bytes: 0,
            truncated: false,
        }
    }

    /// Whether there is room for another row; when there is not, the result is truncated.
    fn has_room(&mut self) -> bool {
        let room = self.rows.len() < self.cap.rows && self.bytes <= self.cap.bytes;
        self.truncated |= !room;
        room
    }

    /// Keeps a row, unless it would take the result past its byte cap.
    fn push(&mut self, row: Map<String, Value>) {
        let size: usize = row
            .iter()
            .map(|(name, value)| name.len() + json_size(value))
            .sum();
        if self.bytes + size > self.cap.bytes {
            self.bytes = self.cap.bytes + 1;
            self.truncated = true;
            return;
        }
        self.bytes += size;
        self.rows.push(row);
    }
}

/// About how many bytes `value` takes as JSON.
fn json_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 12,
        Value::String(text) => text.len() + 2,
        Value::Array(items) => items.iter().map(json_size).sum::<usize>() + 2,
        Value::Object(map) => {
            map.iter()
                .map(|(k, v)| k.len() + 3 + json_size(v))
                .sum::<usize>()
                + 2
        }
    }
}

async fn sqlite_fetch(
    mut connection: PoolConnection<Sqlite>,
    sql: &str,
    params: &[Value],
    cap: Cap,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<Rows, FetchError> {
    let deadline = Instant::now() + timeout;
    let cancel = cancel.clone();
    {
        // Set afresh before every statement, so a handler left by an abandoned call never
        // stops the next one.
        let mut handle = connection.lock_handle().await?;
        handle.set_progress_handler(SQLITE_PROGRESS_STEPS, move || {
            Instant::now() < deadline && !cancel.is_cancelled()
        });
        // SQLite's own maximum until the statement is prepared and its columns known.
        limit_value_length(&mut handle, usize::MAX);
    }
    // The connection was opened with query_only; it is asserted again before every
    // statement, so that no earlier statement can have left it off.
    sqlx::query("PRAGMA query_only = ON")
        .execute(&mut *connection)
        .await?;
    let statement = connection.prepare(sql).await?;
    if let Some(sqlx::Either::Right(placeholders)) = statement.parameters()
        && placeholders != params.len()
    {
        return Err(FetchError::Ours(SqlError::Parameter(format!(
            "the statement has {placeholders} placeholder(s) but {} parameter(s) were given",
            params.len()
        ))));
    }
    let declared: Vec<String> = statement
        .columns()
        .iter()
        .map(|column| column.type_info().name().to_owned())
        .collect();
    let names = unique_names(statement.columns().iter().map(|column| column.name()));
    // No value (nor row the statement sorts or groups) may grow past the columns' share of
    // the result cap: SQLite refuses it (SQLITE_TOOBIG) before allocating it.
    let value_limit = value_limit(cap.bytes, names.len());
    limit_value_length(&mut connection.lock_handle().await?, value_limit);
    let too_big = |error: sqlx::Error| match &error {
        sqlx::Error::Database(database) if database.code().as_deref() == Some("18") => {
            FetchError::Ours(SqlError::TooLarge {
                what: "a value of the result, or a row the statement sorts or groups,".to_owned(),
                limit: value_limit,
                cap: cap.bytes,
            })
        }
        _ => FetchError::Sqlx(error),
    };
    let mut kept = Collected::new(cap);
    {
        let mut stream = bind_json!(statement.query(), params).fetch(&mut *connection);
        while let Some(row) = stream.try_next().await.map_err(too_big)? {
            if !kept.has_room() {
                break;
            }
            let values = (0..names.len())
                .map(|index| sqlite_value(&row, index))
                .collect::<Result<Vec<_>, _>>()?;
            kept.push(object(&names, values));
        }
    }
    Ok(Rows {
        columns: names.into_iter().zip(declared).collect(),
        rows: kept.rows,
        truncated: kept.truncated,
    })
}

/// The most bytes one value of a result of `columns` columns may take: an equal share of the
/// result cap, but at least [`MIN_VALUE_BYTES`] (and never more than the cap).
fn value_limit(cap: usize, columns: usize) -> usize {
    (cap / columns.max(1)).max(MIN_VALUE_BYTES).min(cap.max(1))
}

/// Sets SQLite's `SQLITE_LIMIT_LENGTH` on the locked connection: the largest string, blob or
/// row it will build, checked before the memory is allocated. sqlx has no safe way to reach
/// `sqlite3_limit`, hence this one call through the raw handle.
#[allow(unsafe_code)]
fn limit_value_length(handle: &mut LockedSqliteHandle<'_>, bytes: usize) {
    let bytes = i32::try_from(bytes).unwrap_or(i32::MAX);
    // SAFETY: `as_raw_handle` is the live connection that `handle` keeps locked for as long as
    // it is borrowed here, so no other thread uses it; `sqlite3_limit` only reads and writes
    // that connection's limit array, with a valid limit id, and cannot fail.
    unsafe {
        libsqlite3_sys::sqlite3_limit(
            handle.as_raw_handle().as_ptr(),
            libsqlite3_sys::SQLITE_LIMIT_LENGTH,
            bytes,
        );
    }
}

async fn postgres_fetch(
    mut connection: PoolConnection<Postgres>,
    statement: &PgStatement,
    params: &[Value],
    cap: Cap,
) -> Result<Rows, FetchError> {
    let mut transaction = connection.begin_with("BEGIN READ ONLY").await?;
    let body = match statement {
        PgStatement::Guarded(body) => body,
        PgStatement::Raw(sql) => return postgres_fetch_raw(transaction, sql, params, cap).await,
    };
    // The query's own columns: names and types to report, and how each is read.
    let described = transaction.prepare(body.as_str()).await?;
    let names = unique_names(described.columns().iter().map(|column| column.name()));
    let mut columns = Vec::with_capacity(names.len());
    let mut decoders = Vec::with_capacity(names.len());
    for column in described.columns() {
        let ty = column.type_info();
        // A type without a JSON form of its own is sent as its text form.
        let decoder = PgDecoder::for_type(ty);
        columns.push(decoder.is_some());
        decoders.push(decoder.unwrap_or(PgDecoder::Text));
    }
    let column_types: Vec<String> = described
        .columns()
        .iter()
        .map(|column| column.type_info().name().to_owned())
        .collect();
    let guarded = guarded_query(body, &columns, cap);
    let statement = transaction.prepare(&guarded).await?;
    let types = match statement.parameters() {
        Some(sqlx::Either::Left(types)) => types.to_vec(),
        _ => Vec::new(),
    };
    let query = bind_postgres(statement.query(), params, &types).map_err(FetchError::Ours)?;
    let mut kept = Collected::new(cap);
    {
        let mut stream = query.fetch(&mut *transaction);
        while let Some(row) = stream.try_next().await? {
            if !kept.has_room() {
                break;
            }
            let size: i64 = row.try_get(0)?;
            if usize::try_from(size).map_or(true, |size| size > cap.bytes) {
                if kept.rows.is_empty() {
                    return Err(FetchError::Ours(SqlError::TooLarge {
                        what: format!("the result's first row ({size} bytes as text)"),
                        limit: cap.bytes,
                        cap: cap.bytes,
                    }));
                }
                kept.truncated = true;
                break;
            }
            let values = decoders
                .iter()
                .enumerate()
                .map(|(index, decoder)| decoder.decode(&row, index + 1))
                .collect::<Result<Vec<_>, _>>()?;
            kept.push(object(&names, values));
        }
    }
    transaction.rollback().await?;
    Ok(Rows {
        columns: names.into_iter().zip(column_types).collect(),
        rows: kept.rows,
        truncated: kept.truncated,
    })
}

/// Runs `sql` as it is, for statements of ours (the catalog's) and tests of the lower layers:
/// only the row and byte caps apply, and a type without a JSON form is an error.
async fn postgres_fetch_raw(
    mut transaction: sqlx::Transaction<'_, Postgres>,
    sql: &str,
    params: &[Value],
    cap: Cap,
) -> Result<Rows, FetchError> {
    let statement = transaction.prepare(sql).await?;
    let names = unique_names(statement.columns().iter().map(|column| column.name()));
    let mut decoders = Vec::with_capacity(names.len());
    for (column, name) in statement.columns().iter().zip(&names) {
        let ty = column.type_info();
        decoders.push(PgDecoder::for_type(ty).ok_or_else(|| {
            FetchError::Ours(SqlError::Database(format!(
                "column '{name}' has type {}, which has no JSON form",
                ty.name()
            )))
        })?);
    }
    let column_types = statement
        .columns()
        .iter()
        .map(|column| column.type_info().name().to_owned());
    let types = match statement.parameters() {
        Some(sqlx::Either::Left(types)) => types.to_vec(),
        _ => Vec::new(),
    };
    let query = bind_postgres(statement.query(), params, &types).map_err(FetchError::Ours)?;
    let mut kept = Collected::new(cap);
    {
        let mut stream = query.fetch(&mut *transaction);
        while let Some(row) = stream.try_next().await? {
            if !kept.has_room() {
                break;
            }
            let values = decoders
                .iter()
                .enumerate()
                .map(|(index, decoder)| decoder.decode(&row, index))
                .collect::<Result<Vec<_>, _>>()?;
            kept.push(object(&names, values));
        }
    }
    transaction.rollback().await?;
    Ok(Rows {
        columns: names.into_iter().zip(column_types).collect(),
        rows: kept.rows,
        truncated: kept.truncated,
    })
}

/// `body` wrapped so that PostgreSQL sends at most `cap.rows + 1` rows, and no row larger
/// than `cap.bytes`: each row comes with its size as text (column 0), and a row past the cap
/// comes with its values left out, so that nothing that large is read off the connection.
/// `decoded[i]` says whether column `i` is read as its own type; the others are sent as text.
fn guarded_query(body: &str, decoded: &[bool], cap: Cap) -> String {
    let aliases: Vec<String> = (1..=decoded.len()).map(|i| format!("fact_c{i}")).collect();
    let mut size = String::from("0::int8");
    for alias in &aliases {
        let _ = write!(
            size,
            " + coalesce(octet_length(fact_q.{alias}::text)::int8, 0)"
        );
    }
    let mut select = String::from("fact_m.fact_size");
    for (alias, decoded) in aliases.iter().zip(decoded) {
        let bytes = cap.bytes;
        let _ = if *decoded {
            write!(
                select,
                ", CASE WHEN fact_m.fact_size > {bytes} THEN NULL ELSE fact_m.{alias} END"
            )
        } else {
            // format('%s', ...) is the value's text form, by its type's output function (a
            // cast to text may differ: inet's keeps the netmask); num_nulls tells a NULL value
            // from a row of NULLs, which IS NULL does not.
            write!(
                select,
                ", CASE WHEN fact_m.fact_size > {bytes} OR num_nulls(fact_m.{alias}) = 1 \
                 THEN NULL ELSE format('%s', fact_m.{alias}) END"
            )
        };
    }
    let column_list = if aliases.is_empty() {
        String::new()
    } else {
        format!("({})", aliases.join(", "))
    };
    // OFFSET 0 keeps the middle query from being merged into the outer one, which would
    // compute the size once per reference.
    format!(
        "SELECT {select} FROM (SELECT fact_q.*, {size} AS fact_size FROM \
         (SELECT * FROM (\n{body}\n) AS fact_inner LIMIT {rows}) AS fact_q{column_list} \
         OFFSET 0) AS fact_m",
        rows = cap.rows.saturating_add(1),
    )
}

/// A failure inside a fetch, before it is told apart: the database's, or one of ours already
/// told apart.
#[derive(Debug)]
enum FetchError {
    Sqlx(sqlx::Error),
    Ours(SqlError),
}

impl From<sqlx::Error> for FetchError {
    fn from(error: sqlx::Error) -> Self {
        Self::Sqlx(error)
    }
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
