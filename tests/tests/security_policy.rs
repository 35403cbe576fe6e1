//! The security policy of the validate stage: structural limits refuse with 403 naming the limit
//! and the JSON path, custom validators plug in globally or per tool, and legitimate text is
//! never refused for the characters it contains.

#[path = "security_policy/properties.rs"]
mod properties;

use fact_runtime::{
    ErrorKind, SecurityPolicy, ToolCall, ToolError, ToolExecutor, ToolExecutorBuilder, ToolInfo,
    ToolResult,
};
use fact_tests::fixtures;
// The one line that keeps a crate of tools linked when nothing else names it.
use fact_examples as _;
use serde_json::{Value, json};

fn builder() -> ToolExecutorBuilder {
    let _ = fixtures::TOOL_NAMES;
    ToolExecutor::builder()
}

async fn run(executor: &ToolExecutor, name: &str, arguments: Value) -> ToolResult {
    executor
        .execute_tool_call(ToolCall::new(name, arguments))
        .await
}

fn assert_breach(result: &ToolResult, limit: &str, path: &str, message: &str) {
    assert_eq!(result.status_code, 403, "{result:?}");
    assert_eq!(result.error_kind(), Some(ErrorKind::Security));
    assert_eq!(result.error.as_deref(), Some(message));
    assert_eq!(result.metadata.extra["limit"], limit);
    assert_eq!(result.metadata.extra["path"], path);
}

#[tokio::test]
async fn legitimate_text_with_operators_quotes_and_sql_words_passes() {
    let executor = builder().build().expect("builds");
    let corpus = [
        "2 + (3*4)",
        "a|b",
        "cost $5",
        r#"{"k": [1, 2]}"#,
        "https://example.com/?a=1&b=2",
        "O'Brien",
        "SELECT is a word in this sentence",
        "<b>bold</b> & `code`; rm -rf is just text here",
        "naïve café — 東京 ✓",
        "line one\nline two\ttabbed \\ backslash \"quoted\"",
    ];
    for text in corpus {
        let result = run(&executor, "Fixture.Echo", json!({ "text": text })).await;
        assert_eq!(result.status_code, 200, "{text:?} was refused: {result:?}");
        assert_eq!(result.data, Some(json!(text)));
    }
}

#[tokio::test]
async fn default_limits_admit_input_right_at_each_limit() {
    let executor = builder().build().expect("builds");
    let longest = "é".repeat(10_000);
    let result = run(&executor, "Fixture.Echo", json!({ "text": longest })).await;
    assert_eq!(result.status_code, 200, "{:?}", result.error);

    let values: Vec<i64> = (0..1_000).collect();
    let result = run(&executor, "Fixture.Sum", json!({ "values": values })).await;
    assert_eq!(result.data, Some(json!(499_500)));
}

#[tokio::test]
async fn a_string_one_character_too_long_is_a_403_naming_limit_and_path() {
    let executor = builder().build().expect("builds");
    let result = run(
        &executor,
        "Fixture.Echo",
        json!({ "text": "é".repeat(10_001) }),
    )
    .await;
    assert_breach(
        &result,
        "max_string_length",
        "$.text",
        "Security policy violation at $.text (max_string_length): a string of 10001 characters, more than the 10000 allowed",
    );
    assert_eq!(result.metadata.extra["max"], 10_000);
    assert_eq!(result.metadata.extra["actual"], 10_001);
}

#[tokio::test]
async fn nested_breaches_report_the_full_json_path() {
    let mut policy = SecurityPolicy::default();
    policy.max_string_length = 8;
    let executor = builder().security_policy(policy).build().expect("builds");
    let result = run(
        &executor,
        "Fixture.Choose",
        json!({"colour": "red", "at": {"x": 1, "y": 2}, "tags": ["a", "b", "c", "far too long"]}),
    )
    .await;
    assert_breach(
        &result,
        "max_string_length",
        "$.tags[3]",
        "Security policy violation at $.tags[3] (max_string_length): a string of 12 characters, more than the 8 allowed",
    );
}

#[tokio::test]
async fn arrays_objects_depth_arguments_and_size_each_have_a_limit() {
    let executor = builder().build().expect("builds");

    let values: Vec<i64> = (0..1_001).collect();
    let result = run(&executor, "Fixture.Sum", json!({ "values": values })).await;
    assert_breach(
        &result,
        "max_array_length",
        "$.values",
        "Security policy violation at $.values (max_array_length): an array of 1001 items, more than the 1000 allowed",
    );

    let mut wide = serde_json::Map::new();
    for i in 0..101 {
        wide.insert(format!("k{i}"), json!(i));
    }
    let result = run(
        &executor,
        "Fixture.Echo",
        json!({ "text": "x", "extra": wide }),
    )
    .await;
    assert_breach(
        &result,
        "max_object_keys",
        "$.extra",
        "Security policy violation at $.extra (max_object_keys): an object of 101 keys, more than the 100 allowed",
    );

    let mut deep = json!(1);
    for _ in 0..10 {
        deep = json!({ "child": deep });
    }
    let result = run(
        &executor,
        "Fixture.Echo",
        json!({ "text": "x", "deep": deep }),
    )
    .await;
    assert_breach(
        &result,
        "max_depth",
        "$.deep.child.child.child.child.child.child.child.child.child",
        "Security policy violation at $.deep.child.child.child.child.child.child.child.child.child (max_depth): nesting 11 deep, more than the 10 allowed",
    );

    let mut many = serde_json::Map::new();
    for i in 0..51 {
        many.insert(format!("a{i}"), json!(i));
    }
    let result = run(&executor, "Fixture.Echo", Value::Object(many)).await;
    assert_breach(
        &result,
        "max_arguments",
        "$",
        "Security policy violation at $ (max_arguments): 51 arguments, more than the 50 allowed",
    );
}

