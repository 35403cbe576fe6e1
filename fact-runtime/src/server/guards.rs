//! The guards in front of every route, in order: the request timeout around everything, the
//! API key, the declared length, and the body read within its own timeout. They run as one
//! middleware ([`front`]): each layer of its own would clone the stack behind it and box a
//! future for every request.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;

use super::api_keys::{KeyHolder, check_user_id};
use super::engine;
use super::error::ApiError;
use super::routes::AppState;

/// The authenticated caller: the user of the key presented (nobody in anonymous mode, and
/// nobody for a key of any user), and whether its requests may name the user they act for.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    user: Option<Arc<str>>,
    acts_for_any_user: bool,
}

/// Why a request may not act for the user it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IdentityRefusal {
    /// The name cannot be a user id (400).
    NotAUserId(String),
    /// The key acts only for its own user, and the request names another (403).
    NotYours,
}

impl Caller {
    /// The user the caller's calls run as, when they name none.
    pub(crate) fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The user a call runs as when its request names `named` (the Engine API's `user_id`):
    /// anyone for a key of any user (`KEY:*`), else the key's own user and no other. The
    /// refusal names neither the key nor the users.
    pub(crate) fn acting_for(
        &self,
        named: Option<&str>,
    ) -> Result<Option<String>, IdentityRefusal> {
        let Some(named) = named else {
            return Ok(self.user.as_deref().map(str::to_owned));
        };
        if self.acts_for_any_user {
            check_user_id(named).map_err(IdentityRefusal::NotAUserId)?;
            return Ok(Some(named.to_owned()));
        }
        match self.user.as_deref() {
            Some(own) if own == named => Ok(Some(own.to_owned())),
            _ => Err(IdentityRefusal::NotYours),
        }
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "InvalidRequestError",
        "the request body is larger than the server accepts",
    )
}

/// Refuses at once, with 413, a request whose `Content-Length` already says it is too large,
/// instead of waiting for a body it will not read.
fn declared_length_within(max_bytes: usize, request: &Request) -> Result<(), ApiError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    match declared {
        Some(length) if length > max_bytes as u64 => Err(too_large()),
        _ => Ok(()),
    }
}

/// Reads the whole body (at most `max_bytes`) before the route sees the request, within
/// `timeout` from the end of the headers: a client that stops sending its body, or trickles
/// it, is answered 408 and disconnected at the body timeout instead of holding its connection
/// until the request timeout. The timeout covers the whole body, not each read.
async fn body_within(
    timeout: Duration,
    max_bytes: usize,
    request: Request,
) -> Result<Request, ApiError> {
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(timeout, read_body(body, max_bytes)).await {
        Ok(Ok(bytes)) => Ok(Request::from_parts(parts, Body::from(bytes))),
        Ok(Err(refusal)) => Err(refusal.closing()),
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "RequestTimeoutError",
            format!(
                "the request body did not arrive within {} s of its headers",
                timeout.as_secs_f64()
            ),
        )
        .closing()),
    }
}

/// The body, whole: a body that came in one chunk (as most do) is kept as it came, without
/// a copy.
async fn read_body(body: Body, max_bytes: usize) -> Result<Bytes, ApiError> {
    let mut stream = body.into_data_stream();
    let mut first = Bytes::new();
    let mut joined: Option<Vec<u8>> = None;
    let mut read: usize = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::bad_request(format!("the request body could not be read: {error}"))
        })?;
        read = read.saturating_add(chunk.len());
        if read > max_bytes {
            return Err(too_large());
        }
        match &mut joined {
            Some(bytes) => bytes.extend_from_slice(&chunk),
            None if first.is_empty() => first = chunk,
            None => {
                let mut bytes = Vec::with_capacity(read);
                bytes.extend_from_slice(&first);
                bytes.extend_from_slice(&chunk);
                joined = Some(bytes);
            }
        }
    }
    Ok(joined.map_or(first, Bytes::from))
}

/// What the guards need to know, besides the keys of [`AppState`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) request_timeout: Duration,
    pub(crate) body_read_timeout: Duration,
    pub(crate) max_body_bytes: usize,
}

/// Every guard, in order, then the route; under `/arcade`, whatever they answered is then said
/// in the Engine's dialect.
pub(crate) async fn front(
    State((state, limits)): State<(Arc<AppState>, Limits)>,
    request: Request,
    next: Next,
) -> Response {
    let engine = engine::is_engine_path(request.uri().path());
    let response = within(
        limits.request_timeout,
        guarded(&state, limits, request, next),
    )
    .await;
    if engine {
        engine::dialect(response)
    } else {
        response
    }
}

