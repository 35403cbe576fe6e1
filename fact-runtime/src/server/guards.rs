//! The guards in front of every route, in order: the request timeout around everything, the
//! API key, the declared length, and the body read within its own timeout. They are one
//! service ([`Guards`]) around the routes, which boxes one future per request: axum's `from_fn`
//! would clone the routes and box them and its future again for every request, and the router
//! it needs around it would clone its fallback once more.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::FromRequest;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;
use tower::Service;

use super::api_keys::{KeyHolder, check_user_id};
use super::engine;
use super::error::ApiError;
use super::routes::AppState;
use crate::deadline;

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
fn declared_length_within<B>(max_bytes: usize, request: &Request<B>) -> Result<(), ApiError> {
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

/// Reads the whole body (at most `max_bytes`) before the route sees the request, by
/// `deadline` (the body timeout from the end of the headers): a client that stops sending its
/// body, or trickles it, is answered 408 and disconnected at the body timeout instead of
/// holding its connection until the request timeout. The timeout covers the whole body, not
/// each read.
async fn body_within<B>(
    deadline: Instant,
    timeout: Duration,
    max_bytes: usize,
    request: Request<B>,
) -> Result<Request<Body>, ApiError>
where
    B: HttpBody<Data = Bytes>,
    B::Error: fmt::Display,
{
    let (parts, body) = request.into_parts();
    match tokio::time::timeout_at(deadline, read_body(body, max_bytes)).await {
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
/// a copy. Trailers are not kept.
async fn read_body<B>(body: B, max_bytes: usize) -> Result<Bytes, ApiError>
where
    B: HttpBody<Data = Bytes>,
    B::Error: fmt::Display,
{
    let mut body = std::pin::pin!(body);
    let mut first = Bytes::new();
    let mut joined: Option<Vec<u8>> = None;
    let mut read: usize = 0;
    while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        let frame = frame.map_err(|error| {
            ApiError::bad_request(format!("the request body could not be read: {error}"))
        })?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
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

/// The body the guards read, whole and within the server's cap: the extractor of the handlers
/// that read one. It takes the body as the guards left it, without the second cap and
/// collection of axum's `Bytes` extractor. The guards stand in front of every route, so a body
/// reaches no handler unread.
pub(crate) struct GuardedBody(pub(crate) Bytes);

impl<S: Send + Sync> FromRequest<S> for GuardedBody {
    type Rejection = ApiError;

    async fn from_request(request: Request<Body>, _: &S) -> Result<Self, ApiError> {
        // Read already: the cap was held as it was read.
        read_body(request.into_body(), usize::MAX).await.map(Self)
    }
}

/// What the guards need to know, besides the keys of [`AppState`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) request_timeout: Duration,
    pub(crate) body_read_timeout: Duration,
    pub(crate) max_body_bytes: usize,
}

/// Every guard, in order, around the routes: what answers every request, routed or not.
#[derive(Clone)]
pub(crate) struct Guards(Arc<Guarded>);

struct Guarded {
    state: Arc<AppState>,
    limits: Limits,
    routes: Router,
}

impl fmt::Debug for Guards {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guards")
            .field("limits", &self.0.limits)
            .finish_non_exhaustive()
    }
}

/// The answer to one request, as [`Guards`] gives it.
pub(crate) type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl Guards {
    pub(crate) fn new(state: Arc<AppState>, limits: Limits, routes: Router) -> Self {
        Self(Arc::new(Guarded {
            state,
            limits,
            routes,
        }))
    }

    /// The key and the declared length at once (neither waits), then the body, then the
    /// route, all within the request timeout; under `/arcade`, whatever they answered is then
    /// said in the Engine's dialect.
    fn answer<B>(&self, mut request: Request<B>) -> Answer
    where
        B: HttpBody<Data = Bytes> + Send + 'static,
        B::Error: fmt::Display,
    {
        let Guarded {
            state,
            limits,
            routes,
        } = &*self.0;
        let limits = *limits;
        let engine = engine::is_engine_path(request.uri().path());
        let say = move |response: Response| {
            if engine {
                engine::dialect(response)
            } else {
                response
            }
        };
        let refusal = authenticate(state, &mut request).or_else(|| {
            declared_length_within(limits.max_body_bytes, &request)
                .err()
                .map(IntoResponse::into_response)
        });
        if let Some(refusal) = refusal {
            return Box::pin(std::future::ready(Ok(say(refusal))));
        }
        let now = Instant::now();
        let request_deadline = deadline::since(now, limits.request_timeout);
        let body_deadline = deadline::since(now, limits.body_read_timeout);
        let mut routes = routes.clone();
        Box::pin(async move {
            let answer = async {
                match body_within(
                    body_deadline,
                    limits.body_read_timeout,
                    limits.max_body_bytes,
                    request,
                )
                .await
                {
                    Ok(request) => match routes.call(request).await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    },
                    Err(refusal) => refusal.into_response(),
                }
            };
            let response = match tokio::time::timeout_at(request_deadline, answer).await {
                Ok(response) => response,
                Err(_) => too_late(limits.request_timeout),
            };
            Ok(say(response))
        })
    }
}

impl<B> Service<Request<B>> for Guards
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: fmt::Display,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The routes are always ready: axum's router is.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Answer {
        self.answer(request)
    }
}

/// Served straight by hyper, which calls a service by reference: no clone per request.
impl<B> hyper::service::Service<Request<B>> for Guards
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: fmt::Display,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, request: Request<B>) -> Answer {
        self.answer(request)
    }
}

/// The 504 of a request past its timeout; the call it was running is dropped, which its audit
/// record notes as cancelled.
fn too_late(timeout: Duration) -> Response {
    ApiError::new(
        StatusCode::GATEWAY_TIMEOUT,
        "RequestTimeoutError",
        format!("the request took longer than {} s", timeout.as_secs_f64()),
    )
    .into_response()
}

/// Lets the request through (`None`) with its [`Caller`] when it presents a known key (or none
/// in anonymous mode), or, on the Arcade worker's paths, the Engine's token; or when its path
/// is open; otherwise answers the 401, before the body is read, a route matched or any tool
/// looked at.
fn authenticate<B>(state: &AppState, request: &mut Request<B>) -> Option<Response> {
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
