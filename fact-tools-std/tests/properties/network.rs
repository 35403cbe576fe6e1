//! Properties of the network policy: nothing the web tools accept is internal, and public
//! addresses are accepted, however the URL writes them.
//!
//! The oracle is [`iana::reach`], read from the IANA registries without the code under test.
//! What is checked is what the tools decide with: [`classify`], [`NetworkPolicy::check_url`]
//! on the URL as `Web.HTTPRequest` parses it (`Url::parse` of the trimmed text, in
//! `HttpClient::checked_url`), and [`NetworkPolicy::check_resolved`], which the client's
//! resolver applies to every address a host name resolves to. The last property runs
//! `Web.HTTPRequest` itself, with every name resolving to loopback, so that even a broken
//! policy would send nothing beyond this machine.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use fact_runtime::{ToolCall, ToolExecutor};
use fact_tests::property;
use fact_tools_std::web::{HttpClient, NetworkPolicy, classify};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::json;
use url::{Host, Url};

use super::addresses::{self, Spelled};
use super::iana::{self, Reach};

/// What `Web.HTTPRequest` connects to for `url`, if the policy lets it: the address written
/// in the URL, or for a host name the addresses `resolves_to`, as the client's resolver keeps
/// them. `Ok(None)` when the policy refuses; `Err` when the text is not a URL.
fn admitted(
    policy: &NetworkPolicy,
    url: &str,
    resolves_to: &[IpAddr],
) -> Result<Option<Vec<IpAddr>>, url::ParseError> {
    let url = Url::parse(url.trim())?;
    if policy.check_url(&url).is_err() {
        return Ok(None);
    }
    let port = url.port_or_known_default().unwrap_or(0);
    Ok(match url.host() {
        Some(Host::Ipv4(v4)) => Some(vec![IpAddr::V4(v4)]),
        Some(Host::Ipv6(v6)) => Some(vec![IpAddr::V6(v6)]),
        Some(Host::Domain(name)) => policy
            .check_resolved(name, port, resolves_to.iter().copied())
            .ok(),
        None => None,
    })
}

#[test]
fn an_address_classified_public_is_public_in_the_registries_and_the_reverse() {
    property::check(
        "classify against the registries",
        20_000,
        addresses::ip(),
        |ip| {
            let public = classify(ip).is_public();
            match iana::reach(ip) {
                Reach::Internal => {
                    prop_assert!(!public, "{} is internal, classified {:?}", ip, classify(ip))
                }
                Reach::Public => {
                    prop_assert!(public, "{} is public, classified {:?}", ip, classify(ip))
                }
                Reach::Either => {}
            }
            Ok(())
        },
    );
}

#[test]
fn no_spelling_of_an_internal_address_in_a_url_is_admitted_and_public_ones_are() {
    let policy = NetworkPolicy::default();
    property::check(
        "URLs under the default policy",
        4_000,
        addresses::url(addresses::ip()),
        |Spelled { url, target, plain }| {
            // A host name in the URL (a decoy the parser took for the host) resolves to the
            // target: the writer of the URL is assumed to control its DNS.
            let admitted = admitted(&policy, &url, &[target]);
            prop_assert!(admitted.is_ok() || !plain, "{} does not parse", url);
            let Ok(admitted) = admitted else {
                return Ok(());
            };
            if let Ok(parsed) = Url::parse(url.trim())
                && let Some(Host::Ipv4(_) | Host::Ipv6(_)) = parsed.host()
            {
                let host = parsed
                    .host_str()
                    .unwrap_or_default()
                    .trim_matches(['[', ']']);
                prop_assert_eq!(
                    host.parse::<IpAddr>().ok(),
                    Some(target),
                    "{} names another address",
                    url
                );
            }
            match (iana::reach(target), admitted) {
                (Reach::Internal, Some(addrs)) => {
                    prop_assert!(false, "{} admitted: it reaches {:?}", url, addrs);
                }
                (Reach::Public, None) => {
                    prop_assert!(false, "{} refused, yet {} is public", url, target);
                }
                _ => {}
            }
            Ok(())
        },
    );
}

