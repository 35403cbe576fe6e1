//! [`ToolContext`]: what the runtime tells a tool about the call it is serving.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::auth::AccessToken;
use crate::extensions::Extensions;
use crate::progress::{Progress, ProgressSink};
use crate::secrets::Secrets;

/// Injected into a tool that declares a `ToolContext` or `&ToolContext` parameter; never part of
/// the tool's schema.
///
/// It carries the call's identity (call id, user, session), its deadline, and a cancellation
/// signal that fires when the call times out. Sync tools keep running on the blocking pool after
/// a timeout unless they check [`is_cancelled`](Self::is_cancelled). A sync tool declared
/// `#[tool(inline)]` sees no cancellation while it runs inline: it holds the worker the timeout
/// would fire on (docs/ARCHITECTURE.md, "Sync tools").
///
/// ```
/// use fact_runtime::{tool, ToolContext};
///
/// /// Greets the calling user.
/// #[tool(name = "Demo.Greet")]
/// async fn greet(ctx: &ToolContext) -> String {
///     format!("hello, {}", ctx.user_id().unwrap_or("stranger"))
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // Still a plain function: call it directly with a context of your own.
/// let ctx = ToolContext::new("Demo.Greet").with_user("ada");
/// assert_eq!(greet(&ctx).await, "hello, ada");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ToolContext {
    call_id: String,
    tool_name: String,
    user_id: Option<String>,
    session_id: Option<String>,
    deadline: Instant,
    cancellation: CancellationToken,
    access_token: Option<AccessToken>,
    secrets: Secrets,
    extensions: Arc<Extensions>,
    progress: Option<ProgressSink>,
}

/// The deadline of a context made with [`ToolContext::new`].
const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);

impl ToolContext {
    /// A context for calling `tool_name` directly, outside an executor (in a unit test of the
    /// tool, say): a fresh call id, no user or session, a deadline 30 seconds from now, never
    /// cancelled unless you cancel its [`cancellation_token`](Self::cancellation_token).
    pub fn new(tool_name: impl Into<String>) -> Self {
        Self {
            call_id: crate::call::new_call_id(),
            tool_name: tool_name.into(),
            user_id: None,
            session_id: None,
            deadline: Instant::now() + DEFAULT_DEADLINE,
            cancellation: CancellationToken::new(),
            access_token: None,
            secrets: Secrets::default(),
            extensions: Arc::default(),
            progress: None,
        }
    }

    pub(crate) fn for_call(
        call: &crate::call::ToolCall,
        tool_name: String,
        deadline: Instant,
        cancellation: CancellationToken,
        extensions: Arc<Extensions>,
        progress: Option<ProgressSink>,
    ) -> Self {
        Self {
            call_id: call.call_id.clone(),
            tool_name,
            user_id: call.user_id.clone(),
            session_id: call.session_id.clone(),
            deadline,
            cancellation,
            access_token: None,
            secrets: Secrets::default(),
            extensions,
            progress,
        }
    }

    /// Sets the calling user.
    #[must_use]
    pub fn with_user(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// Sets the session.
    #[must_use]
    pub fn with_session(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self
    }

    /// Sets the access token, as the authorize stage does for tools that require auth.
    #[must_use]
    pub fn with_access_token(mut self, token: AccessToken) -> Self {
        self.access_token = Some(token);
        self
    }

    /// Adds a secret, as the executor does for each secret the tool declares
    /// (`#[tool(secrets = [...])]`) that the call brings ([`CallOptions::secret`](crate::CallOptions::secret)).
    #[must_use]
    pub fn with_secret(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.secrets = self.secrets.with(key.into(), value.into());
        self
    }

    pub(crate) fn with_secrets(mut self, secrets: Secrets) -> Self {
        self.secrets = secrets;
        self
    }

    /// Sets the deadline.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sends the call's progress reports to `sink`, as the executor does for a call made with
    /// [`CallOptions::progress`](crate::CallOptions::progress).
    #[must_use]
    pub fn with_progress(mut self, sink: ProgressSink) -> Self {
        self.progress = Some(sink);
        self
    }

    /// Reports how far the call has come: `done` units of `total` (when known), with a message
    /// for the person waiting (`""` for none). An MCP client that asked for progress receives
    /// it as `notifications/progress`; otherwise this does nothing. Never blocks; `done` should
    /// grow from one report to the next (MCP drops a report that does not).
    ///
    /// ```
    /// use fact_runtime::{tool, ToolContext};
    ///
    /// /// Counts to `n`, saying how far it got.
    /// #[tool(name = "Demo.Count")]
    /// async fn count(ctx: &ToolContext, n: u32) -> u32 {
    ///     for i in 1..=n {
    ///         ctx.progress(f64::from(i), Some(f64::from(n)), format!("counted {i}"));
    ///     }
    ///     n
    /// }
    /// ```
    pub fn progress(&self, done: f64, total: Option<f64>, message: impl Into<String>) {
        if let Some(sink) = &self.progress {
            let message = message.into();
            sink.report(Progress {
                done,
                total,
                message: (!message.is_empty()).then_some(message),
            });
        }
    }

    /// Adds `value` to the context's [`Extensions`], as
    /// [`ToolExecutorBuilder::extension`](crate::ToolExecutorBuilder::extension) does for every
    /// call of an executor.
    #[must_use]
    pub fn with_extension<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        Arc::make_mut(&mut self.extensions).insert(value);
        self
    }

