//! The catalogue read again without a restart (a vanished tool answers 404, a changed schema
//! is picked up), the circuit breaker on A's clock, and catalogues A cannot serve whole.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use fact_runtime::arcade::{ArcadeGateway, CircuitState, ExecutionMode};
use fact_runtime::{ErrorKind, ManualClock, ToolCall, ToolDefinition, ToolExecutor};
use fact_tests::audit_sinks::MemorySink;
use serde_json::json;

use super::engines::{LocalEngine, Runs, a_builder, a_connected_to, b_builder, client};

/// B with one tool, `Remote.Versioned`, whose schema requires `field`.
fn versioned(field: &'static str) -> fact_runtime::ToolExecutorBuilder {
    ToolExecutor::builder()
        .discover_linked_tools(false)
        .register(ToolDefinition::new(
            "Remote.Versioned",
            "Requires one field",
            json!({"type": "object", "properties": {field: {"type": "string"}}, "required": [field]}),
            move |_ctx, _args| async move { Ok(json!(field)) },
        ))
}

#[tokio::test]
async fn a_refresh_picks_up_changed_schemas_and_vanished_tools_answer_404() {
    let runs = Runs::default();
    let b = LocalEngine::start(
        "127.0.0.1:0".parse().expect("address"),
        b_builder(&runs),
        runs.clone(),
    )
    .await;
    let addr = b.addr;
    let sink = Arc::new(MemorySink::default());
    let executor = a_builder(
        ArcadeGateway::new(client(&b.base_url())).mode(ExecutionMode::Remote),
        &Runs::default(),
        &sink,
    )
    .build_connected()
    .await
    .expect("builds");
    assert!(executor.tool_info("Remote.Echo").is_some());
    b.stop().await;

    // B comes back on the same port with another catalogue.
    let b = LocalEngine::start(addr, versioned("first"), Runs::default()).await;
    let (served, skipped) = executor
        .refresh_remote_tools()
        .await
        .expect("reads the catalogue");
    assert_eq!((served, skipped.len()), (1, 0));
    let vanished = executor
        .execute_tool_call(ToolCall::new("Remote.Echo", json!({"text": "x"})))
        .await;
    assert_eq!(vanished.status_code, 404);
    let ok = executor
        .execute_tool_call(ToolCall::new("Remote.Versioned", json!({"first": "x"})))
        .await;
    assert_eq!(ok.data, Some(json!("first")), "{ok:?}");
    b.stop().await;

    let b = LocalEngine::start(addr, versioned("second"), Runs::default()).await;
    executor
        .refresh_remote_tools()
        .await
        .expect("reads the catalogue");
    let old_shape = executor
        .execute_tool_call(ToolCall::new("Remote.Versioned", json!({"first": "x"})))
        .await;
    assert_eq!(
        old_shape.status_code, 400,
        "refused by A's new schema: {old_shape:?}"
    );
    let new_shape = executor
        .execute_tool_call(ToolCall::new("Remote.Versioned", json!({"second": "x"})))
        .await;
    assert_eq!(new_shape.data, Some(json!("second")));
    b.stop().await;
}

#[tokio::test]
async fn a_refresh_that_fails_keeps_the_tools_served() {
    let runs = Runs::default();
    let b = LocalEngine::start(
        "127.0.0.1:0".parse().expect("address"),
        b_builder(&runs),
        runs,
    )
    .await;
    let sink = Arc::new(MemorySink::default());
    let executor = a_connected_to(&b, &sink).await;
    b.stop().await;
    let error = executor
        .refresh_remote_tools()
        .await
        .expect_err("B is gone");
    assert!(error.to_string().contains("GET /v1/tools"), "{error}");
    assert!(executor.tool_info("Remote.Echo").is_some(), "still listed");
}

