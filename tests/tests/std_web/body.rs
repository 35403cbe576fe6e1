//! What `Web.HTTPRequest` makes of a body: decoded by its charset, never dropping bytes
//! silently, and within its cap as measured in the JSON answer.

use fact_tools_std::web::{HttpClient, NetworkPolicy};
use serde_json::Value;

use super::server::{NUL_BODY_BYTES, Server, exponents_body};
use super::{allowing_loopback, data, executor_with, get_url};

fn capped_at(cap: usize) -> fact_runtime::ToolExecutor {
    executor_with(HttpClient::new(
        NetworkPolicy::default()
            .allow_host("127.0.0.1")
            .max_body_bytes(cap),
    ))
}

/// The body's size in the answer: its JSON, without the quotes of a string.
fn answer_len(body: &Value) -> usize {
    let written = serde_json::to_string(body).expect("serializes").len();
    if body.is_string() {
        written - 2
    } else {
        written
    }
}

#[tokio::test]
async fn a_latin1_body_is_decoded_by_its_charset() {
    let server = Server::start().await;
    let result = get_url(&allowing_loopback(), &server.url("/latin1")).await;
    let data = data(&result);
    assert_eq!(data["body"], "café");
    assert_eq!(data["charset"], "windows-1252");
    assert_eq!(data["decoding_error"], Value::Null);
    assert_eq!(data["truncated"], false);
    assert_eq!(data["content_length"], 4);
}

#[tokio::test]
async fn bytes_that_do_not_decode_are_replaced_and_said_so() {
    let server = Server::start().await;
    let result = get_url(&allowing_loopback(), &server.url("/not-utf8")).await;
    let data = data(&result);
    assert_eq!(data["body"], "caf\u{fffd}");
    assert_eq!(data["charset"], "UTF-8");
    assert_eq!(
        data["decoding_error"],
        "the body is not valid UTF-8: bytes that do not decode were replaced by U+FFFD"
    );
    assert_eq!(data["truncated"], false);
}

#[tokio::test]
async fn the_cap_bounds_the_body_as_written_in_the_answer_not_only_as_read() {
    let server = Server::start().await;
    let cap = 1000;
    let result = get_url(&capped_at(cap), &server.url("/nuls")).await;
    let answer = data(&result);
    assert_eq!(answer["truncated"], true);
    assert!(
        answer_len(&answer["body"]) <= cap,
        "{}",
        answer_len(&answer["body"])
    );
    // Cut at the cap, not far below it: 166 NULs of 6 bytes each.
    assert_eq!(answer["body"].as_str().map(str::len), Some(cap / 6));
    // The whole answer stays near the cap, not six times it.
    let sent = serde_json::to_string(&result).expect("serializes");
    assert!(sent.len() < 2 * cap, "{} bytes", sent.len());
    // Under a cap that holds the whole body as written, it is whole.
    let result = get_url(&capped_at(6 * NUL_BODY_BYTES), &server.url("/nuls")).await;
    assert_eq!(data(&result)["truncated"], false);
}

#[tokio::test]
async fn a_json_body_that_outgrows_the_cap_when_written_comes_back_as_text() {
    let server = Server::start().await;
    let source = exponents_body();
    let result = get_url(&capped_at(source.len()), &server.url("/exponents")).await;
    // Parsed, `9e9` would be written `9000000000.0`: four times the cap.
    assert_eq!(data(&result)["body"], Value::String(source.clone()));
    assert_eq!(data(&result)["truncated"], false);

    let result = get_url(&capped_at(4 * source.len()), &server.url("/exponents")).await;
    assert!(data(&result)["body"].is_array(), "{result:?}");
}
