//! The Arcade Engine API's JSON, as Arcade's public API reference and its official Python
//! client (arcadepy 1.10) define it: what [`ArcadeClient`](super::ArcadeClient) reads and
//! sends, and what FACT's server answers under `/arcade` (docs/ARCHITECTURE.md, "Engine API").
//!
//! Reading is lenient, as arcadepy is: every field the Engine may leave out has a default, and
//! fields this crate does not know are ignored. Writing leaves out what is absent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A tool as the Engine lists it (`GET /v1/tools`, `GET /v1/tools/{name}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Tool {
    /// The bare tool name, `Add`.
    pub name: String,
    /// `Toolkit.Tool`, the name calls use.
    pub qualified_name: String,
    /// `Toolkit.Tool@version`.
    pub fully_qualified_name: String,
    /// What the tool does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The toolkit the tool belongs to.
    pub toolkit: Toolkit,
    /// The tool's parameters.
    pub input: Input,
    /// What the tool answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Output>,
    /// What a call needs: an authorization, secrets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirements: Option<Requirements>,
    /// The tool in the formats asked for with `include_format` (`openai`, `anthropic`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formatted_schema: Option<Map<String, Value>>,
}

/// A toolkit: the part of a tool's name before the dot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Toolkit {
    /// `Math`.
    pub name: String,
    /// What the toolkit is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `MAJOR.MINOR.PATCH`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// A tool's parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Input {
    /// In declaration order.
    pub parameters: Vec<Parameter>,
}

/// One parameter of a tool.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Parameter {
    /// The argument's key in `input`.
    pub name: String,
    /// Whether a call must give it.
    pub required: bool,
    /// What it means, for the model filling it in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether a model may fill it in (Arcade's default: yes).
    pub inferrable: bool,
    /// Its type.
    pub value_schema: ValueSchema,
}

/// Arcade's type of a value: `val_type` is one of [`ValueSchema::TYPES`]; an array names its
/// items' type in `inner_val_type`; a closed set of strings lists them in `enum`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ValueSchema {
    /// `string`, `integer`, `number`, `boolean`, `json` or `array`.
    pub val_type: String,
    /// The items' type, when `val_type` is `array`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner_val_type: Option<String>,
    /// The values allowed, when closed.
    #[serde(rename = "enum", skip_serializing_if = "Option::is_none")]
    pub enumeration: Option<Vec<String>>,
    /// A `json` value's fields, when known (arcade-core sends them; the Engine may not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<BTreeMap<String, ValueSchema>>,
    /// An `array` of `json` values' fields, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner_properties: Option<BTreeMap<String, ValueSchema>>,
    /// What the value means.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A `json` value's required fields, sorted, when its fields are known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_keys: Option<Vec<String>>,
    /// An `array` of `json` values' required fields, sorted, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner_required_keys: Option<Vec<String>>,
    /// Whether the value may be `null` (an `Option<T>`), when said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nullable: Option<bool>,
}

impl ValueSchema {
    /// The `val_type`s the Engine defines.
    pub const TYPES: [&'static str; 6] =
        ["string", "integer", "number", "boolean", "json", "array"];
}

/// What a tool answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Output {
    /// `value`, `error`, `null`.
    pub available_modes: Vec<String>,
    /// What the answer means.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its type, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_schema: Option<ValueSchema>,
}

/// What a call of a tool needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Requirements {
    /// The authorization a call needs, when it needs one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<AuthorizationRequirement>,
    /// Whether the requirements are met (for the user the listing was asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub met: Option<bool>,
}

/// The authorization a tool needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AuthorizationRequirement {
    /// The provider (`google`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// `oauth2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_type: Option<String>,
    /// The OAuth2 scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2Requirement>,
}

/// The OAuth2 part of an [`AuthorizationRequirement`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OAuth2Requirement {
    /// The scopes the user's grant must cover.
    pub scopes: Vec<String>,
}

/// A page of a listing: `offset` and `total_count` tell a client whether another follows
/// (arcadepy asks for one while `offset + items.len() < total_count`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Page<T> {
    /// This page's entries.
    pub items: Vec<T>,
    /// How many entries the whole listing has.
    pub total_count: u64,
    /// The position of the first entry of this page.
    pub offset: u64,
    /// The most entries a page holds.
    pub limit: u64,
    /// How many pages the listing has at this `limit`.
    pub page_count: u64,
}

/// `POST /v1/tools/execute`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExecuteRequest {
    /// `Toolkit.Tool` (a `@version` suffix is accepted and must match).
    pub tool_name: String,
    /// The arguments, a JSON object.
    #[serde(default)]
    pub input: Map<String, Value>,
    /// The end user the call runs for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The version the caller expects; absent means any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_version: Option<String>,
}

/// The answer to an execute. A tool's own failure is an HTTP 200 with `success: false` and
/// `output.error`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ExecuteResponse {
    /// This response's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The execution's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// `immediate` (or `scheduled`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_type: Option<String>,
    /// `success` or `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Whether the tool ran and succeeded. Absent reads as `false`.
    pub success: bool,
    /// How long the execution took, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// When it finished (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// The tool's answer or failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<ExecuteOutput>,
}

/// What a tool answered: a value, or an error (and, when it needs one, an authorization).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ExecuteOutput {
    /// The tool's value, on success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<OutputError>,
    /// The authorization the user must complete before the tool can run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<AuthorizationResponse>,
}

