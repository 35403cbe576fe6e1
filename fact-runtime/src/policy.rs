//! Security policy: the structural limits every call's arguments must respect, and the
//! [`Validator`] trait for checks of your own.
//!
//! There is deliberately no character blacklist: `2 + (3*4)`, `a|b`, `O'Brien`, JSON text and
//! URLs with `&` are legitimate input. Dangerous input is stopped where it becomes dangerous
//! (SQL by parsing it, paths by a capability sandbox, URLs by checking the address connected
//! to), and the limits here only bound how much work one call can ask for.

use std::fmt;

use crate::call::ToolCall;
use crate::error::ToolError;
use crate::registry::ToolInfo;

/// Structural limits on a call's arguments, checked before the tool's JSON Schema so that an
/// oversized call costs little to refuse. A breach is a 403 `SecurityError` that names the limit
/// and the JSON path of the offending value (`$.items[3].name`), with `limit`, `path`, `max`
/// and `actual` in the result's metadata.
///
/// Depth counts containers: the arguments object itself is depth 1, so with the default of 10
/// the arguments may nest nine more objects or arrays.
///
/// ```
/// use fact_runtime::{SecurityPolicy, ToolExecutor};
///
/// let mut policy = SecurityPolicy::default();
/// policy.max_string_length = 2_000;
/// let executor = ToolExecutor::builder().security_policy(policy).build();
/// assert!(executor.is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecurityPolicy {
    /// Longest string, in characters (default 10,000). A top-level parameter whose schema
    /// declares its own `maxLength` (`#[schemars(length(max = N))]`) is bounded by that instead.
    pub max_string_length: usize,
    /// Most items in one array (default 1,000).
    pub max_array_length: usize,
    /// Most keys in one object (default 100).
    pub max_object_keys: usize,
    /// Deepest nesting of objects and arrays, the arguments object counting as 1 (default 10).
    pub max_depth: usize,
    /// Most top-level arguments (default 50).
    pub max_arguments: usize,
    /// Largest argument JSON, in bytes of its compact form (default 1 MiB).
    pub max_argument_bytes: usize,
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        Self {
            max_string_length: 10_000,
            max_array_length: 1_000,
            max_object_keys: 100,
            max_depth: 10,
            max_arguments: 50,
            max_argument_bytes: 1024 * 1024,
        }
    }
}

/// A check of your own, run on every call after the schema and the structural limits pass,
/// registered for all tools with
/// [`ToolExecutorBuilder::validator`](crate::ToolExecutorBuilder::validator) or for one with
/// [`ToolExecutorBuilder::tool_validator`](crate::ToolExecutorBuilder::tool_validator).
///
/// Refuse by returning the [`ToolError`] the caller should see, typically
/// [`ToolError::security`] (403) or [`ToolError::invalid_input`] (400). Any
/// `Fn(&ToolInfo, &ToolCall) -> Result<(), ToolError>` is a validator.
///
/// ```
/// use fact_runtime::{tool, ToolCall, ToolError, ToolExecutor, ToolInfo, Validator};
/// use serde_json::json;
///
/// /// Sends a message to a channel.
/// #[tool(name = "DocPolicy.Post")]
/// async fn post(channel: String, text: String) -> String {
///     format!("posted to {channel}")
/// }
///
/// /// Only channels on an allow-list may be posted to.
/// #[derive(Debug)]
/// struct AllowedChannels(Vec<&'static str>);
///
/// impl Validator for AllowedChannels {
///     fn validate(&self, _tool: &ToolInfo, call: &ToolCall) -> Result<(), ToolError> {
///         let channel = call.arguments["channel"].as_str().unwrap_or_default();
///         if self.0.contains(&channel) {
///             Ok(())
///         } else {
///             Err(ToolError::security(format!("channel '{channel}' is not on the allow-list")))
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let executor = ToolExecutor::builder()
///     .tool_validator("DocPolicy.Post", AllowedChannels(vec!["general"]))
///     .build()?;
/// let ok = ToolCall::new("DocPolicy.Post", json!({"channel": "general", "text": "hi"}));
/// assert_eq!(executor.execute_tool_call(ok).await.status_code, 200);
/// let refused = ToolCall::new("DocPolicy.Post", json!({"channel": "secret", "text": "hi"}));
/// let result = executor.execute_tool_call(refused).await;
/// assert_eq!(result.status_code, 403);
/// assert_eq!(result.error.as_deref(), Some("channel 'secret' is not on the allow-list"));
/// # Ok(())
/// # }
/// ```
pub trait Validator: Send + Sync + 'static {
    /// Admits the call, or refuses it with the error the caller sees.
    ///
    /// # Errors
    ///
    /// The refusal, as the [`ToolError`] to answer the call with.
    fn validate(&self, tool: &ToolInfo, call: &ToolCall) -> Result<(), ToolError>;
}

impl<F> Validator for F
where
    F: Fn(&ToolInfo, &ToolCall) -> Result<(), ToolError> + Send + Sync + 'static,
{
    fn validate(&self, tool: &ToolInfo, call: &ToolCall) -> Result<(), ToolError> {
        self(tool, call)
    }
}

impl fmt::Debug for dyn Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Validator")
    }
}
