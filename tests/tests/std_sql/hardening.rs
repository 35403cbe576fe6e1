//! What an outside attack campaign found in the SQL tools, each as the specification it broke:
//! memory bombs, one caller starving the others, functions and operators outside
//! `pg_catalog`, FACT's own tables, and legitimate SQL that was refused.

use std::time::Duration;

use fact_runtime::{ToolCall, ToolResult};
use fact_tools_std::sql::SqlPolicy;
use serde_json::{Value, json};
use sqlx::Connection as _;

use super::fixture::{Backend, Fixture};

fn assert_status(result: &ToolResult, status: u16, context: &str) {
    assert_eq!(result.status_code, status, "{context}: {result:?}");
}

fn rows(result: ToolResult) -> Value {
    assert_eq!(result.status_code, 200, "{result:?}");
    result.data.expect("data")["rows"].clone()
}

/// Statements that would each build far more than the result cap.
const SQLITE_BOMBS: &[&str] = &[
    "SELECT zeroblob(1000000000), zeroblob(1000000000)",
    "SELECT hex(zeroblob(100000000))",
    "SELECT length(replace(hex(zeroblob(1000000)), '0', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'))",
    "WITH RECURSIVE r(s) AS (SELECT 'x' UNION ALL SELECT s || s FROM r) SELECT length(s) FROM r",
    "SELECT length(group_concat(hex(zeroblob(1000000)))) FROM (WITH RECURSIVE n(i) AS \
     (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) SELECT i FROM n)",
    "SELECT substr(hex(zeroblob(500000000)), 1, 10)",
];

#[tokio::test]
async fn sqlite_values_larger_than_the_result_cap_are_refused_before_they_are_built() {
    let fixture = Fixture::sqlite(SqlPolicy::default()).await;
    for bomb in SQLITE_BOMBS {
        let result = fixture.query(bomb).await;
        assert_status(&result, 403, bomb);
        assert_eq!(
            result.metadata.extra.get("limit"),
            Some(&json!("max_result_bytes")),
            "{bomb}: {result:?}"
        );
        let message = result.error.as_deref().unwrap_or_default();
        assert!(message.contains("FACT_SQL_MAX_RESULT_BYTES"), "{message}");
    }
    // A batch of them is refused call by call, and the tools keep serving.
    let calls = (0..8)
        .map(|_| ToolCall::new("SQL.Query", json!({"statement": SQLITE_BOMBS[0]})))
        .collect();
    for result in fixture.executor.execute_tool_calls(calls).await {
        assert_status(&result, 403, "batch");
    }
    assert_eq!(
        rows(fixture.query("SELECT length(zeroblob(1000)) AS n").await),
        json!([{"n": 1000}])
    );
    // SQLite's printf() stops at the same limit, and answers NULL rather than an error.
    assert_eq!(
        rows(
            fixture
                .query("SELECT printf('%.*c', 1000000000, 'x') AS p")
                .await
        ),
        json!([{"p": null}])
    );
}

#[tokio::test]
async fn sqlite_columns_share_the_result_cap() {
    let fixture = Fixture::sqlite(SqlPolicy::default().max_result_bytes(256 * 1024)).await;
    // One column may take the whole cap; four share it, but each keeps at least 64 KiB.
    assert_eq!(
        rows(
            fixture
                .query("SELECT length(hex(zeroblob(100000))) AS n")
                .await
        ),
        json!([{"n": 200_000}])
    );
    let four = "SELECT hex(zeroblob(50000)) AS a, 'b' AS b, 'c' AS c, 'd' AS d";
    assert_status(&fixture.query(four).await, 403, four);
    let fine = "SELECT length(hex(zeroblob(30000))) AS a, 'b' AS b, 'c' AS c, 'd' AS d";
    assert_status(&fixture.query(fine).await, 200, fine);
}

