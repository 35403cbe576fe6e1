//! The Engine API that Arcade's clients speak (arcadepy and the others), served under
//! [`PREFIX`] over the server's own executor, beside FACT's own API (docs/ARCHITECTURE.md,
//! "Engine API"):
//!
//! | endpoint | answer |
//! | --- | --- |
//! | `GET /arcade/v1/health` | `{"healthy": bool}`, 200 or 503; no key |
//! | `GET /arcade/v1/tools?limit&offset&toolkit&include_format&user_id` | a page of tools ([`tools`]) |
//! | `GET /arcade/v1/tools/{name}[@version]` | one tool |
//! | `POST /arcade/v1/tools/execute` | the execution ([`execute`]) |
//! | `POST /arcade/v1/tools/authorize` | `completed`, or `pending` with the flow's `id` and `url` ([`authorize`]) |
//! | `GET /arcade/v1/auth/status?id&wait` | the flow's status, after waiting up to `wait` s (at most 59) for it to settle |
//!
//! Every refusal under the prefix, the guards' and the router's own included, is the Engine's
//! error body `{"name": "not_found", "message": "..."}` ([`dialect`] rewrites FACT's), and
//! every 5xx says `x-should-retry` (`false` unless the call provably did not start). Only the
//! answers the connection layer writes before any route (too many connections from one
//! address, requests hyper cannot parse) keep FACT's shape.

pub(crate) mod answer;
mod authorize;
mod execute;
mod tools;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::error::Refusal;
use super::routes::AppState;
use crate::arcade::wire;
use crate::executor::HealthStatus;

/// Where the Engine API is served: an Engine client's base URL is `http://HOST:PORT/arcade`.
pub(crate) const PREFIX: &str = "/arcade";
/// The Engine API's health check, open like FACT's `/health`.
pub(crate) const HEALTH_PATH: &str = "/arcade/v1/health";

/// `x-should-retry`: Arcade's clients retry a 5xx unless it says `false`, and retry anything
/// that says `true`.
pub(crate) const SHOULD_RETRY: HeaderName = HeaderName::from_static("x-should-retry");

/// Whether `path` is under [`PREFIX`].
pub(crate) fn is_engine_path(path: &str) -> bool {
    path.strip_prefix(PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The Engine API's routes, at their full paths.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(HEALTH_PATH, get(health))
        .route("/arcade/v1/tools", get(tools::list))
        .route("/arcade/v1/tools/execute", post(execute::execute))
        .route("/arcade/v1/tools/authorize", post(authorize::authorize))
        .route("/arcade/v1/auth/status", get(authorize::status))
        // Everything after `/v1/tools/`, as Arcade's clients put a name in a path unescaped.
        .route("/arcade/v1/tools/{*name}", get(tools::one))
}

/// `GET /arcade/v1/health`: 200 `{"healthy": true}` when the executor can serve calls, else
/// 503 `{"healthy": false}`.
async fn health(State(state): State<Arc<AppState>>) -> Response {
    let healthy = state.executor.health_check().await.status == HealthStatus::Healthy;
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(wire::Health { healthy })).into_response()
}

/// The answer to a request under [`PREFIX`], whatever answered it (every guard included): a
/// refusal of FACT's HTTP layer (401, 404, 405, 408, 413, 504, ...) in the Engine's error
/// shape, with its headers kept, and every 5xx saying whether to retry (`false` unless it said
/// already: a request past its timeout may have run its tool).
pub(crate) fn dialect(mut response: Response) -> Response {
    if let Some(refusal) = response.extensions_mut().remove::<Refusal>() {
        let status = response.status();
        let body = answer::error_body(status, refusal.message);
        let headers = response.headers_mut();
        headers.remove(header::CONTENT_LENGTH);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        *response.body_mut() = Body::from(body);
    }
    if response.status().is_server_error() && !response.headers().contains_key(SHOULD_RETRY) {
        response
            .headers_mut()
            .insert(SHOULD_RETRY, HeaderValue::from_static("false"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_a_whole_path_segment() {
        assert!(is_engine_path("/arcade"));
        assert!(is_engine_path("/arcade/v1/tools"));
        assert!(!is_engine_path("/arcadex/v1/tools"));
        assert!(!is_engine_path("/v1/tools"));
    }
}
