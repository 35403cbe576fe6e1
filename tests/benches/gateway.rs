//! A remote call through the Arcade gateway beside a bare pooled reqwest POST of the same
//! execute to the same remote (the limit): B is a FACT serving the Engine API on loopback,
//! on a runtime of its own; A runs `execute_tool_call` on a tool only B has (remote mode), so
//! every call passes A's pipeline (lookup, validation, rate-limit check, route, metrics, one
//! span), goes through `ArcadeClient` and comes back as a `ToolResult`.
//!
//! `cargo bench -p fact-tests --bench gateway`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fact_runtime::arcade::{ArcadeClient, ArcadeGateway, ExecutionMode};
use fact_runtime::server::{ApiKeys, Server, ServerConfig};
use fact_runtime::{ToolCall, ToolDefinition, ToolExecutor};
use serde_json::json;

const KEY: &str = "bench-project-key-0123456789";
const BODY: &str =
    r#"{"tool_name":"Bench.Echo","input":{"text":"hello"},"user_id":"ada","tool_version":"1.0.0"}"#;

/// B on its own runtime, in its own thread: its base URL.
fn start_b() -> String {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let executor = ToolExecutor::builder()
                .discover_linked_tools(false)
                .register(ToolDefinition::new(
                    "Bench.Echo",
                    "Echoes its text",
                    json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
                    |_ctx, args| async move { Ok(args["text"].clone()) },
                ))
                .build()
                .expect("B builds");
            let config = ServerConfig::default()
                .addr("127.0.0.1:0".parse().expect("address"))
                .api_keys(ApiKeys::parse(&format!("{KEY}:*")).expect("keys"));
            let bound = Server::new(executor, config)
                .expect("config")
                .bind()
                .await
                .expect("binds");
            sender
                .send(format!("http://{}/arcade", bound.local_addr()))
                .expect("the bench waits");
            bound.run_until(std::future::pending()).await.expect("serves");
        });
    });
    receiver.recv().expect("B starts")
}

fn gateway(c: &mut Criterion) {
    let base_url = start_b();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = ArcadeClient::builder(KEY)
        .base_url(&base_url)
        .build()
        .expect("client");
    let executor = runtime
        .block_on(
            ToolExecutor::builder()
                .discover_linked_tools(false)
                .arcade(ArcadeGateway::new(client).mode(ExecutionMode::Remote))
                .build_connected(),
        )
        .expect("A builds");
    assert!(
        executor.tool_info("Bench.Echo").is_some(),
        "B's tool is listed"
    );
    let bare = reqwest::Client::new();
    let url = format!("{base_url}/v1/tools/execute");

    let mut group = c.benchmark_group("remote_call");
    group.throughput(Throughput::Elements(1));
    group.bench_function("bare_reqwest_post", |b| {
        b.to_async(&runtime).iter(|| async {
            let response = bare
                .post(&url)
                .header("authorization", format!("Bearer {KEY}"))
                .header("content-type", "application/json")
                .body(black_box(BODY))
                .send()
                .await
                .expect("answers");
            assert!(response.status().is_success());
            response.bytes().await.expect("a body")
        });
    });
    group.bench_function("gateway_execute_tool_call", |b| {
        b.to_async(&runtime).iter(|| async {
            let result = executor
                .execute_tool_call(
                    ToolCall::new("Bench.Echo", black_box(json!({"text": "hello"}))).user("ada"),
                )
                .await;
            assert!(result.success, "{result:?}");
            result
        });
    });
    group.finish();
}

criterion_group!(benches, gateway);
criterion_main!(benches);