#[tokio::test]
async fn postgres_rows_larger_than_the_result_cap_are_never_read() {
    let Some(fixture) = Fixture::postgres(
        "postgres_rows_larger_than_the_result_cap_are_never_read",
        |_| SqlPolicy::default(),
    )
    .await
    else {
        return;
    };
    for bomb in [
        "SELECT repeat('x', 100000000) AS big",
        "SELECT repeat('x', 5000000) AS a, repeat('y', 5000000) AS b",
        "SELECT decode(repeat('ab', 5000000), 'hex') AS bytes",
    ] {
        let result = fixture.query(bomb).await;
        assert_status(&result, 403, bomb);
        assert_eq!(result.metadata.extra["limit"], "max_result_bytes", "{bomb}");
    }
    // A big row after small ones ends the result there: the rows before it are kept.
    let later = fixture
        .query(
            "SELECT n, CASE WHEN n = 3 THEN repeat('x', 9000000) ELSE 'small' END AS v \
             FROM generate_series(1, 5) AS n ORDER BY n",
        )
        .await;
    assert_eq!(later.status_code, 200, "{later:?}");
    let data = later.data.expect("data");
    assert_eq!(data["row_count"], 2);
    assert_eq!(data["truncated"], true);
    fixture.drop_schema().await;
}

/// `count` calls of `user`, each a statement that runs until the statement timeout, started
/// on tasks of their own.
fn endless_statements(
    executor: &std::sync::Arc<fact_runtime::ToolExecutor>,
    user: &'static str,
    count: usize,
) -> tokio::task::JoinSet<ToolResult> {
    const ENDLESS: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) \
                           SELECT count(*) AS n FROM c";
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..count {
        let executor = std::sync::Arc::clone(executor);
        calls.spawn(async move {
            executor
                .execute_tool_call(
                    ToolCall::new("SQL.Query", json!({"statement": ENDLESS})).user(user),
                )
                .await
        });
    }
    calls
}

#[tokio::test]
async fn one_user_cannot_take_every_connection() {
    let fixture = Fixture::sqlite(
        SqlPolicy::default()
            .max_connections(4)
            .max_statements_per_user(2)
            .queue_timeout(Duration::from_millis(300))
            .statement_timeout(Duration::from_secs(8)),
    )
    .await;
    let executor = std::sync::Arc::new(fixture.executor.clone());
    let mut alice = endless_statements(&executor, "alice", 8);
    // Six of alice's eight wait out their turn (300 ms) and are told the database is busy;
    // the other two run until the 8 s statement timeout. The outer bound only turns a broken
    // build into a failure instead of a hang.
    for _ in 0..6 {
        let result = tokio::time::timeout(Duration::from_secs(4), alice.join_next())
            .await
            .expect("six calls answer before the statement timeout")
            .expect("a call is left")
            .expect("the call task joins");
        assert_status(&result, 503, "alice past her share");
        assert_eq!(result.metadata.retry_after_ms, Some(1000));
        assert!(
            result.error.as_deref().unwrap_or_default().contains(
                "the database is busy: user 'alice' already has 2 SQL statement(s) running"
            ),
            "{result:?}"
        );
    }
    assert!(
        alice.try_join_next().is_none(),
        "two of alice's statements still run"
    );
    // Bob is not held up by alice: his statement runs at once, while hers still run.
    let bob = executor
        .execute_tool_call(
            ToolCall::new("SQL.Query", json!({"statement": "SELECT 1 AS one"})).user("bob"),
        )
        .await;
    assert_eq!(rows(bob), json!([{"one": 1}]));
    assert!(
        alice.try_join_next().is_none(),
        "alice's two were still running while bob was answered"
    );
    while let Some(result) = alice.join_next().await {
        assert_status(&result.expect("joins"), 504, "alice's running statements");
    }
}

