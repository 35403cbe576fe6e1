//! The first of the SQL tools' three read-only layers: the statement is parsed (sqlparser) and
//! must be exactly one query that only reads, calls only functions known to only compute, and
//! names only tables the policy allows. The other two layers (a read-only connection, a
//! statement timeout and row cap) live in [`super::database`] and hold even if this one is
//! fooled.

use std::borrow::Cow;
use std::ops::{ControlFlow, Range};

use sqlparser::ast::{
    BinaryOperator, DataType, Expr, Ident, InTarget, ObjectName, ObjectNamePart, Query, SetExpr,
    Statement, TableFactor, Visit, Visitor,
};
use sqlparser::dialect::{Dialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use super::policy::SqlPolicy;
use super::sqlite_text::{self, SqliteHazard};

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

/// The byte offset of `at` (a token's line and column, in characters) in `sql`.
fn offset_of(sql: &str, at: Location) -> Option<usize> {
    let (mut line, mut column) = (1, 1);
    for (offset, ch) in sql.char_indices() {
        if (line, column) == (at.line, at.column) {
            return Some(offset);
        }
        if ch == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    ((line, column) == (at.line, at.column)).then_some(sql.len())
}

/// The byte offset of the first `;` token of `sql`, which `tokens` were read from.
fn first_semicolon(sql: &str, tokens: &[TokenWithSpan]) -> Option<usize> {
    let at = tokens
        .iter()
        .find(|token| token.token == Token::SemiColon)?
        .span
        .start;
    offset_of(sql, at).filter(|&offset| sql[offset..].starts_with(';'))
}

/// PostgreSQL's `TABLE name` (a query, wherever one may start) as the `SELECT * FROM name`
/// it is defined to mean, which the parser reads: the rewritten text is what is checked and
/// what runs.
fn expand_table_commands<'s>(
    sql: &'s str,
    tokens: &[TokenWithSpan],
) -> Result<Cow<'s, str>, Refusal> {
    let mut starts = Vec::new();
    let mut previous: Option<&Token> = None;
    for token in tokens {
        if matches!(token.token, Token::Whitespace(_)) {
            continue;
        }
        let query_may_start = match previous {
            None | Some(Token::LParen) => true,
            Some(Token::Word(word)) => {
                matches!(
                    word.keyword,
                    Keyword::UNION
                        | Keyword::INTERSECT
                        | Keyword::EXCEPT
                        | Keyword::ALL
                        | Keyword::DISTINCT
                ) && word.quote_style.is_none()
            }
            Some(_) => false,
        };
        if query_may_start
            && let Token::Word(word) = &token.token
            && word.keyword == Keyword::TABLE
            && word.quote_style.is_none()
        {
            let start = offset_of(sql, token.span.start)
                .ok_or_else(|| Refusal::Syntax("the statement could not be read".to_owned()))?;
            starts.push(start);
        }
        previous = Some(&token.token);
    }
    if starts.is_empty() {
        return Ok(Cow::Borrowed(sql));
    }
    let mut expanded = String::with_capacity(sql.len() + starts.len() * 9);
    let mut copied = 0;
    for start in starts {
        expanded.push_str(&sql[copied..start]);
        expanded.push_str("SELECT * FROM");
        copied = start + "TABLE".len();
    }
    expanded.push_str(&sql[copied..]);
    Ok(Cow::Owned(expanded))
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

/// `sql` with each `ROWS FROM` (the words apart by ASCII spaces only) written as `UNNEST`
/// padded to the same bytes, or `None` when it has none. The functions inside are then
/// checked as the arguments of an `UNNEST`, which they are in all but how their rows are
/// zipped.
fn rows_from_as_unnest(sql: &str, tokens: &[TokenWithSpan]) -> Option<String> {
    let words: Vec<&TokenWithSpan> = tokens
        .iter()
        .filter(|token| !matches!(token.token, Token::Whitespace(_)))
        .collect();
    let mut text: Option<String> = None;
    for pair in words.windows(3) {
        let [rows, from, paren] = pair else { continue };
        let is = |token: &TokenWithSpan, keyword: Keyword| matches!(&token.token, Token::Word(word) if word.keyword == keyword && word.quote_style.is_none());
        if !(is(rows, Keyword::ROWS) && is(from, Keyword::FROM) && paren.token == Token::LParen) {
            continue;
        }
        let (Some(start), Some(end)) = (
            offset_of(sql, rows.span.start),
            offset_of(sql, from.span.end),
        ) else {
            continue;
        };
        let between = &sql[start + "ROWS".len()..end - "FROM".len()];
        if !between.bytes().all(|byte| byte == b' ' || byte == b'\t') {
            continue;
        }
        let text = text.get_or_insert_with(|| sql.to_owned());
        let padded = format!("{:<width$}", "UNNEST", width = end - start);
        text.replace_range(start..end, &padded);
    }
    text
}

/// How deeply a statement may nest (subqueries, parentheses, operators): the parser's own
/// recursion limit, which the check's stack is sized for.
pub const MAX_STATEMENT_DEPTH: usize = 200;

/// The first keyword of a statement (`DROP`, `INSERT`, `EXPLAIN`), to name it in a refusal.
fn keyword(statement: &Statement) -> String {
    let text = statement.to_string();
    text.split_whitespace()
        .next()
        .unwrap_or("an empty statement")
        .to_uppercase()
}

/// Walks one parsed query, refusing at the first thing that is not a pure read.
struct Guard<'p> {
    policy: &'p SqlPolicy,
    dialect: SqlDialect,
    /// The common table expressions in scope, innermost query last.
    scopes: Vec<Scope>,
    /// Statements seen: the query itself is the first; any other is nested in it.
    statements: usize,
    /// Each `FROM f(...)` and `x IN f(...)` whose name was checked as a function, so that it
    /// is not then checked as a table. Compared by address only.
    function_relations: Vec<*const ObjectName>,
    /// The unqualified tables read, with the name as the database stores it.
    unqualified: Vec<(Ident, String)>,
}

