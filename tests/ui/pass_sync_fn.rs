//! A plain `fn` tool runs on the blocking pool and stays callable as plain Rust.

use fact_runtime::serde_json::json;
use fact_runtime::{ToolCall, ToolExecutor, tool};

/// Joins words with a separator.
#[tool(name = "Ui.SyncJoin", timeout = 5)]
fn join(words: Vec<String>, separator: String) -> String {
    words.join(&separator)
}

#[tokio::main]
async fn main() {
    assert_eq!(join(vec!["a".into(), "b".into()], "-".into()), "a-b");

    let executor = ToolExecutor::builder().build().unwrap();
    assert_eq!(
        executor.tool_info("Ui.SyncJoin").unwrap().timeout.as_secs(),
        5
    );
    let result = executor
        .execute_tool_call(ToolCall::new(
            "Ui.SyncJoin",
            json!({"words": ["x", "y", "z"], "separator": "+"}),
        ))
        .await;
    assert!(result.success, "{result:?}");
    assert_eq!(result.data, Some(json!("x+y+z")));
}
