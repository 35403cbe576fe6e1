//! A plain `fn` declared `inline` runs on the calling task and stays callable as plain Rust;
//! `inline = false` says what every tool does by default, on an async fn too.

use fact_runtime::serde_json::json;
use fact_runtime::{ToolCall, ToolExecutor, tool};

/// Adds two integers.
#[tool(name = "Ui.InlineAdd", inline)]
fn add(a: i64, b: i64) -> i64 {
    a.wrapping_add(b)
}

/// Names the thread it runs on.
#[tool(name = "Ui.InlineThread", inline = true)]
fn thread() -> String {
    format!("{:?}", std::thread::current().id())
}

/// Negates an integer.
#[tool(name = "Ui.NotInline", inline = false)]
async fn negate(a: i64) -> i64 {
    a.wrapping_neg()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(add(40, 2), 42);

    let executor = ToolExecutor::builder().build().unwrap();
    let sum = executor
        .execute_tool_call(ToolCall::new("Ui.InlineAdd", json!({"a": 40, "b": 2})))
        .await;
    assert_eq!(sum.data, Some(json!(42)), "{sum:?}");
    let ran_on = executor
        .execute_tool_call(ToolCall::new("Ui.InlineThread", json!({})))
        .await;
    let here = format!("{:?}", std::thread::current().id());
    assert_eq!(ran_on.data, Some(json!(here)), "{ran_on:?}");
    let negated = executor
        .execute_tool_call(ToolCall::new("Ui.NotInline", json!({"a": 7})))
        .await;
    assert_eq!(negated.data, Some(json!(-7)), "{negated:?}");
}
