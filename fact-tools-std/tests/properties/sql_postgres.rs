//! The SQL properties on PostgreSQL (`FACT_TEST_POSTGRES_URL`, see `.ci/services.sh`), each
//! on a fresh schema of its own: what the guard accepts changes nothing even in a writable
//! transaction, and nothing sent through `SQL.Query` changes the schema or reads a table off
//! the allow-list. Without the variable they are skipped (a failure under
//! `FACT_REQUIRE_SERVICES=1`).

use fact_runtime::{ToolCall, ToolExecutor};
use fact_tests::property;
use fact_tests::scratch::unique;
use fact_tests::services::postgres_url;
use fact_tools_std::sql::{SqlDatabase, SqlDialect, SqlPolicy, check};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::json;
use sqlx::{Connection as _, PgConnection};

use super::sql_grammar::{Sql, hostile};

/// Values that live only in tables the allow-list leaves out.
const HIDDEN: [&str; 2] = ["hunter2-secret-token", "audit-record-secret"];

const SET_UP: &[&str] = &[
    "CREATE TABLE {s}.revenue (id INTEGER PRIMARY KEY, region TEXT NOT NULL, amount REAL, \
     note TEXT DEFAULT 'none')",
    "CREATE INDEX revenue_region ON {s}.revenue(region)",
    "CREATE TABLE {s}.customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, region TEXT)",
    "CREATE TABLE {s}.secrets (token TEXT)",
    "CREATE TABLE {s}.fact_audit_log (call_id TEXT, detail TEXT)",
    "CREATE SEQUENCE {s}.ids",
    "CREATE VIEW {s}.north AS SELECT * FROM {s}.revenue WHERE region = 'north'",
    "INSERT INTO {s}.revenue VALUES (1, 'north', 100.5, 'Q1 & Q2'), (2, 'south', 250, \
     'update pending'), (3, 'north', 75.25, NULL), (4, 'east', 300, 'drop-in client')",
    "INSERT INTO {s}.customers VALUES (1, 'O''Brien', 'north'), (2, 'Zoë', 'south')",
    "INSERT INTO {s}.secrets VALUES ('hunter2-secret-token')",
    "INSERT INTO {s}.fact_audit_log VALUES ('c1', 'audit-record-secret')",
];

/// A schema of its own on the test database, dropped when this is dropped.
struct Schema {
    url: String,
    name: String,
    runtime: tokio::runtime::Runtime,
}

impl Schema {
    fn new(test: &str) -> Option<Self> {
        let url = postgres_url(test)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let name = unique("prop_sql").replace('-', "_");
        let schema = Self { url, name, runtime };
        schema.runtime.block_on(async {
            let mut writer = schema.connect().await;
            sqlx::raw_sql(&format!("CREATE SCHEMA {}", schema.name))
                .execute(&mut writer)
                .await
                .expect("creates the schema");
            for statement in SET_UP {
                sqlx::raw_sql(&statement.replace("{s}", &schema.name))
                    .execute(&mut writer)
                    .await
                    .expect("set-up");
            }
        });
        Some(schema)
    }

    async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url)
            .await
            .expect("PostgreSQL reachable")
    }

    /// Everything the schema holds: its relations and their kinds, every row of every table
    /// and view, and where each sequence stands.
    async fn snapshot(&self, connection: &mut PgConnection) -> Result<String, sqlx::Error> {
        let relations: Vec<(String, String)> = sqlx::query_as(
            "SELECT c.relname::text, c.relkind::text FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 ORDER BY 1",
        )
        .bind(&self.name)
        .fetch_all(&mut *connection)
        .await?;
        let mut dump = format!("{relations:?}\n");
        for (relation, kind) in &relations {
            let query = match kind.as_str() {
                "r" | "v" => format!(
                    "SELECT t::text FROM {}.\"{relation}\" AS t ORDER BY 1",
                    self.name
                ),
                "S" => format!(
                    "SELECT (last_value, is_called)::text FROM {}.\"{relation}\"",
                    self.name
                ),
                _ => continue,
            };
            let rows: Vec<(String,)> = sqlx::query_as(&query).fetch_all(&mut *connection).await?;
            dump.push_str(&format!("{relation}: {rows:?}\n"));
        }
        Ok(dump)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        self.runtime.block_on(async {
            if let Ok(mut writer) = PgConnection::connect(&self.url).await {
                let _ = sqlx::raw_sql(&format!("DROP SCHEMA {} CASCADE", self.name))
                    .execute(&mut writer)
                    .await;
            }
        });
    }
}

