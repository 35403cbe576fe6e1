//! [`NetworkPolicy`]: which hosts the web tools may reach, and [`Refusal`]: why one was not.

use std::collections::BTreeSet;
use std::net::IpAddr;

use url::{Host, Url};

use super::address::{AddressClass, classify};

/// The response body cap of [`NetworkPolicy::default`]: 5 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

/// The environment variable [`NetworkPolicy::from_env`] reads.
pub const ALLOWED_HOSTS_VAR: &str = "ALLOWED_HOSTS";

/// Where the web tools may connect, and how much of a response they keep.
///
/// By default only public (globally routable, see [`AddressClass`]) addresses are reachable,
/// over http or https. A host on the allow-list is reachable whatever its addresses: list the
/// internal services your tools should call. Entries are host names or IP literals, matched
/// exactly and case-insensitively against the URL's host (after the WHATWG normalization the
/// `url` crate applies, so `0x7f.0.0.1` is `127.0.0.1`); there are no wildcards, and allowing
/// `127.0.0.1` does not allow `localhost`, which is a different host.
///
/// The policy is enforced by [`HttpClient`](super::HttpClient) on the address actually
/// connected to, after DNS resolution and on every redirect hop.
///
/// ```
/// use fact_tools_std::web::NetworkPolicy;
/// use url::Url;
///
/// let policy = NetworkPolicy::default().allow_host("Intranet.Example");
/// assert!(policy.is_allowed_host("intranet.example"));
///
/// let metadata = Url::parse("http://169.254.169.254/latest/meta-data/")?;
/// let refusal = policy.check_url(&metadata).unwrap_err();
/// assert_eq!(
///     refusal.to_string(),
///     "refused: 169.254.169.254 is a link-local address; add the host to ALLOWED_HOSTS to allow it"
/// );
/// assert!(policy.check_url(&Url::parse("https://93.184.216.34/")?).is_ok());
/// # Ok::<(), url::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPolicy {
    allowed_hosts: BTreeSet<String>,
    max_body_bytes: usize,
}

impl Default for NetworkPolicy {
    /// Public addresses only, bodies capped at [`DEFAULT_MAX_BODY_BYTES`].
    fn default() -> Self {
        Self {
            allowed_hosts: BTreeSet::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

impl NetworkPolicy {
    /// The default policy plus the hosts listed in `ALLOWED_HOSTS` (comma-separated). An unset
    /// or non-Unicode variable allows nothing extra; see
    /// [`from_allowed_hosts`](Self::from_allowed_hosts) for how entries are read.
    pub fn from_env() -> Self {
        match std::env::var(ALLOWED_HOSTS_VAR) {
            Ok(list) => Self::from_allowed_hosts(&list),
            Err(std::env::VarError::NotPresent) => Self::default(),
            Err(std::env::VarError::NotUnicode(_)) => {
                tracing::warn!("{ALLOWED_HOSTS_VAR} is not valid Unicode; no host is allowed");
                Self::default()
            }
        }
    }

    /// The default policy plus the hosts of a comma-separated list, as in `ALLOWED_HOSTS`.
    /// Blank entries are skipped; entries that are not a valid host (a URL, `host:port`, or a
    /// wildcard such as `*` or `*.example.com`: matching is exact) are skipped with a warning,
    /// so a typo never widens the policy. An allowed host is allowed on every port.
    ///
    /// ```
    /// use fact_tools_std::web::NetworkPolicy;
    ///
    /// let policy = NetworkPolicy::from_allowed_hosts(" db.internal, 10.0.0.5 ,[::1],,");
    /// assert!(policy.is_allowed_host("db.internal"));
    /// assert!(policy.is_allowed_host("10.0.0.5"));
    /// assert!(policy.is_allowed_host("::1"));
    /// assert!(!policy.is_allowed_host("10.0.0.6"));
    /// ```
    pub fn from_allowed_hosts(list: &str) -> Self {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .fold(Self::default(), Self::allow_host)
    }

    /// Allows `host` (a host name, or an IPv4 or IPv6 literal, with or without brackets)
    /// whatever its addresses. An entry that is not a valid host is ignored with a warning.
    #[must_use]
    pub fn allow_host(mut self, host: impl AsRef<str>) -> Self {
        let host = host.as_ref().trim();
        match normalize_entry(host) {
            Some(normalized) => {
                self.allowed_hosts.insert(normalized);
            }
            None => tracing::warn!(
                "ignoring allowed host {host:?}: expected a host name or an IP address, without \
                 scheme, port or wildcard (an allowed host is allowed on every port)"
            ),
        }
        self
    }

    /// Caps the response bytes a tool keeps (default [`DEFAULT_MAX_BODY_BYTES`]); the rest of
    /// a longer body is never read and the response says it was truncated.
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// The response body cap, in bytes.
    pub fn body_limit(&self) -> usize {
        self.max_body_bytes
    }

    /// The allowed hosts, normalized (lowercase, IP literals in canonical form), sorted.
    pub fn allowed_hosts(&self) -> impl Iterator<Item = &str> {
        self.allowed_hosts.iter().map(String::as_str)
    }

    /// Whether `host` (a host name or IP literal as it appears in a URL) is on the allow-list.
    pub fn is_allowed_host(&self, host: &str) -> bool {
        normalize_entry(host).is_some_and(|host| self.allowed_hosts.contains(&host))
    }

    /// Checks what can be checked before connecting: the scheme is http or https, and an IP
    /// literal host is public or allowed. A host name passes here; its addresses are checked
    /// when it is resolved ([`check_resolved`](Self::check_resolved)).
    ///
    /// # Errors
    ///
    /// The [`Refusal`] naming the scheme or the address and its class.
    pub fn check_url(&self, url: &Url) -> Result<(), Refusal> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refusal::Scheme(url.scheme().to_owned()));
        }
        let ip = match url.host() {
            None => return Err(Refusal::NoHost),
            Some(Host::Domain(_)) => return Ok(()),
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        };
        let class = classify(ip);
        if class.is_public() || self.allowed_hosts.contains(&ip.to_string()) {
            Ok(())
        } else {
            Err(Refusal::Address {
                host: ip.to_string(),
                class,
            })
        }
    }

