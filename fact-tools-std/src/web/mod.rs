//! The `web` family: HTTP requests, URL health, JSON parsing and URL extraction.
//!
//! | tool | does |
//! | --- | --- |
//! | `Web.HTTPRequest` | one HTTP request; JSON responses parsed, bodies capped |
//! | `Web.URLHealth` | whether a URL answers, and how fast |
//! | `Web.ParseJSON` | JSON text to a value, with its type, size and keys or item count |
//! | `Web.ExtractURLs` | the unique URLs in a text, taken apart |
//!
//! # The network policy
//!
//! The two tools that connect are safe by construction against server-side request forgery:
//! they reach only public (globally routable) addresses, over http or https, unless the host
//! is on the allow-list, `ALLOWED_HOSTS`: comma-separated entries, each a host name or IP
//! literal (exact match), allowed on every port, or a `host:port` (IPv6 as `[::1]:8080`),
//! allowed on that port only. An empty or blank `ALLOWED_HOSTS` allows nothing extra, and an
//! entry that is neither form (a URL, a wildcard, credentials) is skipped with a warning; see
//! [`NetworkPolicy`]. Refused, with a 403 `SecurityError` that names the reason:
//!
//! - other schemes: `file:`, `ftp:`, `gopher:`, ...;
//! - loopback, private, link-local (including the cloud metadata endpoint `169.254.169.254`),
//!   carrier-grade NAT, multicast, broadcast, documentation, benchmarking and reserved
//!   addresses, and every IPv6 form that embeds or tunnels to one (see [`AddressClass`]);
//! - however the address is written: `http://2130706433/`, `http://0x7f.0.0.1/` and
//!   `http://[::ffff:127.0.0.1]/` are all `127.0.0.1`, because the check reads the host the
//!   WHATWG URL parser produced, never the raw string;
//! - host names whose addresses are refused: `localhost`, or a name an attacker points at an
//!   internal address. The check runs on the addresses the name resolved to, in the client's
//!   own DNS resolver, so what is checked is what is connected to (no time-of-check gap, no
//!   proxy in between);
//! - an allowed host on a port its entries do not list;
//! - redirects to any of the above, checked at every hop (at most [`MAX_REDIRECTS`]).
//!
//! Caller-set `Host` headers are refused as well, since some servers route by them rather than
//! by the address connected to.
//!
//! # What the tools answer when the site fails
//!
//! A request the tool made that the site did not answer usably is a 502 `UpstreamError`
//! naming the cause: connection refused or reset, a name that does not resolve, a malformed
//! or oversized response head, a body cut before its end, a redirect loop. No complete
//! response within the timeout is a 504 `ToolTimeoutError`. `Web.URLHealth` reports the same
//! failures as `available: false` with the cause in `error`, since that is its answer. URLs
//! are echoed, in answers and errors, with any user name and password shown as `***`.
//!
//! # Bounds
//!
//! | bound | default | set by |
//! | --- | --- | --- |
//! | response body kept by `Web.HTTPRequest`, both as bytes read and as the body's size in the JSON answer | 5 MiB | [`NetworkPolicy::max_body_bytes`] |
//! | time for a request, its redirects and its body | 30 s (`Web.HTTPRequest`, 1 to 60), 10 s (`Web.URLHealth`, 1 to 30) | the call's `timeout` argument |
//! | redirects followed | [`MAX_REDIRECTS`] | fixed |
//! | `Web.ParseJSON` input | [`MAX_JSON_TEXT_CHARS`] characters | fixed |
//! | `Web.ExtractURLs` input | [`MAX_TEXT_CHARS`] characters | fixed |
//!
//! `Web.URLHealth` never reads a body. `Web.HTTPRequest` decodes text by the response's
//! charset (`ISO-8859-1`, `Shift_JIS`, ...; UTF-8 when none is given) and says in
//! `decoding_error` when bytes did not decode; no byte is dropped silently.
//!
//! The policy is a [`NetworkPolicy`] held by an [`HttpClient`]; give the client to the
//! executor as an extension, or let the tools build one from the environment on first use.
//!
//! ```
//! use fact_runtime::{ToolCall, ToolExecutor};
//! use fact_tools_std::web::{HttpClient, NetworkPolicy};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let executor = ToolExecutor::builder()
//!     .extension(HttpClient::new(NetworkPolicy::default()))
//!     .build()?;
//! let call = ToolCall::new(
//!     "Web.HTTPRequest",
//!     json!({"url": "http://169.254.169.254/latest/meta-data/"}),
//! );
//! let result = executor.execute_tool_call(call).await;
//! assert_eq!(result.status_code, 403);
//! assert_eq!(
//!     result.error.as_deref(),
//!     Some("refused: 169.254.169.254 is a link-local address; add the host to ALLOWED_HOSTS to allow it")
//! );
//! # Ok(())
//! # }
//! ```

mod address;
mod allow_list;
mod body;
mod client;
mod exact_json;
mod extract_urls;
mod failure;
mod health;
mod parse_json;
mod policy;
mod request;

pub use address::{AddressClass, classify};
pub use client::{ClientBuildError, HttpClient, Lookup, MAX_REDIRECTS};
pub use extract_urls::{ExtractedUrls, FoundUrl, MAX_TEXT_CHARS, extract_urls};
pub use health::{DEFAULT_HEALTH_TIMEOUT_SECS, MAX_HEALTH_TIMEOUT_SECS, UrlHealth, url_health};
pub use parse_json::{JsonType, MAX_JSON_TEXT_CHARS, ParsedJson, parse_json};
pub use policy::{ALLOWED_HOSTS_VAR, DEFAULT_MAX_BODY_BYTES, NetworkPolicy, Refusal};
pub use request::{
    DEFAULT_REQUEST_TIMEOUT_SECS, HttpMethod, HttpResponse, MAX_REQUEST_TIMEOUT_SECS, http_request,
};
