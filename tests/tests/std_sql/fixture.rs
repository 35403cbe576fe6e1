//! The database every SQL test reads: a real SQLite file or a schema of its own on PostgreSQL,
//! with the same tables, and an executor whose SQL tools read it.

use fact_runtime::{ToolCall, ToolExecutor, ToolResult};
use fact_tests::scratch::{TempDb, unique};
use fact_tests::services::postgres_url;
use fact_tools_std::sql::{SqlDatabase, SqlPolicy};
use serde_json::{Value, json};
use sqlx::Connection as _;

/// The tables every fixture holds; `{s}` is the schema prefix (empty for SQLite).
pub(crate) const SET_UP: &[&str] = &[
    "CREATE TABLE {s}revenue (id INTEGER PRIMARY KEY, region TEXT NOT NULL, amount REAL, \
     note TEXT DEFAULT 'none')",
    "CREATE TABLE {s}customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, region TEXT)",
    "CREATE TABLE {s}secrets (token TEXT)",
    "INSERT INTO {s}revenue VALUES (1, 'north', 100.5, 'Q1 & Q2'), (2, 'south', 250, 'update pending'), \
     (3, 'north', 75.25, NULL), (4, 'east', 300, 'drop-in client')",
    "INSERT INTO {s}customers VALUES (1, 'O''Brien', 'north'), (2, 'Zoë', 'south')",
    "INSERT INTO {s}secrets VALUES ('hunter2')",
];

/// A database with the tables above and an executor whose SQL tools read it.
pub(crate) struct Fixture {
    pub(crate) executor: ToolExecutor,
    /// The schema prefix queries use: `""` for SQLite, `"schema."` for PostgreSQL.
    pub(crate) prefix: String,
    pub(crate) backend: Backend,
}

pub(crate) enum Backend {
    Sqlite(TempDb),
    Postgres { url: String, schema: String },
}

impl Fixture {
    pub(crate) async fn sqlite(policy: SqlPolicy) -> Self {
        Self::sqlite_with(policy, &[]).await
    }

    /// As [`sqlite`](Self::sqlite), with `extra` statements run after the set-up.
    pub(crate) async fn sqlite_with(policy: SqlPolicy, extra: &[&str]) -> Self {
        let file = TempDb::new("std-sql");
        let mut writer = sqlx::SqliteConnection::connect(&format!("{}?mode=rwc", file.url()))
            .await
            .expect("SQLite file created");
        for sql in SET_UP.iter().chain(extra) {
            sqlx::query(&sql.replace("{s}", ""))
                .execute(&mut writer)
                .await
                .expect("set-up");
        }
        writer.close().await.expect("closed");
        let db = SqlDatabase::connect(&file.url(), policy)
            .await
            .expect("opens read-only");
        Self::new(db, String::new(), Backend::Sqlite(file))
    }

    pub(crate) async fn postgres(
        test: &str,
        policy: impl FnOnce(&str) -> SqlPolicy,
    ) -> Option<Self> {
        Self::postgres_with(test, policy, &[], |url, _| url.to_owned()).await
    }

    /// As [`postgres`](Self::postgres), with `extra` statements (`{s}` is the schema prefix)
    /// run after the set-up, and the SQL tools connecting to `connect_url(url, schema)`.
    pub(crate) async fn postgres_with(
        test: &str,
        policy: impl FnOnce(&str) -> SqlPolicy,
        extra: &[&str],
        connect_url: impl FnOnce(&str, &str) -> String,
    ) -> Option<Self> {
        let url = postgres_url(test)?;
        let schema = unique("std_sql").replace('-', "_");
        let mut writer = sqlx::PgConnection::connect(&url)
            .await
            .expect("PostgreSQL reachable");
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut writer)
            .await
            .expect("schema");
        let prefix = format!("{schema}.");
        for sql in SET_UP.iter().chain(extra) {
            sqlx::raw_sql(&sql.replace("{s}", &prefix))
                .execute(&mut writer)
                .await
                .expect("set-up");
        }
        let db = SqlDatabase::connect(&connect_url(&url, &schema), policy(&schema))
            .await
            .expect("connects");
        Some(Self::new(db, prefix, Backend::Postgres { url, schema }))
    }

    pub(crate) fn new(db: SqlDatabase, prefix: String, backend: Backend) -> Self {
        let executor = ToolExecutor::builder()
            .extension(db)
            .build()
            .expect("registry builds");
        Self {
            executor,
            prefix,
            backend,
        }
    }

    pub(crate) async fn call(&self, tool: &str, arguments: Value) -> ToolResult {
        self.executor
            .execute_tool_call(ToolCall::new(tool, arguments))
            .await
    }

    pub(crate) async fn query(&self, statement: &str) -> ToolResult {
        let statement = statement.replace("{s}", &self.prefix);
        self.call("SQL.Query", json!({"statement": statement}))
            .await
    }

    /// Everything the database holds: the SQLite file's bytes, or every row of every table of
    /// the schema plus the schema's list of tables.
    pub(crate) async fn snapshot(&self) -> Vec<u8> {
        match &self.backend {
            Backend::Sqlite(file) => std::fs::read(file.path()).expect("readable"),
            Backend::Postgres { url, schema } => {
                let mut reader = sqlx::PgConnection::connect(url).await.expect("reachable");
                let tables: Vec<(String,)> = sqlx::query_as(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = $1 ORDER BY 1",
                )
                .bind(schema)
                .fetch_all(&mut reader)
                .await
                .expect("tables");
                let mut dump = format!("{tables:?}");
                for (table,) in &tables {
                    let rows: Vec<(String,)> = sqlx::query_as(&format!(
                        "SELECT t::text FROM {schema}.{table} AS t ORDER BY 1"
                    ))
                    .fetch_all(&mut reader)
                    .await
                    .expect("rows");
                    dump.push_str(&format!("{table}: {rows:?}\n"));
                }
                dump.into_bytes()
            }
        }
    }

    pub(crate) async fn drop_schema(self) {
        if let Backend::Postgres { url, schema } = &self.backend {
            let mut writer = sqlx::PgConnection::connect(url).await.expect("reachable");
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&mut writer)
                .await
                .expect("clean-up");
        }
    }
}
