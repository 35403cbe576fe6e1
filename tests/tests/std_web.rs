//! The `web` tools of fact-tools-std through the executor, against a real HTTP server on
//! loopback: what the network policy lets through, what it refuses, and what the tools answer.
//!
//! Nothing here needs the internet: public-address acceptance is covered by the classifier's
//! unit tests, and the "checked after DNS" behaviour by an injected lookup that maps names to
//! the loopback server.

// A test crate's root resolves `mod` next to itself, so the submodules name their folder.
#[path = "std_web/allowed_hosts.rs"]
mod allowed_hosts;
#[path = "std_web/body.rs"]
mod body;
#[path = "std_web/broken_site.rs"]
mod broken_site;
#[path = "std_web/credentials.rs"]
mod credentials;
#[path = "std_web/server.rs"]
mod server;
#[path = "std_web/text_tools.rs"]
mod text_tools;
#[path = "std_web/upstream.rs"]
mod upstream;
#[path = "std_web/url_health.rs"]
mod url_health;

use std::io;
use std::net::{IpAddr, Ipv4Addr};

use fact_runtime::{ToolCall, ToolContext, ToolExecutor, ToolResult};
use fact_tools_std::web::{HttpClient, NetworkPolicy, http_request};
use serde_json::{Value, json};

use server::{BIG_BODY_BYTES, Server};

fn executor_with(client: HttpClient) -> ToolExecutor {
    ToolExecutor::builder()
        .extension(client)
        .build()
        .expect("registry builds")
}

/// Loopback 127.0.0.1 allowed, nothing else.
fn allowing_loopback() -> ToolExecutor {
    executor_with(HttpClient::new(
        NetworkPolicy::default().allow_host("127.0.0.1"),
    ))
}

/// The default policy: public addresses only.
fn public_only() -> ToolExecutor {
    executor_with(HttpClient::new(NetworkPolicy::default()))
}

/// A client whose "DNS" maps every name in `names` to 127.0.0.1 and knows no other.
fn resolving_to_loopback(policy: NetworkPolicy, names: &'static [&'static str]) -> HttpClient {
    HttpClient::with_lookup(policy, move |host: String| async move {
        if names.contains(&host.as_str()) {
            Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)])
        } else {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no such host {host}"),
            ))
        }
    })
    .expect("client builds")
}

async fn call(executor: &ToolExecutor, tool: &str, arguments: Value) -> ToolResult {
    executor
        .execute_tool_call(ToolCall::new(tool, arguments))
        .await
}

async fn get_url(executor: &ToolExecutor, url: &str) -> ToolResult {
    call(executor, "Web.HTTPRequest", json!({"url": url})).await
}

fn data(result: &ToolResult) -> &Value {
    assert!(result.success, "{result:?}");
    result.data.as_ref().expect("a successful call has data")
}

fn error(result: &ToolResult) -> &str {
    result.error.as_deref().expect("a failed call has an error")
}

/// A loopback port nothing listens on.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind a loopback port");
    listener.local_addr().expect("bound address").port()
}

// --- reaching the loopback server when it is allowed ---

