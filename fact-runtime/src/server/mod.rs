//! The HTTP server (feature `server`): FACT's tools for LLM applications over HTTP.
//!
//! | endpoint | answer | key |
//! | --- | --- | --- |
//! | `GET /health` | `{"status": "healthy"\|"unhealthy", "executor": {...}, "arcade": {...}, "timestamp": ...}`, 200 or 503 | no |
//! | `GET /metrics` | Prometheus text | unless [`ServerConfig::metrics_public`] |
//! | `GET /v1/tools?format=native\|openai\|openai-strict\|anthropic\|mcp` | every tool's schema | yes |
//! | `GET /v1/tools/{name}?format=...` | one tool's schema, 404 if none | yes |
//! | `POST /v1/tools/execute` | `{"tool_name", "input", "session_id"?}` → the [`ToolResult`](crate::ToolResult), HTTP status = its `status_code` | yes |
//! | `POST /v1/tools/execute/batch` | `{"calls": [...]}` → 200 `{"results": [...]}` in input order | yes |
//! | `GET /arcade/v1/health`, `GET /arcade/v1/tools`, `GET /arcade/v1/tools/{name}`, `POST /arcade/v1/tools/execute` | Arcade's Engine API, for Arcade's clients (docs/ARCHITECTURE.md, "Engine API") | yes, but health |
//!
//! Callers present `Authorization: Bearer <key>` (under `/arcade`, also the bare
//! `Authorization: <key>` Arcade's clients send); each key belongs to a user ([`ApiKeys`]) and
//! every call runs as that user, except that a key of any user (`KEY:*`) runs an Engine API
//! call as the user its `user_id` names. A missing or unknown key is a 401 before the body is read or a
//! route matched: without a key, every path but the open ones answers the same.
//!
//! Connections: at most [`ServerConfig::max_connections`] at once, and at most
//! [`ServerConfig::max_connections_per_address`] from one client address (one more is answered
//! 429 and closed at once); each has [`ServerConfig::header_read_timeout`] to send its headers
//! and then [`ServerConfig::body_read_timeout`] to send its body (408 past it). At shutdown,
//! calls in flight get [`ServerConfig::shutdown_grace`] to finish before the audit log is
//! flushed anyway.
//!
//! Answers: one call's `ToolResult` is at most [`ServerConfig::max_response_bytes`] of JSON and
//! a batch's answer at most [`ServerConfig::max_batch_response_bytes`]; a result past either is
//! replaced by a 403 `SecurityError` whose `metadata.limit` names the limit and `metadata.max`
//! its value in bytes. A batch's results are serialized as their calls complete, so the server
//! never holds them all at once.
//!
//! Every refusal, the HTTP layer's own included (401, 404, 405, 408, 413, 429, 400 for a
//! malformed body, path or query, 504 for a request past its timeout, and the 400, 414 and 431
//! that hyper answers to a request line or headers it cannot parse), has the shape of a failed
//! `ToolResult`:
//! `{"success": false, "error": "...", "status_code": ..., "metadata": {"error_type": ...}}`;
//! under `/arcade` it has the Engine's shape, `{"name": "not_found", "message": "..."}`.
//!
//! ```no_run
//! use fact_runtime::server::{Server, ServerConfig};
//! use fact_runtime::ToolExecutor;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let executor = ToolExecutor::builder().build()?;
//! let server = Server::new(executor, ServerConfig::from_env()?)?.bind().await?;
//! println!("serving on {}", server.local_addr());
//! server.run().await?; // until SIGTERM or Ctrl-C; in-flight calls finish, the audit log is flushed
//! # Ok(())
//! # }
//! ```

mod address_cap;
mod answer_budget;
mod api_keys;
mod config;
mod connections;
mod engine;
mod environment;
mod error;
pub(crate) mod guards;
mod logging;
mod oauth;
mod parse_errors;
mod requests;
mod routes;
mod worker;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

pub use api_keys::{
    ANY_USER, API_KEYS_ENV, API_KEYS_FILE_ENV, ApiKeyError, ApiKeys, KeyHolder, MIN_KEY_LENGTH,
};
pub use config::{
    DEFAULT_ADDR, DEFAULT_BODY_READ_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_BATCH_CALLS,
    DEFAULT_MAX_BATCH_RESPONSE_BYTES, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MCP_ALLOWED_HOSTS,
    DEFAULT_REQUEST_TIMEOUT, DEFAULT_SHUTDOWN_GRACE, ServerConfig,
};
pub use environment::{EnvironmentSummary, SetVariable, VariableGroup, environment_summary};
pub use error::ServerError;
pub use logging::init_logging;
#[cfg(feature = "cli")]
pub(crate) use logging::init_logging_at;

use crate::executor::ToolExecutor;
use crate::metrics::PrometheusExporter;

/// A server over one [`ToolExecutor`], configured but not yet listening.
#[derive(Debug)]
pub struct Server {
    executor: ToolExecutor,
    config: ServerConfig,
    guards: guards::Guards,
    #[cfg(feature = "mcp")]
    mcp: crate::mcp::McpServer,
}

