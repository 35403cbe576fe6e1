//! Statements for the SQL properties: a grammar of SQLite that mixes reads, writes and tricks
//! (what an attacker sends), with keywords in any case and any blanks and comments between
//! tokens; and the pieces the grammars of reads ([`super::sql_reads`]) share.

use proptest::prelude::*;
use proptest::sample::select;

pub(crate) type Sql = BoxedStrategy<String>;

pub(crate) fn just(text: &'static str) -> Sql {
    Just(text.to_owned()).boxed()
}

pub(crate) fn one_of(options: &[&'static str]) -> Sql {
    select(options.to_vec()).prop_map(str::to_owned).boxed()
}

/// A keyword (or several) in random case.
pub(crate) fn kw(words: &'static str) -> Sql {
    any::<u64>()
        .prop_map(move |mask| {
            words
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if (mask >> (i % 64)) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect()
        })
        .boxed()
}

/// What may stand between two tokens: blanks, line breaks, comments, comments that hold SQL.
pub(crate) fn gap() -> Sql {
    prop_oneof![
        8 => just(" "),
        1 => just("  \t"),
        1 => just("\n"),
        1 => just("\r\n"),
        1 => just("\x0c"),
        1 => just("/**/"),
        1 => just(" /* note */ "),
        1 => just(" -- note\n"),
        1 => just(" /* DELETE FROM revenue; */ "),
        1 => just(" -- ; DROP TABLE revenue\n"),
    ]
    .boxed()
}

/// `parts` in order, a [`gap`] between each two.
pub(crate) fn seq(parts: Vec<Sql>) -> Sql {
    let gaps = proptest::collection::vec(gap(), parts.len());
    (parts, gaps)
        .prop_map(|(parts, gaps)| {
            let mut text = String::new();
            for (index, part) in parts.iter().enumerate() {
                if index > 0 {
                    text.push_str(&gaps[index]);
                }
                text.push_str(part);
            }
            text
        })
        .boxed()
}

/// `part`, or nothing.
pub(crate) fn maybe(part: Sql) -> Sql {
    prop_oneof![Just(String::new()), part].boxed()
}

/// String literals, several holding SQL or comment markers.
pub(crate) const STRINGS: &[&str] = &[
    "'north'",
    "'O''Brien'",
    "''",
    "'; DROP TABLE revenue; --'",
    "'*/ DELETE FROM revenue /*'",
    "'-- not a comment'",
    "'SELECT 1; DELETE FROM customers'",
    "'\"'",
    "'%e%'",
    "'Zoë'",
];

fn literal() -> Sql {
    prop_oneof![
        one_of(&["1", "0", "-7", "3.5", "1e3", "NULL", "x'00ff'", "100"]),
        one_of(STRINGS),
    ]
    .boxed()
}

// ---- the attacker's grammar ---------------------------------------------------------------

fn table() -> Sql {
    one_of(&[
        "revenue",
        "Revenue",
        "\"revenue\"",
        "[revenue]",
        "`customers`",
        "main.revenue",
        "customers",
        "secrets",
        "sqlite_master",
        "sqlite_schema",
        "fact_audit_log",
        "temp.t",
        "nowhere",
    ])
}

fn column() -> Sql {
    one_of(&[
        "id", "region", "amount", "note", "name", "token", "rowid", "*",
    ])
}

/// Functions that only compute, and some that do not.
fn function() -> Sql {
    one_of(&[
        "upper",
        "length",
        "abs",
        "coalesce",
        "substr",
        "round",
        "typeof",
        "json_extract",
        "printf",
        "count",
        "max",
        "group_concat",
        "ifnull",
        "replace",
        "datetime",
        "random",
        "load_extension",
        "readfile",
        "writefile",
        "edit",
        "fts3_tokenizer",
        "randomblob",
        "sqlite_version",
        "changes",
        "last_insert_rowid",
        "sqlite_compileoption_get",
        "pragma_table_info",
        "unknown_fn",
    ])
}

fn expr(depth: u32) -> Sql {
    let leaf = prop_oneof![literal(), column()].boxed();
    if depth == 0 {
        return leaf;
    }
    let inner = expr(depth - 1);
    let query = select_query(depth - 1);
    let op = one_of(&[
        "+", "-", "*", "/", "||", "=", "<>", "<", "AND", "OR", "LIKE", "IS", "IS NOT",
    ]);
    prop_oneof![
        3 => leaf,
        2 => seq(vec![inner.clone(), op, inner.clone()]),
        1 => seq(vec![kw("not"), inner.clone()]),
        1 => seq(vec![just("("), inner.clone(), just(")")]),
        2 => seq(vec![function(), just("("), inner.clone(), just(","), inner.clone(), just(")")]),
        1 => seq(vec![function(), just("()")]),
        1 => seq(vec![kw("case when"), inner.clone(), kw("then"), inner.clone(), kw("else"), inner.clone(), kw("end")]),
        1 => seq(vec![kw("cast("), inner.clone(), kw("as"), one_of(&["TEXT", "INTEGER", "REAL", "BLOB"]), just(")")]),
        1 => seq(vec![inner.clone(), kw("in ("), literal(), just(","), literal(), just(")")]),
        1 => seq(vec![inner.clone(), kw("in ("), query.clone(), just(")")]),
        1 => seq(vec![kw("exists ("), query.clone(), just(")")]),
        1 => seq(vec![just("("), query, just(")")]),
        1 => seq(vec![inner.clone(), kw("between"), literal(), kw("and"), literal()]),
        1 => seq(vec![inner, kw("is null")]),
    ]
    .boxed()
}

fn source(depth: u32) -> Sql {
    let mut options = vec![
        (4, seq(vec![table(), maybe(seq(vec![kw("as"), just("t")]))])),
        (
            1,
            seq(vec![table(), kw("join"), table(), kw("on"), expr(0)]),
        ),
        (
            1,
            one_of(&[
                "json_each('[1,2]')",
                "pragma_table_info('revenue')",
                "generate_series(1, 3)",
                "c",
            ]),
        ),
        (
            1,
            seq(vec![
                table(),
                one_of(&["INDEXED BY revenue_region", "NOT INDEXED"]),
            ]),
        ),
    ];
    if depth > 0 {
        options.push((
            1,
            seq(vec![
                just("("),
                select_query(depth - 1),
                just(")"),
                kw("as"),
                just("s"),
            ]),
        ));
    }
    proptest::strategy::Union::new_weighted(options).boxed()
}

/// A query: SELECT with clauses, VALUES, compound queries, WITH.
fn select_query(depth: u32) -> Sql {
    let e = expr(depth.min(1));
    let simple = seq(vec![
        kw("select"),
        maybe(kw("distinct")),
        prop_oneof![
            column(),
            e.clone(),
            seq(vec![e.clone(), just(","), column()])
        ]
        .boxed(),
        maybe(seq(vec![kw("from"), source(depth)])),
        maybe(seq(vec![kw("where"), e.clone()])),
        maybe(seq(vec![
            kw("group by"),
            column(),
            maybe(seq(vec![kw("having"), e.clone()])),
        ])),
        maybe(seq(vec![kw("order by"), column(), maybe(kw("desc"))])),
        maybe(seq(vec![
            kw("limit"),
            one_of(&["1", "5", "-1"]),
            maybe(seq(vec![kw("offset"), just("1")])),
        ])),
    ]);
    let values = seq(vec![
        kw("values ("),
        literal(),
        just(","),
        literal(),
        just("), ("),
        literal(),
        just(","),
        literal(),
        just(")"),
    ]);
    if depth == 0 {
        return prop_oneof![4 => simple, 1 => values].boxed();
    }
    let inner = select_query(depth - 1);
    prop_oneof![
        4 => simple.clone(),
        1 => values,
        1 => seq(vec![simple.clone(), one_of(&["UNION", "UNION ALL", "INTERSECT", "EXCEPT"]), simple]),
        // Not RECURSIVE: the guard's own property runs what it accepts with no timeout.
        2 => seq(vec![kw("with"), just("c"), kw("as ("), inner.clone(), just(")"), inner]),
    ]
    .boxed()
}

/// Statements that write, or change the connection, the schema or the file.
fn write(dir: &str) -> Sql {
    let attach = format!("ATTACH DATABASE '{dir}/attached.db' AS evil");
    let attach_uri = format!("attach 'file:{dir}/uri.db?mode=rwc' as evil");
    let vacuum_into = format!("VACUUM INTO '{dir}/copy.db'");
    let vacuum_main = format!("vacuum main into '{dir}/copy2.db'");
    let fixed = select(vec![
        "PRAGMA query_only = 0".to_owned(),
        "pragma query_only=OFF".to_owned(),
        "PRAGMA writable_schema = 1".to_owned(),
        "PRAGMA user_version = 7".to_owned(),
        "PRAGMA main.application_id = 9".to_owned(),
        "PRAGMA journal_mode = WAL".to_owned(),
        "PRAGMA wal_checkpoint(TRUNCATE)".to_owned(),
        "PRAGMA table_info(revenue)".to_owned(),
        "PRAGMA integrity_check".to_owned(),
        attach,
        attach_uri,
        "DETACH evil".to_owned(),
        "VACUUM".to_owned(),
        vacuum_into,
        vacuum_main,
        "REINDEX".to_owned(),
        "ANALYZE".to_owned(),
        "BEGIN IMMEDIATE".to_owned(),
        "COMMIT".to_owned(),
        "ROLLBACK".to_owned(),
        "SAVEPOINT s".to_owned(),
        "DROP TABLE revenue".to_owned(),
        "DROP TABLE IF EXISTS customers".to_owned(),
        "DROP INDEX revenue_region".to_owned(),
        "DROP VIEW IF EXISTS north".to_owned(),
        "ALTER TABLE revenue RENAME TO gone".to_owned(),
        "ALTER TABLE revenue ADD COLUMN evil INT".to_owned(),
        "ALTER TABLE revenue DROP COLUMN note".to_owned(),
        "CREATE TABLE evil (x)".to_owned(),
        "CREATE TEMP TABLE t (x)".to_owned(),
        "CREATE TABLE copy AS SELECT * FROM revenue".to_owned(),
        "CREATE INDEX evil_idx ON revenue(amount)".to_owned(),
        "CREATE VIEW v AS SELECT * FROM secrets".to_owned(),
        "CREATE TRIGGER tr AFTER INSERT ON revenue BEGIN DELETE FROM customers; END".to_owned(),
        "CREATE VIRTUAL TABLE f USING fts5(x)".to_owned(),
        "EXPLAIN DELETE FROM revenue".to_owned(),
        "EXPLAIN QUERY PLAN SELECT 1".to_owned(),
    ])
    .boxed();
    let e = expr(1);
    let t = table();
    prop_oneof![
        3 => fixed,
        1 => seq(vec![kw("insert into"), t.clone(), kw("values ("), literal(), just(","), literal(), just(")")]),
        1 => seq(vec![kw("insert or replace into"), t.clone(), kw("select * from"), t.clone()]),
        1 => seq(vec![kw("replace into"), t.clone(), just("(id, region)"), kw("values (1, 'x')")]),
        1 => seq(vec![kw("insert into"), t.clone(), just("(id, region)"), kw("values (1, 'x') on conflict(id) do update set region = 'y'")]),
        1 => seq(vec![kw("insert into"), t.clone(), kw("default values returning *")]),
        1 => seq(vec![kw("update"), maybe(kw("or ignore")), t.clone(), kw("set"), column(), just("="), e.clone(), maybe(seq(vec![kw("where"), e.clone()])), maybe(kw("returning *"))]),
        1 => seq(vec![kw("delete from"), t.clone(), maybe(seq(vec![kw("where"), e.clone()])), maybe(kw("returning *"))]),
        1 => seq(vec![kw("with c as ("), select_query(0), just(")"), kw("delete from"), t.clone(), kw("where id in (select id from c)")]),
        1 => seq(vec![kw("with c as ("), select_query(0), just(")"), kw("insert into"), t.clone(), kw("select * from c")]),
        1 => seq(vec![kw("with c as ("), select_query(0), just(")"), kw("update"), t, kw("set id = id")]),
    ]
    .boxed()
}

/// One statement an attacker might send: reads, writes, tricks and several at once.
pub(crate) fn hostile(dir: &str) -> Sql {
    let read = select_query(2);
    let write = write(dir);
    let stmt = prop_oneof![2 => read.clone(), 2 => write.clone()].boxed();
    let tricks = prop_oneof![
        // SQLite does not nest block comments; a parser that does sees one statement.
        seq(vec![
            read.clone(),
            just("/* /* */ ;"),
            write.clone(),
            just("; -- */")
        ]),
        seq(vec![read.clone(), just("-- c\r"), write.clone()]),
        // SQLite reads `$1::b(')` as one Tcl-style parameter that swallows the quote, where
        // a parser reads a cast and a string: the text between runs as statements.
        seq(vec![
            kw("select 1 as a,"),
            just("$1::b(') ;"),
            write.clone(),
            just("; SELECT 3, $2::d(')"),
        ]),
        seq(vec![
            kw("select 1,"),
            just("$1::b(') , (SELECT token FROM secrets) , $2::d(')")
        ]),
        seq(vec![read.clone(), just(";;"), write.clone()]),
        seq(vec![
            read.clone(),
            just("; /* */"),
            write.clone(),
            just(";")
        ]),
        seq(vec![
            kw("select"),
            one_of(&["'a", "$x", ":x", "@x", "?1", "$x(1)", "$x::y"])
        ]),
        seq(vec![read.clone(), just(";"), just("-- just a comment")]),
        seq(vec![
            kw("select * from"),
            table(),
            just("/*"),
            write.clone()
        ]),
    ];
    let several = (
        stmt.clone(),
        proptest::collection::vec((one_of(&[";", " ; ", ";\n"]), stmt.clone()), 0..3),
        maybe(just(";")),
    )
        .prop_map(|(first, rest, end)| {
            let mut text = first;
            for (separator, statement) in rest {
                text.push_str(&separator);
                text.push_str(&statement);
            }
            text + &end
        });
    prop_oneof![3 => stmt, 2 => several, 2 => tricks].boxed()
}
