//! [`NetworkPolicy`]: which hosts the web tools may reach, and [`Refusal`]: why one was not.

use std::net::IpAddr;

use url::{Host, Url};

use super::address::{AddressClass, classify};
use super::allow_list::{AllowList, InvalidEntry};

/// The response body cap of [`NetworkPolicy::default`]: 5 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

/// The environment variable [`NetworkPolicy::from_env`] reads.
pub const ALLOWED_HOSTS_VAR: &str = "ALLOWED_HOSTS";

/// Where the web tools may connect, and how much of a response they keep.
///
/// By default only public (globally routable, see [`AddressClass`]) addresses are reachable,
/// over http or https. A host on the allow-list is reachable whatever its addresses: list the
/// internal services your tools should call. An entry is a host, allowed on every port, or a
/// `host:port`, allowed on that port only (IPv6 as `[::1]:8080`; a host may have several
/// entries, one per port). The URL's port counts as written or as its scheme's default (80
/// for http, 443 for https), so `10.0.0.5:443` allows `https://10.0.0.5/`.
///
/// Hosts are host names or IP literals, matched exactly and case-insensitively against the
/// URL's host (after the WHATWG normalization the `url` crate applies, so `0x7f.0.0.1` is
/// `127.0.0.1`); there are no wildcards, and allowing `127.0.0.1` does not allow
/// `localhost`, which is a different host. An empty allow-list allows nothing beyond public
/// addresses: no spelling of an empty list (unset, `""`, `" "`, `","`) widens the policy.
///
/// The policy is enforced by [`HttpClient`](super::HttpClient) on the address actually
/// connected to, after DNS resolution and on every redirect hop.
///
/// ```
/// use fact_tools_std::web::NetworkPolicy;
/// use url::Url;
///
/// let policy = NetworkPolicy::default()
///     .allow_host("Intranet.Example")
///     .allow_host("10.0.0.5:8080");
/// assert!(policy.is_allowed("intranet.example", 443));
/// assert!(policy.is_allowed("10.0.0.5", 8080));
/// assert!(!policy.is_allowed("10.0.0.5", 22));
///
/// let metadata = Url::parse("http://169.254.169.254/latest/meta-data/")?;
/// let refusal = policy.check_url(&metadata).unwrap_err();
/// assert_eq!(
///     refusal.to_string(),
///     "refused: 169.254.169.254 is a link-local address; add the host to ALLOWED_HOSTS to allow it"
/// );
/// assert!(policy.check_url(&Url::parse("https://93.184.216.34/")?).is_ok());
/// assert!(policy.check_url(&Url::parse("http://10.0.0.5:8080/")?).is_ok());
/// assert!(policy.check_url(&Url::parse("http://10.0.0.5:22/")?).is_err());
/// # Ok::<(), url::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPolicy {
    allowed: AllowList,
    max_body_bytes: usize,
}

