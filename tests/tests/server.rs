//! The HTTP server over real HTTP on loopback: every endpoint, each status code, API-key
//! refusals before any tool work, the body limit, the request timeout, and graceful shutdown
//! with a call in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fact_runtime::audit::{AuditConfig, AuditLog, AuditQuery, SqlAuditSink};
use fact_runtime::server::{ApiKeys, Server, ServerConfig, ServerError};
use fact_runtime::{
    SecurityPolicy, ToolDefinition, ToolError, ToolExecutor, ToolExecutorBuilder, ToolFormat,
};
use fact_tests::fixtures;
use fact_tests::scratch::TempDb;
// The one line that keeps a crate of tools linked when nothing else names it.
use fact_examples as _;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

const ADA_KEY: &str = "ada-key-0123456789abcdef";
const BOB_KEY: &str = "bob-key-0123456789abcdef";

/// A tool that says when it has started and then waits until released.
#[derive(Debug, Clone, Default)]
struct Gate {
    entered: Arc<Notify>,
    release: Arc<Notify>,
    runs: Arc<AtomicUsize>,
}

impl Gate {
    fn tool(&self) -> ToolDefinition {
        let gate = self.clone();
        ToolDefinition::new(
            "Test.Gate",
            "Waits until released",
            json!({"type": "object"}),
            move |_ctx, _args| {
                let gate = gate.clone();
                async move {
                    gate.runs.fetch_add(1, Ordering::SeqCst);
                    gate.entered.notify_one();
                    gate.release.notified().await;
                    Ok(json!("released"))
                }
            },
        )
    }
}

/// The fixtures, the calculator, a gate, and a tool that blocks a blocking-pool thread until
/// released (for the health check's 503).
fn builder(gate: &Gate) -> ToolExecutorBuilder {
    let _ = fixtures::TOOL_NAMES;
    ToolExecutor::builder().register(gate.tool())
}

fn keys() -> ApiKeys {
    ApiKeys::parse(&format!("{ADA_KEY}:ada,{BOB_KEY}:bob")).expect("valid keys")
}

fn config() -> ServerConfig {
    ServerConfig::default()
        .addr("127.0.0.1:0".parse().expect("address"))
        .api_keys(keys())
}

/// A server running on loopback, and a client for it.
struct Running {
    base: String,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

/// One HTTP answer.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    /// Asserts a refusal in the shape of a failed ToolResult.
    fn assert_refusal(&self, status: u16, error_type: &str, says: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        let body = self.json();
        assert_eq!(body["success"], false, "{body}");
        assert_eq!(body["status_code"], status, "{body}");
        assert_eq!(body["metadata"]["error_type"], error_type, "{body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{error:?} should say {says:?}");
    }
}

