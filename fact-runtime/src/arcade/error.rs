//! [`ArcadeError`]: what a request to an Arcade Engine can fail with, and how a failed execute
//! becomes the [`ToolError`] FACT's contract gives it (docs/ARCHITECTURE.md, "Remote
//! execution").

use std::time::Duration;

use crate::error::{ErrorKind, ToolError};

/// Why a request to an Arcade Engine failed. Messages name the endpoint (`POST
/// /v1/tools/execute`) and what went wrong, never the API key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArcadeError {
    /// The client cannot be made: no API key, a base URL that is not one.
    #[error("Arcade client configuration: {0}")]
    Config(String),
    /// No connection could be made: the request never reached the Engine.
    #[error("could not connect to the Arcade Engine for {endpoint}: {reason}")]
    Connect {
        /// The request, `GET /v1/tools`.
        endpoint: String,
        /// What failed (refused, DNS, TLS).
        reason: String,
    },
    /// The connection failed after the request may have been sent.
    #[error("the connection to the Arcade Engine failed during {endpoint}: {reason}")]
    Transport {
        /// The request.
        endpoint: String,
        /// What failed.
        reason: String,
    },
    /// No whole answer came within the time allowed.
    #[error("the Arcade Engine did not answer {endpoint} within {} s{}", .after.as_secs_f64(), if *.deadline { " (the tool's deadline)" } else { "" })]
    Timeout {
        /// The request.
        endpoint: String,
        /// How long it waited.
        after: Duration,
        /// Whether the call's deadline ended the wait (rather than the client's timeout).
        deadline: bool,
    },
    /// The Engine answered with an error status.
    #[error("the Arcade Engine answered {endpoint} with HTTP {status}{}", message_suffix(.message))]
    Status {
        /// The request.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// The Engine's message, when its body had one.
        message: Option<String>,
        /// How long the Engine asked to wait before trying again.
        retry_after: Option<Duration>,
        /// The Engine's `x-should-retry` header, when sent.
        should_retry: Option<bool>,
    },
    /// The answer is not what the endpoint answers: not JSON, or not of the expected shape.
    #[error("the Arcade Engine answered {endpoint} with {problem}")]
    Malformed {
        /// The request.
        endpoint: String,
        /// What is wrong with the answer.
        problem: String,
    },
    /// The answer's body is larger than the client accepts.
    #[error("the Arcade Engine answered {endpoint} with a body larger than {limit} bytes")]
    TooLarge {
        /// The request.
        endpoint: String,
        /// The client's cap, in bytes.
        limit: usize,
    },
}

fn message_suffix(message: &Option<String>) -> String {
    message
        .as_deref()
        .map(|message| format!(": {message}"))
        .unwrap_or_default()
}

impl ArcadeError {
    /// Whether an execute that failed so may have reached the tool: `false` only when the
    /// Engine provably did not run it (no connection, a 429, a 404, or its own `x-should-retry:
    /// true`). A call that may have run is never run again, here or elsewhere.
    pub fn may_have_run(&self) -> bool {
        match self {
            Self::Config(_) | Self::Connect { .. } => false,
            Self::Status {
                status,
                should_retry,
                ..
            } => {
                !(*should_retry == Some(true)
                    || matches!(status, 400 | 401 | 403 | 404 | 415 | 422 | 429))
            }
            Self::Transport { .. }
            | Self::Timeout { .. }
            | Self::Malformed { .. }
            | Self::TooLarge { .. } => true,
        }
    }

    /// A short name of the failure's class, without the Engine's own words: what `/health`
    /// (open to anyone) shows.
    pub fn class(&self) -> String {
        match self {
            Self::Config(_) => "configuration".to_owned(),
            Self::Connect { endpoint, .. } => format!("{endpoint}: no connection"),
            Self::Transport { endpoint, .. } => format!("{endpoint}: connection failed"),
            Self::Timeout { endpoint, .. } => format!("{endpoint}: timed out"),
            Self::Status {
                endpoint, status, ..
            } => format!("{endpoint}: HTTP {status}"),
            Self::Malformed { endpoint, .. } => format!("{endpoint}: malformed answer"),
            Self::TooLarge { endpoint, .. } => format!("{endpoint}: answer too large"),
        }
    }

    /// Whether the Engine could not take an execute that failed so, and the tool did not run:
    /// no connection, a 429, a busy Engine that said so, or a tool the Engine no longer has.
    /// Hybrid routing falls back to the other side on these, and on nothing else.
    pub fn did_not_take(&self) -> bool {
        !self.may_have_run()
            && matches!(
                self,
                Self::Connect { .. }
                    | Self::Status {
                        status: 404 | 429 | 502 | 503 | 504,
                        ..
                    }
            )
    }

    /// The failure of remote tool `tool`'s call, as FACT's contract gives it: the Engine's
    /// refusal of the input is a 400, an unknown tool a 404, a rate limit or a busy Engine a
    /// 503 with `retry_after_ms` (the call did not start), a passed deadline a 504, and every
    /// other failure of the Engine a 502 `ArcadeError` saying what failed.
    pub fn into_tool_error(self, tool: &str) -> ToolError {
        match &self {
            Self::Timeout {
                after,
                deadline: true,
                ..
            } => ToolError::new(
                ErrorKind::Timeout,
                format!(
                    "Tool '{tool}' timed out after {} s waiting for the Arcade Engine",
                    after.as_secs_f64()
                ),
            ),
            Self::Status {
                status: 404,
                message,
                ..
            } => ToolError::new(
                ErrorKind::ToolNotFound,
                format!(
                    "Tool '{tool}' not found on the Arcade Engine{}",
                    message_suffix(message)
                ),
            ),
            Self::Status {
                status: 400 | 422,
                message,
                ..
            } => ToolError::invalid_input(format!(
                "the Arcade Engine refused the input of '{tool}'{}",
                message_suffix(message)
            )),
            Self::Status {
                status: status @ (429 | 503),
                retry_after,
                should_retry,
                ..
            } if *status == 429 || *should_retry == Some(true) => ToolError::unavailable(
                format!("the Arcade Engine is busy ({self}); the call did not start"),
                retry_after.unwrap_or(Duration::from_secs(1)),
            ),
            _ => ToolError::new(
                ErrorKind::Arcade,
                format!("Tool '{tool}' failed remotely: {self}"),
            ),
        }
    }
}
