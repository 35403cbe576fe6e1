//! The endpoints, behind the middlewares of [`guards`](super::guards).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use futures::StreamExt as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::answer_budget::{BatchBody, EncodedResult};
use super::api_keys::ApiKeys;
use super::config::ServerConfig;
use super::engine;
use super::error::ApiError;
use super::guards::{self, Caller, GuardedBody};
use super::requests::{BATCH_SHAPE, BatchRequest, CALL_SHAPE, CallRequest, parse_body};
use crate::executor::{HealthStatus, ToolExecutor};
use crate::metrics::PrometheusExporter;
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
    pub(crate) max_response_bytes: usize,
    pub(crate) max_batch_response_bytes: usize,
    /// The path of `OAUTH_REDIRECT_URI`, where providers send users back, when authorization
    /// is configured: open, like `/health`, since a browser brings no key.
    pub(crate) oauth_callback: Option<String>,
    /// Set: the Arcade worker endpoints are served, behind the Engine's token.
    pub(crate) worker_secret: Option<crate::arcade::worker::WorkerSecret>,
    /// What answers `/mcp`; its calls are waited for at shutdown.
    #[cfg(feature = "mcp")]
    pub(crate) mcp: crate::mcp::McpServer,
}

/// The routes, behind the request timeout, the API key (every path but `/health`, and
/// `/metrics` when public: unknown paths too, so that nothing about the routes is told to a
/// caller without a key), the declared length and the body read.
pub(crate) fn guarded(state: Arc<AppState>, config: &ServerConfig) -> guards::Guards {
    let mut routes = Router::new();
    if let Some(path) = &state.oauth_callback {
        routes = routes.route(path, get(super::oauth::callback));
    }
    let routes = routes
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/v1/tools", get(list_tools))
        .route("/v1/tools/{name}", get(tool_info))
        .route("/v1/tools/execute", post(execute))
        .route("/v1/tools/execute/batch", post(execute_batch))
        .merge(engine::routes());
    let routes = if state.worker_secret.is_some() {
        routes.merge(super::worker::routes())
    } else {
        routes
    };
    #[cfg(feature = "mcp")]
    let routes = routes.route_service(
        crate::mcp::http::PATH,
        crate::mcp::http::service(
            state.mcp.clone(),
            config.mcp_allowed_hosts.as_deref(),
            config.max_body_bytes,
        ),
    );
    let routes = routes
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .with_state(Arc::clone(&state));
    let limits = guards::Limits {
        request_timeout: config.request_timeout,
        body_read_timeout: config.body_read_timeout,
        max_body_bytes: config.max_body_bytes,
    };
    // Around the whole router (not per route): every request, routed or not, passes the
    // timeout, then the key, then the length check, then the body read; under `/arcade`,
    // whatever they answer is then said in the Engine's dialect.
    guards::Guards::new(state, limits, routes)
}

/// `GET /health`: 200 when the executor can serve calls, else 503.
async fn health(State(state): State<Arc<AppState>>) -> Response {
    let report = state.executor.health_check().await;
    let arcade = state.executor.arcade_health();
    // In remote mode every call needs the Engine: without it this server can serve none.
    let engine_needed_and_gone = arcade.as_ref().is_some_and(|arcade| {
        arcade.mode == crate::arcade::ExecutionMode::Remote && arcade.status == "unreachable"
    });
    let healthy = report.status == HealthStatus::Healthy && !engine_needed_and_gone;
    let body = json!({
        "status": if healthy { "healthy" } else { "unhealthy" },
        "executor": report,
        "arcade": match arcade {
            Some(arcade) => json!(arcade),
            None => json!({"status": "disabled"}),
        },
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

/// The `format` of a tool listing; a query that cannot be read (a repeated `format`) is a
/// 400 in the shape of every other refusal, not axum's plain text.
fn format_of(query: Result<Query<FormatQuery>, QueryRejection>) -> Result<ToolFormat, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::bad_request(format!(
            "the query must hold at most one 'format' (one of {}): {}",
            ToolFormat::names(),
            rejection.body_text()
        ))
    })?;
    match &query.format {
        None => Ok(ToolFormat::Native),
        Some(name) => name
            .parse()
            .map_err(|error: crate::UnknownFormat| ApiError::bad_request(error.to_string())),
    }
}

/// `GET /v1/tools?format=native|openai|openai-strict|anthropic|mcp`: every tool's schema,
/// sorted by name.
async fn list_tools(
    State(state): State<Arc<AppState>>,
    query: Result<Query<FormatQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let format = format_of(query)?;
    Ok(Json(state.executor.export_tools(format)))
}

/// `GET /v1/tools/{name}`: one tool, by its name or exported name.
async fn tool_info(
    State(state): State<Arc<AppState>>,
    name: Result<Path<String>, PathRejection>,
    query: Result<Query<FormatQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(name) = name.map_err(|_| {
        ApiError::bad_request(
            "the tool name in the path is not text once percent-decoded: expected 'Toolkit.Tool'",
        )
    })?;
    let format = format_of(query)?;
    let info = state.executor.tool_info(&name).ok_or_else(|| {
        ApiError::not_found("ToolNotFoundError", format!("Tool '{name}' not found"))
    })?;
    Ok(Json(info.export(format)))
}

/// `POST /v1/tools/execute`: runs one call; the HTTP status is the result's `status_code`.
/// A result past [`ServerConfig::max_response_bytes`] is answered with a 403 naming the limit.
async fn execute(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    body: Result<GuardedBody, ApiError>,
) -> Result<Response, ApiError> {
    let request: CallRequest = parse_body(&body?.0, CALL_SHAPE)?;
    let result = state
        .executor
        .execute_tool_call(request.into_call(&caller)?)
        .await;
    Ok(EncodedResult::new(result, state.max_response_bytes).into_response())
}

/// `POST /v1/tools/execute/batch`: runs several calls at once and answers 200 with their
/// results in input order, each with its own `status_code`.
///
/// Each result is serialized the moment its call completes, within the budget of one answer,
/// and added in input order to the body within the batch's budget: the server holds the body
/// and the results still in flight, never every result whole.
async fn execute_batch(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    body: Result<GuardedBody, ApiError>,
) -> Result<Response, ApiError> {
    let request: BatchRequest = parse_body(&body?.0, BATCH_SHAPE)?;
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
    let per_answer = state.max_response_bytes;
    let mut results = std::pin::pin!(
        state
            .executor
            .execute_tool_calls_with(calls, move |result| EncodedResult::new(result, per_answer))
    );
    let mut body = BatchBody::new(state.max_batch_response_bytes);
    while let Some(result) = results.next().await {
        body.push(result);
    }
    Ok(body.into_response())
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
