//! [`SqlPolicy`]: what the SQL tools may read, and for how long.

use std::collections::HashSet;
use std::time::Duration;

use super::functions::SAFE_FUNCTIONS;

/// The environment variable holding the allow-list of tables, comma-separated.
pub const ALLOWED_TABLES_VAR: &str = "FACT_SQL_ALLOWED_TABLES";

/// How long one statement may run unless the policy says otherwise.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many bytes of JSON one result may hold unless the policy says otherwise.
pub const DEFAULT_MAX_RESULT_BYTES: usize = 8 * 1024 * 1024;

/// What the SQL tools may read, and for how long.
///
/// With no allow-list of tables (the default) a query may read any table or view the database
/// user can read. With one, every table a query names must be on it; everything else, the
/// system catalogs (`sqlite_master`, `pg_catalog`, `information_schema`) included, is refused,
/// and `SQL.SchemaInfo` and `SQL.TableInfo` show only the listed tables.
///
/// Names are matched as the database stores them: SQLite ignores case; PostgreSQL folds
/// unquoted names to lower case, so list `revenue` for a table created as `Revenue` without
/// quotes. An entry may name a schema (`reporting.revenue`); an entry without one covers the
/// default schema (`public` in PostgreSQL, `main` in SQLite).
///
/// ```
/// use std::time::Duration;
/// use fact_tools_std::sql::SqlPolicy;
///
/// let policy = SqlPolicy::default()
///     .allow_tables(["revenue", "customers"])
///     .statement_timeout(Duration::from_secs(2));
/// assert!(policy.allows_table(None, "revenue"));
/// assert!(!policy.allows_table(None, "sqlite_master"));
/// assert!(SqlPolicy::default().allows_table(None, "anything"));
/// ```
#[derive(Debug, Clone)]
pub struct SqlPolicy {
    allowed_tables: Option<HashSet<String>>,
    extra_functions: HashSet<String>,
    statement_timeout: Duration,
    max_result_bytes: usize,
}

impl Default for SqlPolicy {
    fn default() -> Self {
        Self {
            allowed_tables: None,
            extra_functions: HashSet::new(),
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
            max_result_bytes: DEFAULT_MAX_RESULT_BYTES,
        }
    }
}

impl SqlPolicy {
    /// The policy the environment gives: `FACT_SQL_ALLOWED_TABLES` (comma-separated; unset or
    /// blank means no allow-list) and the default statement timeout.
    pub fn from_env() -> Self {
        let policy = Self::default();
        match std::env::var(ALLOWED_TABLES_VAR) {
            Ok(list) if !list.trim().is_empty() => policy.allow_tables(list.split(',')),
            _ => policy,
        }
    }

    /// Restricts queries to these tables (adding to any earlier list). Blank entries are
    /// ignored; surrounding spaces are trimmed.
    #[must_use]
    pub fn allow_tables<I, S>(mut self, tables: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let list = self.allowed_tables.get_or_insert_with(HashSet::new);
        for table in tables {
            let table = table.as_ref().trim();
            if !table.is_empty() {
                list.insert(table.to_owned());
            }
        }
        self
    }

    /// Lets queries call `name`, a function of your database that only computes (the built-in
    /// allow-list covers the usual aggregates, window, text, number, date and JSON functions).
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

    /// Stops reading rows once a result holds about `bytes` bytes of JSON (default 8 MiB);
    /// the result then says it was truncated. One row is never split.
    #[must_use]
    pub fn max_result_bytes(mut self, bytes: usize) -> Self {
        self.max_result_bytes = bytes;
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

    /// Whether an allow-list of tables is set.
    pub fn restricts_tables(&self) -> bool {
        self.allowed_tables.is_some()
    }

    /// Whether a query may read `table` in `schema` (`None`: unqualified). Names are compared as
    /// given: callers fold case as their database does.
    pub fn allows_table(&self, schema: Option<&str>, table: &str) -> bool {
        let Some(list) = &self.allowed_tables else {
            return true;
        };
        match schema {
            None => list.contains(table),
            Some(schema) => {
                list.contains(&format!("{schema}.{table}"))
                    || (is_default_schema(schema) && list.contains(table))
            }
        }
    }

    /// Whether a query may call the function `name` (lower case).
    pub(crate) fn allows_function(&self, name: &str) -> bool {
        SAFE_FUNCTIONS.contains(&name) || self.extra_functions.contains(name)
    }
}

/// The schema an unqualified table lives in by default.
fn is_default_schema(schema: &str) -> bool {
    schema == "public" || schema == "main"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unqualified_entry_covers_the_default_schema_only() {
        let policy = SqlPolicy::default().allow_tables(["revenue"]);
        assert!(policy.allows_table(None, "revenue"));
        assert!(policy.allows_table(Some("public"), "revenue"));
        assert!(policy.allows_table(Some("main"), "revenue"));
        assert!(!policy.allows_table(Some("secret"), "revenue"));
        assert!(!policy.allows_table(Some("pg_catalog"), "pg_authid"));
    }

    #[test]
    fn a_qualified_entry_covers_that_schema() {
        let policy = SqlPolicy::default().allow_tables(["reporting.revenue"]);
        assert!(policy.allows_table(Some("reporting"), "revenue"));
        assert!(!policy.allows_table(None, "revenue"));
    }

    #[test]
    fn blank_entries_are_ignored() {
        let policy = SqlPolicy::default().allow_tables([" revenue ", "", "  "]);
        assert!(policy.allows_table(None, "revenue"));
        assert!(!policy.allows_table(None, ""));
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