#[tokio::test]
async fn arguments_over_the_byte_limit_are_refused_as_a_whole() {
    let mut policy = SecurityPolicy::default();
    policy.max_argument_bytes = 64;
    let executor = builder().security_policy(policy).build().expect("builds");
    // {"text":"...50 x..."} is 61 bytes: admitted. Four more characters break the limit.
    let fits = run(&executor, "Fixture.Echo", json!({ "text": "x".repeat(50) })).await;
    assert_eq!(fits.status_code, 200, "{:?}", fits.error);
    let result = run(&executor, "Fixture.Echo", json!({ "text": "x".repeat(54) })).await;
    assert_eq!(result.status_code, 403);
    assert_eq!(result.metadata.extra["limit"], "max_argument_bytes");
    assert_eq!(result.metadata.extra["path"], "$");
}

#[tokio::test]
async fn limits_are_checked_before_the_schema() {
    // An oversized value of the wrong type is refused for its size: the cheap check runs first.
    let executor = builder().build().expect("builds");
    let values: Vec<&str> = vec!["not a number"; 1_001];
    let result = run(&executor, "Fixture.Sum", json!({ "values": values })).await;
    assert_eq!(result.status_code, 403, "{result:?}");
}

#[tokio::test]
async fn a_global_validator_sees_every_call_and_its_refusal_is_what_the_caller_gets() {
    let no_weekends = |_tool: &ToolInfo, call: &ToolCall| {
        if call.arguments.to_string().contains("saturday") {
            Err(ToolError::security("no work on saturday"))
        } else {
            Ok(())
        }
    };
    let executor = builder().validator(no_weekends).build().expect("builds");
    let ok = run(&executor, "Fixture.Echo", json!({"text": "monday"})).await;
    assert_eq!(ok.status_code, 200);
    let refused = run(&executor, "Fixture.Echo", json!({"text": "saturday"})).await;
    assert_eq!(refused.status_code, 403);
    assert_eq!(refused.error.as_deref(), Some("no work on saturday"));
    let other_tool = run(&executor, "Fixture.Sum", json!({"values": [1]})).await;
    assert_eq!(other_tool.status_code, 200);
}

#[tokio::test]
async fn a_tool_validator_applies_to_that_tool_only() {
    let small_sums = |_tool: &ToolInfo, call: &ToolCall| {
        let count = call.arguments["values"].as_array().map_or(0, Vec::len);
        if count > 3 {
            Err(ToolError::invalid_input(format!(
                "at most 3 values, got {count}"
            )))
        } else {
            Ok(())
        }
    };
    let executor = builder()
        .tool_validator("Fixture.Sum", small_sums)
        .build()
        .expect("builds");
    let refused = run(&executor, "Fixture.Sum", json!({"values": [1, 2, 3, 4]})).await;
    assert_eq!(refused.status_code, 400);
    assert_eq!(refused.error.as_deref(), Some("at most 3 values, got 4"));
    let ok = run(&executor, "Fixture.Sum", json!({"values": [1, 2, 3]})).await;
    assert_eq!(ok.data, Some(json!(6)));
}

#[tokio::test]
async fn a_tool_validator_given_the_exported_name_applies_to_the_tool() {
    let executor = builder()
        .tool_validator("Fixture_Echo", |_: &ToolInfo, _: &ToolCall| {
            Err(ToolError::security("refused by the validator"))
        })
        .tool_validator("Fixture.Echo", |_: &ToolInfo, _: &ToolCall| Ok(()))
        .build()
        .expect("builds");
    for name in ["Fixture.Echo", "Fixture_Echo"] {
        let refused = run(&executor, name, json!({"text": "hi"})).await;
        assert_eq!(refused.status_code, 403, "{name}: {refused:?}");
        assert_eq!(refused.error.as_deref(), Some("refused by the validator"));
    }
}

#[tokio::test]
async fn validators_run_only_on_schema_valid_arguments() {
    let executor = builder()
        .validator(|_: &ToolInfo, call: &ToolCall| {
            assert!(call.arguments["text"].is_string(), "saw invalid input");
            Ok(())
        })
        .build()
        .expect("builds");
    let result = run(&executor, "Fixture.Echo", json!({"text": 5})).await;
    assert_eq!(result.status_code, 400);
}

#[test]
fn a_validator_for_an_unknown_tool_is_a_build_error() {
    let error = builder()
        .tool_validator("Fixture.Nope", |_: &ToolInfo, _: &ToolCall| Ok(()))
        .build()
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some(
            "invalid executor configuration: a validator or rate limit names tool 'Fixture.Nope', which is not registered"
        )
    );
}
