//! Where sync tools run (docs/ARCHITECTURE.md, "Sync tools"): a plain `fn` on the blocking
//! pool; one declared `#[tool(inline)]` on the calling task, until its runs hold the worker
//! past `INLINE_BUDGET`, which moves it to the pool for good, with one warning. Everything else
//! about a call (validation, a panic's 500, a timeout's 504, the audit record) is as for any
//! tool.
//!
//! Each test runs on a current-thread runtime: the calling task's thread is the test's own.
//! A demotion lasts as long as the process, so each test that may demote a tool has its own
//! tool (`fact_tests::fixtures::sync_tools`).

use std::sync::Arc;

use fact_runtime::audit::{AuditConfig, AuditLog, AuditRecord};
use fact_runtime::metrics::PrometheusExporter;
use fact_runtime::{INLINE_BUDGET, ToolCall, ToolExecutor, ToolResult};
use fact_tests::audit_sinks::MemorySink;
use fact_tests::captured_log::CapturedLog;
use fact_tests::fixtures::{self, sync_tools::this_thread};
use serde_json::{Value, json};

fn executor() -> ToolExecutor {
    let _ = fixtures::TOOL_NAMES;
    ToolExecutor::builder().build().expect("registry builds")
}

async fn call(executor: &ToolExecutor, tool: &str, arguments: Value) -> ToolResult {
    executor
        .execute_tool_call(ToolCall::new(tool, arguments))
        .await
}

/// The thread a fixture says it ran on, from its successful answer.
fn ran_on(result: &ToolResult) -> String {
    assert_eq!(result.status_code, 200, "{result:?}");
    result
        .data
        .as_ref()
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("a thread's name in {result:?}"))
        .to_owned()
}

#[tokio::test]
async fn an_inline_sync_tool_runs_on_the_calling_thread() {
    let result = call(&executor(), "Fixture.InlineThread", json!({})).await;
    assert_eq!(ran_on(&result), this_thread());
}

#[tokio::test]
async fn a_sync_tool_not_declared_inline_runs_on_another_thread() {
    let result = call(&executor(), "Fixture.SyncThread", json!({})).await;
    assert_ne!(ran_on(&result), this_thread());
}

// Blocking is known on Linux only: elsewhere the tool is moved after four runs past the budget.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn runs_that_block_past_the_budget_move_the_tool_to_the_blocking_pool_with_one_warning() {
    let exporter = PrometheusExporter::install().expect("the only recorder of this test binary");
    let (log, _capture) = CapturedLog::of_this_thread();
    let executor = executor();
    let overrun = json!({"millis": (INLINE_BUDGET * 5).as_millis()});

    // The first run past the budget could have been preempted: the tool is only watched.
    let first = call(&executor, "Fixture.InlineOverrun", overrun.clone()).await;
    assert_eq!(ran_on(&first), this_thread());
    // A watched run that blocks past the budget demotes the tool; its answer stands.
    let second = call(&executor, "Fixture.InlineOverrun", overrun.clone()).await;
    assert_eq!(ran_on(&second), this_thread());
    // Every later call runs on the blocking pool, a slow one included, which warns no more.
    let third = call(&executor, "Fixture.InlineOverrun", overrun).await;
    assert_ne!(ran_on(&third), this_thread());
    let fourth = call(&executor, "Fixture.InlineOverrun", json!({"millis": 0})).await;
    assert_ne!(ran_on(&fourth), this_thread());

    let text = log.text();
    let warnings: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("WARN") && line.contains("inline budget"))
        .collect();
    assert_eq!(warnings.len(), 1, "{text}");
    assert!(
        warnings[0].contains("inline tool 'Fixture.InlineOverrun' held its async worker for"),
        "{text}"
    );
    assert!(warnings[0].contains("budget_us=1000"), "{text}");
    let counted = exporter
        .render()
        .lines()
        .any(|line| line == r#"fact_inline_demotions_total{tool="Fixture.InlineOverrun"} 1"#);
    assert!(counted, "{}", exporter.render());
}

#[tokio::test]
async fn an_inline_tool_that_panics_is_a_500_like_any_tool() {
    let executor = executor();
    let inline = call(&executor, "Fixture.InlinePanics", json!({"secret": "x"})).await;
    let pooled = call(&executor, "Fixture.Panics", json!({"secret": "x"})).await;
    for (result, tool) in [
        (&inline, "Fixture.InlinePanics"),
        (&pooled, "Fixture.Panics"),
    ] {
        assert_eq!(result.status_code, 500, "{result:?}");
        assert_eq!(
            result.metadata.error_type.as_deref(),
            Some("ToolExecutionError")
        );
        assert_eq!(
            result.error.as_deref(),
            Some(format!("Tool '{tool}' failed: it panicked (see the server log)").as_str())
        );
    }
}

#[tokio::test]
async fn an_inline_tool_validates_its_arguments_like_any_tool() {
    let result = call(&executor(), "Fixture.InlineThread", json!({"digit": 12})).await;
    assert_eq!(result.status_code, 400, "{result:?}");
    assert_eq!(
        result.metadata.error_type.as_deref(),
        Some("ToolValidationError")
    );
}

// Real time: the tool sleeps past its one-second timeout, which cannot interrupt it inline.
#[tokio::test]
async fn an_inline_run_that_ends_past_its_timeout_is_a_504_when_it_ends() {
    let result = call(
        &executor(),
        "Fixture.InlinePastTimeout",
        json!({"millis": 1_100}),
    )
    .await;
    assert_eq!(result.status_code, 504, "{result:?}");
    assert_eq!(
        result.metadata.error_type.as_deref(),
        Some("ToolTimeoutError")
    );
    assert_eq!(
        result.error.as_deref(),
        Some("Tool 'Fixture.InlinePastTimeout' timed out after 1s")
    );
}

#[tokio::test]
async fn inline_calls_are_audited_as_local_calls() {
    let sink = Arc::new(MemorySink::default());
    let log = AuditLog::start(sink.clone(), AuditConfig::default()).expect("valid config");
    let executor = ToolExecutor::builder().audit(log).build().expect("builds");
    let calls = [
        ("Fixture.PlusInline", json!({"a": 40, "b": 2}), 200),
        ("Fixture.PlusSync", json!({"a": 40, "b": 2}), 200),
        ("Fixture.InlinePanics", json!({"secret": "x"}), 500),
    ];
    for (tool, arguments, status) in calls {
        let result = call(&executor, tool, arguments).await;
        assert_eq!(result.status_code, status, "{result:?}");
    }
    executor.shutdown().await.expect("every record written");

    let records: Vec<(String, u16, Option<String>, String)> = sink
        .records()
        .into_iter()
        .map(|r| (r.tool_name, r.status_code, r.error_type, r.execution_method))
        .collect();
    let local = AuditRecord::LOCAL.to_owned();
    assert_eq!(
        records,
        [
            ("Fixture.PlusInline".to_owned(), 200, None, local.clone()),
            ("Fixture.PlusSync".to_owned(), 200, None, local.clone()),
            (
                "Fixture.InlinePanics".to_owned(),
                500,
                Some("ToolExecutionError".to_owned()),
                local
            ),
        ]
    );
}
