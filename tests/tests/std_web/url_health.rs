//! `Web.URLHealth`: availability is an answer, a policy refusal is still an error.

use serde_json::{Value, json};

use super::server::Server;
use super::{allowing_loopback, call, closed_port, data, public_only};

#[tokio::test]
async fn health_of_a_live_url_is_available() {
    let server = Server::start().await;
    let result = call(
        &allowing_loopback(),
        "Web.URLHealth",
        json!({"url": server.url("/text")}),
    )
    .await;
    let data = data(&result);
    assert_eq!(data["available"], true);
    assert_eq!(data["status_code"], 200);
    assert_eq!(data["content_type"], "text/plain; charset=utf-8");
    assert_eq!(data["error"], Value::Null);
}

#[tokio::test]
async fn health_of_an_unreachable_url_is_unavailable_not_an_error() {
    let port = closed_port().await;
    let result = call(
        &allowing_loopback(),
        "Web.URLHealth",
        json!({"url": format!("http://127.0.0.1:{port}/")}),
    )
    .await;
    let data = data(&result);
    assert_eq!(data["available"], false);
    assert_eq!(data["status_code"], Value::Null);
    assert!(
        data["error"]
            .as_str()
            .is_some_and(|e| e.contains("Connection refused")),
        "{data}"
    );
}

#[tokio::test]
async fn health_of_an_error_status_is_unavailable_with_the_status() {
    let server = Server::start().await;
    let result = call(
        &allowing_loopback(),
        "Web.URLHealth",
        json!({"url": server.url("/missing")}),
    )
    .await;
    let data = data(&result);
    assert_eq!(data["available"], false);
    assert_eq!(data["status_code"], 404);
    assert_eq!(data["error"], "the server answered 404 Not Found");
}

#[tokio::test]
async fn health_timeout_is_unavailable() {
    let server = Server::start().await;
    let result = call(
        &allowing_loopback(),
        "Web.URLHealth",
        json!({"url": server.url("/slow"), "timeout": 1}),
    )
    .await;
    let data = data(&result);
    assert_eq!(data["available"], false);
    assert_eq!(data["error"], "no response within the 1 s timeout");
}

#[tokio::test]
async fn health_of_a_refused_url_is_still_a_403() {
    let server = Server::start().await;
    let executor = public_only();
    for url in [
        server.url("/text"),
        format!("http://localhost:{}/", server.port),
    ] {
        let result = call(&executor, "Web.URLHealth", json!({"url": url})).await;
        assert_eq!(result.status_code, 403, "{url}: {result:?}");
    }
}
