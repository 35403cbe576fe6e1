//! The seed's calculator: `cargo run -p examples --example calculator`.
//!
//! Calls `MyApp.Calculator` through the executor and prints each `ToolResult` as JSON,
//! including division by zero, which the tool reports as an error result.

use fact_examples::calculator::{Operation, calculator};
use fact_runtime::{ToolCall, ToolExecutor};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let executor = ToolExecutor::builder().build()?;

    for (operation, a, b) in [("add", 2, 3), ("multiply", 6, 7), ("divide", 1, 0)] {
        let call = ToolCall::new(
            "MyApp.Calculator",
            json!({"operation": operation, "a": a, "b": b}),
        );
        let result = executor.execute_tool_call(call).await;
        println!(
            "{operation}({a}, {b}) -> {}",
            serde_json::to_string_pretty(&result)?
        );
    }

    // The tool is still a plain Rust function.
    let direct = calculator(Operation::Subtract, 10.0, 4.0).await?;
    println!("called directly: 10 - 4 = {}", direct.result);
    Ok(())
}