#[tokio::test]
async fn allowed_loopback_server_answers_with_parsed_json() {
    let server = Server::start().await;
    let result = get_url(&allowing_loopback(), &server.url("/json")).await;
    assert_eq!(result.status_code, 200, "{result:?}");
    let data = data(&result);
    assert_eq!(data["status_code"], 200);
    assert_eq!(data["body"], json!({"greeting": "héllo wörld ✓", "n": 1}));
    assert_eq!(data["content_type"], "application/json");
    assert_eq!(data["truncated"], false);
    assert!(data["response_time_ms"].as_f64().is_some(), "{data}");
    assert_eq!(
        data["content_length"].as_u64(),
        Some(r#"{"greeting":"héllo wörld ✓","n":1}"#.len() as u64)
    );
}

#[tokio::test]
async fn text_responses_come_back_as_text_with_their_headers() {
    let server = Server::start().await;
    let result = get_url(&allowing_loopback(), &server.url("/text")).await;
    let data = data(&result);
    assert_eq!(data["body"], "plain text");
    assert_eq!(data["headers"]["content-type"], "text/plain; charset=utf-8");
    assert_eq!(data["headers"]["content-length"], "10");
}

#[tokio::test]
async fn method_headers_body_and_ampersand_queries_reach_the_server() {
    let server = Server::start().await;
    let result = call(
        &allowing_loopback(),
        "Web.HTTPRequest",
        json!({
            "url": server.url("/echo?a=1&b=two%20words&c=ü"),
            "method": "POST",
            "headers": {"X-Test": "value with spaces & symbols"},
            "body": "{\"k\": \"ünïcode\"}",
        }),
    )
    .await;
    let body = &data(&result)["body"];
    assert_eq!(body["method"], "POST");
    assert_eq!(body["query"], "a=1&b=two%20words&c=%C3%BC");
    assert_eq!(body["x_test"], "value with spaces & symbols");
    assert_eq!(body["body"], "{\"k\": \"ünïcode\"}");
    assert_eq!(body["host"], format!("127.0.0.1:{}", server.port));
}

#[tokio::test]
async fn head_requests_return_status_and_no_body() {
    let server = Server::start().await;
    let result = call(
        &allowing_loopback(),
        "Web.HTTPRequest",
        json!({"url": server.url("/text"), "method": "HEAD"}),
    )
    .await;
    let data = data(&result);
    assert_eq!(data["status_code"], 200);
    assert_eq!(data["body"], "");
    assert_eq!(data["content_length"], 0);
}

#[tokio::test]
async fn allowed_address_is_recognized_however_it_is_written() {
    let server = Server::start().await;
    let hex = format!("http://0x7f.0.0.1:{}/text", server.port);
    let result = get_url(&allowing_loopback(), &hex).await;
    assert_eq!(data(&result)["body"], "plain text");
}

#[tokio::test]
async fn direct_calls_use_the_client_in_the_context() {
    let server = Server::start().await;
    let client = HttpClient::new(NetworkPolicy::default().allow_host("127.0.0.1"));
    let ctx = ToolContext::new("Web.HTTPRequest").with_extension(client);
    let response = http_request(server.url("/text"), None, None, None, None, None, &ctx)
        .await
        .expect("allowed");
    assert_eq!(response.body, json!("plain text"));
}

// --- the network policy refuses ---

#[tokio::test]
async fn loopback_server_is_refused_without_the_allowance() {
    let server = Server::start().await;
    let result = get_url(&public_only(), &server.url("/json")).await;
    assert_eq!(result.status_code, 403, "{result:?}");
    assert_eq!(
        error(&result),
        "refused: 127.0.0.1 is a loopback address; add the host to ALLOWED_HOSTS to allow it"
    );
    assert_eq!(result.metadata.error_type.as_deref(), Some("SecurityError"));
}

#[tokio::test]
async fn every_spelling_of_an_internal_address_is_refused() {
    let executor = allowing_loopback();
    for url in [
        "http://2130706434/",
        "http://0x7f.0.0.2/",
        "http://0177.0.0.2/",
        "http://[::ffff:127.0.0.2]/",
        "http://[::1]/",
        "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/admin",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[fd00::1]/",
        "http://[64:ff9b::7f00:1]/",
    ] {
        let result = get_url(&executor, url).await;
        assert_eq!(result.status_code, 403, "{url}: {result:?}");
        assert!(error(&result).starts_with("refused: "), "{url}: {result:?}");
    }
}

#[tokio::test]
async fn integer_ipv4_is_refused_as_the_loopback_address_it_is() {
    let result = get_url(&public_only(), "http://2130706433/").await;
    assert_eq!(
        error(&result),
        "refused: 127.0.0.1 is a loopback address; add the host to ALLOWED_HOSTS to allow it"
    );
}

#[tokio::test]
async fn metadata_address_is_refused_as_link_local() {
    let result = get_url(&public_only(), "http://169.254.169.254/latest/meta-data/").await;
    assert_eq!(result.status_code, 403);
    assert!(
        error(&result).contains("169.254.169.254 is a link-local address"),
        "{result:?}"
    );
}

#[tokio::test]
async fn schemes_other_than_http_and_https_are_refused() {
    let executor = allowing_loopback();
    for (url, scheme) in [
        ("file:///etc/passwd", "file"),
        ("ftp://internal.server/data", "ftp"),
        ("gopher://127.0.0.1:70/_", "gopher"),
    ] {
        let result = get_url(&executor, url).await;
        assert_eq!(result.status_code, 403, "{url}: {result:?}");
        assert_eq!(
            error(&result),
            format!("refused: the scheme '{scheme}' is not allowed; only http and https are")
        );
    }
}

#[tokio::test]
async fn localhost_is_refused_after_resolution_even_when_its_address_is_allowed() {
    let server = Server::start().await;
    let url = format!("http://localhost:{}/json", server.port);
    let result = get_url(&allowing_loopback(), &url).await;
    assert_eq!(result.status_code, 403, "{result:?}");
    assert!(
        error(&result)
            .starts_with("refused: localhost resolves to a loopback address, not a public address"),
        "{result:?}"
    );
    // The kind of address, never the address: refusals do not map internal names.
    assert!(!error(&result).contains("127.0.0.1"), "{result:?}");
}

#[tokio::test]
async fn a_public_looking_name_resolving_to_loopback_is_refused() {
    let server = Server::start().await;
    let client = resolving_to_loopback(NetworkPolicy::default(), &["public.example"]);
    let url = format!("http://public.example:{}/json", server.port);
    let result = get_url(&executor_with(client), &url).await;
    assert_eq!(result.status_code, 403, "{result:?}");
    assert!(
        error(&result).contains("public.example resolves to a loopback address"),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_allowed_name_is_connected_to_at_the_address_it_resolves_to() {
    let server = Server::start().await;
    let client = resolving_to_loopback(
        NetworkPolicy::default().allow_host("api.internal"),
        &["api.internal"],
    );
    let url = format!("http://API.internal:{}/echo", server.port);
    let result = get_url(&executor_with(client), &url).await;
    assert_eq!(
        data(&result)["body"]["host"],
        format!("api.internal:{}", server.port)
    );
}

#[tokio::test]
async fn caller_set_host_header_is_refused() {
    let server = Server::start().await;
    let result = call(
        &allowing_loopback(),
        "Web.HTTPRequest",
        json!({"url": server.url("/echo"), "headers": {"Host": "admin.internal"}}),
    )
    .await;
    assert_eq!(result.status_code, 403, "{result:?}");
    assert!(error(&result).contains("'Host' header"), "{result:?}");
}

#[tokio::test]
async fn invalid_header_is_a_400_naming_it() {
    let server = Server::start().await;
    let executor = allowing_loopback();
    for (headers, named) in [
        (json!({"X-Ok": "1", "Bad Name": "x"}), "\"Bad Name\""),
        (json!({"X-Split": "a\r\nInjected: yes"}), "\"X-Split\""),
    ] {
        let result = call(
            &executor,
            "Web.HTTPRequest",
            json!({"url": server.url("/echo"), "headers": headers}),
        )
        .await;
        assert_eq!(result.status_code, 400, "{result:?}");
        assert!(error(&result).contains(named), "{result:?}");
    }
}

#[tokio::test]
async fn malformed_url_is_a_400() {
    let result = get_url(&public_only(), "not a url").await;
    assert_eq!(result.status_code, 400, "{result:?}");
    assert!(
        error(&result).contains("'url' is not a valid URL"),
        "{result:?}"
    );
}

// --- redirects ---

#[tokio::test]
async fn redirects_within_the_policy_are_followed() {
    let server = Server::start().await;
    let target = server.url("/json");
    let result = get_url(
        &allowing_loopback(),
        &server.url(&format!("/redirect?to={target}")),
    )
    .await;
    let data = data(&result);
    assert_eq!(data["status_code"], 200);
    assert_eq!(data["url"], target);
    assert_eq!(data["body"]["n"], 1);
}

#[tokio::test]
async fn follow_redirects_false_returns_the_redirect_itself() {
    let server = Server::start().await;
    let result = call(
        &allowing_loopback(),
        "Web.HTTPRequest",
        json!({"url": server.url("/redirect?to=/json"), "follow_redirects": false}),
    )
    .await;
    let data = data(&result);
    assert_eq!(data["status_code"], 302);
    assert_eq!(data["headers"]["location"], "/json");
}

#[tokio::test]
async fn redirect_to_a_refused_address_is_refused_at_the_hop() {
    let server = Server::start().await;
    let executor = allowing_loopback();
    for (target, names) in [
        (
            format!("http://127.0.0.2:{}/json", server.port),
            "127.0.0.2 is a loopback address",
        ),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "169.254.169.254 is a link-local address",
        ),
        (
            format!("http://localhost:{}/json", server.port),
            "localhost resolves to a loopback address",
        ),
    ] {
        let result = get_url(&executor, &server.url(&format!("/redirect?to={target}"))).await;
        assert_eq!(result.status_code, 403, "{target}: {result:?}");
        assert!(error(&result).contains(names), "{target}: {result:?}");
        // Whether refused by its URL or by what its name resolves to, the refusal says it
        // happened at a redirect.
        assert!(
            error(&result).contains("(at a redirect "),
            "{target}: {result:?}"
        );
    }
}

#[tokio::test]
async fn redirects_change_the_method_as_browsers_do() {
    let server = Server::start().await;
    let executor = allowing_loopback();
    for (status, method, body) in [
        (301, "GET", ""),
        (302, "GET", ""),
        (303, "GET", ""),
        (307, "POST", "payload"),
        (308, "POST", "payload"),
    ] {
        let url = server.url(&format!("/redirect?status={status}&to=/echo"));
        let result = call(
            &executor,
            "Web.HTTPRequest",
            json!({"url": url, "method": "POST", "body": "payload"}),
        )
        .await;
        let echoed = &data(&result)["body"];
        assert_eq!(echoed["method"], json!(method), "{status}: {result:?}");
        assert_eq!(echoed["body"], json!(body), "{status}: {result:?}");
    }
}

#[tokio::test]
async fn credentials_do_not_follow_a_redirect_to_another_host() {
    let server = Server::start().await;
    let policy = NetworkPolicy::default()
        .allow_host("a.test")
        .allow_host("b.test");
    let executor = executor_with(resolving_to_loopback(policy, &["a.test", "b.test"]));
    let port = server.port;
    for (to, kept) in [
        (format!("http://a.test:{port}/echo"), true),
        (format!("http://b.test:{port}/echo"), false),
    ] {
        let url = format!("http://a.test:{port}/redirect?to={to}");
        let result = call(
            &executor,
            "Web.HTTPRequest",
            json!({"url": url, "headers": {"Authorization": "Bearer secret"}}),
        )
        .await;
        let expected = if kept {
            json!("Bearer secret")
        } else {
            json!(null)
        };
        assert_eq!(data(&result)["body"]["authorization"], expected, "{to}");
    }
}

#[tokio::test]
async fn a_redirect_to_another_scheme_is_not_followed() {
    let server = Server::start().await;
    let result = get_url(
        &allowing_loopback(),
        &server.url("/redirect?to=file:///etc/passwd"),
    )
    .await;
    let data = data(&result);
    assert_eq!(data["status_code"], 302);
    assert_eq!(data["headers"]["location"], "file:///etc/passwd");
    assert_eq!(data["body"], "");
}

#[tokio::test]
async fn a_redirect_refusal_says_where_the_redirect_came_from() {
    let server = Server::start().await;
    let start = server.url("/redirect?to=http://10.0.0.1/");
    let result = get_url(&allowing_loopback(), &start).await;
    assert_eq!(
        error(&result),
        format!(
            "refused: 10.0.0.1 is a private address; add the host to ALLOWED_HOSTS to allow it (at a redirect from {start})"
        )
    );
}

// --- body cap and timeout ---

#[tokio::test]
async fn bodies_over_the_cap_are_cut_and_say_so() {
    let server = Server::start().await;
    let executor = executor_with(HttpClient::new(
        NetworkPolicy::default()
            .allow_host("127.0.0.1")
            .max_body_bytes(1000),
    ));
    let result = get_url(&executor, &server.url("/big")).await;
    let data = data(&result);
    assert_eq!(data["truncated"], true);
    assert_eq!(data["content_length"], 1000);
    assert_eq!(data["body"].as_str().map(str::len), Some(1000));
    assert_eq!(
        data["headers"]["content-length"],
        BIG_BODY_BYTES.to_string()
    );
}

#[tokio::test]
async fn bodies_within_the_cap_are_whole() {
    let server = Server::start().await;
    let result = get_url(&allowing_loopback(), &server.url("/big")).await;
    let data = data(&result);
    assert_eq!(data["truncated"], false);
    assert_eq!(data["content_length"], BIG_BODY_BYTES);
}

#[tokio::test]
async fn the_timeout_parameter_bounds_the_wait() {
    let server = Server::start().await;
    let result = call(
        &allowing_loopback(),
        "Web.HTTPRequest",
        json!({"url": server.url("/slow"), "timeout": 1}),
    )
    .await;
    assert_eq!(result.status_code, 504, "{result:?}");
    assert!(
        error(&result).contains("within the 1 s timeout"),
        "{result:?}"
    );
}

#[tokio::test]
async fn out_of_range_timeout_and_unknown_method_are_400() {
    let executor = allowing_loopback();
    for arguments in [
        json!({"url": "http://127.0.0.1/", "timeout": 0}),
        json!({"url": "http://127.0.0.1/", "timeout": 61}),
        json!({"url": "http://127.0.0.1/", "method": "TRACE"}),
    ] {
        let result = call(&executor, "Web.HTTPRequest", arguments.clone()).await;
        assert_eq!(result.status_code, 400, "{arguments}: {result:?}");
    }
}

// --- the tools are registered ---

#[test]
fn the_four_web_tools_are_linked() {
    let executor = public_only();
    for name in [
        "Web.HTTPRequest",
        "Web.URLHealth",
        "Web.ParseJSON",
        "Web.ExtractURLs",
    ] {
        let info = executor.tool_info(name);
        assert!(info.is_some(), "{name} is not registered");
    }
}

#[test]
fn http_request_schema_states_the_method_enum_and_timeout_range() {
    let executor = public_only();
    let schema = &executor
        .tool_info("Web.HTTPRequest")
        .expect("registered")
        .input_schema;
    assert_eq!(schema["required"], json!(["url"]), "{schema}");
    let timeout = &schema["properties"]["timeout"];
    assert_eq!(
        (&timeout["minimum"], &timeout["maximum"]),
        (&json!(1), &json!(60))
    );
    let method = schema["properties"]["method"].to_string();
    for name in ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] {
        assert!(method.contains(&format!("\"{name}\"")), "{method}");
    }
}
