#![doc = include_str!("../README.md")]

// Lets `#[tool]` name this crate `::fact_runtime` from inside it too.
#[allow(unused_extern_crates)]
extern crate self as fact_runtime;

mod annotations;
#[cfg(feature = "arcade")]
pub mod arcade;
pub mod audit;
pub mod auth;
mod call;
#[cfg(feature = "cli")]
pub mod cli;
mod clock;
mod context;
mod db;
mod deadline;
mod definition;
mod error;
mod executor;
mod extensions;
#[cfg(feature = "mcp")]
pub mod mcp;
pub mod metrics;
mod pipeline;
mod policy;
mod progress;
mod rate_limit;
mod registry;
mod result;
mod schema;
mod secrets;
#[cfg(feature = "server")]
pub mod server;
mod sync_tool;
#[cfg(any(feature = "server", feature = "mcp"))]
mod transport;

#[doc(hidden)]
pub mod __private;

pub use annotations::ToolAnnotations;
pub use audit::{AuditConfig, AuditError, AuditLog, AuditRecord, AuditSink, SqlAuditSink};
pub use auth::{AccessToken, AuthError, AuthorizationManager, OAuthConfig};
pub use call::{CallOptions, ToolCall, create_tool_call};
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use context::ToolContext;
pub use db::{DEFAULT_DATABASE_URL, FACT_TABLES, database_url};
pub use definition::{ToolDefinition, ToolFuture};
pub use error::{BuildError, ErrorKind, ToolError};
pub use executor::{
    DEFAULT_MAX_CONCURRENCY, HealthReport, HealthStatus, ToolExecutor, ToolExecutorBuilder,
};
pub use extensions::Extensions;
pub use fact_macros::tool;
pub use policy::{SecurityPolicy, Validator};
pub use progress::{Progress, ProgressSink};
pub use rate_limit::{
    Admission, RATE_LIMIT_VARIABLES, RateLimit, RateLimitConfig, RateLimitConfigError,
    RateLimitKey, RateLimitStore, RateLimitStoreError, StoreErrorPolicy,
};
#[cfg(feature = "redis")]
pub use rate_limit::{RedisRateLimitStore, RedisRateLimitStoreBuilder, RedisStoreConfigError};
pub use registry::{Execution, ToolInfo};
pub use result::{ResultMetadata, ToolResult};
pub use schema::{ToolFormat, UnknownFormat, openai_strict_schema};
/// Re-exported so that a crate of tools can build arguments without its own dependency.
pub use serde_json;
pub use sync_tool::INLINE_BUDGET;

/// The workspace README's code, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct WorkspaceReadme;
