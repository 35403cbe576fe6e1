//! [`SqlAuditSink`]: the audit log in a SQL table, `fact_audit_log`, in the embedded SQLite
//! file or in PostgreSQL, through one code path (sqlx's `Any` driver).
//!
//! Time is stored as `timestamp_us`, a BIGINT of microseconds since the Unix epoch: exact,
//! ordered and indexable the same way in both databases.

use std::path::Path;
use std::sync::OnceLock;

use futures::future::BoxFuture;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Row};

use super::{AuditError, AuditQuery, AuditRecord, AuditSink, schema};
use crate::db;

/// Connections the sink keeps for queries. Writes have a connection of their own, so that a
/// long query never holds up the writer and the writer's SQLite page cache stays warm (a
/// SQLite connection drops its cache when another connection has written).
const QUERY_CONNECTIONS: u32 = 4;

/// How long one write attempt waits for its connection. While the database is down, sqlx
/// keeps reconnecting within this wait, pausing up to a fifth of it in between: so a database
/// that returns is written to again within about a second, and an attempt against one that
/// does not fails (and is retried by the writer) within this bound.
const WRITER_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The largest row count of one INSERT statement. Batches are split into statements of
/// power-of-two sizes up to this one, so at most `log2(MAX_ROWS) + 1` statement texts exist,
/// each built once and kept prepared by every connection. 256 rows bind 3,072 parameters,
/// far below SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_ROWS: usize = 256;
const STATEMENT_SIZES: usize = MAX_ROWS.trailing_zeros() as usize + 1;

/// Listed in [`crate::FACT_TABLES`] too.
pub(crate) const TABLE: &str = "fact_audit_log";
const COLUMNS: &str = "call_id, timestamp_us, tool_name, user_id, session_id, status_code, \
                       error_type, duration_ms, execution_method, arguments_sha256, \
                       arguments_size, arguments";
const COLUMN_COUNT: usize = 12;

/// Audit records in the table `fact_audit_log` of a SQLite file or a PostgreSQL database.
///
/// The table and its indexes (by time; unique by call id) are created when missing (see
/// docs/ARCHITECTURE.md, "Audit log", for a table of an earlier version that holds duplicate
/// call ids). Each [`write_batch`](AuditSink::write_batch) is one transaction of multi-row
/// `INSERT ... ON CONFLICT (call_id) DO NOTHING`: records are keyed by call id and stored
/// exactly once. Should a commit succeed but its acknowledgement be lost (a dropped
/// PostgreSQL connection), the retried batch stores nothing new; a second record with a call
/// id already stored is not stored (the first stays).
///
/// ```no_run
/// use std::sync::Arc;
///
/// use fact_runtime::audit::{AuditConfig, AuditLog, AuditQuery, SqlAuditSink};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), fact_runtime::audit::AuditError> {
/// // DATABASE_URL, or the SQLite file `fact.db` when it is not set.
/// let sink = Arc::new(SqlAuditSink::from_env().await?);
/// let log = AuditLog::start(sink.clone(), AuditConfig::default())?;
/// // ... the executor records each call ...
/// log.shutdown().await?;
/// let alices = sink.query(&AuditQuery::new().user("alice").limit(50)).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SqlAuditSink {
    /// At most one connection, used by `write_batch` only.
    writer: AnyPool,
    /// Connections for `query` and `count`.
    pool: AnyPool,
    placeholders: Placeholders,
}

/// How the INSERTs name their parameters.
///
/// SQLite looks a numbered parameter's name up by a linear scan, and sqlx asks for every
/// parameter's name when binding, so `$N` costs O(n²) in a statement of n parameters: with
/// 3,072 parameters per statement, `sqlite3_bind_parameter_name` took half of the writer's
/// time. Anonymous `?` skips the scan. PostgreSQL knows only `$N`. Queries keep `$N` for both:
/// they bind a handful of parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholders {
    /// `$1, $2, ...` (PostgreSQL).
    Numbered,
    /// `?, ?, ...` (SQLite).
    Anonymous,
}

impl SqlAuditSink {
    /// Connects to `url` (`sqlite://path` or `postgres://...`) and creates the table when
    /// missing. A SQLite file is created when missing.
    pub async fn connect(url: &str) -> Result<Self, AuditError> {
        let writer = db::connect_with(url, 1, WRITER_ACQUIRE_TIMEOUT).await?;
        let sqlite = db::is_sqlite(url);
        schema::create(&writer, sqlite).await?;
        let pool = db::connect(url, QUERY_CONNECTIONS).await?;
        let placeholders = if sqlite {
            Placeholders::Anonymous
        } else {
            Placeholders::Numbered
        };
        Ok(Self {
            writer,
            pool,
            placeholders,
        })
    }

