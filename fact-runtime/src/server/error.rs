//! [`ServerError`] (why a server cannot start or stopped) and the JSON of refusals made before
//! any tool is involved.

use std::io;
use std::net::SocketAddr;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

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

/// A refusal by the HTTP layer (authentication, body, route, timeout, connection limits,
/// requests hyper cannot parse), in the shape of a failed [`ToolResult`](crate::ToolResult) so
/// that a client reads every error the same way:
/// `{"success": false, "error": "...", "status_code": 401, "metadata": {"error_type": ...}}`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    status: StatusCode,
    error_type: &'static str,
    message: String,
    /// The limit hit and its value, as `metadata.limit` and `metadata.max`.
    limit: Option<(&'static str, usize)>,
    retry_after_secs: Option<u64>,
    close: bool,
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
            limit: None,
            retry_after_secs: None,
            close: false,
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

    /// What the client is told.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// Names the limit that was hit and its value, as the security policy's refusals do.
    pub(crate) fn limit(mut self, name: &'static str, max: usize) -> Self {
        self.limit = Some((name, max));
        self
    }

    /// Tells the client when to try again: `Retry-After` and `metadata.retry_after_ms`.
    pub(crate) fn retry_after_secs(mut self, seconds: u64) -> Self {
        self.retry_after_secs = Some(seconds);
        self
    }

    /// Says `Connection: close`: the connection ends after this answer.
    pub(crate) fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    fn body(&self) -> Value {
        let mut metadata = Map::new();
        metadata.insert("error_type".to_owned(), self.error_type.into());
        if let Some((name, max)) = self.limit {
            metadata.insert("limit".to_owned(), name.into());
            metadata.insert("max".to_owned(), max.into());
        }
        metadata.insert("timestamp".to_owned(), crate::result::unix_now().into());
        if let Some(seconds) = self.retry_after_secs {
            metadata.insert(
                "retry_after_ms".to_owned(),
                seconds.saturating_mul(1000).into(),
            );
        }
        json!({
            "success": false,
            "error": self.message,
            "status_code": self.status.as_u16(),
            "metadata": metadata,
        })
    }

    /// The whole HTTP/1.1 answer as bytes, for the connection layer, which answers before (or
    /// instead of) hyper: it always closes the connection.
    pub(crate) fn to_http1(&self) -> Vec<u8> {
        let body = self.body().to_string();
        let mut head = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or(""),
            body.len()
        );
        if let Some(seconds) = self.retry_after_secs {
            head.push_str(&format!("retry-after: {seconds}\r\n"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            head.push_str("www-authenticate: Bearer\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.as_bytes());
        bytes
    }
}

/// Rides on the answer of every [`ApiError`], so that a layer speaking another dialect (the
/// Engine API's, under `/arcade`) can answer the same refusal in its own shape.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    /// What the client is told.
    pub(crate) message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        response.extensions_mut().insert(Refusal {
            message: self.message.clone(),
        });
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.close {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}
