//! `SQL.TableInfo` and `SQL.SchemaInfo`: what the database holds, read from its own catalog
//! with bound parameters. A table name given by a caller is matched against the real list of
//! tables and never spliced into SQL.

use fact_runtime::{ToolContext, ToolError, tool};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::database::{SqlDatabase, SqlError};
use super::guard::SqlDialect;
use super::tool_database;

/// At most this many tables are described by one `SQL.SchemaInfo` call.
pub const MAX_SCHEMA_TABLES: usize = 500;

/// SQLite's tables and views, without its own `sqlite_` tables.
const SQLITE_TABLES: &str = "SELECT NULL AS table_schema, name, type FROM sqlite_master \
     WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";

/// SQLite's columns of the table bound as `?1`.
const SQLITE_COLUMNS: &str = "SELECT name, type, \"notnull\" = 0 AS nullable, pk > 0 AS primary_key, \
     dflt_value FROM pragma_table_info(?1) ORDER BY cid";

/// PostgreSQL's tables and views outside the system schemas.
const POSTGRES_TABLES: &str = "SELECT table_schema::text, table_name::text, \
     CASE table_type WHEN 'VIEW' THEN 'view' ELSE 'table' END \
     FROM information_schema.tables \
     WHERE table_schema NOT IN ('pg_catalog', 'information_schema') \
     AND table_schema NOT LIKE 'pg\\_%' ORDER BY 1, 2";

/// PostgreSQL's columns of the table bound as `$1`.`$2`.
const POSTGRES_COLUMNS: &str = "SELECT c.column_name::text, c.data_type::text, \
     c.is_nullable = 'YES', \
     EXISTS (SELECT 1 FROM information_schema.table_constraints t \
       JOIN information_schema.key_column_usage k \
         ON k.constraint_name = t.constraint_name AND k.constraint_schema = t.constraint_schema \
       WHERE t.constraint_type = 'PRIMARY KEY' AND t.table_schema = c.table_schema \
         AND t.table_name = c.table_name AND k.column_name = c.column_name), \
     c.column_default::text \
     FROM information_schema.columns c \
     WHERE c.table_schema = $1 AND c.table_name = $2 ORDER BY c.ordinal_position";

/// What `SQL.TableInfo` answers, and each table of `SQL.SchemaInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct TableInfo {
    /// The table's name.
    pub table: String,
    /// Its schema (PostgreSQL); absent for SQLite.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// `table` or `view`.
    pub kind: String,
    /// Its columns, in order.
    pub columns: Vec<ColumnInfo>,
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ColumnInfo {
    /// The column's name.
    pub name: String,
    /// Its declared type (may be empty in SQLite).
    #[serde(rename = "type")]
    pub type_name: String,
    /// Whether it may hold NULL.
    pub nullable: bool,
    /// Whether it is part of the primary key.
    pub primary_key: bool,
    /// Its default, as SQL text, when it has one.
    pub default: Option<String>,
}

/// What `SQL.SchemaInfo` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SchemaInfo {
    /// `sqlite` or `postgres`.
    pub database: String,
    /// Every table and view that may be read, with its columns, by schema then name.
    pub tables: Vec<TableInfo>,
    /// How many tables `tables` holds.
    pub table_count: usize,
    /// Whether there were more than 500 tables (the rest are not described).
    pub truncated: bool,
}

/// A table the database holds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TableName {
    schema: Option<String>,
    name: String,
    kind: String,
}

impl TableName {
    fn display(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{schema}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// Describes one table or view: its columns with type, nullability, primary key and default.
#[tool(
    name = "SQL.TableInfo",
    title = "Describe Table",
    timeout = 30,
    read_only,
    destructive = false,
    idempotent,
    open_world = false
)]
pub async fn table_info(
    ctx: &ToolContext,
    /// The table's name, optionally with its schema (`public.revenue`)
    #[schemars(length(min = 1, max = 256))]
    table: String,
) -> Result<TableInfo, ToolError> {
    let database = tool_database(ctx).await?;
    Ok(describe_table(&database, &table, ctx.cancellation_token()).await?)
}

/// Describes every table and view that may be read, with its columns.
#[tool(
    name = "SQL.SchemaInfo",
    title = "Describe Database Schema",
    timeout = 60,
    read_only,
    destructive = false,
    idempotent,
    open_world = false
)]
pub async fn schema_info(ctx: &ToolContext) -> Result<SchemaInfo, ToolError> {
    let database = tool_database(ctx).await?;
    Ok(describe_schema(&database, ctx.cancellation_token()).await?)
}

