//! [`AllowList`]: the hosts, each on every port or on listed ports, that `ALLOWED_HOSTS` lets
//! the web tools reach whatever their addresses.

use std::collections::BTreeSet;
use std::fmt;

use url::Host;

/// The allow-list of a [`NetworkPolicy`](super::NetworkPolicy): normalized hosts, each with
/// no port (every port) or with one port; a host may have several entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AllowList {
    /// `(host, None)` allows every port of `host`, `(host, Some(port))` that port only.
    /// Sorted so that one host's entries are one range, the every-port entry first.
    entries: BTreeSet<(String, Option<u16>)>,
}

impl AllowList {
    /// Adds one entry, as written in `ALLOWED_HOSTS`.
    ///
    /// # Errors
    ///
    /// Why the entry is not a host or `host:port`.
    pub(crate) fn insert(&mut self, entry: &str) -> Result<(), InvalidEntry> {
        let (host, port) = parse_entry(entry)?;
        self.entries.insert((host, port));
        Ok(())
    }

    /// Whether `host` (as it appears in a URL) may be reached on `port` whatever its addresses.
    pub(crate) fn allows(&self, host: &str, port: u16) -> bool {
        normalize_host(host).is_some_and(|host| {
            self.entries.contains(&(host.clone(), None))
                || self.entries.contains(&(host, Some(port)))
        })
    }

    /// Whether `host` has an every-port entry.
    pub(crate) fn allows_every_port(&self, host: &str) -> bool {
        normalize_host(host).is_some_and(|host| self.entries.contains(&(host, None)))
    }

    /// Whether `host` has any entry, for any port.
    pub(crate) fn allows_some_port(&self, host: &str) -> bool {
        normalize_host(host).is_some_and(|host| self.entries_of(host).next().is_some())
    }

    /// The ports `host` is allowed on when it is not allowed on every port, in order; empty
    /// when it has no entry or an every-port one.
    pub(crate) fn ports_of(&self, host: &str) -> Vec<u16> {
        let Some(host) = normalize_host(host) else {
            return Vec::new();
        };
        let ports: Option<Vec<u16>> = self.entries_of(host).map(|(_, port)| *port).collect();
        ports.unwrap_or_default()
    }

    fn entries_of(&self, host: String) -> impl Iterator<Item = &(String, Option<u16>)> {
        let every = (host.clone(), None);
        let last = (host, Some(u16::MAX));
        self.entries.range(every..=last)
    }

    /// The entries, as they would be written in `ALLOWED_HOSTS`: `host`, `host:port`,
    /// `[ipv6]:port`.
    pub(crate) fn iter(&self) -> impl Iterator<Item = String> + '_ {
        self.entries.iter().map(|(host, port)| match port {
            None => host.clone(),
            Some(port) if host.contains(':') => format!("[{host}]:{port}"),
            Some(port) => format!("{host}:{port}"),
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Why an allow-list entry was not taken; the entry itself is not repeated, since it may hold
/// credentials someone pasted with a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InvalidEntry {
    /// Nothing but blanks.
    Empty,
    /// Not a host name or IP address (a URL, a wildcard, a path, characters no host has).
    Host,
    /// The part after the host's `:` is not a port from 1 to 65535.
    Port,
}

impl fmt::Display for InvalidEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "it is empty",
            Self::Host => {
                "expected a host name or an IP address, optionally with ':port' (IPv6 as \
                 '[::1]:8080'), without scheme, credentials, path or wildcard"
            }
            Self::Port => "the port must be a number from 1 to 65535",
        })
    }
}

/// `host`, `host:port`, a bare IPv6 address (`::1`), or `[ipv6]` / `[ipv6]:port`.
fn parse_entry(entry: &str) -> Result<(String, Option<u16>), InvalidEntry> {
    let entry = entry.trim();
    if entry.is_empty() {
        return Err(InvalidEntry::Empty);
    }
    // A URL or a path: say so, rather than read "http" as a host and "//..." as its port.
    if entry.contains('/') {
        return Err(InvalidEntry::Host);
    }
    let (host, port) = if let Some(bracketed) = entry.strip_prefix('[') {
        let (inside, after) = bracketed.split_once(']').ok_or(InvalidEntry::Host)?;
        // Brackets hold an IPv6 address and nothing else.
        if !inside.contains(':') {
            return Err(InvalidEntry::Host);
        }
        match after {
            "" => (inside, None),
            after => (
                inside,
                Some(after.strip_prefix(':').ok_or(InvalidEntry::Host)?),
            ),
        }
    } else {
        match entry.split_once(':') {
            // Two colons or more: an IPv6 address without brackets, hence without port.
            Some((_, rest)) if rest.contains(':') => (entry, None),
            Some((host, port)) => (host, Some(port)),
            None => (entry, None),
        }
    };
    let port = port.map(parse_port).transpose()?;
    let host = normalize_host(host).ok_or(InvalidEntry::Host)?;
    Ok((host, port))
}

fn parse_port(port: &str) -> Result<u16, InvalidEntry> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidEntry::Port);
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(InvalidEntry::Port),
        Ok(port) => Ok(port),
    }
}

