//! The walk over a parsed query that the check ([`super::check`]) makes: it refuses at the
//! first thing that is not a pure read (a clause that writes or locks, a function off the
//! list, an operator or type outside `pg_catalog`, a table off the allow-list) and notes where
//! each unqualified table is written.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, DataType, Expr, Ident, InTarget, ObjectName, ObjectNamePart, Query, SetExpr,
    Statement, TableFactor, Visitor,
};

use super::guard::{Refusal, SqlDialect, keyword};
use super::policy::SqlPolicy;

/// Walks one parsed query, refusing at the first thing that is not a pure read.
pub(super) struct Guard<'p> {
    pub(super) policy: &'p SqlPolicy,
    pub(super) dialect: SqlDialect,
    /// The common table expressions in scope, innermost query last.
    pub(super) scopes: Vec<Scope>,
    /// Statements seen: the query itself is the first; any other is nested in it.
    pub(super) statements: usize,
    /// Each `FROM f(...)` and `x IN f(...)` whose name was checked as a function, so that it
    /// is not then checked as a table. Compared by address only.
    pub(super) function_relations: Vec<*const ObjectName>,
    /// The unqualified tables read, with the name as the database stores it.
    pub(super) unqualified: Vec<(Ident, String)>,
}

/// The common table expressions of one query, and how many of them a reference may name at
/// the current point of the walk.
///
/// Inside the body of the `j`th expression only the earlier ones are visible (and itself when
/// the `WITH` is `RECURSIVE`); in the query's own body, all of them. A name outside that scope
/// is treated as a table, which is never less strict: the allow-list then decides.
pub(super) struct Scope {
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