impl Running {
    async fn start(executor: ToolExecutor, config: ServerConfig) -> Self {
        let bound = Server::new(executor, config)
            .expect("server configures")
            .bind()
            .await
            .expect("binds");
        let base = format!("http://{}", bound.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bound.run_until(async move {
            let _ = stopped.await;
        }));
        Self {
            base,
            client: reqwest::Client::new(),
            stop: Some(stop),
            task,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a body");
        Reply {
            status,
            headers,
            text,
        }
    }

    async fn get(&self, path: &str, key: Option<&str>) -> Reply {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        self.send(request).await
    }

    async fn post(&self, path: &str, key: Option<&str>, body: impl Into<reqwest::Body>) -> Reply {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        self.send(request).await
    }

    async fn execute(&self, key: &str, call: Value) -> Reply {
        self.post("/v1/tools/execute", Some(key), call.to_string())
            .await
    }

    /// Asks the server to stop and waits until it has.
    async fn stop(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.expect("the server task does not panic")
    }
}

async fn running() -> (Running, ToolExecutor) {
    let executor = builder(&Gate::default()).build().expect("builds");
    let server = Running::start(executor.clone(), config()).await;
    (server, executor)
}

// ---- /health ----

#[tokio::test]
async fn health_is_open_and_reports_executor_and_arcade() {
    let (server, _) = running().await;
    let reply = server.get("/health", None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["executor"]["status"], "healthy");
    assert!(body["executor"]["tools"].as_u64() > Some(10), "{body}");
    assert_eq!(body["arcade"], json!({"status": "disabled"}));
    assert!(body["timestamp"].as_f64() > Some(1.7e9), "{body}");
    server.stop().await.expect("stops");
}

#[test]
fn health_is_503_when_the_blocking_pool_cannot_answer() {
    // One blocking thread, held by a sync tool: the health probe cannot get through.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (hold, held) = std::sync::mpsc::channel::<()>();
        let held = Arc::new(std::sync::Mutex::new(held));
        let (entered_tx, entered) = oneshot::channel::<()>();
        let entered_tx = Arc::new(std::sync::Mutex::new(Some(entered_tx)));
        let blocker = ToolDefinition::new(
            "Test.Block",
            "Holds a blocking thread until released",
            json!({"type": "object"}),
            move |_ctx, _args| {
                let held = Arc::clone(&held);
                let entered_tx = Arc::clone(&entered_tx);
                async move {
                    tokio::task::spawn_blocking(move || {
                        if let Some(tx) = entered_tx.lock().ok().and_then(|mut tx| tx.take()) {
                            let _ = tx.send(());
                        }
                        let _ = held.lock().map(|rx| rx.recv());
                    })
                    .await
                    .map_err(|e| ToolError::fatal(e.to_string()))?;
                    Ok(json!("done"))
                }
            },
        );
        let executor = ToolExecutor::builder()
            .discover_linked_tools(false)
            .register(blocker)
            .build()
            .expect("builds");
        let server = Running::start(executor, config()).await;
        let call = {
            let client = server.client.clone();
            let url = format!("{}/v1/tools/execute", server.base);
            tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(ADA_KEY)
                    .body(json!({"tool_name": "Test.Block"}).to_string())
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        };
        entered.await.expect("the tool holds the blocking thread");

        let reply = server.get("/health", None).await;
        assert_eq!(reply.status, 503, "{}", reply.text);
        let body = reply.json();
        assert_eq!(body["status"], "unhealthy");
        let problem = body["executor"]["problem"].as_str().unwrap_or_default();
        assert!(problem.contains("blocking pool"), "{body}");

        hold.send(()).expect("release");
        assert_eq!(call.await.expect("joins").expect("answered"), 200);
        assert_eq!(server.get("/health", None).await.status, 200);
        server.stop().await.expect("stops");
    });
}

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

// ---- /metrics ----

