//! The Engine API's answers: its error body, and a [`ToolResult`] as an execution
//! (docs/ARCHITECTURE.md, "Engine API").
//!
//! A call the tool took part in (it ran, or the pipeline judged its input, authorization or
//! policy) is an HTTP 200 whose `success` says how it went, so that a client never runs it
//! again on its own. A call that provably did not start is a request-level answer: no such
//! tool 404; over FACT's quota 429 and a busy shared resource 503, both with `retry-after-ms`,
//! `retry-after` and `x-should-retry: true`.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::SHOULD_RETRY;
use crate::arcade::kinds::output_error;
use crate::arcade::wire;
use crate::result::ToolResult;
use crate::server::answer_budget::{encode_within, withheld};
use crate::server::error::ApiError;
use crate::transport::{self, Outcome};

/// The Engine's name of an error status: the `name` of its error body.
fn error_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "request_timeout",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        429 => "rate_limited",
        431 => "request_header_fields_too_large",
        503 => "unavailable",
        504 => "timeout",
        500..=599 => "internal_error",
        _ => "error",
    }
}

/// The Engine's error body, `{"name": "not_found", "message": "..."}`, as JSON bytes.
pub(crate) fn error_body(status: StatusCode, message: String) -> Vec<u8> {
    let body = wire::ErrorBody {
        name: Some(error_name(status).to_owned()),
        message: Some(message),
    };
    serde_json::to_vec(&body).unwrap_or_else(|_| br#"{"name":"internal_error"}"#.to_vec())
}

/// A request-level answer of the Engine API: its status, the Engine's error body, and when to
/// try again.
#[derive(Debug, Clone)]
pub(crate) struct EngineError {
    status: StatusCode,
    message: String,
    /// Sent as `retry-after-ms` and `retry-after`, with `x-should-retry: true`: the call did
    /// not start, so calling again is safe.
    retry_after_ms: Option<u64>,
}

impl EngineError {
    /// An answer of `status` saying `message`.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// 400.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    fn retry_after(mut self, ms: Option<u64>) -> Self {
        // A refusal of the call before it started is always safe to retry; without a
        // figure from the pipeline, a second.
        self.retry_after_ms = Some(ms.unwrap_or(1000));
        self
    }
}

impl From<ApiError> for EngineError {
    fn from(error: ApiError) -> Self {
        Self::new(error.status(), error.message())
    }
}

impl IntoResponse for EngineError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            error_body(self.status, self.message),
        )
            .into_response();
        if let Some(ms) = self.retry_after_ms {
            let headers = response.headers_mut();
            headers.insert("retry-after-ms", HeaderValue::from(ms));
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(ms.div_ceil(1000).max(1)),
            );
            headers.insert(SHOULD_RETRY, HeaderValue::from_static("true"));
        }
        response
    }
}

/// The answer to `POST /arcade/v1/tools/execute` for `result`: a request-level error when
/// the call did not start, else a 200 execution whose JSON is at most `budget` bytes (past it,
/// the result is replaced by FACT's 403 naming `max_response_bytes`, as on FACT's own API).
pub(crate) fn execution_answer(mut result: ToolResult, budget: usize) -> Response {
    match Outcome::of(&result) {
        Outcome::NoSuchTool => {
            return EngineError::not_found(result.error.unwrap_or_default()).into_response();
        }
        Outcome::NotStarted { retry_after_ms } => {
            let status =
                StatusCode::from_u16(result.status_code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return EngineError::new(status, result.error.unwrap_or_default())
                .retry_after(retry_after_ms)
                .into_response();
        }
        Outcome::Succeeded | Outcome::Failed => {}
    }
    // The value moves into the answer: the server holds one copy of it, never two.
    let value = result.data.take();
    let json = match encode_within(&execution(&result, value), budget) {
        Ok(json) => json,
        Err(problem) => {
            let refusal = withheld(&result, budget, problem);
            serde_json::to_vec(&execution(&refusal, None)).unwrap_or_else(|_| {
                br#"{"success":false,"status":"failed","output":{"error":{"message":"the result could not be written as JSON","kind":"TOOL_RUNTIME_FATAL","can_retry":false}}}"#.to_vec()
            })
        }
    };
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json,
    )
        .into_response()
}

