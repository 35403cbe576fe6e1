//! The SQL tools through the executor, on a real SQLite file and on PostgreSQL: legitimate
//! queries pass, every attack in the corpus is refused, and the database stays unchanged
//! byte for byte (SQLite) or row for row (PostgreSQL).

use std::time::Duration;

#[path = "std_sql/fixture.rs"]
mod fixture;
#[path = "std_sql/hardening.rs"]
mod hardening;

use fact_tools_std::sql::SqlPolicy;
use fixture::Fixture;
use serde_json::json;

/// Statements that must all be refused, leaving the database as it was.
const ATTACKS: &[&str] = &[
    "SELECT * FROM {s}revenue; DROP TABLE {s}revenue; --",
    "'; EXEC xp_cmdshell('dir'); --",
    "SELECT * FROM {s}revenue; INSERT INTO {s}revenue VALUES (1)",
    "DROP TABLE {s}revenue",
    "DELETE FROM {s}revenue",
    "UPDATE {s}revenue SET amount = 0",
    "INSERT INTO {s}revenue (id, region) VALUES (99, 'west')",
    "CREATE TABLE {s}evil (x INT)",
    "ALTER TABLE {s}revenue ADD COLUMN evil INT",
    "WITH gone AS (DELETE FROM {s}revenue RETURNING *) SELECT * FROM gone",
    "SELECT * INTO {s}stolen FROM {s}revenue",
    "SELECT * FROM {s}revenue FOR UPDATE",
    "EXPLAIN ANALYZE DELETE FROM {s}revenue",
    "BEGIN; DELETE FROM {s}revenue; COMMIT",
    "PRAGMA query_only = OFF",
    "ATTACH DATABASE '/tmp/fact-evil.db' AS evil",
    "VACUUM",
    "SELECT load_extension('/tmp/evil.so')",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT lo_export(1, '/tmp/fact-evil')",
    "COPY {s}revenue TO PROGRAM 'rm -rf /'",
    "SELECT * FROM {s}revenue WHERE id = 1 UNION SELECT pg_sleep(10), 1, 1, 1",
    "TRUNCATE {s}revenue",
    "GRANT ALL ON {s}revenue TO PUBLIC",
    "",
];

/// Statements that must all pass.
const LEGITIMATE: &[&str] = &[
    "SELECT * FROM {s}revenue",
    "WITH north AS (SELECT * FROM {s}revenue WHERE region = 'north') SELECT SUM(amount) AS total FROM north",
    "SELECT * FROM {s}revenue WHERE note LIKE '%&%'",
    "SELECT 'update revenue set amount = 0' AS a, 'DROP TABLE revenue; --' AS b",
    "SELECT id FROM {s}revenue -- DROP TABLE revenue\nWHERE amount > 100",
    "/* DELETE FROM revenue */ SELECT COUNT(*) AS n FROM {s}revenue",
    "SELECT region FROM {s}revenue UNION ALL SELECT region FROM {s}customers",
    "SELECT * FROM {s}revenue WHERE 1=1 OR 1=1",
    "SELECT name FROM {s}customers WHERE name = 'O''Brien'",
    "SELECT region, RANK() OVER (ORDER BY amount DESC) AS r FROM {s}revenue",
    "VALUES (1, 'a'), (2, 'b')",
    "SELECT r.region, c.name FROM {s}revenue r JOIN {s}customers c ON c.region = r.region",
    "SELECT * FROM {s}revenue WHERE region IN (SELECT region FROM {s}customers)",
    "SELECT UPPER(region) AS region, ROUND(CAST(AVG(amount) AS NUMERIC), 2) AS avg FROM {s}revenue GROUP BY region",
    "SELECT * FROM {s}revenue ORDER BY amount DESC LIMIT 2",
];

async fn attacks_are_refused_and_nothing_changes(fixture: &Fixture) {
    let before = fixture.snapshot().await;
    for attack in ATTACKS {
        let result = fixture.query(attack).await;
        assert!(
            matches!(result.status_code, 400 | 403),
            "{attack}: {result:?}"
        );
        assert!(result.data.is_none(), "{attack}: {result:?}");
    }
    assert!(
        fixture.snapshot().await == before,
        "the database changed under the attack corpus"
    );
}

