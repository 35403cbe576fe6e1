//! The middlewares in front of every route, outermost first: the request timeout, the API
//! key, the declared length, and the body read within its own timeout.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;

use super::error::ApiError;
use super::routes::AppState;

/// The authenticated caller: the user of the key presented, or nobody in anonymous mode.
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub(crate) Option<Arc<str>>);

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "InvalidRequestError",
        "the request body is larger than the server accepts",
    )
}

/// Refuses at once, with 413, a request whose `Content-Length` already says it is too large,
/// instead of waiting for a body it will not read.
pub(crate) async fn declared_length_within(
    max_bytes: usize,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    match declared {
        Some(length) if length > max_bytes as u64 => too_large().into_response(),
        _ => next.run(request).await,
    }
}

/// Reads the whole body (at most `max_bytes`) before the route sees the request, within
/// `timeout` from the end of the headers: a client that stops sending its body, or trickles
/// it, is answered 408 and disconnected at the body timeout instead of holding its connection
/// until the request timeout. The timeout covers the whole body, not each read.
pub(crate) async fn body_within(
    timeout: Duration,
    max_bytes: usize,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let read = match tokio::time::timeout(timeout, read_body(body, max_bytes)).await {
        Ok(read) => read,
        Err(_) => {
            return ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeoutError",
                format!(
                    "the request body did not arrive within {} s of its headers",
                    timeout.as_secs_f64()
                ),
            )
            .closing()
            .into_response();
        }
    };
    match read {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(refusal) => refusal.closing().into_response(),
    }
}

async fn read_body(body: Body, max_bytes: usize) -> Result<Vec<u8>, ApiError> {
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::bad_request(format!("the request body could not be read: {error}"))
        })?;
        if bytes.len().saturating_add(chunk.len()) > max_bytes {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Answers 504 when the request takes longer than `timeout`; the call it was running is
/// dropped, which its audit record notes as cancelled.
pub(crate) async fn within(timeout: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "RequestTimeoutError",
            format!("the request took longer than {} s", timeout.as_secs_f64()),
        )
        .into_response(),
    }
}

/// Lets the request through with its [`Caller`] when it presents a known key (or none in
/// anonymous mode), or when its path is open; otherwise 401, before the body is read, a route
/// matched or any tool looked at.
pub(crate) async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if path == "/health" || (path == "/metrics" && state.metrics_public) {
        return next.run(request).await;
    }
    let caller = match bearer_key(request.headers()) {
        Ok(Some(key)) => match state.keys.authenticate(key) {
            Some(user) => Caller(Some(Arc::from(user))),
            None => return ApiError::unauthorized("the API key is not valid").into_response(),
        },
        Ok(None) if state.allow_anonymous => Caller(None),
        Ok(None) => {
            return ApiError::unauthorized(
                "an API key is required: send 'Authorization: Bearer <key>'",
            )
            .into_response();
        }
        Err(problem) => return ApiError::unauthorized(problem).into_response(),
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The key of an `Authorization: Bearer <key>` header, `None` without the header.
fn bearer_key(headers: &HeaderMap) -> Result<Option<&str>, &'static str> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("send one Authorization header, not several");
    }
    let value = value
        .to_str()
        .map_err(|_| "the Authorization header is not visible ASCII")?;
    let (scheme, key) = value
        .split_once(' ')
        .ok_or("expected 'Authorization: Bearer <key>'")?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("expected 'Authorization: Bearer <key>'");
    }
    Ok(Some(key.trim()))
}
