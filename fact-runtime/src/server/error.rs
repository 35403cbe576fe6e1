//! [`ServerError`] (why a server cannot start or stopped) and the JSON of refusals made before
//! any tool is involved.

use std::io;
use std::net::SocketAddr;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::api_keys::ApiKeyError;
use crate::metrics::PrometheusInstallError;

/// Why a [`Server`](super::Server) could not start, or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// An environment variable holds a value that cannot be used.
    #[error("{name}: {problem}")]
    Config {
        /// The variable.
        name: &'static str,
        /// What is wrong with its value.
        problem: String,
    },
    /// The API keys are malformed.
    #[error(transparent)]
    ApiKeys(#[from] ApiKeyError),
    /// Neither keys nor anonymous mode: the server would refuse every call.
    #[error(
        "no API keys: set FACT_API_KEYS=key:user,... or FACT_API_KEYS_FILE, or FACT_ALLOW_ANONYMOUS=true to serve without authentication"
    )]
    NoApiKeys,
    /// The Prometheus exporter could not be installed.
    #[error(transparent)]
    Metrics(#[from] PrometheusInstallError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Serving failed.
    #[error("the server failed: {0}")]
    Serve(#[source] io::Error),
    /// The executor's audit log could not be flushed at shutdown.
    #[error("audit records could not be written at shutdown: {0}")]
    Audit(#[from] crate::AuditError),
}

/// A refusal by the HTTP layer (authentication, body, route, timeout), in the shape of a failed
/// [`ToolResult`](crate::ToolResult) so that a client reads every error the same way:
/// `{"success": false, "error": "...", "status_code": 401, "metadata": {"error_type": ...}}`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    status: StatusCode,
    error_type: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        error_type: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error_type,
            message: message.into(),
        }
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UnauthorizedError", message)
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidRequestError", message)
    }

    pub(crate) fn not_found(error_type: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, error_type, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "success": false,
            "error": self.message,
            "status_code": self.status.as_u16(),
            "metadata": {"error_type": self.error_type, "timestamp": crate::result::unix_now()},
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
