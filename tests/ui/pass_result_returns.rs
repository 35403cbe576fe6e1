//! `Result<T, ToolError>` keeps the tool's error kind; `Result<T, String>` is a 500 with the text.

use fact_runtime::serde_json::json;
use fact_runtime::{ToolCall, ToolError, ToolExecutor, tool};

/// Divides two numbers.
#[tool(name = "Ui.Divide")]
async fn divide(a: f64, b: f64) -> Result<f64, ToolError> {
    if b == 0.0 {
        return Err(ToolError::invalid_input("'b' must not be 0"));
    }
    Ok(a / b)
}

/// Parses an integer (a sync tool).
#[tool(name = "Ui.ParseInt")]
fn parse_int(text: String) -> Result<i64, String> {
    text.trim()
        .parse()
        .map_err(|e| format!("not an integer: {e}"))
}

#[tokio::main]
async fn main() {
    assert_eq!(divide(6.0, 3.0).await.unwrap(), 2.0);
    assert!(parse_int("x".into()).is_err());

    let executor = ToolExecutor::builder().build().unwrap();
    let call = |name: &str, arguments| executor.execute_tool_call(ToolCall::new(name, arguments));

    let ok = call("Ui.Divide", json!({"a": 1, "b": 4})).await;
    assert_eq!(ok.data, Some(json!(0.25)), "{ok:?}");
    let refused = call("Ui.Divide", json!({"a": 1, "b": 0})).await;
    assert_eq!(refused.status_code, 400, "{refused:?}");
    assert_eq!(
        refused.error.as_deref(),
        Some("'b' must not be 0"),
        "{refused:?}"
    );

    let ok = call("Ui.ParseInt", json!({"text": " 12 "})).await;
    assert_eq!(ok.data, Some(json!(12)), "{ok:?}");
    let failed = call("Ui.ParseInt", json!({"text": "twelve"})).await;
    assert_eq!(failed.status_code, 500, "{failed:?}");
    assert!(
        failed
            .error
            .as_deref()
            .is_some_and(|e| e.contains("not an integer")),
        "{failed:?}"
    );
}
