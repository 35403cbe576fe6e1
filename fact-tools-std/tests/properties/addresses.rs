//! Strategies for the network properties: IP addresses aimed at the special-purpose blocks
//! and their edges, and URLs that write an address the odd ways a WHATWG parser still reads.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use proptest::sample::select;

use super::iana;

/// Addresses just inside, at, or just outside the edges of `blocks`, or anywhere within.
fn near_blocks<T>(blocks: Vec<(T, u32)>, width: u32) -> impl Strategy<Value = u128>
where
    T: Into<u128> + Copy + std::fmt::Debug + 'static,
{
    (select(blocks), any::<u128>(), 0u8..5).prop_map(move |((net, len), random, edge)| {
        let all = if width == 128 {
            u128::MAX
        } else {
            (1u128 << width) - 1
        };
        let host_mask = all.checked_shr(len).unwrap_or(0);
        let first = net.into() & all & !host_mask;
        let last = first | host_mask;
        match edge {
            0 => first,
            1 => last,
            2 => first.wrapping_sub(1) & all,
            3 => last.wrapping_add(1) & all,
            _ => first | (random & host_mask),
        }
    })
}

/// IPv4 addresses: uniform, or aimed at the special-purpose blocks and public neighbours.
pub(crate) fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    let mut blocks = iana::v4_blocks();
    // Public neighbours of special blocks, and well-known public addresses.
    blocks.extend([
        (u32::from_be_bytes([8, 8, 8, 0]), 24),
        (u32::from_be_bytes([93, 184, 216, 0]), 24),
        (u32::from_be_bytes([172, 32, 0, 0]), 16),
        (u32::from_be_bytes([100, 128, 0, 0]), 10),
    ]);
    prop_oneof![
        1 => any::<u32>().prop_map(Ipv4Addr::from),
        3 => near_blocks(blocks, 32).prop_map(|bits| Ipv4Addr::from(bits as u32)),
    ]
}

/// IPv6 addresses: uniform, aimed at the special-purpose blocks, in global unicast, or one of
/// the forms that carry or tunnel to an IPv4 address.
pub(crate) fn ipv6() -> impl Strategy<Value = Ipv6Addr> {
    let mut blocks = iana::v6_blocks();
    blocks.extend([
        (0x2000 << 112, 3),
        (0x2606_4700 << 96, 32),
        (0x4000 << 112, 2),
    ]);
    let embedded = (ipv4(), 0u8..6, any::<u64>()).prop_map(|(v4, form, random)| {
        let v4 = u128::from(u32::from(v4));
        let bits = match form {
            0 => (0xffff << 32) | v4,                               // IPv4-mapped
            1 => (0x64_ff9b << 96) | v4,                            // NAT64
            2 => v4,                                                // IPv4-compatible
            3 => (0x2002 << 112) | (v4 << 80) | u128::from(random), // 6to4
            4 => (0x2001 << 112) | (u128::from(random) << 32) | (!v4 & 0xffff_ffff), // Teredo
            _ => (0xffff << 48) | v4, // IPv4-translated (::ffff:0:a.b.c.d)
        };
        Ipv6Addr::from(bits)
    });
    prop_oneof![
        1 => any::<u128>().prop_map(Ipv6Addr::from),
        3 => near_blocks(blocks, 128).prop_map(Ipv6Addr::from),
        2 => embedded,
    ]
}

/// Any address, biased as above.
pub(crate) fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![ipv4().prop_map(IpAddr::V4), ipv6().prop_map(IpAddr::V6)]
}

/// A URL whose host is `target` written in some way, and whether the writing is a plain one
/// that every caller uses (dotted quad, bracketed IPv6, http or https, nothing around it).
#[derive(Debug, Clone)]
pub(crate) struct Spelled {
    pub(crate) url: String,
    pub(crate) target: IpAddr,
    pub(crate) plain: bool,
}

/// `target` as a URL host, odd ways included: one number, hex, octal, shortened dotted forms,
/// a trailing dot, percent-encoded or full-width digits, tabs and newlines (which the parser
/// drops), IPv6 uppercase, with leading zeros, uncompressed or with a dotted tail.
pub(crate) fn host(target: IpAddr) -> impl Strategy<Value = (String, bool)> {
    (0u8..12, any::<[u8; 4]>()).prop_map(move |(form, radix)| match target {
        IpAddr::V4(v4) => v4_host(v4, form, radix),
        IpAddr::V6(v6) => v6_host(v6, form),
    })
}

