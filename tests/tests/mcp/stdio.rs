//! MCP over a byte stream, as stdio carries it (`McpServer::serve` on one end of a pipe,
//! rmcp's client on the other): the user is the server's configured one, progress arrives,
//! and `notifications/cancelled` cancels the tool. `fact mcp` itself, as a child process, is
//! tested with the binary (fact-tools-std/tests/cli/mcp.rs).

use std::time::Duration;

use fact_runtime::audit::AuditRecord;
use fact_runtime::mcp::McpServer;
use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use serde_json::json;

use crate::support::*;

fn call(name: &str) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(name.to_owned());
    params.arguments = Some(serde_json::Map::new());
    params
}

#[tokio::test(flavor = "multi_thread")]
async fn over_a_pipe_calls_run_as_the_configured_user_with_progress_and_cancellation() {
    let fixture = fixture().await;
    let (server_end, client_end) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(
        McpServer::new(fixture.executor.clone())
            .user("grace")
            .serve(tokio::io::split(server_end)),
    );
    let listener = Listener::default();
    let client = listener
        .clone()
        .serve(tokio::io::split(client_end))
        .await
        .expect("initialize");

    let tools = client.list_all_tools().await.expect("tools/list");
    assert_eq!(tools.len(), 7);
    let counted = client
        .call_tool(call("Mcp.Count"))
        .await
        .expect("tools/call");
    assert_eq!(counted.structured_content, Some(json!({"counted": 3})));
    let heard = listener.heard_at_least(3).await;
    let steps: Vec<f64> = heard.iter().map(|report| report.0).collect();
    assert_eq!(steps, [1.0, 2.0, 3.0]);

    let handle = waiting_call(&client, &fixture.waiter).await;
    handle
        .cancel(Some("no longer needed".into()))
        .await
        .expect("notifications/cancelled");
    fixture.waiter.observed_cancellation().await;

    client.cancel().await.expect("the client closes");
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server ends when its client goes")
        .expect("no panic")
        .expect("a clean end");
    let wait = fixture.record_of("Mcp.Wait").await.expect("audited");
    assert_eq!(wait.status_code, AuditRecord::CANCELLED_STATUS);
    let records = fixture.records().await;
    assert!(
        records
            .iter()
            .all(|r| r.user_id.as_deref() == Some("grace")),
        "{records:?}"
    );
}
