//! An `async fn` tool runs through the executor and stays callable as plain Rust.

use fact_runtime::serde_json::json;
use fact_runtime::{ToolCall, ToolExecutor, tool};

/// Adds two numbers.
#[tool(name = "Ui.AsyncAdd")]
async fn add(
    /// The first addend
    a: i64,
    /// The second addend
    b: i64,
) -> i64 {
    a + b
}

#[tokio::main]
async fn main() {
    assert_eq!(add(2, 3).await, 5);

    let executor = ToolExecutor::builder().build().unwrap();
    let info = executor.tool_info("Ui.AsyncAdd").unwrap();
    assert_eq!(info.description, "Adds two numbers.");
    assert_eq!(info.version, "1.0.0");
    assert_eq!(info.timeout.as_secs(), 30);
    assert!(!info.requires_auth);
    assert_eq!(
        info.input_schema["properties"]["a"]["description"],
        "The first addend"
    );

    let result = executor
        .execute_tool_call(ToolCall::new("Ui.AsyncAdd", json!({"a": 2, "b": 40})))
        .await;
    assert!(result.success, "{result:?}");
    assert_eq!(result.data, Some(json!(42)));
}
