//! A site that fails is the upstream's failure, not the tool's: `Web.HTTPRequest` answers 502
//! `UpstreamError` naming the cause, `Web.URLHealth` answers `available: false` with it, and
//! policy refusals (403) and timeouts (504) keep their own answers.

use std::io;

use fact_runtime::ToolResult;
use fact_tools_std::web::{HttpClient, NetworkPolicy};
use serde_json::json;

use super::broken_site::{Breakage, BrokenSite};
use super::server::Server;
use super::{allowing_loopback, call, closed_port, data, error, executor_with, public_only};

/// `Web.HTTPRequest` of `url`, bounded by a 10 s timeout (the failures come at once).
async fn request(executor: &fact_runtime::ToolExecutor, url: &str) -> ToolResult {
    call(
        executor,
        "Web.HTTPRequest",
        json!({"url": url, "timeout": 10}),
    )
    .await
}

fn assert_upstream(result: &ToolResult, naming: &[&str]) {
    assert_eq!(result.status_code, 502, "{result:?}");
    assert_eq!(
        result.metadata.error_type.as_deref(),
        Some("UpstreamError"),
        "{result:?}"
    );
    for part in naming {
        assert!(error(result).contains(part), "{part:?} in {result:?}");
    }
}

#[tokio::test]
async fn a_refused_connection_is_a_502_naming_the_address() {
    let port = closed_port().await;
    let result = request(&allowing_loopback(), &format!("http://127.0.0.1:{port}/x")).await;
    assert_upstream(
        &result,
        &[
            &format!("could not connect to 127.0.0.1:{port}"),
            "Connection refused",
        ],
    );
}

#[tokio::test]
async fn a_site_that_closes_the_connection_at_once_is_a_502() {
    let site = BrokenSite::start(Breakage::ClosesAtOnce).await;
    let result = request(&allowing_loopback(), &site.url()).await;
    assert_upstream(&result, &[&site.url()]);
}

#[tokio::test]
async fn a_flood_of_response_headers_is_a_502() {
    let site = BrokenSite::start(Breakage::FloodsHeaders).await;
    let result = request(&allowing_loopback(), &site.url()).await;
    assert_upstream(
        &result,
        &[&format!(
            "{} did not answer with a valid HTTP response",
            site.url()
        )],
    );
}

#[tokio::test]
async fn a_body_cut_before_its_end_is_a_502() {
    for breakage in [Breakage::ShortBody, Breakage::CutChunkedBody] {
        let site = BrokenSite::start(breakage).await;
        let result = request(&allowing_loopback(), &site.url()).await;
        assert_upstream(
            &result,
            &[&format!(
                "the response from {} broke off in its body",
                site.url()
            )],
        );
    }
}

#[tokio::test]
async fn a_redirect_loop_is_a_502_after_ten_hops() {
    let server = Server::start().await;
    let result = request(&allowing_loopback(), &server.url("/loop")).await;
    assert_upstream(
        &result,
        &[
            &format!("stopped after 10 redirects from {}", server.url("/loop")),
            "redirects in a loop or too often",
        ],
    );
}

#[tokio::test]
async fn a_name_that_does_not_resolve_is_a_502() {
    // RFC 2606: `.invalid` never resolves, so the system resolver answers at once.
    let result = request(&public_only(), "http://nowhere.invalid/x").await;
    assert_upstream(&result, &["could not resolve nowhere.invalid"]);
}

#[tokio::test]
async fn a_name_with_no_address_or_a_failing_resolver_is_a_502() {
    let client = HttpClient::with_lookup(NetworkPolicy::default(), |host: String| async move {
        if host == "empty.test" {
            Ok(Vec::new())
        } else {
            Err(io::Error::other("the resolver is down"))
        }
    })
    .expect("client builds");
    let executor = executor_with(client);
    let result = request(&executor, "http://empty.test/").await;
    assert_upstream(
        &result,
        &["could not resolve empty.test: the name has no address"],
    );
    let result = request(&executor, "http://down.test/").await;
    assert_upstream(
        &result,
        &["could not resolve down.test: the resolver is down"],
    );
}

#[tokio::test]
async fn url_health_reports_each_upstream_failure_as_unavailable() {
    let closes = BrokenSite::start(Breakage::ClosesAtOnce).await;
    let floods = BrokenSite::start(Breakage::FloodsHeaders).await;
    let server = Server::start().await;
    let executor = allowing_loopback();
    for (url, cause) in [
        (closes.url(), closes.url()),
        (floods.url(), floods.url()),
        (server.url("/loop"), "stopped after 10 redirects".to_owned()),
        (
            "http://nowhere.invalid/".to_owned(),
            "could not resolve nowhere.invalid".to_owned(),
        ),
    ] {
        let result = call(
            &executor,
            "Web.URLHealth",
            json!({"url": url, "timeout": 10}),
        )
        .await;
        let data = data(&result);
        assert_eq!(data["available"], false, "{url}: {data}");
        assert_eq!(data["status_code"], json!(null), "{url}: {data}");
        let reported = data["error"].as_str().unwrap_or_default();
        assert!(reported.contains(&cause), "{url}: {data}");
    }
}
