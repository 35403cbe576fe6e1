//! `ALLOWED_HOSTS` entries with and without a port, and every spelling of an empty list,
//! against real loopback servers.

use std::net::{IpAddr, Ipv6Addr};

use fact_tools_std::web::{HttpClient, NetworkPolicy};

use super::server::Server;
use super::{data, error, executor_with, get_url, resolving_to_loopback};

fn policy(list: &str) -> fact_runtime::ToolExecutor {
    executor_with(HttpClient::new(NetworkPolicy::from_allowed_hosts(list)))
}

#[tokio::test]
async fn a_host_port_entry_allows_that_port_and_no_other() {
    let allowed = Server::start().await;
    let other = Server::start().await;
    let executor = policy(&format!("127.0.0.1:{}", allowed.port));

    let result = get_url(&executor, &allowed.url("/text")).await;
    assert_eq!(data(&result)["body"], "plain text");

    let result = get_url(&executor, &other.url("/text")).await;
    assert_eq!(result.status_code, 403, "{result:?}");
    assert_eq!(
        error(&result),
        format!(
            "refused: 127.0.0.1 is a loopback address; add the host to ALLOWED_HOSTS to allow it \
             (ALLOWED_HOSTS allows 127.0.0.1 only on port {}, not on port {})",
            allowed.port, other.port
        )
    );
}

#[tokio::test]
async fn an_ipv6_host_port_entry_allows_that_port_and_no_other() {
    let loopback = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let allowed = Server::start_on(loopback).await;
    let other = Server::start_on(loopback).await;
    let executor = policy(&format!("[::1]:{}", allowed.port));

    let result = get_url(&executor, &allowed.url("/text")).await;
    assert_eq!(data(&result)["body"], "plain text");
    let result = get_url(&executor, &other.url("/text")).await;
    assert_eq!(result.status_code, 403, "{result:?}");
}

#[tokio::test]
async fn a_bare_host_is_allowed_on_every_port() {
    let one = Server::start().await;
    let two = Server::start().await;
    let executor = policy("127.0.0.1");
    for server in [&one, &two] {
        let result = get_url(&executor, &server.url("/text")).await;
        assert_eq!(data(&result)["body"], "plain text");
    }
}

#[tokio::test]
async fn a_name_allowed_on_one_port_cannot_reach_an_internal_address_on_another() {
    let allowed = Server::start().await;
    let other = Server::start().await;
    let client = resolving_to_loopback(
        NetworkPolicy::from_allowed_hosts(&format!("api.internal:{}", allowed.port)),
        &["api.internal"],
    );
    let executor = executor_with(client);

    let url = format!("http://api.internal:{}/echo", allowed.port);
    let result = get_url(&executor, &url).await;
    assert_eq!(
        data(&result)["body"]["host"],
        format!("api.internal:{}", allowed.port)
    );

    // Same name, same resolver, another port: only public addresses, so none.
    let url = format!("http://api.internal:{}/echo", other.port);
    let result = get_url(&executor, &url).await;
    assert_eq!(result.status_code, 403, "{result:?}");
    assert!(
        error(&result).starts_with("refused: api.internal resolves to a loopback address"),
        "{result:?}"
    );
    assert!(
        error(&result).contains(&format!(
            "(ALLOWED_HOSTS allows api.internal only on port {}, not on port {})",
            allowed.port, other.port
        )),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_redirect_to_a_port_not_on_the_list_is_refused_at_the_hop() {
    let allowed = Server::start().await;
    let other = Server::start().await;
    let executor = policy(&format!("127.0.0.1:{}", allowed.port));
    let target = other.url("/json");
    let result = get_url(&executor, &allowed.url(&format!("/redirect?to={target}"))).await;
    assert_eq!(result.status_code, 403, "{result:?}");
    assert!(
        error(&result).contains("(at a redirect from "),
        "{result:?}"
    );
}

#[tokio::test]
async fn every_spelling_of_an_empty_or_unusable_allow_list_refuses_loopback() {
    let server = Server::start().await;
    let port = server.port;
    for list in [
        String::new(),
        " ".to_owned(),
        ",".to_owned(),
        " , , ".to_owned(),
        "*".to_owned(),
        format!(":{port}"),
        format!("*:{port}"),
        format!("[]:{port}"),
        format!("http://127.0.0.1:{port}"),
    ] {
        let result = get_url(&policy(&list), &server.url("/text")).await;
        assert_eq!(result.status_code, 403, "{list:?}: {result:?}");
    }
}
