//! What the worker tests share: a FACT server on loopback that is an Arcade worker, the
//! Engine's signed tokens, and the requests an Engine sends.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fact_runtime::arcade::worker::WorkerSecret;
use fact_runtime::audit::{AuditConfig, AuditLog, AuditRecord};
use fact_runtime::auth::Grant;
use fact_runtime::server::{Server, ServerConfig, ServerError};
use fact_runtime::{AccessToken, SystemClock, ToolExecutor};
use fact_tests::audit_sinks::MemorySink;
use fact_tests::fixtures;
use fact_tests::grants::manager_granting;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The secret the test Engine and the worker share.
pub(crate) const WORKER_SECRET: &str = "the-secret-this-test-engine-shares-with-its-worker";
/// A tool that counts its runs: a refused request must leave it at 0.
pub(crate) const COUNTED: &str = "Test.Counted";
/// The token FACT's own authorization provider holds for `ada`, covering
/// `Fixture.Credentials`: the worker must never hand it to a tool.
pub(crate) const GRANTED_TOKEN: &str = "gho_granted-by-facts-own-provider-8e21";

/// A FACT server that is an Arcade worker (and has no API keys: it serves the Engine alone),
/// with its audit log in memory; stopped when dropped.
pub(crate) struct Worker {
    base: String,
    client: reqwest::Client,
    runs: Arc<AtomicUsize>,
    sink: Arc<MemorySink>,
    log: AuditLog,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

/// One HTTP answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
}

impl Reply {
    /// Asserts a 401 that asks for a Bearer token (`WWW-Authenticate: Bearer`).
    pub(crate) fn assert_bearer_challenge(&self) {
        assert_eq!(self.status, 401, "{}", self.text);
        assert_eq!(
            self.headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer"),
            "{:?}",
            self.headers
        );
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("{e}: the answer is not JSON: {}", self.text))
    }
}

impl Worker {
    /// The linked fixtures, the calculator and [`COUNTED`], served to an Engine that signs
    /// with [`WORKER_SECRET`]; FACT's own authorization manager holds [`GRANTED_TOKEN`] for
    /// `ada`.
    pub(crate) async fn start() -> Self {
        let _ = fixtures::TOOL_NAMES;
        let runs = Arc::new(AtomicUsize::new(0));
        let sink = Arc::new(MemorySink::default());
        // Arguments kept too: the record holds everything it can.
        let log = AuditLog::start(sink.clone(), AuditConfig::default().include_arguments(true))
            .expect("valid audit configuration");
        let grant = Grant::new("ada", AccessToken::new(GRANTED_TOKEN), ["creds.read"]);
        let manager = manager_granting(grant, Arc::new(SystemClock)).await;
        let executor = ToolExecutor::builder()
            .register(fixtures::counting_tool(COUNTED, Arc::clone(&runs)))
            .authorization(manager)
            .audit(log.clone())
            .build()
            .expect("registry builds");
        let config = ServerConfig::default()
            .addr("127.0.0.1:0".parse().expect("a loopback address"))
            .arcade_worker_secret(WorkerSecret::new(WORKER_SECRET).expect("32 bytes or more"));
        let bound = Server::new(executor, config)
            .expect("a worker without API keys configures")
            .bind()
            .await
            .expect("binds a free port");
        let base = format!("http://{}", bound.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bound.run_until(async move {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a client builds");
        Self {
            base,
            client,
            runs,
            sink,
            log,
            stop: Some(stop),
            task,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("the worker answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a body");
        Reply {
            status,
            headers,
            text,
        }
    }

    /// `GET path`, with `Authorization: Bearer <token>` when a token is given.
    pub(crate) async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    /// `POST /worker/tools/invoke` with `body`, authorized by `authorization` (the whole header
    /// value) when given.
    pub(crate) async fn invoke_with(&self, body: &Value, authorization: Option<&str>) -> Reply {
        let mut request = self
            .client
            .post(format!("{}/worker/tools/invoke", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        self.send(request).await
    }

    /// `POST /worker/tools/invoke` with `body`, as the Engine sends it: a fresh valid token.
    pub(crate) async fn invoke(&self, body: &Value) -> Reply {
        let authorization = format!("Bearer {}", engine_token());
        self.invoke_with(body, Some(&authorization)).await
    }

    /// How many times [`COUNTED`] ran.
    pub(crate) fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }

    /// Every audit record written so far, once everything recorded before is written.
    pub(crate) async fn records(&self) -> Vec<AuditRecord> {
        tokio::time::timeout(Duration::from_secs(10), self.log.flush())
            .await
            .expect("the memory sink writes at once")
            .expect("the audit log flushes");
        self.sink.records()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

/// Seconds since the Unix epoch, as JWT claims count them.
pub(crate) fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// `claims` in a JWT signed by HS256 with `secret`.
pub(crate) fn signed(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("claims of JSON encode")
}

/// A token as the Engine signs it: audience `worker`, version `"1"`, five minutes to live.
pub(crate) fn engine_token() -> String {
    signed(
        &json!({"aud": "worker", "ver": "1", "exp": now() + 300}),
        WORKER_SECRET,
    )
}

/// The Engine's request to run `tool` (`Toolkit.Tool`) with `inputs` for `ada`, whose
/// execution is `execution_id`.
pub(crate) fn request(tool: &str, inputs: Value, execution_id: &str) -> Value {
    let (toolkit, name) = tool.split_once('.').expect("a Toolkit.Tool name");
    json!({
        "execution_id": execution_id,
        "tool": {"name": name, "toolkit": toolkit},
        "inputs": inputs,
        "context": {"user_id": "ada"},
    })
}

/// The `output.error` of a failed `ToolCallResponse`, after checking that it is one: 200,
/// `success: false`, the request's execution id.
pub(crate) fn failure(reply: &Reply, execution_id: &str) -> Value {
    assert_eq!(reply.status, 200, "a judged call is a 200: {}", reply.text);
    let body = reply.json();
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["execution_id"], execution_id, "{body}");
    assert!(body["output"].get("value").is_none(), "{body}");
    body["output"]["error"].clone()
}
