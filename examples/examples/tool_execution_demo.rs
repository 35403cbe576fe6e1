//! A tour of the executor: `cargo run -p examples --example tool_execution_demo`.
//!
//! Registers a tool at run time beside the linked `MyApp.Calculator`, then shows a single call,
//! concurrent calls, a validation error, an unknown tool, and the tool list in OpenAI format.

use std::time::Duration;

use fact_runtime::{ToolCall, ToolDefinition, ToolExecutor, ToolFormat, ToolResult};
use serde_json::json;
// Names the crate that defines MyApp.Calculator, so that the linker keeps its registration.
use fact_examples as _;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== Registration");
    let greeter = ToolDefinition::new(
        "Demo.Greet",
        "Greets someone by name",
        json!({
            "type": "object",
            "properties": {"name": {"type": "string", "minLength": 1, "description": "Who to greet"}},
            "required": ["name"],
            "additionalProperties": false
        }),
        |ctx, args| async move {
            let name = args["name"].as_str().unwrap_or_default().to_owned();
            let by = ctx.user_id().unwrap_or("anonymous").to_owned();
            Ok(json!({"greeting": format!("Hello, {name}!"), "requested_by": by}))
        },
    )
    .timeout(Duration::from_secs(5));
    let executor = ToolExecutor::builder()
        .register(greeter)
        .max_concurrency(8)
        .build()?;
    for tool in executor.available_tools() {
        println!(
            "  {} v{} (timeout {:?}): {}",
            tool.name, tool.version, tool.timeout, tool.description
        );
    }

    println!("\n== A single call");
    let call = ToolCall::new(
        "MyApp.Calculator",
        json!({"operation": "multiply", "a": 6, "b": 7}),
    )
    .user("demo-user");
    show(&executor.execute_tool_call(call).await);

    println!("\n== Concurrent calls (results come back in input order)");
    let calls: Vec<ToolCall> = (1..=5)
        .map(|i| {
            ToolCall::new(
                "MyApp.Calculator",
                json!({"operation": "add", "a": i, "b": i * 10}),
            )
        })
        .chain([ToolCall::new("Demo.Greet", json!({"name": "Ada"})).user("demo-user")])
        .collect();
    for result in executor.execute_tool_calls(calls).await {
        show(&result);
    }

    println!("\n== A validation error");
    let call = ToolCall::new(
        "MyApp.Calculator",
        json!({"operation": "power", "a": 2, "b": 8}),
    );
    show(&executor.execute_tool_call(call).await);

    println!("\n== An unknown tool");
    show(
        &executor
            .execute_tool_call(ToolCall::new("MyApp.Weather", json!({"city": "Oslo"})))
            .await,
    );

    println!("\n== Tools in OpenAI format");
    println!(
        "{}",
        serde_json::to_string_pretty(&executor.export_tools(ToolFormat::OpenAi))?
    );

    println!("\n== Health");
    println!(
        "{}",
        serde_json::to_string_pretty(&executor.health_check().await)?
    );
    Ok(())
}

fn show(result: &ToolResult) {
    match (&result.data, &result.error) {
        (Some(data), _) => println!("  {} -> {} {data}", result.tool_name, result.status_code),
        (None, Some(error)) => println!(
            "  {} -> {} {}: {error}",
            result.tool_name,
            result.status_code,
            result.metadata.error_type.as_deref().unwrap_or("error")
        ),
        (None, None) => println!("  {} -> {}", result.tool_name, result.status_code),
    }
}
