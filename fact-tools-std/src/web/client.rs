//! [`HttpClient`]: the pooled HTTP client of the web tools, which enforces a
//! [`NetworkPolicy`] on the address actually connected to.
//!
//! Three checks make up the enforcement, because each covers what the others cannot see:
//!
//! - before a request, [`NetworkPolicy::check_url`] refuses other schemes and non-public IP
//!   literals (which never reach a resolver);
//! - a custom DNS resolver hands the connector only the permitted addresses of a host name, so
//!   `localhost`, or a name whose DNS an attacker controls, cannot lead to a private address.
//!   A resolver sees a name but not the port it will be connected on, so the client holds two
//!   pools: one whose resolver honours the allow-list, used only for a URL whose host and port
//!   are on it, and one whose resolver keeps public addresses only, used for every other URL
//!   (so a name allowed on port 8080 cannot reach an internal address on port 22);
//! - redirects are followed here, not by reqwest, so that every hop is checked like the first
//!   URL, and a refusal at a hop says so; at most [`MAX_REDIRECTS`].
//!
//! Proxies are disabled, so the address checked is the address connected to. A refusal travels
//! through reqwest's error as a typed [`Refusal`](super::Refusal) and is found again by
//! downcasting, so the caller sees "refused: ..." and a 403, not a generic connect error; a
//! name that does not resolve travels the same way and is a 502 (see [`Failure`]).

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use fact_runtime::{ToolContext, ToolError};
use futures::future::BoxFuture;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect;
use url::Url;

use super::failure::{DnsFailure, Failure, redacted};
use super::policy::NetworkPolicy;

/// The most redirects one request follows.
pub const MAX_REDIRECTS: usize = 10;

/// How an [`HttpClient`] turns a host name into addresses, before the policy filters them.
///
/// The default asks the system resolver (`tokio::net::lookup_host`). Tests inject their own to
/// map a name to an address without DNS; any `Fn(String) -> impl Future<Output =
/// io::Result<Vec<IpAddr>>>` is a `Lookup`.
pub trait Lookup: Send + Sync + 'static {
    /// The addresses of `host`.
    fn lookup(&self, host: String) -> BoxFuture<'static, io::Result<Vec<IpAddr>>>;
}

impl<F, Fut> Lookup for F
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<Vec<IpAddr>>> + Send + 'static,
{
    fn lookup(&self, host: String) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
        Box::pin(self(host))
    }
}

async fn system_lookup(host: String) -> io::Result<Vec<IpAddr>> {
    let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
    Ok(addrs.map(|addr| addr.ip()).collect())
}

/// Which addresses a [`PolicyResolver`] keeps.
#[derive(Debug, Clone, Copy)]
enum Reach {
    /// Every address of a host on the allow-list (for some port: the client uses this
    /// resolver only for URLs whose host and port are on it), the public ones of others.
    AllowList,
    /// Public addresses only.
    PublicOnly,
}