    /// The value of type `T` the application gave its tools, if it gave one: a pool, a policy,
    /// a client. Tools that need configuration read it here and fall back to a default.
    ///
    /// ```
    /// use fact_runtime::{tool, ToolContext};
    ///
    /// /// The configured greeting, for whoever calls.
    /// #[tool(name = "Demo.Hello")]
    /// fn hello(ctx: &ToolContext) -> String {
    ///     ctx.extension::<String>().cloned().unwrap_or_else(|| "hello".to_owned())
    /// }
    ///
    /// let ctx = ToolContext::new("Demo.Hello").with_extension("bonjour".to_owned());
    /// assert_eq!(hello(&ctx), "bonjour");
    /// assert_eq!(hello(&ToolContext::new("Demo.Hello")), "hello");
    /// ```
    pub fn extension<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.extensions.get::<T>()
    }

    /// The id of this call, as in `ToolResult::call_id`.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The name of the tool being called.
    pub fn tool_name(&self) -> &str {
        &self.tool_name
    }

    /// The calling user, when the call names one.
    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    /// The session, when the call names one.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The calling user's OAuth2 access token, present when the tool declares `requires_auth`
    /// or `scopes` and the user holds a live grant covering them. This is the only way a token
    /// reaches a tool: never through its arguments.
    pub fn access_token(&self) -> Option<&AccessToken> {
        self.access_token.as_ref()
    }

    /// The value of the secret `key` (matched without regard to ASCII case), when the tool
    /// declares the key (`#[tool(secrets = ["KEY"])]`, [`ToolDefinition::secrets`](crate::ToolDefinition::secrets))
    /// and the call brings it: an Arcade Engine sends a tool's secrets with each call. A tool
    /// never sees a secret it did not declare. The value is the tool's to use, never to log.
    ///
    /// ```
    /// use fact_runtime::{tool, ToolContext, ToolError, ErrorKind};
    ///
    /// /// Says which weather service key the call brought.
    /// #[tool(name = "Demo.Forecast", secrets = ["WEATHER_API_KEY"])]
    /// fn forecast(ctx: &ToolContext) -> Result<usize, ToolError> {
    ///     let key = ctx.secret("WEATHER_API_KEY").ok_or_else(|| {
    ///         ToolError::new(ErrorKind::Unauthorized, "the call brought no WEATHER_API_KEY")
    ///     })?;
    ///     Ok(key.len())
    /// }
    ///
    /// let ctx = ToolContext::new("Demo.Forecast").with_secret("weather_api_key", "k-123");
    /// assert_eq!(forecast(&ctx).ok(), Some(5));
    /// assert!(forecast(&ToolContext::new("Demo.Forecast")).is_err());
    /// ```
    pub fn secret(&self, key: &str) -> Option<&str> {
        self.secrets.get(key)
    }

    /// When the call times out.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Time left before the deadline (zero once it has passed).
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Whether the call has been cancelled (it timed out, or its caller gave up).
    pub fn is_cancelled(&self) -> bool {
        self.cancellation.is_cancelled()
    }

    /// Completes when the call is cancelled; `select!` on it to stop long work early.
    pub async fn cancelled(&self) {
        self.cancellation.cancelled().await;
    }

    /// The token behind [`cancelled`](Self::cancelled), to hand to other tasks.
    pub fn cancellation_token(&self) -> &CancellationToken {
        &self.cancellation
    }
}
