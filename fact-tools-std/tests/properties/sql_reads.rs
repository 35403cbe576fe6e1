//! Reads for the SQL properties: plain reads of the allowed tables (what a legitimate caller
//! sends), and reads that reach for the tables off the allow-list in every way SQLite offers.

use proptest::prelude::*;
use proptest::sample::select;

use super::sql_grammar::{STRINGS, Sql, just, kw, maybe, one_of, seq};

/// How a caller may name an allowed table: any case, quoted, or in `main`.
fn allowed(name: &'static str) -> Sql {
    let quoted: [String; 4] = [
        format!("\"{name}\""),
        format!("[{name}]"),
        format!("`{name}`"),
        format!("main.{name}"),
    ];
    prop_oneof![3 => kw(name), 1 => select(quoted.to_vec())].boxed()
}

/// A condition on revenue's columns (`prefix` qualifies them).
fn condition(prefix: &'static str, depth: u32) -> Sql {
    let column = |name: &'static str| Just(format!("{prefix}{name}")).boxed();
    let leaf = prop_oneof![
        seq(vec![
            column("amount"),
            one_of(&[">", "<", ">=", "=", "<>"]),
            one_of(&["100", "75.25", "0", "-1e3"])
        ]),
        seq(vec![
            column("region"),
            kw("in ("),
            one_of(STRINGS),
            just(","),
            one_of(STRINGS),
            just(")")
        ]),
        seq(vec![column("note"), kw("like"), one_of(STRINGS)]),
        seq(vec![column("note"), kw("is null")]),
        seq(vec![
            column("id"),
            kw("between"),
            just("1"),
            kw("and"),
            just("3")
        ]),
        seq(vec![
            kw("upper("),
            column("region"),
            just(") ="),
            one_of(&["'NORTH'", "'EAST'"])
        ]),
        seq(vec![
            column("region"),
            kw("in (select region from"),
            allowed("customers"),
            just(")")
        ]),
        seq(vec![
            kw("exists (select 1 from"),
            allowed("customers"),
            kw("where name ="),
            one_of(STRINGS),
            just(")")
        ]),
        seq(vec![
            kw("coalesce("),
            column("note"),
            just(","),
            one_of(STRINGS),
            just(") <>"),
            one_of(STRINGS)
        ]),
    ]
    .boxed();
    if depth == 0 {
        return leaf;
    }
    let inner = condition(prefix, depth - 1);
    prop_oneof![
        3 => leaf,
        1 => seq(vec![inner.clone(), one_of(&["AND", "OR", "and", "Or"]), inner.clone()]),
        1 => seq(vec![kw("not ("), inner, just(")")]),
    ]
    .boxed()
}

/// What a plain read of revenue selects.
fn revenue_columns() -> Sql {
    one_of(&[
        "*",
        "id, region",
        "region, amount, note",
        "upper(region) AS r",
        "length(note) AS n, typeof(amount) AS t",
        "round(amount, 1) AS a, abs(id) AS i",
        "substr(region, 1, 2) AS s, ifnull(note, '') AS n",
        "printf('%d: %s', id, region) AS line",
        "json_object('id', id, 'note', note) AS doc",
        "CASE WHEN amount > 100 THEN 'big' ELSE 'small' END AS size",
        "CAST(amount AS INTEGER) AS whole",
        "'DELETE FROM revenue; --' AS text",
        "(SELECT COUNT(*) FROM customers) AS customers",
        "count(*) AS n, sum(amount) AS total, max(amount) AS top",
        "region, RANK() OVER (ORDER BY amount DESC) AS r",
    ])
}

