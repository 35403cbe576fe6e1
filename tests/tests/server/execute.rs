//! POST /v1/tools/execute and its batch endpoint: status codes, limits, timeouts.

use std::time::Duration;

use fact_runtime::SecurityPolicy;
use fact_runtime::audit::AuditQuery;
use serde_json::json;

use crate::support::*;

// ---- POST /v1/tools/execute ----

/// Each outcome of the pipeline, with the HTTP status equal to the result's `status_code`.
#[tokio::test]
async fn the_http_status_is_the_results_status_code() {
    let gate = Gate::default();
    let mut policy = SecurityPolicy::default();
    policy.max_string_length = 16;
    let executor = builder(&gate)
        .security_policy(policy)
        .enable_rate_limiting(true)
        .build()
        .expect("builds");
    let server = Running::start(executor, config()).await;
    let cases = [
        (
            json!({"tool_name": "MyApp.Calculator", "input": {"operation": "add", "a": 2, "b": 3}}),
            200,
            None,
        ),
        (
            json!({"tool_name": "MyApp.Calculator", "input": {"operation": "pow", "a": 2, "b": 3}}),
            400,
            Some("ToolValidationError"),
        ),
        (
            json!({"tool_name": "Fixture.Private"}),
            401,
            Some("UnauthorizedError"),
        ),
        (
            json!({"tool_name": "Fixture.Echo", "input": {"text": "a string longer than sixteen"}}),
            403,
            Some("SecurityError"),
        ),
        (
            json!({"tool_name": "MyApp.Nope"}),
            404,
            Some("ToolNotFoundError"),
        ),
        (
            json!({"tool_name": "Fixture.KindOf", "input": {"kind": "fatal"}}),
            500,
            Some("ToolExecutionError"),
        ),
        (
            json!({"tool_name": "Fixture.KindOf", "input": {"kind": "arcade"}}),
            502,
            Some("ArcadeError"),
        ),
        (
            json!({"tool_name": "Fixture.Slow", "input": {"millis": 5000}}),
            504,
            Some("ToolTimeoutError"),
        ),
    ];
    for (call, status, error_type) in cases {
        let reply = server.execute(ADA_KEY, call.clone()).await;
        assert_eq!(reply.status, status, "{call}: {}", reply.text);
        let body = reply.json();
        assert_eq!(body["status_code"], status, "{body}");
        assert_eq!(body["success"], status == 200, "{body}");
        assert_eq!(
            body["metadata"]["error_type"].as_str(),
            error_type,
            "{body}"
        );
        assert!(body["call_id"].as_str().is_some_and(|id| !id.is_empty()));
    }
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn over_quota_is_429_with_retry_after() {
    let executor = builder(&Gate::default())
        .enable_rate_limiting(true)
        .build()
        .expect("builds");
    let server = Running::start(executor, config()).await;
    let quota = json!({"tool_name": "Fixture.Quota"});
    for _ in 0..3 {
        assert_eq!(server.execute(ADA_KEY, quota.clone()).await.status, 200);
    }
    let refused = server.execute(ADA_KEY, quota.clone()).await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert_eq!(refused.json()["metadata"]["error_type"], "RateLimitError");
    let retry_after: u64 = refused
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header in seconds");
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    // Quotas are per user, and the user is the key's.
    assert_eq!(server.execute(BOB_KEY, quota).await.status, 200);
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_malformed_body_is_400_naming_the_expected_shape() {
    let (server, executor) = running().await;
    let cases = [
        ("not json", "the body must be"),
        (r#"{"input": {}}"#, "missing field `tool_name`"),
        (r#"{"tool_name": 5}"#, "invalid type"),
    ];
    for (body, says) in cases {
        let reply = server.post("/v1/tools/execute", Some(ADA_KEY), body).await;
        reply.assert_refusal(400, "InvalidRequestError", says);
    }
    assert_eq!(
        executor.metrics().get_system_metrics(60).total_executions,
        0
    );
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_never_reaches_the_pipeline() {
    let executor = builder(&Gate::default()).build().expect("builds");
    let server = Running::start(executor.clone(), config().max_body_bytes(1024)).await;
    let big = json!({"tool_name": "Fixture.Echo", "input": {"text": "x".repeat(2048)}});
    let reply = server.execute(ADA_KEY, big).await;
    reply.assert_refusal(413, "InvalidRequestError", "larger than the server accepts");
    let small = json!({"tool_name": "Fixture.Echo", "input": {"text": "x".repeat(512)}});
    assert_eq!(server.execute(ADA_KEY, small).await.status, 200);
    assert_eq!(
        executor.metrics().get_system_metrics(60).total_executions,
        1
    );
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_request_past_its_timeout_is_504_and_its_call_is_audited_as_cancelled() {
    let gate = Gate::default();
    let (_db, sink, executor) = audited(&gate, "server-timeout").await;
    let config = config().request_timeout(Duration::from_millis(300));
    let server = Running::start(executor, config).await;
    let reply = server
        .execute(ADA_KEY, json!({"tool_name": "Test.Gate"}))
        .await;
    reply.assert_refusal(504, "RequestTimeoutError", "longer than 0.3 s");
    server.stop().await.expect("stops, flushing the audit log");
    let records = sink
        .query(&AuditQuery::new().tool("Test.Gate"))
        .await
        .expect("query");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].status_code, 499);
    assert_eq!(records[0].user_id.as_deref(), Some("ada"));
}

// ---- batch ----

#[tokio::test]
async fn a_batch_answers_200_with_each_result_in_input_order() {
    let (server, _) = running().await;
    let body = json!({"calls": [
        {"tool_name": "Fixture.Echo", "input": {"text": "a"}},
        {"tool_name": "MyApp.Nope"},
        {"tool_name": "Fixture.Sum", "input": {"values": [1, 2, 3]}},
        {"tool_name": "Fixture.WhoAmI", "session_id": "batch"},
    ]});
    let reply = server
        .post("/v1/tools/execute/batch", Some(ADA_KEY), body.to_string())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let results = reply.json()["results"].clone();
    let statuses: Vec<_> = results
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["status_code"].as_u64())
        .collect();
    assert_eq!(statuses, [Some(200), Some(404), Some(200), Some(200)]);
    assert_eq!(results[0]["data"], "a");
    assert_eq!(results[2]["data"], 6);
    assert_eq!(results[3]["data"]["user"], "ada");
    assert_eq!(results[3]["data"]["session"], "batch");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_batch_over_the_limit_is_400_and_runs_nothing() {
    let executor = builder(&Gate::default()).build().expect("builds");
    let server = Running::start(executor.clone(), config().max_batch_calls(2)).await;
    let call = json!({"tool_name": "Fixture.Echo", "input": {"text": "a"}});
    let body = json!({"calls": [call, call, call]});
    let reply = server
        .post("/v1/tools/execute/batch", Some(ADA_KEY), body.to_string())
        .await;
    reply.assert_refusal(400, "InvalidRequestError", "at most 2 calls, this one 3");
    assert_eq!(
        executor.metrics().get_system_metrics(60).total_executions,
        0
    );
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_tool_name_or_session_id_no_tool_could_have_is_400_and_never_runs() {
    let (server, executor) = running().await;
    let cases = [
        (
            json!({"tool_name": "A".repeat(65)}),
            "'tool_name' is not a tool name",
        ),
        (
            json!({"tool_name": "Nope\nINFO forged line"}),
            "'tool_name' is not a tool name",
        ),
        (json!({"tool_name": ""}), "'tool_name' is not a tool name"),
        (
            json!({"tool_name": "Fixture.Echo", "input": {"text": "a"}, "session_id": "S".repeat(129)}),
            "'session_id' must be 1 to 128 visible ASCII characters",
        ),
        (
            json!({"tool_name": "Fixture.Echo", "input": {"text": "a"}, "session_id": "a b"}),
            "'session_id' must be",
        ),
    ];
    for (call, says) in cases {
        let reply = server.execute(ADA_KEY, call).await;
        reply.assert_refusal(400, "InvalidRequestError", says);
        assert!(
            reply.text.len() < 1024,
            "the name is not echoed: {}",
            reply.text
        );
    }
    assert_eq!(
        executor.metrics().get_system_metrics(60).total_executions,
        0
    );
    server.stop().await.expect("stops");
}
