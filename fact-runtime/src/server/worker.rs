//! The Arcade worker endpoints, served when the server has a worker secret
//! ([`ServerConfig::arcade_worker_secret`](super::ServerConfig::arcade_worker_secret)), so
//! that an Arcade Engine runs this server's tools through their whole pipeline
//! (docs/ARCHITECTURE.md, "Arcade worker"):
//!
//! | endpoint | answer |
//! | --- | --- |
//! | `GET /worker/health` | `{"status": "ok", "tool_count": "<n>"}`; no token |
//! | `GET /worker/tools` | every tool that runs here, as Arcade's `ToolDefinition`s |
//! | `POST /worker/tools/invoke` | Arcade's `ToolCallResponse`: 200 whenever the pipeline judged the call |
//!
//! Every path but the health check needs the Engine's token ([`WorkerSecret::verify`]),
//! checked before the body is read; a refusal is 401 with `WWW-Authenticate: Bearer` and a
//! `{"detail": "..."}` body, as Arcade's workers answer. The Engine acts for its users: the
//! call runs as the request's `context.user_id`, with the token and secrets of its context.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::answer_budget::{encode_within, withheld};
use super::api_keys::check_user_id;
use super::engine::answer::rfc3339;
use super::error::ApiError;
use super::guards::GuardedBody;
use super::routes::AppState;
use crate::arcade::kinds::worker_output_error;
use crate::arcade::worker::definition::worker_tool;
use crate::arcade::worker::wire::{
    ToolCallOutput, ToolCallRequest, ToolCallResponse, ToolDefinition, WorkerHealth,
};
use crate::arcade::worker::{TokenRefusal, WorkerSecret};
use crate::auth::AccessToken;
use crate::call::{CallOptions, ToolCall};
use crate::registry::{Execution, ToolInfo};
use crate::result::ToolResult;
use crate::transport;

/// Where the worker endpoints are.
pub(crate) const PREFIX: &str = "/worker";
/// The worker's health check, open like `/health`.
pub(crate) const HEALTH_PATH: &str = "/worker/health";
/// The JSON-RPC code Arcade's workers answer a request they cannot take with.
const INVALID_PARAMS: i64 = -32602;

/// Whether `path` is under [`PREFIX`].
pub(crate) fn is_worker_path(path: &str) -> bool {
    path.strip_prefix(PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The worker's routes, at their full paths.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(HEALTH_PATH, get(health))
        .route("/worker/tools", get(tools))
        .route("/worker/tools/invoke", post(invoke))
}

/// A request the worker does not take: a 401 for the Engine's token (arcade-serve's
/// `{"detail": "..."}`, with `WWW-Authenticate: Bearer`), or a request it cannot take (400,
/// 404: Arcade's workers' `{"code": -32602, "message": "..."}`).
#[derive(Debug)]
pub(crate) enum Refused {
    /// 401 saying why.
    Token(String),
    /// The status, and what was wrong.
    Invalid(StatusCode, String),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Self::Token(detail) => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
                Json(json!({ "detail": detail })),
            )
                .into_response(),
            Self::Invalid(status, message) => (
                status,
                Json(json!({"code": INVALID_PARAMS, "message": message})),
            )
                .into_response(),
        }
    }
}

/// Checks the Engine's token on `headers`: `Ok` lets the request through, else the 401.
pub(crate) fn check_engine(secret: &WorkerSecret, headers: &HeaderMap) -> Result<(), Refused> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let token = match (values.next(), values.next()) {
        (None, _) => return Err(unauthorized(&TokenRefusal::Missing)),
        (Some(_), Some(_)) => {
            return Err(refused(
                "Not authenticated: send one Authorization header, not several",
            ));
        }
        (Some(value), None) => match value.to_str().ok().and_then(bearer) {
            Some(token) => token,
            None => {
                return Err(refused(
                    "Not authenticated: expected 'Authorization: Bearer <JWT>'",
                ));
            }
        },
    };
    secret
        .verify(token)
        .map_err(|refusal| unauthorized(&refusal))
}

