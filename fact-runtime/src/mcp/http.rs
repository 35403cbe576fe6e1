//! MCP's streamable HTTP transport at `/mcp`, on FACT's HTTP server (docs/ARCHITECTURE.md,
//! "MCP"): stateless, so that any replica answers any request without session affinity.
//! Clients of the current revision (2026-07-28, no sessions) and of the session-era revisions
//! (they send `initialize` first) are both served; neither is given a session to come back to.
//!
//! The route sits behind the server's guards like every other: the API key (whose user the
//! calls run as), the request timeout, the body limits. rmcp then refuses a `Host` (and a
//! browser `Origin`) outside the allowed hosts with 403, before any tool work.

use std::sync::Arc;

use rmcp::transport::StreamableHttpServerConfig;
use rmcp::transport::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;

use super::McpServer;
use crate::server::guards::Caller;

/// The path MCP is served at.
pub(crate) const PATH: &str = "/mcp";

/// The service behind `/mcp`: a clone of `server` for each request, answering the `Host`s
/// `allowed_hosts` lists (any, for `None`, and then any browser `Origin` too). No stream
/// outlives its request; a call whose client went away runs on until its tool stops, and the
/// server waits for it at shutdown ([`McpServer::calls_finished`]).
pub(crate) fn service(
    server: McpServer,
    allowed_hosts: Option<&[String]>,
    max_body_bytes: usize,
) -> StreamableHttpService<McpServer, NeverSessionManager> {
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        // A call without progress is one JSON answer; one that reports progress streams it.
        .with_json_response(true)
        .with_max_request_body_bytes(max_body_bytes);
    config = match allowed_hosts {
        Some(hosts) => config
            .with_allowed_hosts(hosts.iter().cloned())
            .with_allowed_origins(origins_of(hosts))
            .enforce_origin_validation(),
        None => config.disable_allowed_hosts(),
    };
    StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}

/// The browser origins of `hosts`: each on `http` and `https`, on its own port when it names
/// one, on any port otherwise. An IPv6 address is bracketed, as origins write it, whether it
/// was given bare (`::1`) or bracketed (`[::1]`, `[::1]:8443`).
fn origins_of(hosts: &[String]) -> Vec<String> {
    hosts
        .iter()
        .flat_map(|host| {
            let authority = if host.parse::<std::net::Ipv6Addr>().is_ok() {
                format!("[{host}]:*")
            } else if host.starts_with('[') {
                match host.rsplit_once("]:") {
                    Some(_) => host.clone(),
                    None => format!("{host}:*"),
                }
            } else if host.contains(':') {
                host.clone()
            } else {
                format!("{host}:*")
            };
            ["http", "https"].map(|scheme| format!("{scheme}://{authority}"))
        })
        .collect()
}

/// The user a request's API key carries, as the server's key check left it on the request.
pub(crate) fn caller_user(parts: &axum::http::request::Parts) -> Option<String> {
    parts
        .extensions
        .get::<Caller>()
        .and_then(Caller::user)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::origins_of;

    #[test]
    fn origins_cover_both_schemes_and_keep_a_named_port() {
        assert_eq!(
            origins_of(&[
                "example.com".into(),
                "api.example.com:8443".into(),
                "::1".into()
            ]),
            [
                "http://example.com:*",
                "https://example.com:*",
                "http://api.example.com:8443",
                "https://api.example.com:8443",
                "http://[::1]:*",
                "https://[::1]:*",
            ]
        );
    }
}
