//! Every tool of an executor served over the Model Context Protocol (docs/ARCHITECTURE.md,
//! "MCP"), on rmcp, the official Rust SDK: `tools/list` and `tools/call`, on stdio
//! ([`McpServer::serve_stdio`], `fact mcp`) and, with the `server` feature, as streamable HTTP
//! at `/mcp` on FACT's HTTP server, behind its API-key check.
//!
//! Each `tools/call` is one [`ToolExecutor::execute_tool_call`]: validation, authorization,
//! limits, routing (local or the Arcade Engine), metrics and audit are the pipeline's, as for
//! every other transport. A tool's failure is a result with `isError: true`; only a call no
//! tool could take (an unknown tool, a name that cannot be one) is a protocol error.
//!
//! ```no_run
//! use fact_runtime::ToolExecutor;
//! use fact_runtime::mcp::McpServer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let executor = ToolExecutor::builder().build()?;
//! // Serves until the client closes stdin; calls run as the user "ada".
//! McpServer::new(executor).user("ada").serve_stdio().await?;
//! # Ok(())
//! # }
//! ```

mod answer;
mod described;
#[cfg(feature = "server")]
pub(crate) mod http;
mod progress;

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ErrorCode, ErrorData, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ServerHandler, ServiceExt};
use serde_json::Value;
use tokio_util::task::TaskTracker;

use crate::call::CallOptions;
use crate::executor::ToolExecutor;
use crate::transport::{self, Outcome};

/// The environment variable naming the user `fact mcp` calls tools as.
pub const USER_ENV: &str = "FACT_MCP_USER";

/// The JSON-RPC code of a request its client cancelled (as LSP numbers it; MCP has none of its
/// own, and a cancelled request's answer is never read).
const REQUEST_CANCELLED: ErrorCode = ErrorCode(-32800);

/// An MCP server over a [`ToolExecutor`]: every tool it has (linked, registered, remote).
///
/// Over stdio (and any transport given to [`serve`](Self::serve)), calls run as the configured
/// [`user`](Self::user): the process's own identity, whoever started it. At `/mcp` on FACT's
/// HTTP server (feature `server`), calls run as the API key's user, never this one, and
/// nothing in a request names another.
#[derive(Debug, Clone)]
pub struct McpServer {
    executor: ToolExecutor,
    user: Option<Arc<str>>,
    /// Shared by the clones serving HTTP requests.
    described: Arc<described::Described>,
    /// The calls running, each on a task of its own: waited for before the server reports
    /// that it has stopped, so that no call's audit record comes after the log's shutdown.
    calls: TaskTracker,
}

/// Why an MCP server stopped before its client was done.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// The client's `initialize` (or the transport beneath it) failed.
    #[error("the MCP session could not start: {0}")]
    Start(String),
    /// The session ended with an error of the transport.
    #[error("the MCP session failed: {0}")]
    Session(String),
}

impl McpServer {
    /// A server of `executor`'s tools, calling them as no user until [`user`](Self::user) says
    /// otherwise.
    pub fn new(executor: ToolExecutor) -> Self {
        Self {
            executor,
            user: None,
            described: Arc::default(),
            calls: TaskTracker::new(),
        }
    }

