//! The Engine API under /arcade (docs/ARCHITECTURE.md, "Engine API"): paging, one tool by
//! name and version, execute's answers and request-level refusals with their headers, the
//! identity rule (`KEY:*`), both Authorization forms, the Engine's error body, and FACT's own
//! API unchanged beside it.

use std::time::Duration;

use fact_runtime::audit::AuditQuery;
use fact_runtime::server::{ApiKeys, ServerConfig};
use serde_json::{Value, json};

use crate::support::*;

/// A key that may act for any user (`KEY:*`).
const PROJECT_KEY: &str = "project-key-0123456789abcdef";

fn engine_keys() -> ApiKeys {
    ApiKeys::parse(&format!("{ADA_KEY}:ada,{BOB_KEY}:bob,{PROJECT_KEY}:*")).expect("valid keys")
}

fn engine_config() -> ServerConfig {
    config().api_keys(engine_keys())
}

async fn engine_running() -> (Running, fact_runtime::ToolExecutor) {
    let executor = builder(&Gate::default()).build().expect("builds");
    let server = Running::start(executor.clone(), engine_config()).await;
    (server, executor)
}

impl Running {
    /// `GET /arcade{path}` with the key sent bare, as arcadepy sends it.
    async fn engine_get(&self, path: &str, key: &str) -> Reply {
        self.send(
            self.client
                .get(format!("{}/arcade{path}", self.base))
                .header("authorization", key),
        )
        .await
    }

    /// `POST /arcade/v1/tools/execute` with the key sent bare.
    async fn engine_execute(&self, key: &str, body: Value) -> Reply {
        self.send(
            self.client
                .post(format!("{}/arcade/v1/tools/execute", self.base))
                .header("authorization", key)
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }
}

impl Reply {
    /// Asserts the Engine's error body, `{"name", "message"}`, and nothing of FACT's shape.
    fn assert_engine_error(&self, status: u16, name: &str, says: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        let body = self.json();
        assert_eq!(body["name"], name, "{body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{message:?} should say {says:?}");
        assert!(body.get("success").is_none(), "{body}");
        assert!(body.get("status_code").is_none(), "{body}");
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "{self:?}"
        );
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|tool| tool["qualified_name"].as_str().expect("a name").to_owned())
        .collect()
}

// ---- GET /arcade/v1/tools ----

