//! [`AddressClass`] and [`classify`]: which IP addresses are public, and what the others are.
//!
//! The classification is an allow-list: an IPv4 address is public unless it lies in one of the
//! special-purpose ranges of the IANA registry, and an IPv6 address is public only inside the
//! global unicast range `2000::/3`, minus its special-purpose blocks. IPv6 forms that embed an
//! IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`) are judged by the
//! IPv4 address they carry; forms that tunnel to an address chosen by whoever wrote it (6to4,
//! Teredo, the deprecated IPv4-compatible `::a.b.c.d`) are refused outright.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of address an IP address is, as far as reaching it from a tool is concerned.
///
/// Only [`Public`](Self::Public) addresses may be connected to without an allowance; see
/// [`NetworkPolicy`](super::NetworkPolicy). The `Display` form reads as a predicate
/// ("a loopback address"), for messages like "127.0.0.1 is a loopback address".
///
/// ```
/// use fact_tools_std::web::{classify, AddressClass};
///
/// assert_eq!(classify("93.184.216.34".parse()?), AddressClass::Public);
/// assert_eq!(classify("169.254.169.254".parse()?), AddressClass::LinkLocal);
/// assert_eq!(classify("::ffff:127.0.0.1".parse()?), AddressClass::Loopback);
/// assert_eq!(AddressClass::Private.to_string(), "a private address");
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressClass {
    /// Globally routable: the only class reachable without an allowance.
    Public,
    /// `0.0.0.0` or `::`.
    Unspecified,
    /// `0.0.0.0/8` other than `0.0.0.0`: "this network".
    ThisNetwork,
    /// `127.0.0.0/8` or `::1`.
    Loopback,
    /// RFC 1918: `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`.
    Private,
    /// `169.254.0.0/16` (which holds the cloud metadata endpoint `169.254.169.254`) or
    /// `fe80::/10`.
    LinkLocal,
    /// `100.64.0.0/10`, carrier-grade NAT.
    SharedAddressSpace,
    /// `224.0.0.0/4` or `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15`.
    Benchmarking,
    /// `192.0.0.0/24` or `2001::/23`: IETF protocol assignments.
    ProtocolAssignment,
    /// `fc00::/7`.
    UniqueLocal,
    /// `fec0::/10`, deprecated.
    SiteLocal,
    /// `::a.b.c.d` (`::/96`), deprecated.
    Ipv4Compatible,
    /// A transition mechanism that reaches an address of the writer's choosing: 6to4
    /// (`2002::/16`, `192.88.99.0/24`) or Teredo (`2001::/32`).
    Tunnel,
    /// `100::/64`, discard-only.
    Discard,
    /// Anything else outside the public ranges (`240.0.0.0/4`, IPv6 outside `2000::/3`, ...).
    Reserved,
}

impl AddressClass {
    /// Whether addresses of this class may be connected to without an allowance.
    pub const fn is_public(self) -> bool {
        matches!(self, Self::Public)
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Public => "a public address",
            Self::Unspecified => "the unspecified address",
            Self::ThisNetwork => "a 'this network' (0.0.0.0/8) address",
            Self::Loopback => "a loopback address",
            Self::Private => "a private address",
            Self::LinkLocal => "a link-local address",
            Self::SharedAddressSpace => "a shared (carrier-grade NAT) address",
            Self::Multicast => "a multicast address",
            Self::Broadcast => "the broadcast address",
            Self::Documentation => "a documentation address",
            Self::Benchmarking => "a benchmarking address",
            Self::ProtocolAssignment => "an IETF protocol assignment address",
            Self::UniqueLocal => "a unique-local address",
            Self::SiteLocal => "a site-local address",
            Self::Ipv4Compatible => "an IPv4-compatible (deprecated) address",
            Self::Tunnel => "a 6to4 or Teredo tunnel address",
            Self::Discard => "a discard-only address",
            Self::Reserved => "a reserved address",
        })
    }
}

