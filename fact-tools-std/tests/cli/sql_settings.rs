//! The SQL tools' settings through `fact`: their database is `FACT_SQL_DATABASE_URL`, never
//! FACT's own `DATABASE_URL`; a setting that does not parse stops `fact` at start-up; FACT's
//! own tables stay hidden even when both variables name one database.

use serde_json::Value;

use crate::support::*;

fn result_of(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "`fact call` printed no ToolResult ({error}):\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            stderr(output)
        )
    })
}

fn sql_call(statement: &str) -> [String; 4] {
    [
        "call".to_owned(),
        "SQL.Query".to_owned(),
        "--args".to_owned(),
        serde_json::json!({ "statement": statement }).to_string(),
    ]
}

#[test]
fn without_fact_sql_database_url_the_sql_tools_name_it_and_never_read_database_url() {
    let scratch = Scratch::new("sql-unset");
    let output = run(scratch.fact().args(sql_call("SELECT 1 AS one")));
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let result = result_of(&output);
    let error = result["error"].as_str().unwrap_or_default();
    assert!(error.contains("set FACT_SQL_DATABASE_URL"), "{result}");
}

#[test]
fn a_sql_setting_that_does_not_parse_stops_fact_at_start_up() {
    let scratch = Scratch::new("sql-bad-setting");
    for (variable, value) in [
        ("FACT_SQL_ALLOWED_TABLES", "revenue, \"Order"),
        ("FACT_SQL_STATEMENT_TIMEOUT", "ten"),
        ("FACT_SQL_MAX_STATEMENTS_PER_USER", "0"),
    ] {
        let output = run(scratch.fact().env(variable, value).args(["tools"]));
        assert_eq!(output.status.code(), Some(3), "{variable}: {output:?}");
        let errors = stderr(&output);
        assert!(
            errors.contains(&format!("fact: {variable} is not valid")),
            "{errors}"
        );
    }
}

#[test]
fn facts_own_tables_stay_hidden_when_both_variables_name_one_database() {
    let scratch = Scratch::new("sql-same-db");
    // A first call writes the audit log into DATABASE_URL.
    let first =
        run(scratch
            .fact()
            .args(["call", "Web.ParseJSON", "--args", r#"{"json_text": "[1]"}"#]));
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    let same = scratch.database_url();
    for statement in [
        "SELECT user_id, tool_name FROM fact_audit_log",
        "SELECT * FROM main.FACT_AUDIT_LOG",
    ] {
        let output = run(scratch
            .fact()
            .env("FACT_SQL_DATABASE_URL", &same)
            .args(sql_call(statement)));
        let result = result_of(&output);
        assert_eq!(result["status_code"], 403, "{statement}: {result}");
    }
    let schema = run(scratch
        .fact()
        .env("FACT_SQL_DATABASE_URL", &same)
        .args(["call", "SQL.SchemaInfo"]));
    let result = result_of(&schema);
    assert_eq!(result["data"]["tables"], serde_json::json!([]), "{result}");
}
