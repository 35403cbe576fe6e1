//! `Web.HTTPRequest`: one HTTP request within the network policy.

use std::collections::BTreeMap;
use std::time::Instant;

use fact_runtime::{ToolContext, ToolError, tool};
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::body::Body;
use super::client::{HttpClient, Outgoing, read_capped};
use super::failure::{Failure, redacted};

/// The timeout of a request when the caller gives none, in seconds.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;
/// The longest timeout a caller may ask for, in seconds.
pub const MAX_REQUEST_TIMEOUT_SECS: u64 = 60;

/// An HTTP method the tool sends: `GET` (the default), `POST`, `PUT`, `PATCH`, `DELETE`, or
/// `HEAD` (whose response has no body). The variants carry no doc comments on purpose: that
/// keeps their schema a plain `enum` of strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
}

impl From<HttpMethod> for reqwest::Method {
    fn from(method: HttpMethod) -> Self {
        match method {
            HttpMethod::Get => Self::GET,
            HttpMethod::Post => Self::POST,
            HttpMethod::Put => Self::PUT,
            HttpMethod::Patch => Self::PATCH,
            HttpMethod::Delete => Self::DELETE,
            HttpMethod::Head => Self::HEAD,
        }
    }
}

/// The response to `Web.HTTPRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct HttpResponse {
    /// The URL that answered, after any redirects (a user name and password in it shown as
    /// `***`).
    pub url: String,
    /// The HTTP status code of the final response (a 404 or 500 from the server is still a
    /// successful call).
    pub status_code: u16,
    /// Response headers, names in lowercase; repeated headers are joined with ", ".
    pub headers: BTreeMap<String, String>,
    /// The `Content-Type` header, when present.
    pub content_type: Option<String>,
    /// The parsed JSON value when the response is JSON (`application/json` or `+json`),
    /// complete and within the cap; otherwise the body as text, decoded by `charset`.
    pub body: Value,
    /// The encoding the body was decoded from, by its WHATWG name: the `charset` of the
    /// `Content-Type` (`ISO-8859-1` reads as `windows-1252`, as in browsers), the one a byte
    /// order mark names, or `UTF-8`.
    pub charset: String,
    /// Why the body text is not exactly the bytes received, decoded: bytes invalid in the
    /// charset (replaced by U+FFFD), or a charset this tool does not know (decoded as UTF-8).
    /// Null when the text is exact.
    pub decoding_error: Option<String>,
    /// Bytes of body received (at most the policy's cap); `body` holds all of them, or when
    /// `truncated`, the part that fits.
    pub content_length: usize,
    /// Milliseconds from sending the request to reading the end of the body.
    pub response_time_ms: f64,
    /// True when the body was longer than the cap and has been cut. The cap bounds both the
    /// bytes read and the body's size in this JSON answer (where a control character takes
    /// up to 6 bytes); a truncated JSON body is returned as text.
    pub truncated: bool,
}

