//! A user name and password written into a URL are never echoed: not in answers, not in
//! refusals, not in failures.

use serde_json::json;

use super::server::Server;
use super::{allowing_loopback, call, closed_port, data, error};

const SECRET: &str = "s3cret-pass";

/// `url` with `alice:s3cret-pass@` before its host.
fn with_credentials(url: &str) -> String {
    url.replacen("http://", &format!("http://alice:{SECRET}@"), 1)
}

fn assert_hidden(text: &str) {
    assert!(!text.contains(SECRET), "the password leaks: {text}");
    assert!(!text.contains("alice"), "the user name leaks: {text}");
}

#[tokio::test]
async fn a_redirect_refusal_shows_the_url_without_its_credentials() {
    let server = Server::start().await;
    let start = with_credentials(&server.url("/redirect?to=http://10.0.0.1/"));
    let result = call(
        &allowing_loopback(),
        "Web.HTTPRequest",
        json!({"url": start}),
    )
    .await;
    assert_eq!(result.status_code, 403, "{result:?}");
    assert_hidden(error(&result));
    assert!(
        error(&result).contains(&format!(
            "(at a redirect from http://***:***@127.0.0.1:{}/redirect",
            server.port
        )),
        "{result:?}"
    );
}

#[tokio::test]
async fn url_health_echoes_the_url_without_its_credentials() {
    let server = Server::start().await;
    let url = with_credentials(&server.url("/text"));
    let result = call(&allowing_loopback(), "Web.URLHealth", json!({"url": url})).await;
    let data = data(&result);
    assert_eq!(data["available"], true);
    assert_eq!(
        data["url"],
        format!("http://***:***@127.0.0.1:{}/text", server.port)
    );
}

#[tokio::test]
async fn http_request_answers_and_failures_do_not_echo_credentials() {
    let server = Server::start().await;
    let executor = allowing_loopback();
    let answered = call(
        &executor,
        "Web.HTTPRequest",
        json!({"url": with_credentials(&server.url("/echo"))}),
    )
    .await;
    assert_hidden(&data(&answered)["url"].to_string());

    let port = closed_port().await;
    for arguments in [
        json!({"url": with_credentials(&server.url("/loop"))}),
        json!({"url": with_credentials(&format!("http://127.0.0.1:{port}/"))}),
        json!({"url": with_credentials(&server.url("/slow")), "timeout": 1}),
    ] {
        let result = call(&executor, "Web.HTTPRequest", arguments.clone()).await;
        assert!(!result.success, "{arguments}: {result:?}");
        assert_hidden(error(&result));
    }
}
