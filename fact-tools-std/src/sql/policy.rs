//! [`SqlPolicy`]: what the SQL tools may read, for how long, how much, and how many at once.

use std::collections::HashSet;
use std::time::Duration;

use super::functions::SAFE_FUNCTIONS;
use super::guard::SqlDialect;

/// The environment variable holding the allow-list of tables, comma-separated.
pub const ALLOWED_TABLES_VAR: &str = "FACT_SQL_ALLOWED_TABLES";

/// The environment variable holding the statement timeout, in seconds (`2.5` allowed).
pub const STATEMENT_TIMEOUT_VAR: &str = "FACT_SQL_STATEMENT_TIMEOUT";

/// The environment variable holding the byte cap of one result.
pub const MAX_RESULT_BYTES_VAR: &str = "FACT_SQL_MAX_RESULT_BYTES";

/// The environment variable holding the number of connections to the database.
pub const MAX_CONNECTIONS_VAR: &str = "FACT_SQL_MAX_CONNECTIONS";

/// The environment variable holding how many statements one user may run at once.
pub const MAX_STATEMENTS_PER_USER_VAR: &str = "FACT_SQL_MAX_STATEMENTS_PER_USER";

/// How long one statement may run unless the policy says otherwise.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many bytes of JSON one result may hold unless the policy says otherwise.
pub const DEFAULT_MAX_RESULT_BYTES: usize = 8 * 1024 * 1024;

/// Connections to the database unless the policy says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 4;

/// Statements one user may run at once unless the policy says otherwise.
pub const DEFAULT_MAX_STATEMENTS_PER_USER: u32 = 2;

/// How long a call waits for its turn (its user's share, then a connection) before it is
/// answered that the database is busy, unless the policy says otherwise.
pub const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the SQL tools may read, and the bounds every call runs within.
///
/// With no allow-list of tables (the default) a query may read any table or view the database
/// user can read, except FACT's own ([`fact_runtime::FACT_TABLES`]). With one, every table a
/// query names must be on it; everything else, the system catalogs (`sqlite_master`,
/// `pg_catalog`, `information_schema`) included, is refused, and `SQL.SchemaInfo` and
/// `SQL.TableInfo` show only the listed tables. An empty list allows no table.
///
/// Entries are names as SQL writes them, matched as the database matches them: SQLite ignores
/// case (`Users` is `users`); PostgreSQL folds an unquoted name to lower case and keeps a
/// quoted one exact (`Revenue` is `revenue`; list `"Revenue"` for a table created with
/// quotes). An entry may name a schema (`reporting.revenue`); an entry without one names the
/// table in the default schema ([`default_schema`](Self::default_schema), `public` in
/// PostgreSQL; `main` in SQLite), so `revenue` and `public.revenue` are the same entry.
///
/// ```
/// use std::time::Duration;
/// use fact_tools_std::sql::{SqlDialect, SqlPolicy};
///
/// let policy = SqlPolicy::default()
///     .allow_tables(["revenue", "\"Order Items\""])
///     .statement_timeout(Duration::from_secs(2));
/// assert!(policy.allows_table(SqlDialect::Postgres, None, "revenue"));
/// assert!(policy.allows_table(SqlDialect::Postgres, Some("public"), "Order Items"));
/// assert!(policy.allows_table(SqlDialect::Sqlite, Some("main"), "REVENUE"));
/// assert!(!policy.allows_table(SqlDialect::Sqlite, None, "sqlite_master"));
/// assert!(SqlPolicy::default().allows_table(SqlDialect::Sqlite, None, "anything"));
/// assert!(!SqlPolicy::default().allows_table(SqlDialect::Sqlite, None, "fact_audit_log"));
/// ```
#[derive(Debug, Clone)]
pub struct SqlPolicy {
    allowed_tables: Option<Vec<TableEntry>>,
    extra_functions: HashSet<String>,
    default_schema: String,
    statement_timeout: Duration,
    max_result_bytes: usize,
    max_connections: u32,
    max_statements_per_user: u32,
    queue_timeout: Duration,
    slow_statement: Duration,
}

