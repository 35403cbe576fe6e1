//! `&ToolContext` and `ToolContext` parameters are injected and left out of the schema.

use fact_runtime::serde_json::json;
use fact_runtime::{ToolCall, ToolContext, ToolExecutor, tool};

/// Greets the calling user, taking the context by reference.
#[tool(name = "Ui.GreetRef")]
async fn greet_ref(
    /// How to greet
    greeting: String,
    ctx: &ToolContext,
) -> String {
    format!("{greeting}, {}", ctx.user_id().unwrap_or("stranger"))
}

/// Names the tool being called, taking the context by value (a sync tool).
#[tool(name = "Ui.GreetOwned")]
fn greet_owned(ctx: ToolContext, punctuation: String) -> String {
    format!("{}{punctuation}", ctx.tool_name())
}

/// Takes the context by value in an async tool, as its only parameter.
#[tool(name = "Ui.CallId")]
async fn call_id(ctx: fact_runtime::ToolContext) -> String {
    ctx.call_id().to_owned()
}

#[tokio::main]
async fn main() {
    let ctx = ToolContext::new("Ui.GreetRef").with_user("ada");
    assert_eq!(greet_ref("hello".into(), &ctx).await, "hello, ada");
    assert_eq!(
        greet_owned(ToolContext::new("Ui.GreetOwned"), "!".into()),
        "Ui.GreetOwned!"
    );

    let executor = ToolExecutor::builder().build().unwrap();
    for name in ["Ui.GreetRef", "Ui.GreetOwned", "Ui.CallId"] {
        let schema = &executor.tool_info(name).unwrap().input_schema;
        assert!(
            schema["properties"].get("ctx").is_none(),
            "{name}: {schema}"
        );
    }

    let result = executor
        .execute_tool_call(ToolCall::new("Ui.GreetRef", json!({"greeting": "hi"})).user("bob"))
        .await;
    assert_eq!(result.data, Some(json!("hi, bob")), "{result:?}");

    let result = executor
        .execute_tool_call(ToolCall::new("Ui.GreetOwned", json!({"punctuation": "?"})))
        .await;
    assert_eq!(result.data, Some(json!("Ui.GreetOwned?")), "{result:?}");

    let call = ToolCall::new("Ui.CallId", json!({})).with_call_id("call-7");
    let result = executor.execute_tool_call(call).await;
    assert_eq!(result.data, Some(json!("call-7")), "{result:?}");
}
