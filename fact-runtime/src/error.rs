//! Errors: [`ToolError`], what a call can fail with, and [`BuildError`], what building an
//! executor can fail with.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

/// The kind of a failed call. Each kind has the status code and `metadata.error_type` that
/// docs/ARCHITECTURE.md fixes; callers may rely on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No tool has the requested name (404).
    ToolNotFound,
    /// The arguments do not satisfy the tool's schema, or the tool judged its input bad (400).
    Validation,
    /// The tool requires authorization and the caller has none (401).
    Unauthorized,
    /// Refused by security policy, including insufficient scopes (403).
    Security,
    /// Too many calls (429); the result carries `retry_after_ms`.
    RateLimit,
    /// The tool failed or panicked (500).
    Execution,
    /// The remote Arcade platform failed (502).
    Arcade,
    /// The tool did its job but the service it reached for failed: a refused connection, a
    /// failed DNS lookup, a malformed or truncated answer, a redirect loop (502).
    Upstream,
    /// A shared resource the call needs is busy (a database's connections, say), so the call
    /// did not start; the result carries `retry_after_ms` (503).
    Unavailable,
    /// The tool did not finish within its timeout (504).
    Timeout,
    /// The call ran (or may have), but its audit record was not committed in time, so its
    /// answer is withheld (503, without `retry_after_ms`): only with `answered` audit
    /// durability. The record is written once the audit database takes it; calling again
    /// runs the tool again.
    AuditUnavailable,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub(crate) const ALL: [ErrorKind; 11] = [
        Self::ToolNotFound,
        Self::Validation,
        Self::Unauthorized,
        Self::Security,
        Self::RateLimit,
        Self::Execution,
        Self::Arcade,
        Self::Upstream,
        Self::Unavailable,
        Self::Timeout,
        Self::AuditUnavailable,
    ];

    /// The HTTP-style status code of this kind.
    pub const fn status_code(self) -> u16 {
        match self {
            Self::ToolNotFound => 404,
            Self::Validation => 400,
            Self::Unauthorized => 401,
            Self::Security => 403,
            Self::RateLimit => 429,
            Self::Execution => 500,
            Self::Arcade | Self::Upstream => 502,
            Self::Unavailable | Self::AuditUnavailable => 503,
            Self::Timeout => 504,
        }
    }

    /// The `metadata.error_type` of results of this kind.
    pub const fn error_type(self) -> &'static str {
        match self {
            Self::ToolNotFound => "ToolNotFoundError",
            Self::Validation => "ToolValidationError",
            Self::Unauthorized => "UnauthorizedError",
            Self::Security => "SecurityError",
            Self::RateLimit => "RateLimitError",
            Self::Execution => "ToolExecutionError",
            Self::Arcade => "ArcadeError",
            Self::Upstream => "UpstreamError",
            Self::Unavailable => "ServiceUnavailableError",
            Self::Timeout => "ToolTimeoutError",
            Self::AuditUnavailable => "AuditUnavailableError",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.error_type())
    }
}

/// Why a call failed: returned by tools that want to choose how their failure is reported, and
/// by every stage of the pipeline.
///
/// A tool returning `Result<T, E>` with any other `E: Display` fails with
/// [`ErrorKind::Execution`] (500) and `E`'s message.
///
/// ```
/// use fact_runtime::{ErrorKind, ToolError};
/// use std::time::Duration;
///
/// let bad = ToolError::invalid_input("'date' must not be in the future");
/// assert_eq!(bad.kind(), ErrorKind::Validation);
/// assert_eq!(bad.kind().status_code(), 400);
///
/// let busy = ToolError::retryable("upstream busy", Duration::from_millis(250));
/// assert_eq!(busy.retry_after(), Some(Duration::from_millis(250)));
/// assert_eq!(busy.kind().status_code(), 500);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError {
    kind: ErrorKind,
    message: Cow<'static, str>,
    retry_after: Option<Duration>,
    metadata: Option<Box<Map<String, Value>>>,
}

