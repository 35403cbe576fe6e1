//! Every refusal is JSON in the shape of a failed ToolResult, the framework's own included:
//! a path or query axum cannot read, and a request line or headers hyper cannot parse.

use crate::support::*;

#[tokio::test]
async fn a_tool_name_that_is_not_utf8_once_decoded_is_a_json_400() {
    let (server, _) = running().await;
    for path in ["/v1/tools/%ff%fe", "/v1/tools/Fixture.%C0%80"] {
        let reply = server.get(path, Some(ADA_KEY)).await;
        reply.assert_refusal(400, "InvalidRequestError", "tool name in the path");
    }
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_repeated_query_parameter_is_a_json_400() {
    let (server, _) = running().await;
    for path in [
        "/v1/tools?format=openai&format=mcp",
        "/v1/tools/Fixture.Echo?format=native&format=native",
    ] {
        let reply = server.get(path, Some(ADA_KEY)).await;
        reply.assert_refusal(400, "InvalidRequestError", "at most one 'format'");
    }
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_request_hyper_cannot_parse_is_a_json_400() {
    let (server, _) = running().await;
    let requests: [&[u8]; 4] = [
        b"GARBAGE\r\n\r\n",
        b"GET /health HTTP/9.9\r\nHost: fact\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: fact\r\nBad Header: x\r\n\r\n",
        b"GET /he alth HTTP/1.1\r\nHost: fact\r\n\r\n",
    ];
    for request in requests {
        let answer = RawAnswer::parse(&raw_exchange(&server.addr(), request).await);
        answer.assert_refusal(400, "InvalidRequestError", "not valid HTTP/1.1");
    }
    // The server goes on serving.
    assert_eq!(server.get("/health", None).await.status, 200);
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn headers_too_many_or_too_large_are_a_json_431() {
    let (server, _) = running().await;
    // At most 100 header fields, `Host` and `Connection` among them: the last count that is
    // served, the first that is not. The limit is hyper's default, so this is what holds it.
    let with_fields = |count: usize| -> String {
        let more: String = (2..count).map(|i| format!("X-H{i}: v\r\n")).collect();
        format!("GET /health HTTP/1.1\r\nHost: fact\r\nConnection: close\r\n{more}\r\n")
    };
    let served = RawAnswer::parse(&raw_exchange(&server.addr(), with_fields(100).as_bytes()).await);
    assert_eq!(served.status, 200, "100 header fields are served");
    let many = with_fields(101);
    let large = format!("X-Large: {}\r\n", "v".repeat(80 * 1024));
    let large = format!("GET /health HTTP/1.1\r\nHost: fact\r\n{large}\r\n");
    for request in [many, large] {
        let answer = RawAnswer::parse(&raw_exchange(&server.addr(), request.as_bytes()).await);
        answer.assert_refusal(431, "InvalidRequestError", "headers are too large");
    }
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_batch_body_that_is_an_array_is_told_to_put_its_calls_in_an_object() {
    let (server, executor) = running().await;
    let body = r#"[{"tool_name": "Fixture.Echo", "input": {"text": "a"}}]"#;
    let reply = server
        .post("/v1/tools/execute/batch", Some(ADA_KEY), body)
        .await;
    reply.assert_refusal(400, "InvalidRequestError", "the body is a JSON array");
    let error = reply.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(error.contains(r#"{"calls": ["#), "{error}");
    assert!(!error.contains("sequence"), "{error}");
    // And a single call sent as an array to the one-call endpoint.
    let reply = server.post("/v1/tools/execute", Some(ADA_KEY), body).await;
    reply.assert_refusal(400, "InvalidRequestError", "the body is a JSON array");
    assert_eq!(
        executor.metrics().get_system_metrics(60).total_executions,
        0
    );
    server.stop().await.expect("stops");
}
