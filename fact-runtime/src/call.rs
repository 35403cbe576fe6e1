//! [`ToolCall`]: one request to run a tool.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::auth::AccessToken;
use crate::progress::ProgressSink;
use crate::secrets::Secrets;

/// A request to run the tool `tool_name` with `arguments` (a JSON object).
///
/// ```
/// use fact_runtime::ToolCall;
/// use serde_json::json;
///
/// let call = ToolCall::new("MyApp.Calculator", json!({"operation": "add", "a": 1, "b": 2}))
///     .user("ada")
///     .session("s-1");
/// assert_eq!(call.user_id.as_deref(), Some("ada"));
/// assert!(!call.call_id.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Unique id of the call, echoed in the result, and the key of its audit record; a fresh
    /// UUID (v7: time-ordered) unless set.
    #[serde(default = "new_call_id")]
    pub call_id: String,
    /// The tool to run, e.g. `MyApp.Calculator`.
    pub tool_name: String,
    /// The arguments: a JSON object (`null` counts as `{}`).
    #[serde(default)]
    pub arguments: Value,
    /// The calling user, for authorization, rate limits and audit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The caller's session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// A fresh call id: a UUID v7, which begins with the time, so that ids made later sort later
/// and the audit log's unique index by call id grows at its right edge (docs/ARCHITECTURE.md,
/// "Audit log"); the rest is random.
pub(crate) fn new_call_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl ToolCall {
    /// A call of `tool_name` with `arguments`, a fresh call id, and no user or session.
    pub fn new(tool_name: impl Into<String>, arguments: Value) -> Self {
        Self {
            call_id: new_call_id(),
            tool_name: tool_name.into(),
            arguments,
            user_id: None,
            session_id: None,
        }
    }

    /// Sets the calling user.
    #[must_use]
    pub fn user(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// Sets the session.
    #[must_use]
    pub fn session(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self
    }

    /// Replaces the generated call id, e.g. with the id an LLM gave its tool call.
    #[must_use]
    pub fn with_call_id(mut self, call_id: impl Into<String>) -> Self {
        self.call_id = call_id.into();
        self
    }
}

/// The seed's helper: a call of `tool_name` with `arguments`, for `user_id` when given.
///
/// ```
/// use fact_runtime::create_tool_call;
/// use serde_json::json;
///
/// let call = create_tool_call("MyApp.Calculator", json!({"a": 1}), Some("ada"));
/// assert_eq!(call.tool_name, "MyApp.Calculator");
/// assert_eq!(call.user_id.as_deref(), Some("ada"));
/// ```
pub fn create_tool_call(
    tool_name: impl Into<String>,
    arguments: Value,
    user_id: Option<&str>,
) -> ToolCall {
    let call = ToolCall::new(tool_name, arguments);
    match user_id {
        Some(user) => call.user(user),
        None => call,
    }
}

/// How one call runs beyond what its [`ToolCall`] says, for a transport that can tell more:
/// where the tool's progress goes, and the caller's own cancellation.
///
/// ```
/// use fact_runtime::{CallOptions, ProgressSink, ToolCall, ToolExecutor};
/// use serde_json::json;
/// use tokio_util::sync::CancellationToken;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let executor = ToolExecutor::builder().build()?;
/// let stop = CancellationToken::new();
/// let options = CallOptions::default()
///     .progress(ProgressSink::new(|progress| eprintln!("{progress:?}")))
///     .cancellation(stop.clone());
/// let result = executor
///     .execute_tool_call_with(ToolCall::new("No.Such", json!({})), options)
///     .await;
/// assert_eq!(result.status_code, 404);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    pub(crate) progress: Option<ProgressSink>,
    pub(crate) cancellation: Option<CancellationToken>,
    pub(crate) access_token: Option<AccessToken>,
    pub(crate) secrets: Secrets,
    /// The caller authorizes its users itself (an Arcade Engine): a tool that requires
    /// authorization runs with the caller's token or not at all, never with a grant of the
    /// executor's own.
    pub(crate) caller_authorizes: bool,
}

impl CallOptions {
    /// Sends the tool's [progress reports](crate::ToolContext::progress) to `sink`.
    #[must_use]
    pub fn progress(mut self, sink: ProgressSink) -> Self {
        self.progress = Some(sink);
        self
    }

    /// Cancels the call when `token` is cancelled: the tool's context is cancelled at once
    /// (a tool watching it stops early; one that does not is still ended by its timeout), and
    /// the call is audited as cancelled
    /// ([`AuditRecord::CANCELLED_STATUS`](crate::audit::AuditRecord::CANCELLED_STATUS)),
    /// whatever the tool then returns.
    #[must_use]
    pub fn cancellation(mut self, token: CancellationToken) -> Self {
        self.cancellation = Some(token);
        self
    }

    /// Hands the call the user's access token, obtained by the caller: an Arcade Engine
    /// authorizes its users itself and sends the token with each call it makes of a worker.
    /// A tool that requires authorization (`requires_auth`, `scopes`) then receives this token
    /// as its [`ToolContext::access_token`](crate::ToolContext::access_token) instead of one
    /// from the executor's [`AuthorizationManager`](crate::AuthorizationManager), which is not
    /// asked; a tool that requires none never receives it. Only a caller that has itself
    /// authorized the user (the worker endpoints, after checking the Engine's signed request)
    /// should hand one over. A tool that runs on an Arcade Engine first
    /// (`arcade::ArcadeGateway`) is authorized by that Engine, and
    /// its local side, should the call fall back to it, by the executor's own grant: the token
    /// given here reaches neither.
    #[must_use]
    pub fn access_token(mut self, token: AccessToken) -> Self {
        self.access_token = Some(token);
        self
    }

    /// Marks the call as authorized by its caller alone, as the worker endpoints do for the
    /// Engine's calls: without a token of the caller's, a tool that requires authorization is
    /// refused (401) rather than run with the executor's own grant, or sent to its provider.
    #[must_use]
    pub(crate) fn authorized_by_caller(mut self) -> Self {
        self.caller_authorizes = true;
        self
    }

    /// Hands the call a secret (an API key of a service, say), as an Arcade Engine does with
    /// each call: the tool sees it through [`ToolContext::secret`](crate::ToolContext::secret)
    /// if it declares the key (`#[tool(secrets = ["KEY"])]`), and never otherwise. Secrets are
    /// neither audited nor logged.
    #[must_use]
    pub fn secret(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.secrets = self.secrets.with(key.into(), value.into());
        self
    }
}