/// The key, the declared length and the body, then the route.
async fn guarded(state: &AppState, limits: Limits, mut request: Request, next: Next) -> Response {
    if let Some(refusal) = authenticate(state, &mut request) {
        return refusal;
    }
    if let Err(refusal) = declared_length_within(limits.max_body_bytes, &request) {
        return refusal.into_response();
    }
    match body_within(limits.body_read_timeout, limits.max_body_bytes, request).await {
        Ok(request) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

/// Answers 504 when the request takes longer than `timeout`; the call it was running is
/// dropped, which its audit record notes as cancelled.
async fn within(timeout: Duration, answer: impl Future<Output = Response>) -> Response {
    match tokio::time::timeout(timeout, answer).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "RequestTimeoutError",
            format!("the request took longer than {} s", timeout.as_secs_f64()),
        )
        .into_response(),
    }
}

/// Lets the request through (`None`) with its [`Caller`] when it presents a known key (or none
/// in anonymous mode), or, on the Arcade worker's paths, the Engine's token; or when its path
/// is open; otherwise answers the 401, before the body is read, a route matched or any tool
/// looked at.
fn authenticate(state: &AppState, request: &mut Request) -> Option<Response> {
    let path = request.uri().path();
    // The Arcade worker's paths take the Engine's token instead of a key.
    if let Some(secret) = &state.worker_secret
        && super::worker::is_worker_path(path)
    {
        if path != super::worker::HEALTH_PATH
            && let Err(refusal) = super::worker::check_engine(secret, request.headers())
        {
            return Some(refusal.into_response());
        }
        request.extensions_mut().insert(Caller {
            user: None,
            acts_for_any_user: true,
        });
        return None;
    }
    if path == "/health"
        || path == engine::HEALTH_PATH
        || (path == "/metrics" && state.metrics_public)
        || state.oauth_callback.as_deref() == Some(path)
    {
        return None;
    }
    // Arcade's clients send the bare key (arcadepy) or `Bearer <key>` (Arcade's CLI); FACT's
    // own API keeps its one form.
    let bare_key_too = engine::is_engine_path(path);
    let form = if bare_key_too {
        "'Authorization: <key>' or 'Authorization: Bearer <key>'"
    } else {
        "'Authorization: Bearer <key>'"
    };
    let caller = match presented_key(request.headers(), bare_key_too) {
        Ok(Some(key)) => match state.keys.authenticate(key) {
            Some(KeyHolder::User(user)) => Caller {
                user: Some(Arc::from(user)),
                acts_for_any_user: false,
            },
            Some(KeyHolder::AnyUser) => Caller {
                user: None,
                acts_for_any_user: true,
            },
            None => {
                return Some(ApiError::unauthorized("the API key is not valid").into_response());
            }
        },
        Ok(None) if state.allow_anonymous => Caller {
            user: None,
            acts_for_any_user: false,
        },
        Ok(None) => {
            return Some(
                ApiError::unauthorized(format!("an API key is required: send {form}"))
                    .into_response(),
            );
        }
        Err(Malformed::NotAscii) => {
            return Some(
                ApiError::unauthorized("the Authorization header is not visible ASCII")
                    .into_response(),
            );
        }
        Err(Malformed::Repeated) => {
            return Some(
                ApiError::unauthorized("send one Authorization header, not several")
                    .into_response(),
            );
        }
        Err(Malformed::Scheme) => {
            return Some(ApiError::unauthorized(format!("expected {form}")).into_response());
        }
    };
    request.extensions_mut().insert(caller);
    None
}

/// Why an `Authorization` header could not be read.
enum Malformed {
    Repeated,
    NotAscii,
    Scheme,
}

/// The key of an `Authorization: Bearer <key>` header (or, with `bare_too`, of
/// `Authorization: <key>`), `None` without the header. Keys hold no space, so a bare key is
/// never mistaken for a scheme.
fn presented_key(headers: &HeaderMap, bare_too: bool) -> Result<Option<&str>, Malformed> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Malformed::Repeated);
    }
    let value = value.to_str().map_err(|_| Malformed::NotAscii)?.trim();
    match value.split_once(' ') {
        Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") => Ok(Some(key.trim())),
        None if bare_too && !value.is_empty() => Ok(Some(value)),
        _ => Err(Malformed::Scheme),
    }
}