/// Classifies an IP address; see [`AddressClass`].
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// IPv4 special-purpose blocks, first match wins (so the broadcast address precedes `240/4`).
const V4_BLOCKS: &[([u8; 4], u32, AddressClass)] = &[
    ([0, 0, 0, 0], 32, AddressClass::Unspecified),
    ([0, 0, 0, 0], 8, AddressClass::ThisNetwork),
    ([10, 0, 0, 0], 8, AddressClass::Private),
    ([100, 64, 0, 0], 10, AddressClass::SharedAddressSpace),
    ([127, 0, 0, 0], 8, AddressClass::Loopback),
    ([169, 254, 0, 0], 16, AddressClass::LinkLocal),
    ([172, 16, 0, 0], 12, AddressClass::Private),
    ([192, 0, 0, 0], 24, AddressClass::ProtocolAssignment),
    ([192, 0, 2, 0], 24, AddressClass::Documentation),
    ([192, 88, 99, 0], 24, AddressClass::Tunnel),
    ([192, 168, 0, 0], 16, AddressClass::Private),
    ([198, 18, 0, 0], 15, AddressClass::Benchmarking),
    ([198, 51, 100, 0], 24, AddressClass::Documentation),
    ([203, 0, 113, 0], 24, AddressClass::Documentation),
    ([224, 0, 0, 0], 4, AddressClass::Multicast),
    ([255, 255, 255, 255], 32, AddressClass::Broadcast),
    ([240, 0, 0, 0], 4, AddressClass::Reserved),
];

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let bits = ip.to_bits();
    V4_BLOCKS
        .iter()
        .find(|(net, len, _)| {
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            bits & mask == u32::from_be_bytes(*net) & mask
        })
        .map_or(AddressClass::Public, |(_, _, class)| *class)
}

/// How an IPv6 block is judged.
#[derive(Clone, Copy)]
enum V6Rule {
    Class(AddressClass),
    /// Judged by the IPv4 address in its last 32 bits.
    EmbedsIpv4,
}

/// IPv6 special-purpose blocks, first match wins; what matches none is public only inside
/// `2000::/3`.
const V6_BLOCKS: &[(u128, u32, V6Rule)] = &[
    (0, 128, V6Rule::Class(AddressClass::Unspecified)),
    (1, 128, V6Rule::Class(AddressClass::Loopback)),
    (0xffff_0000_0000, 96, V6Rule::EmbedsIpv4),
    (0, 96, V6Rule::Class(AddressClass::Ipv4Compatible)),
    (0x0064_ff9b << 96, 96, V6Rule::EmbedsIpv4),
    (
        0x0064_ff9b_0001 << 80,
        48,
        V6Rule::Class(AddressClass::Reserved),
    ),
    (0x0100 << 112, 64, V6Rule::Class(AddressClass::Discard)),
    (0x2001 << 112, 32, V6Rule::Class(AddressClass::Tunnel)),
    (
        0x2001 << 112,
        23,
        V6Rule::Class(AddressClass::ProtocolAssignment),
    ),
    (
        0x2001_0db8 << 96,
        32,
        V6Rule::Class(AddressClass::Documentation),
    ),
    (0x2002 << 112, 16, V6Rule::Class(AddressClass::Tunnel)),
    (
        0x3fff << 112,
        20,
        V6Rule::Class(AddressClass::Documentation),
    ),
    (0xfc00 << 112, 7, V6Rule::Class(AddressClass::UniqueLocal)),
    (0xfe80 << 112, 10, V6Rule::Class(AddressClass::LinkLocal)),
    (0xfec0 << 112, 10, V6Rule::Class(AddressClass::SiteLocal)),
    (0xff00 << 112, 8, V6Rule::Class(AddressClass::Multicast)),
];

