//! The executor's contract beyond single status codes: batches, context, constraints, health,
//! the credentials a caller hands a call, and where sync tools run.

#[path = "executor/credentials.rs"]
mod credentials;
#[path = "executor/inline.rs"]
mod inline;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fact_examples as _;
use fact_runtime::{HealthStatus, ToolCall, ToolDefinition, ToolExecutor, create_tool_call};
use fact_tests::fixtures;
use serde_json::json;

fn executor() -> ToolExecutor {
    let _ = fixtures::TOOL_NAMES;
    ToolExecutor::builder().build().expect("registry builds")
}

#[tokio::test]
async fn batch_answers_in_input_order_and_failures_stay_isolated() {
    let executor = executor();
    let calls = vec![
        ToolCall::new(
            "MyApp.Calculator",
            json!({"operation": "add", "a": 1, "b": 1}),
        ),
        ToolCall::new("Fixture.Panics", json!({"secret": "x"})),
        ToolCall::new("MyApp.Nope", json!({})),
        ToolCall::new("Fixture.Sum", json!({"values": [5, 5]})),
        ToolCall::new("MyApp.Calculator", json!({"operation": "add", "a": 1})),
        ToolCall::new("Fixture.Echo", json!({"text": "last"})),
    ];
    let ids: Vec<String> = calls.iter().map(|c| c.call_id.clone()).collect();
    let results = executor.execute_tool_calls(calls).await;
    let statuses: Vec<u16> = results.iter().map(|r| r.status_code).collect();
    assert_eq!(statuses, [200, 500, 404, 200, 400, 200]);
    let result_ids: Vec<String> = results.iter().map(|r| r.call_id.clone()).collect();
    assert_eq!(result_ids, ids);
    assert_eq!(
        results[0].data.as_ref().map(|d| d["result"].clone()),
        Some(json!(2.0))
    );
    assert_eq!(results[5].data, Some(json!("last")));
}