impl Default for NetworkPolicy {
    /// Public addresses only, bodies capped at [`DEFAULT_MAX_BODY_BYTES`].
    fn default() -> Self {
        Self {
            allowed: AllowList::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

impl NetworkPolicy {
    /// The default policy plus the entries listed in `ALLOWED_HOSTS` (comma-separated). An
    /// unset, empty, blank or non-Unicode variable allows nothing extra; see
    /// [`from_allowed_hosts`](Self::from_allowed_hosts) for how entries are read.
    pub fn from_env() -> Self {
        Self::from_env_value(std::env::var(ALLOWED_HOSTS_VAR))
    }

    fn from_env_value(value: Result<String, std::env::VarError>) -> Self {
        match value {
            Ok(list) => {
                let policy = Self::from_allowed_hosts(&list);
                if policy.allowed.is_empty() {
                    tracing::warn!(
                        "{ALLOWED_HOSTS_VAR} is set but names no valid host; only public \
                         addresses are reachable"
                    );
                }
                policy
            }
            Err(std::env::VarError::NotPresent) => Self::default(),
            Err(std::env::VarError::NotUnicode(_)) => {
                tracing::warn!("{ALLOWED_HOSTS_VAR} is not valid Unicode; no host is allowed");
                Self::default()
            }
        }
    }

    /// The default policy plus the entries of a comma-separated list, as in `ALLOWED_HOSTS`:
    /// `host` (every port) or `host:port` (that port only; IPv6 as `[::1]:8080`, while a bare
    /// `::1` is every port). Blank entries are skipped, so an empty or blank list allows
    /// nothing extra; entries that are not a host or `host:port` (a URL, credentials, a
    /// wildcard such as `*` or `*.example.com`: matching is exact) are skipped with a
    /// warning, so a typo never widens the policy.
    ///
    /// ```
    /// use fact_tools_std::web::NetworkPolicy;
    ///
    /// let policy = NetworkPolicy::from_allowed_hosts(" db.internal, 10.0.0.5:8080 ,[::1],,");
    /// assert!(policy.is_allowed("db.internal", 5432));
    /// assert!(policy.is_allowed("10.0.0.5", 8080));
    /// assert!(!policy.is_allowed("10.0.0.5", 8081));
    /// assert!(policy.is_allowed("::1", 80));
    /// assert_eq!(
    ///     policy.allowed_hosts().collect::<Vec<_>>(),
    ///     ["10.0.0.5:8080", "::1", "db.internal"]
    /// );
    ///
    /// for empty in ["", " ", ",", " , ,"] {
    ///     assert_eq!(NetworkPolicy::from_allowed_hosts(empty), NetworkPolicy::default());
    /// }
    /// ```
    pub fn from_allowed_hosts(list: &str) -> Self {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .fold(Self::default(), Self::allow_host)
    }

    /// Allows `entry` whatever its addresses: a host (a host name, or an IPv4 or IPv6
    /// literal, with or without brackets) on every port, or `host:port` (`[ipv6]:port`) on
    /// that port. An entry that is neither is ignored with a warning.
    #[must_use]
    pub fn allow_host(mut self, entry: impl AsRef<str>) -> Self {
        let entry = entry.as_ref().trim();
        if let Err(why) = self.allowed.insert(entry) {
            warn_ignored(entry, &why);
        }
        self
    }

    /// Caps what a tool keeps of a response body (default [`DEFAULT_MAX_BODY_BYTES`]): the
    /// bytes read from the network, and the size of the body in the tool's JSON answer (where
    /// a control character takes up to 6 bytes, as `\u0000`). The rest of a longer body is
    /// never read and the answer says it was truncated.
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// The response body cap, in bytes.
    pub fn body_limit(&self) -> usize {
        self.max_body_bytes
    }

    /// The allow-list, normalized (lowercase, IP literals in canonical form), sorted, each
    /// entry as it would be written in `ALLOWED_HOSTS`: `host` or `host:port`.
    pub fn allowed_hosts(&self) -> impl Iterator<Item = String> + '_ {
        self.allowed.iter()
    }

    /// Whether `host` (a host name or IP literal as it appears in a URL) may be reached on
    /// `port` whatever its addresses.
    pub fn is_allowed(&self, host: &str, port: u16) -> bool {
        self.allowed.allows(host, port)
    }

    /// Whether `host` is on the allow-list for every port (an entry without a port).
    pub fn is_allowed_host(&self, host: &str) -> bool {
        self.allowed.allows_every_port(host)
    }

    /// Whether the host and port of `url` are on the allow-list.
    pub(crate) fn allows_url(&self, url: &Url) -> bool {
        match (url.host_str(), url.port_or_known_default()) {
            (Some(host), Some(port)) => self.is_allowed(host, port),
            _ => false,
        }
    }

    /// Whether `host` is on the allow-list for some port.
    pub(crate) fn allows_some_port(&self, host: &str) -> bool {
        self.allowed.allows_some_port(host)
    }

    /// When the host of `url` is on the allow-list for other ports only, which: the hint a
    /// refusal of `url` adds, since "add the host" would puzzle whoever already did.
    pub(crate) fn port_hint(&self, url: &Url) -> Option<String> {
        let host = url.host_str()?;
        let port = url.port_or_known_default()?;
        let ports = self.allowed.ports_of(host);
        if ports.is_empty() || ports.contains(&port) {
            return None;
        }
        let listed: Vec<String> = ports.iter().map(u16::to_string).collect();
        let noun = if ports.len() == 1 { "port" } else { "ports" };
        Some(format!(
            "{ALLOWED_HOSTS_VAR} allows {host} only on {noun} {}, not on port {port}",
            listed.join(", ")
        ))
    }

    /// Checks what can be checked before connecting: the scheme is http or https, and an IP
    /// literal host is public or allowed on the URL's port. A host name passes here; its
    /// addresses are checked when it is resolved ([`check_resolved`](Self::check_resolved)).
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
        if class.is_public() || self.allows_url(url) {
            Ok(())
        } else {
            Err(Refusal::Address {
                host: ip.to_string(),
                class,
            })
        }
    }

    /// Keeps the addresses `host` resolved to that may be connected to on `port`: all of them
    /// when the host is allowed on that port, else the public ones.
    ///
    /// ```
    /// use fact_tools_std::web::NetworkPolicy;
    /// use std::net::IpAddr;
    ///
    /// let addrs: Vec<IpAddr> = vec!["10.0.0.1".parse()?, "93.184.216.34".parse()?];
    /// let kept = NetworkPolicy::default().check_resolved("mixed.example", 443, addrs)?;
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
        port: u16,
        addrs: impl IntoIterator<Item = IpAddr>,
    ) -> Result<Vec<IpAddr>, Refusal> {
        self.filter_resolved(host, addrs, self.is_allowed(host, port))
    }