fn in_v6_block(bits: u128, net: u128, len: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    bits & mask == net & mask
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    let bits = ip.to_bits();
    let rule = V6_BLOCKS
        .iter()
        .find(|(net, len, _)| in_v6_block(bits, *net, *len))
        .map(|(_, _, rule)| *rule);
    match rule {
        Some(V6Rule::Class(class)) => class,
        // Truncation is the point: the embedded address is the low 32 bits.
        Some(V6Rule::EmbedsIpv4) => classify_v4(Ipv4Addr::from_bits(bits as u32)),
        None if in_v6_block(bits, 0x2000 << 112, 3) => AddressClass::Public,
        None => AddressClass::Reserved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class_of(ip: &str) -> AddressClass {
        classify(ip.parse().unwrap_or_else(|e| panic!("{ip}: {e}")))
    }

    #[test]
    fn public_ipv4_addresses_are_public() {
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
        ] {
            assert_eq!(class_of(ip), AddressClass::Public, "{ip}");
        }
    }

    #[test]
    fn public_ipv6_addresses_are_public() {
        for ip in [
            "2606:4700::1",
            "2a00:1450:4001:80b::200e",
            "2001:4860:4860::8888",
        ] {
            assert_eq!(class_of(ip), AddressClass::Public, "{ip}");
        }
    }

    #[test]
    fn loopback_is_refused_in_every_form() {
        for ip in ["127.0.0.1", "127.255.255.254", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(class_of(ip), AddressClass::Loopback, "{ip}");
        }
    }

    #[test]
    fn rfc1918_ranges_are_private_at_their_edges() {
        for ip in [
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.0",
            "172.31.255.255",
            "192.168.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert_eq!(class_of(ip), AddressClass::Private, "{ip}");
        }
        assert_eq!(class_of("172.15.255.255"), AddressClass::Public);
    }

    #[test]
    fn metadata_endpoint_and_link_local_ranges_are_link_local() {
        for ip in ["169.254.169.254", "169.254.0.1", "fe80::1", "febf::1"] {
            assert_eq!(class_of(ip), AddressClass::LinkLocal, "{ip}");
        }
    }

    #[test]
    fn special_ipv4_ranges_have_their_class() {
        let cases = [
            ("0.0.0.0", AddressClass::Unspecified),
            ("0.1.2.3", AddressClass::ThisNetwork),
            ("100.64.0.1", AddressClass::SharedAddressSpace),
            ("100.127.255.255", AddressClass::SharedAddressSpace),
            ("224.0.0.1", AddressClass::Multicast),
            ("239.255.255.250", AddressClass::Multicast),
            ("255.255.255.255", AddressClass::Broadcast),
            ("240.0.0.1", AddressClass::Reserved),
            ("192.0.2.1", AddressClass::Documentation),
            ("198.51.100.7", AddressClass::Documentation),
            ("203.0.113.9", AddressClass::Documentation),
            ("198.18.0.1", AddressClass::Benchmarking),
            ("198.19.255.255", AddressClass::Benchmarking),
            ("192.0.0.8", AddressClass::ProtocolAssignment),
            ("192.88.99.1", AddressClass::Tunnel),
        ];
        for (ip, class) in cases {
            assert_eq!(class_of(ip), class, "{ip}");
        }
    }

    #[test]
    fn special_ipv6_ranges_have_their_class() {
        let cases = [
            ("::", AddressClass::Unspecified),
            ("::127.0.0.1", AddressClass::Ipv4Compatible),
            ("::8.8.8.8", AddressClass::Ipv4Compatible),
            ("fc00::1", AddressClass::UniqueLocal),
            ("fd12:3456::1", AddressClass::UniqueLocal),
            ("fec0::1", AddressClass::SiteLocal),
            ("ff02::1", AddressClass::Multicast),
            ("2001:db8::1", AddressClass::Documentation),
            ("3fff::1", AddressClass::Documentation),
            ("2002:7f00:1::1", AddressClass::Tunnel),
            ("2001:0:4136:e378::1", AddressClass::Tunnel),
            ("2001:2::1", AddressClass::ProtocolAssignment),
            ("100::1", AddressClass::Discard),
            ("64:ff9b:1::1", AddressClass::Reserved),
            ("4000::1", AddressClass::Reserved),
            ("::ffff:0:127.0.0.1", AddressClass::Reserved),
        ];
        for (ip, class) in cases {
            assert_eq!(class_of(ip), class, "{ip}");
        }
    }

    #[test]
    fn nat64_and_mapped_forms_are_judged_by_the_embedded_ipv4_address() {
        assert_eq!(class_of("64:ff9b::127.0.0.1"), AddressClass::Loopback);
        assert_eq!(class_of("64:ff9b::a9fe:a9fe"), AddressClass::LinkLocal);
        assert_eq!(class_of("64:ff9b::93.184.216.34"), AddressClass::Public);
        assert_eq!(class_of("::ffff:169.254.169.254"), AddressClass::LinkLocal);
        assert_eq!(class_of("::ffff:93.184.216.34"), AddressClass::Public);
    }

    #[test]
    fn only_public_is_public() {
        assert!(AddressClass::Public.is_public());
        assert!(!AddressClass::Loopback.is_public());
        assert!(!AddressClass::Reserved.is_public());
    }
}
