//! The endpoints, and the middlewares in front of them (request timeout, API key, declared length).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceBuilder;

use super::api_keys::ApiKeys;
use super::config::ServerConfig;
use super::error::ApiError;
use crate::call::ToolCall;
use crate::executor::{HealthStatus, ToolExecutor};
use crate::metrics::PrometheusExporter;
use crate::registry::{MAX_NAME_LEN, plausible_tool_name};
use crate::result::ToolResult;
use crate::schema::ToolFormat;

/// What every handler shares.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) executor: ToolExecutor,
    pub(crate) exporter: PrometheusExporter,
    pub(crate) keys: ApiKeys,
    pub(crate) allow_anonymous: bool,
    pub(crate) metrics_public: bool,
    pub(crate) max_batch_calls: usize,
}

/// The authenticated caller: the user of the key presented, or nobody in anonymous mode.
#[derive(Debug, Clone)]
struct Caller(Option<Arc<str>>);

/// The routes, behind the request timeout, the API key (every path but `/health`, and
/// `/metrics` when public: unknown paths too, so that nothing about the routes is told to a
/// caller without a key), the declared length and the body limit.
pub(crate) fn router(state: Arc<AppState>, config: &ServerConfig) -> Router {
    let routes = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/v1/tools", get(list_tools))
        .route("/v1/tools/{name}", get(tool_info))
        .route("/v1/tools/execute", post(execute))
        .route("/v1/tools/execute/batch", post(execute_batch))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .with_state(Arc::clone(&state));
    let timeout = config.request_timeout;
    let max_body_bytes = config.max_body_bytes;
    // Around the whole router (not per route), outermost first: every request, routed or not,
    // passes the timeout, then the key, then the length check.
    let guarded = ServiceBuilder::new()
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            within(timeout, request, next)
        }))
        .layer(middleware::from_fn_with_state(state, authenticate))
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            declared_length_within(max_body_bytes, request, next)
        }))
        .service(routes);
    Router::new().fallback_service(guarded)
}

/// Refuses at once, with 413, a request whose `Content-Length` already says it is too large,
/// instead of waiting for a body it will not read.
async fn declared_length_within(max_bytes: usize, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    match declared {
        Some(length) if length > max_bytes as u64 => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "InvalidRequestError",
            "the request body is larger than the server accepts",
        )
        .into_response(),
        _ => next.run(request).await,
    }
}

