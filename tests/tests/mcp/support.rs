//! What the MCP tests share: the tools they call, an executor auditing to memory, FACT's
//! server on loopback, and an rmcp client that records the progress it hears.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fact_runtime::audit::{AuditConfig, AuditLog, AuditRecord};
use fact_runtime::auth::{AuthorizationManager, OAuthConfig};
use fact_runtime::server::{ApiKeys, Server, ServerConfig, ServerError};
use fact_runtime::{ManualClock, ToolAnnotations, ToolDefinition, ToolError, ToolExecutor};
use fact_tests::audit_sinks::MemorySink;
use fact_tests::oauth_provider::{OAuthProvider, ProviderSettings};
use rmcp::ClientHandler;
use rmcp::model::{ClientConfig, ProgressNotificationParam};
use rmcp::service::{NotificationContext, RoleClient};
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

pub(crate) const ADA_KEY: &str = "ada-mcp-key-0123456789abcdef";

/// Set by `Mcp.Wait` when it saw its call cancelled; `started` when it began waiting.
#[derive(Debug, Clone, Default)]
pub(crate) struct Waiter {
    pub(crate) started: Arc<Notify>,
    pub(crate) saw_cancellation: Arc<AtomicBool>,
    pub(crate) observed: Arc<Notify>,
}

impl Waiter {
    pub(crate) fn saw_cancellation(&self) -> bool {
        self.saw_cancellation.load(Ordering::SeqCst)
    }

    /// Returns once `Mcp.Wait` has started (within a bound).
    pub(crate) async fn started(&self) {
        tokio::time::timeout(Duration::from_secs(10), self.started.notified())
            .await
            .expect("the tool starts");
    }

    /// Returns once `Mcp.Wait` has seen its call cancelled (within a bound).
    pub(crate) async fn observed_cancellation(&self) {
        tokio::time::timeout(Duration::from_secs(10), self.observed.notified())
            .await
            .expect("the tool sees its call cancelled");
        assert!(self.saw_cancellation());
    }
}

/// The tools of the MCP tests, and what they let a test observe.
pub(crate) struct Fixture {
    pub(crate) executor: ToolExecutor,
    pub(crate) audit: Arc<MemorySink>,
    pub(crate) waiter: Waiter,
    pub(crate) provider: OAuthProvider,
}

/// `Mcp.Add` (an object output, declared), `Mcp.Shout` (a string output, declared: wrapped),
/// `Mcp.Fail` (the tool's own failure), `Mcp.Slow` (past its 1 s timeout), `Mcp.Count`
/// (reports progress), `Mcp.Wait` (waits to be cancelled), `Mcp.Private` (needs a grant of
/// `docs.read`), and no linked tools; audited to memory, authorized by a loopback provider.
pub(crate) async fn fixture() -> Fixture {
    let clock = ManualClock::new(Duration::from_secs(1_700_000_000));
    let provider = OAuthProvider::start(ProviderSettings::default(), clock.clone()).await;
    let settings = provider.settings();
    let oauth = OAuthConfig::new(
        settings.client_id.clone(),
        &settings.redirect_uri,
        &provider.authorization_url(),
        &provider.token_url(),
    )
    .expect("oauth config")
    .with_client_secret(settings.client_secret.clone());
    let manager = AuthorizationManager::builder(oauth)
        .clock(Arc::new(clock))
        .build()
        .expect("manager");
    let audit = Arc::new(MemorySink::default());
    let log = AuditLog::start(audit.clone(), AuditConfig::default()).expect("audit log");
    let waiter = Waiter::default();
    let executor = ToolExecutor::builder()
        .discover_linked_tools(false)
        .authorization(manager)
        .audit(log)
        .register(add())
        .register(shout())
        .register(fail())
        .register(slow())
        .register(count())
        .register(wait(waiter.clone()))
        .register(private())
        .build()
        .expect("builds");
    Fixture {
        executor,
        audit,
        waiter,
        provider,
    }
}

fn add() -> ToolDefinition {
    ToolDefinition::new(
        "Mcp.Add",
        "Adds two numbers",
        json!({
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"],
            "additionalProperties": false,
        }),
        |_ctx, args| async move {
            let a = args["a"].as_f64().unwrap_or_default();
            let b = args["b"].as_f64().unwrap_or_default();
            Ok(json!({"sum": a + b}))
        },
    )
    .output_schema(json!({
        "type": "object",
        "properties": {"sum": {"type": "number"}},
        "required": ["sum"],
        "additionalProperties": false,
    }))
    .title("Add numbers")
    .annotations(ToolAnnotations {
        read_only: Some(true),
        destructive: Some(false),
        idempotent: Some(true),
        open_world: Some(false),
    })
}

fn shout() -> ToolDefinition {
    ToolDefinition::new(
        "Mcp.Shout",
        "Upper-cases a text",
        json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
        |_ctx, args| async move { Ok(json!(args["text"].as_str().unwrap_or("").to_uppercase())) },
    )
    .output_schema(json!({"type": "string"}))
}

