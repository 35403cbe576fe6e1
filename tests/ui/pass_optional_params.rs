//! `Option<T>` parameters are not required and arrive as `None` when absent.

use fact_runtime::serde_json::json;
use fact_runtime::{ToolCall, ToolExecutor, tool};

/// Repeats a text.
#[tool(name = "Ui.Repeat")]
async fn repeat(
    /// The text to repeat
    text: String,
    /// How many times; once when absent
    times: Option<u32>,
) -> String {
    text.repeat(times.unwrap_or(1) as usize)
}

#[tokio::main]
async fn main() {
    assert_eq!(repeat("ab".into(), None).await, "ab");

    let executor = ToolExecutor::builder().build().unwrap();
    let schema = &executor.tool_info("Ui.Repeat").unwrap().input_schema;
    assert_eq!(schema["required"], json!(["text"]), "{schema}");

    let absent = executor
        .execute_tool_call(ToolCall::new("Ui.Repeat", json!({"text": "ab"})))
        .await;
    assert_eq!(absent.data, Some(json!("ab")), "{absent:?}");

    let present = executor
        .execute_tool_call(ToolCall::new(
            "Ui.Repeat",
            json!({"text": "ab", "times": 3}),
        ))
        .await;
    assert_eq!(present.data, Some(json!("ababab")), "{present:?}");
}
