//! `POST /arcade/v1/tools/authorize` and `GET /arcade/v1/auth/status`: a client starts the
//! authorization a tool needs for a user, sends the user to its URL, and waits for the flow,
//! which the server completes when the provider sends the user back to `OAUTH_REDIRECT_URI`
//! (docs/ARCHITECTURE.md, "Engine API"). For a tool only the Arcade Engine runs, both ask the
//! Engine through the gateway.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::Value;

use super::answer::EngineError;
use super::execute::{checked_tool, engine_user, require_json};
use crate::arcade::wire;
use crate::auth::{AuthorizationFlow, FlowStatus};
use crate::error::ErrorKind;
use crate::registry::Execution;
use crate::server::error::ApiError;
use crate::server::guards::{Caller, GuardedBody};
use crate::server::requests::parse_body;
use crate::server::routes::AppState;

/// The shape the endpoint takes, as its refusals show it.
const AUTHORIZE_SHAPE: &str =
    r#"{"tool_name": "Toolkit.Tool", "user_id": "..."?, "tool_version": "..."?}"#;
/// The longest `wait` of a status request: below the 60 s Arcade's clients wait for an answer.
const MAX_WAIT: Duration = Duration::from_secs(59);

/// Starts the authorization `tool_name` needs for the user: `completed` when the user's grant
/// covers the tool already (or it needs none), else `pending` with the flow's `id` and the
/// `url` to send the user to.
pub(super) async fn authorize(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<GuardedBody, ApiError>,
) -> Result<Response, EngineError> {
    require_json(&headers)?;
    let request: wire::AuthorizeRequest = parse_body(&body?.0, AUTHORIZE_SHAPE)?;
    let user = engine_user(&caller, request.user_id.as_deref())?;
    let executor = &state.executor;
    let name = checked_tool(
        executor,
        &request.tool_name,
        request.tool_version.as_deref(),
    )?;
    let info = executor
        .tool_info(name)
        .ok_or_else(|| EngineError::not_found(format!("Tool '{name}' not found")))?;
    let mut answer = wire::AuthorizationResponse {
        scopes: Some(info.scopes.clone()),
        user_id: user.clone(),
        ..wire::AuthorizationResponse::default()
    };
    if !info.requires_auth && info.scopes.is_empty() {
        answer.status = "completed".to_owned();
        return Ok(Json(answer).into_response());
    }
    // A tool only the Arcade Engine runs is authorized there: ask it.
    if info.execution == Execution::Arcade
        && let Some(client) = executor.arcade_client()
    {
        let mut forwarded = wire::AuthorizeRequest::default();
        forwarded.tool_name.clone_from(&info.name);
        forwarded.user_id = user;
        let answer = client
            .authorize(&forwarded)
            .await
            .map_err(|error| remote_failure(error, &info.name))?;
        return Ok(Json(answer).into_response());
    }
    let Some(manager) = executor.authorization_manager() else {
        return Err(EngineError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "Tool '{name}' requires authorization, and no authorization provider is configured on this server"
            ),
        ));
    };
    let Some(user) = user else {
        return Err(EngineError::bad_request(
            "'user_id' is required: an authorization is the user's",
        ));
    };
    match manager
        .authorize(Some(&user), &info.name, &info.scopes)
        .await
    {
        Ok(_token) => {
            answer.status = "completed".to_owned();
            Ok(Json(answer).into_response())
        }
        // No grant, or one short of scopes: the refusal carries the flow to complete.
        Err(refusal)
            if matches!(
                refusal.kind(),
                ErrorKind::Unauthorized | ErrorKind::Security
            ) =>
        {
            let metadata = refusal.metadata();
            let text = |key: &str| {
                metadata
                    .and_then(|m| m.get(key))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let (Some(id), Some(url)) = (text("flow_id"), text("authorization_url")) else {
                return Err(EngineError::new(StatusCode::FORBIDDEN, refusal.message()));
            };
            answer.id = Some(id);
            answer.url = Some(url);
            answer.status = "pending".to_owned();
            Ok(Json(answer).into_response())
        }
        Err(failure) => Err(EngineError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            failure.message(),
        )),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct StatusQuery {
    id: Option<String>,
    wait: Option<u64>,
}

/// Where flow `id` stands, after waiting up to `wait` seconds (at most 59) for it to settle.
/// A flow of another user is unknown to a key that acts only for its own.
pub(super) async fn status(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<StatusQuery>, QueryRejection>,
) -> Result<Response, EngineError> {
    let Query(query) = query.map_err(|rejection| {
        EngineError::bad_request(format!(
            "the query must be ?id=...&wait=SECONDS: {}",
            rejection.body_text()
        ))
    })?;
    let id = query
        .id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| EngineError::bad_request("'id' is required: the authorization's id"))?;
    let unknown = || EngineError::not_found(format!("no authorization '{id}'"));
    let wait = Duration::from_secs(query.wait.unwrap_or(0)).min(MAX_WAIT);
    let local = match state.executor.authorization_manager() {
        Some(manager) => manager
            .flow_status(&id)
            .await
            .map_err(|error| flow_store_failure(&error))?
            .map(|status| (manager, status)),
        None => None,
    };
    let Some((manager, (flow, status))) = local else {
        // Not a flow of this server's: one the Arcade Engine started for a tool it runs, when
        // there is an Engine. Its id is its own unguessable token.
        let Some(client) = state.executor.arcade_client() else {
            return Err(unknown());
        };
        let answer = client
            .auth_status(&id, (!wait.is_zero()).then_some(wait))
            .await
            .map_err(|error| match error {
                crate::arcade::ArcadeError::Status { status: 404, .. } => unknown(),
                error => remote_failure(error, "the authorization"),
            })?;
        return Ok(Json(answer).into_response());
    };
    // The flow must be the caller's before anything about it is told, or waited for.
    if engine_user(&caller, Some(&flow.user_id)).is_err() {
        return Err(unknown());
    }
    let (flow, status) = if wait.is_zero() {
        (flow, status)
    } else {
        manager
            .wait_for_flow(&id, wait)
            .await
            .map_err(|error| flow_store_failure(&error))?
            .ok_or_else(unknown)?
    };
    Ok(Json(answer_of(flow, &status)).into_response())
}

/// The flow store's failure to answer: 503, the details in the server log only.
fn flow_store_failure(error: &crate::auth::AuthError) -> EngineError {
    tracing::error!(%error, "cannot read an authorization flow");
    EngineError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the authorization cannot be read now: the flow store failed (see the server log)",
    )
}

/// The Engine's failure to answer about `what`, as this server's refusal: the status FACT's
/// contract gives it (502, 503, 504, ...), with its message.
fn remote_failure(error: crate::arcade::ArcadeError, what: &str) -> EngineError {
    let error = error.into_tool_error(what);
    let status =
        StatusCode::from_u16(error.kind().status_code()).unwrap_or(StatusCode::BAD_GATEWAY);
    EngineError::new(status, error.message())
}

/// `flow` at `status`, as the Engine reports an authorization.
fn answer_of(flow: AuthorizationFlow, status: &FlowStatus) -> wire::AuthorizationResponse {
    let (status, url) = match status {
        FlowStatus::Completed => ("completed", None),
        FlowStatus::Failed(_) | FlowStatus::Expired => ("failed", None),
        _ => ("pending", Some(flow.authorization_url)),
    };
    wire::AuthorizationResponse {
        id: Some(flow.flow_id),
        status: status.to_owned(),
        url,
        scopes: Some(flow.scopes),
        user_id: Some(flow.user_id),
        ..wire::AuthorizationResponse::default()
    }
}