/// A plain read of the allowed tables, valid SQLite that the guard must accept.
pub(crate) fn legitimate() -> Sql {
    let plain = seq(vec![
        kw("select"),
        maybe(kw("distinct")),
        revenue_columns(),
        kw("from"),
        allowed("revenue"),
        maybe(seq(vec![kw("where"), condition("", 2)])),
        maybe(seq(vec![
            kw("order by"),
            one_of(&["1", "id DESC", "region, id"]),
        ])),
        maybe(seq(vec![kw("limit"), one_of(&["1", "3", "100"])])),
    ]);
    let joined = seq(vec![
        kw("select r.id, c.name from"),
        allowed("revenue"),
        kw("as r join"),
        allowed("customers"),
        kw("as c on c.region = r.region where"),
        condition("r.", 1),
    ]);
    let cte = seq(vec![
        kw("with north as (select * from"),
        allowed("revenue"),
        kw("where"),
        condition("", 1),
        kw(") select count(*) as n, sum(amount) as total from north"),
    ]);
    let compound = seq(vec![
        kw("select region from"),
        allowed("revenue"),
        one_of(&["UNION", "UNION ALL", "INTERSECT", "EXCEPT"]),
        kw("select region from"),
        allowed("customers"),
        kw("order by 1"),
    ]);
    let values = seq(vec![
        kw("values (1, "),
        one_of(STRINGS),
        just("), (2, 'b')"),
    ]);
    let bounded = just(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5) SELECT x FROM n",
    );
    let statement =
        prop_oneof![4 => plain, 2 => joined, 2 => cte, 1 => compound, 1 => values, 1 => bounded];
    (
        statement,
        maybe(one_of(&[";", " ;", "; -- done", ";\n"])),
        maybe(one_of(&[" -- trailing", " /* trailing */"])),
    )
        .prop_map(|(statement, end, comment)| statement + &comment + &end)
        .boxed()
}

/// A table off the allow-list, spelled any way SQLite reads it, with a column of it.
fn hidden() -> impl Strategy<Value = (String, &'static str)> {
    let spellings = |name: &'static str| {
        select(vec![
            name.to_owned(),
            name.to_uppercase(),
            format!("\"{name}\""),
            format!("[{name}]"),
            format!("`{name}`"),
            format!("main.{name}"),
            format!("\"main\".\"{name}\""),
            format!("MAIN.[{}]", name.to_uppercase()),
        ])
    };
    prop_oneof![
        spellings("secrets").prop_map(|table| (table, "token")),
        spellings("fact_audit_log").prop_map(|table| (table, "detail")),
    ]
}

/// A read that would show a row of a table off the allow-list, were that table read: direct,
/// nested, joined, in a set operation, behind a CTE or an alias named like an allowed table.
pub(crate) fn reaching_for_hidden_tables() -> Sql {
    const SHAPES: &[&str] = &[
        "SELECT {c} FROM {t}",
        "SELECT * FROM {t}",
        "SELECT (SELECT {c} FROM {t}) AS x",
        "SELECT * FROM (SELECT * FROM {t}) AS s",
        "SELECT * FROM {t} AS revenue",
        "SELECT r.id, h.{c} FROM revenue AS r JOIN {t} AS h",
        "SELECT id, region FROM revenue UNION SELECT 1, {c} FROM {t}",
        "WITH s AS (SELECT * FROM {t}) SELECT * FROM s",
        "WITH revenue AS (SELECT {c} AS region FROM {t}) SELECT region FROM revenue",
        "WITH customers AS (SELECT * FROM revenue) SELECT * FROM customers, {t}",
        "SELECT group_concat({c}) FROM {t}",
        "VALUES ((SELECT {c} FROM {t}))",
        "SELECT * FROM json_each((SELECT json_group_array({c}) FROM {t}))",
        "SELECT region, (SELECT max({c}) FROM {t}) FROM revenue",
        "SELECT * FROM revenue WHERE region IN (SELECT region FROM customers) OR EXISTS (SELECT {c} FROM {t})",
        "SELECT * FROM pragma_table_info('secrets')",
        "SELECT sql FROM sqlite_master",
        "SELECT name FROM sqlite_schema WHERE type = 'table'",
    ];
    (select(SHAPES), hidden())
        .prop_map(|(shape, (table, column))| shape.replace("{t}", &table).replace("{c}", column))
        .boxed()
}