    /// Opens (or creates) the SQLite file at `path`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), fact_runtime::audit::AuditError> {
    /// use fact_runtime::audit::{AuditQuery, SqlAuditSink};
    ///
    /// let path = std::env::temp_dir().join(format!("fact-audit-doc-{}.db", std::process::id()));
    /// let sink = SqlAuditSink::sqlite(&path).await?;
    /// assert_eq!(sink.count(&AuditQuery::new().user("nobody")).await?, 0);
    /// # drop(sink);
    /// # for suffix in ["", "-wal", "-shm"] {
    /// #     let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    /// # }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn sqlite(path: impl AsRef<Path>) -> Result<Self, AuditError> {
        Self::connect(&sqlite_url(path.as_ref())).await
    }

    /// Connects to `DATABASE_URL`, or to [`DEFAULT_DATABASE_URL`](crate::DEFAULT_DATABASE_URL)
    /// (the SQLite file `fact.db` in the working directory) when it is not set.
    pub async fn from_env() -> Result<Self, AuditError> {
        Self::connect(&db::database_url()).await
    }

    /// The records that match `query`, ordered by time, then call id.
    pub async fn query(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, AuditError> {
        let filter = Filter::of(query);
        let mut sql = format!(
            "SELECT {COLUMNS} FROM {TABLE}{} ORDER BY timestamp_us, call_id",
            filter.sql
        );
        let limit = query
            .limit
            .map(|limit| i64::try_from(limit).unwrap_or(i64::MAX));
        if limit.is_some() {
            sql.push_str(&format!(" LIMIT ${}", filter.params.len() + 1));
        }
        let mut statement = filter.bind(sqlx::query(&sql));
        if let Some(limit) = limit {
            statement = statement.bind(limit);
        }
        let rows = statement.fetch_all(&self.pool).await?;
        rows.iter().map(record_from_row).collect()
    }

    /// How many records match `query` (its `limit` ignored).
    pub async fn count(&self, query: &AuditQuery) -> Result<u64, AuditError> {
        let filter = Filter::of(query);
        let sql = format!("SELECT COUNT(*) FROM {TABLE}{}", filter.sql);
        let row = filter.bind(sqlx::query(&sql)).fetch_one(&self.pool).await?;
        let count: i64 = row.try_get(0)?;
        u64::try_from(count).map_err(|_| AuditError::InvalidRow {
            column: "COUNT(*)",
            reason: format!("negative count {count}"),
        })
    }

    /// Closes the connections, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }
}

impl AuditSink for SqlAuditSink {
    fn write_batch<'a>(
        &'a self,
        records: &'a [AuditRecord],
    ) -> BoxFuture<'a, Result<(), AuditError>> {
        Box::pin(async move {
            if records.is_empty() {
                return Ok(());
            }
            let mut transaction = self.writer.begin().await?;
            let mut rest = records;
            while !rest.is_empty() {
                let (chunk, tail) = rest.split_at(statement_rows(rest.len()));
                let mut statement = sqlx::query(insert_sql(self.placeholders, chunk.len()));
                for record in chunk {
                    statement = bind_record(statement, record);
                }
                statement.execute(&mut *transaction).await?;
                rest = tail;
            }
            transaction.commit().await?;
            Ok(())
        })
    }
}

/// A file path as a SQLite URL: `%`, `?` and `#` escaped so that sqlx reads them as part of
/// the name.
fn sqlite_url(path: &Path) -> String {
    let mut url = String::from("sqlite://");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => url.push_str("%25"),
            '?' => url.push_str("%3F"),
            '#' => url.push_str("%23"),
            c => url.push(c),
        }
    }
    url
}

/// Rows in the next INSERT of a batch with `remaining` rows left: the largest power of two
/// that fits, at most [`MAX_ROWS`].
fn statement_rows(remaining: usize) -> usize {
    let fits = remaining.min(MAX_ROWS);
    1 << fits.ilog2()
}