async fn legitimate_queries_pass(fixture: &Fixture) {
    for statement in LEGITIMATE {
        let result = fixture.query(statement).await;
        assert_eq!(result.status_code, 200, "{statement}: {result:?}");
    }
    let total = fixture
        .query("WITH north AS (SELECT * FROM {s}revenue WHERE region = 'north') SELECT SUM(amount) AS total FROM north")
        .await;
    assert_eq!(
        total.data.expect("rows")["rows"],
        json!([{"total": 175.75}])
    );
}

#[tokio::test]
async fn sqlite_attacks_are_refused_and_the_file_is_unchanged() {
    let fixture = Fixture::sqlite(SqlPolicy::default()).await;
    attacks_are_refused_and_nothing_changes(&fixture).await;
}

#[tokio::test]
async fn sqlite_legitimate_queries_pass() {
    let fixture = Fixture::sqlite(SqlPolicy::default()).await;
    legitimate_queries_pass(&fixture).await;
}

#[tokio::test]
async fn postgres_attacks_are_refused_and_the_tables_are_unchanged() {
    let Some(fixture) = Fixture::postgres(
        "postgres_attacks_are_refused_and_the_tables_are_unchanged",
        |_| SqlPolicy::default(),
    )
    .await
    else {
        return;
    };
    attacks_are_refused_and_nothing_changes(&fixture).await;
    fixture.drop_schema().await;
}

#[tokio::test]
async fn postgres_legitimate_queries_pass() {
    let Some(fixture) =
        Fixture::postgres("postgres_legitimate_queries_pass", |_| SqlPolicy::default()).await
    else {
        return;
    };
    legitimate_queries_pass(&fixture).await;
    fixture.drop_schema().await;
}

#[tokio::test]
async fn a_query_answers_columns_rows_and_counts() {
    let fixture = Fixture::sqlite(SqlPolicy::default()).await;
    let result = fixture
        .query("SELECT id, region, amount FROM {s}revenue WHERE amount > 100 ORDER BY id")
        .await;
    let data = result.data.expect("rows");
    assert_eq!(
        data["columns"],
        json!([
            {"name": "id", "type": "INTEGER"},
            {"name": "region", "type": "TEXT"},
            {"name": "amount", "type": "REAL"}
        ])
    );
    assert_eq!(
        data["rows"],
        json!([
            {"id": 1, "region": "north", "amount": 100.5},
            {"id": 2, "region": "south", "amount": 250.0},
            {"id": 4, "region": "east", "amount": 300.0}
        ])
    );
    assert_eq!(data["row_count"], json!(3));
    assert_eq!(data["truncated"], json!(false));
    assert!(
        data["execution_time_ms"]
            .as_f64()
            .is_some_and(|ms| ms >= 0.0)
    );
}

#[tokio::test]
async fn parameters_are_bound_never_spliced() {
    let fixture = Fixture::sqlite(SqlPolicy::default()).await;
    let before = fixture.snapshot().await;
    let result = fixture
        .call(
            "SQL.Query",
            json!({
                "statement": "SELECT id FROM revenue WHERE region = ? OR note = ?",
                "params": ["north", "x'; DROP TABLE revenue; --"]
            }),
        )
        .await;
    assert_eq!(
        result.data.expect("rows")["rows"],
        json!([{"id": 1}, {"id": 3}])
    );
    assert!(fixture.snapshot().await == before);
}

