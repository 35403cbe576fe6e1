//! How tools are defined: statically by `#[tool]` ([`ToolRegistration`], collected by
//! `inventory`), or at run time by hand ([`ToolDefinition`]).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::annotations::ToolAnnotations;
use crate::context::ToolContext;
use crate::error::ToolError;

/// The future a tool's erased call function returns.
pub type ToolFuture = Pin<Box<dyn Future<Output = Result<Value, ToolError>> + Send + 'static>>;

/// Where a tool was defined, for error messages that must name both sides of a clash.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct SourceLocation {
    pub module_path: &'static str,
    pub function: &'static str,
    pub file: &'static str,
    pub line: u32,
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}::{} ({}:{})",
            self.module_path, self.function, self.file, self.line
        )
    }
}

/// One `#[tool]`, as the macro registers it with `inventory`. Not built by hand: use
/// [`ToolDefinition`] for tools made at run time.
#[doc(hidden)]
#[derive(Debug)]
pub struct ToolRegistration {
    pub name: &'static str,
    pub title: Option<&'static str>,
    pub description: &'static str,
    pub version: &'static str,
    pub timeout_secs: u64,
    pub requires_auth: bool,
    pub scopes: &'static [&'static str],
    pub auth_provider: Option<&'static str>,
    pub secrets: &'static [&'static str],
    /// Calls per minute per caller; 0 for no quota of the tool's own.
    pub rate_limit_per_minute: u32,
    pub annotations: ToolAnnotations,
    /// A sync function: it runs on the blocking pool, or inline when `inline`.
    pub blocking: bool,
    /// Declared `#[tool(inline)]`: the sync function runs on the calling task until a run
    /// overruns `INLINE_BUDGET` (`sync_tool.rs`).
    pub inline: bool,
    pub input_schema: fn() -> Value,
    pub output_schema: fn() -> Option<Value>,
    pub call: fn(ToolContext, Value) -> ToolFuture,
    pub defined_at: SourceLocation,
}

inventory::collect!(ToolRegistration);

type DynHandler = dyn Fn(ToolContext, Value) -> ToolFuture + Send + Sync;

/// A tool registered at run time, for tools not known at compile time (loaded from
/// configuration, proxied from elsewhere, ...). The handler receives the validated arguments.
///
/// ```
/// use fact_runtime::{ToolCall, ToolDefinition, ToolExecutor};
/// use serde_json::json;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let echo = ToolDefinition::new(
///     "Demo.Echo",
///     "Returns its input",
///     json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
///     |_ctx, args| async move { Ok(args["text"].clone()) },
/// );
/// let executor = ToolExecutor::builder().register(echo).build()?;
/// let result = executor.execute_tool_call(ToolCall::new("Demo.Echo", json!({"text": "hi"}))).await;
/// assert_eq!(result.data, Some(json!("hi")));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ToolDefinition {
    pub(crate) name: String,
    pub(crate) title: Option<String>,
    pub(crate) description: String,
    pub(crate) version: String,
    pub(crate) timeout: Duration,
    pub(crate) requires_auth: bool,
    pub(crate) scopes: Vec<String>,
    pub(crate) auth_provider: Option<String>,
    pub(crate) secrets: Vec<String>,
    pub(crate) annotations: ToolAnnotations,
    pub(crate) input_schema: Value,
    pub(crate) output_schema: Option<Value>,
    pub(crate) handler: Arc<DynHandler>,
}

impl ToolDefinition {
    /// A tool named `name` (`Toolkit.Tool`) whose arguments must satisfy `input_schema` (a JSON
    /// Schema with root `type: "object"`), run by `handler`. Defaults: version `1.0.0`, timeout
    /// 30 s, no auth, no title, no annotations.
    pub fn new<F, Fut>(
        name: impl Into<String>,
        description: impl Into<String>,
        input_schema: Value,
        handler: F,
    ) -> Self
    where
        F: Fn(ToolContext, Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, ToolError>> + Send + 'static,
    {
        Self {
            name: name.into(),
            title: None,
            description: description.into(),
            version: "1.0.0".to_owned(),
            timeout: Duration::from_secs(30),
            requires_auth: false,
            scopes: Vec::new(),
            auth_provider: None,
            secrets: Vec::new(),
            annotations: ToolAnnotations::default(),
            input_schema,
            output_schema: None,
            handler: Arc::new(move |ctx, args| Box::pin(handler(ctx, args))),
        }
    }

    /// Sets the timeout (default 30 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the version (default `1.0.0`).
    #[must_use]
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Requires an authorized user with these scopes.
    #[must_use]
    pub fn requires_auth(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.requires_auth = true;
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Names the provider of the authorization the tool requires (`"github"`), as an Arcade
    /// Engine knows it: FACT's worker endpoints list it, so that the Engine can obtain the
    /// user's token before it calls the tool (docs/ARCHITECTURE.md, "Arcade worker"). Needs
    /// [`requires_auth`](Self::requires_auth); `build()` refuses the tool otherwise.
    #[must_use]
    pub fn auth_provider(mut self, provider: impl Into<String>) -> Self {
        self.auth_provider = Some(provider.into());
        self
    }

    /// Declares the secrets the tool reads with [`ToolContext::secret`]: only these reach its
    /// context, whatever the caller sends. Keys match without regard to ASCII case.
    ///
    /// ```
    /// use fact_runtime::{CallOptions, ToolCall, ToolDefinition, ToolExecutor};
    /// use serde_json::json;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let tool = ToolDefinition::new(
    ///     "Demo.Weather",
    ///     "Says whether the weather service's key reached the tool",
    ///     json!({"type": "object"}),
    ///     |ctx, _args| async move { Ok(json!(ctx.secret("weather_api_key").is_some())) },
    /// )
    /// .secrets(["WEATHER_API_KEY"]);
    /// let executor = ToolExecutor::builder().register(tool).build()?;
    /// let options = CallOptions::default()
    ///     .secret("WEATHER_API_KEY", "k-123")
    ///     .secret("OTHER", "not for this tool");
    /// let result = executor
    ///     .execute_tool_call_with(ToolCall::new("Demo.Weather", json!({})), options)
    ///     .await;
    /// assert_eq!(result.data, Some(json!(true)));
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn secrets(mut self, keys: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.secrets = keys.into_iter().map(Into::into).collect();
        self
    }

    /// Declares the shape of the tool's output.
    #[must_use]
    pub fn output_schema(mut self, schema: Value) -> Self {
        self.output_schema = Some(schema);
        self
    }

    /// Sets a title for people (`"Dictionary lookup"`), where the name is for programs. It must
    /// not be blank; `build()` refuses the tool otherwise.
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Declares what the tool does to its environment (read-only, destructive, idempotent, open
    /// world); see [`ToolAnnotations`] for an example. Replaces any annotations set before.
    #[must_use]
    pub fn annotations(mut self, annotations: ToolAnnotations) -> Self {
        self.annotations = annotations;
        self
    }
}

impl fmt::Debug for ToolDefinition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolDefinition")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// How the executor invokes a tool.
#[derive(Clone)]
pub(crate) enum Handler {
    /// A `#[tool]` function's generated call function.
    Static(fn(ToolContext, Value) -> ToolFuture),
    /// A run-time closure.
    Dynamic(Arc<DynHandler>),
}

impl Handler {
    pub(crate) fn call(&self, ctx: ToolContext, arguments: Value) -> ToolFuture {
        match self {
            Self::Static(call) => call(ctx, arguments),
            Self::Dynamic(call) => call(ctx, arguments),
        }
    }
}