/// A host in the form the allow-list stores: what the WHATWG host parser makes of it (so IPv4
/// written as one integer or in hex is the dotted quad, IPv6 is compressed, names are
/// lowercase punycode), without brackets or a trailing dot. `None` for what is not a host,
/// and for wildcards, which would otherwise pass as names.
pub(crate) fn normalize_host(host: &str) -> Option<String> {
    let unbracketed = host
        .strip_prefix('[')
        .and_then(|host| host.strip_suffix(']'))
        .unwrap_or(host);
    let parsed = if unbracketed.contains(':') {
        Host::parse(&format!("[{unbracketed}]"))
    } else {
        Host::parse(unbracketed)
    };
    match parsed.ok()? {
        Host::Domain(name) => {
            let name = name.trim_end_matches('.');
            (!name.is_empty() && !name.contains('*')).then(|| name.to_owned())
        }
        Host::Ipv4(ip) => Some(ip.to_string()),
        Host::Ipv6(ip) => Some(ip.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> AllowList {
        let mut list = AllowList::default();
        for entry in entries {
            list.insert(entry)
                .unwrap_or_else(|e| panic!("{entry:?}: {e}"));
        }
        list
    }

    #[test]
    fn a_bare_host_is_allowed_on_every_port() {
        let list = list(&["db.internal", "10.0.0.5", "::1"]);
        for port in [1, 80, 443, 5432, 65535] {
            assert!(list.allows("db.internal", port), "{port}");
            assert!(list.allows("10.0.0.5", port), "{port}");
            assert!(list.allows("[::1]", port), "{port}");
        }
    }

    #[test]
    fn a_host_port_entry_allows_that_port_only() {
        let list = list(&["127.0.0.1:18080", "[::1]:8080", "API.internal:8443"]);
        assert!(list.allows("127.0.0.1", 18080));
        assert!(!list.allows("127.0.0.1", 18081));
        assert!(!list.allows("127.0.0.1", 80));
        assert!(list.allows("[::1]", 8080));
        assert!(list.allows("::1", 8080));
        assert!(!list.allows("::1", 8081));
        assert!(list.allows("api.internal", 8443));
        assert!(!list.allows("api.internal", 443));
    }

    #[test]
    fn entries_for_several_ports_of_one_host_add_up() {
        let list = list(&["10.0.0.5:80", "10.0.0.5:443"]);
        assert_eq!(list.ports_of("10.0.0.5"), [80, 443]);
        assert!(list.allows("10.0.0.5", 443));
        assert!(!list.allows("10.0.0.5", 8080));
        assert!(list.allows_some_port("10.0.0.5"));
        assert!(!list.allows_every_port("10.0.0.5"));
    }

    #[test]
    fn an_every_port_entry_wins_over_port_entries() {
        let list = list(&["10.0.0.5:80", "10.0.0.5"]);
        assert!(list.allows("10.0.0.5", 8080));
        assert!(list.allows_every_port("10.0.0.5"));
        assert_eq!(list.ports_of("10.0.0.5"), [] as [u16; 0]);
    }

    #[test]
    fn hosts_with_ports_are_normalized_like_bare_hosts() {
        let list = list(&[
            "0x7f.0.0.1:8080",
            "[0:0:0:0:0:0:0:1]:8080",
            "Example.COM.:81",
        ]);
        assert!(list.allows("127.0.0.1", 8080));
        assert!(list.allows("::1", 8080));
        assert!(list.allows("example.com", 81));
        assert_eq!(
            list.iter().collect::<Vec<_>>(),
            ["127.0.0.1:8080", "[::1]:8080", "example.com:81"]
        );
    }

    #[test]
    fn entries_that_are_not_a_host_or_a_host_and_port_are_refused() {
        for (entry, why) in [
            ("", InvalidEntry::Empty),
            ("   ", InvalidEntry::Empty),
            (":8080", InvalidEntry::Host),
            ("*", InvalidEntry::Host),
            ("*:80", InvalidEntry::Host),
            ("*.example.com", InvalidEntry::Host),
            ("[]:80", InvalidEntry::Host),
            ("[example.com]:80", InvalidEntry::Host),
            ("[::1]8080", InvalidEntry::Host),
            ("[::1", InvalidEntry::Host),
            ("exa mple.com", InvalidEntry::Host),
            ("user@db.internal", InvalidEntry::Host),
            ("http://db.internal", InvalidEntry::Host),
            ("http://db.internal:80", InvalidEntry::Host),
            ("db.internal/path", InvalidEntry::Host),
            ("db.internal:", InvalidEntry::Port),
            ("db.internal:0", InvalidEntry::Port),
            ("db.internal:65536", InvalidEntry::Port),
            ("db.internal:+80", InvalidEntry::Port),
            ("db.internal:http", InvalidEntry::Port),
            ("[::1]:", InvalidEntry::Port),
            ("::g", InvalidEntry::Host),
        ] {
            assert_eq!(parse_entry(entry), Err(why.clone()), "{entry:?}");
        }
    }

    #[test]
    fn an_empty_list_allows_nothing() {
        let list = AllowList::default();
        assert!(list.is_empty());
        assert!(!list.allows("127.0.0.1", 80));
        assert!(!list.allows_some_port("127.0.0.1"));
    }
}