#[tokio::test]
async fn postgres_parameters_are_bound() {
    let Some(fixture) =
        Fixture::postgres("postgres_parameters_are_bound", |_| SqlPolicy::default()).await
    else {
        return;
    };
    let statement = format!(
        "SELECT name FROM {}customers WHERE region = $1 AND id < $2",
        fixture.prefix
    );
    let result = fixture
        .call(
            "SQL.Query",
            json!({"statement": statement, "params": ["south", 10]}),
        )
        .await;
    assert_eq!(result.status_code, 200, "{result:?}");
    assert_eq!(result.data.expect("rows")["rows"], json!([{"name": "Zoë"}]));
    // Each value binds as the type PostgreSQL inferred for its placeholder.
    let typed = fixture
        .call(
            "SQL.Query",
            json!({"statement": "SELECT $1::date AS d, $2::numeric AS n, $3::bool AS b",
                   "params": ["2024-02-29", "12.50", true]}),
        )
        .await;
    assert_eq!(
        typed.data.expect("rows")["rows"],
        json!([{"d": "2024-02-29", "n": 12.5, "b": true}])
    );
    let wrong = fixture
        .call(
            "SQL.Query",
            json!({"statement": "SELECT $1::int AS n", "params": ["many"]}),
        )
        .await;
    assert_eq!(wrong.status_code, 400);
    assert_eq!(
        wrong.error.as_deref(),
        Some("parameter 1 is used as INT4 but is \"many\"; expected an integer of 32 bits")
    );
    let missing = fixture
        .call("SQL.Query", json!({"statement": "SELECT $1::int AS n"}))
        .await;
    assert_eq!(
        missing.error.as_deref(),
        Some("the statement has 1 placeholder(s) but 0 parameter(s) were given")
    );
    fixture.drop_schema().await;
}

#[tokio::test]
async fn max_rows_caps_the_rows_and_says_so() {
    let fixture = Fixture::sqlite(SqlPolicy::default()).await;
    let result = fixture
        .call(
            "SQL.Query",
            json!({"statement": "SELECT id FROM revenue ORDER BY id", "max_rows": 2}),
        )
        .await;
    let data = result.data.expect("rows");
    assert_eq!(data["rows"], json!([{"id": 1}, {"id": 2}]));
    assert_eq!(data["row_count"], json!(2));
    assert_eq!(data["truncated"], json!(true));
    for out_of_range in [0, 1001] {
        let result = fixture
            .call(
                "SQL.Query",
                json!({"statement": "SELECT 1", "max_rows": out_of_range}),
            )
            .await;
        assert_eq!(result.status_code, 400, "{result:?}");
    }
}

#[tokio::test]
async fn postgres_sends_no_more_rows_than_the_cap() {
    let Some(fixture) = Fixture::postgres("postgres_sends_no_more_rows_than_the_cap", |_| {
        SqlPolicy::default().statement_timeout(Duration::from_secs(3))
    })
    .await
    else {
        return;
    };
    // Endless: only a cap inside the statement lets it finish before the timeout.
    let endless = fixture
        .call(
            "SQL.Query",
            json!({"statement": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c;",
                   "max_rows": 2}),
        )
        .await;
    assert_eq!(endless.status_code, 200, "{endless:?}");
    let data = endless.data.expect("rows");
    assert_eq!(data["rows"], json!([{"x": 1}, {"x": 2}]));
    assert_eq!(data["truncated"], json!(true));
    // The query's own order and limit still hold inside the cap.
    let ordered = fixture
        .query("SELECT id FROM {s}revenue ORDER BY amount DESC LIMIT 3 -- the top three")
        .await;
    assert_eq!(
        ordered.data.expect("rows")["rows"],
        json!([{"id": 4}, {"id": 2}, {"id": 1}])
    );
    fixture.drop_schema().await;
}

#[tokio::test]
async fn a_result_stops_at_the_policys_byte_cap() {
    let fixture = Fixture::sqlite(SqlPolicy::default().max_result_bytes(100)).await;
    let result = fixture
        .call(
            "SQL.Query",
            json!({"statement": "SELECT id, region, note FROM revenue ORDER BY id", "max_rows": 1000}),
        )
        .await;
    let data = result
        .data
        .unwrap_or_else(|| panic!("rows: {:?}", result.error));
    let kept = data["row_count"].as_u64().expect("a count");
    assert!((1..4).contains(&kept), "{data}");
    assert_eq!(data["truncated"], json!(true));
    // A value larger than the whole cap is never built: the call is refused, naming the cap.
    let huge = fixture.query("SELECT hex(zeroblob(500)) AS big").await;
    assert_eq!(huge.status_code, 403, "{huge:?}");
    assert_eq!(huge.metadata.extra["limit"], "max_result_bytes");
    assert_eq!(huge.metadata.extra["max"], 100);
}