    /// Keeps the addresses `host` resolved to that may be connected to: all of them when the
    /// host is allowed, else the public ones.
    ///
    /// ```
    /// use fact_tools_std::web::NetworkPolicy;
    /// use std::net::IpAddr;
    ///
    /// let addrs: Vec<IpAddr> = vec!["10.0.0.1".parse()?, "93.184.216.34".parse()?];
    /// let kept = NetworkPolicy::default().check_resolved("mixed.example", addrs)?;
    /// assert_eq!(kept, ["93.184.216.34".parse::<IpAddr>()?]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Refusal::Resolved`] when no address remains, naming the first one refused;
    /// [`Refusal::Unresolved`] when there was none to begin with.
    pub fn check_resolved(
        &self,
        host: &str,
        addrs: impl IntoIterator<Item = IpAddr>,
    ) -> Result<Vec<IpAddr>, Refusal> {
        let allowed = self.is_allowed_host(host);
        let mut first_refused = None;
        let kept: Vec<IpAddr> = addrs
            .into_iter()
            .filter(|ip| {
                let class = classify(*ip);
                let keep = allowed || class.is_public();
                if !keep && first_refused.is_none() {
                    first_refused = Some((*ip, class));
                }
                keep
            })
            .collect();
        match (kept.is_empty(), first_refused) {
            (false, _) => Ok(kept),
            (true, Some((addr, class))) => Err(Refusal::Resolved {
                host: host.to_owned(),
                addr,
                class,
            }),
            (true, None) => Err(Refusal::Unresolved(host.to_owned())),
        }
    }
}

/// A host in the form the allow-list stores: what the WHATWG host parser makes of it (so IPv4
/// written as one integer or in hex is the dotted quad, IPv6 is compressed, names are
/// lowercase punycode), without brackets or a trailing dot.
fn normalize_entry(host: &str) -> Option<String> {
    let bracketed;
    let host = if host.contains(':') && !host.starts_with('[') {
        bracketed = format!("[{host}]");
        bracketed.as_str()
    } else {
        host
    };
    match Host::parse(host).ok()? {
        Host::Domain(name) => {
            let name = name.trim_end_matches('.');
            (!name.is_empty() && !name.contains('*')).then(|| name.to_owned())
        }
        Host::Ipv4(ip) => Some(ip.to_string()),
        Host::Ipv6(ip) => Some(ip.to_string()),
    }
}

