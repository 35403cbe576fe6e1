//! The oracle of the network properties: which addresses a tool must never reach, read from the
//! IANA registries independently of `fact_tools_std::web::classify`.
//!
//! Sources: the IANA IPv4 and IPv6 Special-Purpose Address Registries (their "Globally
//! Reachable" column), the IPv4 Multicast and IPv6 Multicast registries, and the IPv6 Address
//! Space registry (only `2000::/3` is allocated global unicast; the rest is reserved by the
//! IETF or special). Where the registries leave a choice, the oracle says so ([`Reach::Either`])
//! and takes the side of whoever writes the URL being an attacker:
//!
//! - an IPv4-mapped address (`::ffff:a.b.c.d`) reaches the IPv4 address it carries (RFC 4291
//!   2.5.5.2: a socket connects to it over IPv4), and so does a NAT64 address of the well-known
//!   prefix (`64:ff9b::/96`, RFC 6052), through a translator: both are judged by that address;
//! - 6to4 (`2002::/16`), Teredo (`2001::/32`) and the deprecated IPv4-compatible form
//!   (`::/96`) tunnel to an IPv4 address of the writer's choosing: never reachable;
//! - special-purpose blocks whose "Globally Reachable" is true or N/A (anycast services,
//!   AS112, AMT, ORCHID, the deprecated 6to4 relay anycast) may be reached or refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What the registries say about reaching an address from a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Global unicast outside every special-purpose block: a tool may reach it.
    Public,
    /// Not globally reachable (loopback, private, link-local, documentation, reserved, ...):
    /// a tool must never reach it.
    Internal,
    /// Special-purpose but globally reachable, or not specified: either answer is right.
    Either,
}

use Reach::{Either, Internal};

/// IPv4 blocks: the most specific one containing an address decides.
const V4: &[([u8; 4], u32, Reach)] = &[
    ([0, 0, 0, 0], 8, Internal),       // "this network" (0.0.0.0/32 within)
    ([10, 0, 0, 0], 8, Internal),      // private use
    ([100, 64, 0, 0], 10, Internal),   // shared address space (carrier-grade NAT)
    ([127, 0, 0, 0], 8, Internal),     // loopback
    ([169, 254, 0, 0], 16, Internal),  // link local
    ([172, 16, 0, 0], 12, Internal),   // private use
    ([192, 0, 0, 0], 24, Internal),    // IETF protocol assignments
    ([192, 0, 0, 9], 32, Either),      // Port Control Protocol anycast
    ([192, 0, 0, 10], 32, Either),     // TURN anycast
    ([192, 0, 2, 0], 24, Internal),    // documentation (TEST-NET-1)
    ([192, 31, 196, 0], 24, Either),   // AS112-v4
    ([192, 52, 193, 0], 24, Either),   // AMT
    ([192, 88, 99, 0], 24, Either),    // deprecated 6to4 relay anycast
    ([192, 168, 0, 0], 16, Internal),  // private use
    ([192, 175, 48, 0], 24, Either),   // direct delegation AS112
    ([198, 18, 0, 0], 15, Internal),   // benchmarking
    ([198, 51, 100, 0], 24, Internal), // documentation (TEST-NET-2)
    ([203, 0, 113, 0], 24, Internal),  // documentation (TEST-NET-3)
    ([224, 0, 0, 0], 4, Internal),     // multicast
    ([240, 0, 0, 0], 4, Internal),     // reserved
    ([255, 255, 255, 255], 32, Internal), // limited broadcast
];

/// How an IPv6 block is judged.
#[derive(Debug, Clone, Copy)]
enum V6 {
    Is(Reach),
    /// By the IPv4 address in the last 32 bits.
    Carries,
}