    /// Calls tools as `user` (for stdio, where the transport carries no credential).
    #[must_use]
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(Arc::from(user.into()));
        self
    }

    /// The user of [`USER_ENV`] (`FACT_MCP_USER`), else the operating system's user name
    /// (`USER`, or `USERNAME` on Windows); `None` when neither is set.
    pub fn user_from_env() -> Option<String> {
        ["FACT_MCP_USER", "USER", "USERNAME"]
            .into_iter()
            .filter_map(|name| std::env::var(name).ok())
            .map(|user| user.trim().to_owned())
            .find(|user| !user.is_empty())
    }

    /// Serves MCP on this process's stdin and stdout until the client closes them. Nothing
    /// else may write to stdout meanwhile: logs go to stderr.
    ///
    /// # Errors
    ///
    /// [`McpError`] when the session cannot start or its transport fails.
    pub async fn serve_stdio(self) -> Result<(), McpError> {
        self.serve(rmcp::transport::stdio()).await
    }

    /// Serves MCP on any transport rmcp takes (a pair of async streams, a duplex pipe in a
    /// test) until the client goes away, then waits for the calls still running (cancelled
    /// with the session, each within its timeout) to be answered and audited.
    ///
    /// # Errors
    ///
    /// [`McpError`] when the session cannot start or its transport fails.
    pub async fn serve<T, E, A>(self, transport: T) -> Result<(), McpError>
    where
        T: rmcp::transport::IntoTransport<RoleServer, E, A>,
        E: std::error::Error + Send + Sync + 'static,
    {
        let calls = self.calls.clone();
        let running = ServiceExt::serve(self, transport)
            .await
            .map_err(|error| McpError::Start(error.to_string()))?;
        let ended = running
            .waiting()
            .await
            .map(|_reason| ())
            .map_err(|error| McpError::Session(error.to_string()));
        self_calls_finished(&calls).await;
        ended
    }

    /// Waits until every call this server (or a clone of it) started has been answered and
    /// audited. For a server behind HTTP, once no request comes in any more.
    #[cfg(feature = "server")]
    pub(crate) async fn calls_finished(&self) {
        self_calls_finished(&self.calls).await;
    }

    /// The user a request runs as: the API key's over HTTP (never this server's own user),
    /// the configured one elsewhere.
    #[cfg(feature = "server")]
    fn user_of(&self, context: &RequestContext<RoleServer>) -> Option<String> {
        match context.extensions.get::<axum::http::request::Parts>() {
            Some(parts) => http::caller_user(parts),
            None => self.user.as_deref().map(str::to_owned),
        }
    }

    /// The user a request runs as: the configured one (no HTTP transport without `server`).
    #[cfg(not(feature = "server"))]
    fn user_of(&self, _context: &RequestContext<RoleServer>) -> Option<String> {
        self.user.as_deref().map(str::to_owned)
    }
}

/// Waits for the tracked calls, letting new ones still be tracked afterwards.
async fn self_calls_finished(calls: &TaskTracker) {
    calls.close();
    calls.wait().await;
    calls.reopen();
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("fact", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "FACT's tools. Every call is validated, authorized, rate limited and audited; a tool's failure says why (error_type, status_code).",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = self
            .executor
            .available_tools()
            .iter()
            .map(|info| self.described.of(info))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ListToolsResult::with_all_items(tools))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.described.of(&self.executor.tool_info(name)?).ok()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        // No arguments are an empty object, as FACT's HTTP API reads a call without `input`:
        // the audit log's digest of a call is the same on every transport.
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        let call = transport::tool_call(
            request.name.into_owned(),
            arguments,
            self.user_of(&context),
            None,
        )
        .map_err(|refusal| ErrorData::invalid_params(refusal.to_string(), None))?;
        let declared = self.executor.tool_info(&call.tool_name);
        // The call runs on a task of its own under a token of this request: the client's
        // `notifications/cancelled` (stdio), or this future dropped or cancelled (an HTTP
        // client that went away), cancels the tool's context, and the task lives on until the
        // tool has stopped (at its timeout, at the latest) so that it can stop cleanly and be
        // audited as cancelled. (Measured: a third more throughput than running the call in
        // rmcp's task, whose future rmcp moves.)
        let cancellation = context.ct.child_token();
        let stop_on_drop = cancellation.clone().drop_guard();
        let mut options = CallOptions::default().cancellation(cancellation.clone());
        let reports = context.meta.get_progress_token().map(|token| {
            let (sink, reports) = progress::channel();
            options = options.clone().progress(sink);
            (token, reports)
        });
        let executor = self.executor.clone();
        let running = self
            .calls
            .spawn(async move { executor.execute_tool_call_with(call, options).await });
        let answered = match reports {
            Some((token, reports)) => progress::forwarding(running, reports, token, &context).await,
            None => running.await,
        };
        stop_on_drop.disarm();
        let result = match answered {
            Ok(result) if !cancellation.is_cancelled() => result,
            Ok(_) => {
                return Err(ErrorData::new(
                    REQUEST_CANCELLED,
                    "the request was cancelled",
                    None,
                ));
            }
            // The executor answers every call, panics included: only a runtime shutting down
            // ends its task otherwise.
            Err(error) => {
                return Err(ErrorData::internal_error(
                    format!("the call did not finish: {error}"),
                    None,
                ));
            }
        };
        if Outcome::of(&result) == Outcome::NoSuchTool {
            return Err(ErrorData::invalid_params(
                result.error.unwrap_or_default(),
                None,
            ));
        }
        Ok(answer::call_result(result, declared.as_deref()).into())
    }
}
