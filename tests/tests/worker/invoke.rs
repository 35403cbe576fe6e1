//! `POST /worker/tools/invoke`: each outcome as Arcade's `ToolCallResponse`, and what the
//! Engine's context (user, token, secrets) gives the tool.

use fact_runtime::AuditRecord;
use fact_tests::captured_log::CapturedLog;
use serde_json::{Value, json};

use crate::support::{
    COUNTED, GRANTED_TOKEN, WORKER_SECRET, Worker, engine_token, failure, request,
};

/// The token the Engine obtained for its user from GitHub.
const ENGINE_TOKEN: &str = "gho_engines-token-for-ada-4c7f";
/// The value of the secret `Fixture.Credentials` declares.
const SERVICE_SECRET: &str = "sk-service-s3cret-0d93";
/// The value of a secret no tool declares.
const OTHER_SECRET: &str = "sk-other-s3cret-6a11";

/// The Engine's request to run `Fixture.Credentials` (or `tool`) for `ada`, asking it to look
/// up `keys`, with the Engine's token and both secrets (one key spelled in lower case).
fn with_credentials(tool: &str, keys: &[&str], execution_id: &str) -> Value {
    let mut body = request(tool, json!({ "keys": keys }), execution_id);
    body["context"] = json!({
        "authorization": {"token": ENGINE_TOKEN, "user_info": {"login": "ada"}},
        "secrets": [
            {"key": "service_key", "value": SERVICE_SECRET},
            {"key": "OTHER_KEY", "value": OTHER_SECRET},
        ],
        "metadata": [{"key": "trace", "value": "t-1"}],
        "user_id": "ada",
    });
    body
}

#[tokio::test]
async fn a_tool_that_succeeds_answers_its_value_with_the_execution_id_and_timing() {
    let worker = Worker::start().await;
    let reply = worker
        .invoke(&request(
            "Fixture.Echo",
            json!({"text": "hi", "times": 2}),
            "exec-ok",
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["success"], true, "{body}");
    assert_eq!(body["execution_id"], "exec-ok");
    assert_eq!(body["output"], json!({"value": "hihi"}));
    assert!(
        body["duration"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{body}"
    );
    let finished = body["finished_at"].as_str().unwrap_or_default();
    assert!(
        finished.len() >= 20 && finished.as_bytes()[10] == b'T' && finished.ends_with('Z'),
        "RFC 3339 in UTC: {finished:?}"
    );
}

#[tokio::test]
async fn input_the_schema_refuses_is_a_failure_of_kind_bad_input_value() {
    let worker = Worker::start().await;
    let reply = worker
        .invoke(&request("Fixture.Echo", json!({"text": 5}), "exec-bad"))
        .await;
    let error = failure(&reply, "exec-bad");
    assert_eq!(error["kind"], "TOOL_RUNTIME_BAD_INPUT_VALUE", "{error}");
    assert_eq!(error["status_code"], 400, "{error}");
    assert_eq!(error["can_retry"], false, "{error}");
    assert_eq!(
        error["developer_message"],
        "FACT ToolValidationError, status 400"
    );
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|message| message.contains("'text'")),
        "the message names the parameter: {error}"
    );
}

#[tokio::test]
async fn a_tool_that_fails_is_a_failure_of_kind_fatal() {
    let worker = Worker::start().await;
    let reply = worker
        .invoke(&request(
            "Fixture.KindOf",
            json!({"kind": "fatal"}),
            "exec-fatal",
        ))
        .await;
    let error = failure(&reply, "exec-fatal");
    assert_eq!(error["kind"], "TOOL_RUNTIME_FATAL", "{error}");
    assert_eq!(error["status_code"], 500, "{error}");
    assert_eq!(error["can_retry"], false, "{error}");
    assert_eq!(error["message"], "fatal failure", "{error}");
}

#[tokio::test]
async fn a_tool_that_asks_to_be_called_again_is_a_failure_of_kind_retry_with_its_wait() {
    let worker = Worker::start().await;
    let reply = worker
        .invoke(&request(
            "Fixture.KindOf",
            json!({"kind": "retryable"}),
            "exec-retry",
        ))
        .await;
    let error = failure(&reply, "exec-retry");
    assert_eq!(error["kind"], "TOOL_RUNTIME_RETRY", "{error}");
    assert_eq!(error["can_retry"], true, "{error}");
    assert_eq!(error["retry_after_ms"], 1500, "{error}");
}

#[tokio::test]
async fn a_tool_past_its_timeout_is_a_failure_of_kind_timeout() {
    let worker = Worker::start().await;
    // Fixture.Slow's timeout is 1 s.
    let reply = worker
        .invoke(&request(
            "Fixture.Slow",
            json!({"millis": 10_000}),
            "exec-slow",
        ))
        .await;
    let error = failure(&reply, "exec-slow");
    assert_eq!(
        error["kind"], "NETWORK_TRANSPORT_RUNTIME_TIMEOUT",
        "{error}"
    );
    assert_eq!(error["status_code"], 504, "{error}");
}

#[tokio::test]
async fn an_unknown_tool_is_a_404_with_arcades_invalid_params_error_and_is_audited() {
    let worker = Worker::start().await;
    let reply = worker
        .invoke(&request("Fixture.Missing", json!({}), "exec-missing"))
        .await;
    assert_eq!(reply.status, 404, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["code"], -32602, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|message| message.contains("Fixture.Missing")),
        "{body}"
    );
    // Refused by the executor, as on FACT's own API: audited as ada's call, 404.
    let records = worker.records().await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].tool_name, "Fixture.Missing");
    assert_eq!(records[0].user_id.as_deref(), Some("ada"));
    assert_eq!(records[0].status_code, 404);
}