#[tokio::test]
async fn a_call_that_finds_every_connection_busy_is_a_503_not_a_timeout() {
    let fixture = Fixture::sqlite(
        SqlPolicy::default()
            .max_connections(2)
            .max_statements_per_user(2)
            .queue_timeout(Duration::from_millis(300))
            .statement_timeout(Duration::from_secs(8)),
    )
    .await;
    let executor = std::sync::Arc::new(fixture.executor.clone());
    let mut holders = endless_statements(&executor, "alice", 2);
    // Once alice's two statements hold both connections, bob's call waits for one and is
    // told the database is busy. Until they start, his calls are answered (tries bounded by
    // time, well inside the statement timeout).
    let mut bob = None;
    let tries_end = std::time::Instant::now() + Duration::from_secs(4);
    while std::time::Instant::now() < tries_end {
        let result = executor
            .execute_tool_call(
                ToolCall::new("SQL.Query", json!({"statement": "SELECT 1"})).user("bob"),
            )
            .await;
        if result.status_code != 200 {
            bob = Some(result);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let bob = bob.expect("alice's statements take both connections");
    assert_status(&bob, 503, "bob while both connections are taken");
    assert_eq!(
        bob.metadata.error_type.as_deref(),
        Some("ServiceUnavailableError")
    );
    assert!(
        bob.error
            .as_deref()
            .unwrap_or_default()
            .contains("all 2 connections to the database stayed in use"),
        "{bob:?}"
    );
    while let Some(result) = holders.join_next().await {
        assert_status(
            &result.expect("joins"),
            504,
            "alice's statements stop at the statement timeout",
        );
    }
}

#[tokio::test]
async fn postgres_functions_operators_and_types_resolve_in_pg_catalog_only() {
    let mut shadow = String::new();
    let Some(fixture) = Fixture::postgres_with(
        "postgres_functions_operators_and_types_resolve_in_pg_catalog_only",
        |schema| {
            SqlPolicy::default()
                .default_schema(schema)
                .allow_tables(["revenue", "customers"])
        },
        &[
            // What an attacker hopes a query reaches: functions and an operator that read the
            // table off the allow-list, in the schema the role's search_path finds first.
            "CREATE FUNCTION {s}upper(integer) RETURNS text LANGUAGE sql \
             AS $$ SELECT token FROM {s}secrets $$",
            "CREATE FUNCTION {s}steal(integer, integer) RETURNS text LANGUAGE sql \
             AS $$ SELECT token FROM {s}secrets $$",
            "CREATE OPERATOR {s}### (LEFTARG = integer, RIGHTARG = integer, FUNCTION = {s}steal)",
        ],
        |url, schema| {
            shadow = schema.to_owned();
            let separator = if url.contains('?') { '&' } else { '?' };
            format!("{url}{separator}options=-c%20search_path%3D{schema}%2Cpublic")
        },
    )
    .await
    else {
        return;
    };
    for attack in [
        "SELECT upper(1) AS x".to_owned(),
        "SELECT 1 ### 1 AS x".to_owned(),
        "SELECT pg_catalog.upper(1) AS x".to_owned(),
        format!("SELECT 1 OPERATOR({shadow}.###) 1 AS x"),
        format!("SELECT {shadow}.upper(1) AS x"),
        "SELECT (NULL::secrets).token AS x".to_owned(),
        format!("SELECT (NULL::{shadow}.secrets).token AS x"),
        "SELECT NULL::pg_authid AS x".to_owned(),
    ] {
        let result = fixture.query(&attack).await;
        assert!(
            matches!(result.status_code, 400 | 403),
            "{attack}: {result:?}"
        );
        assert!(
            !format!("{result:?}").contains("hunter2"),
            "{attack} reached the secret: {result:?}"
        );
    }
    // Built-in functions, operators and types keep working, and an unqualified table is the
    // allow-listed one of the policy's schema.
    assert_eq!(
        rows(
            fixture
                .query(
                    "SELECT upper(region) AS r, 2 ^ 3 AS p, '10.0.0.1'::inet << '10.0.0.0/8'::inet AS i \
                     FROM revenue WHERE id = 1"
                )
                .await
        ),
        json!([{"r": "NORTH", "p": 8.0, "i": true}])
    );
    fixture.drop_schema().await;
}

#[tokio::test]
async fn postgres_unqualified_tables_mean_the_policys_schema_not_the_search_path() {
    let Some(fixture) = Fixture::postgres_with(
        "postgres_unqualified_tables_mean_the_policys_schema_not_the_search_path",
        |_| SqlPolicy::default().default_schema("fact_no_such_schema"),
        &[],
        |url, schema| {
            let separator = if url.contains('?') { '&' } else { '?' };
            format!("{url}{separator}options=-c%20search_path%3D{schema}")
        },
    )
    .await
    else {
        return;
    };
    // The role's search_path finds the fixture's revenue; the policy's schema has none.
    let result = fixture.query("SELECT * FROM revenue").await;
    assert_status(&result, 400, "unqualified revenue");
    assert!(
        result
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("\"fact_no_such_schema.revenue\" does not exist")
            || result
                .error
                .as_deref()
                .unwrap_or_default()
                .contains("fact_no_such_schema"),
        "{result:?}"
    );
    // pg_catalog's own relations still resolve there, as PostgreSQL resolves them first.
    assert_status(
        &fixture.query("SELECT count(*) AS n FROM pg_type").await,
        200,
        "pg_type",
    );
    fixture.drop_schema().await;
}

#[tokio::test]
async fn facts_own_tables_are_never_shown_even_in_the_same_database() {
    let fixture = Fixture::sqlite_with(
        SqlPolicy::default(),
        &[
            "CREATE TABLE fact_audit_log (call_id TEXT, user_id TEXT, tool_name TEXT)",
            "INSERT INTO fact_audit_log VALUES ('1', 'alice', 'SQL.Query')",
            "CREATE TABLE fact_oauth_grants (user_id TEXT, token BLOB)",
        ],
    )
    .await;
    for attack in [
        "SELECT user_id, tool_name FROM fact_audit_log",
        "SELECT * FROM main.fact_audit_log",
        "SELECT * FROM FACT_AUDIT_LOG",
        "SELECT * FROM \"fact_oauth_grants\"",
        "SELECT * FROM revenue WHERE id IN (SELECT 1 FROM fact_audit_log)",
    ] {
        let result = fixture.query(attack).await;
        assert_status(&result, 403, attack);
    }
    let schema = fixture.call("SQL.SchemaInfo", json!({})).await;
    let listed = serde_json::to_string(&schema.data).expect("serializes");
    assert!(!listed.contains("fact_"), "{listed}");
    assert!(listed.contains("revenue"), "{listed}");
    let info = fixture
        .call("SQL.TableInfo", json!({"table": "fact_audit_log"}))
        .await;
    assert_status(&info, 403, "TableInfo of the audit log");
}

#[tokio::test]
async fn an_empty_allow_list_allows_no_table() {
    let none: [&str; 0] = [];
    let fixture = Fixture::sqlite(SqlPolicy::default().allow_tables(none)).await;
    assert_status(
        &fixture.query("SELECT * FROM revenue").await,
        403,
        "revenue",
    );
    assert_status(
        &fixture.query("SELECT * FROM sqlite_master").await,
        403,
        "sqlite_master",
    );
    let schema = fixture.call("SQL.SchemaInfo", json!({})).await;
    assert_eq!(schema.data.expect("data")["tables"], json!([]));
}

#[tokio::test]
async fn both_backends_refuse_a_wrong_number_of_parameters() {
    let sqlite = Fixture::sqlite(SqlPolicy::default()).await;
    for (statement, params) in [
        ("SELECT ? AS a, ? AS b", json!([1])),
        ("SELECT ? AS a", json!([1, 2])),
        ("SELECT ?2 AS a", json!([1])),
        ("SELECT 1 AS a", json!([1])),
    ] {
        let result = sqlite
            .call(
                "SQL.Query",
                json!({"statement": statement, "params": params}),
            )
            .await;
        assert_status(&result, 400, statement);
        assert!(
            result
                .error
                .as_deref()
                .unwrap_or_default()
                .contains("placeholder(s) but"),
            "{result:?}"
        );
    }
    let two = sqlite
        .call(
            "SQL.Query",
            json!({"statement": "SELECT ?1 AS a, ?1 AS b", "params": [7]}),
        )
        .await;
    assert_eq!(rows(two), json!([{"a": 7, "b": 7}]));
    let Some(postgres) =
        Fixture::postgres("both_backends_refuse_a_wrong_number_of_parameters", |_| {
            SqlPolicy::default()
        })
        .await
    else {
        return;
    };
    let result = postgres
        .call(
            "SQL.Query",
            json!({"statement": "SELECT $1::int AS a, $2::int AS b", "params": [1]}),
        )
        .await;
    assert_status(&result, 400, "postgres");
    postgres.drop_schema().await;
}

#[tokio::test]
async fn deep_but_valid_nesting_runs_and_too_deep_says_the_limit() {
    let fixture = Fixture::sqlite(SqlPolicy::default()).await;
    let nested = |depth: usize| {
        let mut sql = "SELECT 1 AS x".to_owned();
        for _ in 0..depth {
            sql = format!("SELECT x FROM ({sql}) AS t");
        }
        sql
    };
    assert_eq!(rows(fixture.query(&nested(25)).await), json!([{"x": 1}]));
    let too_deep = fixture.query(&nested(150)).await;
    assert_status(&too_deep, 400, "150 levels");
    let message = too_deep.error.expect("a message");
    assert!(
        message.contains("nests deeper than the 200 levels"),
        "{message}"
    );
    assert!(!message.contains("not valid SQL"), "{message}");
}

#[tokio::test]
async fn sqlite_tables_are_allow_listed_by_their_real_names() {
    let fixture = Fixture::sqlite_with(
        SqlPolicy::default().allow_tables(["Users", "\"Order Items\"", "main.revenue"]),
        &[
            "CREATE TABLE Users (id INTEGER, name TEXT)",
            "INSERT INTO Users VALUES (1, 'ada')",
            "CREATE TABLE \"Order Items\" (sku TEXT)",
            "INSERT INTO \"Order Items\" VALUES ('x-1')",
        ],
    )
    .await;
    for (statement, expected) in [
        ("SELECT name FROM Users", json!([{"name": "ada"}])),
        ("SELECT name FROM users", json!([{"name": "ada"}])),
        ("SELECT sku FROM \"Order Items\"", json!([{"sku": "x-1"}])),
        ("SELECT id FROM revenue WHERE id = 1", json!([{"id": 1}])),
        (
            "SELECT id FROM main.revenue WHERE id = 1",
            json!([{"id": 1}]),
        ),
    ] {
        assert_eq!(
            rows(fixture.query(statement).await),
            expected,
            "{statement}"
        );
    }
    assert_status(
        &fixture.query("SELECT * FROM customers").await,
        403,
        "customers",
    );
    let info = fixture
        .call("SQL.TableInfo", json!({"table": "Users"}))
        .await;
    assert_eq!(info.status_code, 200, "{info:?}");
    let schema = fixture.call("SQL.SchemaInfo", json!({})).await;
    let names: Vec<String> = schema.data.expect("data")["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .map(|table| table["table"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names, ["Order Items", "Users", "revenue"]);
}

#[tokio::test]
async fn postgres_allow_list_entries_qualified_by_the_default_schema_match() {
    let Some(fixture) = Fixture::postgres(
        "postgres_allow_list_entries_qualified_by_the_default_schema_match",
        |schema| {
            SqlPolicy::default()
                .default_schema(schema)
                .allow_tables([format!("{schema}.revenue")])
        },
    )
    .await
    else {
        return;
    };
    assert_eq!(
        rows(fixture.query("SELECT id FROM revenue WHERE id = 2").await),
        json!([{"id": 2}])
    );
    assert_eq!(
        rows(
            fixture
                .query("SELECT id FROM {s}revenue WHERE id = 2")
                .await
        ),
        json!([{"id": 2}])
    );
    assert_status(
        &fixture.query("SELECT * FROM customers").await,
        403,
        "customers",
    );
    fixture.drop_schema().await;
}

#[tokio::test]
async fn postgres_returns_every_type_as_json_or_its_text() {
    let Some(fixture) = Fixture::postgres_with(
        "postgres_returns_every_type_as_json_or_its_text",
        |_| SqlPolicy::default(),
        &["CREATE TABLE {s}kinds (c CHAR(3), i INET, m MONEY, tz TIMETZ, x XML, b BIT(3), \
           vb VARBIT(4), p POINT, mac MACADDR, o OID, ts TSVECTOR)",
          "INSERT INTO {s}kinds VALUES ('ab', '10.0.0.1', 12.5, '12:30:00+02', '<a>1</a>', B'101', \
           B'11', '(1,2)', '08:00:2b:01:02:03', 42, 'fat cat')"],
        |url, _| url.to_owned(),
    )
    .await
    else {
        return;
    };
    assert_eq!(
        rows(fixture.query("SELECT * FROM {s}kinds").await),
        json!([{
            "c": "ab ", "i": "10.0.0.1", "m": "$12.50", "tz": "12:30:00+02", "x": "<a>1</a>",
            "b": "101", "vb": "11", "p": "(1,2)", "mac": "08:00:2b:01:02:03", "o": "42",
            "ts": "'cat' 'fat'"
        }])
    );
    fixture.drop_schema().await;
}

#[tokio::test]
async fn postgres_table_and_row_constructors_are_valid_sql() {
    let Some(fixture) = Fixture::postgres(
        "postgres_table_and_row_constructors_are_valid_sql",
        |schema| SqlPolicy::default().default_schema(schema),
    )
    .await
    else {
        return;
    };
    assert_eq!(
        rows(fixture.query("TABLE customers ORDER BY id LIMIT 1").await),
        json!([{"id": 1, "name": "O'Brien", "region": "north"}])
    );
    assert_eq!(
        rows(fixture.query("SELECT ROW(1, 'a')::text AS r").await),
        json!([{"r": "(1,a)"}])
    );
    assert_eq!(
        rows(
            fixture
                .query(
                    "SELECT * FROM ROWS FROM (generate_series(1, 2), unnest(ARRAY['a'])) AS x(a, b)"
                )
                .await
        ),
        json!([{"a": 1, "b": "a"}, {"a": 2, "b": null}])
    );
    fixture.drop_schema().await;
}

#[tokio::test]
async fn sqlite_table_valued_in_and_full_text_functions_are_valid_sql() {
    let fixture = Fixture::sqlite_with(
        SqlPolicy::default().allow_tables(["revenue", "docs"]),
        &[
            "CREATE VIRTUAL TABLE docs USING fts5(body)",
            "INSERT INTO docs VALUES ('the quick brown fox'), ('a lazy dog')",
        ],
    )
    .await;
    // `x IN json_each(...)` names a function, not a table off the list: SQLite itself then
    // decides (json_each has more than one column, which SQLite's IN refuses).
    let in_function = fixture
        .query("SELECT id FROM revenue WHERE id IN json_each('[1, 3]')")
        .await;
    assert_status(&in_function, 400, "IN json_each");
    assert!(
        in_function
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("sub-select returns 8 columns"),
        "{in_function:?}"
    );
    assert_eq!(
        rows(
            fixture
                .query(
                    "SELECT id FROM revenue WHERE id IN (SELECT value FROM json_each('[1, 3]')) \
                     ORDER BY id"
                )
                .await
        ),
        json!([{"id": 1}, {"id": 3}])
    );
    assert_eq!(
        rows(
            fixture
                .query(
                    "SELECT highlight(docs, 0, '[', ']') AS h, snippet(docs, 0, '<', '>', '…', 3) AS s, \
                     bm25(docs) < 0 AS ranked FROM docs WHERE docs MATCH 'fox'"
                )
                .await
        ),
        json!([{"h": "the quick brown [fox]", "s": "…quick brown <fox>", "ranked": 1}])
    );
    // A function in an IN target is still a function: one off the list is refused.
    assert_status(
        &fixture
            .query("SELECT 1 WHERE 1 IN load_extension('/tmp/evil.so')")
            .await,
        403,
        "IN load_extension(...)",
    );
}

#[tokio::test]
async fn a_postgres_statement_stops_at_its_timeout_even_with_a_huge_value() {
    let Some(fixture) = Fixture::postgres(
        "a_postgres_statement_stops_at_its_timeout_even_with_a_huge_value",
        |_| {
            SqlPolicy::default()
                .statement_timeout(Duration::from_millis(500))
                .max_result_bytes(1 << 30)
        },
    )
    .await
    else {
        return;
    };
    // Each row builds a 100 MB value (one per row: `g` keeps PostgreSQL from folding it into a
    // constant) and throws it away: left alone this runs for hours, so only the timeout ends
    // it, and it is never short of memory.
    let result = fixture
        .query("SELECT max(length(repeat('x', 100000000 + g % 2))) AS n FROM generate_series(1, 1000000) AS g")
        .await;
    assert_status(&result, 504, "a statement past its timeout");
    assert!(
        result
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("0.5 s statement timeout"),
        "{result:?}"
    );
    if let Backend::Postgres { url, .. } = &fixture.backend {
        // The database stopped it, not only the caller. A backend sends the error before it
        // frees the statement's memory and reports itself idle, so its state is read until
        // it leaves `active`, within a bound far below the hours the statement would run.
        let mut probe = sqlx::PgConnection::connect(url).await.expect("reachable");
        let give_up = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let active: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%repeat(''x'', 100000000 + g%' \
                 AND state = 'active' AND pid <> pg_backend_pid()",
            )
            .fetch_one(&mut probe)
            .await
            .expect("counts");
            if active == 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < give_up,
                "the statement still runs 10 s after its timeout"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    fixture.drop_schema().await;
}

/// Runs one `SQL.Query` through the tools' own environment (no `SqlDatabase` handed over) and
/// prints the result as JSON. Run as a child process by the test below, with the environment
/// it sets; alone it is ignored.
#[tokio::test]
#[ignore = "run as a child process by the_sql_tools_read_fact_sql_database_url_only"]
async fn child_queries_through_the_environment() {
    let statement = std::env::var("FACT_TEST_STATEMENT").expect("a statement to run");
    let executor = fact_runtime::ToolExecutor::builder()
        .build()
        .expect("registry builds");
    let result = executor
        .execute_tool_call(ToolCall::new("SQL.Query", json!({"statement": statement})))
        .await;
    println!(
        "RESULT {}",
        serde_json::to_string(&result).expect("serializes")
    );
}

/// The child's result for `statement` with exactly the environment `vars` (and no other
/// FACT_SQL_* or DATABASE_URL).
fn query_in_child(statement: &str, vars: &[(&str, &str)]) -> Value {
    let mut command = std::process::Command::new(std::env::current_exe().expect("test binary"));
    command
        .args([
            "hardening::child_queries_through_the_environment",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("FACT_TEST_STATEMENT", statement);
    for (name, _) in std::env::vars() {
        if name.starts_with("FACT_SQL_") || name == "DATABASE_URL" {
            command.env_remove(name);
        }
    }
    for (name, value) in vars {
        command.env(name, value);
    }
    let output = command.output().expect("the child runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("RESULT "))
        .unwrap_or_else(|| {
            panic!(
                "no result from the child:\n{stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    serde_json::from_str(line).expect("a ToolResult")
}

#[tokio::test]
async fn the_sql_tools_read_fact_sql_database_url_only() {
    // FACT's own database, with its audit log, is never what the SQL tools read.
    let own = fact_tests::scratch::TempDb::new("fact-own-state");
    {
        let mut writer = sqlx::SqliteConnection::connect(&format!("{}?mode=rwc", own.url()))
            .await
            .expect("created");
        sqlx::query("CREATE TABLE fact_audit_log (user_id TEXT)")
            .execute(&mut writer)
            .await
            .expect("table");
        writer.close().await.expect("closed");
    }
    let unset = query_in_child(
        "SELECT user_id FROM fact_audit_log",
        &[("DATABASE_URL", &own.url())],
    );
    assert_eq!(unset["status_code"], 500, "{unset}");
    let message = unset["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("set FACT_SQL_DATABASE_URL"),
        "the error names the variable: {message}"
    );
    // A malformed policy variable is named too.
    let data = Fixture::sqlite(SqlPolicy::default()).await;
    let Backend::Sqlite(file) = &data.backend else {
        unreachable!("a SQLite fixture")
    };
    let bad = query_in_child(
        "SELECT 1",
        &[
            ("FACT_SQL_DATABASE_URL", &file.url()),
            ("FACT_SQL_ALLOWED_TABLES", "revenue, \"Order"),
        ],
    );
    assert!(
        bad["error"]
            .as_str()
            .unwrap_or_default()
            .contains("FACT_SQL_ALLOWED_TABLES is not valid"),
        "{bad}"
    );
    let read = query_in_child(
        "SELECT region FROM revenue WHERE id = 1",
        &[
            ("FACT_SQL_DATABASE_URL", &file.url()),
            ("DATABASE_URL", &own.url()),
            ("FACT_SQL_ALLOWED_TABLES", " "),
        ],
    );
    assert_eq!(
        read["status_code"], 403,
        "a blank allow-list allows nothing: {read}"
    );
    let read = query_in_child(
        "SELECT region FROM revenue WHERE id = 1",
        &[
            ("FACT_SQL_DATABASE_URL", &file.url()),
            ("DATABASE_URL", &own.url()),
        ],
    );
    assert_eq!(read["data"]["rows"], json!([{"region": "north"}]), "{read}");
}

#[tokio::test]
async fn the_sql_tools_work_with_a_read_only_postgres_role() {
    let Some(fixture) =
        Fixture::postgres("the_sql_tools_work_with_a_read_only_postgres_role", |_| {
            SqlPolicy::default()
        })
        .await
    else {
        return;
    };
    let Backend::Postgres { url, schema } = &fixture.backend else {
        unreachable!("a PostgreSQL fixture")
    };
    let role = format!("{schema}_reader");
    let mut admin = sqlx::PgConnection::connect(url).await.expect("reachable");
    sqlx::raw_sql(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD 'reader'; \
         GRANT USAGE ON SCHEMA {schema} TO {role}; \
         GRANT SELECT ON {schema}.revenue TO {role};"
    ))
    .execute(&mut admin)
    .await
    .expect("a read-only role");
    let mut reader_url = url::Url::parse(url).expect("a URL");
    reader_url.set_username(&role).expect("user");
    reader_url.set_password(Some("reader")).expect("password");
    let read = query_in_child(
        &format!("SELECT region FROM {schema}.revenue WHERE id = 2"),
        &[("FACT_SQL_DATABASE_URL", reader_url.as_str())],
    );
    sqlx::raw_sql(&format!(
        "REVOKE ALL ON {schema}.revenue FROM {role}; REVOKE ALL ON SCHEMA {schema} FROM {role}; \
         DROP ROLE {role};"
    ))
    .execute(&mut admin)
    .await
    .expect("clean-up");
    assert_eq!(read["data"]["rows"], json!([{"region": "south"}]), "{read}");
    fixture.drop_schema().await;
}

#[tokio::test]
async fn slow_statements_are_logged_by_digest_and_length_never_their_text() {
    let log = fact_tests::captured_log::CapturedLog::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();
    // The only test of this binary that sets a subscriber: events from every thread reach it.
    tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
    let fixture = Fixture::sqlite(SqlPolicy::default().slow_statement(Duration::ZERO)).await;
    let marker = "SELECT 'secret-marker-7f3a' AS tag FROM revenue WHERE id = 1";
    assert_eq!(
        rows(fixture.query(marker).await),
        json!([{"tag": "secret-marker-7f3a"}])
    );
    let text = log.text();
    assert!(text.contains("slow SQL statement"), "{text}");
    assert!(
        text.contains(&format!("statement_length={}", marker.len())),
        "{text}"
    );
    assert!(text.contains("statement_sha256="), "{text}");
    assert!(!text.contains("secret-marker-7f3a"), "{text}");
}
