//! Layer one on its own: what the parser-based check lets through and what it refuses.

use super::*;

fn sqlite(sql: &str) -> Result<CheckedQuery, Refusal> {
    check(sql, SqlDialect::Sqlite, &SqlPolicy::default())
}

fn postgres(sql: &str) -> Result<CheckedQuery, Refusal> {
    check(sql, SqlDialect::Postgres, &SqlPolicy::default())
}

fn both(sql: &str) -> [Result<CheckedQuery, Refusal>; 2] {
    [sqlite(sql), postgres(sql)]
}

#[test]
fn legitimate_reads_pass_in_both_dialects() {
    for sql in [
        "SELECT * FROM revenue",
        "SELECT region, SUM(amount) AS total FROM revenue GROUP BY region ORDER BY total DESC",
        "WITH big AS (SELECT * FROM revenue WHERE amount > 100) SELECT region FROM big",
        "WITH a AS (SELECT 1 AS x), b AS (SELECT x + 1 AS y FROM a) SELECT * FROM b",
        "SELECT * FROM revenue WHERE note LIKE '%&%'",
        "SELECT 'update revenue set amount = 0' AS text, 'drop table revenue' AS other",
        "SELECT * FROM revenue -- DROP TABLE revenue",
        "/* DELETE FROM revenue */ SELECT amount FROM revenue",
        "SELECT region FROM revenue UNION ALL SELECT region FROM customers",
        "SELECT * FROM revenue WHERE 1=1 OR 1=1",
        "VALUES (1, 'a'), (2, 'b')",
        "SELECT COUNT(*), AVG(amount), MIN(amount), MAX(amount) FROM revenue",
        "SELECT region, ROW_NUMBER() OVER (PARTITION BY region ORDER BY amount) FROM revenue",
        "SELECT * FROM (SELECT region FROM revenue) AS sub WHERE region IN (SELECT name FROM regions)",
        "SELECT * FROM revenue r JOIN customers c ON c.id = r.customer_id",
        "SELECT * FROM revenue;",
        "SELECT UPPER(region), COALESCE(note, '') FROM revenue",
        "SELECT region FROM revenue INTERSECT SELECT region FROM customers",
        "SELECT region FROM revenue EXCEPT SELECT region FROM customers",
        "SELECT CASE WHEN amount > 10 THEN 'big' ELSE 'small' END FROM revenue",
    ] {
        for result in both(sql) {
            assert!(result.is_ok(), "{sql}: {result:?}");
        }
    }
}

#[test]
fn placeholders_of_each_dialect_parse() {
    assert!(sqlite("SELECT * FROM revenue WHERE region = ? AND amount > ?2").is_ok());
    assert!(postgres("SELECT * FROM revenue WHERE region = $1 AND amount > $2").is_ok());
}

#[test]
fn a_recursive_cte_ending_in_select_passes() {
    let sql = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 10) \
               SELECT x FROM n";
    for result in both(sql) {
        assert!(result.is_ok(), "{result:?}");
    }
}

#[test]
fn more_than_one_statement_is_refused_naming_them() {
    let refusal = sqlite("SELECT * FROM revenue; DROP TABLE revenue; --").expect_err("refused");
    assert_eq!(
        refusal,
        Refusal::StatementCount("2 (SELECT, DROP)".to_owned())
    );
    assert!(matches!(
        postgres("SELECT * FROM revenue; INSERT INTO revenue VALUES (1)"),
        Err(Refusal::StatementCount(_))
    ));
}

#[test]
fn an_empty_statement_is_refused() {
    assert_eq!(
        sqlite("  -- nothing\n").expect_err("refused"),
        Refusal::StatementCount("none".to_owned())
    );
}

