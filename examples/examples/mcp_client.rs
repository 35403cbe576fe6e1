//! An MCP session with FACT's tools: rmcp's client (the official Rust SDK) on one end of a
//! pipe, FACT's MCP server on the other, as `fact mcp` serves on stdio. The client lists the
//! tools, calls the calculator, and sees a failure as MCP reports it.
//!
//! ```sh
//! cargo run -p examples --example mcp_client
//! ```

use fact_runtime::ToolExecutor;
use fact_runtime::mcp::McpServer;
use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use serde_json::json;

// The crate whose `#[tool]`s this program serves (MyApp.Calculator among them).
use fact_examples as _;

fn call(name: &str, arguments: serde_json::Value) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(name.to_owned());
    params.arguments = arguments.as_object().cloned();
    params
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let executor = ToolExecutor::builder().build()?;
    let (server_end, client_end) = tokio::io::duplex(64 * 1024);
    // The server: every linked tool, calls run as "ada".
    let server = tokio::spawn(
        McpServer::new(executor)
            .user("ada")
            .serve(tokio::io::split(server_end)),
    );

    // The client: `initialize`, then tools/list and tools/call.
    let client = ().serve(tokio::io::split(client_end)).await?;
    let info = client
        .peer_info()
        .and_then(|info| info.server_info.as_ref().map(|server| server.name.clone()));
    println!("connected to {}", info.unwrap_or_default());
    for tool in client.list_all_tools().await? {
        println!(
            "tool {}: {}",
            tool.name,
            tool.description.unwrap_or_default()
        );
    }

    let sum = client
        .call_tool(call(
            "MyApp.Calculator",
            json!({"operation": "add", "a": 2, "b": 3}),
        ))
        .await?;
    println!(
        "2 + 3 -> {}",
        serde_json::to_string(&sum.structured_content)?
    );

    let refused = client
        .call_tool(call(
            "MyApp.Calculator",
            json!({"operation": "divide", "a": 1, "b": 0}),
        ))
        .await?;
    println!(
        "1 / 0 -> isError={:?} {}",
        refused.is_error,
        serde_json::to_string(&refused.structured_content)?
    );

    client.cancel().await?;
    server.await??;
    Ok(())
}