/// Makes an HTTP request to a public address (or a host allowed by ALLOWED_HOSTS) and returns
/// the status, headers and body. JSON responses are parsed; text is decoded by its charset.
/// A site that cannot be reached or answers with a broken response is a 502.
// POST, PUT, PATCH and DELETE may change or delete what the site holds, and a POST repeated
// may act twice: not read-only, destructive, not idempotent.
#[tool(
    name = "Web.HTTPRequest",
    title = "Send HTTP Request",
    timeout = 65,
    read_only = false,
    destructive,
    idempotent = false,
    open_world
)]
pub async fn http_request(
    /// The URL to request (http or https)
    url: String,
    /// The HTTP method (GET when absent)
    method: Option<HttpMethod>,
    /// Request headers, name to value (the Host header is set from the URL and cannot be
    /// overridden)
    headers: Option<BTreeMap<String, String>>,
    /// The request body, sent as is (at most 1,000,000 characters)
    #[schemars(length(max = 1000000))]
    body: Option<String>,
    /// Seconds to wait for the complete response, 1 to 60 (30 when absent)
    #[schemars(range(min = 1, max = 60))]
    timeout: Option<u64>,
    /// Whether to follow redirects (at most 10, each checked against the network policy);
    /// true when absent
    follow_redirects: Option<bool>,
    ctx: &ToolContext,
) -> Result<HttpResponse, ToolError> {
    let timeout = timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT_SECS);
    if !(1..=MAX_REQUEST_TIMEOUT_SECS).contains(&timeout) {
        return Err(ToolError::invalid_input(format!(
            "'timeout' must be between 1 and {MAX_REQUEST_TIMEOUT_SECS} seconds, not {timeout}"
        )));
    }
    let client = HttpClient::for_context(ctx)?;
    let url = client.checked_url(&url)?;
    let headers = request_headers(headers.unwrap_or_default())?;
    let method = method.unwrap_or_default();

    let request = Outgoing {
        method: method.into(),
        url: url.clone(),
        headers,
        body,
    };
    let timeout_secs = timeout;
    let timeout = std::time::Duration::from_secs(timeout);
    let started = Instant::now();
    let mut response = client
        .send(request, follow_redirects.unwrap_or(true), timeout)
        .await
        .map_err(|failure| failure.into_tool_error(&url, timeout_secs))?;
    let (bytes, truncated) = read_capped(&mut response, client.policy().body_limit())
        .await
        .map_err(|err| Failure::of(&err, response.url()).into_tool_error(&url, timeout_secs))?;
    let response_time_ms = started.elapsed().as_secs_f64() * 1000.0;

    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    let body = Body::decode(
        &bytes,
        content_type.as_deref(),
        truncated,
        client.policy().body_limit(),
    );
    Ok(HttpResponse {
        url: redacted(response.url()),
        status_code: response.status().as_u16(),
        headers: response_headers(response.headers()),
        content_length: bytes.len(),
        body: body.value,
        charset: body.charset.to_owned(),
        decoding_error: body.decoding_error,
        content_type,
        response_time_ms,
        truncated: body.truncated,
    })
}

/// Validates the caller's headers: 400 naming a header whose name or value is invalid, 403 for
/// `Host`, which would let the caller reach another virtual host than the URL names.
fn request_headers(headers: BTreeMap<String, String>) -> Result<HeaderMap, ToolError> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            ToolError::invalid_input(format!(
                "header name {name:?} is not a valid HTTP header name"
            ))
        })?;
        if header_name == header::HOST {
            return Err(ToolError::security(
                "refused: the 'Host' header is set from the URL and cannot be overridden",
            ));
        }
        let header_value = HeaderValue::from_bytes(value.as_bytes()).map_err(|_| {
            ToolError::invalid_input(format!(
                "the value of header {name:?} is not a valid HTTP header value: it contains a control character such as CR, LF or NUL"
            ))
        })?;
        map.append(header_name, header_value);
    }
    Ok(map)
}

fn response_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        out.entry(name.as_str().to_owned())
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_header_is_refused_and_bad_headers_are_named() {
        let host = BTreeMap::from([("HOST".to_owned(), "internal".to_owned())]);
        let err = request_headers(host).expect_err("Host is refused");
        assert_eq!(err.kind().status_code(), 403);

        let bad_name = BTreeMap::from([("bad header".to_owned(), "x".to_owned())]);
        let err = request_headers(bad_name).expect_err("a space is not allowed in a name");
        assert_eq!(err.kind().status_code(), 400);
        assert!(err.message().contains("\"bad header\""), "{err}");

        let bad_value = BTreeMap::from([("X-Token".to_owned(), "a\r\nInjected: 1".to_owned())]);
        let err = request_headers(bad_value).expect_err("CRLF is not allowed in a value");
        assert_eq!(err.kind().status_code(), 400);
        assert!(err.message().contains("\"X-Token\""), "{err}");
    }

    #[tokio::test]
    async fn out_of_range_timeout_is_refused_before_any_request() {
        let ctx = ToolContext::new("Web.HTTPRequest");
        for timeout in [0, 61] {
            let url = "http://93.184.216.34/".to_owned();
            let err = http_request(url, None, None, None, Some(timeout), None, &ctx)
                .await
                .expect_err("out of range");
            assert_eq!(err.kind().status_code(), 400, "{timeout}: {err}");
        }
    }

    #[test]
    fn repeated_response_headers_are_joined() {
        let mut headers = HeaderMap::new();
        headers.append("x-a", HeaderValue::from_static("1"));
        headers.append("x-a", HeaderValue::from_static("2"));
        assert_eq!(response_headers(&headers)["x-a"], "1, 2");
    }
}
