//! The JSON an Arcade Engine and its workers exchange, as Arcade's worker SDK (arcade-core
//! 4.23's `ToolDefinition`, `ToolCallRequest` and `ToolCallResponse`) defines it: what FACT's
//! worker endpoints read and answer (docs/ARCHITECTURE.md, "Arcade worker").
//!
//! Reading is lenient, as arcade-core is: fields left out take their defaults and fields this
//! crate does not know are ignored. Writing leaves out what is absent. Tokens and secret
//! values never reach `Debug`.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ToolAnnotations;
use crate::arcade::wire::{
    AuthorizationRequirement, Input, OutputError, Toolkit, ValueSchema as EngineValueSchema,
};

/// A tool as a worker lists it (`GET /worker/tools`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ToolDefinition {
    /// The bare tool name, `Add`.
    pub name: String,
    /// `Toolkit.Tool`.
    pub fully_qualified_name: String,
    /// What the tool does.
    pub description: String,
    /// The toolkit, with its version.
    pub toolkit: Toolkit,
    /// The tool's parameters, in declaration order.
    pub input: Input,
    /// What the tool answers.
    pub output: ToolOutput,
    /// What a call needs: an authorization, secrets.
    pub requirements: ToolRequirements,
    /// Why the tool should no longer be used, when it should not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deprecation_message: Option<String>,
    /// What the tool does to the world, when it declares it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ToolMetadata>,
}

/// What a tool answers: the modes (`value`, `error`, `null`) and the value's type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ToolOutput {
    /// What the answer means.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `value`, `error`, and `null` when the tool may answer nothing.
    pub available_modes: Vec<String>,
    /// The value's type, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_schema: Option<EngineValueSchema>,
}

/// What a call of a tool needs from the Engine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ToolRequirements {
    /// The user's authorization, when the tool needs one (`provider_type` is always given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<AuthorizationRequirement>,
    /// The secrets the Engine sends with each call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Vec<SecretRequirement>>,
}

/// A secret a tool reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SecretRequirement {
    /// The secret's key.
    pub key: String,
}

/// What is known about a tool besides its contract.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ToolMetadata {
    /// What the tool does to the world: its annotations (`#[tool(read_only, ...)]`), under
    /// the same names as Arcade's `behavior` (`read_only`, `destructive`, `idempotent`,
    /// `open_world`), each left out when undeclared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behavior: Option<ToolAnnotations>,
}

/// `POST /worker/tools/invoke`: run a tool for the Engine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ToolCallRequest {
    /// The Engine's run this execution belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The Engine's id of this execution, echoed in the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// When the Engine made the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// The tool to run.
    pub tool: ToolReference,
    /// The arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Map<String, Value>>,
    /// The user, their token and the tool's secrets.
    pub context: ToolCallContext,
}

/// The tool a [`ToolCallRequest`] names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ToolReference {
    /// The bare tool name, `Add`.
    pub name: String,
    /// The toolkit, `Math`.
    pub toolkit: String,
    /// The toolkit's version the Engine expects; absent means any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Who a call runs for, with what.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ToolCallContext {
    /// The user's token, for a tool that requires authorization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<AuthorizationContext>,
    /// The secrets the tool declares.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Vec<SecretItem>>,
    /// Further facts the Engine passes along.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataItem>>,
    /// The user the call runs for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

impl fmt::Debug for ToolCallContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secrets: Option<Vec<&str>> = self
            .secrets
            .as_ref()
            .map(|items| items.iter().map(|item| item.key.as_str()).collect());
        f.debug_struct("ToolCallContext")
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "[redacted]"),
            )
            .field("secrets", &secrets)
            .field("metadata", &self.metadata)
            .field("user_id", &self.user_id)
            .finish()
    }
}

/// The user's authorization, as the Engine obtained it.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AuthorizationContext {
    /// The access token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// What the provider says of the user.
    pub user_info: Map<String, Value>,
}

impl fmt::Debug for AuthorizationContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthorizationContext([redacted])")
    }
}

/// One secret of a call.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SecretItem {
    /// Its key.
    pub key: String,
    /// Its value.
    pub value: String,
}

impl fmt::Debug for SecretItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretItem({}: [redacted])", self.key)
    }
}

/// One fact of a call's metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MetadataItem {
    /// Its key.
    pub key: String,
    /// Its value.
    pub value: String,
}

/// The answer to a [`ToolCallRequest`]. A tool's failure is `success: false` with
/// `output.error`, in an HTTP 200.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ToolCallResponse {
    /// The request's `execution_id` (FACT's call id when the request had none).
    pub execution_id: String,
    /// When the call finished (RFC 3339).
    pub finished_at: String,
    /// How long the call took, in milliseconds.
    pub duration: f64,
    /// Whether the tool ran and succeeded.
    pub success: bool,
    /// The value or the failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<ToolCallOutput>,
}

/// What a tool answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ToolCallOutput {
    /// The tool's value, on success (`null` for a tool that answers nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Why it failed; `kind` is one of arcade-core's error kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<OutputError>,
}

/// `GET /worker/health`: `{"status": "ok", "tool_count": "3"}` (a count as a string, as
/// Arcade's workers give it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct WorkerHealth {
    /// `ok`.
    pub status: String,
    /// How many tools the worker serves.
    pub tool_count: String,
}