#[test]
fn statements_other_than_queries_are_refused_by_keyword() {
    for (sql, keyword) in [
        ("DROP TABLE revenue", "DROP"),
        ("DELETE FROM revenue", "DELETE"),
        ("UPDATE revenue SET amount = 0", "UPDATE"),
        ("INSERT INTO revenue VALUES (1)", "INSERT"),
        ("CREATE TABLE t (x INT)", "CREATE"),
        ("ALTER TABLE revenue ADD COLUMN x INT", "ALTER"),
        ("EXPLAIN ANALYZE SELECT * FROM revenue", "EXPLAIN"),
        ("EXPLAIN SELECT * FROM revenue", "EXPLAIN"),
        ("TRUNCATE revenue", "TRUNCATE"),
    ] {
        for result in both(sql) {
            assert_eq!(
                result.expect_err("refused"),
                Refusal::NotAQuery(keyword.to_owned()),
                "{sql}"
            );
        }
    }
    let pragma = sqlite("PRAGMA writable_schema = ON");
    assert!(
        matches!(pragma, Err(Refusal::NotAQuery(_) | Refusal::Syntax(_))),
        "{pragma:?}"
    );
    assert!(matches!(
        sqlite("ATTACH DATABASE '/tmp/x.db' AS x"),
        Err(Refusal::NotAQuery(_))
    ));
    assert!(matches!(
        postgres("COPY revenue TO '/tmp/out'"),
        Err(Refusal::NotAQuery(_))
    ));
    assert!(matches!(
        postgres("SET default_transaction_read_only = off"),
        Err(Refusal::NotAQuery(_))
    ));
}

#[test]
fn select_into_is_refused() {
    assert_eq!(
        postgres("SELECT * INTO stolen FROM revenue").expect_err("refused"),
        Refusal::Forbidden("SELECT ... INTO")
    );
}

#[test]
fn locking_clauses_are_refused() {
    for sql in [
        "SELECT * FROM revenue FOR UPDATE",
        "SELECT * FROM revenue FOR SHARE",
        "SELECT * FROM (SELECT * FROM revenue FOR UPDATE) AS locked",
    ] {
        assert!(matches!(postgres(sql), Err(Refusal::Forbidden(_))), "{sql}");
    }
}

#[test]
fn data_modifying_ctes_are_refused() {
    for sql in [
        "WITH gone AS (DELETE FROM revenue RETURNING *) SELECT * FROM gone",
        "WITH moved AS (UPDATE revenue SET amount = 0 RETURNING *) SELECT 1",
        "WITH added AS (INSERT INTO revenue VALUES (1) RETURNING *) SELECT * FROM added",
    ] {
        let refusal = postgres(sql).expect_err("refused");
        assert!(
            matches!(refusal, Refusal::Forbidden(_) | Refusal::NotAQuery(_)),
            "{sql}: {refusal:?}"
        );
    }
}

#[test]
fn the_table_command_runs_as_the_select_it_means() {
    for (sql, runs) in [
        ("TABLE revenue", "SELECT * FROM revenue"),
        (
            "  table revenue ORDER BY 1 LIMIT 2",
            "  SELECT * FROM revenue ORDER BY 1 LIMIT 2",
        ),
        (
            "SELECT 1 AS x UNION ALL TABLE revenue",
            "SELECT 1 AS x UNION ALL SELECT * FROM revenue",
        ),
        (
            "WITH r AS (TABLE revenue) SELECT * FROM r",
            "WITH r AS (SELECT * FROM revenue) SELECT * FROM r",
        ),
        // A column or a string named table is not the command.
        (
            "SELECT 'TABLE x', \"table\" FROM t",
            "SELECT 'TABLE x', \"table\" FROM t",
        ),
    ] {
        let checked = postgres(sql).expect(sql);
        assert_eq!(checked.sql(), runs);
    }
    let policy = SqlPolicy::default().allow_tables(["revenue"]);
    assert!(check("TABLE revenue", SqlDialect::Postgres, &policy).is_ok());
    assert_eq!(
        check("TABLE secrets", SqlDialect::Postgres, &policy).map(|_| ()),
        Err(Refusal::Table("secrets".to_owned()))
    );
    assert_eq!(
        check(
            "SELECT 1 UNION TABLE secrets",
            SqlDialect::Postgres,
            &policy
        )
        .map(|_| ()),
        Err(Refusal::Table("secrets".to_owned()))
    );
}