/// The INSERT of `rows` rows (a power of two up to [`MAX_ROWS`]), built on first use.
fn insert_sql(placeholders: Placeholders, rows: usize) -> &'static str {
    type Statements = [OnceLock<String>; STATEMENT_SIZES];
    static NUMBERED: Statements = [const { OnceLock::new() }; STATEMENT_SIZES];
    static ANONYMOUS: Statements = [const { OnceLock::new() }; STATEMENT_SIZES];
    debug_assert!(rows.is_power_of_two() && rows <= MAX_ROWS);
    let statements = match placeholders {
        Placeholders::Numbered => &NUMBERED,
        Placeholders::Anonymous => &ANONYMOUS,
    };
    statements[rows.trailing_zeros() as usize].get_or_init(|| {
        let mut sql = format!("INSERT INTO {TABLE} ({COLUMNS}) VALUES ");
        let mut parameter = 0;
        for row in 0..rows {
            sql.push_str(if row == 0 { "(" } else { ", (" });
            for column in 0..COLUMN_COUNT {
                parameter += 1;
                if column > 0 {
                    sql.push_str(", ");
                }
                match placeholders {
                    Placeholders::Numbered => {
                        sql.push('$');
                        sql.push_str(&parameter.to_string());
                    }
                    Placeholders::Anonymous => sql.push('?'),
                }
            }
            sql.push(')');
        }
        sql.push_str(" ON CONFLICT (call_id) DO NOTHING");
        sql
    })
}

fn bind_record<'q>(
    statement: Query<'q, Any, AnyArguments<'q>>,
    record: &'q AuditRecord,
) -> Query<'q, Any, AnyArguments<'q>> {
    let statement = bind_text(statement, Some(&record.call_id)).bind(micros(record.timestamp));
    let statement = bind_text(statement, Some(&record.tool_name));
    let statement = bind_text(statement, record.user_id.as_deref());
    let statement =
        bind_text(statement, record.session_id.as_deref()).bind(i32::from(record.status_code));
    let statement = bind_text(statement, record.error_type.as_deref()).bind(record.duration_ms);
    let statement = bind_text(statement, Some(&record.execution_method));
    let statement = bind_text(statement, Some(&record.arguments_sha256))
        .bind(i64::try_from(record.arguments_size).unwrap_or(i64::MAX));
    bind_text(statement, record.arguments.as_deref())
}

/// Binds a text column. PostgreSQL refuses NUL in text, and a record is never to be refused
/// for what a caller put in a name (a refused batch would be retried forever, holding up every
/// record behind it), so NUL is stored as U+FFFD, in both databases so that they agree.
/// Queries map their text the same way, so a record is found by the name it was recorded with.
fn bind_text<'q>(
    statement: Query<'q, Any, AnyArguments<'q>>,
    text: Option<&'q str>,
) -> Query<'q, Any, AnyArguments<'q>> {
    match text {
        Some(text) if text.contains('\0') => statement.bind(text.replace('\0', "\u{FFFD}")),
        text => statement.bind(text),
    }
}

fn record_from_row(row: &AnyRow) -> Result<AuditRecord, AuditError> {
    let status_code: i32 = row.try_get("status_code")?;
    let arguments_size: i64 = row.try_get("arguments_size")?;
    Ok(AuditRecord {
        call_id: row.try_get("call_id")?,
        timestamp: seconds(row.try_get("timestamp_us")?),
        tool_name: row.try_get("tool_name")?,
        user_id: row.try_get("user_id")?,
        session_id: row.try_get("session_id")?,
        status_code: u16::try_from(status_code).map_err(|_| AuditError::InvalidRow {
            column: "status_code",
            reason: format!("{status_code} is not a status code"),
        })?,
        error_type: row.try_get("error_type")?,
        duration_ms: row.try_get("duration_ms")?,
        execution_method: row.try_get("execution_method")?,
        arguments_sha256: row.try_get("arguments_sha256")?,
        arguments_size: u64::try_from(arguments_size).map_err(|_| AuditError::InvalidRow {
            column: "arguments_size",
            reason: format!("negative size {arguments_size}"),
        })?,
        arguments: row.try_get("arguments")?,
    })
}

/// Unix seconds to the stored microseconds (rounded; saturating far outside any real date).
fn micros(seconds: f64) -> i64 {
    (seconds * 1e6).round() as i64
}

/// Stored microseconds to Unix seconds.
fn seconds(micros: i64) -> f64 {
    micros as f64 / 1e6
}

/// The WHERE clause of an [`AuditQuery`] with its parameters, numbered from `$1`.
#[derive(Debug, PartialEq)]
struct Filter<'q> {
    sql: String,
    params: Vec<Param<'q>>,
}

#[derive(Debug, PartialEq)]
enum Param<'q> {
    Text(&'q str),
    Micros(i64),
}

