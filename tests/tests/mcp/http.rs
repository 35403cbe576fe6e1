//! `/mcp` on FACT's HTTP server with rmcp's streamable HTTP client: the current revision
//! (2026-07-28, `server/discover`, no session) and the session-era `initialize`, the key
//! check before any tool work, and the `Host` check against DNS rebinding.

use fact_runtime::audit::AuditRecord;
use rmcp::model::{CallToolRequestParams, ErrorCode, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt as _, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt as _};
use serde_json::{Value, json};

use crate::support::*;

type Client = RunningService<RoleClient, Listener>;

/// rmcp's streamable HTTP transport to `server`'s `/mcp` with `key` (a macro: its client is
/// rmcp's own reqwest, whose type this crate does not name).
macro_rules! transport {
    ($server:expr, $key:expr) => {
        StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri($server.mcp_url()).auth_header($key),
        )
    };
}

/// A client of the current revision: `server/discover`, then self-contained requests.
async fn current_client(server: &Running, listener: Listener) -> Client {
    listener
        .serve_with_lifecycle(
            transport!(server, ADA_KEY),
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .expect("the client connects with server/discover")
}

/// A client of the session era: `initialize` first.
async fn legacy_client(server: &Running, listener: Listener) -> Client {
    listener
        .serve(transport!(server, ADA_KEY))
        .await
        .expect("the client connects with initialize")
}

fn call(name: &str, arguments: Value) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(name.to_owned());
    params.arguments = arguments.as_object().cloned();
    params
}