#[test]
fn side_effecting_functions_are_refused_wherever_they_appear() {
    for (sql, function) in [
        ("SELECT pg_read_file('/etc/passwd')", "pg_read_file"),
        ("SELECT lo_export(1, '/tmp/x')", "lo_export"),
        (
            "SELECT set_config('default_transaction_read_only', 'off', false)",
            "set_config",
        ),
        ("SELECT nextval('revenue_id_seq')", "nextval"),
        ("SELECT pg_sleep(100)", "pg_sleep"),
        (
            "SELECT * FROM revenue WHERE amount > (SELECT pg_sleep(1))",
            "pg_sleep",
        ),
        (
            "SELECT 1 ORDER BY pg_terminate_backend(1)",
            "pg_terminate_backend",
        ),
        (
            "SELECT * FROM dblink('host=evil', 'DROP TABLE revenue') AS t(x int)",
            "dblink",
        ),
        (
            "SELECT query_to_xml('DELETE FROM revenue', true, true, '')",
            "query_to_xml",
        ),
        (
            "SELECT pg_catalog.pg_read_file('/etc/passwd')",
            "pg_catalog.pg_read_file",
        ),
        ("SELECT evil.count(*) FROM revenue", "evil.count"),
        ("SELECT \"Count\"(*) FROM revenue", "Count"),
    ] {
        assert_eq!(
            postgres(sql).expect_err("refused"),
            Refusal::Function(function.to_owned()),
            "{sql}"
        );
    }
    assert_eq!(
        sqlite("SELECT load_extension('/tmp/evil.so')").expect_err("refused"),
        Refusal::Function("load_extension".to_owned())
    );
}

#[test]
fn table_valued_functions_go_through_the_function_list() {
    assert!(postgres("SELECT * FROM generate_series(1, 10)").is_ok());
    assert!(sqlite("SELECT value FROM json_each('[1,2]')").is_ok());
    assert_eq!(
        sqlite("SELECT * FROM pragma_table_info('secrets')").expect_err("refused"),
        Refusal::Function("pragma_table_info".to_owned())
    );
}

#[test]
fn an_added_function_is_allowed() {
    let policy = SqlPolicy::default().allow_function("fiscal_quarter");
    assert!(
        check(
            "SELECT fiscal_quarter(day) FROM revenue",
            SqlDialect::Postgres,
            &policy
        )
        .is_ok()
    );
}

#[test]
fn invalid_sql_is_a_syntax_error() {
    for sql in [
        "'; EXEC xp_cmdshell('dir'); --",
        "SELEC * FROM revenue",
        "SELECT * FROM",
    ] {
        for result in both(sql) {
            assert!(
                result.as_ref().is_err_and(Refusal::is_invalid_input),
                "{sql}: {result:?}"
            );
        }
    }
}

mod allowed_tables {
    use super::*;

    fn restricted(sql: &str, dialect: SqlDialect) -> Result<CheckedQuery, Refusal> {
        let policy = SqlPolicy::default().allow_tables(["revenue", "customers"]);
        check(sql, dialect, &policy)
    }

    #[test]
    fn listed_tables_pass_in_every_position() {
        for sql in [
            "SELECT * FROM revenue",
            "SELECT * FROM Revenue",
            "SELECT * FROM main.revenue",
            "SELECT * FROM revenue JOIN customers ON true",
            "SELECT * FROM revenue WHERE id IN (SELECT id FROM customers)",
            "WITH r AS (SELECT * FROM revenue) SELECT * FROM r",
        ] {
            assert!(restricted(sql, SqlDialect::Sqlite).is_ok(), "{sql}");
        }
        assert!(restricted("SELECT * FROM public.revenue", SqlDialect::Postgres).is_ok());
    }

    #[test]
    fn other_tables_and_system_catalogs_are_refused() {
        for (sql, table) in [
            ("SELECT * FROM secrets", "secrets"),
            ("SELECT * FROM sqlite_master", "sqlite_master"),
            (
                "SELECT * FROM revenue WHERE id IN (SELECT id FROM secrets)",
                "secrets",
            ),
            (
                "SELECT (SELECT MAX(x) FROM secrets) FROM revenue",
                "secrets",
            ),
            (
                "SELECT * FROM revenue, (SELECT * FROM secrets) AS s",
                "secrets",
            ),
            (
                "SELECT * FROM revenue UNION SELECT * FROM secrets",
                "secrets",
            ),
            ("SELECT * FROM other.revenue", "other.revenue"),
        ] {
            assert_eq!(
                restricted(sql, SqlDialect::Sqlite).expect_err("refused"),
                Refusal::Table(table.to_owned()),
                "{sql}"
            );
        }
        for (sql, table) in [
            ("SELECT * FROM pg_catalog.pg_authid", "pg_catalog.pg_authid"),
            ("SELECT * FROM pg_shadow", "pg_shadow"),
            (
                "SELECT * FROM information_schema.tables",
                "information_schema.tables",
            ),
            ("SELECT * FROM \"Revenue\"", "Revenue"),
        ] {
            assert_eq!(
                restricted(sql, SqlDialect::Postgres).expect_err("refused"),
                Refusal::Table(table.to_owned()),
                "{sql}"
            );
        }
    }

