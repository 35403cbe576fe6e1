//! `Server::router()`, nested in an application of its own: the same guards in front of every
//! route as `fact serve`'s (the key, the body cap, the refusal shapes, the Engine's dialect),
//! with no socket.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, header};
use axum::routing::get;
use fact_runtime::server::Server;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::support::*;

/// The application: a route of its own beside FACT's router.
fn application() -> Router {
    let executor = builder(&Gate::default()).build().expect("builds");
    let fact = Server::new(executor, config().max_body_bytes(1024))
        .expect("server")
        .router();
    Router::new()
        .route("/own", get(|| async { "own" }))
        .merge(fact)
}

async fn send(app: &Router, request: Request<Body>) -> (u16, Value) {
    let response = app.clone().oneshot(request).await.expect("answers");
    let status = response.status().as_u16();
    let body = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    (status, body)
}

fn post(path: &str, key: Option<&str>, body: String) -> Request<Body> {
    let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/json");
    if let Some(key) = key {
        request = request.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    request.body(Body::from(body)).expect("request")
}

fn get_with(path: &str, key: Option<&str>) -> Request<Body> {
    let mut request = Request::get(path);
    if let Some(key) = key {
        request = request.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    request.body(Body::empty()).expect("request")
}

#[tokio::test]
async fn the_nested_router_keeps_every_guard() {
    let app = application();
    let call = json!({"tool_name": "Fixture.WhoAmI"}).to_string();

    let (status, body) = send(&app, post("/v1/tools/execute", None, call.clone())).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        body["metadata"]["error_type"], "UnauthorizedError",
        "{body}"
    );

    let (status, body) = send(&app, post("/v1/tools/execute", Some(ADA_KEY), call)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["user"], "ada",
        "the call runs as the key's user: {body}"
    );

    // Past the body cap: a 413 from the guards, before any route.
    let large = json!({"tool_name": "Fixture.Echo", "input": {"text": "x".repeat(2000)}});
    let (status, body) = send(
        &app,
        post("/v1/tools/execute", Some(ADA_KEY), large.to_string()),
    )
    .await;
    assert_eq!(status, 413, "{body}");

    // FACT's unknown paths are the guards' too: 401 without a key, 404 with one.
    let (status, _) = send(&app, get_with("/nowhere", None)).await;
    assert_eq!(status, 401);
    let (status, body) = send(&app, get_with("/nowhere", Some(ADA_KEY))).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["metadata"]["error_type"], "NotFoundError", "{body}");

    // Under /arcade, a refusal is said in the Engine's shape.
    let (status, body) = send(&app, get_with("/arcade/v1/tools", None)).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["name"].is_string() && body["message"].is_string(),
        "{body}"
    );

    // The open paths stay open, and the application's own route is its own.
    let (status, body) = send(&app, get_with("/health", None)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = send(&app, get_with("/own", None)).await;
    assert_eq!((status, body), (200, Value::String("own".to_owned())));
}
