//! [`SqlDatabase`]: the connection the SQL tools read through, and the second and third of their
//! read-only layers. The connection itself cannot write (SQLite opened read-only with
//! `query_only`; PostgreSQL sessions with `default_transaction_read_only` and every statement in
//! a `READ ONLY` transaction), and every statement runs under a timeout the database enforces
//! and a row cap. These hold even for a statement that layer one ([`super::check`]) let through.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::TryStreamExt as _;
use serde_json::{Map, Value};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{Column as _, Executor as _, Statement as _, TypeInfo as _};
use tokio_util::sync::CancellationToken;

use super::decode::{PgDecoder, bind_json, object, sqlite_value, unique_names};
use super::guard::{CheckedQuery, Refusal, SqlDialect};
use super::params::bind_postgres;
use super::policy::SqlPolicy;

/// Connections per pool: the SQL tools serve a handful of reads at a time.
const MAX_CONNECTIONS: u32 = 4;

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
    /// A result column has a type the tools cannot return as JSON.
    #[error(
        "column '{column}' has type {type_name}, which SQL.Query cannot return; cast it in the \
         query (for example {column}::text)"
    )]
    UnsupportedType {
        /// The column's name.
        column: String,
        /// The database's name for its type.
        type_name: String,
    },
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
/// connect on first use to `DATABASE_URL` (default `sqlite://fact.db`) with the policy from
/// the environment ([`SqlPolicy::from_env`]).
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
        let pool = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(connect_error)?
                .read_only(true)
                .create_if_missing(false)
                .pragma("query_only", "ON");
            Pool::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(MAX_CONNECTIONS)
                    .connect_with(options)
                    .await
                    .map_err(connect_error)?,
            )
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let timeout_ms = policy.timeout().as_millis().max(1).to_string();
            let options = PgConnectOptions::from_str(url)
                .map_err(connect_error)?
                .options([
                    ("default_transaction_read_only", "on"),
                    ("statement_timeout", timeout_ms.as_str()),
                ]);
            Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(MAX_CONNECTIONS)
                    .connect_with(options)
                    .await
                    .map_err(connect_error)?,
            )
        } else {
            return Err(SqlError::Connect {
                database,
                reason: "expected a sqlite:// or postgres:// URL".to_owned(),
            });
        };
        Ok(Self {
            inner: Arc::new(Inner { pool, policy }),
        })
    }

    /// Connects to `DATABASE_URL` (default [`fact_runtime::DEFAULT_DATABASE_URL`]) with the
    /// policy from the environment.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    pub async fn from_env() -> Result<Self, SqlError> {
        Self::connect(&fact_runtime::database_url(), SqlPolicy::from_env()).await
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

    /// Runs a checked query with `params` bound in order, returning at most `max_rows` rows.
    /// `cancel` stops a running statement early (the tool's own timeout).
    pub(crate) async fn fetch(
        &self,
        query: &CheckedQuery,
        params: &[Value],
        max_rows: usize,
        cancel: &CancellationToken,
    ) -> Result<Rows, SqlError> {
        // PostgreSQL sends every row of a result unless told otherwise, and each must be read
        // off the connection, so the cap is part of the statement there. SQLite stops when
        // asked.
        let limited;
        let sql = match self.dialect() {
            SqlDialect::Sqlite => query.sql(),
            SqlDialect::Postgres => {
                limited = format!(
                    "SELECT * FROM (\n{}\n) AS fact_query LIMIT {}",
                    query.body(),
                    max_rows.saturating_add(1)
                );
                &limited
            }
        };
        self.fetch_unchecked(sql, params, max_rows, cancel).await
    }

    /// Runs `sql` without layer one: only the connection's own read-only mode, the timeout and
    /// the row cap stand in its way. Used by `fetch` once a statement is checked, by the
    /// catalog queries (which are ours), and by tests of layers two and three on their own.
    pub(crate) async fn fetch_unchecked(
        &self,
        sql: &str,
        params: &[Value],
        max_rows: usize,
        cancel: &CancellationToken,
    ) -> Result<Rows, SqlError> {
        let timeout = self.inner.policy.timeout();
        let cap = Cap {
            rows: max_rows,
            bytes: self.inner.policy.result_bytes(),
        };
        let work = async {
            match &self.inner.pool {
                Pool::Sqlite(pool) => sqlite_fetch(pool, sql, params, cap, timeout, cancel).await,
                Pool::Postgres(pool) => postgres_fetch(pool, sql, params, cap).await,
            }
        };
        // The database enforces the timeout; this is the backstop should it not answer.
        match tokio::time::timeout(timeout + Duration::from_secs(1), work).await {
            Ok(result) => result.map_err(|error| classify(error, timeout)),
            Err(_elapsed) => Err(SqlError::Timeout(timeout)),
        }
    }
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
    pool: &SqlitePool,
    sql: &str,
    params: &[Value],
    cap: Cap,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<Rows, FetchError> {
    let mut connection = pool.acquire().await?;
    let deadline = Instant::now() + timeout;
    let cancel = cancel.clone();
    // Set afresh before every statement, so a handler left by an abandoned call never stops
    // the next one.
    connection
        .lock_handle()
        .await?
        .set_progress_handler(SQLITE_PROGRESS_STEPS, move || {
            Instant::now() < deadline && !cancel.is_cancelled()
        });
    // The connection was opened with query_only; it is asserted again before every
    // statement, so that no earlier statement can have left it off.
    sqlx::query("PRAGMA query_only = ON")
        .execute(&mut *connection)
        .await?;
    let statement = connection.prepare(sql).await?;
    let declared: Vec<String> = statement
        .columns()
        .iter()
        .map(|column| column.type_info().name().to_owned())
        .collect();
    let names = unique_names(statement.columns().iter().map(|column| column.name()));
    let mut kept = Collected::new(cap);
    {
        let mut stream = bind_json!(statement.query(), params).fetch(&mut *connection);
        while let Some(row) = stream.try_next().await? {
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

async fn postgres_fetch(
    pool: &PgPool,
    sql: &str,
    params: &[Value],
    cap: Cap,
) -> Result<Rows, FetchError> {
    let mut transaction = pool.begin_with("BEGIN READ ONLY").await?;
    let statement = transaction.prepare(sql).await?;
    let names = unique_names(statement.columns().iter().map(|column| column.name()));
    let mut decoders = Vec::with_capacity(names.len());
    let mut column_types = Vec::with_capacity(names.len());
    for (column, name) in statement.columns().iter().zip(&names) {
        let ty = column.type_info();
        let Some(decoder) = PgDecoder::for_type(ty) else {
            return Err(FetchError::Ours(SqlError::UnsupportedType {
                column: name.clone(),
                type_name: ty.name().to_owned(),
            }));
        };
        decoders.push(decoder);
        column_types.push(ty.name().to_owned());
    }
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