#[tokio::test]
async fn the_circuit_opens_after_failures_skips_the_engine_then_one_probe_closes_it() {
    let runs = Runs::default();
    let b = LocalEngine::start(
        "127.0.0.1:0".parse().expect("address"),
        b_builder(&runs),
        runs.clone(),
    )
    .await;
    let addr = b.addr;
    let clock = ManualClock::new(Duration::from_secs(1_800_000_000));
    let sink = Arc::new(MemorySink::default());
    let executor = a_builder(
        ArcadeGateway::new(client(&b.base_url()))
            .mode(ExecutionMode::Remote)
            .circuit_breaker(3, Duration::from_secs(30)),
        &Runs::default(),
        &sink,
    )
    .clock(Arc::new(clock.clone()))
    .build_connected()
    .await
    .expect("builds");
    let echo = || ToolCall::new("Remote.Echo", json!({"text": "x"}));
    assert_eq!(executor.execute_tool_call(echo()).await.status_code, 200);
    assert_eq!(executor.arcade_health().expect("gateway").status, "healthy");
    b.stop().await;

    for _ in 0..3 {
        let refused = executor.execute_tool_call(echo()).await;
        assert_eq!(refused.status_code, 502, "{refused:?}");
    }
    let health = executor.arcade_health().expect("gateway");
    assert_eq!(
        (health.circuit, health.status),
        (CircuitState::Open, "unreachable")
    );
    // B is back, but the circuit skips it until the cool-down ends.
    let b = LocalEngine::start(addr, b_builder(&runs), runs.clone()).await;
    let skipped = executor.execute_tool_call(echo()).await;
    assert_eq!(skipped.status_code, 503, "{skipped:?}");
    assert_eq!(skipped.error_kind(), Some(ErrorKind::Unavailable));
    assert_eq!(skipped.metadata.retry_after_ms, Some(30_000));
    clock.advance(Duration::from_secs(30));
    // One probe: it succeeds, and the circuit closes.
    assert_eq!(executor.execute_tool_call(echo()).await.status_code, 200);
    let health = executor.arcade_health().expect("gateway");
    assert_eq!(
        (health.circuit, health.status),
        (CircuitState::Closed, "healthy")
    );
    b.stop().await;
}

#[tokio::test]
async fn tools_a_cannot_register_are_left_out_with_a_warning_naming_them() {
    let catalogue = json!({
        "items": [
            {"name": "Good", "qualified_name": "Odd.Good", "fully_qualified_name": "Odd.Good@1.0.0",
             "toolkit": {"name": "Odd", "version": "1.0.0"},
             "input": {"parameters": [{"name": "n", "required": true, "value_schema": {"val_type": "integer"}}]}},
            {"name": "NotAnObject", "qualified_name": "Odd.NotAnObject",
             "toolkit": {"name": "Odd", "version": "1.0.0"},
             "input": {"parameters": [{"name": "x", "value_schema": {"val_type": "object"}}]}},
            {"name": "BadVersion", "qualified_name": "Odd.BadVersion",
             "toolkit": {"name": "Odd", "version": "latest"}, "input": {"parameters": []}},
            {"name": "bad name", "qualified_name": "Odd.bad name",
             "toolkit": {"name": "Odd", "version": "1.0.0"}, "input": {"parameters": []}},
            {"name": 7, "qualified_name": "Odd.Broken", "input": 5}
        ],
        "total_count": 5, "offset": 0, "limit": 100
    });
    let app = Router::new().route(
        "/arcade/v1/tools",
        get(move || {
            let catalogue = catalogue.clone();
            async move { axum::Json(catalogue) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("an address");
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let sink = Arc::new(MemorySink::default());
    let executor = a_builder(
        ArcadeGateway::new(client(&format!("http://{addr}/arcade"))),
        &Runs::default(),
        &sink,
    )
    .build_connected()
    .await
    .expect("a bad remote tool does not stop A");
    assert!(executor.tool_info("Odd.Good").is_some());
    let (served, skipped) = executor.refresh_remote_tools().await.expect("reads");
    assert_eq!(served, 1);
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    assert!(
        skipped[0].contains("'Odd.NotAnObject'") && skipped[0].contains("type 'object'"),
        "{skipped:?}"
    );
    assert!(
        skipped[1].contains("'Odd.BadVersion'") && skipped[1].contains("MAJOR.MINOR.PATCH"),
        "{skipped:?}"
    );
    assert!(skipped[2].contains("'Odd.bad name'"), "{skipped:?}");
    assert!(
        skipped[3].contains("'Odd.Broken' is left out: not a tool definition"),
        "{skipped:?}"
    );
    server.abort();
}