/// Why the network policy refused a request: a 403 `SecurityError` for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The URL's scheme is neither http nor https.
    #[error("refused: the scheme '{0}' is not allowed; only http and https are")]
    Scheme(String),
    /// The URL has no host.
    #[error("refused: the URL has no host")]
    NoHost,
    /// The URL's host is an IP literal that is neither public nor allowed.
    #[error("refused: {host} is {class}; add the host to ALLOWED_HOSTS to allow it")]
    Address {
        /// The address, as written canonically.
        host: String,
        /// What kind of address it is.
        class: AddressClass,
    },
    /// The host name resolved only to addresses that are neither public nor allowed. The
    /// message names the kind of address but not the address, so that a caller cannot map
    /// internal names to internal addresses through refusals.
    #[error(
        "refused: {host} resolves to {class}, not a public address; add the host to ALLOWED_HOSTS to allow it"
    )]
    Resolved {
        /// The host name.
        host: String,
        /// The first address refused.
        addr: IpAddr,
        /// Its class.
        class: AddressClass,
    },
    /// The host name resolved to no address at all.
    #[error("refused: {0} resolves to no address")]
    Unresolved(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn integer_hex_and_octal_ipv4_forms_are_refused_as_loopback() {
        let policy = NetworkPolicy::default();
        for s in [
            "http://2130706433/",
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
        ] {
            assert!(
                matches!(
                    policy.check_url(&url(s)),
                    Err(Refusal::Address {
                        class: AddressClass::Loopback,
                        ..
                    })
                ),
                "{s}"
            );
        }
    }

    #[test]
    fn urls_ports_and_wildcards_in_the_allow_list_allow_nothing() {
        let policy =
            NetworkPolicy::from_allowed_hosts("*, *.example.com, localhost:8080, http://x.org");
        assert_eq!(policy.allowed_hosts().count(), 0);
        assert!(!policy.is_allowed_host("a.example.com"));
        assert!(!policy.is_allowed_host("localhost"));
    }

    #[test]
    fn non_http_schemes_are_refused() {
        let policy = NetworkPolicy::default().allow_host("internal.server");
        for (s, scheme) in [
            ("file:///etc/passwd", "file"),
            ("ftp://internal.server/data", "ftp"),
            ("gopher://93.184.216.34:70/", "gopher"),
            ("data:text/plain,hi", "data"),
        ] {
            assert_eq!(
                policy.check_url(&url(s)),
                Err(Refusal::Scheme(scheme.to_owned()))
            );
        }
    }

    #[test]
    fn allowed_ip_literal_passes_in_any_spelling() {
        let policy = NetworkPolicy::from_allowed_hosts("127.0.0.1, [0:0:0:0:0:0:0:1]");
        assert_eq!(policy.check_url(&url("http://0x7f000001:8080/")), Ok(()));
        assert_eq!(policy.check_url(&url("http://[::1]/")), Ok(()));
        assert!(policy.check_url(&url("http://127.0.0.2/")).is_err());
    }

    #[test]
    fn host_names_pass_the_url_check_and_are_judged_by_their_addresses() {
        let policy = NetworkPolicy::default();
        assert_eq!(policy.check_url(&url("http://localhost/")), Ok(()));
        let loopback: IpAddr = "127.0.0.1".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            policy.check_resolved("localhost", [loopback]),
            Err(Refusal::Resolved {
                host: "localhost".into(),
                addr: loopback,
                class: AddressClass::Loopback
            })
        );
    }

    #[test]
    fn allowing_an_address_does_not_allow_names_resolving_to_it() {
        let policy = NetworkPolicy::default().allow_host("127.0.0.1");
        let loopback: IpAddr = "127.0.0.1".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(policy.check_resolved("localhost", [loopback]).is_err());
        let policy = policy.allow_host("LOCALHOST.");
        assert_eq!(
            policy.check_resolved("localhost", [loopback]),
            Ok(vec![loopback])
        );
    }

    #[test]
    fn wildcards_and_garbage_never_widen_the_policy() {
        let policy = NetworkPolicy::from_allowed_hosts("*, exa mple.com, ::g");
        assert_eq!(policy.allowed_hosts().count(), 0);
    }

    #[test]
    fn empty_resolution_is_refused() {
        assert_eq!(
            NetworkPolicy::default().check_resolved("nowhere.example", []),
            Err(Refusal::Unresolved("nowhere.example".into()))
        );
    }

    #[test]
    fn refusal_message_names_the_address_class_and_the_remedy() {
        let refusal = NetworkPolicy::default()
            .check_url(&url("http://[::ffff:127.0.0.1]/"))
            .expect_err("a mapped loopback address is refused");
        assert_eq!(
            refusal.to_string(),
            "refused: ::ffff:127.0.0.1 is a loopback address; add the host to ALLOWED_HOSTS to allow it"
        );
    }

    #[test]
    fn body_limit_defaults_to_five_mebibytes() {
        assert_eq!(NetworkPolicy::default().body_limit(), 5 * 1024 * 1024);
        assert_eq!(NetworkPolicy::default().max_body_bytes(10).body_limit(), 10);
    }
}
