//! Layers two and three on their own: statements that layer one would refuse are sent straight
//! to the read-only connection, which must refuse every write, stop at the timeout and cap
//! the rows. On a real SQLite file, and on PostgreSQL when `FACT_TEST_POSTGRES_URL` is set.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::Connection as _;
use tokio_util::sync::CancellationToken;

use super::database::{SqlDatabase, SqlError};
use super::policy::SqlPolicy;

/// A SQLite file holding `t(x)` with the values 1..=50, removed on drop.
struct SqliteFile(std::path::PathBuf);

impl SqliteFile {
    async fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "fact-sql-layers-{name}-{}-{:?}.db",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let mut writer = sqlx::SqliteConnection::connect(&url)
            .await
            .expect("created");
        sqlx::query("CREATE TABLE t (x INTEGER PRIMARY KEY, label TEXT)")
            .execute(&mut writer)
            .await
            .expect("table");
        sqlx::query(
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 50) \
             INSERT INTO t SELECT x, 'row ' || x FROM n",
        )
        .execute(&mut writer)
        .await
        .expect("rows");
        writer.close().await.expect("closed");
        Self(path)
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.0.display())
    }

    fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.0).expect("readable")
    }
}

impl Drop for SqliteFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn postgres_url(test: &str) -> Option<String> {
    if let Ok(url) = std::env::var("FACT_TEST_POSTGRES_URL") {
        return Some(url);
    }
    assert!(
        std::env::var("FACT_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "FACT_REQUIRE_SERVICES=1 but FACT_TEST_POSTGRES_URL is not set"
    );
    eprintln!("skipped {test}: set FACT_TEST_POSTGRES_URL to run it");
    None
}

/// A PostgreSQL table `name(x)` holding 1..=50 and a sequence, dropped on `cleanup`.
async fn postgres_table(url: &str, name: &str) -> sqlx::PgConnection {
    let mut writer = sqlx::PgConnection::connect(url)
        .await
        .expect("PostgreSQL reachable");
    for sql in [
        format!("DROP TABLE IF EXISTS {name}"),
        format!("DROP SEQUENCE IF EXISTS {name}_seq"),
        format!("CREATE TABLE {name} (x INT PRIMARY KEY, label TEXT)"),
        format!("INSERT INTO {name} SELECT x, 'row ' || x FROM generate_series(1, 50) AS x"),
        format!("CREATE SEQUENCE {name}_seq"),
    ] {
        sqlx::query(&sql)
            .execute(&mut writer)
            .await
            .expect("set-up");
    }
    writer
}

async fn postgres_contents(writer: &mut sqlx::PgConnection, name: &str) -> Vec<(i32, String)> {
    sqlx::query_as(&format!("SELECT x, label FROM {name} ORDER BY x"))
        .fetch_all(writer)
        .await
        .expect("readable")
}

async fn unchecked(db: &SqlDatabase, sql: &str) -> Result<super::database::Rows, SqlError> {
    db.fetch_unchecked(sql, &[], 1000, &CancellationToken::new())
        .await
}

fn table_name(prefix: &str) -> String {
    format!("{prefix}_{}", std::process::id())
}

#[tokio::test]
async fn a_sqlite_connection_refuses_every_write_even_unchecked() {
    let file = SqliteFile::new("writes").await;
    let before = file.bytes();
    let db = SqlDatabase::connect(&file.url(), SqlPolicy::default())
        .await
        .expect("opens read-only");
    for sql in [
        "INSERT INTO t VALUES (100, 'x')",
        "UPDATE t SET label = 'gone'",
        "DELETE FROM t",
        "DROP TABLE t",
        "CREATE TABLE u (y INT)",
        "PRAGMA query_only = OFF",
        "INSERT INTO t VALUES (101, 'after query_only was turned off')",
    ] {
        let outcome = unchecked(&db, sql).await;
        if sql.starts_with("PRAGMA") {
            // Turning query_only off is allowed by SQLite; the read-only open still refuses.
            continue;
        }
        assert!(
            matches!(outcome, Err(SqlError::ReadOnly(_))),
            "{sql}: {outcome:?}"
        );
    }
    db.close().await;
    assert!(file.bytes() == before, "the file changed");
}

#[tokio::test]
async fn a_missing_sqlite_file_is_not_created() {
    let path = std::env::temp_dir().join(format!("fact-sql-missing-{}.db", std::process::id()));
    let error = SqlDatabase::connect(
        &format!("sqlite://{}", path.display()),
        SqlPolicy::default(),
    )
    .await
    .expect_err("no such file");
    assert!(matches!(error, SqlError::Connect { .. }), "{error:?}");
    assert!(!path.exists(), "the tools created {}", path.display());
}

#[tokio::test]
async fn an_unknown_url_scheme_is_a_clear_error() {
    let error = SqlDatabase::connect("mysql://localhost/db", SqlPolicy::default())
        .await
        .expect_err("not supported");
    assert_eq!(
        error.to_string(),
        "cannot open the database mysql://localhost/db: expected a sqlite:// or postgres:// URL"
    );
}

#[tokio::test]
async fn a_sqlite_statement_stops_at_the_timeout() {
    let file = SqliteFile::new("timeout").await;
    let policy = SqlPolicy::default().statement_timeout(Duration::from_millis(200));
    let db = SqlDatabase::connect(&file.url(), policy)
        .await
        .expect("opens");
    // Never ends on its own.
    let endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) \
                   SELECT COUNT(*) FROM n";
    let outcome = unchecked(&db, endless).await;
    assert!(
        matches!(outcome, Err(SqlError::Timeout(t)) if t == Duration::from_millis(200)),
        "{outcome:?}"
    );
    // The handler left on the connection does not stop the statements that follow.
    for _ in 0..8 {
        let rows = unchecked(&db, "SELECT COUNT(*) AS n FROM t")
            .await
            .expect("runs");
        assert_eq!(rows.rows[0]["n"], json!(50));
    }
}