    /// Keeps the addresses of `host` that may be connected to: all of them when `allowed`,
    /// else the public ones.
    pub(crate) fn filter_resolved(
        &self,
        host: &str,
        addrs: impl IntoIterator<Item = IpAddr>,
        allowed: bool,
    ) -> Result<Vec<IpAddr>, Refusal> {
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

/// Warns about an allow-list entry that was not taken, without echoing one that holds
/// credentials (`user:password@host`, pasted from a URL).
fn warn_ignored(entry: &str, why: &InvalidEntry) {
    if entry.contains('@') {
        tracing::warn!(
            "ignoring an {ALLOWED_HOSTS_VAR} entry that holds credentials (not shown): {why}"
        );
    } else {
        tracing::warn!("ignoring the {ALLOWED_HOSTS_VAR} entry {entry:?}: {why}");
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
    fn urls_wildcards_and_credentials_in_the_allow_list_allow_nothing() {
        let policy = NetworkPolicy::from_allowed_hosts(
            "*, *.example.com, http://x.org, https://y.org:443, u:p@z.org, *:8080, :8080",
        );
        assert_eq!(policy.allowed_hosts().count(), 0);
        assert!(!policy.is_allowed("a.example.com", 443));
        assert!(!policy.is_allowed("x.org", 80));
        assert!(!policy.is_allowed("z.org", 80));
        assert!(!policy.is_allowed("127.0.0.1", 8080));
    }

    #[test]
    fn a_host_port_entry_allows_the_host_on_that_port_only() {
        let policy = NetworkPolicy::from_allowed_hosts("127.0.0.1:18080, [::1]:8080");
        assert_eq!(policy.check_url(&url("http://127.0.0.1:18080/")), Ok(()));
        assert_eq!(policy.check_url(&url("http://[::1]:8080/")), Ok(()));
        for refused in [
            "http://127.0.0.1:18081/",
            "http://127.0.0.1/",
            "https://127.0.0.1/",
            "http://[::1]:8081/",
            "http://[::1]/",
        ] {
            assert!(
                matches!(
                    policy.check_url(&url(refused)),
                    Err(Refusal::Address {
                        class: AddressClass::Loopback,
                        ..
                    })
                ),
                "{refused}"
            );
        }
        assert!(!policy.is_allowed_host("127.0.0.1"));
    }

    #[test]
    fn the_default_port_of_the_scheme_is_the_port_matched() {
        let policy = NetworkPolicy::from_allowed_hosts("10.0.0.5:443");
        assert_eq!(policy.check_url(&url("https://10.0.0.5/")), Ok(()));
        assert!(policy.check_url(&url("http://10.0.0.5/")).is_err());
        assert_eq!(policy.check_url(&url("http://10.0.0.5:443/")), Ok(()));
    }

    #[test]
    fn a_refusal_on_another_port_hints_at_the_ports_allowed() {
        let policy = NetworkPolicy::from_allowed_hosts("10.0.0.5:80, 10.0.0.5:443, 10.0.0.6");
        assert_eq!(
            policy.port_hint(&url("http://10.0.0.5:8080/")).as_deref(),
            Some("ALLOWED_HOSTS allows 10.0.0.5 only on ports 80, 443, not on port 8080")
        );
        assert_eq!(policy.port_hint(&url("http://10.0.0.5/")), None);
        assert_eq!(policy.port_hint(&url("http://10.0.0.6:8080/")), None);
        assert_eq!(policy.port_hint(&url("http://10.0.0.7:8080/")), None);
    }

    #[test]
    fn every_spelling_of_an_empty_list_allows_nothing() {
        for list in ["", " ", ",", " , ,", "\t,\n"] {
            let policy = NetworkPolicy::from_allowed_hosts(list);
            assert_eq!(policy, NetworkPolicy::default(), "{list:?}");
            assert!(
                policy.check_url(&url("http://127.0.0.1/")).is_err(),
                "{list:?}"
            );
            let from_env = NetworkPolicy::from_env_value(Ok(list.to_owned()));
            assert_eq!(from_env, NetworkPolicy::default(), "{list:?}");
        }
        let unset = NetworkPolicy::from_env_value(Err(std::env::VarError::NotPresent));
        assert_eq!(unset, NetworkPolicy::default());
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
            policy.check_resolved("localhost", 80, [loopback]),
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
        assert!(policy.check_resolved("localhost", 80, [loopback]).is_err());
        let policy = policy.allow_host("LOCALHOST.");
        assert_eq!(
            policy.check_resolved("localhost", 80, [loopback]),
            Ok(vec![loopback])
        );
    }

    #[test]
    fn a_name_allowed_on_one_port_keeps_internal_addresses_on_that_port_only() {
        let policy = NetworkPolicy::default().allow_host("api.internal:8080");
        let private: IpAddr = "10.0.0.9".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            policy.check_resolved("api.internal", 8080, [private]),
            Ok(vec![private])
        );
        assert!(matches!(
            policy.check_resolved("api.internal", 8081, [private]),
            Err(Refusal::Resolved { .. })
        ));
    }

    #[test]
    fn wildcards_and_garbage_never_widen_the_policy() {
        let policy = NetworkPolicy::from_allowed_hosts("*, exa mple.com, ::g");
        assert_eq!(policy.allowed_hosts().count(), 0);
    }

    #[test]
    fn empty_resolution_is_refused() {
        assert_eq!(
            NetworkPolicy::default().check_resolved("nowhere.example", 80, []),
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