#[test]
fn a_name_keeps_exactly_its_public_addresses() {
    let policy = NetworkPolicy::default();
    let addresses = proptest::collection::vec(addresses::ip(), 0..6);
    property::check(
        "resolved addresses",
        4_000,
        (addresses, select(vec![80u16, 443, 8080])),
        |(resolved, port)| {
            let kept = policy.check_resolved("attacker.example", port, resolved.clone());
            let public: Vec<IpAddr> = resolved
                .iter()
                .copied()
                .filter(|ip| iana::reach(*ip) == Reach::Public)
                .collect();
            match kept {
                Ok(kept) => {
                    for ip in &kept {
                        prop_assert!(resolved.contains(ip), "{} was never resolved", ip);
                        prop_assert_ne!(iana::reach(*ip), Reach::Internal, "{} kept", ip);
                    }
                    for ip in &public {
                        prop_assert!(kept.contains(ip), "public {} dropped", ip);
                    }
                }
                Err(refusal) => prop_assert!(
                    public.is_empty(),
                    "refused ({}) though {:?} are public",
                    refusal,
                    public
                ),
            }
            Ok(())
        },
    );
}

/// The addresses of the allow-list below.
const LISTED_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 5);
const LISTED_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);

#[test]
fn an_allowance_reaches_exactly_what_its_entry_names() {
    let policy = NetworkPolicy::from_allowed_hosts("10.0.0.5:8080, intranet.example, [fd00::1]");
    let target = prop_oneof![
        2 => Just(IpAddr::V4(LISTED_V4)),
        1 => Just(IpAddr::V6(LISTED_V6)),
        2 => addresses::ip(),
    ];
    let name = select(vec![
        "intranet.example",
        "INTRANET.example.",
        "other.example",
        "localhost",
    ]);
    property::check(
        "the allow-list",
        2_000,
        (addresses::url(target), name, addresses::ip()),
        |(Spelled { url, target, .. }, name, resolved)| {
            // An IP literal is allowed on its entry's port only.
            let parsed = Url::parse(url.trim()).ok();
            let port = parsed.as_ref().and_then(Url::port_or_known_default);
            let listed = (target == IpAddr::V4(LISTED_V4) && port == Some(8080))
                || target == IpAddr::V6(LISTED_V6);
            if let Ok(Some(_)) = admitted(&policy, &url, &[target]) {
                let host_is_ip = parsed
                    .as_ref()
                    .is_some_and(|u| matches!(u.host(), Some(Host::Ipv4(_) | Host::Ipv6(_))));
                prop_assert!(
                    iana::reach(target) != Reach::Internal || (listed && host_is_ip),
                    "{} admitted to internal {}",
                    url,
                    target
                );
            }
            // A name is allowed by its own entry, never by an entry naming its address.
            let name_listed = name
                .trim_end_matches('.')
                .eq_ignore_ascii_case("intranet.example");
            let kept = policy.check_resolved(name, 8080, [resolved]);
            if iana::reach(resolved) == Reach::Internal {
                prop_assert_eq!(
                    kept.is_ok(),
                    name_listed,
                    "{} -> {}: {:?}",
                    name,
                    resolved,
                    kept
                );
            }
            Ok(())
        },
    );
}

#[test]
fn the_http_tool_refuses_every_url_that_reaches_loopback() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    // Every name resolves to loopback, and every IP literal is a loopback address: were the
    // policy broken, the request would still go nowhere but this machine.
    let client = HttpClient::with_lookup(NetworkPolicy::default(), |_host: String| async {
        Ok(vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()),
        ])
    })
    .expect("a client");
    let executor = ToolExecutor::builder()
        .extension(client)
        .build()
        .expect("an executor");
    let loopback = prop_oneof![
        (any::<u32>()).prop_map(|bits| IpAddr::V4(Ipv4Addr::from((127 << 24) | (bits >> 8)))),
        Just(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        any::<u32>().prop_map(|bits| {
            IpAddr::V6(Ipv4Addr::from((127 << 24) | (bits >> 8)).to_ipv6_mapped())
        }),
    ];
    let named = (
        select(vec![
            "localhost",
            "LOCALHOST.",
            "attacker.example",
            "127.0.0.1.nip.io",
        ]),
        select(vec!["", ":80", ":8080"]),
        select(vec!["", "public.example@", "user:pw@"]),
    )
        .prop_map(|(name, port, userinfo)| format!("http://{userinfo}{name}{port}/"));
    let url = prop_oneof![
        addresses::url(loopback).prop_map(|spelled| spelled.url),
        named,
    ];
    property::check("Web.HTTPRequest to loopback", 512, url, |url| {
        let call = ToolCall::new("Web.HTTPRequest", json!({"url": url, "timeout": 1}));
        let result = runtime.block_on(executor.execute_tool_call(call));
        prop_assert!(
            matches!(result.status_code, 400 | 403),
            "{} was answered {}: {:?}",
            url,
            result.status_code,
            result.error
        );
        Ok(())
    });
}
