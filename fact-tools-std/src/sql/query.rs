//! `SQL.Query`: one read-only query, its parameters bound by the driver.

use std::time::Instant;

use fact_runtime::{ToolContext, ToolError, tool};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use super::database::SqlDatabase;
use super::guard::check;
use super::tool_database;

/// Rows returned unless the call asks for fewer or more.
pub const DEFAULT_MAX_ROWS: usize = 100;

/// The most rows one call may ask for.
pub const MAX_ROWS_LIMIT: usize = 1_000;

/// What `SQL.Query` answers.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct QueryOutput {
    /// The result's columns in order. A repeated name gains `_2`, `_3`, ... so that every
    /// value has its own key in a row.
    pub columns: Vec<QueryColumn>,
    /// The rows, each an object keyed by column name. Integers and floats are numbers, a
    /// NUMERIC is a number when a double reproduces its digits (else its decimal string), dates and
    /// times are ISO 8601 strings, JSON columns are JSON, binary values are base64 strings.
    pub rows: Vec<Map<String, Value>>,
    /// How many rows `rows` holds.
    pub row_count: usize,
    /// Whether rows were left out: the query had more than `max_rows`, or more than the
    /// policy's result size (8 MiB of JSON by default). The rest were not read.
    pub truncated: bool,
    /// How long the query took, in milliseconds.
    pub execution_time_ms: f64,
}

/// One column of a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct QueryColumn {
    /// The column's name.
    pub name: String,
    /// Its type as the database names it (`INT8`, `TEXT`, ...); for SQLite the declared type,
    /// or `NULL` for an expression.
    #[serde(rename = "type")]
    pub type_name: String,
}

/// Runs one read-only SQL query (SELECT, VALUES, or UNION/INTERSECT/EXCEPT of them; CTEs
/// allowed) and returns its rows. Write parameters as `?` (SQLite) or `$1` (PostgreSQL) and pass
/// their values in `params`: they are bound by the driver, never spliced into the SQL.
#[tool(
    name = "SQL.Query",
    title = "Run SQL Query",
    timeout = 30,
    read_only,
    destructive = false,
    idempotent,
    open_world = false
)]
pub async fn query(
    ctx: &ToolContext,
    /// The SQL query, exactly one statement (at most 100,000 characters and 4,000 tokens)
    #[schemars(length(min = 1, max = 100000))]
    statement: String,
    /// Values for the statement's placeholders, in order
    params: Option<Vec<Value>>,
    /// Most rows to return (default 100, at most 1000)
    #[schemars(range(min = 1, max = 1000))]
    max_rows: Option<usize>,
) -> Result<QueryOutput, ToolError> {
    let database = tool_database(ctx).await?;
    run_query(
        &database,
        ctx,
        &statement,
        &params.unwrap_or_default(),
        max_rows,
    )
    .await
}

/// The body of `SQL.Query`, on a given database.
pub(crate) async fn run_query(
    database: &SqlDatabase,
    ctx: &ToolContext,
    statement: &str,
    params: &[Value],
    max_rows: Option<usize>,
) -> Result<QueryOutput, ToolError> {
    let max_rows = match max_rows {
        None => DEFAULT_MAX_ROWS,
        Some(n @ 1..=MAX_ROWS_LIMIT) => n,
        Some(n) => {
            return Err(ToolError::invalid_input(format!(
                "'max_rows' must be between 1 and {MAX_ROWS_LIMIT}, got {n}"
            )));
        }
    };
    let checked = check(statement, database.dialect(), database.policy())
        .map_err(super::database::SqlError::from)?;
    let started = Instant::now();
    let rows = database
        .fetch(
            &checked,
            ctx.user_id().unwrap_or_default(),
            params,
            max_rows,
            ctx.cancellation_token(),
        )
        .await?;
    Ok(QueryOutput {
        columns: rows
            .columns
            .into_iter()
            .map(|(name, type_name)| QueryColumn { name, type_name })
            .collect(),
        row_count: rows.rows.len(),
        rows: rows.rows,
        truncated: rows.truncated,
        execution_time_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}