#[tokio::test]
async fn pages_list_every_tool_once_in_name_order_with_their_counts() {
    let (server, executor) = engine_running().await;
    let all: Vec<String> = executor
        .available_tools()
        .iter()
        .map(|info| info.name.clone())
        .collect();
    let total = all.len() as u64;
    assert!(total > 10, "{all:?}");
    let mut seen = Vec::new();
    let mut offset = 0;
    while offset < total {
        let reply = server
            .engine_get(&format!("/v1/tools?limit=4&offset={offset}"), ADA_KEY)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let page = reply.json();
        assert_eq!(page["total_count"], total, "{page}");
        assert_eq!(page["offset"], offset, "{page}");
        assert_eq!(page["limit"], 4, "{page}");
        assert_eq!(page["page_count"], total.div_ceil(4), "{page}");
        let items = names(&page);
        assert_eq!(items.len() as u64, 4.min(total - offset), "{page}");
        seen.extend(items);
        offset += 4;
    }
    assert_eq!(seen, all);
    let past = server
        .engine_get(&format!("/v1/tools?offset={total}"), ADA_KEY)
        .await
        .json();
    assert_eq!(past["items"], json!([]), "{past}");
    assert_eq!(past["total_count"], total, "{past}");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn limit_defaults_to_25_and_is_held_within_1_to_100() {
    let (server, _) = engine_running().await;
    for (query, limit) in [("", 25), ("?limit=500", 100), ("?limit=0", 1)] {
        let page = server
            .engine_get(&format!("/v1/tools{query}"), ADA_KEY)
            .await
            .json();
        assert_eq!(page["limit"], limit, "{query}: {page}");
        assert_eq!(page["offset"], 0, "{query}: {page}");
    }
    server
        .engine_get("/v1/tools?limit=many", ADA_KEY)
        .await
        .assert_engine_error(400, "bad_request", "limit");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn the_toolkit_filter_ignores_case() {
    let (server, _) = engine_running().await;
    let page = server
        .engine_get("/v1/tools?toolkit=fixture&limit=100", ADA_KEY)
        .await
        .json();
    let listed = names(&page);
    assert_eq!(listed, fact_tests::fixtures::TOOL_NAMES, "{page}");
    assert_eq!(page["total_count"], listed.len(), "{page}");
    let tool = &page["items"][0];
    assert_eq!(tool["toolkit"]["name"], "Fixture", "{tool}");
    let none = server
        .engine_get("/v1/tools?toolkit=Nothing", ADA_KEY)
        .await
        .json();
    assert_eq!(none["total_count"], 0, "{none}");
    assert_eq!(none["page_count"], 0, "{none}");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn include_format_adds_each_format_asked_for_and_refuses_others() {
    let (server, _) = engine_running().await;
    // Percent-encoded, as arcadepy sends its comma-joined lists.
    let page = server
        .engine_get(
            "/v1/tools?toolkit=Fixture&limit=1&include_format=arcade%2Copenai",
            ADA_KEY,
        )
        .await
        .json();
    let formatted = &page["items"][0]["formatted_schema"];
    assert_eq!(
        formatted["openai"]["function"]["name"], "Fixture_Choose",
        "{formatted}"
    );
    assert_eq!(formatted["arcade"]["qualified_name"], "Fixture.Choose");
    assert!(formatted.get("anthropic").is_none(), "{formatted}");
    let plain = server
        .engine_get("/v1/tools?toolkit=Fixture&limit=1", ADA_KEY)
        .await
        .json();
    assert!(
        plain["items"][0].get("formatted_schema").is_none(),
        "{plain}"
    );
    server
        .engine_get("/v1/tools?include_format=arcade,mcp", ADA_KEY)
        .await
        .assert_engine_error(400, "bad_request", "not 'mcp'");
    server.stop().await.expect("stops");
}

// ---- GET /arcade/v1/tools/{name} ----

#[tokio::test]
async fn one_tool_by_name_with_or_without_its_version() {
    let (server, _) = engine_running().await;
    for path in [
        "/v1/tools/Fixture.Echo",
        "/v1/tools/Fixture.Echo@1.0.0",
        "/v1/tools/Fixture_Echo",
    ] {
        let reply = server.engine_get(path, ADA_KEY).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        let tool = reply.json();
        assert_eq!(tool["name"], "Echo", "{tool}");
        assert_eq!(tool["qualified_name"], "Fixture.Echo", "{tool}");
        assert_eq!(tool["fully_qualified_name"], "Fixture.Echo@1.0.0", "{tool}");
        let parameters = tool["input"]["parameters"].as_array().expect("parameters");
        let text = parameters
            .iter()
            .find(|p| p["name"] == "text")
            .expect("text");
        assert_eq!(text["required"], true, "{tool}");
        assert_eq!(text["value_schema"]["val_type"], "string", "{tool}");
    }
    server
        .engine_get("/v1/tools/Fixture.Echo@2.0.0", ADA_KEY)
        .await
        .assert_engine_error(404, "not_found", "at version 1.0.0, not 2.0.0");
    server
        .engine_get("/v1/tools/Fixture.Nope", ADA_KEY)
        .await
        .assert_engine_error(404, "not_found", "Fixture.Nope");
    server.stop().await.expect("stops");
}

// ---- POST /arcade/v1/tools/execute ----

#[tokio::test]
async fn a_success_answers_in_arcades_shape() {
    let (server, _) = engine_running().await;
    let reply = server
        .engine_execute(
            ADA_KEY,
            json!({"tool_name": "Fixture.Echo", "input": {"text": "hi", "times": 2}}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["success"], true, "{body}");
    assert_eq!(body["status"], "success", "{body}");
    assert_eq!(body["execution_type"], "immediate", "{body}");
    assert_eq!(body["output"]["value"], "hihi", "{body}");
    assert!(body["output"].get("error").is_none(), "{body}");
    let id = body["execution_id"].as_str().expect("an execution id");
    assert!(!id.is_empty());
    assert_eq!(body["id"], id, "{body}");
    assert!(
        body["duration"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{body}"
    );
    let finished = body["finished_at"].as_str().expect("finished_at");
    assert_eq!(
        finished.len(),
        "2025-01-01T12:00:01.500Z".len(),
        "{finished}"
    );
    assert!(
        finished.ends_with('Z') && finished.as_bytes()[10] == b'T',
        "{finished}"
    );
    server.stop().await.expect("stops");
}

/// A call the tool or the pipeline judged is an HTTP 200 with `success: false`, its Engine
/// kind and FACT's status code.
#[tokio::test]
async fn a_failed_call_is_200_with_success_false_its_kind_and_status_code() {
    let (server, _) = engine_running().await;
    let cases = [
        (
            json!({"tool_name": "Fixture.KindOf", "input": {"kind": "invalid"}}),
            "TOOL_RUNTIME_BAD_INPUT_VALUE",
            400,
            false,
        ),
        (
            json!({"tool_name": "MyApp.Calculator", "input": {"operation": "pow", "a": 2, "b": 3}}),
            "TOOL_RUNTIME_BAD_INPUT_VALUE",
            400,
            false,
        ),
        (
            json!({"tool_name": "Fixture.KindOf", "input": {"kind": "fatal"}}),
            "TOOL_RUNTIME_FATAL",
            500,
            false,
        ),
        (
            json!({"tool_name": "Fixture.KindOf", "input": {"kind": "retryable"}}),
            "TOOL_RUNTIME_RETRY",
            500,
            true,
        ),
        (
            json!({"tool_name": "Fixture.Private"}),
            "TOOL_REQUIREMENTS_NOT_MET",
            401,
            false,
        ),
        (
            json!({"tool_name": "Fixture.Slow", "input": {"millis": 5000}}),
            "NETWORK_TRANSPORT_RUNTIME_TIMEOUT",
            504,
            false,
        ),
    ];
    for (call, kind, status_code, can_retry) in cases {
        let reply = server.engine_execute(ADA_KEY, call.clone()).await;
        assert_eq!(reply.status, 200, "{call}: {}", reply.text);
        assert!(reply.header("x-should-retry").is_none(), "{reply:?}");
        let body = reply.json();
        assert_eq!(body["success"], false, "{body}");
        assert_eq!(body["status"], "failed", "{body}");
        let error = &body["output"]["error"];
        assert_eq!(error["kind"], kind, "{call}: {body}");
        assert_eq!(error["status_code"], status_code, "{call}: {body}");
        assert_eq!(error["can_retry"], can_retry, "{call}: {body}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn an_unknown_tool_is_404_in_the_engines_error_shape() {
    let (server, executor) = engine_running().await;
    server
        .engine_execute(ADA_KEY, json!({"tool_name": "Fixture.Nope"}))
        .await
        .assert_engine_error(404, "not_found", "Fixture.Nope");
    // Through the pipeline: the executor answered (and counted) it.
    assert_eq!(
        executor.metrics().get_system_metrics(60).total_executions,
        1
    );
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_version_other_than_the_tools_is_404_naming_both() {
    let (server, executor) = engine_running().await;
    for call in [
        json!({"tool_name": "Fixture.Echo", "tool_version": "2.0.0", "input": {"text": "x"}}),
        json!({"tool_name": "Fixture.Echo@2.0.0", "input": {"text": "x"}}),
    ] {
        server
            .engine_execute(ADA_KEY, call)
            .await
            .assert_engine_error(404, "not_found", "at version 1.0.0, not 2.0.0");
    }
    assert_eq!(
        executor.metrics().get_system_metrics(60).total_executions,
        0
    );
    for call in [
        json!({"tool_name": "Fixture.Echo", "tool_version": "1.0.0", "input": {"text": "x"}}),
        json!({"tool_name": "Fixture.Echo@1.0.0", "input": {"text": "x"}}),
    ] {
        let reply = server.engine_execute(ADA_KEY, call).await;
        assert_eq!(reply.json()["output"]["value"], "x", "{}", reply.text);
    }
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn over_facts_quota_is_429_with_retry_headers() {
    let executor = builder(&Gate::default())
        .enable_rate_limiting(true)
        .build()
        .expect("builds");
    let server = Running::start(executor, engine_config()).await;
    let quota = json!({"tool_name": "Fixture.Quota"});
    for _ in 0..3 {
        let reply = server.engine_execute(ADA_KEY, quota.clone()).await;
        assert_eq!(reply.json()["success"], true, "{}", reply.text);
    }
    let refused = server.engine_execute(ADA_KEY, quota).await;
    refused.assert_engine_error(429, "rate_limited", "Rate limit exceeded");
    let ms: u64 = refused
        .header("retry-after-ms")
        .and_then(|v| v.parse().ok())
        .expect("retry-after-ms");
    let seconds: u64 = refused
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("retry-after");
    assert!((1..=20_000).contains(&ms), "{ms}");
    assert_eq!(seconds, ms.div_ceil(1000).max(1));
    assert_eq!(refused.header("x-should-retry"), Some("true"));
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_busy_resource_is_503_that_says_to_retry() {
    let (server, _) = engine_running().await;
    let reply = server
        .engine_execute(
            ADA_KEY,
            json!({"tool_name": "Fixture.KindOf", "input": {"kind": "unavailable"}}),
        )
        .await;
    reply.assert_engine_error(503, "unavailable", "the database is busy");
    assert_eq!(reply.header("retry-after-ms"), Some("1000"));
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert_eq!(reply.header("x-should-retry"), Some("true"));
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_request_past_its_timeout_is_504_that_says_not_to_retry() {
    let gate = Gate::default();
    let executor = builder(&gate).build().expect("builds");
    let config = engine_config().request_timeout(Duration::from_millis(300));
    let server = Running::start(executor, config).await;
    let reply = server
        .engine_execute(ADA_KEY, json!({"tool_name": "Test.Gate"}))
        .await;
    reply.assert_engine_error(504, "timeout", "longer than 0.3 s");
    // The tool started: a retry could run it twice.
    assert_eq!(reply.header("x-should-retry"), Some("false"));
    assert_eq!(gate.runs.load(std::sync::atomic::Ordering::SeqCst), 1);
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn bodies_that_cannot_be_a_call_are_refused_before_the_pipeline() {
    let (server, executor) = engine_running().await;
    let wrong_type = server
        .send(
            server
                .client
                .post(format!("{}/arcade/v1/tools/execute", server.base))
                .header("authorization", ADA_KEY)
                .header("content-type", "text/plain")
                .body(json!({"tool_name": "Fixture.Echo"}).to_string()),
        )
        .await;
    wrong_type.assert_engine_error(415, "unsupported_media_type", "application/json");
    let malformed = server
        .send(
            server
                .client
                .post(format!("{}/arcade/v1/tools/execute", server.base))
                .header("authorization", ADA_KEY)
                .header("content-type", "application/json")
                .body("{\"tool_name\": "),
        )
        .await;
    malformed.assert_engine_error(400, "bad_request", "tool_name");
    server
        .engine_execute(ADA_KEY, json!({"input": {}}))
        .await
        .assert_engine_error(400, "bad_request", "tool_name");
    server
        .engine_execute(ADA_KEY, json!({"tool_name": "not a tool"}))
        .await
        .assert_engine_error(400, "bad_request", "not a tool name");
    server
        .engine_execute(
            ADA_KEY,
            json!({"tool_name": "Fixture.Echo", "input": {"text": "x"}, "run_at": "2030-01-01T00:00:00"}),
        )
        .await
        .assert_engine_error(400, "bad_request", "run_at");
    assert_eq!(
        executor.metrics().get_system_metrics(60).total_executions,
        0
    );
    server.stop().await.expect("stops");
}

// ---- identity ----

async fn who(server: &Running, key: &str, user_id: Option<&str>) -> Reply {
    let mut call = json!({"tool_name": "Fixture.WhoAmI"});
    if let Some(user) = user_id {
        call["user_id"] = json!(user);
    }
    server.engine_execute(key, call).await
}

#[tokio::test]
async fn a_key_of_any_user_runs_each_call_as_the_user_it_names() {
    let (db, sink, executor) = audited(&Gate::default(), "engine-identity").await;
    let server = Running::start(executor, engine_config()).await;
    let carol = who(&server, PROJECT_KEY, Some("carol@example.com")).await;
    assert_eq!(
        carol.json()["output"]["value"]["user"],
        "carol@example.com",
        "{}",
        carol.text
    );
    let nobody = who(&server, PROJECT_KEY, None).await;
    assert_eq!(
        nobody.json()["output"]["value"]["user"],
        Value::Null,
        "{}",
        nobody.text
    );
    who(&server, PROJECT_KEY, Some("carol smith"))
        .await
        .assert_engine_error(400, "bad_request", "user_id");
    server.stop().await.expect("stops, flushing the audit log");
    let records = sink
        .query(&AuditQuery::new().tool("Fixture.WhoAmI"))
        .await
        .expect("query");
    let users: Vec<Option<&str>> = records.iter().map(|r| r.user_id.as_deref()).collect();
    assert_eq!(users.len(), 2, "{records:?}");
    assert!(users.contains(&Some("carol@example.com")), "{users:?}");
    assert!(users.contains(&None), "{users:?}");
    drop(db);
}

#[tokio::test]
async fn any_other_key_runs_as_its_own_user_and_may_name_no_other() {
    let (server, executor) = engine_running().await;
    for named in [None, Some("bob")] {
        let reply = who(&server, BOB_KEY, named).await;
        assert_eq!(
            reply.json()["output"]["value"]["user"],
            "bob",
            "{named:?}: {}",
            reply.text
        );
    }
    let before = executor.metrics().get_system_metrics(60).total_executions;
    let spoof = who(&server, BOB_KEY, Some("ada")).await;
    spoof.assert_engine_error(403, "forbidden", "acts only for its own user");
    assert!(
        !spoof.text.contains(BOB_KEY) && !spoof.text.contains("ada"),
        "{}",
        spoof.text
    );
    assert_eq!(
        executor.metrics().get_system_metrics(60).total_executions,
        before
    );
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn without_keys_a_request_may_name_no_user() {
    let executor = builder(&Gate::default()).build().expect("builds");
    let config = ServerConfig::default()
        .addr("127.0.0.1:0".parse().expect("address"))
        .allow_anonymous(true);
    let server = Running::start(executor, config).await;
    let post = |body: Value| {
        server
            .client
            .post(format!("{}/arcade/v1/tools/execute", server.base))
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    let anonymous = server
        .send(post(json!({"tool_name": "Fixture.WhoAmI"})))
        .await;
    assert_eq!(anonymous.json()["output"]["value"]["user"], Value::Null);
    server
        .send(post(
            json!({"tool_name": "Fixture.WhoAmI", "user_id": "ada"}),
        ))
        .await
        .assert_engine_error(403, "forbidden", "own user");
    server.stop().await.expect("stops");
}

// ---- keys, the error shape, and FACT's own API beside it ----

#[tokio::test]
async fn both_authorization_forms_are_accepted_under_arcade() {
    let (server, _) = engine_running().await;
    let url = format!("{}/arcade/v1/tools?limit=1", server.base);
    for value in [ADA_KEY.to_owned(), format!("Bearer {ADA_KEY}")] {
        let reply = server
            .send(server.client.get(&url).header("authorization", &value))
            .await;
        assert_eq!(reply.status, 200, "{value}: {}", reply.text);
    }
    server
        .send(server.client.get(&url))
        .await
        .assert_engine_error(401, "unauthorized", "'Authorization: <key>'");
    server
        .send(
            server
                .client
                .get(&url)
                .header("authorization", "not-a-key-0123456789"),
        )
        .await
        .assert_engine_error(401, "unauthorized", "not valid");
    server
        .send(
            server
                .client
                .get(&url)
                .header("authorization", format!("Basic {ADA_KEY}")),
        )
        .await
        .assert_engine_error(401, "unauthorized", "Bearer <key>");
    // Health is open, as FACT's own.
    let health = server
        .send(
            server
                .client
                .get(format!("{}/arcade/v1/health", server.base)),
        )
        .await;
    assert_eq!(health.status, 200, "{}", health.text);
    assert_eq!(health.json(), json!({"healthy": true}));
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn the_routers_own_refusals_under_arcade_are_in_the_engines_shape() {
    let (server, _) = engine_running().await;
    server
        .engine_get("/v1/nothing-here", ADA_KEY)
        .await
        .assert_engine_error(404, "not_found", "/arcade/v1/nothing-here");
    server
        .engine_get("/v1/tools/execute", ADA_KEY)
        .await
        .assert_engine_error(405, "method_not_allowed", "does not accept GET");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn facts_own_api_keeps_its_paths_shapes_and_bearer_form() {
    let (server, _) = engine_running().await;
    let listed = server.get("/v1/tools", Some(ADA_KEY)).await;
    assert!(listed.json().is_array(), "{}", listed.text);
    let result = server
        .execute(
            ADA_KEY,
            json!({"tool_name": "Fixture.Echo", "input": {"text": "hi"}}),
        )
        .await;
    assert_eq!(result.json()["data"], "hi", "{}", result.text);
    server
        .execute(ADA_KEY, json!({"tool_name": "Fixture.Nope"}))
        .await
        .assert_refusal(404, "ToolNotFoundError", "Fixture.Nope");
    // The bare key is the Engine API's form only.
    let bare = server
        .send(
            server
                .client
                .get(format!("{}/v1/tools", server.base))
                .header("authorization", ADA_KEY),
        )
        .await;
    bare.assert_refusal(401, "UnauthorizedError", "Authorization: Bearer");
    // A key of any user runs FACT's own calls with no user: its API names none.
    let project = server
        .execute(PROJECT_KEY, json!({"tool_name": "Fixture.WhoAmI"}))
        .await;
    assert_eq!(
        project.json()["data"]["user"],
        Value::Null,
        "{}",
        project.text
    );
    server.stop().await.expect("stops");
}
