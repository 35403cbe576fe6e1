//! The thinnest HTTP front of an executor, for the benches that measure what FACT's server adds
//! (benches/server.rs over TCP, benches/router.rs in process): `POST /v1/tools/execute` parses
//! the body, runs the call and answers its `ToolResult`, with no API key, middleware or error
//! shapes.

use axum::routing::post;
use axum::{Json, Router};
use fact_runtime::{ToolCall, ToolExecutor};
use serde_json::Value;

/// `POST /v1/tools/execute` straight to `executor`.
pub fn thin_router(executor: ToolExecutor) -> Router {
    Router::new().route(
        "/v1/tools/execute",
        post(move |Json(body): Json<Value>| {
            let executor = executor.clone();
            async move {
                let name = body["tool_name"].as_str().unwrap_or_default();
                let call = ToolCall::new(name, body["input"].clone());
                Json(executor.execute_tool_call(call).await)
            }
        }),
    )
}
