//! `#[serde(..)]` and `#[schemars(..)]` on parameters shape the schema as on struct fields.

use fact_runtime::serde_json::json;
use fact_runtime::{ToolCall, ToolExecutor, tool};

/// Lists a page of items.
#[tool(name = "Ui.Page")]
async fn page(
    /// Page size
    #[schemars(range(min = 1, max = 100))]
    limit: u32,
    /// Newest first when true
    #[serde(default)]
    descending: bool,
) -> (u32, bool) {
    (limit, descending)
}

#[tokio::main]
async fn main() {
    assert_eq!(page(10, true).await, (10, true));

    let executor = ToolExecutor::builder().build().unwrap();
    let schema = &executor.tool_info("Ui.Page").unwrap().input_schema;
    assert_eq!(
        schema["properties"]["limit"]["minimum"],
        json!(1),
        "{schema}"
    );
    assert_eq!(
        schema["properties"]["limit"]["maximum"],
        json!(100),
        "{schema}"
    );
    assert_eq!(schema["required"], json!(["limit"]), "{schema}");

    let defaulted = executor
        .execute_tool_call(ToolCall::new("Ui.Page", json!({"limit": 5})))
        .await;
    assert_eq!(defaulted.data, Some(json!([5, false])), "{defaulted:?}");

    let out_of_range = executor
        .execute_tool_call(ToolCall::new("Ui.Page", json!({"limit": 500})))
        .await;
    assert_eq!(out_of_range.status_code, 400, "{out_of_range:?}");
}