#[tokio::test]
async fn metrics_are_prometheus_text_with_the_alert_rules_series() {
    let (server, _) = running().await;
    assert_eq!(
        server
            .execute(
                ADA_KEY,
                json!({"tool_name": "Fixture.Echo", "input": {"text": "x"}})
            )
            .await
            .status,
        200
    );
    assert_eq!(
        server
            .execute(ADA_KEY, json!({"tool_name": "Fixture.Echo", "input": {}}))
            .await
            .status,
        400
    );
    let reply = server.get("/metrics", Some(ADA_KEY)).await;
    assert_eq!(reply.status, 200);
    let content_type = reply
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    assert_eq!(
        content_type,
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    for series in [
        r#"tool_executions_total{tool="Fixture.Echo"}"#,
        r#"tool_execution_failures_total{tool="Fixture.Echo"}"#,
        r#"tool_execution_duration_seconds_bucket{tool="Fixture.Echo",status="400",error_type="ToolValidationError",le="0.001"}"#,
        r#"tool_execution_duration_seconds_count{tool="Fixture.Echo",status="200",error_type="none"}"#,
    ] {
        assert!(
            reply.text.contains(series),
            "{series} missing from\n{}",
            reply.text
        );
    }
    assert!(!reply.text.contains("ada"), "no series names a user");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn metrics_can_be_made_public() {
    let executor = builder(&Gate::default()).build().expect("builds");
    let server = Running::start(executor, config().metrics_public(true)).await;
    let reply = server.get("/metrics", None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // The tools stay protected.
    assert_eq!(server.get("/v1/tools", None).await.status, 401);
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn unknown_tool_names_share_one_series() {
    let (server, _) = running().await;
    for name in ["Made.Up1", "Made.Up2"] {
        assert_eq!(
            server
                .execute(ADA_KEY, json!({"tool_name": name}))
                .await
                .status,
            404
        );
    }
    let text = server.get("/metrics", Some(ADA_KEY)).await.text;
    assert!(
        text.contains(r#"tool_executions_total{tool="unregistered"}"#),
        "{text}"
    );
    assert!(!text.contains("Made.Up"), "{text}");
    server.stop().await.expect("stops");
}

// ---- /v1/tools ----

#[tokio::test]
async fn tools_are_listed_in_every_format() {
    let (server, executor) = running().await;
    let native = server.get("/v1/tools", Some(ADA_KEY)).await;
    assert_eq!(native.status, 200);
    assert_eq!(native.json(), executor.export_tools(ToolFormat::Native));
    for format in ToolFormat::ALL {
        let reply = server
            .get(&format!("/v1/tools?format={format}"), Some(ADA_KEY))
            .await;
        assert_eq!(reply.status, 200, "{format}: {}", reply.text);
        assert_eq!(reply.json(), executor.export_tools(format), "{format}");
    }
    let openai = server
        .get("/v1/tools?format=openai", Some(ADA_KEY))
        .await
        .json();
    assert!(
        openai
            .as_array()
            .into_iter()
            .flatten()
            .any(|tool| tool["function"]["name"] == "MyApp_Calculator"),
        "{openai}"
    );
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn an_unknown_format_is_400_listing_the_formats() {
    let (server, _) = running().await;
    let reply = server.get("/v1/tools?format=yaml", Some(ADA_KEY)).await;
    reply.assert_refusal(
        400,
        "InvalidRequestError",
        "expected one of native, openai, anthropic, mcp",
    );
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn one_tool_by_name_or_exported_name_and_404_for_none() {
    let (server, executor) = running().await;
    let expected = executor
        .tool_info("MyApp.Calculator")
        .expect("linked")
        .export(ToolFormat::Mcp);
    for name in ["MyApp.Calculator", "MyApp_Calculator"] {
        let reply = server
            .get(&format!("/v1/tools/{name}?format=mcp"), Some(ADA_KEY))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json(), expected);
    }
    let missing = server.get("/v1/tools/MyApp.Nope", Some(ADA_KEY)).await;
    missing.assert_refusal(404, "ToolNotFoundError", "Tool 'MyApp.Nope' not found");
    server.stop().await.expect("stops");
}

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
    let db = TempDb::new("server-timeout");
    let sink = Arc::new(SqlAuditSink::connect(&db.url()).await.expect("sqlite"));
    let log = AuditLog::start(sink.clone(), AuditConfig::default()).expect("log");
    let gate = Gate::default();
    let executor = builder(&gate).audit(log).build().expect("builds");
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

// ---- routes ----

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let (server, _) = running().await;
    server
        .get("/v2/anything", Some(ADA_KEY))
        .await
        .assert_refusal(404, "NotFoundError", "no endpoint GET /v2/anything");
    server.post("/health", None, "{}").await.assert_refusal(
        405,
        "MethodNotAllowedError",
        "/health does not accept POST",
    );
    server.stop().await.expect("stops");
}

// ---- graceful shutdown ----

#[tokio::test]
async fn shutdown_finishes_calls_in_flight_refuses_new_ones_and_flushes_the_audit_log() {
    let db = TempDb::new("server-shutdown");
    let sink = Arc::new(SqlAuditSink::connect(&db.url()).await.expect("sqlite"));
    let log = AuditLog::start(sink.clone(), AuditConfig::default()).expect("log");
    let gate = Gate::default();
    let executor = builder(&gate).audit(log).build().expect("builds");
    let server = Running::start(executor, config()).await;
    let addr = server.base.trim_start_matches("http://").to_owned();

    let in_flight = {
        let client = server.client.clone();
        let url = format!("{}/v1/tools/execute", server.base);
        tokio::spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(ADA_KEY)
                .body(json!({"tool_name": "Test.Gate"}).to_string())
                .send()
                .await
                .expect("answered despite the shutdown");
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        })
    };
    gate.entered.notified().await;

    let Running { stop, task, .. } = server;
    stop.expect("not stopped yet")
        .send(())
        .expect("server listening");
    // The listener closes: new connections are refused while the call is still running.
    let mut refused = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(&addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        refused,
        "the server kept accepting connections after shutdown began"
    );
    assert!(
        !task.is_finished(),
        "the server waits for the call in flight"
    );

    gate.release.notify_one();
    let (status, body) = in_flight.await.expect("joins");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("released"), "{body}");
    task.await.expect("joins").expect("stops cleanly");

    // Flushed by the shutdown: the record is there without waiting.
    let records = sink
        .query(&AuditQuery::new().tool("Test.Gate"))
        .await
        .expect("query");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].status_code, 200);
}
