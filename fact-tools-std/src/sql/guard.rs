//! The first of the SQL tools' three read-only layers: the statement is parsed (sqlparser) and
//! must be exactly one query that only reads, calls only functions known to only compute, and
//! names only tables the policy allows. The other two layers (a read-only connection, a
//! statement timeout and row cap) live in [`super::database`] and hold even if this one is
//! fooled.

use std::borrow::Cow;
use std::ops::{ControlFlow, Range};

use sqlparser::ast::{Ident, Statement, Visit};
use sqlparser::dialect::{Dialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, Tokenizer};

use super::guard_walk::Guard;
use super::policy::SqlPolicy;
use super::sqlite_text::{self, SqliteHazard};
use super::statement_text::{
    expand_table_commands, first_semicolon, offset_of, rows_from_as_unnest,
};

/// Which database a statement is for: parsing and name folding follow its rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlDialect {
    /// SQLite: names are case-insensitive, quoted or not.
    Sqlite,
    /// PostgreSQL: unquoted names fold to lower case; quoted names are exact.
    Postgres,
}

impl SqlDialect {
    fn parser_dialect(self) -> Box<dyn Dialect> {
        match self {
            Self::Sqlite => Box::new(SQLiteDialect {}),
            Self::Postgres => Box::new(PostgreSqlDialect {}),
        }
    }

    /// The name `ident` refers to, as the database stores it.
    pub(crate) fn fold(self, ident: &Ident) -> String {
        match (self, ident.quote_style) {
            (Self::Postgres, Some(_)) => ident.value.clone(),
            // Both fold ASCII letters only: `\u{212A}v` (a Kelvin sign) is not `kv` to them.
            _ => ident.value.to_ascii_lowercase(),
        }
    }
}

/// Why a statement was refused before it reached the database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The statement does not parse.
    #[error("the statement is not valid SQL: {0}")]
    Syntax(String),
    /// The statement is longer than [`MAX_STATEMENT_CHARS`].
    #[error("the statement has {0} characters, more than the 100000 allowed")]
    TooLong(usize),
    /// The statement nests deeper than [`MAX_STATEMENT_DEPTH`] levels.
    #[error(
        "the statement nests deeper than the {0} levels the SQL tools check (each subquery, \
         parenthesis and operator is a level); write it with less nesting, with a WITH clause \
         for instance"
    )]
    TooDeep(usize),
    /// The statement has more than [`MAX_STATEMENT_TOKENS`] tokens.
    #[error(
        "the statement has {0} tokens, more than the 4000 allowed; write it more simply (an IN \
         list rather than a chain of ORs, say)"
    )]
    TooComplex(usize),
    /// Zero statements, or more than one.
    #[error("expected exactly one statement, found {0}")]
    StatementCount(String),
    /// A statement other than a query.
    #[error(
        "only queries may run (SELECT, VALUES, or UNION/INTERSECT/EXCEPT of them); this is {0}"
    )]
    NotAQuery(String),
    /// A query clause or form that writes, locks or is not supported.
    #[error("{0} is not allowed: the SQL tools only read")]
    Forbidden(&'static str),
    /// An operator, cast or type outside PostgreSQL's built-in ones.
    #[error(
        "'{0}' is not allowed: the SQL tools use only PostgreSQL's built-in operators and types \
         (those of pg_catalog)"
    )]
    NotBuiltIn(String),
    /// A function not on the allow-list.
    #[error(
        "function '{0}' is not on the list of functions the SQL tools may call (functions that \
         only compute: aggregates, window, text, number, date and JSON functions)"
    )]
    Function(String),
    /// A SQLite parameter other than `?` or `?NNN`: SQLite reads `$name(...)` and `$name::x`
    /// as one token that can hide text from the parser check.
    #[error("the parameter '{0}' is not allowed: write parameters as ? or ?NNN")]
    Placeholder(String),
    /// A table not on the allow-list.
    #[error(
        "table '{0}' is not on the list of tables the SQL tools may read (FACT_SQL_ALLOWED_TABLES)"
    )]
    Table(String),
}

impl Refusal {
    /// Whether the statement was bad input (400: it does not parse, or is too long or too
    /// complex to check) rather than refused by policy (403).
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Self::Syntax(_) | Self::TooLong(_) | Self::TooComplex(_) | Self::TooDeep(_)
        )
    }
}

