//! GET /health and GET /metrics.

use std::sync::Arc;

use fact_runtime::{ToolDefinition, ToolError, ToolExecutor};
use serde_json::json;
use tokio::sync::oneshot;

use crate::support::*;

// ---- /health ----

#[tokio::test]
async fn health_is_open_and_reports_executor_and_arcade() {
    let (server, _) = running().await;
    let reply = server.get("/health", None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["executor"]["status"], "healthy");
    assert!(body["executor"]["tools"].as_u64() > Some(10), "{body}");
    assert_eq!(body["arcade"], json!({"status": "disabled"}));
    assert!(body["timestamp"].as_f64() > Some(1.7e9), "{body}");
    server.stop().await.expect("stops");
}

#[test]
fn health_is_503_when_the_blocking_pool_cannot_answer() {
    // One blocking thread, held by a sync tool: the health probe cannot get through.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (hold, held) = std::sync::mpsc::channel::<()>();
        let held = Arc::new(std::sync::Mutex::new(held));
        let (entered_tx, entered) = oneshot::channel::<()>();
        let entered_tx = Arc::new(std::sync::Mutex::new(Some(entered_tx)));
        let blocker = ToolDefinition::new(
            "Test.Block",
            "Holds a blocking thread until released",
            json!({"type": "object"}),
            move |_ctx, _args| {
                let held = Arc::clone(&held);
                let entered_tx = Arc::clone(&entered_tx);
                async move {
                    tokio::task::spawn_blocking(move || {
                        if let Some(tx) = entered_tx.lock().ok().and_then(|mut tx| tx.take()) {
                            let _ = tx.send(());
                        }
                        let _ = held.lock().map(|rx| rx.recv());
                    })
                    .await
                    .map_err(|e| ToolError::fatal(e.to_string()))?;
                    Ok(json!("done"))
                }
            },
        );
        let executor = ToolExecutor::builder()
            .discover_linked_tools(false)
            .register(blocker)
            .build()
            .expect("builds");
        let server = Running::start(executor, config()).await;
        let call = {
            let client = server.client.clone();
            let url = format!("{}/v1/tools/execute", server.base);
            tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(ADA_KEY)
                    .body(json!({"tool_name": "Test.Block"}).to_string())
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        };
        entered.await.expect("the tool holds the blocking thread");

        let reply = server.get("/health", None).await;
        assert_eq!(reply.status, 503, "{}", reply.text);
        let body = reply.json();
        assert_eq!(body["status"], "unhealthy");
        let problem = body["executor"]["problem"].as_str().unwrap_or_default();
        assert!(problem.contains("blocking pool"), "{body}");

        hold.send(()).expect("release");
        assert_eq!(call.await.expect("joins").expect("answered"), 200);
        assert_eq!(server.get("/health", None).await.status, 200);
        server.stop().await.expect("stops");
    });
}

// ---- /metrics ----

#[tokio::test]
async fn metrics_are_prometheus_text_with_the_alert_rules_series() {
    let (server, _) = running().await;
    assert_eq!(
        server
            .execute(
                ADA_KEY,
                json!({"tool_name": "Fixture.Echo", "input": {"text": "x"}})
            )
            .await
            .status,
        200
    );
    assert_eq!(
        server
            .execute(ADA_KEY, json!({"tool_name": "Fixture.Echo", "input": {}}))
            .await
            .status,
        400
    );
    let reply = server.get("/metrics", Some(ADA_KEY)).await;
    assert_eq!(reply.status, 200);
    let content_type = reply
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    assert_eq!(
        content_type,
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    for series in [
        r#"tool_executions_total{tool="Fixture.Echo"}"#,
        r#"tool_execution_failures_total{tool="Fixture.Echo"}"#,
        // Refused by validation before it was routed, and run here.
        r#"tool_execution_duration_seconds_bucket{tool="Fixture.Echo",status="400",error_type="ToolValidationError",route="refused",le="0.001"}"#,
        r#"tool_execution_duration_seconds_count{tool="Fixture.Echo",status="200",error_type="none",route="local"}"#,
    ] {
        assert!(
            reply.text.contains(series),
            "{series} missing from\n{}",
            reply.text
        );
    }
    assert!(!reply.text.contains("ada"), "no series names a user");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn metrics_can_be_made_public() {
    let executor = builder(&Gate::default()).build().expect("builds");
    let server = Running::start(executor, config().metrics_public(true)).await;
    let reply = server.get("/metrics", None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // The tools stay protected.
    assert_eq!(server.get("/v1/tools", None).await.status, 401);
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn unknown_tool_names_share_one_series() {
    let (server, _) = running().await;
    for name in ["Made.Up1", "Made.Up2"] {
        assert_eq!(
            server
                .execute(ADA_KEY, json!({"tool_name": name}))
                .await
                .status,
            404
        );
    }
    let text = server.get("/metrics", Some(ADA_KEY)).await.text;
    assert!(
        text.contains(r#"tool_executions_total{tool="unregistered"}"#),
        "{text}"
    );
    assert!(!text.contains("Made.Up"), "{text}");
    server.stop().await.expect("stops");
}