/// The token of a `Bearer <token>` header value.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn unauthorized(refusal: &TokenRefusal) -> Refused {
    match refusal {
        TokenRefusal::Missing => refused(&format!("Not authenticated: {refusal}")),
        _ => refused(&format!("Invalid token. Error: {refusal}")),
    }
}

/// 401 saying `detail`.
fn refused(detail: &str) -> Refused {
    Refused::Token(detail.to_owned())
}

/// A request the worker cannot take, with `status` (400, 404).
fn invalid(status: StatusCode, message: String) -> Refused {
    Refused::Invalid(status, message)
}

/// The tools an Engine may run here: those that run in this process. A tool this server
/// itself runs on an Engine is not offered back to one.
fn served(state: &AppState) -> Vec<Arc<ToolInfo>> {
    let mut tools: Vec<Arc<ToolInfo>> = state
        .executor
        .available_tools()
        .into_iter()
        .filter(|info| info.execution == Execution::Local)
        .collect();
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    tools
}

/// `GET /worker/health`.
async fn health(State(state): State<Arc<AppState>>) -> Json<WorkerHealth> {
    Json(WorkerHealth {
        status: "ok".to_owned(),
        tool_count: served(&state).len().to_string(),
    })
}

/// `GET /worker/tools`.
async fn tools(State(state): State<Arc<AppState>>) -> Json<Vec<ToolDefinition>> {
    Json(
        served(&state)
            .iter()
            .map(|info| worker_tool(info))
            .collect(),
    )
}

/// `POST /worker/tools/invoke`: the Engine's request as a call of the executor's whole
/// pipeline, run as the request's user with its token and secrets.
async fn invoke(
    State(state): State<Arc<AppState>>,
    body: Result<GuardedBody, ApiError>,
) -> Result<Response, Refused> {
    let GuardedBody(bytes) = body.map_err(|error| {
        invalid(
            error.status(),
            format!("Invalid params: {}", error.message()),
        )
    })?;
    let request: ToolCallRequest = serde_json::from_slice(&bytes).map_err(|error| {
        invalid(
            StatusCode::BAD_REQUEST,
            format!("Invalid params: the body is not a tool call request: {error}"),
        )
    })?;
    let (call, options) = match engine_call(&state, &request)? {
        Prepared::Run(call, options) => (call, options),
        Prepared::Unknown(call) => {
            // No such tool: the executor answers (and audits) its 404, as on FACT's own API.
            let wanted = call.tool_name.clone();
            state.executor.execute_tool_call(call).await;
            return Err(not_served(&wanted));
        }
    };
    tracing::debug!(
        execution_id = request.execution_id.as_deref().unwrap_or(""),
        call_id = %call.call_id,
        "the Arcade Engine invokes a tool"
    );
    let result = state.executor.execute_tool_call_with(call, options).await;
    let execution_id = request
        .execution_id
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| result.call_id.clone());
    Ok(answer(result, execution_id, state.max_response_bytes))
}

/// What an invocation comes to, once read.
enum Prepared {
    /// The call of a tool served here, with what the Engine hands it.
    Run(ToolCall, CallOptions),
    /// The call of a tool no one has here, for the executor to refuse and audit.
    Unknown(ToolCall),
}

fn not_served(wanted: &str) -> Refused {
    invalid(
        StatusCode::NOT_FOUND,
        format!("Invalid params: tool '{wanted}' is not served by this worker"),
    )
}