impl<'q> Filter<'q> {
    fn of(query: &'q AuditQuery) -> Self {
        let conditions = [
            ("user_id = ", query.user_id.as_deref().map(Param::Text)),
            ("tool_name = ", query.tool_name.as_deref().map(Param::Text)),
            (
                "timestamp_us >= ",
                query.since.map(|t| Param::Micros(micros(t))),
            ),
            (
                "timestamp_us < ",
                query.until.map(|t| Param::Micros(micros(t))),
            ),
        ];
        let mut filter = Filter {
            sql: String::new(),
            params: Vec::new(),
        };
        for (condition, param) in conditions {
            let Some(param) = param else { continue };
            filter.sql.push_str(if filter.params.is_empty() {
                " WHERE "
            } else {
                " AND "
            });
            filter.params.push(param);
            filter.sql.push_str(condition);
            filter.sql.push_str(&format!("${}", filter.params.len()));
        }
        filter
    }

    fn bind(
        self,
        mut statement: Query<'q, Any, AnyArguments<'q>>,
    ) -> Query<'q, Any, AnyArguments<'q>> {
        for param in self.params {
            statement = match param {
                Param::Text(text) => bind_text(statement, Some(text)),
                Param::Micros(micros) => statement.bind(micros),
            };
        }
        statement
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_query_has_no_where_clause() {
        let query = AuditQuery::new().limit(5);
        assert_eq!(
            Filter::of(&query),
            Filter {
                sql: String::new(),
                params: vec![]
            }
        );
    }

    #[test]
    fn every_condition_is_a_numbered_parameter_never_spliced() {
        let query = AuditQuery::new()
            .user("alice'; DROP TABLE fact_audit_log; --")
            .tool("MyApp.Calculator")
            .since(10.5)
            .until(20.0);
        let filter = Filter::of(&query);
        assert_eq!(
            filter.sql,
            " WHERE user_id = $1 AND tool_name = $2 AND timestamp_us >= $3 AND timestamp_us < $4"
        );
        assert_eq!(
            filter.params,
            vec![
                Param::Text("alice'; DROP TABLE fact_audit_log; --"),
                Param::Text("MyApp.Calculator"),
                Param::Micros(10_500_000),
                Param::Micros(20_000_000),
            ]
        );
    }

    #[test]
    fn parameters_are_numbered_by_the_conditions_present() {
        let query = AuditQuery::new().tool("T.t").until(1.0);
        let filter = Filter::of(&query);
        assert_eq!(filter.sql, " WHERE tool_name = $1 AND timestamp_us < $2");
        assert_eq!(
            filter.params,
            vec![Param::Text("T.t"), Param::Micros(1_000_000)]
        );
    }

    #[test]
    fn batches_split_into_power_of_two_statements() {
        let mut remaining = 700;
        let mut sizes = Vec::new();
        while remaining > 0 {
            let rows = statement_rows(remaining);
            sizes.push(rows);
            remaining -= rows;
        }
        assert_eq!(sizes, vec![256, 256, 128, 32, 16, 8, 4]);
    }

    #[test]
    fn insert_statements_number_every_parameter_once() {
        let sql = insert_sql(Placeholders::Numbered, 2);
        assert!(sql.starts_with("INSERT INTO fact_audit_log (call_id, "));
        assert!(sql.ends_with(
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12), \
             ($13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24) \
             ON CONFLICT (call_id) DO NOTHING"
        ));
        let largest = insert_sql(Placeholders::Numbered, MAX_ROWS);
        assert!(largest.ends_with(&format!(
            "${}) ON CONFLICT (call_id) DO NOTHING",
            MAX_ROWS * COLUMN_COUNT
        )));
    }

    #[test]
    fn sqlite_inserts_use_anonymous_parameters() {
        let sql = insert_sql(Placeholders::Anonymous, 2);
        assert!(sql.ends_with(
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (call_id) DO NOTHING"
        ));
        let largest = insert_sql(Placeholders::Anonymous, MAX_ROWS);
        assert_eq!(largest.matches('?').count(), MAX_ROWS * COLUMN_COUNT);
    }

    #[test]
    fn microseconds_round_trip() {
        assert_eq!(micros(1_700_000_000.25), 1_700_000_000_250_000);
        assert_eq!(seconds(1_700_000_000_250_000), 1_700_000_000.25);
        assert_eq!(
            micros(seconds(1_700_000_000_123_457)),
            1_700_000_000_123_457
        );
    }

    #[test]
    fn special_path_characters_are_escaped_in_sqlite_urls() {
        assert_eq!(
            sqlite_url(Path::new("/tmp/a?b#c%d.db")),
            "sqlite:///tmp/a%3Fb%23c%25d.db"
        );
        assert_eq!(sqlite_url(Path::new("audit.db")), "sqlite://audit.db");
    }
}
