//! Local, remote and hybrid execution between two FACTs:
//! `cargo run -p examples --example hybrid_gateway`.
//!
//! B is a second FACT on loopback serving the Arcade Engine API under `/arcade`, with a
//! `Weather.Forecast` of its own and a `Text.Shout` that this process has too. A, this
//! process's executor, routes through an `ArcadeGateway` to B in hybrid mode, preferring the
//! Engine for tools both sides have: a local call, a remote call, then B is stopped and the
//! shared tool falls back here. The audit log (a SQLite file) shows where each call ran.

use std::sync::Arc;
use std::time::Duration;

use fact_runtime::arcade::{ArcadeClient, ArcadeGateway, ExecutionMode, Side};
use fact_runtime::audit::AuditQuery;
use fact_runtime::server::{ApiKeys, Server, ServerConfig};
use fact_runtime::{
    AuditConfig, AuditLog, SqlAuditSink, ToolCall, ToolDefinition, ToolExecutor, ToolResult,
};
use serde_json::json;

/// The key A presents to B; `:*` lets it name the end user of each call.
const KEY: &str = "demo-project-key-0123456789";

/// `Text.Shout`, answering which side ran it.
fn shout(side: &'static str) -> ToolDefinition {
    ToolDefinition::new(
        "Text.Shout",
        "Upper-cases a text",
        json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
        move |_ctx, args| async move {
            let text = args["text"].as_str().unwrap_or_default().to_uppercase();
            Ok(json!(format!("{text} (from {side})")))
        },
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== B: a second FACT serving the Engine API on loopback");
    let b_tools = ToolExecutor::builder()
        .discover_linked_tools(false)
        .register(shout("B"))
        .register(ToolDefinition::new(
            "Weather.Forecast",
            "Tomorrow's weather for a city",
            json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
            |ctx, args| async move {
                Ok(json!({
                    "city": args["city"],
                    "forecast": "sunny",
                    "asked_by": ctx.user_id(),
                }))
            },
        ))
        .build()?;
    let config = ServerConfig::default()
        .addr("127.0.0.1:0".parse()?)
        .api_keys(ApiKeys::parse(&format!("{KEY}:*"))?);
    let b = Server::new(b_tools, config)?.bind().await?;
    let base_url = format!("http://{}/arcade", b.local_addr());
    println!("  listening at {base_url}");
    let (stop_b, b_stopped) = tokio::sync::oneshot::channel::<()>();
    let b = tokio::spawn(b.run_until(async {
        let _ = b_stopped.await;
    }));

    println!("\n== A: local tools, and B's through a hybrid gateway that prefers the Engine");
    let db = std::env::temp_dir().join(format!("fact-hybrid-demo-{}.db", std::process::id()));
    let sink = Arc::new(SqlAuditSink::sqlite(&db).await?);
    let client = ArcadeClient::builder(KEY)
        .base_url(&base_url)
        .max_retries(1)
        .build()?;
    let gateway = ArcadeGateway::new(client)
        .mode(ExecutionMode::Hybrid)
        .prefer(Side::Arcade)
        .circuit_breaker(2, Duration::from_secs(30));
    let a = ToolExecutor::builder()
        .discover_linked_tools(false)
        .register(shout("A"))
        .register(ToolDefinition::new(
            "Math.Double",
            "Doubles a number",
            json!({"type": "object", "properties": {"n": {"type": "number"}}, "required": ["n"]}),
            |_ctx, args| async move { Ok(json!(args["n"].as_f64().unwrap_or_default() * 2.0)) },
        ))
        .arcade(gateway)
        .audit(AuditLog::start(sink.clone(), AuditConfig::default())?)
        .build_connected()
        .await?;
    for info in a.available_tools() {
        println!("  {:<18} runs {:?}", info.name, info.execution);
    }

    println!("\n== Calls");
    let call = |tool: &str, input: serde_json::Value| ToolCall::new(tool, input).user("ada");
    show(
        &a.execute_tool_call(call("Math.Double", json!({"n": 21})))
            .await,
    );
    show(
        &a.execute_tool_call(call("Weather.Forecast", json!({"city": "Lyon"})))
            .await,
    );
    show(
        &a.execute_tool_call(call("Text.Shout", json!({"text": "hello"})))
            .await,
    );
    println!("  (refused here, before any request leaves:)");
    show(
        &a.execute_tool_call(call("Weather.Forecast", json!({})))
            .await,
    );

    println!("\n== B stops; the shared tool falls back here, B's own tool cannot");
    let _ = stop_b.send(());
    b.await??;
    show(
        &a.execute_tool_call(call("Text.Shout", json!({"text": "still here"})))
            .await,
    );
    show(
        &a.execute_tool_call(call("Weather.Forecast", json!({"city": "Oslo"})))
            .await,
    );
    show(
        &a.execute_tool_call(call("Text.Shout", json!({"text": "circuit open"})))
            .await,
    );
    if let Some(health) = a.arcade_health() {
        println!(
            "  Engine: {} (circuit {})",
            health.status,
            health.circuit.as_str()
        );
    }

    println!("\n== A's audit log ({})", db.display());
    a.shutdown().await?;
    for record in sink.query(&AuditQuery::new()).await? {
        println!(
            "  {:<18} {:<4} {:<3} {:<7} {}",
            record.tool_name,
            record.user_id.as_deref().unwrap_or("-"),
            record.status_code,
            record.execution_method,
            record.error_type.as_deref().unwrap_or("-"),
        );
    }
    sink.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    Ok(())
}

/// Prints a result on one line.
fn show(result: &ToolResult) {
    let outcome = match (&result.data, &result.error) {
        (Some(data), _) => data.to_string(),
        (None, Some(error)) => error.clone(),
        (None, None) => String::new(),
    };
    println!(
        "  {:<18} {} {outcome}",
        result.tool_name, result.status_code
    );
}