/// Answers 504 when the request takes longer than `timeout`; the call it was running is
/// dropped, which its audit record notes as cancelled.
async fn within(timeout: Duration, request: Request, next: Next) -> Response {
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
async fn authenticate(
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

/// `GET /health`: 200 when the executor can serve calls, else 503.
async fn health(State(state): State<Arc<AppState>>) -> Response {
    let report = state.executor.health_check().await;
    let healthy = report.status == HealthStatus::Healthy;
    let body = json!({
        "status": if healthy { "healthy" } else { "unhealthy" },
        "executor": report,
        // Remote execution is not configured in this version: calls run locally.
        "arcade": {"status": "disabled"},
        "timestamp": crate::result::unix_now(),
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// `GET /metrics`: the Prometheus text exposition.
async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.exporter.render(),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct FormatQuery {
    format: Option<String>,
}

fn format_of(query: &FormatQuery) -> Result<ToolFormat, ApiError> {
    match &query.format {
        None => Ok(ToolFormat::Native),
        Some(name) => name
            .parse()
            .map_err(|error: crate::UnknownFormat| ApiError::bad_request(error.to_string())),
    }
}

/// `GET /v1/tools?format=native|openai|anthropic|mcp`: every tool's schema, sorted by name.
async fn list_tools(
    State(state): State<Arc<AppState>>,
    Query(query): Query<FormatQuery>,
) -> Result<Json<Value>, ApiError> {
    let format = format_of(&query)?;
    Ok(Json(state.executor.export_tools(format)))
}

/// `GET /v1/tools/{name}`: one tool, by its name or exported name.
async fn tool_info(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Query(query): Query<FormatQuery>,
) -> Result<Json<Value>, ApiError> {
    let format = format_of(&query)?;
    let info = state.executor.tool_info(&name).ok_or_else(|| {
        ApiError::not_found("ToolNotFoundError", format!("Tool '{name}' not found"))
    })?;
    Ok(Json(info.export(format)))
}

/// One call as a request names it. The user is never part of it: it is the API key's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallRequest {
    tool_name: String,
    #[serde(default = "empty_object")]
    input: Value,
    #[serde(default)]
    session_id: Option<String>,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    calls: Vec<CallRequest>,
}

/// The longest `session_id` a request may carry.
const MAX_SESSION_ID_LENGTH: usize = 128;

impl CallRequest {
    /// The call this request asks for, as `caller`. Names and session ids that no tool or
    /// session could have are refused here, before they reach the audit log or the logs.
    fn into_call(self, caller: &Caller) -> Result<ToolCall, ApiError> {
        if !plausible_tool_name(&self.tool_name) {
            return Err(ApiError::bad_request(format!(
                "'tool_name' is not a tool name: expected 'Toolkit.Tool' (letters, digits, '_' and '.', at most {MAX_NAME_LEN} characters)"
            )));
        }
        if let Some(session) = &self.session_id {
            let plausible_session = !session.is_empty()
                && session.len() <= MAX_SESSION_ID_LENGTH
                && session.bytes().all(|b| b.is_ascii_graphic());
            if !plausible_session {
                return Err(ApiError::bad_request(format!(
                    "'session_id' must be 1 to {MAX_SESSION_ID_LENGTH} visible ASCII characters"
                )));
            }
        }
        let mut call = ToolCall::new(self.tool_name, self.input);
        call.user_id = caller.0.as_deref().map(str::to_owned);
        call.session_id = self.session_id;
        Ok(call)
    }
}

/// Reads the body as JSON of type `T`, naming what is wrong when it is not.
fn parse_body<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    expected: &str,
) -> Result<T, ApiError> {
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "the request body is larger than the server accepts".to_owned()
        } else {
            rejection.body_text()
        };
        ApiError::new(status, "InvalidRequestError", message)
    })?;
    serde_json::from_slice(&body)
        .map_err(|error| ApiError::bad_request(format!("the body must be {expected}: {error}")))
}

/// `POST /v1/tools/execute`: runs one call; the HTTP status is the result's `status_code`.
async fn execute(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request: CallRequest = parse_body(
        body,
        r#"{"tool_name": "...", "input": {...}, "session_id": "..."?}"#,
    )?;
    let result = state
        .executor
        .execute_tool_call(request.into_call(&caller)?)
        .await;
    Ok(result_response(result))
}

/// `POST /v1/tools/execute/batch`: runs several calls at once and answers 200 with their
/// results in input order, each with its own `status_code`.
async fn execute_batch(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let request: BatchRequest = parse_body(
        body,
        r#"{"calls": [{"tool_name": ..., "input": ...}, ...]}"#,
    )?;
    if request.calls.len() > state.max_batch_calls {
        return Err(ApiError::bad_request(format!(
            "a batch holds at most {} calls, this one {}",
            state.max_batch_calls,
            request.calls.len()
        )));
    }
    let calls = request
        .calls
        .into_iter()
        .map(|call| call.into_call(&caller))
        .collect::<Result<Vec<_>, _>>()?;
    let results = state.executor.execute_tool_calls(calls).await;
    Ok(Json(json!({ "results": results })))
}

fn result_response(result: ToolResult) -> Response {
    let status =
        StatusCode::from_u16(result.status_code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let retry_after = result
        .metadata
        .retry_after_ms
        .map(|ms| ms.div_ceil(1000).max(1));
    let mut response = (status, Json(result)).into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(
        "NotFoundError",
        format!("no endpoint {method} {}", uri.path()),
    )
}

async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowedError",
        format!("{} does not accept {method}", uri.path()),
    )
}