fn fail() -> ToolDefinition {
    ToolDefinition::new(
        "Mcp.Fail",
        "Always fails",
        json!({"type": "object"}),
        |_ctx, _args| async move { Err(ToolError::fatal("the disk is full")) },
    )
}

fn slow() -> ToolDefinition {
    ToolDefinition::new(
        "Mcp.Slow",
        "Takes longer than its timeout allows, and ignores cancellation",
        json!({"type": "object"}),
        |_ctx, _args| async move {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(json!("never"))
        },
    )
    .timeout(Duration::from_secs(1))
}

fn count() -> ToolDefinition {
    ToolDefinition::new(
        "Mcp.Count",
        "Counts to three, reporting each step",
        json!({"type": "object"}),
        |ctx, _args| async move {
            for step in 1..=3 {
                ctx.progress(f64::from(step), Some(3.0), format!("step {step}"));
                // A report that does not advance is not sent.
                ctx.progress(f64::from(step), Some(3.0), "again");
                tokio::task::yield_now().await;
            }
            Ok(json!({"counted": 3}))
        },
    )
}

fn wait(waiter: Waiter) -> ToolDefinition {
    ToolDefinition::new(
        "Mcp.Wait",
        "Waits until its call is cancelled",
        json!({"type": "object"}),
        move |ctx, _args| {
            let waiter = waiter.clone();
            async move {
                waiter.started.notify_one();
                ctx.cancelled().await;
                waiter.saw_cancellation.store(true, Ordering::SeqCst);
                waiter.observed.notify_one();
                Ok(json!("cancelled"))
            }
        },
    )
}

fn private() -> ToolDefinition {
    ToolDefinition::new(
        "Mcp.Private",
        "Reads a document with the user's token",
        json!({"type": "object"}),
        |_ctx, _args| async move { Ok(json!("secret")) },
    )
    .requires_auth(["docs.read"])
}

impl Fixture {
    /// The audit record of the first call of `tool`, once the log has written it (within a
    /// bound): for a call whose caller stopped waiting, which ends on its own afterwards.
    pub(crate) async fn record_of(&self, tool: &str) -> Option<AuditRecord> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let found = self
                .audit
                .records()
                .into_iter()
                .find(|r| r.tool_name == tool);
            if found.is_some() || tokio::time::Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The audit records written so far, after letting the log write what it has queued.
    pub(crate) async fn records(&self) -> Vec<AuditRecord> {
        self.executor
            .shutdown()
            .await
            .expect("the audit log flushes");
        self.audit.records()
    }
}

/// FACT's server on a free loopback port, with Ada's key.
pub(crate) struct Running {
    pub(crate) base: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

pub(crate) fn config() -> ServerConfig {
    ServerConfig::default()
        .addr("127.0.0.1:0".parse().expect("address"))
        .api_keys(ApiKeys::parse(&format!("{ADA_KEY}:ada")).expect("keys"))
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
            stop: Some(stop),
            task,
        }
    }

    pub(crate) fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    /// Asks the server to stop and waits until it has.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task)
            .await
            .expect("the server task does not panic")
            .expect("the server stops cleanly");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Sends a call of `Mcp.Wait` through `client` as a request it can cancel, and returns its
/// handle once the tool has started.
pub(crate) async fn waiting_call(
    client: &rmcp::service::RunningService<RoleClient, Listener>,
    waiter: &Waiter,
) -> rmcp::service::RequestHandle<RoleClient> {
    let mut params = rmcp::model::CallToolRequestParams::new("Mcp.Wait");
    params.arguments = Some(serde_json::Map::new());
    let request = rmcp::model::ClientRequest::CallToolRequest(rmcp::model::Request::new(params));
    let handle = client
        .peer()
        .send_cancellable_request(request, rmcp::service::PeerRequestOptions::no_options())
        .await
        .expect("sent");
    waiter.started().await;
    handle
}

/// An rmcp client that keeps every progress notification it receives.
#[derive(Debug, Clone, Default)]
pub(crate) struct Listener {
    pub(crate) progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
}

impl Listener {
    /// The first `count` reports heard, by `progress`, waiting (within a bound) for them: rmcp's
    /// client hands each notification to its handler on a task of its own, so a report sent
    /// before the answer may reach the handler after it, and out of order with the others.
    /// (The Python client, which handles them in order, checks the wire order.)
    pub(crate) async fn heard_at_least(
        &self,
        count: usize,
    ) -> Vec<(f64, Option<f64>, Option<String>)> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.heard().len() < count && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut heard = self.heard();
        heard.sort_by(|a, b| a.0.total_cmp(&b.0));
        heard
    }

    pub(crate) fn heard(&self) -> Vec<(f64, Option<f64>, Option<String>)> {
        self.progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|p| (p.progress, p.total, p.message.clone()))
            .collect()
    }
}

impl ClientHandler for Listener {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(params);
    }

    fn get_info(&self) -> ClientConfig {
        ClientConfig::default()
    }
}

/// `value` checked against the JSON Schema `schema`; the errors, if any.
pub(crate) fn violations(schema: &Value, value: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(schema).expect("a valid schema");
    validator
        .iter_errors(value)
        .map(|e| e.to_string())
        .collect()
}