#[tokio::test]
async fn a_long_statement_is_a_504() {
    let fixture =
        Fixture::sqlite(SqlPolicy::default().statement_timeout(Duration::from_millis(200))).await;
    let result = fixture
        .query("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT COUNT(*) FROM n")
        .await;
    assert_eq!(result.status_code, 504, "{result:?}");
    assert_eq!(
        result.error.as_deref(),
        Some("the statement ran longer than the 0.2 s statement timeout and was stopped")
    );
}

#[tokio::test]
async fn refusals_say_what_was_wrong() {
    let fixture = Fixture::sqlite(SqlPolicy::default()).await;
    let result = fixture
        .query("SELECT * FROM revenue; DROP TABLE revenue; --")
        .await;
    assert_eq!(result.status_code, 403);
    assert_eq!(result.metadata.error_type.as_deref(), Some("SecurityError"));
    assert_eq!(
        result.error.as_deref(),
        Some("expected exactly one statement, found 2 (SELECT, DROP)")
    );
    let result = fixture.query("SELEC * FROM revenue").await;
    assert_eq!(result.status_code, 400);
    assert!(
        result
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("the statement is not valid SQL: ")),
        "{result:?}"
    );
    let result = fixture.query("SELECT * FROM no_such_table").await;
    assert_eq!(result.status_code, 400);
    assert_eq!(
        result.error.as_deref(),
        Some("the database rejected the statement: no such table: no_such_table")
    );
}

#[tokio::test]
async fn table_info_describes_the_columns() {
    let fixture = Fixture::sqlite(SqlPolicy::default()).await;
    let result = fixture
        .call("SQL.TableInfo", json!({"table": "revenue"}))
        .await;
    assert_eq!(
        result.data.expect("a description"),
        json!({
            "table": "revenue",
            "kind": "table",
            "columns": [
                {"name": "id", "type": "INTEGER", "nullable": true, "primary_key": true, "default": null},
                {"name": "region", "type": "TEXT", "nullable": false, "primary_key": false, "default": null},
                {"name": "amount", "type": "REAL", "nullable": true, "primary_key": false, "default": null},
                {"name": "note", "type": "TEXT", "nullable": true, "primary_key": false, "default": "'none'"}
            ]
        })
    );
}

#[tokio::test]
async fn table_info_matches_names_against_the_schema_never_splices_them() {
    let fixture = Fixture::sqlite(SqlPolicy::default()).await;
    let before = fixture.snapshot().await;
    for name in [
        "revenue; DROP TABLE revenue",
        "revenue') --",
        "../revenue",
        "nope",
    ] {
        let result = fixture.call("SQL.TableInfo", json!({"table": name})).await;
        assert_eq!(result.status_code, 400, "{name}: {result:?}");
        assert_eq!(
            result.error,
            Some(format!(
                "no table named '{name}'; the tables are: customers, revenue, secrets"
            ))
        );
    }
    assert!(fixture.snapshot().await == before);
    let upper = fixture
        .call("SQL.TableInfo", json!({"table": "REVENUE"}))
        .await;
    assert_eq!(
        upper.status_code, 200,
        "SQLite names ignore case: {upper:?}"
    );
}

#[tokio::test]
async fn postgres_table_info_reports_keys_types_and_defaults() {
    let Some(fixture) = Fixture::postgres(
        "postgres_table_info_reports_keys_types_and_defaults",
        |_| SqlPolicy::default(),
    )
    .await
    else {
        return;
    };
    let table = format!("{}revenue", fixture.prefix);
    let result = fixture.call("SQL.TableInfo", json!({"table": table})).await;
    let data = result.data.expect("a description");
    assert_eq!(data["table"], json!("revenue"));
    assert_eq!(
        data["columns"],
        json!([
            {"name": "id", "type": "integer", "nullable": false, "primary_key": true, "default": null},
            {"name": "region", "type": "text", "nullable": false, "primary_key": false, "default": null},
            {"name": "amount", "type": "real", "nullable": true, "primary_key": false, "default": null},
            {"name": "note", "type": "text", "nullable": true, "primary_key": false, "default": "'none'::text"}
        ])
    );
    fixture.drop_schema().await;
}