/// The call `request` asks for, with what its context hands the tool; or the 400 (a request
/// that names no tool, or a user id that cannot be) or 404 (a tool, or a version of it, not
/// served here; a tool this server does not have at all is left to the executor to refuse).
fn engine_call(state: &AppState, request: &ToolCallRequest) -> Result<Prepared, Refused> {
    let reference = &request.tool;
    if reference.name.is_empty() || reference.toolkit.is_empty() {
        return Err(invalid(
            StatusCode::BAD_REQUEST,
            "Invalid params: 'tool' must name the tool and its toolkit: {\"name\": \"Tool\", \"toolkit\": \"Toolkit\"}".to_owned(),
        ));
    }
    let user = request
        .context
        .user_id
        .clone()
        .filter(|user| !user.is_empty());
    if let Some(user) = &user
        && let Err(problem) = check_user_id(user)
    {
        return Err(invalid(
            StatusCode::BAD_REQUEST,
            format!("Invalid params: 'context.user_id': {problem}"),
        ));
    }
    let wanted = format!("{}.{}", reference.toolkit, reference.name);
    // Arcade's names match without regard to case.
    let tools = served(state);
    let Some(info) = tools.iter().find(|info| info.name == wanted).or_else(|| {
        tools
            .iter()
            .find(|info| info.name.eq_ignore_ascii_case(&wanted))
    }) else {
        if state.executor.tool_info(&wanted).is_none()
            && let Ok(call) =
                transport::tool_call(wanted.clone(), Value::Object(Map::new()), user, None)
        {
            return Ok(Prepared::Unknown(call));
        }
        return Err(not_served(&wanted));
    };
    if let Some(version) = reference.version.as_deref().filter(|v| !v.is_empty())
        && version != info.version
    {
        return Err(invalid(
            StatusCode::NOT_FOUND,
            format!(
                "Invalid params: tool '{}' is at version {}, not {version}",
                info.name, info.version
            ),
        ));
    }
    let context = &request.context;
    let arguments = Value::Object(request.inputs.clone().unwrap_or_default());
    let call =
        transport::tool_call(info.name.clone(), arguments, user, None).map_err(|refusal| {
            invalid(
                StatusCode::BAD_REQUEST,
                format!("Invalid params: {refusal}"),
            )
        })?;
    let mut options = CallOptions::default().authorized_by_caller();
    if let Some(token) = context
        .authorization
        .as_ref()
        .and_then(|authorization| authorization.token.as_deref())
        .filter(|token| !token.is_empty())
    {
        options = options.access_token(AccessToken::new(token));
    }
    for secret in context.secrets.iter().flatten() {
        options = options.secret(secret.key.clone(), secret.value.clone());
    }
    Ok(Prepared::Run(call, options))
}

/// `result` as Arcade's `ToolCallResponse`, whose JSON is at most `budget` bytes (past it, the
/// value is replaced by FACT's 403 naming `max_response_bytes`, as on FACT's own API).
fn answer(mut result: ToolResult, execution_id: String, budget: usize) -> Response {
    let value = result.data.take();
    let json = match encode_within(&response(&result, &execution_id, value), budget) {
        Ok(json) => json,
        Err(problem) => {
            let refusal = withheld(&result, budget, problem);
            match serde_json::to_vec(&response(&refusal, &execution_id, None)) {
                Ok(json) => json,
                Err(_) => {
                    return invalid(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the result could not be written as JSON".to_owned(),
                    )
                    .into_response();
                }
            }
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

fn response(result: &ToolResult, execution_id: &str, value: Option<Value>) -> ToolCallResponse {
    let output = if result.success {
        ToolCallOutput {
            value: Some(value.unwrap_or(Value::Null)),
            error: None,
        }
    } else {
        ToolCallOutput {
            value: None,
            error: Some(worker_output_error(result)),
        }
    };
    ToolCallResponse {
        execution_id: execution_id.to_owned(),
        finished_at: rfc3339(result.metadata.timestamp),
        duration: result.execution_time_ms,
        success: result.success,
        output: Some(output),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_a_whole_path_segment() {
        assert!(is_worker_path("/worker"));
        assert!(is_worker_path("/worker/tools/invoke"));
        assert!(!is_worker_path("/workers"));
        assert!(!is_worker_path("/v1/worker"));
    }

    #[test]
    fn only_a_bearer_token_is_read() {
        assert_eq!(bearer("Bearer abc.def.ghi"), Some("abc.def.ghi"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("abc"), None);
    }
}