impl Default for SqlPolicy {
    fn default() -> Self {
        Self {
            allowed_tables: None,
            extra_functions: HashSet::new(),
            default_schema: "public".to_owned(),
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
            max_result_bytes: DEFAULT_MAX_RESULT_BYTES,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_statements_per_user: DEFAULT_MAX_STATEMENTS_PER_USER,
            queue_timeout: DEFAULT_QUEUE_TIMEOUT,
            slow_statement: Duration::from_secs(1),
        }
    }
}

/// A setting of the environment that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} is not valid: {reason}")]
pub struct PolicyError {
    /// The variable.
    pub variable: &'static str,
    /// What is wrong with its value.
    pub reason: String,
}

impl SqlPolicy {
    /// The policy the environment gives:
    ///
    /// | variable | sets | default |
    /// | --- | --- | --- |
    /// | `FACT_SQL_ALLOWED_TABLES` | the allow-list, comma-separated; set but empty allows no table | unset: no list |
    /// | `FACT_SQL_STATEMENT_TIMEOUT` | seconds one statement may run | 10 |
    /// | `FACT_SQL_MAX_RESULT_BYTES` | bytes of JSON one result may hold | 8 MiB |
    /// | `FACT_SQL_MAX_CONNECTIONS` | connections to the database | 4 |
    /// | `FACT_SQL_MAX_STATEMENTS_PER_USER` | statements one user may run at once | 2 |
    ///
    /// # Errors
    ///
    /// A [`PolicyError`] naming the first variable that does not parse.
    pub fn from_env() -> Result<Self, PolicyError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// As [`from_env`](Self::from_env), reading variables through `var`.
    pub(crate) fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, PolicyError> {
        let mut policy = Self::default();
        if let Some(list) = var(ALLOWED_TABLES_VAR) {
            let entries = parse_table_list(&list).map_err(|reason| PolicyError {
                variable: ALLOWED_TABLES_VAR,
                reason,
            })?;
            policy.allowed_tables = Some(entries);
        }
        if let Some(seconds) = var(STATEMENT_TIMEOUT_VAR) {
            policy.statement_timeout = seconds
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0 && *s <= 3600.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| PolicyError {
                    variable: STATEMENT_TIMEOUT_VAR,
                    reason: format!("expected seconds between 0 and 3600, got '{seconds}'"),
                })?;
        }
        if let Some(bytes) = var(MAX_RESULT_BYTES_VAR) {
            policy.max_result_bytes =
                parse_count(MAX_RESULT_BYTES_VAR, &bytes, 1024, 1 << 30)? as usize;
        }
        if let Some(count) = var(MAX_CONNECTIONS_VAR) {
            policy.max_connections = parse_count(MAX_CONNECTIONS_VAR, &count, 1, 1000)? as u32;
        }
        if let Some(count) = var(MAX_STATEMENTS_PER_USER_VAR) {
            policy.max_statements_per_user =
                parse_count(MAX_STATEMENTS_PER_USER_VAR, &count, 1, 1000)? as u32;
        }
        Ok(policy)
    }

    /// Restricts queries to these tables (adding to any earlier list; an empty iterator sets an
    /// empty list, which allows no table). Surrounding spaces are trimmed and blank entries
    /// ignored. An entry that is not a name (an unterminated quote, three parts) matches no
    /// table; [`from_env`](Self::from_env) refuses such a list instead.
    #[must_use]
    pub fn allow_tables<I, S>(mut self, tables: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let list = self.allowed_tables.get_or_insert_with(Vec::new);
        for table in tables {
            let table = table.as_ref().trim();
            if !table.is_empty() {
                list.push(parse_table_entry(table).unwrap_or(TableEntry::Invalid));
            }
        }
        self
    }

    /// The schema an unqualified PostgreSQL table lives in (default `public`). Every
    /// unqualified table a query names is read from this schema, whatever the role's
    /// `search_path` says, and an unqualified allow-list entry names a table in it.
    #[must_use]
    pub fn default_schema(mut self, schema: impl Into<String>) -> Self {
        self.default_schema = schema.into();
        self
    }

    /// Lets queries call `name`, a function of your database that only computes (the built-in
    /// allow-list covers the usual aggregates, window, text, number, date and JSON functions).
    /// On PostgreSQL it must live in `pg_catalog`: functions are resolved there only.
    #[must_use]
    pub fn allow_function(mut self, name: impl AsRef<str>) -> Self {
        self.extra_functions.insert(name.as_ref().to_lowercase());
        self
    }

    /// How long one statement may run (default 10 s): enforced by the database (PostgreSQL's
    /// `statement_timeout`, SQLite's progress handler), not only by the caller giving up.
    #[must_use]
    pub fn statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = timeout;
        self
    }

    /// Bounds a result to about `bytes` bytes of JSON (default 8 MiB): rows past it are not
    /// read (the result says it was truncated), and no single value or row larger than it is
    /// ever built or read (the call is refused with a 403 naming the limit). Memory per call
    /// stays within a small multiple of it.
    #[must_use]
    pub fn max_result_bytes(mut self, bytes: usize) -> Self {
        self.max_result_bytes = bytes;
        self
    }

    /// Connections to the database (default 4): at most this many statements run at once in
    /// the process, whoever calls.
    #[must_use]
    pub fn max_connections(mut self, connections: u32) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// Statements one user may run at once (default 2), so that one caller cannot take every
    /// connection. A call past it waits its turn for at most the queue timeout.
    #[must_use]
    pub fn max_statements_per_user(mut self, statements: u32) -> Self {
        self.max_statements_per_user = statements.max(1);
        self
    }

    /// How long a call waits for its user's turn and then for a free connection (default 2 s)
    /// before it is answered 503, the database is busy, with `Retry-After`.
    #[must_use]
    pub fn queue_timeout(mut self, timeout: Duration) -> Self {
        self.queue_timeout = timeout;
        self
    }

    /// A statement running longer than this is logged as slow (default 1 s), by the digest and
    /// length of its text, never the text itself.
    #[must_use]
    pub fn slow_statement(mut self, threshold: Duration) -> Self {
        self.slow_statement = threshold;
        self
    }

    /// The byte cap of one result.
    pub fn result_bytes(&self) -> usize {
        self.max_result_bytes
    }

    /// The statement timeout.
    pub fn timeout(&self) -> Duration {
        self.statement_timeout
    }

    /// The connections to the database.
    pub fn connections(&self) -> u32 {
        self.max_connections
    }

    /// The statements one user may run at once.
    pub fn statements_per_user(&self) -> u32 {
        self.max_statements_per_user
    }

    /// How long a call waits for its turn.
    pub fn queue_wait(&self) -> Duration {
        self.queue_timeout
    }

    pub(crate) fn slow_threshold(&self) -> Duration {
        self.slow_statement
    }

    /// The schema of unqualified PostgreSQL tables.
    pub fn schema(&self) -> &str {
        &self.default_schema
    }

    /// Whether an allow-list of tables is set.
    pub fn restricts_tables(&self) -> bool {
        self.allowed_tables.is_some()
    }

    /// Whether a query may read `table` in `schema` (`None`: unqualified, the default schema).
    /// Both are given as the database stores them (for PostgreSQL: folded already, see
    /// [`SqlDialect`]); SQLite's are compared ignoring case. FACT's own tables
    /// ([`fact_runtime::FACT_TABLES`]) are never allowed.
    pub fn allows_table(&self, dialect: SqlDialect, schema: Option<&str>, table: &str) -> bool {
        if fact_runtime::FACT_TABLES
            .iter()
            .any(|own| own.eq_ignore_ascii_case(table))
        {
            return false;
        }
        let Some(list) = &self.allowed_tables else {
            return true;
        };
        let default = self.dialect_default_schema(dialect);
        let (schema, table) = match dialect {
            SqlDialect::Sqlite => (
                schema.unwrap_or(default).to_ascii_lowercase(),
                table.to_ascii_lowercase(),
            ),
            SqlDialect::Postgres => (schema.unwrap_or(default).to_owned(), table.to_owned()),
        };
        list.iter()
            .filter_map(|entry| entry.folded(dialect, default))
            .any(|(entry_schema, entry_table)| entry_schema == schema && entry_table == table)
    }

    fn dialect_default_schema(&self, dialect: SqlDialect) -> &str {
        match dialect {
            SqlDialect::Sqlite => "main",
            SqlDialect::Postgres => &self.default_schema,
        }
    }

    /// Whether a query may call the function `name` (lower case).
    pub(crate) fn allows_function(&self, name: &str) -> bool {
        SAFE_FUNCTIONS.contains(&name) || self.extra_functions.contains(name)
    }
}