/// The common table expressions of one query, and how many of them a reference may name at
/// the current point of the walk.
///
/// Inside the body of the `j`th expression only the earlier ones are visible (and itself when
/// the `WITH` is `RECURSIVE`); in the query's own body, all of them. A name outside that scope
/// is treated as a table, which is never less strict: the allow-list then decides.
struct Scope {
    query: *const Query,
    ctes: Vec<(String, *const Query)>,
    recursive: bool,
    visible: usize,
}

impl Guard<'_> {
    fn is_cte(&self, name: &str) -> bool {
        self.scopes.iter().any(|scope| {
            scope.ctes[..scope.visible]
                .iter()
                .any(|(cte, _)| cte == name)
        })
    }

    fn check_function(&self, name: &ObjectName) -> ControlFlow<Refusal> {
        let parts = self.idents(name)?;
        let allowed = match parts.as_slice() {
            [function] => self.policy.allows_function(function),
            [schema, function]
                if schema == "pg_catalog" && self.dialect == SqlDialect::Postgres =>
            {
                self.policy.allows_function(function)
            }
            _ => false,
        };
        if allowed {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(Refusal::Function(parts.join(".")))
        }
    }

    fn check_table(&mut self, name: &ObjectName) -> ControlFlow<Refusal> {
        let parts = self.idents(name)?;
        let allowed = match parts.as_slice() {
            [table] if self.is_cte(table) => true,
            [table] => {
                if let [ObjectNamePart::Identifier(ident)] = name.0.as_slice() {
                    self.unqualified.push((ident.clone(), table.clone()));
                }
                self.policy.allows_table(self.dialect, None, table)
            }
            [schema, table] => self.policy.allows_table(self.dialect, Some(schema), table),
            _ => !self.policy.restricts_tables(),
        };
        if allowed {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(Refusal::Table(parts.join(".")))
        }
    }

    /// A cast's type: on PostgreSQL a built-in one, resolved in `pg_catalog` (a qualified name
    /// elsewhere is refused, and the database resolves unqualified names there only); with an
    /// allow-list of tables, also no object-identifier type and no type of a table's row.
    fn check_type(&self, data_type: &DataType) -> ControlFlow<Refusal> {
        if self.dialect != SqlDialect::Postgres {
            return ControlFlow::Continue(());
        }
        if self.policy.restricts_tables() {
            catalog_cast(data_type)?;
        }
        let DataType::Custom(name, _) = data_type else {
            return ControlFlow::Continue(());
        };
        let parts = self.idents(name)?;
        let built_in = match parts.as_slice() {
            [schema, _] => schema == "pg_catalog",
            [_] => true,
            _ => false,
        } && parts.last().is_some_and(|ty| {
            !self.policy.restricts_tables() || BUILT_IN_TYPES.contains(&ty.as_str())
        });
        if built_in {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(Refusal::NotBuiltIn(format!("::{}", parts.join("."))))
        }
    }

    /// An operator: `OPERATOR(schema.op)` only from `pg_catalog` (the database resolves
    /// unqualified operators there only).
    fn check_operator(&self, operator: &BinaryOperator) -> ControlFlow<Refusal> {
        match operator {
            BinaryOperator::PGCustomBinaryOperator(parts)
                if parts.len() > 1 && !parts[0].eq_ignore_ascii_case("pg_catalog") =>
            {
                ControlFlow::Break(Refusal::NotBuiltIn(format!(
                    "OPERATOR({})",
                    parts.join(".")
                )))
            }
            _ => ControlFlow::Continue(()),
        }
    }

    /// The folded parts of a name; a part computed by a function is refused.
    fn idents(&self, name: &ObjectName) -> ControlFlow<Refusal, Vec<String>> {
        let mut parts = Vec::with_capacity(name.0.len());
        for part in &name.0 {
            match part {
                ObjectNamePart::Identifier(ident) => parts.push(self.dialect.fold(ident)),
                ObjectNamePart::Function(_) => {
                    return ControlFlow::Break(Refusal::Forbidden("a name computed by a function"));
                }
            }
        }
        ControlFlow::Continue(parts)
    }
}