    #[test]
    fn a_cte_cannot_smuggle_a_table_past_the_list() {
        // The CTE's own body refers to the real table `secrets`, not to itself.
        let sql = "WITH secrets AS (SELECT * FROM secrets) SELECT * FROM secrets";
        assert_eq!(
            restricted(sql, SqlDialect::Postgres).expect_err("refused"),
            Refusal::Table("secrets".to_owned())
        );
        // A CTE defined inside a subquery is not in scope outside it.
        let sql =
            "SELECT * FROM (WITH secrets AS (SELECT 1 AS x) SELECT x FROM secrets) AS a, secrets";
        assert_eq!(
            restricted(sql, SqlDialect::Sqlite).expect_err("refused"),
            Refusal::Table("secrets".to_owned())
        );
        // A later CTE is not visible in an earlier one's body.
        let sql = "WITH a AS (SELECT * FROM secrets), secrets AS (SELECT 1) SELECT * FROM a";
        assert_eq!(
            restricted(sql, SqlDialect::Sqlite).expect_err("refused"),
            Refusal::Table("secrets".to_owned())
        );
    }

    #[test]
    fn ctes_in_scope_are_not_tables() {
        for sql in [
            "WITH totals AS (SELECT SUM(amount) AS t FROM revenue) SELECT t FROM totals",
            "WITH a AS (SELECT * FROM revenue), b AS (SELECT * FROM a) SELECT * FROM b",
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 3) SELECT x FROM n",
            "WITH a AS (SELECT 1 AS x) SELECT * FROM (SELECT * FROM a) AS inner_a",
        ] {
            assert!(restricted(sql, SqlDialect::Postgres).is_ok(), "{sql}");
        }
    }
}

#[test]
fn text_sqlite_would_run_as_several_statements_is_refused() {
    // sqlparser reads one query with a cast and a string; SQLite reads a Tcl-style parameter
    // that swallows the quote, then two more statements.
    let sql = "SELECT 1 AS a, $1::b(') ; SELECT token, 2 FROM secrets ; SELECT 3, $2::d(')";
    assert_eq!(
        sqlite(sql).expect_err("refused"),
        Refusal::Placeholder("$1::b(')".to_owned())
    );
    // The same trick inside one statement would hide a table from the allow-list.
    let sql = "SELECT 1, $1::b(') , (SELECT token FROM secrets) , $2::d(')";
    assert!(matches!(sqlite(sql), Err(Refusal::Placeholder(_))));
}

#[test]
fn sqlite_accepts_question_mark_parameters_only() {
    assert!(sqlite("SELECT * FROM t WHERE a = ? AND b = ?2").is_ok());
    for sql in ["SELECT :a", "SELECT @a", "SELECT $a"] {
        assert!(matches!(sqlite(sql), Err(Refusal::Placeholder(_))), "{sql}");
    }
}

#[test]
fn the_longest_operator_chain_accepted_is_checked_without_overflowing() {
    // 1,998 additions: 3,998 tokens, a tree 1,998 levels deep.
    let chain = format!("SELECT 1{}", "+1".repeat(1_998));
    assert!(postgres(&chain).is_ok());
    let chain = format!("SELECT 1{}", " OR 1=1".repeat(999));
    assert!(sqlite(&chain).is_ok());
}

#[test]
fn a_statement_of_too_many_tokens_is_refused_before_it_is_parsed() {
    // 20,000 characters of `+1`: a tree 10,000 levels deep, were it parsed.
    let chain = format!("SELECT 1{}", "+1".repeat(9_995));
    assert_eq!(
        postgres(&chain).expect_err("too complex"),
        Refusal::TooComplex(19_992)
    );
}

#[test]
fn a_statement_over_the_length_limit_is_refused() {
    let long = format!("SELECT 1 -- {}", "x".repeat(100_000));
    assert_eq!(
        postgres(&long).expect_err("too long"),
        Refusal::TooLong(100_012)
    );
}

