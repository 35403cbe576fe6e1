//! Every status code the executor can answer with, and the `error_type` beside it.

use fact_runtime::{ToolCall, ToolExecutor, ToolResult};
use fact_tests::fixtures;
// The one line that keeps a crate of tools linked when nothing else names it.
use fact_examples as _;
use serde_json::{Value, json};

fn executor() -> ToolExecutor {
    // Naming the fixtures keeps their crate linked, and so their tools registered.
    let _ = fixtures::TOOL_NAMES;
    ToolExecutor::builder().build().expect("registry builds")
}

async fn call(name: &str, arguments: Value) -> ToolResult {
    executor()
        .execute_tool_call(ToolCall::new(name, arguments))
        .await
}

fn assert_failure(result: &ToolResult, status: u16, error_type: &str, message: &str) {
    assert!(!result.success, "{result:?}");
    assert_eq!(result.status_code, status, "{result:?}");
    assert_eq!(
        result.metadata.error_type.as_deref(),
        Some(error_type),
        "{result:?}"
    );
    assert_eq!(result.error.as_deref(), Some(message), "{result:?}");
    assert_eq!(result.data, None);
}

#[tokio::test]
async fn success_is_200_with_data_and_no_error() {
    let result = call("Fixture.Echo", json!({"text": "ab", "times": 2})).await;
    assert!(result.success);
    assert_eq!(result.status_code, 200);
    assert_eq!(result.data, Some(json!("abab")));
    assert_eq!(result.error, None);
    assert_eq!(result.metadata.error_type, None);
    assert!(result.execution_time_ms >= 0.0);
    let wire = serde_json::to_value(&result).expect("serializes");
    assert!(wire.get("error").is_none(), "{wire}");
}

#[tokio::test]
async fn unknown_tool_is_404() {
    let result = call("MyApp.Nope", json!({})).await;
    assert_failure(
        &result,
        404,
        "ToolNotFoundError",
        "Tool 'MyApp.Nope' not found",
    );
    assert_eq!(result.tool_name, "MyApp.Nope");
}

#[tokio::test]
async fn enum_violation_is_400_listing_the_allowed_values() {
    let result = call(
        "MyApp.Calculator",
        json!({"operation": "power", "a": 1, "b": 2}),
    )
    .await;
    assert_failure(
        &result,
        400,
        "ToolValidationError",
        "Parameter validation failed: 'operation' must be one of ['add', 'subtract', 'multiply', 'divide']",
    );
}

#[tokio::test]
async fn missing_parameter_is_400_naming_it() {
    let result = call("MyApp.Calculator", json!({"operation": "add", "a": 1})).await;
    assert_failure(
        &result,
        400,
        "ToolValidationError",
        "Parameter validation failed: missing required parameter 'b'",
    );
}

#[tokio::test]
async fn unknown_parameter_is_400_naming_it() {
    let result = call(
        "MyApp.Calculator",
        json!({"operation": "add", "a": 1, "b": 2, "c": 3}),
    )
    .await;
    assert_failure(
        &result,
        400,
        "ToolValidationError",
        "Parameter validation failed: unknown parameter 'c'",
    );
}

#[tokio::test]
async fn wrong_type_is_400_naming_parameter_and_types() {
    let result = call(
        "MyApp.Calculator",
        json!({"operation": "add", "a": "one", "b": 2}),
    )
    .await;
    assert_failure(
        &result,
        400,
        "ToolValidationError",
        "Parameter validation failed: 'a' must be of type number, got string",
    );
}

#[tokio::test]
async fn arguments_that_are_not_an_object_are_400() {
    let result = call("MyApp.Calculator", json!([1, 2])).await;
    assert_failure(
        &result,
        400,
        "ToolValidationError",
        "Parameter validation failed: arguments must be a JSON object of named parameters, got array",
    );
}

#[tokio::test]
async fn a_tool_judging_its_input_bad_is_400() {
    let result = call(
        "MyApp.Calculator",
        json!({"operation": "divide", "a": 1, "b": 0}),
    )
    .await;
    assert_failure(
        &result,
        400,
        "ToolValidationError",
        "Division by zero: 'b' must not be 0 when dividing",
    );
}