/// IPv6 blocks: the most specific one containing an address decides; outside all of them,
/// `2000::/3` is public and the rest internal.
const V6_BLOCKS: &[(u128, u32, V6)] = &[
    (0, 128, V6::Is(Internal)),                         // unspecified
    (1, 128, V6::Is(Internal)),                         // loopback
    (0, 96, V6::Is(Internal)),                          // IPv4-compatible (deprecated)
    (0xffff << 32, 96, V6::Carries),                    // IPv4-mapped
    (0x64_ff9b << 96, 96, V6::Carries),                 // NAT64 well-known prefix
    (0x64_ff9b_0001 << 80, 48, V6::Is(Internal)),       // local-use IPv4/IPv6 translation
    (0x100 << 112, 64, V6::Is(Internal)),               // discard-only
    (0x100_0000_0000_0001 << 64, 64, V6::Is(Internal)), // dummy IPv6 prefix
    (0x2001 << 112, 23, V6::Is(Internal)),              // IETF protocol assignments
    (0x2001 << 112, 32, V6::Is(Internal)),              // Teredo
    ((0x2001_0001 << 96) | 1, 128, V6::Is(Either)),     // PCP anycast
    ((0x2001_0001 << 96) | 2, 128, V6::Is(Either)),     // TURN anycast
    ((0x2001_0001 << 96) | 3, 128, V6::Is(Either)),     // DNS-SD service registration anycast
    (0x2001_0002 << 96, 48, V6::Is(Internal)),          // benchmarking
    (0x2001_0003 << 96, 32, V6::Is(Either)),            // AMT
    (0x2001_0004_0112 << 80, 48, V6::Is(Either)),       // AS112-v6
    (0x2001_0010 << 96, 28, V6::Is(Either)),            // ORCHID (deprecated)
    (0x2001_0020 << 96, 28, V6::Is(Either)),            // ORCHIDv2
    (0x2001_0030 << 96, 28, V6::Is(Either)),            // drone remote ID
    (0x2001_0db8 << 96, 32, V6::Is(Internal)),          // documentation
    (0x2002 << 112, 16, V6::Is(Internal)),              // 6to4
    (0x2620_004f_8000 << 80, 48, V6::Is(Either)),       // direct delegation AS112
    (0x3fff << 112, 20, V6::Is(Internal)),              // documentation
    (0x5f00 << 112, 16, V6::Is(Internal)),              // segment routing SIDs
    (0xfc00 << 112, 7, V6::Is(Internal)),               // unique local
    (0xfe80 << 112, 10, V6::Is(Internal)),              // link-local unicast
    (0xfec0 << 112, 10, V6::Is(Internal)),              // site-local (deprecated)
    (0xff00 << 112, 8, V6::Is(Internal)),               // multicast
];

/// What the registries say about reaching `ip`.
pub(crate) fn reach(ip: IpAddr) -> Reach {
    match ip {
        IpAddr::V4(v4) => reach_v4(v4),
        IpAddr::V6(v6) => reach_v6(v6),
    }
}

fn reach_v4(ip: Ipv4Addr) -> Reach {
    let bits = u32::from(ip);
    V4.iter()
        .filter(|(net, len, _)| {
            within(
                u128::from(bits),
                u128::from(u32::from_be_bytes(*net)),
                *len,
                32,
            )
        })
        .max_by_key(|(_, len, _)| *len)
        .map_or(Reach::Public, |(_, _, reach)| *reach)
}

fn reach_v6(ip: Ipv6Addr) -> Reach {
    let bits = u128::from(ip);
    let block = V6_BLOCKS
        .iter()
        .filter(|(net, len, _)| within(bits, *net, *len, 128))
        .max_by_key(|(_, len, _)| *len);
    match block {
        Some((_, _, V6::Is(reach))) => *reach,
        Some((_, _, V6::Carries)) => reach_v4(Ipv4Addr::from((bits & 0xffff_ffff) as u32)),
        None if bits >> 125 == 1 => Reach::Public,
        None => Internal,
    }
}

/// Whether the `width`-bit address `bits` lies in `net/len`.
fn within(bits: u128, net: u128, len: u32, width: u32) -> bool {
    let host = width - len;
    bits >> host == net >> host
}

/// The blocks above, for strategies that aim at them: `(first address, prefix length)`.
pub(crate) fn v4_blocks() -> Vec<(u32, u32)> {
    V4.iter()
        .map(|(net, len, _)| (u32::from_be_bytes(*net), *len))
        .collect()
}

/// As [`v4_blocks`], for IPv6.
pub(crate) fn v6_blocks() -> Vec<(u128, u32)> {
    V6_BLOCKS.iter().map(|(net, len, _)| (*net, *len)).collect()
}

#[test]
fn the_oracle_reads_the_registries_as_written() {
    let cases = [
        ("8.8.8.8", Reach::Public),
        ("172.15.255.255", Reach::Public),
        ("172.32.0.0", Reach::Public),
        ("127.0.0.1", Internal),
        ("0.0.0.0", Internal),
        ("100.127.255.255", Internal),
        ("100.128.0.0", Reach::Public),
        ("192.0.0.9", Either),
        ("192.0.0.11", Internal),
        ("198.19.255.255", Internal),
        ("198.20.0.0", Reach::Public),
        ("255.255.255.255", Internal),
        ("::1", Internal),
        ("::ffff:127.0.0.1", Internal),
        ("::ffff:8.8.8.8", Reach::Public),
        ("64:ff9b::a00:1", Internal),
        ("64:ff9b::808:808", Reach::Public),
        ("::8.8.8.8", Internal),
        ("2001::1", Internal),
        ("2001:1::1", Either),
        ("2001:4860:4860::8888", Reach::Public),
        ("2002:808:808::1", Internal),
        ("2620:4f:8000::1", Either),
        ("3fff::1", Internal),
        ("4000::1", Internal),
        ("fe80::1", Internal),
    ];
    for (ip, expected) in cases {
        let parsed: IpAddr = ip.parse().unwrap_or_else(|e| panic!("{ip}: {e}"));
        assert_eq!(reach(parsed), expected, "{ip}");
    }
}