#[test]
fn names_fold_as_the_databases_fold_them_ascii_only() {
    let policy = SqlPolicy::default().allow_tables(["revenue"]);
    // A Kelvin sign lower-cases to `k` in Unicode, but not in SQLite or PostgreSQL: the CTE
    // named with it does not hide the real table `kv`.
    let sql = "WITH \u{212A}v AS (SELECT 1) SELECT * FROM kv";
    for dialect in [SqlDialect::Sqlite, SqlDialect::Postgres] {
        assert_eq!(
            check(sql, dialect, &policy).expect_err("refused"),
            Refusal::Table("kv".to_owned())
        );
    }
}

#[test]
fn the_body_stops_before_the_terminating_semicolon() {
    for (sql, body) in [
        ("SELECT 1", "SELECT 1"),
        ("SELECT ';' AS a; -- done", "SELECT ';' AS a"),
        ("SELECT 1 -- no ; here\n;", "SELECT 1 -- no ; here\n"),
        ("SELECT 'é;' AS a\n  ;;", "SELECT 'é;' AS a\n  "),
    ] {
        let checked = postgres(sql).expect("a query");
        assert_eq!(checked.body(), body, "{sql}");
    }
}

#[test]
fn with_an_allow_list_casts_to_catalog_types_are_refused() {
    let policy = SqlPolicy::default().allow_tables(["revenue"]);
    for sql in [
        "SELECT g::oid::regclass::text FROM generate_series(1, 10) AS g",
        "SELECT 'secrets'::regclass",
        "SELECT CAST(10 AS regrole)",
        "SELECT regclass 'secrets'",
    ] {
        assert!(
            matches!(
                check(sql, SqlDialect::Postgres, &policy),
                Err(Refusal::Forbidden(_))
            ),
            "{sql}"
        );
    }
    // Without a list everything may be read, the catalog included.
    assert!(postgres("SELECT 'revenue'::regclass").is_ok());
    assert!(
        check(
            "SELECT amount::text FROM revenue",
            SqlDialect::Postgres,
            &policy
        )
        .is_ok()
    );
}

#[test]
fn array_subqueries_are_allowed() {
    assert!(postgres("SELECT ARRAY(SELECT region FROM revenue) AS regions").is_ok());
}

#[test]
fn operators_from_outside_pg_catalog_are_refused() {
    for sql in [
        "SELECT 1 OPERATOR(public.###) 1",
        "SELECT 1 OPERATOR(evil.+) 1",
        "SELECT 1 WHERE (1 OPERATOR(public.=) 1)",
    ] {
        assert!(
            matches!(postgres(sql), Err(Refusal::NotBuiltIn(_))),
            "{sql}: {:?}",
            postgres(sql)
        );
    }
    // Built-in operators, qualified or not, and unqualified custom ones (which the database
    // then resolves in pg_catalog only) pass the check.
    for sql in [
        "SELECT 1 OPERATOR(pg_catalog.+) 1",
        "SELECT 1 + 1",
        "SELECT ARRAY[1] @> ARRAY[1]",
        "SELECT 1 ### 1",
    ] {
        assert!(postgres(sql).is_ok(), "{sql}: {:?}", postgres(sql));
    }
}

#[test]
fn casts_to_types_outside_pg_catalog_are_refused() {
    for sql in [
        "SELECT NULL::public.secrets",
        "SELECT (NULL::evil.t).x",
        "SELECT CAST(NULL AS public.secrets)",
        "SELECT * FROM json_to_record('{}') AS x(a public.secrets)",
    ] {
        assert!(
            matches!(postgres(sql), Err(Refusal::NotBuiltIn(_))),
            "{sql}: {:?}",
            postgres(sql)
        );
    }
    let listed = SqlPolicy::default().allow_tables(["revenue"]);
    for sql in ["SELECT (NULL::secrets).token", "SELECT NULL::pg_authid"] {
        assert!(
            matches!(
                check(sql, SqlDialect::Postgres, &listed),
                Err(Refusal::NotBuiltIn(_))
            ),
            "{sql}"
        );
    }
    for sql in [
        "SELECT '10.0.0.1'::inet, 1::money, 'a'::tsvector, '(1,2)'::point, B'1'::varbit",
        "SELECT '1 day'::interval, 1::pg_catalog.int8, '{}'::jsonb, 'x'::text",
    ] {
        assert!(
            check(sql, SqlDialect::Postgres, &listed).is_ok(),
            "{sql}: {:?}",
            check(sql, SqlDialect::Postgres, &listed)
        );
    }
}

