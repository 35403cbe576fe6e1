//! Rate limits through `fact serve`'s environment: `FACT_RATE_LIMIT_*` turn them on, a value
//! that does not parse stops the server naming its variable, and `REDIS_URL` selects the
//! shared store, whose outage the store-error policy decides (Redis itself is tested in
//! tests/tests/rate_limit_redis.rs; here it is a port where nothing listens).

use std::net::{SocketAddr, TcpListener};

use serde_json::{Value, json};

use crate::support::*;

/// A password that must never reach the log.
const REDIS_PASSWORD: &str = "redis-secret-pass";

/// A loopback port where nothing listens (it was free a moment ago).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

/// `POST /v1/tools/execute` of `Web.ParseJSON`: the status, the `Retry-After` header and the
/// result.
fn parse_json(addr: SocketAddr) -> (u16, Option<String>, Value) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the client");
    runtime.block_on(async {
        let response = http_client()
            .post(format!("http://{addr}/v1/tools/execute"))
            .bearer_auth(API_KEY)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(json!({"tool_name": "Web.ParseJSON", "input": {"json_text": "[1]"}}).to_string())
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.expect("a body");
        (
            status,
            retry_after,
            serde_json::from_str(&text).expect("JSON"),
        )
    })
}

#[test]
fn serve_help_lists_the_rate_limit_variables() {
    let scratch = Scratch::new("serve-help-rate-limits");
    let output = run(scratch.fact().args(["serve", "--help"]));

    assert!(output.status.success(), "{output:?}");
    let help = stdout(&output);
    for variable in fact_runtime::RATE_LIMIT_VARIABLES {
        assert!(help.contains(variable), "no {variable} in:\n{help}");
    }
}

#[test]
fn serve_limits_each_user_as_fact_rate_limit_per_minute_says() {
    let scratch = Scratch::new("serve-rate-limit");
    let mut server = Server::start(
        scratch
            .serve()
            .env("FACT_RATE_LIMIT_PER_MINUTE", "2")
            .env("FACT_RATE_LIMIT_TOOLS", "Web.ExtractURLs=1"),
    );
    let addr = server.addr();
    assert!(
        server.log().contains(
            "rate limits: 2 calls a minute per user; Web.ExtractURLs: 1 a minute; counted in process"
        ),
        "{}",
        server.log()
    );

    assert_eq!(parse_json(addr).0, 200);
    assert_eq!(parse_json(addr).0, 200);
    let (status, retry_after, result) = parse_json(addr);

    assert_eq!(status, 429, "{result}");
    assert_eq!(
        result["metadata"]["error_type"], "RateLimitError",
        "{result}"
    );
    let wait = result["metadata"]["retry_after_ms"].as_u64().unwrap_or(0);
    assert!((1..=30_000).contains(&wait), "{result}");
    assert!(retry_after.is_some(), "a 429 without Retry-After");
}

#[test]
fn a_rate_limit_setting_that_does_not_parse_stops_serve_naming_its_variable() {
    let scratch = Scratch::new("serve-rate-limit-bad");
    for (variable, value, says) in [
        (
            "FACT_RATE_LIMIT_PER_MINUTE",
            "sixty",
            "'sixty' is not a whole number",
        ),
        ("FACT_RATE_LIMIT_BURST", "0", "'0' is not a whole number"),
        (
            "FACT_RATE_LIMIT_BY_USER",
            "perhaps",
            "'perhaps' is not a boolean",
        ),
        (
            "FACT_RATE_LIMIT_TOOLS",
            "Web.ParseJSON:5",
            "entry 'Web.ParseJSON:5' has no '='",
        ),
        (
            "FACT_RATE_LIMIT_ON_STORE_ERROR",
            "open",
            "neither 'deny' nor 'allow'",
        ),
        (
            "REDIS_URL",
            "http://:redis-secret-pass@cache",
            "expected redis://",
        ),
    ] {
        let mut command = scratch.serve();
        if variable != "FACT_RATE_LIMIT_PER_MINUTE" {
            command.env("FACT_RATE_LIMIT_PER_MINUTE", "60");
        }
        let output = run(command.env(variable, value));
        assert_eq!(output.status.code(), Some(3), "{variable}: {output:?}");
        let errors = stderr(&output);
        assert!(
            errors.contains(&format!("fact: {variable} is not valid: ")),
            "{errors}"
        );
        assert!(errors.contains(says), "{errors}");
        assert!(!errors.contains(REDIS_PASSWORD), "{errors}");
    }
}

#[test]
fn a_tool_quota_naming_no_tool_stops_serve_naming_the_tool() {
    let scratch = Scratch::new("serve-rate-limit-unknown-tool");
    let output = run(scratch
        .serve()
        .env("FACT_RATE_LIMIT_PER_MINUTE", "60")
        .env("FACT_RATE_LIMIT_TOOLS", "Web.Nope=5"));

    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let errors = stderr(&output);
    assert!(errors.contains("names tool 'Web.Nope'"), "{errors}");
}

#[test]
fn with_redis_unreachable_serve_starts_and_denies_calls_with_503_and_retry_after() {
    let scratch = Scratch::new("serve-redis-down");
    let port = closed_port();
    let mut server = Server::start(scratch.serve().env("FACT_RATE_LIMIT_PER_MINUTE", "60").env(
        "REDIS_URL",
        format!("redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/0"),
    ));
    let addr = server.addr();

    let (status, retry_after, result) = parse_json(addr);

    assert_eq!(status, 503, "{result}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert_eq!(
        result["metadata"]["error_type"], "ServiceUnavailableError",
        "{result}"
    );
    let log = server.log();
    assert!(
        log.contains(&format!("REDIS_URL=redis://****@127.0.0.1:{port}/0")),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "counted in Redis at 127.0.0.1:{port}/0 (on store error: deny)"
        )),
        "{log}"
    );
    assert!(
        log.contains("the rate-limit store does not answer yet"),
        "{log}"
    );
    assert!(!log.contains(REDIS_PASSWORD), "{log}");
}

#[test]
fn with_redis_unreachable_and_the_allow_policy_serve_runs_calls() {
    let scratch = Scratch::new("serve-redis-down-allow");
    let mut server = Server::start(
        scratch
            .serve()
            .env("FACT_RATE_LIMIT_PER_MINUTE", "1")
            .env("FACT_RATE_LIMIT_ON_STORE_ERROR", "allow")
            .env("REDIS_URL", format!("redis://127.0.0.1:{}", closed_port())),
    );
    let addr = server.addr();

    for _ in 0..3 {
        let (status, _, result) = parse_json(addr);
        assert_eq!(status, 200, "{result}");
    }
}