fn parse_count(variable: &'static str, text: &str, min: u64, max: u64) -> Result<u64, PolicyError> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| PolicyError {
            variable,
            reason: format!("expected a whole number between {min} and {max}, got '{text}'"),
        })
}

/// One name of an allow-list entry, as written: quoted names keep their case in PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Name {
    value: String,
    quoted: bool,
}

impl Name {
    fn folded(&self, dialect: SqlDialect) -> String {
        match dialect {
            SqlDialect::Postgres if self.quoted => self.value.clone(),
            _ => self.value.to_ascii_lowercase(),
        }
    }
}

/// An allow-list entry: `table` or `schema.table`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TableEntry {
    Table {
        schema: Option<Name>,
        table: Name,
    },
    /// Not a name: matches nothing.
    Invalid,
}

impl TableEntry {
    /// The entry's schema and table as `dialect` stores them.
    fn folded(&self, dialect: SqlDialect, default_schema: &str) -> Option<(String, String)> {
        match self {
            Self::Table { schema, table } => {
                let schema = match schema {
                    Some(schema) => schema.folded(dialect),
                    None if dialect == SqlDialect::Sqlite => default_schema.to_ascii_lowercase(),
                    None => default_schema.to_owned(),
                };
                Some((schema, table.folded(dialect)))
            }
            Self::Invalid => None,
        }
    }
}