#[test]
fn a_statement_nested_too_deep_says_so_with_the_limit() {
    let nested = |depth: usize| {
        let mut sql = "SELECT 1".to_owned();
        for _ in 0..depth {
            sql = format!("SELECT * FROM ({sql}) AS t");
        }
        sql
    };
    for result in both(&nested(25)) {
        assert!(result.is_ok(), "{result:?}");
    }
    for result in both(&nested(150)) {
        assert_eq!(
            result.map(|_| ()),
            Err(Refusal::TooDeep(MAX_STATEMENT_DEPTH))
        );
    }
    let parentheses = format!("SELECT {}1{}", "(".repeat(300), ")".repeat(300));
    assert_eq!(
        sqlite(&parentheses).map(|_| ()),
        Err(Refusal::TooDeep(MAX_STATEMENT_DEPTH))
    );
    assert!(Refusal::TooDeep(MAX_STATEMENT_DEPTH).is_invalid_input());
}

#[test]
fn unqualified_tables_are_found_where_they_are_written() {
    let sql = "SELECT r.id FROM revenue r JOIN \"Customers\" c ON true \
               WHERE r.id IN (SELECT id FROM public.x) AND EXISTS (SELECT 1 FROM y)";
    let checked = postgres(sql).expect("passes");
    let found: Vec<(&str, &str)> = checked
        .unqualified_tables()
        .iter()
        .map(|(range, name)| (&sql[range.clone()], name.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("revenue", "revenue"),
            ("\"Customers\"", "Customers"),
            ("y", "y")
        ]
    );
    // CTE names, functions in FROM and multi-line text are placed right too.
    let sql = "WITH t AS (SELECT 1 AS a)\nSELECT * FROM t,\n  généré, generate_series(1, 2)";
    let checked = postgres(sql).expect("passes");
    let found: Vec<&str> = checked
        .unqualified_tables()
        .iter()
        .map(|(range, _)| &sql[range.clone()])
        .collect();
    assert_eq!(found, ["généré"]);
}

#[test]
fn a_function_in_an_in_target_is_checked_as_a_function() {
    assert!(sqlite("SELECT 1 WHERE 1 IN json_each('[1]')").is_ok());
    assert_eq!(
        sqlite("SELECT 1 WHERE 1 IN load_extension('x')").map(|_| ()),
        Err(Refusal::Function("load_extension".to_owned()))
    );
    let listed = SqlPolicy::default().allow_tables(["revenue"]);
    assert!(
        check(
            "SELECT 1 WHERE 1 IN json_each('[1]')",
            SqlDialect::Sqlite,
            &listed
        )
        .is_ok()
    );
    assert_eq!(
        check("SELECT 1 WHERE 1 IN secrets", SqlDialect::Sqlite, &listed).map(|_| ()),
        Err(Refusal::Table("secrets".to_owned()))
    );
}

#[test]
fn row_constructors_and_full_text_functions_pass() {
    assert!(postgres("SELECT ROW(1, 'a')").is_ok());
    assert!(
        sqlite("SELECT highlight(d, 0, '[', ']'), snippet(d, 0, '<', '>', '', 4), bm25(d) FROM d WHERE d MATCH 'x'")
            .is_ok()
    );
}

#[test]
fn rows_from_runs_as_written_with_its_functions_checked() {
    let sql = "SELECT * FROM ROWS FROM (generate_series(1, 2), unnest(ARRAY['a'])) \
               WITH ORDINALITY AS x(a, b, n) JOIN revenue ON true";
    let checked = postgres(sql).expect("passes");
    assert_eq!(checked.sql(), sql, "runs as written");
    let found: Vec<&str> = checked
        .unqualified_tables()
        .iter()
        .map(|(range, _)| &sql[range.clone()])
        .collect();
    assert_eq!(found, ["revenue"]);
    assert_eq!(
        postgres("SELECT * FROM ROWS FROM (pg_read_file('/etc/passwd')) AS x(a)").map(|_| ()),
        Err(Refusal::Function("pg_read_file".to_owned()))
    );
}
