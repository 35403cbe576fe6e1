//! [`Failure`]: why a request of the web tools got no usable response, sorted by whose fault it
//! is, and [`redacted`]: a URL as the tools echo it.
//!
//! The sort decides the answer: the network policy refused (403), the site took too long (504),
//! the site failed (502 `UpstreamError`: connection refused or reset, a name that does not
//! resolve, a malformed, oversized or cut response, a redirect loop), or the tool itself failed
//! (500). Messages name the host or URL with its credentials masked, and the cause in words.

use std::error::Error as StdError;
use std::fmt;
use std::io;

use fact_runtime::{ErrorKind, ToolError};
use url::Url;

use super::policy::Refusal;

/// `url` as the tools show it: a user name and password become `***`, so that an error, a log
/// line or an answer never repeats credentials that were written into the URL.
///
/// ```text
/// http://alice:s3cret@example.com/x  ->  http://***:***@example.com/x
/// ```
pub(crate) fn redacted(url: &Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.to_string();
    }
    let mut shown = url.clone();
    // Setting either fails only for URLs that cannot have credentials, which have none.
    if !url.username().is_empty() {
        let _ = shown.set_username("***");
    }
    if url.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

/// A host name that could not be resolved: raised by the client's resolver, found again in
/// reqwest's error chain by downcasting, and answered as a 502.
#[derive(Debug)]
pub(crate) struct DnsFailure {
    pub(crate) host: String,
    pub(crate) source: io::Error,
}

impl fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not resolve {}: {}", self.host, self.source)
    }
}

impl StdError for DnsFailure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.source)
    }
}

/// What went wrong with a request, as the tools report it.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The policy refused the request, at the start, in DNS or at a redirect hop: 403.
    Refused(String),
    /// No complete response within the timeout: 504.
    TimedOut,
    /// The remote site failed: 502. The tool did its job; what it reached did not answer
    /// usably.
    Upstream(String),
    /// The request could not even be built: 500.
    Internal(String),
}

impl Failure {
    /// Sorts reqwest's error for a request to `url`.
    pub(crate) fn of(err: &reqwest::Error, url: &Url) -> Self {
        let mut source: Option<&(dyn StdError + 'static)> = Some(err);
        while let Some(cause) = source {
            if let Some(refusal) = cause.downcast_ref::<Refusal>() {
                return Self::Refused(refusal.to_string());
            }
            if let Some(dns) = cause.downcast_ref::<DnsFailure>() {
                return Self::Upstream(dns.to_string());
            }
            source = cause.source();
        }
        let cause = causes(err);
        if err.is_timeout() {
            Self::TimedOut
        } else if err.is_builder() {
            Self::Internal(format!(
                "could not build the request to {}: {cause}",
                redacted(url)
            ))
        } else if err.is_connect() {
            Self::Upstream(format!("could not connect to {}: {cause}", authority(url)))
        } else if err.is_body() || err.is_decode() {
            Self::Upstream(format!(
                "the response from {} broke off in its body: {cause}",
                redacted(url)
            ))
        } else {
            Self::Upstream(format!(
                "{} did not answer with a valid HTTP response: {cause}",
                redacted(url)
            ))
        }
    }

    /// The error a tool answers with: 403, 504, 502 or 500.
    pub(crate) fn into_tool_error(self, url: &Url, timeout_secs: u64) -> ToolError {
        match self {
            Self::Refused(message) => ToolError::security(message),
            Self::TimedOut => ToolError::new(
                ErrorKind::Timeout,
                format!(
                    "{} did not respond within the {timeout_secs} s timeout",
                    redacted(url)
                ),
            ),
            Self::Upstream(message) => ToolError::upstream(message),
            Self::Internal(message) => ToolError::fatal(message),
        }
    }
}

/// `host:port` of `url`, which names where a connection was attempted without the path.
fn authority(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        _ => redacted(url),
    }
}

/// The causes under reqwest's error, joined by ": ". Left out: reqwest's own layers (their
/// text names the URL with whatever it holds, or only the kind of error, which the message
/// already says), hyper-util's "client error (Connect)" layer, and a cause that repeats the
/// one before.
fn causes(err: &reqwest::Error) -> String {
    let mut message = String::new();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        let wrapper =
            cause.downcast_ref::<reqwest::Error>().is_some() || text.starts_with("client error (");
        if !wrapper && !text.is_empty() && !message.ends_with(&text) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
        source = cause.source();
    }
    if message.is_empty() {
        // No cause to show; reqwest's kind, without its URL.
        message = match err.url() {
            Some(url) => err.to_string().replace(&format!(" for url ({url})"), ""),
            None => err.to_string(),
        };
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn credentials_are_masked_and_nothing_else_changes() {
        for (raw, shown) in [
            (
                "http://alice:s3cret@example.com:8080/p?q=1#f",
                "http://***:***@example.com:8080/p?q=1#f",
            ),
            ("https://token@example.com/", "https://***@example.com/"),
            ("https://:pw@example.com/", "https://:***@example.com/"),
            ("https://example.com/a?b", "https://example.com/a?b"),
        ] {
            assert_eq!(redacted(&url(raw)), shown, "{raw}");
        }
    }

    #[test]
    fn upstream_timeout_and_refusal_map_to_their_status_codes() {
        let at = url("http://u:secret@example.com/");
        let cases = [
            (Failure::Refused("refused: x".into()), 403),
            (Failure::TimedOut, 504),
            (Failure::Upstream("could not connect".into()), 502),
            (Failure::Internal("bug".into()), 500),
        ];
        for (failure, status) in cases {
            let err = failure.into_tool_error(&at, 5);
            assert_eq!(err.kind().status_code(), status, "{err}");
            assert!(!err.message().contains("secret"), "{err}");
        }
    }
}