/// A comma-separated list of entries: blank entries are skipped, so `,` and ` ` are an empty
/// list (which allows no table).
fn parse_table_list(list: &str) -> Result<Vec<TableEntry>, String> {
    split_outside_quotes(list, ',')?
        .into_iter()
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(parse_table_entry)
        .collect()
}

/// `table`, `schema.table`, either part in double quotes (`""` for a quote inside).
fn parse_table_entry(entry: &str) -> Result<TableEntry, String> {
    let parts = split_outside_quotes(entry, '.')?;
    let names = parts
        .iter()
        .map(|part| parse_name(part.trim(), entry))
        .collect::<Result<Vec<_>, _>>()?;
    match <[Name; 2]>::try_from(names) {
        Ok([schema, table]) => Ok(TableEntry::Table {
            schema: Some(schema),
            table,
        }),
        Err(names) => match <[Name; 1]>::try_from(names) {
            Ok([table]) => Ok(TableEntry::Table {
                schema: None,
                table,
            }),
            Err(_) => Err(format!(
                "'{entry}' is not a table name: expected table or schema.table"
            )),
        },
    }
}

fn parse_name(part: &str, entry: &str) -> Result<Name, String> {
    if let Some(inner) = part.strip_prefix('"') {
        let Some(inner) = inner.strip_suffix('"') else {
            return Err(format!("'{entry}' has a quoted name that does not end"));
        };
        if inner.is_empty() || inner.replace("\"\"", "").contains('"') {
            return Err(format!("'{entry}' has a quoted name that is not valid"));
        }
        return Ok(Name {
            value: inner.replace("\"\"", "\""),
            quoted: true,
        });
    }
    if part.is_empty() || part.contains(|c: char| c.is_whitespace() || c == '"') {
        return Err(format!(
            "'{entry}' is not a table name (quote a name holding spaces: \"Order Items\")"
        ));
    }
    Ok(Name {
        value: part.to_owned(),
        quoted: false,
    })
}