pub(crate) async fn describe_table(
    database: &SqlDatabase,
    table: &str,
    cancel: &CancellationToken,
) -> Result<TableInfo, SqlError> {
    let tables = allowed_tables(database, cancel).await?;
    let found = find(&tables, table, database.dialect());
    let Some(found) = found else {
        // A table outside the allow-list (or one of FACT's own) is refused rather than
        // reported missing, so that the answer does not depend on whether it exists.
        let (schema, name) = split(table);
        if !database
            .policy()
            .allows_table(database.dialect(), schema, name)
        {
            return Err(SqlError::Refused(super::Refusal::Table(table.to_owned())));
        }
        let known: Vec<String> = tables.iter().map(TableName::display).collect();
        return Err(SqlError::NoSuchTable {
            name: table.to_owned(),
            known: if known.is_empty() {
                "(none)".to_owned()
            } else {
                known.join(", ")
            },
        });
    };
    columns_of(database, found, cancel).await
}

pub(crate) async fn describe_schema(
    database: &SqlDatabase,
    cancel: &CancellationToken,
) -> Result<SchemaInfo, SqlError> {
    let tables = allowed_tables(database, cancel).await?;
    let truncated = tables.len() > MAX_SCHEMA_TABLES;
    let mut described = Vec::with_capacity(tables.len().min(MAX_SCHEMA_TABLES));
    for table in tables.iter().take(MAX_SCHEMA_TABLES) {
        described.push(columns_of(database, table, cancel).await?);
    }
    Ok(SchemaInfo {
        database: match database.dialect() {
            SqlDialect::Sqlite => "sqlite",
            SqlDialect::Postgres => "postgres",
        }
        .to_owned(),
        table_count: described.len(),
        tables: described,
        truncated,
    })
}

/// The tables and views the policy lets a caller see.
async fn allowed_tables(
    database: &SqlDatabase,
    cancel: &CancellationToken,
) -> Result<Vec<TableName>, SqlError> {
    let sql = match database.dialect() {
        SqlDialect::Sqlite => SQLITE_TABLES,
        SqlDialect::Postgres => POSTGRES_TABLES,
    };
    let rows = database
        .fetch_unchecked(sql, &[], usize::MAX, cancel)
        .await?;
    let policy = database.policy();
    Ok(rows
        .rows
        .into_iter()
        .filter_map(|row| {
            let mut values = row.into_iter().map(|(_, value)| value);
            let schema = values.next().and_then(text);
            let name = values.next().and_then(text)?;
            let kind = values.next().and_then(text)?;
            policy
                .allows_table(database.dialect(), schema.as_deref(), &name)
                .then_some(TableName { schema, name, kind })
        })
        .collect())
}

/// The table `wanted` names: an exact match first, then one ignoring case (SQLite ignores
/// case; PostgreSQL callers often write `Revenue` for `revenue`).
fn find<'t>(tables: &'t [TableName], wanted: &str, dialect: SqlDialect) -> Option<&'t TableName> {
    let (schema, name) = split(wanted);
    let matches = |table: &&TableName, exact: bool| {
        let same = |a: &str, b: &str| {
            if exact {
                a == b
            } else {
                a.eq_ignore_ascii_case(b)
            }
        };
        same(&table.name, name)
            && match (schema, &table.schema) {
                (None, None) => true,
                (None, Some(table_schema)) => {
                    dialect == SqlDialect::Postgres && table_schema == "public"
                }
                (Some(wanted), Some(table_schema)) => same(table_schema, wanted),
                (Some(wanted), None) => wanted.eq_ignore_ascii_case("main"),
            }
    };
    tables
        .iter()
        .find(|table| matches(table, true))
        .or_else(|| tables.iter().find(|table| matches(table, false)))
}

/// `schema.table` into its parts; a name without a dot has no schema.
fn split(name: &str) -> (Option<&str>, &str) {
    match name.split_once('.') {
        Some((schema, table)) => (Some(schema), table),
        None => (None, name),
    }
}

async fn columns_of(
    database: &SqlDatabase,
    table: &TableName,
    cancel: &CancellationToken,
) -> Result<TableInfo, SqlError> {
    let (sql, params) = match database.dialect() {
        SqlDialect::Sqlite => (SQLITE_COLUMNS, vec![Value::from(table.name.clone())]),
        SqlDialect::Postgres => (
            POSTGRES_COLUMNS,
            vec![
                Value::from(table.schema.clone().unwrap_or_default()),
                Value::from(table.name.clone()),
            ],
        ),
    };
    let rows = database
        .fetch_unchecked(sql, &params, usize::MAX, cancel)
        .await?;
    let columns = rows
        .rows
        .into_iter()
        .filter_map(|row| {
            let mut values = row.into_iter().map(|(_, value)| value);
            Some(ColumnInfo {
                name: values.next().and_then(text)?,
                type_name: values.next().and_then(text).unwrap_or_default(),
                nullable: values.next().is_some_and(|v| truthy(&v)),
                primary_key: values.next().is_some_and(|v| truthy(&v)),
                default: values.next().and_then(text),
            })
        })
        .collect();
    Ok(TableInfo {
        table: table.name.clone(),
        schema: table.schema.clone(),
        kind: table.kind.clone(),
        columns,
    })
}

fn text(value: Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text),
        _ => None,
    }
}

/// A boolean column: PostgreSQL's `bool`, SQLite's 0 or 1.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_i64().is_some_and(|n| n != 0),
        _ => false,
    }
}
