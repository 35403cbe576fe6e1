//! `Web.URLHealth`: whether a URL answers, within the network policy.

use std::time::{Duration, Instant};

use fact_runtime::{ToolContext, ToolError, tool};
use reqwest::header;
use schemars::JsonSchema;
use serde::Serialize;

use super::client::{HttpClient, Outgoing};
use super::failure::{Failure, redacted};

/// The timeout of a health check when the caller gives none, in seconds.
pub const DEFAULT_HEALTH_TIMEOUT_SECS: u64 = 10;
/// The longest timeout a caller may ask for, in seconds.
pub const MAX_HEALTH_TIMEOUT_SECS: u64 = 30;

/// The answer of `Web.URLHealth`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct UrlHealth {
    /// The URL checked, as normalized (a user name and password in it shown as `***`).
    pub url: String,
    /// True when the URL answered with a status below 400 (after following redirects).
    pub available: bool,
    /// The status of the final response, when there was one.
    pub status_code: Option<u16>,
    /// Milliseconds until the response headers arrived, or until the check failed.
    pub response_time_ms: f64,
    /// The `Content-Type` header, when present.
    pub content_type: Option<String>,
    /// The `Server` header, when present.
    pub server: Option<String>,
    /// Why the URL is not available: the error status, the failure (connection refused, a
    /// name that does not resolve, a broken response, a redirect loop), or the timeout.
    pub error: Option<String>,
}

/// Checks whether a URL is up: sends a GET, follows redirects within the network policy and
/// reports the status without reading the body. An unreachable or failing URL is a successful
/// call with `available` false and the reason in `error`: reporting that is this tool's job.
/// A URL the policy refuses is an error.
#[tool(
    name = "Web.URLHealth",
    title = "Check URL Health",
    timeout = 35,
    read_only,
    destructive = false,
    idempotent,
    open_world
)]
pub async fn url_health(
    /// The URL to check (http or https)
    url: String,
    /// Seconds to wait for the response headers, 1 to 30 (10 when absent)
    #[schemars(range(min = 1, max = 30))]
    timeout: Option<u64>,
    ctx: &ToolContext,
) -> Result<UrlHealth, ToolError> {
    let timeout = timeout.unwrap_or(DEFAULT_HEALTH_TIMEOUT_SECS);
    if !(1..=MAX_HEALTH_TIMEOUT_SECS).contains(&timeout) {
        return Err(ToolError::invalid_input(format!(
            "'timeout' must be between 1 and {MAX_HEALTH_TIMEOUT_SECS} seconds, not {timeout}"
        )));
    }
    let client = HttpClient::for_context(ctx)?;
    let url = client.checked_url(&url)?;

    let started = Instant::now();
    let request = Outgoing {
        method: reqwest::Method::GET,
        url: url.clone(),
        headers: reqwest::header::HeaderMap::new(),
        body: None,
    };
    let sent = client
        .send(request, true, Duration::from_secs(timeout))
        .await;
    let response_time_ms = started.elapsed().as_secs_f64() * 1000.0;

    let response = match sent {
        Ok(response) => response,
        Err(failure) => {
            let error = match failure {
                Failure::Refused(message) => return Err(ToolError::security(message)),
                Failure::Internal(message) => return Err(ToolError::fatal(message)),
                Failure::TimedOut => format!("no response within the {timeout} s timeout"),
                Failure::Upstream(message) => message,
            };
            return Ok(UrlHealth {
                url: redacted(&url),
                available: false,
                status_code: None,
                response_time_ms,
                content_type: None,
                server: None,
                error: Some(error),
            });
        }
    };
    let status = response.status();
    let text_header = |name: header::HeaderName| {
        response
            .headers()
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let available = status.as_u16() < 400;
    Ok(UrlHealth {
        url: redacted(&url),
        available,
        status_code: Some(status.as_u16()),
        response_time_ms,
        content_type: text_header(header::CONTENT_TYPE),
        server: text_header(header::SERVER),
        error: (!available).then(|| format!("the server answered {status}")),
    })
}