/// PostgreSQL's own ways to write, lock, reach the server's files or leave the read-only
/// transaction, and reads of the tables off the allow-list; `{s}` is the schema.
fn postgres_hostile(schema: &str) -> Sql {
    const STATEMENTS: &[&str] = &[
        "WITH gone AS (DELETE FROM revenue RETURNING *) SELECT * FROM gone",
        "WITH moved AS (UPDATE revenue SET amount = 0 RETURNING id) SELECT count(*) FROM moved",
        "SELECT nextval('{s}.ids')",
        "SELECT setval('{s}.ids', 42)",
        "SELECT set_config('default_transaction_read_only', 'off', false)",
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT lo_import('/etc/passwd')",
        "SELECT query_to_xml('DELETE FROM {s}.revenue', true, true, '')",
        "SELECT pg_advisory_lock(1)",
        "SELECT txid_current()",
        "SELECT * FROM revenue FOR UPDATE",
        "SELECT * INTO {s}.stolen FROM revenue",
        "CREATE TABLE {s}.copy AS SELECT * FROM revenue",
        "COPY {s}.revenue TO STDOUT",
        "DO $$ BEGIN DELETE FROM {s}.revenue; END $$",
        "CALL {s}.nothing()",
        "EXPLAIN ANALYZE DELETE FROM revenue",
        "SET default_transaction_read_only = off",
        "TABLE {s}.secrets",
        "SELECT 1 OPERATOR({s}.+) 1",
        "SELECT NULL::{s}.secrets",
        "SELECT '{s}.secrets'::regclass",
        "SELECT token FROM secrets",
        "SELECT * FROM \"secrets\"",
        "SELECT * FROM {s}.secrets",
        "SELECT * FROM \"{s}\".\"fact_audit_log\"",
        "SELECT (SELECT token FROM {s}.secrets) AS x",
        "WITH revenue AS (SELECT token AS region FROM secrets) SELECT region FROM revenue",
        "SELECT id, region FROM revenue UNION SELECT 1, detail FROM fact_audit_log",
        "SELECT * FROM revenue AS r, LATERAL (SELECT token FROM secrets) AS s",
        "SELECT * FROM ROWS FROM (json_array_elements_text((SELECT json_agg(token) FROM secrets)))",
        "SELECT row_to_json(s) FROM secrets AS s",
        "SELECT * FROM revenue; DELETE FROM revenue",
        "SELECT * FROM revenue",
        "SELECT region, count(*) AS n FROM {s}.revenue GROUP BY region ORDER BY 1",
        "SELECT r.id, c.name FROM revenue AS r JOIN customers AS c ON c.region = r.region",
        "BEGIN; DELETE FROM revenue; COMMIT",
    ];
    let schema = schema.to_owned();
    select(STATEMENTS)
        .prop_map(move |statement| statement.replace("{s}", &schema))
        .boxed()
}

#[test]
fn a_statement_the_guard_accepts_changes_nothing_on_postgres_even_in_a_writable_transaction() {
    let Some(schema) = Schema::new("postgres guard property") else {
        return;
    };
    let policy = SqlPolicy::default().default_schema(&schema.name);
    let writer = std::cell::RefCell::new(schema.runtime.block_on(schema.connect()));
    let statements = prop_oneof![2 => hostile("/tmp"), 1 => postgres_hostile(&schema.name)];
    property::check(
        "the guard alone, PostgreSQL",
        256,
        statements,
        |statement| {
            let Ok(checked) = check(&statement, SqlDialect::Postgres, &policy) else {
                return Ok(());
            };
            let mut writer = writer.borrow_mut();
            let connection: &mut PgConnection = &mut writer;
            let changed = schema.runtime.block_on(async {
            let begin = format!(
                "BEGIN; SET LOCAL search_path = {}, pg_catalog; SET LOCAL statement_timeout = 2000",
                schema.name
            );
            sqlx::raw_sql(&begin).execute(&mut *connection).await.ok()?;
            let before = schema.snapshot(&mut *connection).await.ok()?;
            // Errors (an unknown column, say) abort the transaction: nothing to compare.
            let ran = sqlx::raw_sql(checked.sql()).execute(&mut *connection).await;
            let after = match ran {
                Ok(_) => schema.snapshot(&mut *connection).await.ok(),
                Err(_) => None,
            };
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *connection).await;
            after.map(|after| after != before)
        });
            prop_assert!(
                changed != Some(true),
                "accepted {:?} and the schema changed",
                statement
            );
            Ok(())
        },
    );
}

#[test]
fn no_statement_through_the_tool_changes_a_postgres_schema_or_reads_a_hidden_table() {
    let Some(schema) = Schema::new("postgres tool property") else {
        return;
    };
    let policy = SqlPolicy::default()
        .default_schema(&schema.name)
        .allow_tables(["revenue", "customers"])
        .statement_timeout(std::time::Duration::from_secs(2));
    let database = schema
        .runtime
        .block_on(SqlDatabase::connect(&schema.url, policy))
        .expect("connects");
    let executor = ToolExecutor::builder()
        .extension(database)
        .build()
        .expect("an executor");
    let mut reader = schema.runtime.block_on(schema.connect());
    let before = schema
        .runtime
        .block_on(schema.snapshot(&mut reader))
        .expect("a snapshot");
    let reader = std::cell::RefCell::new(reader);
    let statements = prop_oneof![2 => hostile("/tmp"), 1 => postgres_hostile(&schema.name)];
    property::check("SQL.Query on PostgreSQL", 256, statements, |statement| {
        let call = ToolCall::new("SQL.Query", json!({"statement": statement}));
        let result = schema.runtime.block_on(executor.execute_tool_call(call));
        prop_assert!(
            matches!(result.status_code, 200 | 400 | 403),
            "{:?}: {:?}",
            statement,
            result
        );
        let after = schema
            .runtime
            .block_on(schema.snapshot(&mut reader.borrow_mut()))
            .map_err(|e| TestCaseError::fail(format!("a snapshot: {e}")))?;
        prop_assert!(
            after == before,
            "{:?} changed the schema: {:?}",
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
    });
}