/// A statement that passed [`check`]: exactly one query that only reads.
#[derive(Debug, Clone)]
pub struct CheckedQuery {
    sql: String,
    /// Where the query ends: before its terminating `;`, if it has one.
    body_end: usize,
    /// The unqualified tables the query reads: where each name is in `sql`, and the name as
    /// the database stores it. PostgreSQL resolves them through `search_path`, which the
    /// database qualifies ([`super::database`]) so that a name means one table in one schema.
    unqualified_tables: Vec<(Range<usize>, String)>,
}

impl CheckedQuery {
    /// The statement as the caller wrote it (comments included): it runs as written, with
    /// its parameters bound by the driver.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The statement without its terminating `;` and whatever follows it (only comments and
    /// more `;`, since it is exactly one statement), ready to be nested in another query.
    pub fn body(&self) -> &str {
        &self.sql[..self.body_end]
    }

    /// The unqualified tables of [`body`](Self::body): each name's byte range, and the name
    /// as the database stores it. Nested ones first only in text order.
    pub(crate) fn unqualified_tables(&self) -> &[(Range<usize>, String)] {
        &self.unqualified_tables
    }
}

/// Parses `sql` for `dialect` and checks that it only reads, calling only allowed functions on
/// allowed tables.
///
/// ```
/// use fact_tools_std::sql::{check, Refusal, SqlDialect, SqlPolicy};
///
/// let policy = SqlPolicy::default();
/// assert!(check("SELECT * FROM revenue WHERE note LIKE '%drop%'", SqlDialect::Sqlite, &policy).is_ok());
/// assert!(matches!(
///     check("SELECT * FROM revenue; DROP TABLE revenue; --", SqlDialect::Sqlite, &policy),
///     Err(Refusal::StatementCount(_))
/// ));
/// assert!(matches!(
///     check("WITH gone AS (DELETE FROM revenue RETURNING *) SELECT * FROM gone", SqlDialect::Postgres, &policy),
///     Err(Refusal::Forbidden(_))
/// ));
/// ```
///
/// # Errors
///
/// A [`Refusal`] saying what was wrong.
pub fn check(sql: &str, dialect: SqlDialect, policy: &SqlPolicy) -> Result<CheckedQuery, Refusal> {
    let length = sql.chars().count();
    if length > MAX_STATEMENT_CHARS {
        return Err(Refusal::TooLong(length));
    }
    // A long chain of operators (`1+1+...+1`) parses into a tree as deep as the chain, which
    // the walk and the drop then recurse through. The token limit bounds the depth, and on a
    // thread of its own with a stack sized for it, the check can never overflow a caller's
    // stack (an overflow aborts the process; no `catch_unwind` stops it).
    let owned = (sql.to_owned(), policy.clone());
    let checker = std::thread::Builder::new()
        .name("fact-sql-check".to_owned())
        .stack_size(CHECK_STACK_BYTES)
        .spawn(move || check_on_this_thread(&owned.0, dialect, &owned.1));
    match checker.map(std::thread::JoinHandle::join) {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_panicked)) => Err(Refusal::Syntax(
            "the statement could not be checked".to_owned(),
        )),
        Err(spawn) => Err(Refusal::Syntax(format!(
            "the statement could not be checked: {spawn}"
        ))),
    }
}

/// The longest statement [`check`] accepts, in characters.
pub const MAX_STATEMENT_CHARS: usize = 100_000;

/// The most tokens (words, literals, operators; not spaces or comments) a statement may have.
/// A chain of `n` operators parses into a tree `n` levels deep, which the walk and the drop
/// recurse through; this bounds that depth to about 2,000 levels.
pub const MAX_STATEMENT_TOKENS: usize = 4_000;

/// The stack of the thread a statement is checked on: enough for the deepest tree a statement
/// of [`MAX_STATEMENT_TOKENS`] can parse into, even in a debug build, where each level of the
/// walk takes tens of kilobytes.
const CHECK_STACK_BYTES: usize = 128 * 1024 * 1024;