impl ToolError {
    /// A failure of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry_after: None,
            metadata: None,
        }
    }

    /// The caller's input was bad: a 400 `ToolValidationError` with this message.
    pub fn invalid_input(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Validation, message)
    }

    /// Refused by security policy: a 403 `SecurityError` with this message.
    pub fn security(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Security, message)
    }

    /// A failure worth retrying after `retry_after`: a 500 `ToolExecutionError` whose result
    /// carries `retry_after_ms` in its metadata.
    pub fn retryable(message: impl Into<Cow<'static, str>>, retry_after: Duration) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(ErrorKind::Execution, message)
        }
    }

    /// The service the tool reached for failed: a 502 `UpstreamError` with this message.
    pub fn upstream(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Upstream, message)
    }

    /// A shared resource is busy and the call did not start: a 503 `ServiceUnavailableError`
    /// whose result carries `retry_after_ms`.
    pub fn unavailable(message: impl Into<Cow<'static, str>>, retry_after: Duration) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(ErrorKind::Unavailable, message)
        }
    }

    /// A failure that retrying will not fix: a 500 `ToolExecutionError`.
    pub fn fatal(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Execution, message)
    }

    /// Sets how long the caller should wait before trying again.
    #[must_use]
    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }

    /// Adds a fact to the result's `metadata` (how to authorize, which limit was hit, ...).
    /// The keys `error_type`, `timestamp` and `retry_after_ms` belong to the runtime and are
    /// ignored here.
    #[must_use]
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata
            .get_or_insert_with(Box::default)
            .insert(key.into(), value.into());
        self
    }

    /// The facts added with [`with_metadata`](Self::with_metadata).
    pub fn metadata(&self) -> Option<&Map<String, Value>> {
        self.metadata.as_deref()
    }

    /// The kind, which fixes the status code and error type.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message the caller sees in `ToolResult::error`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// How long the caller should wait before retrying, when the failure says so.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    pub(crate) fn into_parts(self) -> (Cow<'static, str>, Option<Box<Map<String, Value>>>) {
        (self.message, self.metadata)
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ToolError {}

/// Why [`ToolExecutorBuilder::build`](crate::ToolExecutorBuilder::build) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Two tools share a name.
    #[error("duplicate tool name '{name}': defined by {first} and by {second}")]
    DuplicateTool {
        /// The shared name.
        name: String,
        /// Where the first definition comes from.
        first: String,
        /// Where the second definition comes from.
        second: String,
    },
    /// Two tools would be exported under one name once `.` becomes `_`.
    #[error("tools {first} and {second} would both be exported as '{export_name}'")]
    AmbiguousExportName {
        /// The shared exported name.
        export_name: String,
        /// The first tool and where it is defined.
        first: String,
        /// The second tool and where it is defined.
        second: String,
    },
    /// A name does not match `Toolkit.Tool` (segments `[A-Za-z][A-Za-z0-9_]*`, at most 64
    /// characters).
    #[error("invalid tool name '{name}' ({defined_at}): {reason}")]
    InvalidName {
        /// The refused name.
        name: String,
        /// What is wrong with it.
        reason: String,
        /// Where the tool comes from.
        defined_at: String,
    },
    /// A tool's input schema is not usable.
    #[error("invalid input schema for tool '{name}' ({defined_at}): {reason}")]
    InvalidSchema {
        /// The tool.
        name: String,
        /// What is wrong with the schema.
        reason: String,
        /// Where the tool comes from.
        defined_at: String,
    },
    /// A tool's version, timeout or scopes break the contract every definition keeps, the
    /// one `#[tool]` checks at compile time: version `MAJOR.MINOR.PATCH`, timeout from 1 s to
    /// one day, scopes non-empty, without whitespace, each once.
    #[error("invalid definition of tool '{name}' ({defined_at}): {reason}")]
    InvalidDefinition {
        /// The tool.
        name: String,
        /// What is wrong, and what was expected.
        reason: String,
        /// Where the tool comes from.
        defined_at: String,
    },
    /// A builder option is out of range.
    #[error("invalid executor configuration: {0}")]
    InvalidConfig(String),
}