#[tokio::test]
async fn the_tool_is_named_by_toolkit_and_name_ignoring_case_and_at_its_version_only() {
    let worker = Worker::start().await;
    let mut body = request(COUNTED, json!({}), "exec-case");
    body["tool"] = json!({"name": "COUNTED", "toolkit": "test", "version": "1.0.0"});
    let reply = worker.invoke(&body).await;
    assert_eq!(reply.json()["success"], true, "{}", reply.text);
    assert_eq!(worker.runs(), 1);

    body["tool"]["version"] = json!("2.0.0");
    let reply = worker.invoke(&body).await;
    assert_eq!(reply.status, 404, "{}", reply.text);
    assert_eq!(reply.json()["code"], -32602, "{}", reply.text);
    assert_eq!(worker.runs(), 1, "a version not served runs nothing");
}

#[tokio::test]
async fn the_tool_gets_the_engines_token_its_declared_secrets_and_runs_as_the_engines_user() {
    let worker = Worker::start().await;
    let reply = worker
        .invoke(&with_credentials(
            "Fixture.Credentials",
            &["SERVICE_KEY", "OTHER_KEY"],
            "exec-creds",
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["success"], true, "{body}");
    assert_eq!(
        body["output"]["value"],
        json!({
            "token": ENGINE_TOKEN,
            "secrets": {"SERVICE_KEY": SERVICE_SECRET, "OTHER_KEY": null},
            "user": "ada",
        })
    );
    let records = worker.records().await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].tool_name, "Fixture.Credentials");
    assert_eq!(records[0].user_id.as_deref(), Some("ada"));
    assert_eq!(records[0].status_code, 200);
    assert_eq!(records[0].execution_method, AuditRecord::LOCAL);
}

#[tokio::test]
async fn a_tool_that_requires_no_authorization_gets_neither_the_token_nor_undeclared_secrets() {
    let worker = Worker::start().await;
    let reply = worker
        .invoke(&with_credentials(
            "Fixture.NoCredentials",
            &["SERVICE_KEY", "OTHER_KEY"],
            "exec-none",
        ))
        .await;
    assert_eq!(
        reply.json()["output"]["value"],
        json!({
            "token": null,
            "secrets": {"SERVICE_KEY": null, "OTHER_KEY": null},
            "user": "ada",
        }),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn without_the_engines_token_a_tool_that_requires_authorization_is_refused_never_given_facts_own_grant()
 {
    let worker = Worker::start().await;
    // ada holds a grant of FACT's own provider for this tool: it is not the Engine's to use.
    let mut body = with_credentials("Fixture.Credentials", &["SERVICE_KEY"], "exec-no-token");
    body["context"]
        .as_object_mut()
        .expect("an object")
        .remove("authorization");
    let reply = worker.invoke(&body).await;
    let error = failure(&reply, "exec-no-token");
    assert_eq!(error["status_code"], 401, "{error}");
    assert_eq!(error["kind"], "TOOL_RUNTIME_FATAL", "{error}");
    assert_eq!(
        error["message"],
        "Tool 'Fixture.Credentials' requires authorization, and the caller brought no token for it (provider 'github')"
    );
    assert!(!reply.text.contains(GRANTED_TOKEN), "{}", reply.text);
}

#[tokio::test]
async fn neither_the_engines_jwt_nor_its_token_nor_a_secret_is_audited_or_logged() {
    let (log, _capture) = CapturedLog::of_this_thread();
    let worker = Worker::start().await;
    let jwt = engine_token();
    let authorization = format!("Bearer {jwt}");
    let calls = [
        ("Fixture.Credentials", 200),
        ("Fixture.NoCredentials", 200),
        ("Fixture.Missing", 404),
    ];
    for (tool, status) in calls {
        let reply = worker
            .invoke_with(
                &with_credentials(tool, &["SERVICE_KEY"], "exec-quiet"),
                Some(&authorization),
            )
            .await;
        assert_eq!(reply.status, status, "{tool}: {}", reply.text);
    }
    // A call refused for its input, with the credentials all the same.
    let mut bad = with_credentials("Fixture.Credentials", &[], "exec-quiet");
    bad["inputs"] = json!({"keys": "SERVICE_KEY"});
    let reply = worker.invoke_with(&bad, Some(&authorization)).await;
    assert_eq!(failure(&reply, "exec-quiet")["status_code"], 400);

    let records = worker.records().await;
    let judged = records
        .iter()
        .filter(|r| r.tool_name.starts_with("Fixture.") && r.tool_name != "Fixture.Missing")
        .count();
    assert_eq!(judged, 3, "{records:?}");
    assert!(records.iter().all(|r| r.arguments.is_some()), "{records:?}");
    let audited = serde_json::to_string(&records).expect("records serialize");
    let logged = log.text();
    assert!(
        logged.contains("tool_call{"),
        "the log is captured:\n{logged}"
    );
    for credential in [
        jwt.as_str(),
        WORKER_SECRET,
        ENGINE_TOKEN,
        SERVICE_SECRET,
        OTHER_SECRET,
    ] {
        assert!(
            !audited.contains(credential),
            "{credential} audited: {audited}"
        );
        assert!(
            !logged.contains(credential),
            "{credential} logged:\n{logged}"
        );
    }
}