/// A tool's failure. `kind` is one of [`kind`]'s names (an Engine may add more: unknown kinds
/// are kept as they are).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OutputError {
    /// What went wrong, for the caller.
    pub message: String,
    /// The failure's kind, `TOOL_RUNTIME_BAD_INPUT_VALUE` say.
    pub kind: String,
    /// Whether calling again may succeed.
    pub can_retry: bool,
    /// How long to wait before calling again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// The HTTP-style status of the failure, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// What the model should be told to call again with success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_prompt_content: Option<String>,
    /// More detail, for the developer rather than the model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub developer_message: Option<String>,
    /// Further facts (FACT puts its result's metadata here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<Map<String, Value>>,
}

/// The names of [`OutputError::kind`] that arcadepy 1.10 and arcade-core define, plus those
/// of the Engine's newer reference that FACT reads.
pub mod kind {
    /// The input failed the tool's validation.
    pub const TOOL_RUNTIME_BAD_INPUT_VALUE: &str = "TOOL_RUNTIME_BAD_INPUT_VALUE";
    /// The output failed to serialize or validate.
    pub const TOOL_RUNTIME_BAD_OUTPUT_VALUE: &str = "TOOL_RUNTIME_BAD_OUTPUT_VALUE";
    /// Worth retrying, maybe with `additional_prompt_content` or after `retry_after_ms`.
    pub const TOOL_RUNTIME_RETRY: &str = "TOOL_RUNTIME_RETRY";
    /// The tool needs more context from the user or the model.
    pub const TOOL_RUNTIME_CONTEXT_REQUIRED: &str = "TOOL_RUNTIME_CONTEXT_REQUIRED";
    /// The tool failed unexpectedly.
    pub const TOOL_RUNTIME_FATAL: &str = "TOOL_RUNTIME_FATAL";
    /// The call's authorization or secrets are missing.
    pub const TOOL_REQUIREMENTS_NOT_MET: &str = "TOOL_REQUIREMENTS_NOT_MET";
    /// The toolkit failed to load.
    pub const TOOLKIT_LOAD_FAILED: &str = "TOOLKIT_LOAD_FAILED";
    /// The tool's definition is bad.
    pub const TOOL_DEFINITION_BAD_DEFINITION: &str = "TOOL_DEFINITION_BAD_DEFINITION";
    /// The tool's input schema is bad.
    pub const TOOL_DEFINITION_BAD_INPUT_SCHEMA: &str = "TOOL_DEFINITION_BAD_INPUT_SCHEMA";
    /// The tool's output schema is bad.
    pub const TOOL_DEFINITION_BAD_OUTPUT_SCHEMA: &str = "TOOL_DEFINITION_BAD_OUTPUT_SCHEMA";
    /// The upstream service refused the request (a 4xx of no other kind).
    pub const UPSTREAM_RUNTIME_BAD_REQUEST: &str = "UPSTREAM_RUNTIME_BAD_REQUEST";
    /// The upstream service refused the credentials (401, 403).
    pub const UPSTREAM_RUNTIME_AUTH_ERROR: &str = "UPSTREAM_RUNTIME_AUTH_ERROR";
    /// The upstream service has no such thing (404).
    pub const UPSTREAM_RUNTIME_NOT_FOUND: &str = "UPSTREAM_RUNTIME_NOT_FOUND";
    /// The upstream service found the data invalid.
    pub const UPSTREAM_RUNTIME_VALIDATION_ERROR: &str = "UPSTREAM_RUNTIME_VALIDATION_ERROR";
    /// The upstream service limited the rate (429).
    pub const UPSTREAM_RUNTIME_RATE_LIMIT: &str = "UPSTREAM_RUNTIME_RATE_LIMIT";
    /// The upstream service failed (5xx).
    pub const UPSTREAM_RUNTIME_SERVER_ERROR: &str = "UPSTREAM_RUNTIME_SERVER_ERROR";
    /// The upstream service answered a status of no other kind.
    pub const UPSTREAM_RUNTIME_UNMAPPED: &str = "UPSTREAM_RUNTIME_UNMAPPED";
    /// The context the call was made in was refused.
    pub const CONTEXT_DENIED: &str = "CONTEXT_DENIED";
    /// The Engine timed out reaching the tool's worker.
    pub const NETWORK_TRANSPORT_RUNTIME_TIMEOUT: &str = "NETWORK_TRANSPORT_RUNTIME_TIMEOUT";
    /// The Engine could not reach the tool's worker.
    pub const NETWORK_TRANSPORT_RUNTIME_UNREACHABLE: &str = "NETWORK_TRANSPORT_RUNTIME_UNREACHABLE";
    /// No other kind fits.
    pub const UNKNOWN: &str = "UNKNOWN";
}

/// `POST /v1/tools/authorize`: start (or look up) the authorization a tool needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuthorizeRequest {
    /// `Toolkit.Tool`.
    pub tool_name: String,
    /// The end user to authorize.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The version the caller expects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_version: Option<String>,
    /// Where the provider sends the user once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_uri: Option<String>,
}

/// Where an authorization stands (`POST /v1/tools/authorize`, `GET /v1/auth/status`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AuthorizationResponse {
    /// The authorization's id, for `GET /v1/auth/status?id=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// One of [`AuthorizationResponse::STATUSES`].
    pub status: String,
    /// Where the user goes to grant access, while pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The scopes asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// The provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// The end user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

impl AuthorizationResponse {
    /// `not_started`, `pending`, `completed`, `failed`.
    pub const STATUSES: [&'static str; 4] = ["not_started", "pending", "completed", "failed"];
}

/// `GET /v1/health`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Health {
    /// Whether the Engine can serve calls.
    pub healthy: bool,
}

/// The body of an Engine API error answer (4xx, 5xx).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ErrorBody {
    /// A short machine name, `not_found`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
