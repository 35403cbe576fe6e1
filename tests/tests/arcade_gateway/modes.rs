//! Every mode, with B in this process: what A lists, where each call runs, the pipeline
//! refusing bad input before a request leaves A, and the user and audit records on both sides.

use std::sync::Arc;
use std::time::Duration;

use fact_runtime::arcade::{ArcadeGateway, ExecutionMode, Side};
use fact_runtime::audit::AuditRecord;
use fact_runtime::{Execution, ToolCall, ToolDefinition, ToolError, ToolExecutor, ToolFormat};
use fact_tests::audit_sinks::MemorySink;
use serde_json::json;

use super::engines::{LocalEngine, Runs, a_builder, a_connected_to, b_builder, client};

async fn b() -> LocalEngine {
    let runs = Runs::default();
    LocalEngine::start(
        "127.0.0.1:0".parse().expect("address"),
        b_builder(&runs),
        runs,
    )
    .await
}

fn names(executor: &fact_runtime::ToolExecutor) -> Vec<String> {
    executor
        .available_tools()
        .iter()
        .map(|info| info.name.clone())
        .collect()
}

async fn answer(executor: &fact_runtime::ToolExecutor, tool: &str) -> serde_json::Value {
    let result = executor
        .execute_tool_call(ToolCall::new(tool, json!({})))
        .await;
    assert!(result.success, "{tool}: {result:?}");
    result.data.unwrap_or_default()
}

#[tokio::test]
async fn each_mode_serves_and_runs_its_sides_tools() {
    let b = b().await;
    let sink = Arc::new(MemorySink::default());
    let runs = Runs::default();
    let gateway = |mode| ArcadeGateway::new(client(&b.base_url())).mode(mode);

    let local = a_builder(gateway(ExecutionMode::Local), &runs, &sink)
        .build_connected()
        .await
        .expect("builds");
    assert_eq!(
        names(&local),
        ["Local.Only", "Shared.Fail", "Shared.Record", "Shared.Where"]
    );
    assert_eq!(answer(&local, "Shared.Where").await, "A");
    let missing = local
        .execute_tool_call(ToolCall::new("Remote.Echo", json!({"text": "x"})))
        .await;
    assert_eq!(missing.status_code, 404);

    let remote = a_builder(gateway(ExecutionMode::Remote), &runs, &sink)
        .build_connected()
        .await
        .expect("builds");
    assert_eq!(
        names(&remote),
        [
            "Remote.Echo",
            "Shared.Fail",
            "Shared.Record",
            "Shared.Where"
        ]
    );
    assert_eq!(answer(&remote, "Shared.Where").await, "B");
    assert_eq!(
        remote
            .execute_tool_call(ToolCall::new("Local.Only", json!({})))
            .await
            .status_code,
        404
    );

    let hybrid = a_builder(gateway(ExecutionMode::Hybrid), &runs, &sink)
        .build_connected()
        .await
        .expect("builds");
    assert_eq!(
        names(&hybrid),
        [
            "Local.Only",
            "Remote.Echo",
            "Shared.Fail",
            "Shared.Record",
            "Shared.Where"
        ]
    );
    assert_eq!(
        answer(&hybrid, "Shared.Where").await,
        "A",
        "local is preferred"
    );
    assert_eq!(answer(&hybrid, "Local.Only").await, "A");
    let echo = hybrid
        .execute_tool_call(ToolCall::new("Remote.Echo", json!({"text": "hi"})).user("ada"))
        .await;
    assert_eq!(
        echo.data,
        Some(json!({"text": "hi", "user": "ada"})),
        "{echo:?}"
    );
    let info = hybrid.tool_info("Shared.Where").expect("listed");
    assert_eq!(info.execution, Execution::LocalThenArcade);
    assert_eq!(
        hybrid.tool_info("Remote.Echo").expect("listed").execution,
        Execution::Arcade
    );

    let remote_first = a_builder(
        gateway(ExecutionMode::Hybrid).prefer(Side::Arcade),
        &runs,
        &sink,
    )
    .build_connected()
    .await
    .expect("builds");
    assert_eq!(answer(&remote_first, "Shared.Where").await, "B");
    assert_eq!(
        remote_first
            .tool_info("Shared.Where")
            .expect("listed")
            .execution,
        Execution::ArcadeThenLocal
    );

    // A tool's own mode overrides the executor's.
    let pinned = a_builder(
        gateway(ExecutionMode::Hybrid)
            .prefer(Side::Arcade)
            .tool_mode("Shared.Where", ExecutionMode::Local),
        &runs,
        &sink,
    )
    .build_connected()
    .await
    .expect("builds");
    assert_eq!(answer(&pinned, "Shared.Where").await, "A");
    b.stop().await;
}

