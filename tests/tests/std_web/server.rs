//! The loopback HTTP server the web tools are tested against.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Json};
use axum::routing::{any, get};
use serde_json::{Value, json};

/// Size of the `/big` body.
pub(crate) const BIG_BODY_BYTES: usize = 64 * 1024;

/// Size of the `/nuls` body: NUL bytes, each six bytes once written in JSON.
pub(crate) const NUL_BODY_BYTES: usize = 4096;

/// A loopback HTTP server; stops when dropped.
pub(crate) struct Server {
    pub(crate) port: u16,
    ip: IpAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// A server on 127.0.0.1.
    pub(crate) async fn start() -> Self {
        Self::start_on(IpAddr::V4(Ipv4Addr::LOCALHOST)).await
    }

    /// A server on `ip`, a loopback address (IPv4 or IPv6).
    pub(crate) async fn start_on(ip: IpAddr) -> Self {
        let listener = tokio::net::TcpListener::bind((ip, 0))
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
            .route("/slow", get(slow))
            .route(
                "/latin1",
                get(|| async { bytes("text/plain; charset=ISO-8859-1", b"caf\xe9") }),
            )
            .route(
                "/not-utf8",
                get(|| async { bytes("text/plain", b"caf\xe9") }),
            )
            .route(
                "/nuls",
                get(|| async { bytes("text/plain", &[0; NUL_BODY_BYTES]) }),
            )
            .route("/exponents", get(exponents));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("server runs");
        });
        Self { port, ip, task }
    }

    /// `http://127.0.0.1:PORT{path}` (`http://[::1]:PORT{path}` on IPv6).
    pub(crate) fn url(&self, path: &str) -> String {
        match self.ip {
            IpAddr::V4(ip) => format!("http://{ip}:{}{path}", self.port),
            IpAddr::V6(ip) => format!("http://[{ip}]:{}{path}", self.port),
        }
    }
}

/// A body of raw bytes with a content type.
fn bytes(content_type: &'static str, body: &[u8]) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type)], body.to_vec())
}

/// `[9e9,9e9,...]`: JSON whose numbers take four times the room once written back.
pub(crate) fn exponents_body() -> String {
    format!("[{}]", vec!["9e9"; 1000].join(","))
}

async fn exponents() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        exponents_body(),
    )
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
