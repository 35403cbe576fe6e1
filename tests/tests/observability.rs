//! What the executor's record stage leaves behind for an operator: one `tracing` span per call
//! (filtered like any other), and the windowed figures of `executor.metrics()`, per user too.

use fact_runtime::{ToolCall, ToolExecutor};
use fact_tests::captured_log::CapturedLog;
use fact_tests::fixtures;
// The one line that keeps a crate of tools linked when nothing else names it.
use fact_examples as _;
use serde_json::json;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Runs two calls (one succeeds, one is refused) with a subscriber filtered by `directives`,
/// as `RUST_LOG` would be, and returns what it logged.
async fn log_of_two_calls(directives: &str) -> String {
    let _ = fixtures::TOOL_NAMES;
    let log = CapturedLog::default();
    let _capture = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_env_filter(EnvFilter::new(directives))
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .finish()
        .set_default();
    let executor = ToolExecutor::builder().build().expect("builds");
    let ok = ToolCall::new("Fixture.Echo", json!({"text": "hunter2-secret"})).user("ada");
    assert_eq!(executor.execute_tool_call(ok).await.status_code, 200);
    let refused = ToolCall::new("Fixture.Echo", json!({"text": 42, "times": "hunter2-too"}));
    assert_eq!(executor.execute_tool_call(refused).await.status_code, 400);
    log.text()
}

#[tokio::test]
async fn each_call_has_one_span_with_its_id_tool_outcome_and_duration() {
    let text = log_of_two_calls("fact_runtime=debug").await;
    let closes: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("tool_call{") && line.contains("close"))
        .collect();
    assert_eq!(closes.len(), 2, "one span per call:\n{text}");
    assert!(closes[0].contains("tool=Fixture.Echo"), "{text}");
    assert!(closes[0].contains("status=200"), "{text}");
    assert!(closes[1].contains("status=400"), "{text}");
    assert!(
        closes[1].contains("error_type=\"ToolValidationError\""),
        "{text}"
    );
    for line in &closes {
        assert!(line.contains("call_id="), "{line}");
        assert!(line.contains("duration_ms="), "{line}");
    }
    assert!(
        text.contains("tool call finished"),
        "the debug line per call:\n{text}"
    );
}

#[tokio::test]
async fn no_argument_reaches_the_log() {
    let text = log_of_two_calls("trace").await;
    assert!(text.contains("tool_call"), "the log is captured:\n{text}");
    assert!(!text.contains("hunter2"), "an argument was logged:\n{text}");
}

#[tokio::test]
async fn the_filter_decides_what_is_logged() {
    let quiet = log_of_two_calls("fact_runtime=warn").await;
    assert!(!quiet.contains("tool_call"), "{quiet}");
    let other_crate = log_of_two_calls("hyper=debug").await;
    assert!(!other_crate.contains("tool_call"), "{other_crate}");
}

#[tokio::test]
async fn the_executor_records_every_call_with_its_user() {
    let _ = fixtures::TOOL_NAMES;
    let executor = ToolExecutor::builder().build().expect("builds");
    let calls = [
        ToolCall::new("Fixture.Echo", json!({"text": "a"})).user("ada"),
        ToolCall::new("Fixture.Echo", json!({"text": 1})).user("ada"),
        ToolCall::new("Fixture.Sum", json!({"values": [1, 2]})).user("ada"),
        ToolCall::new("Fixture.Echo", json!({"text": "b"})).user("bob"),
        ToolCall::new("Made.Up", json!({})).user("bob"),
    ];
    for call in calls {
        executor.execute_tool_call(call).await;
    }
    let metrics = executor.metrics();
    let system = metrics.get_system_metrics(60);
    assert_eq!(system.total_executions, 5);
    assert_eq!(system.failed_executions, 2);
    assert_eq!(system.errors_by_type.get("ToolValidationError"), Some(&1));
    assert_eq!(system.errors_by_type.get("ToolNotFoundError"), Some(&1));

    let ada = metrics.get_user_metrics("ada", 60);
    assert_eq!(ada.total_executions, 3);
    assert_eq!(ada.failed_executions, 1);
    assert_eq!(ada.tools_used.get("Fixture.Echo"), Some(&2));
    assert_eq!(ada.tools_used.get("Fixture.Sum"), Some(&1));

    // A made-up name is counted, under one fixed key, never under the name.
    let bob = metrics.get_user_metrics("bob", 60);
    assert_eq!(bob.tools_used.get("unregistered"), Some(&1));
    assert!(!bob.tools_used.contains_key("Made.Up"));
    let echo = metrics.get_tool_metrics("Fixture.Echo");
    assert_eq!(echo.all_time.total_executions, 3);
    assert_eq!(echo.last_24_hours.total_executions, 3);
}
