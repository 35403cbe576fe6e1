//! [`ToolResult`]: the answer to one call, in the JSON format docs/ARCHITECTURE.md fixes.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{ErrorKind, ToolError};

/// The outcome of one call. `data` is present only on success, `error` only on failure, and
/// `status_code` and `metadata.error_type` follow [`ErrorKind`].
///
/// ```json
/// {"call_id": "…", "tool_name": "MyApp.Calculator", "success": false,
///  "error": "Parameter validation failed: missing required parameter 'b'",
///  "status_code": 400, "execution_time_ms": 0.02,
///  "metadata": {"error_type": "ToolValidationError", "timestamp": 1671234567.89}}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResult {
    /// The id of the call this answers.
    pub call_id: String,
    /// The tool that was called (as the caller spelled it).
    pub tool_name: String,
    /// Whether the tool ran and succeeded.
    pub success: bool,
    /// The tool's output, on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// What went wrong, on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// 200 on success, else the [`ErrorKind`]'s code.
    pub status_code: u16,
    /// Wall time from receipt of the call to its result, in milliseconds.
    pub execution_time_ms: f64,
    /// Error type, timestamp and other facts about the call.
    pub metadata: ResultMetadata,
}

/// The `metadata` object of a [`ToolResult`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultMetadata {
    /// The [`ErrorKind::error_type`] of a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<Cow<'static, str>>,
    /// When the result was made, in seconds since the Unix epoch.
    pub timestamp: f64,
    /// How long to wait before retrying, when the failure says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// Further facts added by later stages.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ToolResult {
    pub(crate) fn success(
        call_id: String,
        tool_name: String,
        data: Value,
        elapsed: Duration,
    ) -> Self {
        Self {
            call_id,
            tool_name,
            success: true,
            data: Some(data),
            error: None,
            status_code: 200,
            execution_time_ms: millis(elapsed),
            metadata: ResultMetadata::now(None, None),
        }
    }

    pub(crate) fn failure(
        call_id: String,
        tool_name: String,
        error: ToolError,
        elapsed: Duration,
    ) -> Self {
        let kind = error.kind();
        let retry_after_ms = error
            .retry_after()
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let (message, extra) = error.into_parts();
        let mut metadata = ResultMetadata::now(Some(kind), retry_after_ms);
        if let Some(extra) = extra {
            for (key, value) in *extra {
                if !matches!(key.as_str(), "error_type" | "timestamp" | "retry_after_ms") {
                    metadata.extra.insert(key, value);
                }
            }
        }
        Self {
            call_id,
            tool_name,
            success: false,
            data: None,
            error: Some(message.into_owned()),
            status_code: kind.status_code(),
            execution_time_ms: millis(elapsed),
            metadata,
        }
    }

    /// The [`ErrorKind`] of a failed result, read back from `metadata.error_type`.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        let error_type = self.metadata.error_type.as_deref()?;
        ErrorKind::ALL
            .into_iter()
            .find(|kind| kind.error_type() == error_type)
    }
}

impl ResultMetadata {
    fn now(kind: Option<ErrorKind>, retry_after_ms: Option<u64>) -> Self {
        Self {
            error_type: kind.map(|k| Cow::Borrowed(k.error_type())),
            timestamp: unix_now(),
            retry_after_ms,
            extra: Map::new(),
        }
    }
}

/// Seconds since the Unix epoch, as results carry them.
pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn millis(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1000.0
}
