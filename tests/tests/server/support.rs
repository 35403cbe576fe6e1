//! What the server tests share: a server on loopback with a client, its answers, and a tool
//! that waits until released.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use fact_runtime::audit::{AuditConfig, AuditLog, SqlAuditSink};
use fact_runtime::server::{ApiKeys, Server, ServerConfig, ServerError};
use fact_runtime::{ToolDefinition, ToolExecutor, ToolExecutorBuilder};
use fact_tests::fixtures;
use fact_tests::scratch::TempDb;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
pub(crate) const ADA_KEY: &str = "ada-key-0123456789abcdef";
pub(crate) const BOB_KEY: &str = "bob-key-0123456789abcdef";

/// A tool that says when it has started and then waits until released.
#[derive(Debug, Clone, Default)]
pub(crate) struct Gate {
    pub(crate) entered: Arc<Notify>,
    pub(crate) release: Arc<Notify>,
    pub(crate) runs: Arc<AtomicUsize>,
}

impl Gate {
    pub(crate) fn tool(&self) -> ToolDefinition {
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
pub(crate) fn builder(gate: &Gate) -> ToolExecutorBuilder {
    let _ = fixtures::TOOL_NAMES;
    ToolExecutor::builder().register(gate.tool())
}

pub(crate) fn keys() -> ApiKeys {
    ApiKeys::parse(&format!("{ADA_KEY}:ada,{BOB_KEY}:bob")).expect("valid keys")
}

pub(crate) fn config() -> ServerConfig {
    ServerConfig::default()
        .addr("127.0.0.1:0".parse().expect("address"))
        .api_keys(keys())
}

/// A server running on loopback, and a client for it.
pub(crate) struct Running {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    pub(crate) stop: Option<oneshot::Sender<()>>,
    pub(crate) task: JoinHandle<Result<(), ServerError>>,
}

/// One HTTP answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    /// Asserts a refusal in the shape of a failed ToolResult.
    pub(crate) fn assert_refusal(&self, status: u16, error_type: &str, says: &str) {
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
    pub(crate) async fn start(executor: ToolExecutor, config: ServerConfig) -> Self {
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

    /// The server's address.
    pub(crate) fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
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

    pub(crate) async fn get(&self, path: &str, key: Option<&str>) -> Reply {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        self.send(request).await
    }

    pub(crate) async fn post(
        &self,
        path: &str,
        key: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
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

    pub(crate) async fn execute(&self, key: &str, call: Value) -> Reply {
        self.post("/v1/tools/execute", Some(key), call.to_string())
            .await
    }

    /// Asks the server to stop and waits until it has.
    pub(crate) async fn stop(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.expect("the server task does not panic")
    }
}

pub(crate) async fn running() -> (Running, ToolExecutor) {
    let executor = builder(&Gate::default()).build().expect("builds");
    let server = Running::start(executor.clone(), config()).await;
    (server, executor)
}

/// An executor as [`builder`] makes it, writing its audit log to a fresh SQLite file: the file
/// (removed on drop), the sink to read the records back, and the executor.
pub(crate) async fn audited(
    gate: &Gate,
    prefix: &str,
) -> (TempDb, Arc<SqlAuditSink>, ToolExecutor) {
    let db = TempDb::new(prefix);
    let sink = Arc::new(SqlAuditSink::connect(&db.url()).await.expect("sqlite"));
    let log = AuditLog::start(sink.clone(), AuditConfig::default()).expect("log");
    let executor = builder(gate).audit(log).build().expect("builds");
    (db, sink, executor)
}

/// One answer read off a raw connection: its status, head and JSON body.
#[derive(Debug)]
pub(crate) struct RawAnswer {
    pub(crate) status: u16,
    pub(crate) head: String,
    pub(crate) body: Value,
}

impl RawAnswer {
    /// Parses `text`, the whole of what the server sent on a connection before closing it.
    pub(crate) fn parse(text: &str) -> Self {
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no complete head in {text:?}"));
        let status = head
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        let body = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {text:?}"));
        Self {
            status,
            head: head.to_owned(),
            body,
        }
    }

    /// Asserts a refusal in the shape of a failed ToolResult.
    pub(crate) fn assert_refusal(&self, status: u16, error_type: &str, says: &str) {
        assert_eq!(self.status, status, "{} {}", self.head, self.body);
        assert!(
            self.head
                .to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{}",
            self.head
        );
        assert_eq!(self.body["success"], false, "{}", self.body);
        assert_eq!(self.body["status_code"], status, "{}", self.body);
        assert_eq!(
            self.body["metadata"]["error_type"], error_type,
            "{}",
            self.body
        );
        let error = self.body["error"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{error:?} should say {says:?}");
    }
}

/// Reads what the server sends until it closes the connection; the bound guards against a
/// hang, it does not measure anything.
pub(crate) async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt as _;
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the server closes the connection")
    .ok();
    String::from_utf8_lossy(&answer).into_owned()
}

/// Sends `request` on a new connection and returns everything the server sends back before
/// it closes the connection.
pub(crate) async fn raw_exchange(addr: &str, request: &[u8]) -> String {
    use tokio::io::AsyncWriteExt as _;
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    // The server may answer and close before taking every byte of a request it refuses.
    let _ = stream.write_all(request).await;
    read_until_closed(&mut stream).await
}