#[tokio::test(start_paused = true)]
async fn batch_concurrency_is_bounded_by_the_configuration() {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (in_flight_c, peak_c) = (in_flight.clone(), peak.clone());
    let tool = ToolDefinition::new(
        "Demo.Wait",
        "waits",
        json!({"type": "object"}),
        move |_ctx, _args| {
            let (in_flight, peak) = (in_flight_c.clone(), peak_c.clone());
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok(json!(now))
            }
        },
    );
    let executor = ToolExecutor::builder()
        .discover_linked_tools(false)
        .register(tool)
        .max_concurrency(3)
        .build()
        .expect("builds");
    let calls = (0..20)
        .map(|_| ToolCall::new("Demo.Wait", json!({})))
        .collect();
    let results = executor.execute_tool_calls(calls).await;
    assert!(results.iter().all(|r| r.success));
    assert_eq!(peak.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn context_carries_call_id_user_and_session() {
    let executor = executor();
    let call = ToolCall::new("Fixture.WhoAmI", json!({}))
        .user("ada")
        .session("s-7")
        .with_call_id("call-1");
    let result = executor.execute_tool_call(call).await;
    assert_eq!(result.call_id, "call-1");
    assert_eq!(
        result.data,
        Some(json!({"call_id": "call-1", "user": "ada", "session": "s-7"}))
    );
}

#[tokio::test]
async fn create_tool_call_sets_the_user() {
    let executor = executor();
    let result = executor
        .execute_tool_call(create_tool_call("Fixture.WhoAmI", json!({}), Some("bob")))
        .await;
    assert_eq!(
        result.data.as_ref().map(|d| d["user"].clone()),
        Some(json!("bob"))
    );
}

#[tokio::test]
async fn null_arguments_count_as_no_arguments() {
    let result = executor()
        .execute_tool_call(ToolCall::new("Fixture.WhoAmI", serde_json::Value::Null))
        .await;
    assert!(result.success, "{result:?}");
}

#[tokio::test]
async fn schemars_constraints_are_enforced_at_call_time() {
    let executor = executor();
    let cases = [
        (
            json!({"limit": 0}),
            "Parameter validation failed: 'limit' must be at least 1",
        ),
        (
            json!({"limit": 101}),
            "Parameter validation failed: 'limit' must be at most 100",
        ),
        (
            json!({"limit": 5, "email": "not-an-email"}),
            "Parameter validation failed: 'email' must be a valid email",
        ),
        (
            json!({"limit": 5, "tagName": "x"}),
            "Parameter validation failed: 'tagName' must be at least 2 characters long",
        ),
    ];
    for (arguments, message) in cases {
        let result = executor
            .execute_tool_call(ToolCall::new("Fixture.Constrained", arguments.clone()))
            .await;
        assert_eq!(result.error.as_deref(), Some(message), "{arguments}");
    }
    let ok = executor
        .execute_tool_call(ToolCall::new(
            "Fixture.Constrained",
            json!({"limit": 5, "email": "a@b.org", "tagName": "ok"}),
        ))
        .await;
    assert_eq!(
        ok.data,
        Some(json!([5, false, "ok"])),
        "serde(default) and serde(rename) apply"
    );
}

#[tokio::test]
async fn user_types_validate_nested_paths() {
    let executor = executor();
    let ok = executor
        .execute_tool_call(ToolCall::new(
            "Fixture.Choose",
            json!({"colour": "green", "at": {"x": 1, "y": 2}, "tags": ["a", "b"]}),
        ))
        .await;
    assert_eq!(ok.data, Some(json!("Green at (1, 2) tagged a,b")));

    let bad = executor
        .execute_tool_call(ToolCall::new(
            "Fixture.Choose",
            json!({"colour": "blue", "at": {"x": 1, "z": 2}, "tags": [1]}),
        ))
        .await;
    assert_eq!(
        bad.error.as_deref(),
        Some(
            "Parameter validation failed: 'colour' must be one of ['red', 'green']; missing required field 'y' in 'at'; unknown field 'z' in 'at'; 'tags[0]' must be of type string, got integer"
        )
    );
}

#[tokio::test]
async fn health_check_reports_healthy_and_counts_calls() {
    let executor = executor();
    executor
        .execute_tool_call(ToolCall::new("Fixture.Echo", json!({"text": "a"})))
        .await;
    executor
        .execute_tool_call(ToolCall::new("MyApp.Nope", json!({})))
        .await;
    let health = executor.health_check().await;
    assert_eq!(health.status, HealthStatus::Healthy);
    assert_eq!(health.tools, fixtures::TOOL_NAMES.len() + 1);
    assert_eq!((health.executions_total, health.failures_total), (2, 1));
    let wire = serde_json::to_value(&health).expect("serializes");
    assert_eq!(wire["status"], "healthy");
}

/// A greeting an application hands its tools.
#[derive(Debug)]
struct Greeting(&'static str);

fn greeter(greeting: Option<Greeting>) -> ToolExecutor {
    let tool = ToolDefinition::new(
        "Demo.Greet",
        "greets with the configured greeting",
        json!({"type": "object"}),
        |ctx, _args| async move {
            let greeting = ctx.extension::<Greeting>().map_or("hello", |g| g.0);
            Ok(json!(greeting))
        },
    );
    let builder = ToolExecutor::builder()
        .discover_linked_tools(false)
        .register(tool);
    let builder = match greeting {
        Some(greeting) => builder.extension(greeting),
        None => builder,
    };
    builder.build().expect("builds")
}

#[tokio::test]
async fn each_executor_hands_its_tools_its_own_extensions() {
    let french = greeter(Some(Greeting("bonjour")));
    let german = greeter(Some(Greeting("hallo")));
    let plain = greeter(None);
    for (executor, expected) in [(&french, "bonjour"), (&german, "hallo"), (&plain, "hello")] {
        let result = executor
            .execute_tool_call(ToolCall::new("Demo.Greet", json!({})))
            .await;
        assert_eq!(result.data, Some(json!(expected)), "{result:?}");
    }
}

#[tokio::test]
async fn integral_floats_reach_integer_parameters_as_integers() {
    let executor = executor();
    // Top level, nested in a user type, inside an array, and optional.
    for (tool, arguments, expected) in [
        (
            "Fixture.Constrained",
            json!({"limit": 10.0, "descending": true}),
            json!([10, true, null]),
        ),
        (
            "Fixture.Choose",
            json!({"colour": "red", "at": {"x": 1e1, "y": -2.0}, "tags": []}),
            json!("Red at (10, -2) tagged "),
        ),
        ("Fixture.Sum", json!({"values": [1.0, 2, 3e0]}), json!(6)),
        (
            "Fixture.Echo",
            json!({"text": "ab", "times": 2.0}),
            json!("abab"),
        ),
    ] {
        let result = executor
            .execute_tool_call(ToolCall::new(tool, arguments.clone()))
            .await;
        assert_eq!(result.status_code, 200, "{tool} {arguments}: {result:?}");
        assert_eq!(result.data, Some(expected), "{tool} {arguments}");
    }
    // A fraction is still not an integer, and the schema says so.
    let fraction = executor
        .execute_tool_call(ToolCall::new("Fixture.Constrained", json!({"limit": 10.5})))
        .await;
    assert_eq!(fraction.status_code, 400, "{fraction:?}");
    assert!(
        fraction
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("'limit'"),
        "{fraction:?}"
    );
}

#[tokio::test]
async fn floats_of_number_parameters_are_left_as_they_are() {
    let executor = ToolExecutor::builder()
        .register(ToolDefinition::new(
            "Fixture.Raw",
            "Returns its arguments",
            json!({"type": "object", "properties": {
                "n": {"type": "number"}, "any": {}, "i": {"type": ["integer", "null"]}
            }}),
            |_ctx, arguments| async move { Ok(arguments) },
        ))
        .build()
        .expect("builds");
    let result = executor
        .execute_tool_call(ToolCall::new(
            "Fixture.Raw",
            json!({"n": 2.0, "any": 3.0, "i": 4.0}),
        ))
        .await;
    let data = result.data.expect("echoed");
    assert!(data["n"].is_f64(), "{data}");
    assert!(data["any"].is_f64(), "{data}");
    assert_eq!(data["i"], json!(4));
    assert!(data["i"].is_i64(), "{data}");
}

/// A tool that counts its runs and waits until its call is cancelled.
fn counted_waiter(runs: Arc<AtomicUsize>) -> ToolDefinition {
    ToolDefinition::new(
        "Test.Waits",
        "Waits until cancelled",
        json!({"type": "object"}),
        move |ctx, _args| {
            let runs = Arc::clone(&runs);
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                ctx.cancelled().await;
                Ok(json!("stopped"))
            }
        },
    )
}

fn audited_with(tool: ToolDefinition) -> (ToolExecutor, Arc<fact_tests::audit_sinks::MemorySink>) {
    use fact_runtime::audit::{AuditConfig, AuditLog};
    let sink = Arc::new(fact_tests::audit_sinks::MemorySink::default());
    let log = AuditLog::start(sink.clone(), AuditConfig::default()).expect("log");
    let executor = ToolExecutor::builder()
        .discover_linked_tools(false)
        .register(tool)
        .audit(log)
        .build()
        .expect("builds");
    (executor, sink)
}

#[tokio::test]
async fn a_caller_that_cancels_stops_the_tool_through_its_context_and_the_call_is_audited_cancelled()
 {
    let runs = Arc::new(AtomicUsize::new(0));
    let (executor, sink) = audited_with(counted_waiter(Arc::clone(&runs)));
    let stop = tokio_util::sync::CancellationToken::new();
    let options = fact_runtime::CallOptions::default().cancellation(stop.clone());
    let call = executor.execute_tool_call_with(ToolCall::new("Test.Waits", json!({})), options);
    let (result, ()) = tokio::join!(call, async {
        while runs.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        stop.cancel();
    });
    // The tool saw its context cancelled and returned; the call still counts as cancelled.
    assert_eq!(result.data, Some(json!("stopped")));
    executor.shutdown().await.expect("flushes");
    let records = sink.records();
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].status_code,
        fact_runtime::AuditRecord::CANCELLED_STATUS
    );
}

#[tokio::test]
async fn a_call_cancelled_before_its_tool_starts_never_runs_it() {
    let runs = Arc::new(AtomicUsize::new(0));
    let (executor, sink) = audited_with(counted_waiter(Arc::clone(&runs)));
    let stop = tokio_util::sync::CancellationToken::new();
    stop.cancel();
    let options = fact_runtime::CallOptions::default().cancellation(stop);
    let result = executor
        .execute_tool_call_with(ToolCall::new("Test.Waits", json!({})), options)
        .await;
    assert!(!result.success);
    assert_eq!(runs.load(Ordering::SeqCst), 0, "the tool ran for nobody");
    executor.shutdown().await.expect("flushes");
    let records = sink.records();
    assert_eq!(
        records[0].status_code,
        fact_runtime::AuditRecord::CANCELLED_STATUS
    );
}