/// The resolver installed in reqwest: looks the name up, then keeps what the policy permits.
struct PolicyResolver {
    policy: Arc<NetworkPolicy>,
    lookup: Arc<dyn Lookup>,
    reach: Reach,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let policy = Arc::clone(&self.policy);
        let lookup = Arc::clone(&self.lookup);
        let reach = self.reach;
        Box::pin(async move {
            let found = match lookup.lookup(host.clone()).await {
                Ok(found) if found.is_empty() => Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "the name has no address",
                )),
                other => other,
            }
            .map_err(|source| DnsFailure {
                host: host.clone(),
                source,
            })?;
            let allowed = match reach {
                Reach::AllowList => policy.allows_some_port(&host),
                Reach::PublicOnly => false,
            };
            let kept = policy.filter_resolved(&host, found, allowed)?;
            tracing::debug!(%host, addrs = ?kept, "resolved within the network policy");
            let addrs: Addrs = Box::new(kept.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// Why building an [`HttpClient`] failed (the TLS backend could not start).
#[derive(Debug, thiserror::Error)]
#[error("could not build the HTTP client: {0}")]
pub struct ClientBuildError(#[from] reqwest::Error);

/// The HTTP client of the web tools: one connection pool per client, cheap to clone, enforcing
/// its [`NetworkPolicy`] on every connection (see the [module docs](super)).
///
/// Give it to an executor with
/// [`ToolExecutorBuilder::extension`](fact_runtime::ToolExecutorBuilder::extension); tools
/// without one use a process-wide client built from the environment
/// ([`NetworkPolicy::from_env`]) on first use.
///
/// ```
/// use fact_runtime::ToolExecutor;
/// use fact_tools_std::web::{HttpClient, NetworkPolicy};
///
/// let policy = NetworkPolicy::default()
///     .allow_host("billing.internal")
///     .max_body_bytes(1024 * 1024);
/// let executor = ToolExecutor::builder()
///     .extension(HttpClient::new(policy))
///     .build()?;
/// # let _ = executor;
/// # Ok::<(), fact_runtime::BuildError>(())
/// ```
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    policy: Arc<NetworkPolicy>,
    /// The pool for URLs whose host and port are on the allow-list. Neither pool follows a
    /// redirect itself ([`HttpClient::send`] does).
    allow_listed: reqwest::Client,
    /// The pool for every other URL: public addresses only.
    public_only: reqwest::Client,
}

impl HttpClient {
    /// A client enforcing `policy`, resolving names with the system resolver.
    ///
    /// # Panics
    ///
    /// When the TLS backend cannot be initialized, as `reqwest::Client::new` does; use
    /// [`try_new`](Self::try_new) to handle that case.
    pub fn new(policy: NetworkPolicy) -> Self {
        match Self::try_new(policy) {
            Ok(client) => client,
            Err(err) => panic!("{err}"),
        }
    }

    /// A client enforcing `policy`, resolving names with the system resolver.
    ///
    /// # Errors
    ///
    /// When the TLS backend cannot be initialized.
    pub fn try_new(policy: NetworkPolicy) -> Result<Self, ClientBuildError> {
        Self::with_lookup(policy, system_lookup)
    }

    /// A client enforcing `policy` from the environment ([`NetworkPolicy::from_env`]).
    ///
    /// # Errors
    ///
    /// When the TLS backend cannot be initialized.
    pub fn from_env() -> Result<Self, ClientBuildError> {
        Self::try_new(NetworkPolicy::from_env())
    }

    /// A client enforcing `policy` that resolves names with `lookup`; the policy still judges
    /// every address `lookup` returns.
    ///
    /// ```
    /// use std::net::IpAddr;
    /// use fact_tools_std::web::{HttpClient, NetworkPolicy};
    ///
    /// let pinned: IpAddr = "93.184.216.34".parse()?;
    /// let client = HttpClient::with_lookup(NetworkPolicy::default(), move |_host: String| {
    ///     async move { Ok(vec![pinned]) }
    /// })?;
    /// # let _ = client;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// When the TLS backend cannot be initialized.
    pub fn with_lookup(
        policy: NetworkPolicy,
        lookup: impl Lookup,
    ) -> Result<Self, ClientBuildError> {
        let policy = Arc::new(policy);
        let lookup: Arc<dyn Lookup> = Arc::new(lookup);
        let pool = |reach| {
            let resolver = Arc::new(PolicyResolver {
                policy: Arc::clone(&policy),
                lookup: Arc::clone(&lookup),
                reach,
            });
            reqwest::Client::builder()
                .no_proxy()
                .dns_resolver(resolver)
                .redirect(redirect::Policy::none())
                // The previous URL is nobody's business at the next hop.
                .referer(false)
                .user_agent(concat!("fact-tools-std/", env!("CARGO_PKG_VERSION")))
                .build()
        };
        let allow_listed = pool(Reach::AllowList)?;
        let public_only = pool(Reach::PublicOnly)?;
        Ok(Self {
            inner: Arc::new(Inner {
                policy,
                allow_listed,
                public_only,
            }),
        })
    }

    /// The pool a request to `url` goes through: see [`Reach`].
    fn pool_for(&self, url: &Url) -> &reqwest::Client {
        if self.policy().allows_url(url) {
            &self.inner.allow_listed
        } else {
            &self.inner.public_only
        }
    }

    /// The message of a refusal of `url`, with a hint when its host is allowed on other ports.
    fn refusal_message(&self, refusal: impl ToString, url: &Url) -> String {
        let message = refusal.to_string();
        match self.policy().port_hint(url) {
            Some(hint) => format!("{message} ({hint})"),
            None => message,
        }
    }

    /// The policy this client enforces.
    pub fn policy(&self) -> &NetworkPolicy {
        &self.inner.policy
    }

    /// The client a tool uses: the one its executor was given, else the process-wide default.
    pub(crate) fn for_context(ctx: &ToolContext) -> Result<Self, ToolError> {
        if let Some(client) = ctx.extension::<Self>() {
            return Ok(client.clone());
        }
        static DEFAULT: OnceLock<Result<HttpClient, String>> = OnceLock::new();
        DEFAULT
            .get_or_init(|| Self::from_env().map_err(|err| err.to_string()))
            .clone()
            .map_err(ToolError::fatal)
    }

    /// Parses `raw` and checks it against the policy: 400 when it is not a URL, 403 when the
    /// policy refuses it.
    pub(crate) fn checked_url(&self, raw: &str) -> Result<Url, ToolError> {
        let url = Url::parse(raw.trim())
            .map_err(|err| ToolError::invalid_input(format!("'url' is not a valid URL: {err}")))?;
        self.policy()
            .check_url(&url)
            .map_err(|refusal| ToolError::security(self.refusal_message(refusal, &url)))?;
        Ok(url)
    }

    /// Sends `request` (whose URL passed [`checked_url`](Self::checked_url)) and, when
    /// `follow` is set, its redirects: each hop's URL is checked like the first and its host
    /// resolved through the policy, a 301, 302 or 303 turns into a GET without body (HEAD
    /// stays HEAD), a 307 or 308 repeats the method and body, and credentials are dropped when
    /// the host changes. The whole chain, and the response body read after it, has `timeout`.
    /// A redirect to another scheme, or without a usable `Location`, is answered as is; more
    /// than [`MAX_REDIRECTS`] is an upstream failure.
    pub(crate) async fn send(
        &self,
        mut request: Outgoing,
        follow: bool,
        timeout: Duration,
    ) -> Result<reqwest::Response, Failure> {
        let deadline = tokio::time::Instant::now() + timeout;
        let start = redacted(&request.url);
        let mut hops = 0;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let mut builder = self
                .pool_for(&request.url)
                .request(request.method.clone(), request.url.clone())
                .headers(request.headers.clone())
                .timeout(remaining);
            if let Some(body) = &request.body {
                builder = builder.body(body.clone());
            }
            let at_hop = |failure: Failure| match failure {
                Failure::Refused(message) => {
                    let message = self.refusal_message(message, &request.url);
                    if hops > 0 {
                        let to = redacted(&request.url);
                        Failure::Refused(format!("{message} (at a redirect to {to})"))
                    } else {
                        Failure::Refused(message)
                    }
                }
                other => other,
            };
            let response = builder
                .send()
                .await
                .map_err(|err| at_hop(Failure::of(&err, &request.url)))?;
            let status = response.status();
            if !follow || !status.is_redirection() {
                return Ok(response);
            }
            let Some(next) = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|location| location.to_str().ok())
                .and_then(|location| request.url.join(location).ok())
                .filter(|next| matches!(next.scheme(), "http" | "https"))
            else {
                return Ok(response);
            };
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err(Failure::Upstream(format!(
                    "stopped after {MAX_REDIRECTS} redirects from {start}: the site redirects \
                     in a loop or too often (the last redirect, from {}, went to {})",
                    redacted(&request.url),
                    redacted(&next)
                )));
            }
            self.policy().check_url(&next).map_err(|refusal| {
                let message = self.refusal_message(refusal, &next);
                let from = redacted(&request.url);
                Failure::Refused(format!("{message} (at a redirect from {from})"))
            })?;
            let see_other =
                matches!(status.as_u16(), 301..=303) && request.method != reqwest::Method::HEAD;
            if see_other {
                request.method = reqwest::Method::GET;
                request.body = None;
                request.headers.remove(reqwest::header::CONTENT_TYPE);
                request.headers.remove(reqwest::header::CONTENT_LENGTH);
            }
            if next.host_str() != request.url.host_str()
                || next.port_or_known_default() != request.url.port_or_known_default()
            {
                for sensitive in [
                    reqwest::header::AUTHORIZATION,
                    reqwest::header::COOKIE,
                    reqwest::header::PROXY_AUTHORIZATION,
                ] {
                    request.headers.remove(sensitive);
                }
            }
            request.url = next;
        }
    }
}

/// A request as a tool makes it: sent, and re-sent along redirects, by [`HttpClient::send`].
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) method: reqwest::Method,
    pub(crate) url: Url,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Option<String>,
}

/// Reads at most `cap` bytes of the body, chunk by chunk, so that nothing beyond the cap is
/// ever buffered; `true` when the body was longer and has been cut.
pub(crate) async fn read_capped(
    response: &mut reqwest::Response,
    cap: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let expected = response
        .content_length()
        .and_then(|len| usize::try_from(len).ok())
        .unwrap_or(0);
    let mut body = Vec::with_capacity(expected.min(cap).min(64 * 1024));
    while let Some(chunk) = response.chunk().await? {
        let room = cap - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}