fn check_on_this_thread(
    sql: &str,
    dialect: SqlDialect,
    policy: &SqlPolicy,
) -> Result<CheckedQuery, Refusal> {
    let parser_dialect = dialect.parser_dialect();
    let tokenize = |sql: &str| {
        Tokenizer::new(parser_dialect.as_ref(), sql)
            .tokenize_with_location()
            .map_err(|error| Refusal::Syntax(error.to_string()))
    };
    let mut tokens = tokenize(sql)?;
    let counted = tokens
        .iter()
        .filter(|token| !matches!(token.token, Token::Whitespace(_)))
        .count();
    if counted > MAX_STATEMENT_TOKENS {
        return Err(Refusal::TooComplex(counted));
    }
    let sql = match dialect {
        SqlDialect::Postgres => expand_table_commands(sql, &tokens)?,
        SqlDialect::Sqlite => Cow::Borrowed(sql),
    };
    if let Cow::Owned(expanded) = &sql {
        tokens = tokenize(expanded)?;
    }
    let body_end = first_semicolon(&sql, &tokens).unwrap_or(sql.len());
    // The text the parser reads: the statement, with PostgreSQL's `ROWS FROM (...)` read as
    // the `UNNEST (...)` the parser knows, byte for byte in place, so that every position
    // found in it is the same in the statement that runs.
    let parsed = match dialect {
        SqlDialect::Postgres => rows_from_as_unnest(&sql, &tokens),
        SqlDialect::Sqlite => None,
    };
    if let Some(parsed) = &parsed {
        tokens = tokenize(parsed)?;
    }
    let statements = Parser::new(parser_dialect.as_ref())
        .with_recursion_limit(MAX_STATEMENT_DEPTH)
        .with_tokens_with_locations(tokens)
        .parse_statements()
        .map_err(|error| match error {
            ParserError::RecursionLimitExceeded => Refusal::TooDeep(MAX_STATEMENT_DEPTH),
            error => Refusal::Syntax(error.to_string()),
        })?;
    let statement = match statements.as_slice() {
        [statement] => statement,
        [] => return Err(Refusal::StatementCount("none".to_owned())),
        many => {
            let kinds: Vec<String> = many.iter().map(keyword).collect();
            return Err(Refusal::StatementCount(format!(
                "{} ({})",
                many.len(),
                kinds.join(", ")
            )));
        }
    };
    // What SQLite will run is judged as SQLite reads it too: the two can disagree.
    if dialect == SqlDialect::Sqlite {
        match sqlite_text::hazard(&sql) {
            Some(SqliteHazard::SecondStatement) => {
                return Err(Refusal::StatementCount(
                    "more than one, as SQLite reads the text".to_owned(),
                ));
            }
            Some(SqliteHazard::NamedParameter(token)) => return Err(Refusal::Placeholder(token)),
            None => {}
        }
    }
    if !matches!(statement, Statement::Query(_)) {
        return Err(Refusal::NotAQuery(keyword(statement)));
    }
    let mut guard = Guard {
        policy,
        dialect,
        scopes: Vec::new(),
        statements: 0,
        function_relations: Vec::new(),
        unqualified: Vec::new(),
    };
    if let ControlFlow::Break(refusal) = statement.visit(&mut guard) {
        return Err(refusal);
    }
    let mut unqualified_tables = Vec::with_capacity(guard.unqualified.len());
    for (ident, name) in guard.unqualified {
        let start = offset_of(&sql, ident.span.start);
        let end = offset_of(&sql, ident.span.end);
        match (start, end) {
            (Some(start), Some(end)) if start < end && end <= body_end => {
                unqualified_tables.push((start..end, name));
            }
            // A name the parser made up has no place in the text to qualify: refused rather
            // than run unqualified.
            _ => {
                return Err(Refusal::Forbidden(
                    "a table name whose place in the statement cannot be found",
                ));
            }
        }
    }
    unqualified_tables.sort_by_key(|(range, _)| range.start);
    Ok(CheckedQuery {
        sql: sql.into_owned(),
        body_end,
        unqualified_tables,
    })
}

/// How deeply a statement may nest (subqueries, parentheses, operators): the parser's own
/// recursion limit, which the check's stack is sized for.
pub const MAX_STATEMENT_DEPTH: usize = 200;

/// The first keyword of a statement (`DROP`, `INSERT`, `EXPLAIN`), to name it in a refusal.
pub(super) fn keyword(statement: &Statement) -> String {
    let text = statement.to_string();
    text.split_whitespace()
        .next()
        .unwrap_or("an empty statement")
        .to_uppercase()
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