#[tokio::test]
async fn a_cancelled_sqlite_statement_stops() {
    let file = SqliteFile::new("cancel").await;
    let db = SqlDatabase::connect(&file.url(), SqlPolicy::default())
        .await
        .expect("opens");
    let cancel = CancellationToken::new();
    cancel.cancel();
    let endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) \
                   SELECT COUNT(*) FROM n";
    let outcome = db.fetch_unchecked(endless, &[], 10, &cancel).await;
    assert!(matches!(outcome, Err(SqlError::Timeout(_))), "{outcome:?}");
}

#[tokio::test]
async fn rows_past_the_cap_are_not_returned_and_say_so() {
    let file = SqliteFile::new("cap").await;
    let db = SqlDatabase::connect(&file.url(), SqlPolicy::default())
        .await
        .expect("opens");
    let cancel = CancellationToken::new();
    let capped = db
        .fetch_unchecked("SELECT x FROM t ORDER BY x", &[], 10, &cancel)
        .await
        .expect("runs");
    assert_eq!(capped.rows.len(), 10);
    assert!(capped.truncated);
    assert_eq!(capped.rows[9]["x"], json!(10));
    let exact = db
        .fetch_unchecked("SELECT x FROM t WHERE x <= 10", &[], 10, &cancel)
        .await
        .expect("runs");
    assert_eq!(exact.rows.len(), 10);
    assert!(!exact.truncated, "exactly max_rows rows is not truncated");
}

#[tokio::test]
async fn sqlite_values_become_json_by_storage_class() {
    let file = SqliteFile::new("values").await;
    let db = SqlDatabase::connect(&file.url(), SqlPolicy::default())
        .await
        .expect("opens");
    let rows = db
        .fetch_unchecked(
            "SELECT 1 AS i, 2.5 AS f, 'text' AS s, NULL AS n, x'CAFE' AS b, ? AS p, ? AS q, ? AS a",
            &[json!("bound"), json!(7), json!([1, 2])],
            10,
            &CancellationToken::new(),
        )
        .await
        .expect("runs");
    assert_eq!(
        Value::Object(rows.rows[0].clone()),
        json!({"i": 1, "f": 2.5, "s": "text", "n": null, "b": "yv4=", "p": "bound", "q": 7, "a": "[1,2]"})
    );
}

#[tokio::test]
async fn a_postgres_connection_refuses_every_write_even_unchecked() {
    let Some(url) = postgres_url("a_postgres_connection_refuses_every_write_even_unchecked") else {
        return;
    };
    let name = table_name("fact_layers_writes");
    let mut writer = postgres_table(&url, &name).await;
    let before = postgres_contents(&mut writer, &name).await;
    let db = SqlDatabase::connect(&url, SqlPolicy::default())
        .await
        .expect("connects");
    for sql in [
        format!("INSERT INTO public.{name} VALUES (100, 'x')"),
        format!("UPDATE public.{name} SET label = 'gone'"),
        format!("DELETE FROM public.{name}"),
        format!("DROP TABLE public.{name}"),
        format!("TRUNCATE public.{name}"),
        format!("CREATE TABLE public.{name}_new (y INT)"),
        format!("SELECT nextval('public.{name}_seq')"),
        format!("WITH gone AS (DELETE FROM public.{name} RETURNING *) SELECT COUNT(*) FROM gone"),
        format!("SELECT * INTO public.{name}_copy FROM public.{name}"),
        format!("SELECT * FROM public.{name} FOR UPDATE"),
    ] {
        let outcome = unchecked(&db, &sql).await;
        assert!(
            matches!(outcome, Err(SqlError::ReadOnly(_))),
            "{sql}: {outcome:?}"
        );
    }
    // Turning the session's default off does not help: each statement runs in its own
    // READ ONLY transaction.
    let _ = unchecked(&db, "SET default_transaction_read_only = off").await;
    let _ = unchecked(
        &db,
        "SELECT set_config('default_transaction_read_only', 'off', false)",
    )
    .await;
    let outcome = unchecked(&db, &format!("INSERT INTO public.{name} VALUES (101, 'x')")).await;
    assert!(matches!(outcome, Err(SqlError::ReadOnly(_))), "{outcome:?}");
    db.close().await;
    assert_eq!(postgres_contents(&mut writer, &name).await, before);
    sqlx::raw_sql(&format!("DROP TABLE {name}; DROP SEQUENCE {name}_seq"))
        .execute(&mut writer)
        .await
        .expect("clean-up");
}

