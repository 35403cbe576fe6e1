//! `POST /arcade/v1/tools/execute`: an Engine request as a [`ToolCall`] for the executor's
//! whole pipeline, its [`ToolResult`](crate::ToolResult) as the Engine's answer
//! ([`execution_answer`]).

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::answer::{EngineError, execution_answer};
use crate::arcade::wire;
use crate::call::ToolCall;
use crate::executor::ToolExecutor;
use crate::registry::{MAX_NAME_LEN, plausible_tool_name};
use crate::server::error::ApiError;
use crate::server::guards::{Caller, GuardedBody, IdentityRefusal};
use crate::server::requests::parse_body;
use crate::server::routes::AppState;
use crate::transport;

/// The shape the endpoint takes, as its refusals show it.
const EXECUTE_SHAPE: &str =
    r#"{"tool_name": "Toolkit.Tool", "input": {...}, "user_id": "..."?, "tool_version": "..."?}"#;

/// The request body: the wire's request, and what of the Engine's this server refuses
/// rather than ignores. Other fields (`include_error_stacktrace`) are ignored, as an Engine
/// ignores what it does not know.
#[derive(Debug, Deserialize)]
#[serde(expecting = r#"an execute object {"tool_name": "Toolkit.Tool", "input": {...}}"#)]
struct ExecuteBody {
    #[serde(flatten)]
    request: wire::ExecuteRequest,
    /// A scheduled execution: not offered (running it now would be wrong).
    #[serde(default)]
    run_at: Option<Value>,
}

/// Runs one call through the executor's pipeline and answers as the Engine does: 200 with
/// `success` for every call the tool took part in, a request-level error otherwise.
pub(super) async fn execute(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<GuardedBody, ApiError>,
) -> Result<Response, EngineError> {
    require_json(&headers)?;
    let body: ExecuteBody = parse_body(&body?.0, EXECUTE_SHAPE)?;
    let call = engine_call(&state.executor, body, &caller)?;
    let result = state.executor.execute_tool_call(call).await;
    Ok(execution_answer(result, state.max_response_bytes))
}

/// 415 unless the body is declared JSON (`application/json`, or any `+json` type).
pub(super) fn require_json(headers: &HeaderMap) -> Result<(), EngineError> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase());
    match essence {
        Some(essence) if essence == "application/json" || essence.ends_with("+json") => Ok(()),
        _ => Err(EngineError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be sent as 'Content-Type: application/json'",
        )),
    }
}

/// The call `body` asks for, as `caller`: the tool named (`Toolkit.Tool`, with an optional
/// `@version` that, like `tool_version`, must be the tool's), with the user the caller may
/// act for. Refusals: 400 for a name, version or user id that cannot be, 403 for a user the
/// key may not act for, 404 for a version the tool is not at. An unknown tool is left to the
/// executor, which answers (and audits) its 404.
fn engine_call(
    executor: &ToolExecutor,
    body: ExecuteBody,
    caller: &Caller,
) -> Result<ToolCall, EngineError> {
    if body.run_at.is_some() {
        return Err(EngineError::bad_request(
            "scheduled execution ('run_at') is not offered by this server: call without it",
        ));
    }
    let request = body.request;
    let user = engine_user(caller, request.user_id.as_deref())?;
    let name = checked_tool(
        executor,
        &request.tool_name,
        request.tool_version.as_deref(),
    )?;
    transport::tool_call(name.to_owned(), Value::Object(request.input), user, None)
        .map_err(|refusal| EngineError::bad_request(refusal.to_string()))
}

/// The user a request naming `named` runs as, for `caller`: 400 for a user id that cannot
/// be, 403 for a user the key may not act for.
pub(super) fn engine_user(
    caller: &Caller,
    named: Option<&str>,
) -> Result<Option<String>, EngineError> {
    caller.acting_for(named).map_err(|refusal| match refusal {
        IdentityRefusal::NotAUserId(problem) => {
            EngineError::bad_request(format!("'user_id': {problem}"))
        }
        IdentityRefusal::NotYours => EngineError::new(
            StatusCode::FORBIDDEN,
            "this API key acts only for its own user: leave 'user_id' out, or use a key allowed to act for other users",
        ),
    })
}

/// The tool name of `tool_name` (`Toolkit.Tool`, with an optional `@version` that, like
/// `tool_version`, must be the tool's): 400 for a name or versions that cannot be, 404 for a
/// version the tool is not at.
pub(super) fn checked_tool<'a>(
    executor: &ToolExecutor,
    tool_name: &'a str,
    tool_version: Option<&str>,
) -> Result<&'a str, EngineError> {
    let (name, named_version) = match tool_name.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (tool_name, None),
    };
    if !plausible_tool_name(name) {
        return Err(EngineError::bad_request(format!(
            "'tool_name' is not a tool name: expected 'Toolkit.Tool' or 'Toolkit.Tool@version' (letters, digits, '_' and '.', at most {MAX_NAME_LEN} characters)"
        )));
    }
    let version = match (named_version, tool_version) {
        (Some(in_name), Some(given)) if in_name != given => {
            return Err(EngineError::bad_request(format!(
                "'tool_name' names version {in_name} and 'tool_version' {given}: give one"
            )));
        }
        (Some(version), _) | (None, Some(version)) => Some(version),
        (None, None) => None,
    };
    if let (Some(version), Some(info)) = (version, executor.tool_info(name))
        && info.version != version
    {
        return Err(EngineError::not_found(format!(
            "tool '{}' is at version {}, not {version}",
            info.name, info.version
        )));
    }
    Ok(name)
}
