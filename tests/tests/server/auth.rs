//! API keys: every refusal is a 401 before any tool work, and a call runs as its key's user.

use std::sync::atomic::Ordering;

use fact_runtime::server::{Server, ServerConfig, ServerError};
use reqwest::header::HeaderValue;
use serde_json::{Value, json};

use crate::support::*;

// ---- authentication ----

#[tokio::test]
async fn protected_endpoints_refuse_a_missing_key_with_401_and_a_bearer_challenge() {
    let (server, executor) = running().await;
    let call = json!({"tool_name": "Fixture.Echo", "input": {"text": "hi"}}).to_string();
    let replies = [
        server.get("/v1/tools", None).await,
        server.get("/v1/tools/Fixture.Echo", None).await,
        server.get("/metrics", None).await,
        server.post("/v1/tools/execute", None, call.clone()).await,
        server
            .post(
                "/v1/tools/execute/batch",
                None,
                format!(r#"{{"calls": [{call}]}}"#),
            )
            .await,
    ];
    for reply in replies {
        reply.assert_refusal(401, "UnauthorizedError", "Authorization: Bearer");
        assert_eq!(
            reply.headers.get("www-authenticate"),
            Some(&HeaderValue::from_static("Bearer"))
        );
    }
    // Refused before the pipeline: no call was recorded.
    assert_eq!(
        executor.metrics().get_system_metrics(60).total_executions,
        0
    );
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn wrong_keys_and_schemes_are_401_before_any_tool_runs() {
    let gate = Gate::default();
    let executor = builder(&gate).build().expect("builds");
    let server = Running::start(executor.clone(), config()).await;
    let call = json!({"tool_name": "Test.Gate"}).to_string();
    let wrong_key = server
        .post(
            "/v1/tools/execute",
            Some("not-a-key-0123456789abcdef"),
            call.clone(),
        )
        .await;
    wrong_key.assert_refusal(401, "UnauthorizedError", "not valid");
    let almost = server
        .post(
            "/v1/tools/execute",
            Some(&ADA_KEY[..ADA_KEY.len() - 1]),
            call.clone(),
        )
        .await;
    almost.assert_refusal(401, "UnauthorizedError", "not valid");
    let basic = server
        .send(
            server
                .client
                .post(format!("{}/v1/tools/execute", server.base))
                .header("authorization", format!("Basic {ADA_KEY}"))
                .body(call),
        )
        .await;
    basic.assert_refusal(401, "UnauthorizedError", "Bearer");
    assert_eq!(gate.runs.load(Ordering::SeqCst), 0);
    assert_eq!(
        executor.metrics().get_system_metrics(60).total_executions,
        0
    );
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_call_runs_as_its_keys_user_never_the_bodys() {
    let (server, _) = running().await;
    let reply = server
        .execute(
            BOB_KEY,
            json!({"tool_name": "Fixture.WhoAmI", "session_id": "s-1"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["data"]["user"], "bob");
    assert_eq!(reply.json()["data"]["session"], "s-1");

    let spoof = server
        .execute(
            BOB_KEY,
            json!({"tool_name": "Fixture.WhoAmI", "input": {}, "user_id": "ada"}),
        )
        .await;
    spoof.assert_refusal(400, "InvalidRequestError", "unknown field `user_id`");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn anonymous_mode_serves_without_keys_and_calls_have_no_user() {
    let executor = builder(&Gate::default()).build().expect("builds");
    let config = ServerConfig::default()
        .addr("127.0.0.1:0".parse().expect("address"))
        .allow_anonymous(true);
    let server = Running::start(executor, config).await;
    let reply = server
        .post(
            "/v1/tools/execute",
            None,
            json!({"tool_name": "Fixture.WhoAmI"}).to_string(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["data"]["user"], Value::Null);
    // A key that is presented must still be valid.
    let wrong = server
        .post(
            "/v1/tools/execute",
            Some("not-a-key-0123456789abcdef"),
            json!({"tool_name": "Fixture.WhoAmI"}).to_string(),
        )
        .await;
    assert_eq!(wrong.status, 401);
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_server_without_keys_or_anonymous_mode_does_not_start() {
    let executor = builder(&Gate::default()).build().expect("builds");
    let error = Server::new(executor, ServerConfig::default())
        .map(|_| ())
        .expect_err("refused");
    assert!(matches!(error, ServerError::NoApiKeys), "{error}");
    assert!(error.to_string().contains("FACT_API_KEYS"), "{error}");
}

#[tokio::test]
async fn a_wrong_method_on_a_protected_path_is_401_without_a_key() {
    let (server, _) = running().await;
    let reply = server
        .send(
            server
                .client
                .delete(format!("{}/v1/tools/execute", server.base)),
        )
        .await;
    reply.assert_refusal(401, "UnauthorizedError", "Authorization: Bearer");
    let with_key = server
        .send(
            server
                .client
                .delete(format!("{}/v1/tools/execute", server.base))
                .bearer_auth(ADA_KEY),
        )
        .await;
    with_key.assert_refusal(405, "MethodNotAllowedError", "does not accept DELETE");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn two_authorization_headers_are_401_whichever_comes_first() {
    let (server, executor) = running().await;
    for (first, second) in [
        (ADA_KEY, "not-a-key-0123456789abcdef"),
        ("not-a-key-0123456789abcdef", ADA_KEY),
    ] {
        let request = server
            .client
            .get(format!("{}/v1/tools", server.base))
            .header("authorization", format!("Bearer {first}"))
            .header("authorization", format!("Bearer {second}"));
        let reply = server.send(request).await;
        reply.assert_refusal(401, "UnauthorizedError", "one Authorization header");
    }
    assert_eq!(
        executor.metrics().get_system_metrics(60).total_executions,
        0
    );
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn keys_and_anonymous_mode_together_do_not_start() {
    let executor = builder(&Gate::default()).build().expect("builds");
    let error = Server::new(executor, config().allow_anonymous(true))
        .map(|_| ())
        .expect_err("refused");
    assert!(
        error.to_string().contains("FACT_ALLOW_ANONYMOUS"),
        "{error}"
    );
}

#[tokio::test]
async fn without_a_key_no_route_is_told_apart_from_another() {
    let (server, _) = running().await;
    for path in [
        "/v2/anything",
        "/v1/tools/",
        "/V1/TOOLS",
        "/v1/tools/../metrics",
    ] {
        let reply = server.get(path, None).await;
        reply.assert_refusal(401, "UnauthorizedError", "Authorization: Bearer");
    }
    server.stop().await.expect("stops");
}