/// One number in `radix` as the WHATWG IPv4 parser reads it: `0x` hex, `0` octal, decimal.
fn number(value: u32, radix: u8) -> String {
    match radix % 4 {
        0 => format!("0x{value:x}"),
        1 if value != 0 => format!("0{value:o}"),
        2 => format!("0X{value:X}"),
        _ => value.to_string(),
    }
}

fn v4_host(v4: Ipv4Addr, form: u8, radix: [u8; 4]) -> (String, bool) {
    let [a, b, c, d] = v4.octets();
    let bits = u32::from(v4);
    let low16 = bits & 0xffff;
    let low24 = bits & 0xff_ffff;
    let dotted = v4.to_string();
    let host = match form {
        0 => return (dotted, true),
        1 => number(bits, radix[0]),
        2 => [a, b, c, d]
            .iter()
            .zip(radix)
            .map(|(octet, r)| number(u32::from(*octet), r))
            .collect::<Vec<_>>()
            .join("."),
        3 => format!("{a}.{b}.{}", number(low16, radix[2])),
        4 => format!("{a}.{}", number(low24, radix[1])),
        5 => format!("{dotted}."),
        6 => dotted.bytes().map(|c| format!("%{c:02X}")).collect(),
        7 => dotted
            .chars()
            .map(|c| match c {
                '.' => '\u{3002}',
                digit => char::from_u32(u32::from(digit) - 0x30 + 0xff10).unwrap_or(digit),
            })
            .collect(),
        8 => {
            let (head, tail) = dotted.split_at(dotted.len() / 2);
            format!("{head}\t{tail}\n")
        }
        9 => format!("0000{a:o}.{b}.{c}.{d}"),
        _ => dotted,
    };
    (host, false)
}

fn v6_host(v6: Ipv6Addr, form: u8) -> (String, bool) {
    let segments = v6.segments();
    let host = match form {
        0 => return (format!("[{v6}]"), true),
        1 => format!("[{}]", v6.to_string().to_uppercase()),
        2 => format!(
            "[{}]",
            segments
                .iter()
                .map(|s| format!("{s:04x}"))
                .collect::<Vec<_>>()
                .join(":")
        ),
        3 => {
            let [.., a, b, c, d] = v6.octets();
            let head: Vec<String> = segments[..6].iter().map(|s| format!("{s:x}")).collect();
            format!("[{}:{a}.{b}.{c}.{d}]", head.join(":"))
        }
        4 => format!("[{v6}%25eth0]"),
        5 => format!("[{v6}]."),
        _ => format!("[{v6}]"),
    };
    (host, false)
}

/// A URL reaching `target` on some port, the host written by [`host`], with the tricks that
/// fool a hand-written parser: credentials that look like a host, `#@` and `\@` after the
/// host, odd scheme case, spaces around it.
pub(crate) fn url(target: impl Strategy<Value = IpAddr>) -> impl Strategy<Value = Spelled> {
    target.prop_flat_map(|target| {
        (
            host(target),
            select(vec!["http", "https", "HTTP", "hTTpS"]),
            select(vec!["", ":80", ":443", ":8080", ":0", ":65535"]),
            0u8..8,
        )
            .prop_map(move |((host, plain_host), scheme, port, trick)| {
                let base = format!("{scheme}://{host}{port}");
                let plain = plain_host && trick == 0 && scheme.chars().all(|c| c.is_lowercase());
                let url = match trick {
                    1 => format!("{scheme}://public.example@{host}{port}/"),
                    2 => format!("{scheme}://user:pass@{host}{port}/"),
                    3 => format!("{base}#@public.example/"),
                    4 => format!("{base}\\@public.example/"),
                    5 => format!("  {base}/path?q=1  "),
                    6 => format!("{base}/..%2f..%2f/etc/passwd"),
                    _ => format!("{base}/"),
                };
                Spelled { url, target, plain }
            })
    })
}