/// Refuses query bodies that are not SELECT, VALUES or set operations of them.
fn check_body(body: &SetExpr) -> ControlFlow<Refusal> {
    match body {
        SetExpr::Select(select) if select.into.is_some() => {
            ControlFlow::Break(Refusal::Forbidden("SELECT ... INTO"))
        }
        SetExpr::Select(_) | SetExpr::Query(_) | SetExpr::Values(_) => ControlFlow::Continue(()),
        SetExpr::SetOperation { left, right, .. } => {
            check_body(left)?;
            check_body(right)
        }
        SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => {
            ControlFlow::Break(Refusal::Forbidden(
                "a data-modifying statement (INSERT, UPDATE, DELETE or MERGE) inside a query",
            ))
        }
        // `TABLE name` is expanded to `SELECT * FROM name` before parsing; one left is in a
        // form that expansion did not recognise.
        SetExpr::Table(_) => ControlFlow::Break(Refusal::Forbidden(
            "the TABLE command here (write SELECT * FROM the table)",
        )),
    }
}

/// PostgreSQL's built-in types that the parser reads as a name rather than a type of its own
/// (`inet`, `money`, ...): with an allow-list of tables, a cast to any other named type is
/// refused, since it could be a table's row type (`NULL::secrets` tells its columns).
const BUILT_IN_TYPES: &[&str] = &[
    "bit",
    "bpchar",
    "box",
    "cidr",
    "circle",
    "citext",
    "daterange",
    "datemultirange",
    "float4",
    "float8",
    "int2",
    "int4",
    "int8",
    "int4range",
    "int8range",
    "inet",
    "line",
    "lseg",
    "macaddr",
    "macaddr8",
    "money",
    "numrange",
    "path",
    "pg_lsn",
    "point",
    "polygon",
    "serial",
    "text",
    "timetz",
    "timestamptz",
    "tsquery",
    "tsrange",
    "tstzrange",
    "tsvector",
    "txid_snapshot",
    "uuid",
    "varbit",
    "xml",
    "jsonpath",
    "oid",
    "xid",
    "cid",
    "tid",
    "name",
    "bool",
    "varchar",
    "char",
    "record",
    "void",
    "interval",
];

/// Refuses PostgreSQL's object-identifier types (`regclass`, `regrole`, `regproc`, ...),
/// whose casts turn names into catalog lookups and back.
fn catalog_cast(data_type: &DataType) -> ControlFlow<Refusal> {
    if data_type
        .to_string()
        .to_ascii_lowercase()
        .starts_with("reg")
    {
        ControlFlow::Break(Refusal::Forbidden(
            "a cast to an object-identifier type (regclass, regrole, ...) with an allow-list of tables",
        ))
    } else {
        ControlFlow::Continue(())
    }
}