#[tokio::test]
async fn schema_info_lists_every_table_with_its_columns() {
    let fixture = Fixture::sqlite(SqlPolicy::default()).await;
    let data = fixture
        .call("SQL.SchemaInfo", json!({}))
        .await
        .data
        .expect("a schema");
    assert_eq!(data["database"], json!("sqlite"));
    assert_eq!(data["table_count"], json!(3));
    let names: Vec<&str> = data["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .filter_map(|table| table["table"].as_str())
        .collect();
    assert_eq!(names, ["customers", "revenue", "secrets"]);
    assert_eq!(data["tables"][0]["columns"][1]["name"], json!("name"));
}

mod allowed_tables {
    use super::*;

    fn allow_list() -> SqlPolicy {
        SqlPolicy::default().allow_tables(["revenue", "customers"])
    }

    #[tokio::test]
    async fn other_tables_and_the_catalog_are_refused() {
        let fixture = Fixture::sqlite(allow_list()).await;
        for statement in [
            "SELECT * FROM secrets",
            "SELECT * FROM sqlite_master",
            "SELECT * FROM revenue WHERE id IN (SELECT 1 FROM secrets)",
            "WITH secrets AS (SELECT * FROM secrets) SELECT * FROM secrets",
            "SELECT * FROM pragma_table_info('secrets')",
        ] {
            let result = fixture.query(statement).await;
            assert_eq!(result.status_code, 403, "{statement}: {result:?}");
        }
        assert_eq!(
            fixture
                .query("SELECT * FROM secrets")
                .await
                .error
                .as_deref(),
            Some(
                "table 'secrets' is not on the list of tables the SQL tools may read \
                 (FACT_SQL_ALLOWED_TABLES)"
            )
        );
        let listed = fixture
            .query("SELECT r.id FROM revenue r JOIN customers c ON c.region = r.region")
            .await;
        assert_eq!(listed.status_code, 200, "{listed:?}");
    }

    #[tokio::test]
    async fn the_schema_tools_show_only_listed_tables() {
        let fixture = Fixture::sqlite(allow_list()).await;
        let schema = fixture.call("SQL.SchemaInfo", json!({})).await;
        let names: Vec<String> = schema.data.expect("a schema")["tables"]
            .as_array()
            .expect("tables")
            .iter()
            .filter_map(|table| table["table"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(names, ["customers", "revenue"]);
        let refused = fixture
            .call("SQL.TableInfo", json!({"table": "secrets"}))
            .await;
        assert_eq!(refused.status_code, 403, "{refused:?}");
        let missing = fixture
            .call("SQL.TableInfo", json!({"table": "nope"}))
            .await;
        assert_eq!(
            missing.status_code, 403,
            "not listed, so refused whether or not it exists"
        );
    }

    #[tokio::test]
    async fn postgres_catalogs_are_refused_with_a_list_set() {
        let Some(fixture) =
            Fixture::postgres("postgres_catalogs_are_refused_with_a_list_set", |schema| {
                SqlPolicy::default().allow_tables([format!("{schema}.revenue")])
            })
            .await
        else {
            return;
        };
        for statement in [
            "SELECT * FROM pg_catalog.pg_authid",
            "SELECT * FROM pg_user",
            "SELECT * FROM information_schema.tables",
            "SELECT * FROM {s}secrets",
            "SELECT * FROM {s}customers",
        ] {
            let result = fixture.query(statement).await;
            assert_eq!(result.status_code, 403, "{statement}: {result:?}");
        }
        let listed = fixture
            .query("SELECT SUM(amount) AS total FROM {s}revenue")
            .await;
        assert_eq!(
            listed.data.expect("rows")["rows"],
            json!([{"total": 725.75}])
        );
        fixture.drop_schema().await;
    }
}