/// `text` split at each `separator` outside double quotes.
fn split_outside_quotes(text: &str, separator: char) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (at, ch) in text.char_indices() {
        if ch == '"' {
            quoted = !quoted;
        } else if ch == separator && !quoted {
            parts.push(&text[start..at]);
            start = at + ch.len_utf8();
        }
    }
    if quoted {
        return Err(format!("'{}' has a quote that does not end", text.trim()));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PG: SqlDialect = SqlDialect::Postgres;
    const LITE: SqlDialect = SqlDialect::Sqlite;

    fn env(pairs: &[(&str, &str)]) -> Result<SqlPolicy, PolicyError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        SqlPolicy::from_vars(|name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn an_unqualified_entry_covers_the_default_schema_only() {
        let policy = SqlPolicy::default().allow_tables(["revenue"]);
        assert!(policy.allows_table(PG, None, "revenue"));
        assert!(policy.allows_table(PG, Some("public"), "revenue"));
        assert!(policy.allows_table(LITE, Some("main"), "revenue"));
        assert!(!policy.allows_table(PG, Some("secret"), "revenue"));
        assert!(!policy.allows_table(PG, Some("pg_catalog"), "pg_authid"));
    }

    #[test]
    fn a_qualified_entry_covers_that_schema() {
        let policy = SqlPolicy::default().allow_tables(["reporting.revenue"]);
        assert!(policy.allows_table(PG, Some("reporting"), "revenue"));
        assert!(!policy.allows_table(PG, None, "revenue"));
    }

    #[test]
    fn an_entry_qualified_by_the_default_schema_matches_unqualified_queries() {
        for entry in ["public.t", "PUBLIC.t"] {
            let policy = SqlPolicy::default().allow_tables([entry]);
            assert!(policy.allows_table(PG, None, "t"), "{entry}");
            assert!(policy.allows_table(PG, Some("public"), "t"), "{entry}");
        }
        let policy = SqlPolicy::default().allow_tables(["main.t"]);
        assert!(policy.allows_table(LITE, None, "t"));
        assert!(policy.allows_table(LITE, None, "T"));
        let reporting = SqlPolicy::default()
            .default_schema("reporting")
            .allow_tables(["reporting.t"]);
        assert!(reporting.allows_table(PG, None, "t"));
        assert!(!reporting.allows_table(PG, Some("public"), "t"));
    }

    #[test]
    fn sqlite_names_match_ignoring_case_and_quotes() {
        let policy = SqlPolicy::default().allow_tables(["Users", "\"Order Items\""]);
        for (schema, table) in [
            (None, "users"),
            (None, "Users"),
            (Some("MAIN"), "USERS"),
            (None, "order items"),
            (None, "Order Items"),
        ] {
            assert!(policy.allows_table(LITE, schema, table), "{table}");
        }
        assert!(!policy.allows_table(LITE, None, "Order"));
    }

    #[test]
    fn postgres_folds_unquoted_entries_and_keeps_quoted_ones() {
        let policy = SqlPolicy::default().allow_tables(["Revenue", "\"MixedCase\""]);
        assert!(policy.allows_table(PG, None, "revenue"));
        assert!(!policy.allows_table(PG, None, "Revenue"));
        assert!(policy.allows_table(PG, None, "MixedCase"));
        assert!(!policy.allows_table(PG, None, "mixedcase"));
    }

    #[test]
    fn blank_entries_are_ignored() {
        let policy = SqlPolicy::default().allow_tables([" revenue ", "", "  "]);
        assert!(policy.allows_table(LITE, None, "revenue"));
        assert!(!policy.allows_table(LITE, None, ""));
    }

    #[test]
    fn an_empty_or_blank_allow_list_allows_no_table() {
        for value in ["", " ", "  \t", ",", " , ,"] {
            let policy = env(&[(ALLOWED_TABLES_VAR, value)]).expect("a valid empty list");
            assert!(policy.restricts_tables(), "{value:?}");
            assert!(!policy.allows_table(LITE, None, "revenue"), "{value:?}");
            assert!(!policy.allows_table(PG, Some("pg_catalog"), "pg_authid"));
        }
        let none: [&str; 0] = [];
        assert!(
            !SqlPolicy::default()
                .allow_tables(none)
                .allows_table(LITE, None, "x")
        );
    }

    #[test]
    fn an_unset_allow_list_allows_every_table_but_facts_own() {
        let policy = env(&[]).expect("defaults");
        assert!(!policy.restricts_tables());
        assert!(policy.allows_table(LITE, None, "revenue"));
        for own in fact_runtime::FACT_TABLES {
            assert!(!policy.allows_table(LITE, None, own));
            assert!(!policy.allows_table(PG, Some("public"), own));
            assert!(!policy.allows_table(LITE, None, &own.to_uppercase()));
        }
        let listed = SqlPolicy::default().allow_tables(["fact_audit_log"]);
        assert!(!listed.allows_table(LITE, None, "fact_audit_log"));
    }

    #[test]
    fn a_malformed_allow_list_names_the_variable_and_the_entry() {
        for (value, says) in [
            ("revenue, \"Order Items", "does not end"),
            ("a.b.c", "'a.b.c' is not a table name"),
            ("order items", "quote a name holding spaces"),
            ("public.", "'public.' is not a table name"),
        ] {
            let error = env(&[(ALLOWED_TABLES_VAR, value)]).expect_err(value);
            assert_eq!(error.variable, ALLOWED_TABLES_VAR);
            assert!(error.to_string().contains(says), "{value}: {error}");
        }
    }

    #[test]
    fn numeric_settings_are_read_and_checked() {
        let policy = env(&[
            (STATEMENT_TIMEOUT_VAR, "2.5"),
            (MAX_RESULT_BYTES_VAR, "65536"),
            (MAX_CONNECTIONS_VAR, "8"),
            (MAX_STATEMENTS_PER_USER_VAR, "3"),
        ])
        .expect("valid settings");
        assert_eq!(policy.timeout(), Duration::from_millis(2500));
        assert_eq!(policy.result_bytes(), 65536);
        assert_eq!(policy.connections(), 8);
        assert_eq!(policy.statements_per_user(), 3);
        for (variable, value) in [
            (STATEMENT_TIMEOUT_VAR, "0"),
            (STATEMENT_TIMEOUT_VAR, "ten"),
            (MAX_RESULT_BYTES_VAR, "12"),
            (MAX_CONNECTIONS_VAR, "0"),
            (MAX_STATEMENTS_PER_USER_VAR, "-1"),
        ] {
            let error = env(&[(variable, value)]).expect_err(value);
            assert_eq!(error.variable, variable);
            assert!(error.to_string().contains(value), "{error}");
        }
    }

    #[test]
    fn functions_can_be_added_but_unknown_ones_are_refused() {
        let policy = SqlPolicy::default();
        assert!(policy.allows_function("count"));
        assert!(!policy.allows_function("my_pure_fn"));
        assert!(
            policy
                .allow_function("My_Pure_Fn")
                .allows_function("my_pure_fn")
        );
    }
}