/// `result` as the Engine's execution, with `value` as its data: `id` and `execution_id` are
/// the call's id; a failure's `output.error` comes from the one table of kinds; a call that
/// needs an authorization also says where the user grants it (`output.authorization`,
/// pending).
fn execution(result: &ToolResult, value: Option<Value>) -> wire::ExecuteResponse {
    let output = if result.success {
        wire::ExecuteOutput {
            value: Some(value.unwrap_or(Value::Null)),
            ..wire::ExecuteOutput::default()
        }
    } else {
        let authorization =
            transport::authorization(result).map(|(url, flow)| wire::AuthorizationResponse {
                id: flow.map(str::to_owned),
                status: "pending".to_owned(),
                url: Some(url.to_owned()),
                ..wire::AuthorizationResponse::default()
            });
        wire::ExecuteOutput {
            error: Some(output_error(result)),
            authorization,
            ..wire::ExecuteOutput::default()
        }
    };
    wire::ExecuteResponse {
        id: Some(result.call_id.clone()),
        execution_id: Some(result.call_id.clone()),
        execution_type: Some("immediate".to_owned()),
        status: Some(if result.success { "success" } else { "failed" }.to_owned()),
        success: result.success,
        duration: Some(result.execution_time_ms),
        finished_at: Some(rfc3339(result.metadata.timestamp)),
        output: Some(output),
    }
}

/// `unix_seconds` as RFC 3339 in UTC with milliseconds, `2025-01-01T12:00:01.250Z`.
pub(crate) fn rfc3339(unix_seconds: f64) -> String {
    let since = Duration::try_from_secs_f64(unix_seconds.max(0.0)).unwrap_or_default();
    let seconds = since.as_secs();
    let (days, of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        since.subsec_millis()
    )
}

/// The date `days` after 1970-01-01 (Howard Hinnant's days-to-civil).
fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorKind, ToolError};

    #[test]
    fn finished_at_is_rfc3339_in_utc() {
        assert_eq!(rfc3339(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400.25), "2000-02-29T00:00:00.250Z");
        assert_eq!(rfc3339(1_735_732_801.5), "2025-01-01T12:00:01.500Z");
    }

    #[test]
    fn a_failure_needing_authorization_says_where_to_grant_it() {
        let result = ToolResult::failure(
            "call-1".to_owned(),
            "Test.Private".to_owned(),
            ToolError::new(ErrorKind::Unauthorized, "authorize first")
                .with_metadata("authorization_url", "https://provider.example/auth?x=1"),
            Duration::from_millis(2),
        );
        let answer = execution(&result, None);
        assert!(!answer.success);
        assert_eq!(answer.status.as_deref(), Some("failed"));
        let output = answer.output.expect("an output");
        let authorization = output.authorization.expect("an authorization");
        assert_eq!(authorization.status, "pending");
        assert_eq!(
            authorization.url.as_deref(),
            Some("https://provider.example/auth?x=1")
        );
        assert_eq!(output.error.expect("an error").status_code, Some(401));
    }

    #[test]
    fn a_success_carries_its_value_and_the_call_id_twice() {
        let result = ToolResult::success(
            "call-2".to_owned(),
            "Test.Echo".to_owned(),
            serde_json::json!({"x": 1}),
            Duration::from_millis(2),
        );
        let answer = execution(&result, Some(serde_json::json!({"x": 1})));
        assert!(answer.success);
        assert_eq!(answer.id.as_deref(), Some("call-2"));
        assert_eq!(answer.execution_id.as_deref(), Some("call-2"));
        assert_eq!(answer.execution_type.as_deref(), Some("immediate"));
        assert_eq!(
            answer.output.and_then(|output| output.value),
            Some(serde_json::json!({"x": 1}))
        );
    }
}