#[tokio::test]
async fn a_remote_tool_is_listed_and_exported_like_a_local_one() {
    let b = b().await;
    let sink = Arc::new(MemorySink::default());
    let executor = a_connected_to(&b, &sink).await;
    let echo = executor.tool_info("Remote.Echo").expect("listed");
    assert_eq!(echo.input_schema["required"], json!(["text"]));
    assert_eq!(echo.input_schema["properties"]["count"]["type"], "integer");
    assert_eq!(echo.version, "1.0.0");
    assert!(
        echo.defined_at
            .starts_with("Arcade Engine http://127.0.0.1:"),
        "{}",
        echo.defined_at
    );
    for format in ToolFormat::ALL {
        let exported = executor.export_tools(format);
        let text = exported.to_string();
        assert!(
            text.contains("Remote.Echo") || text.contains("Remote_Echo"),
            "{format}: {text}"
        );
    }
    b.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_by_a_before_any_request_leaves() {
    let b = b().await;
    let sink = Arc::new(MemorySink::default());
    let executor = a_connected_to(&b, &sink).await;
    let before = b.runs.tokens().len();
    let missing = executor
        .execute_tool_call(ToolCall::new("Shared.Record", json!({})))
        .await;
    // Shared.Record is on both sides and runs here first: the remote-only tool shows it.
    assert_eq!(missing.status_code, 400);
    let wrong_type = executor
        .execute_tool_call(ToolCall::new("Remote.Echo", json!({"text": 5})))
        .await;
    assert_eq!(wrong_type.status_code, 400);
    let missing_text = executor
        .execute_tool_call(ToolCall::new("Remote.Echo", json!({})))
        .await;
    assert_eq!(missing_text.status_code, 400);
    assert_eq!(b.runs.tokens().len(), before);
    // A range the Engine's parameter list cannot say is B's to refuse: its 400 comes back as
    // a 400, run on the Engine.
    let out_of_range = executor
        .execute_tool_call(ToolCall::new(
            "Remote.Echo",
            json!({"text": "x", "count": 11}),
        ))
        .await;
    assert_eq!(out_of_range.status_code, 400, "{out_of_range:?}");
    assert!(
        out_of_range
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("count"),
        "{out_of_range:?}"
    );
    executor.shutdown().await.expect("audit flushed");
    let records = sink.records();
    let methods: Vec<(&str, u16)> = records
        .iter()
        .filter(|record| record.tool_name == "Remote.Echo")
        .map(|record| (record.execution_method.as_str(), record.status_code))
        .collect();
    assert_eq!(
        methods,
        [
            (AuditRecord::REFUSED, 400),
            (AuditRecord::REFUSED, 400),
            (AuditRecord::ARCADE, 400)
        ]
    );
    b.stop().await;
}

/// `Shared.Strict` (`n` an integer, at most `max` when given) and `Shared.Busy` (answers its
/// side, or is busy and does not start when `busy`).
fn strict_and_busy(side: &'static str, max: Option<u64>, busy: bool) -> Vec<ToolDefinition> {
    let mut n = json!({"type": "integer"});
    if let Some(max) = max {
        n["maximum"] = json!(max);
    }
    vec![
        ToolDefinition::new(
            "Shared.Strict",
            "Takes a bounded n",
            json!({"type": "object", "properties": {"n": n}, "required": ["n"]}),
            move |_ctx, _args| async move { Ok(json!(side)) },
        ),
        ToolDefinition::new(
            "Shared.Busy",
            "Busy here",
            json!({"type": "object", "properties": {}}),
            move |_ctx, _args| async move {
                if busy {
                    Err(ToolError::unavailable("all busy", Duration::from_secs(1)))
                } else {
                    Ok(json!(side))
                }
            },
        ),
    ]
}

/// B with `Shared.Strict` (no maximum) and `Shared.Busy` (never busy), and A with its own
/// (a maximum of 5; always busy), in hybrid mode preferring `prefer`.
async fn strict_and_busy_on_both_sides(prefer: Side) -> (LocalEngine, ToolExecutor) {
    let mut b_tools = ToolExecutor::builder().discover_linked_tools(false);
    for tool in strict_and_busy("B", None, false) {
        b_tools = b_tools.register(tool);
    }
    let b = LocalEngine::start(
        "127.0.0.1:0".parse().expect("address"),
        b_tools,
        Runs::default(),
    )
    .await;
    let mut a = ToolExecutor::builder()
        .discover_linked_tools(false)
        .arcade(ArcadeGateway::new(client(&b.base_url())).prefer(prefer));
    for tool in strict_and_busy("A", Some(5), true) {
        a = a.register(tool);
    }
    (b, a.build_connected().await.expect("builds"))
}

#[tokio::test]
async fn a_call_that_falls_back_here_passes_the_local_tools_own_checks() {
    let (b, a) = strict_and_busy_on_both_sides(Side::Arcade).await;
    let nine = || ToolCall::new("Shared.Strict", json!({"n": 9}));
    // B's definition admits 9, and B runs it.
    assert_eq!(a.execute_tool_call(nine()).await.data, Some(json!("B")));
    b.stop().await;
    // Fallen back here, the call meets this tool's own maximum.
    let refused = a.execute_tool_call(nine()).await;
    assert_eq!(refused.status_code, 400, "{refused:?}");
    assert!(
        refused.error.as_deref().unwrap_or_default().contains("n"),
        "{refused:?}"
    );
    let three = a
        .execute_tool_call(ToolCall::new("Shared.Strict", json!({"n": 3})))
        .await;
    assert_eq!(three.data, Some(json!("A")));
}

#[tokio::test]
async fn a_local_tool_that_could_not_start_hands_the_call_to_the_engine() {
    let (b, a) = strict_and_busy_on_both_sides(Side::Local).await;
    assert_eq!(
        a.tool_info("Shared.Busy").expect("listed").execution,
        Execution::LocalThenArcade
    );
    // Local first: busy here (503, not started), so B runs it.
    let busy = a
        .execute_tool_call(ToolCall::new("Shared.Busy", json!({})))
        .await;
    assert_eq!(busy.data, Some(json!("B")), "{busy:?}");
    b.stop().await;
}

#[tokio::test]
async fn the_engine_shows_in_health_and_prometheus_and_remote_calls_carry_their_route() {
    // B's server installs the process's Prometheus recorder before A records anything; B's
    // own calls are `route="local"`, A's `route="arcade"`.
    let b = b().await;
    let sink = Arc::new(MemorySink::default());
    let a = a_connected_to(&b, &sink).await;
    let echo = a
        .execute_tool_call(ToolCall::new("Remote.Echo", json!({"text": "x"})))
        .await;
    assert!(echo.success, "{echo:?}");
    let (base, stop, served) = super::engines::serve_a(a).await;
    let http = reqwest::Client::new();
    let health: serde_json::Value = serde_json::from_str(
        &http
            .get(format!("{base}/health"))
            .send()
            .await
            .expect("answers")
            .text()
            .await
            .expect("a body"),
    )
    .expect("JSON");
    let arcade = &health["arcade"];
    assert_eq!(arcade["status"], "healthy", "{health}");
    assert_eq!(arcade["mode"], "hybrid");
    assert_eq!(arcade["circuit"], "closed");
    assert_eq!(arcade["tools"], 4, "Remote.Echo and the three shared tools");
    assert!(
        arcade["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0),
        "{health}"
    );
    let metrics = http
        .get(format!("{base}/metrics"))
        .bearer_auth(super::engines::A_KEY)
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("a body");
    // Each gateway's series carry its Engine; other tests' calls share the process's
    // histogram, so only its presence is this test's.
    let engine = format!("engine=\"{}/\"", b.base_url());
    for series in [
        format!("arcade_circuit_open{{{engine}}} 0"),
        format!("arcade_remote_tools{{{engine}}} 4"),
        format!("arcade_latency_seconds{{{engine}}} "),
        r#"tool_execution_duration_seconds_count{tool="Remote.Echo",status="200",error_type="none",route="arcade"} "#.to_owned(),
    ] {
        assert!(metrics.contains(&series), "{series} missing from\n{metrics}");
    }
    let _ = stop.send(());
    let _ = served.await;
    b.stop().await;
}

#[tokio::test]
async fn a_rate_limit_refuses_a_remote_call_before_it_leaves_and_audits_it() {
    let runs = Runs::default();
    let b = LocalEngine::start(
        "127.0.0.1:0".parse().expect("address"),
        b_builder(&runs),
        runs.clone(),
    )
    .await;
    let sink = Arc::new(MemorySink::default());
    let clock = fact_runtime::ManualClock::new(Duration::from_secs(1_800_000_000));
    let a = a_builder(
        ArcadeGateway::new(client(&b.base_url())).mode(ExecutionMode::Remote),
        &Runs::default(),
        &sink,
    )
    .clock(Arc::new(clock.clone()))
    .enable_rate_limiting(true)
    .max_calls_per_minute(1)
    .build_connected()
    .await
    .expect("builds");
    let record = |token: &str| ToolCall::new("Shared.Record", json!({"token": token})).user("ada");
    assert!(a.execute_tool_call(record("first")).await.success);
    let limited = a.execute_tool_call(record("second")).await;
    assert_eq!(limited.status_code, 429, "{limited:?}");
    assert!(limited.metadata.retry_after_ms.is_some());
    assert_eq!(
        b.runs.tokens(),
        ["first"],
        "the refused call never reached B"
    );
    // A minute later, on A's clock, the quota allows the next.
    clock.advance(Duration::from_secs(60));
    assert!(a.execute_tool_call(record("third")).await.success);
    assert_eq!(b.runs.tokens(), ["first", "third"]);
    a.shutdown().await.expect("audit flushed");
    let methods: Vec<(String, u16)> = sink
        .records()
        .iter()
        .map(|record| (record.execution_method.clone(), record.status_code))
        .collect();
    assert_eq!(
        methods,
        [
            (AuditRecord::ARCADE.to_owned(), 200),
            (AuditRecord::REFUSED.to_owned(), 429),
            (AuditRecord::ARCADE.to_owned(), 200)
        ]
    );
    b.stop().await;
}

#[tokio::test]
async fn authorizing_a_tool_only_the_engine_runs_asks_the_engine() {
    // B runs `Docs.Read`, which needs a grant; its provider is never contacted here (a flow's
    // URL is made locally).
    let oauth = fact_runtime::auth::OAuthConfig::new(
        "client",
        "http://127.0.0.1:9/oauth/callback",
        "http://127.0.0.1:9/authorize",
        "http://127.0.0.1:9/token",
    )
    .expect("config");
    let manager = fact_runtime::auth::AuthorizationManager::new(oauth).expect("manager");
    let b_tools = ToolExecutor::builder()
        .discover_linked_tools(false)
        .authorization(manager)
        .register(
            ToolDefinition::new(
                "Docs.Read",
                "Reads a document",
                json!({"type": "object", "properties": {}}),
                |_ctx, _args| async { Ok(json!("read")) },
            )
            .requires_auth(["docs.read"]),
        );
    let b = LocalEngine::start(
        "127.0.0.1:0".parse().expect("address"),
        b_tools,
        Runs::default(),
    )
    .await;
    let sink = Arc::new(MemorySink::default());
    let a = a_connected_to(&b, &sink).await;
    let (base, stop, served) = super::engines::serve_a(a).await;
    let http = reqwest::Client::new();
    let reply = http
        .post(format!("{base}/arcade/v1/tools/authorize"))
        .header("authorization", super::engines::A_KEY)
        .header("content-type", "application/json")
        .body(json!({"tool_name": "Docs.Read", "user_id": "ada"}).to_string())
        .send()
        .await
        .expect("answers");
    assert_eq!(reply.status(), 200);
    let started: serde_json::Value =
        serde_json::from_str(&reply.text().await.expect("a body")).expect("JSON");
    assert_eq!(started["status"], "pending", "{started}");
    let url = started["url"].as_str().expect("B's authorization URL");
    assert!(url.starts_with("http://127.0.0.1:9/authorize?"), "{url}");
    let id = started["id"].as_str().expect("B's flow id");
    // A knows no such flow: it asks B.
    let reply = http
        .get(format!("{base}/arcade/v1/auth/status?id={id}"))
        .header("authorization", super::engines::A_KEY)
        .send()
        .await
        .expect("answers");
    assert_eq!(reply.status(), 200);
    let status: serde_json::Value =
        serde_json::from_str(&reply.text().await.expect("a body")).expect("JSON");
    assert_eq!(
        (status["status"].as_str(), status["user_id"].as_str()),
        (Some("pending"), Some("ada")),
        "{status}"
    );
    let reply = http
        .get(format!("{base}/arcade/v1/auth/status?id=made-up"))
        .header("authorization", super::engines::A_KEY)
        .send()
        .await
        .expect("answers");
    assert_eq!(reply.status(), 404);
    let _ = stop.send(());
    let _ = served.await;
    b.stop().await;
}
