//! The loopback HTTP server the web tools are tested against.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Json};
use axum::routing::{any, get};
use serde_json::{Value, json};

/// Size of the `/big` body.
pub(crate) const BIG_BODY_BYTES: usize = 64 * 1024;

/// A loopback HTTP server; stops when dropped.
pub(crate) struct Server {
    pub(crate) port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub(crate) async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind a loopback port");
        let port = listener.local_addr().expect("bound address").port();
        let app = Router::new()
            .route("/json", get(json_greeting))
            .route("/text", get(|| async { "plain text" }))
            .route("/echo", any(echo))
            .route("/redirect", any(redirect))
            .route(
                "/loop",
                get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop")]) }),
            )
            .route("/big", get(|| async { "a".repeat(BIG_BODY_BYTES) }))
            .route("/slow", get(slow));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("server runs");
        });
        Self { port, task }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn json_greeting() -> Json<Value> {
    Json(json!({"greeting": "héllo wörld ✓", "n": 1}))
}

async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: String) -> Json<Value> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Json(json!({
        "method": method.as_str(),
        "query": uri.query(),
        "body": body,
        "x_test": header("x-test"),
        "host": header("host"),
        "authorization": header("authorization"),
    }))
}

/// Redirects to `to` with `status` (302 unless given).
async fn redirect(Query(params): Query<HashMap<String, String>>) -> impl IntoResponse {
    let to = params.get("to").cloned().unwrap_or_default();
    let status = params
        .get("status")
        .and_then(|status| status.parse::<u16>().ok())
        .and_then(|status| StatusCode::from_u16(status).ok())
        .unwrap_or(StatusCode::FOUND);
    (status, [(header::LOCATION, to)])
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(20)).await;
    "late"
}