async fn both_clients() -> (Fixture, Running, Vec<(&'static str, Client, Listener)>) {
    let fixture = fixture().await;
    let server = Running::start(fixture.executor.clone(), config()).await;
    let (current, legacy) = (Listener::default(), Listener::default());
    let clients = vec![
        (
            "current",
            current_client(&server, current.clone()).await,
            current,
        ),
        (
            "legacy",
            legacy_client(&server, legacy.clone()).await,
            legacy,
        ),
    ];
    (fixture, server, clients)
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_list_shows_every_tool_with_schemas_and_wraps_non_object_outputs() {
    let (_fixture, server, clients) = both_clients().await;
    for (revision, client, _) in clients {
        let tools = client.list_all_tools().await.expect("tools/list");
        let mut names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "Mcp.Add",
                "Mcp.Count",
                "Mcp.Fail",
                "Mcp.Private",
                "Mcp.Shout",
                "Mcp.Slow",
                "Mcp.Wait"
            ],
            "{revision}"
        );
        let add = tools.iter().find(|t| t.name == "Mcp.Add").expect("add");
        assert_eq!(add.description.as_deref(), Some("Adds two numbers"));
        assert_eq!(add.input_schema["required"], json!(["a", "b"]));
        assert_eq!(add.title.as_deref(), Some("Add numbers"), "{revision}");
        let hints = add.annotations.as_ref().expect("annotations");
        assert_eq!(hints.read_only_hint, Some(true), "{revision}");
        assert_eq!(hints.destructive_hint, Some(false), "{revision}");
        assert_eq!(hints.idempotent_hint, Some(true), "{revision}");
        assert_eq!(hints.open_world_hint, Some(false), "{revision}");
        // A tool that declares none has no annotations: the client reads MCP's defaults.
        let fail = tools.iter().find(|t| t.name == "Mcp.Fail").expect("fail");
        assert!(
            fail.annotations.is_none() && fail.title.is_none(),
            "{revision}"
        );
        let output = add.output_schema.as_ref().expect("an output schema");
        assert_eq!(output["properties"]["sum"]["type"], "number", "{revision}");
        let shout = tools.iter().find(|t| t.name == "Mcp.Shout").expect("shout");
        let wrapped = Value::Object((**shout.output_schema.as_ref().expect("schema")).clone());
        assert_eq!(
            wrapped,
            json!({"type": "object", "properties": {"result": {"type": "string"}}, "required": ["result"]}),
            "{revision}"
        );
        client.cancel().await.expect("closes");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_answers_structured_content_valid_against_its_output_schema_with_a_text_copy() {
    let (fixture, server, clients) = both_clients().await;
    for (revision, client, _) in clients {
        let tools = client.list_all_tools().await.expect("tools/list");
        for (name, arguments, expected) in [
            ("Mcp.Add", json!({"a": 2, "b": 3}), json!({"sum": 5.0})),
            ("Mcp.Shout", json!({"text": "hi"}), json!({"result": "HI"})),
        ] {
            let result = client
                .call_tool(call(name, arguments))
                .await
                .expect("tools/call");
            assert_eq!(result.is_error, Some(false), "{revision} {name}");
            let structured = result
                .structured_content
                .clone()
                .expect("structured content");
            assert_eq!(structured, expected, "{revision} {name}");
            let schema = tools
                .iter()
                .find(|t| t.name == name)
                .and_then(|t| t.output_schema.clone())
                .expect("declared");
            let schema = Value::Object((*schema).clone());
            assert_eq!(violations(&schema, &structured), Vec::<String>::new());
            let text = result.content[0].as_text().map(|t| t.text.clone());
            let copy = match name {
                "Mcp.Shout" => "HI".to_owned(),
                _ => r#"{"sum":5.0}"#.to_owned(),
            };
            assert_eq!(text, Some(copy), "{revision} {name}");
        }
        client.cancel().await.expect("closes");
    }
    // Each call ran through the pipeline as the key's user, and was audited.
    let records = fixture.records().await;
    let adds: Vec<&AuditRecord> = records
        .iter()
        .filter(|r| r.tool_name == "Mcp.Add")
        .collect();
    assert_eq!(adds.len(), 2);
    assert!(
        adds.iter()
            .all(|r| r.user_id.as_deref() == Some("ada") && r.status_code == 200)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_error_results_with_type_and_status_and_an_unknown_tool_is_a_protocol_error() {
    let (fixture, server, clients) = both_clients().await;
    for (revision, client, _) in clients {
        for (name, arguments, error_type, status, says) in [
            (
                "Mcp.Fail",
                json!({}),
                "ToolExecutionError",
                500,
                "the disk is full",
            ),
            (
                "Mcp.Add",
                json!({"a": "two", "b": 3}),
                "ToolValidationError",
                400,
                "'a'",
            ),
            (
                "Mcp.Slow",
                json!({}),
                "ToolTimeoutError",
                504,
                "timed out after 1s",
            ),
            (
                "Mcp.Private",
                json!({}),
                "UnauthorizedError",
                401,
                "Authorize here: http://127.0.0.1:",
            ),
        ] {
            let result = client
                .call_tool(call(name, arguments))
                .await
                .expect("an answer");
            assert_eq!(result.is_error, Some(true), "{revision} {name}");
            let facts = result.structured_content.clone().expect("facts");
            assert_eq!(
                facts["error_type"], error_type,
                "{revision} {name}: {facts}"
            );
            assert_eq!(facts["status_code"], status, "{revision} {name}");
            let text = result.content[0]
                .as_text()
                .map(|t| t.text.clone())
                .unwrap_or_default();
            assert!(text.contains(says), "{revision} {name}: {text}");
        }
        let private = client
            .call_tool(call("Mcp.Private", json!({})))
            .await
            .expect("answer");
        let facts = private.structured_content.expect("facts");
        let url = facts["authorization_url"].as_str().expect("a URL to open");
        assert!(
            url.starts_with(&fixture.provider.authorization_url()),
            "{url}"
        );
        assert!(url.contains("scope=docs.read"), "{url}");

        let unknown = client.call_tool(call("Mcp.Nothing", json!({}))).await;
        match unknown {
            Err(rmcp::ServiceError::McpError(error)) => {
                assert_eq!(error.code, ErrorCode::INVALID_PARAMS, "{revision}");
                assert!(error.message.contains("Mcp.Nothing"), "{}", error.message);
            }
            other => panic!("{revision}: an unknown tool answered {other:?}"),
        }
        client.cancel().await.expect("closes");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_reports_reach_the_client_only_while_they_advance() {
    let (_fixture, server, clients) = both_clients().await;
    for (revision, client, listener) in clients {
        let result = client
            .call_tool(call("Mcp.Count", json!({})))
            .await
            .expect("answer");
        assert_eq!(result.structured_content, Some(json!({"counted": 3})));
        assert_eq!(
            listener.heard_at_least(3).await,
            [
                (1.0, Some(3.0), Some("step 1".to_owned())),
                (2.0, Some(3.0), Some("step 2".to_owned())),
                (3.0, Some(3.0), Some("step 3".to_owned())),
            ],
            "{revision}"
        );
        client.cancel().await.expect("closes");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_goes_away_cancels_the_tool_which_stops_and_is_audited_cancelled() {
    // Over stateless HTTP a request is cancelled by closing its connection (rmcp answers a
    // `notifications/cancelled` POST with 202 and nothing to cancel; stdio honours it, see
    // stdio.rs). Clients of both eras, each against a server of its own.
    for revision in ["current", "legacy"] {
        let fixture = fixture().await;
        let server = Running::start(fixture.executor.clone(), config()).await;
        let client = match revision {
            "current" => current_client(&server, Listener::default()).await,
            _ => legacy_client(&server, Listener::default()).await,
        };
        let handle = waiting_call(&client, &fixture.waiter).await;
        assert!(!fixture.waiter.saw_cancellation());
        client.cancel().await.expect("the client goes away");
        drop(handle);
        fixture.waiter.observed_cancellation().await;
        let wait = fixture.record_of("Mcp.Wait").await.expect("audited");
        assert_eq!(
            wait.status_code,
            AuditRecord::CANCELLED_STATUS,
            "{revision}"
        );
        assert_eq!(wait.user_id.as_deref(), Some("ada"));
        server.stop().await;
    }
}

/// A raw MCP request to `/mcp`, as any HTTP client can send it.
fn tools_call_body() -> String {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "Mcp.Add", "arguments": {"a": 1, "b": 1}}
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_wrong_key_is_refused_before_any_tool_work() {
    let fixture = fixture().await;
    let server = Running::start(fixture.executor.clone(), config()).await;
    let http = reqwest::Client::new();
    for key in [None, Some("not-the-key-0123456789abcdef")] {
        let mut request = http
            .post(server.mcp_url())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(tools_call_body());
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let answer = request.send().await.expect("answers");
        assert_eq!(answer.status().as_u16(), 401, "{key:?}");
    }
    // rmcp's own client with a wrong key fails to connect.
    let refused = Listener::default()
        .serve(transport!(server, "not-the-key-0123456789abcdef"))
        .await;
    assert!(refused.is_err(), "a wrong key connected");
    assert!(
        fixture.records().await.is_empty(),
        "a refused request reached the pipeline"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_not_allowed_is_refused_and_an_allowed_one_served() {
    let fixture = fixture().await;
    let server = Running::start(
        fixture.executor.clone(),
        config().mcp_allowed_hosts(["127.0.0.1", "tools.example"]),
    )
    .await;
    let http = reqwest::Client::new();
    let send = |host: &'static str, origin: Option<&'static str>| {
        let mut request = http
            .post(server.mcp_url())
            .bearer_auth(ADA_KEY)
            .header("host", host)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .body(tools_call_body());
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    // A DNS name rebound to this address: its Host names the attacker's domain.
    let rebound = send("attacker.example", None).await.expect("answers");
    assert_eq!(rebound.status().as_u16(), 403);
    let foreign_origin = send("tools.example", Some("https://attacker.example"))
        .await
        .expect("answers");
    assert_eq!(foreign_origin.status().as_u16(), 403);
    let allowed = send("tools.example", Some("https://tools.example"))
        .await
        .expect("answers");
    assert_eq!(allowed.status().as_u16(), 200, "{:?}", allowed.text().await);
    let records = fixture.records().await;
    assert_eq!(
        records.len(),
        1,
        "only the allowed request ran: {records:?}"
    );
    server.stop().await;
}