#[tokio::test]
async fn a_postgres_statement_stops_at_the_timeout() {
    let Some(url) = postgres_url("a_postgres_statement_stops_at_the_timeout") else {
        return;
    };
    let policy = SqlPolicy::default().statement_timeout(Duration::from_millis(200));
    let db = SqlDatabase::connect(&url, policy).await.expect("connects");
    let outcome = unchecked(&db, "SELECT 1 AS one FROM pg_sleep(30)").await;
    assert!(
        matches!(outcome, Err(SqlError::Timeout(t)) if t == Duration::from_millis(200)),
        "{outcome:?}"
    );
    let rows = unchecked(&db, "SELECT 1 AS one")
        .await
        .expect("the pool recovers");
    assert_eq!(rows.rows[0]["one"], json!(1));
    // The database is shown by kind and policy: its URL, password included, never.
    let shown = format!("{db:?}");
    assert!(
        !shown.contains(&url) && !shown.contains("postgres:postgres"),
        "{shown}"
    );
    assert!(
        shown.starts_with("SqlDatabase { dialect: Postgres"),
        "{shown}"
    );
}

#[tokio::test]
async fn postgres_values_become_json_by_type() {
    let Some(url) = postgres_url("postgres_values_become_json_by_type") else {
        return;
    };
    let db = SqlDatabase::connect(&url, SqlPolicy::default())
        .await
        .expect("connects");
    let rows = unchecked(
        &db,
        "SELECT 1::int2 AS a, 2::int4 AS b, 3::int8 AS c, 1.5::float4 AS d, 2.25::float8 AS e, \
         12.50::numeric AS f, 123456789012345678901234.5::numeric AS g, 'x'::text AS h, \
         'y'::varchar AS i, true AS j, '{\"k\": [1]}'::jsonb AS k, DATE '2024-02-29' AS l, \
         TIMESTAMP '2024-02-29 12:30:00' AS m, TIMESTAMPTZ '2024-02-29 12:30:00+00' AS n, \
         '\\xcafe'::bytea AS o, INTERVAL '1 day 2 hours' AS p, ARRAY['a', NULL] AS q, \
         ARRAY[1, 2] AS r, NULL::text AS s, \
         'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS t, SUM(x) AS u \
         FROM (VALUES (1), (2)) AS v(x)",
    )
    .await
    .expect("runs");
    assert_eq!(
        Value::Object(rows.rows[0].clone()),
        json!({
            "a": 1, "b": 2, "c": 3, "d": 1.5, "e": 2.25, "f": 12.5,
            "g": "123456789012345678901234.5", "h": "x", "i": "y", "j": true, "k": {"k": [1]},
            "l": "2024-02-29", "m": "2024-02-29T12:30:00", "n": "2024-02-29T12:30:00Z",
            "o": "yv4=", "p": "P1DT2H", "q": ["a", null], "r": [1, 2], "s": null,
            "t": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "u": 3
        })
    );
    // Values at the edges of PostgreSQL's ranges, which chrono and rust_decimal cannot hold.
    let edges = unchecked(
        &db,
        "SELECT 'infinity'::timestamp AS a, '-infinity'::timestamptz AS b, \
         '-infinity'::date AS c, '5874897-12-31'::date AS d, '294276-12-31 23:59:59'::timestamp AS e, \
         12345678901234567890123456789012::numeric AS f, 1e100::numeric AS g, \
         'NaN'::numeric AS h, '24:00:00'::time AS i, 1e-10::numeric AS j, \
         '0044-03-15 BC'::date AS k",
    )
    .await
    .expect("runs");
    assert_eq!(
        Value::Object(edges.rows[0].clone()),
        json!({
            "a": "infinity", "b": "-infinity", "c": "-infinity", "d": "5874897-12-31",
            "e": "294276-12-31T23:59:59", "f": "12345678901234567890123456789012",
            "g": 1e100,
            "h": "NaN", "i": "24:00:00", "j": 1e-10, "k": "-0043-03-15"
        })
    );
    // Statements of ours run as they are: a type without a JSON form is an error there
    // (checked queries send it as text, see std_sql's tests).
    let unsupported = unchecked(&db, "SELECT '10.0.0.1'::inet AS address").await;
    assert_eq!(
        unsupported.map(|_| ()).map_err(|e| e.to_string()),
        Err("database error: column 'address' has type INET, which has no JSON form".to_owned())
    );
}

#[tokio::test]
async fn a_url_that_does_not_parse_is_never_echoed() {
    let error = SqlDatabase::connect(
        "postgres://postgres:Sup3rSecret@127.0.0.1:99999/fact_test",
        SqlPolicy::default(),
    )
    .await
    .expect_err("no such port");
    let message = error.to_string();
    assert!(!message.contains("Sup3rSecret"), "{message}");
    assert!(message.contains("not shown"), "{message}");
}