impl Server {
    /// Prepares the routes and installs the process's Prometheus exporter.
    ///
    /// # Errors
    ///
    /// [`ServerError::NoApiKeys`] with neither keys nor anonymous mode, a limit of zero, or an
    /// exporter that cannot be installed.
    pub fn new(executor: ToolExecutor, config: ServerConfig) -> Result<Self, ServerError> {
        config.validate()?;
        let state = Arc::new(routes::AppState {
            executor: executor.clone(),
            exporter: PrometheusExporter::install()?,
            keys: config.api_keys.clone(),
            allow_anonymous: config.allow_anonymous,
            metrics_public: config.metrics_public,
            max_batch_calls: config.max_batch_calls,
            max_response_bytes: config.max_response_bytes,
            max_batch_response_bytes: config.max_batch_response_bytes,
            oauth_callback: oauth::callback_path(&executor),
            worker_secret: config.worker_secret.clone(),
            #[cfg(feature = "mcp")]
            mcp: crate::mcp::McpServer::new(executor.clone()),
        });
        #[cfg(feature = "mcp")]
        let mcp = state.mcp.clone();
        let guards = routes::guarded(state, &config);
        if config.worker_secret.is_some() {
            tracing::info!(
                "serving as an Arcade worker too: /worker/health, /worker/tools, /worker/tools/invoke (ARCADE_WORKER_SECRET)"
            );
        }
        Ok(Self {
            executor,
            config,
            guards,
            #[cfg(feature = "mcp")]
            mcp,
        })
    }

    /// The routes, to serve yourself or to nest in a larger application: behind every guard
    /// (the key, the body cap and timeouts, the refusal shapes), as [`bind`](Self::bind)
    /// serves them. Unknown paths are its fallback's, so that a request without a key learns
    /// nothing of the routes.
    pub fn router(&self) -> Router {
        Router::new().fallback_service(self.guards.clone())
    }

    /// Binds the configured address.
    ///
    /// # Errors
    ///
    /// [`ServerError::Bind`] when the address cannot be bound.
    pub async fn bind(self) -> Result<BoundServer, ServerError> {
        let addr = self.config.addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
        Ok(BoundServer {
            listener,
            local_addr,
            guards: self.guards,
            executor: self.executor,
            #[cfg(feature = "mcp")]
            mcp: self.mcp,
            limits: connections::ConnectionLimits {
                header_read_timeout: self.config.header_read_timeout,
                max_connections: self.config.max_connections,
                max_connections_per_address: self.config.max_connections_per_address,
                shutdown_grace: self.config.shutdown_grace,
            },
        })
    }
}

/// A server listening on its address; [`run`](Self::run) serves until asked to stop.
#[derive(Debug)]
pub struct BoundServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    guards: guards::Guards,
    executor: ToolExecutor,
    #[cfg(feature = "mcp")]
    mcp: crate::mcp::McpServer,
    limits: connections::ConnectionLimits,
}

impl BoundServer {
    /// The address actually bound (the port chosen, when configured with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until SIGTERM or Ctrl-C, then stops gracefully (see [`run_until`](Self::run_until)).
    ///
    /// # Errors
    ///
    /// As [`run_until`](Self::run_until).
    pub async fn run(self) -> Result<(), ServerError> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then stops accepting connections, lets the requests
    /// in flight finish (for at most the shutdown grace period), and flushes the executor's
    /// audit log.
    ///
    /// # Errors
    ///
    /// [`ServerError::Audit`] when the audit log cannot be flushed.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        tracing::info!(addr = %self.local_addr, "serving");
        let served = connections::serve(self.listener, self.guards, self.limits, async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections, finishing calls in flight");
        })
        .await;
        // MCP calls whose clients went away run on until their tools stop: their records are
        // waited for, within the grace, before the log closes.
        #[cfg(feature = "mcp")]
        if tokio::time::timeout(self.limits.shutdown_grace, self.mcp.calls_finished())
            .await
            .is_err()
        {
            tracing::warn!(
                "MCP calls still running after the shutdown grace: closing the audit log without them"
            );
        }
        // Flushed whether serving ended well or not: the records of answered calls are kept.
        let flushed = self.executor.shutdown().await;
        served.map_err(ServerError::Serve)?;
        flushed?;
        tracing::info!("stopped; audit log flushed");
        Ok(())
    }
}

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM, the signal orchestrators send to stop a
/// process. The handlers are installed when this is called, not when the future is first
/// polled, so a signal that arrives in between is not lost (nor does it kill the process).
/// Should a handler fail to install, that signal is simply not awaited.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        async move {
            let interrupt = async {
                match interrupt {
                    Some(mut stream) => {
                        stream.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let terminate = async {
                match terminate {
                    Some(mut stream) => {
                        stream.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = interrupt => {}
                () = terminate => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