#[tokio::test]
async fn tool_requiring_auth_without_provider_is_401() {
    let result = executor()
        .execute_tool_call(ToolCall::new("Fixture.Private", json!({})).user("ada"))
        .await;
    assert_failure(
        &result,
        401,
        "UnauthorizedError",
        "Tool 'Fixture.Private' requires authorization, and no authorization provider is configured to grant it to user 'ada'",
    );
}

#[tokio::test]
async fn tool_chosen_kinds_keep_their_status_codes() {
    let cases = [
        ("security", 403, "SecurityError", "refused by policy"),
        ("rate", 429, "RateLimitError", "slow down"),
        ("arcade", 502, "ArcadeError", "upstream failed"),
        (
            "upstream",
            502,
            "UpstreamError",
            "the remote site refused the connection",
        ),
        (
            "unavailable",
            503,
            "ServiceUnavailableError",
            "the database is busy",
        ),
        ("fatal", 500, "ToolExecutionError", "fatal failure"),
        (
            "invalid",
            400,
            "ToolValidationError",
            "the input was judged bad",
        ),
    ];
    for (kind, status, error_type, message) in cases {
        let result = call("Fixture.KindOf", json!({"kind": kind})).await;
        assert_failure(&result, status, error_type, message);
    }
    let rate = call("Fixture.KindOf", json!({"kind": "rate"})).await;
    assert_eq!(rate.metadata.retry_after_ms, Some(2000));
    let busy = call("Fixture.KindOf", json!({"kind": "unavailable"})).await;
    assert_eq!(busy.metadata.retry_after_ms, Some(1000));
}

#[tokio::test]
async fn retryable_error_is_500_with_retry_after_ms() {
    let result = call("Fixture.KindOf", json!({"kind": "retryable"})).await;
    assert_failure(&result, 500, "ToolExecutionError", "try again soon");
    assert_eq!(result.metadata.retry_after_ms, Some(1500));
    let wire = serde_json::to_value(&result).expect("serializes");
    assert_eq!(wire["metadata"]["retry_after_ms"], 1500);
}

#[tokio::test]
async fn display_error_is_500_with_its_message() {
    let result = call("Fixture.DisplayError", json!({})).await;
    assert_failure(
        &result,
        500,
        "ToolExecutionError",
        "an error occurred when formatting an argument",
    );
}

#[tokio::test]
async fn panicking_tool_is_500_without_leaking_and_the_executor_keeps_serving() {
    let executor = executor();
    let panicked = executor
        .execute_tool_call(ToolCall::new(
            "Fixture.Panics",
            json!({"secret": "hunter2"}),
        ))
        .await;
    assert_failure(
        &panicked,
        500,
        "ToolExecutionError",
        "Tool 'Fixture.Panics' failed: it panicked (see the server log)",
    );
    let after = executor
        .execute_tool_call(ToolCall::new("Fixture.Echo", json!({"text": "still here"})))
        .await;
    assert_eq!(after.data, Some(json!("still here")));
}

#[tokio::test(start_paused = true)]
async fn async_tool_past_its_timeout_is_504() {
    let result = call("Fixture.Slow", json!({"millis": 5_000})).await;
    assert_failure(
        &result,
        504,
        "ToolTimeoutError",
        "Tool 'Fixture.Slow' timed out after 1s",
    );
}

#[tokio::test(start_paused = true)]
async fn async_tool_within_its_timeout_succeeds() {
    let result = call("Fixture.Slow", json!({"millis": 900})).await;
    assert_eq!(result.data, Some(json!(900)));
}

// Real time: tokio's paused clock does not advance while a blocking task runs. The tool waits
// for its cancellation, so the test lasts the tool's one-second timeout and no longer.
#[tokio::test]
async fn sync_tool_past_its_timeout_is_504_and_sees_cancellation() {
    let result = call("Fixture.SlowSync", json!({"millis": 60_000})).await;
    assert_failure(
        &result,
        504,
        "ToolTimeoutError",
        "Tool 'Fixture.SlowSync' timed out after 1s",
    );
    // The blocking thread keeps running after the timeout; its context tells it to stop.
    let seen = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while !fixtures::CANCELLED_SEEN.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        seen.is_ok(),
        "the sync tool never saw its context cancelled"
    );
}

#[tokio::test]
async fn sync_tool_runs_on_the_blocking_pool() {
    let result = call("Fixture.Sum", json!({"values": [1, 2, 39]})).await;
    assert_eq!(result.data, Some(json!(42)));
}
