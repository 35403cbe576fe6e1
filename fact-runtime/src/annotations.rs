//! What a tool declares about its effects: [`ToolAnnotations`].

use serde::{Deserialize, Serialize};

/// What a tool declares about its effects, for a client deciding how to present a call (ask the
/// user first, retry it, run it unattended). These are the tool's own claims, not checked by
/// FACT: trust them only as far as you trust the tool's author.
///
/// Each field is `None` when the tool does not declare it. They mirror the hints of the Model
/// Context Protocol's `ToolAnnotations`, whose meanings and defaults when a hint is absent apply:
///
/// | field | MCP hint | `Some(true)` means | MCP's default when absent |
/// | --- | --- | --- | --- |
/// | `read_only` | `readOnlyHint` | the tool does not modify its environment | `false` |
/// | `destructive` | `destructiveHint` | the tool may change or delete what exists, not only add to it; meaningful only when it is not read-only | `true` |
/// | `idempotent` | `idempotentHint` | calling it again with the same arguments has no further effect; meaningful only when it is not read-only | `false` |
/// | `open_world` | `openWorldHint` | the tool may reach an open world of entities (the web), not only a closed domain (a configured database, files under given roots) | `true` |
///
/// Serialized (in [`ToolInfo`](crate::ToolInfo)'s JSON) with the fields a tool declares only:
/// `{"read_only": true, "open_world": false}`.
///
/// With `#[tool]`, each is a key: `#[tool(name = "Notes.Search", read_only, open_world =
/// false)]`. At run time:
///
/// ```
/// use fact_runtime::{ToolAnnotations, ToolDefinition, ToolExecutor};
/// use serde_json::json;
///
/// let lookup = ToolDefinition::new(
///     "Demo.Lookup",
///     "Finds a word in the built-in dictionary",
///     json!({"type": "object", "properties": {"word": {"type": "string"}}}),
///     |_ctx, args| async move { Ok(args["word"].clone()) },
/// )
/// .title("Dictionary lookup")
/// .annotations(ToolAnnotations {
///     read_only: Some(true),
///     open_world: Some(false),
///     ..ToolAnnotations::default()
/// });
/// let executor = ToolExecutor::builder().register(lookup).build()?;
///
/// let info = executor.tool_info("Demo.Lookup").expect("registered");
/// assert_eq!(info.title.as_deref(), Some("Dictionary lookup"));
/// assert_eq!(info.annotations.read_only, Some(true));
/// assert_eq!(info.annotations.destructive, None);
/// assert_eq!(
///     serde_json::to_value(&info.annotations)?,
///     json!({"read_only": true, "open_world": false})
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct ToolAnnotations {
    /// Whether the tool leaves its environment unmodified (MCP `readOnlyHint`, default `false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Whether the tool may change or delete what exists, rather than only add to it (MCP
    /// `destructiveHint`, default `true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destructive: Option<bool>,
    /// Whether a repeated call with the same arguments has no further effect (MCP
    /// `idempotentHint`, default `false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotent: Option<bool>,
    /// Whether the tool may reach an open world of entities rather than a closed domain (MCP
    /// `openWorldHint`, default `true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_world: Option<bool>,
}