impl Visitor for Guard<'_> {
    type Break = Refusal;

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<Refusal> {
        self.statements += 1;
        if self.statements > 1 {
            return ControlFlow::Break(Refusal::NotAQuery(format!(
                "{} nested in a query",
                keyword(statement)
            )));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<Refusal> {
        check_body(&query.body)?;
        if !query.locks.is_empty() {
            return ControlFlow::Break(Refusal::Forbidden(
                "a locking clause (FOR UPDATE, FOR SHARE)",
            ));
        }
        if query.for_clause.is_some()
            || query.settings.is_some()
            || query.format_clause.is_some()
            || !query.pipe_operators.is_empty()
        {
            return ControlFlow::Break(Refusal::Forbidden(
                "a FOR, SETTINGS, FORMAT or pipe clause",
            ));
        }
        let this: *const Query = query;
        // Entering the body of one of the enclosing query's common table expressions.
        if let Some(parent) = self.scopes.last_mut()
            && let Some(index) = parent.ctes.iter().position(|(_, cte)| *cte == this)
        {
            parent.visible = if parent.recursive { index + 1 } else { index };
        }
        let (ctes, recursive) = match &query.with {
            Some(with) => (
                with.cte_tables
                    .iter()
                    .map(|cte| {
                        let body: *const Query = &*cte.query;
                        (self.dialect.fold(&cte.alias.name), body)
                    })
                    .collect(),
                with.recursive,
            ),
            None => (Vec::new(), false),
        };
        self.scopes.push(Scope {
            query: this,
            ctes,
            recursive,
            visible: 0,
        });
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &Query) -> ControlFlow<Refusal> {
        let this: *const Query = query;
        if self.scopes.last().is_some_and(|scope| scope.query == this) {
            self.scopes.pop();
        }
        // Leaving the body of a common table expression: the next one sees it; after the
        // last, the query's own body sees them all.
        if let Some(parent) = self.scopes.last_mut()
            && let Some(index) = parent.ctes.iter().position(|(_, cte)| *cte == this)
        {
            parent.visible = index + 1;
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<Refusal> {
        // `f(...) AS x(a type)`: a column definition's type is a cast like any other.
        let alias = match factor {
            TableFactor::Table { alias, .. }
            | TableFactor::Derived { alias, .. }
            | TableFactor::TableFunction { alias, .. }
            | TableFactor::Function { alias, .. }
            | TableFactor::UNNEST { alias, .. }
            | TableFactor::NestedJoin { alias, .. } => alias.as_ref(),
            _ => None,
        };
        for column in alias.into_iter().flat_map(|alias| &alias.columns) {
            if let Some(data_type) = &column.data_type {
                self.check_type(data_type)?;
            }
        }
        match factor {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            } => {
                self.function_relations.push(name);
                self.check_function(name)
            }
            TableFactor::Function { name, .. } => self.check_function(name),
            TableFactor::Table { .. }
            | TableFactor::Derived { .. }
            | TableFactor::TableFunction { .. }
            | TableFactor::UNNEST { .. }
            | TableFactor::NestedJoin { .. } => ControlFlow::Continue(()),
            _ => ControlFlow::Break(Refusal::Forbidden("this kind of FROM item")),
        }
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<Refusal> {
        let this: *const ObjectName = relation;
        if self.function_relations.contains(&this) {
            return ControlFlow::Continue(());
        }
        self.check_table(relation)
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<Refusal> {
        match expr {
            Expr::Function(function) => self.check_function(&function.name)?,
            // SQLite's `x IN json_each('[1]')`: a table-valued function, checked as one.
            Expr::In {
                target:
                    InTarget::Table {
                        name,
                        args: Some(_),
                    },
                ..
            } => {
                self.function_relations.push(name);
                self.check_function(name)?;
            }
            // `'secrets'::regclass` and `oid::regclass` read the catalog by another road, and
            // `NULL::secrets` names a table's row type.
            Expr::Cast { data_type, .. } => self.check_type(data_type)?,
            Expr::TypedString(typed) => self.check_type(&typed.data_type)?,
            Expr::BinaryOp { op, .. } => self.check_operator(op)?,
            Expr::AnyOp { compare_op, .. } | Expr::AllOp { compare_op, .. } => {
                self.check_operator(compare_op)?;
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
