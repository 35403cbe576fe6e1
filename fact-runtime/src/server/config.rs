//! [`ServerConfig`]: where the server listens, who may call it, and its limits.

use std::net::SocketAddr;
use std::time::Duration;

use super::api_keys::ApiKeys;
use super::error::ServerError;
use crate::arcade::worker::{WORKER_SECRET_ENV, WorkerSecret};

/// The address served when `FACT_ADDR` is not set: loopback, so that a server started by hand
/// is not reachable from the network by surprise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
/// Default cap on a request body: the security policy's 1 MiB of arguments, plus room for a
/// batch's envelopes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Default time a request may take, tool included.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default cap on the calls of one batch request.
pub const DEFAULT_MAX_BATCH_CALLS: usize = 100;
/// Default time a client has to send a request's headers, so that a connection that trickles
/// them (or sends nothing) cannot hold a slot.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a client has to send a request's whole body once its headers are in, so that
/// a connection that stops sending (or trickles) its body cannot hold a slot until the request
/// timeout.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on open connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default cap on the open connections of one client address: a sixteenth of
/// [`DEFAULT_MAX_CONNECTIONS`], so that one address cannot take the server's every slot.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 64;
/// Default budget of one answer, in bytes of the JSON sent: room for what the standard tools
/// return at their own defaults (a file read, a page of SQL rows, a web page).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// Default budget of one batch answer, in bytes of the JSON sent.
pub const DEFAULT_MAX_BATCH_RESPONSE_BYTES: usize = 32 * 1024 * 1024;
/// Default time calls in flight get to finish at shutdown: within Kubernetes' default 30 s
/// termination grace, with room left to flush the audit log.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(25);
/// The `Host` names `/mcp` answers when `FACT_MCP_ALLOWED_HOSTS` is not set: loopback only, so
/// that a web page cannot reach a local server through a DNS name rebound to 127.0.0.1.
pub const DEFAULT_MCP_ALLOWED_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// How a [`Server`](super::Server) listens and what it lets through.
///
/// [`from_env`](Self::from_env) reads, besides the API keys (`FACT_API_KEYS`,
/// `FACT_API_KEYS_FILE`):
///
/// | variable | meaning | default |
/// | --- | --- | --- |
/// | `FACT_ADDR` | address to listen on | `127.0.0.1:8080` |
/// | `FACT_METRICS_PUBLIC` | `true`: `GET /metrics` needs no key | `false` |
/// | `FACT_ALLOW_ANONYMOUS` | `true`: serve without keys, calls have no user | `false` |
/// | `FACT_MAX_BODY_BYTES` | largest request body | 2 MiB |
/// | `FACT_REQUEST_TIMEOUT_SECS` | longest request, tool included | 60 |
/// | `FACT_MAX_BATCH_CALLS` | most calls in one batch | 100 |
/// | `FACT_HEADER_READ_TIMEOUT_SECS` | time to send a request's headers | 10 |
/// | `FACT_BODY_READ_TIMEOUT_SECS` | time to send a request's body, once its headers are in | 30 |
/// | `FACT_MAX_CONNECTIONS` | open connections at once | 1024 |
/// | `FACT_MAX_CONNECTIONS_PER_ADDRESS` | open connections at once from one client address | 64 |
/// | `FACT_MAX_RESPONSE_BYTES` | largest answer to one call, in bytes of JSON | 16 MiB |
/// | `FACT_MAX_BATCH_RESPONSE_BYTES` | largest answer to one batch, in bytes of JSON | 32 MiB |
/// | `FACT_SHUTDOWN_GRACE_SECS` | time calls in flight get at shutdown | 25 |
/// | `FACT_MCP_ALLOWED_HOSTS` | comma-separated `Host` names (or `host:port`) `/mcp` answers; `*` for any | `localhost,127.0.0.1,::1` |
/// | `ARCADE_WORKER_SECRET` | the secret an Arcade Engine signs its requests with; set, the server is also an Arcade worker (`/worker`) | unset: no worker endpoints |
///
/// ```
/// use fact_runtime::server::{ApiKeys, ServerConfig};
///
/// let config = ServerConfig::default()
///     .addr("127.0.0.1:0".parse()?)
///     .api_keys(ApiKeys::parse("an-api-key-of-enough-length:ada")?)
///     .metrics_public(true);
/// assert_eq!(config.api_keys_ref().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub(crate) addr: SocketAddr,
    pub(crate) api_keys: ApiKeys,
    pub(crate) allow_anonymous: bool,
    pub(crate) metrics_public: bool,
    pub(crate) max_body_bytes: usize,
    pub(crate) request_timeout: Duration,
    pub(crate) max_batch_calls: usize,
    pub(crate) header_read_timeout: Duration,
    pub(crate) body_read_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_connections_per_address: usize,
    pub(crate) max_response_bytes: usize,
    pub(crate) max_batch_response_bytes: usize,
    pub(crate) shutdown_grace: Duration,
    /// `None`: any host (`*`).
    pub(crate) mcp_allowed_hosts: Option<Vec<String>>,
    /// Set: the worker endpoints are served, behind the Engine's token.
    pub(crate) worker_secret: Option<WorkerSecret>,
}

impl Default for ServerConfig {
    /// Loopback on 8080, no keys (so every protected request is refused until some are given),
    /// `/metrics` behind a key, and the default limits.
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            api_keys: ApiKeys::new(),
            allow_anonymous: false,
            metrics_public: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_batch_calls: DEFAULT_MAX_BATCH_CALLS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_batch_response_bytes: DEFAULT_MAX_BATCH_RESPONSE_BYTES,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            mcp_allowed_hosts: Some(DEFAULT_MCP_ALLOWED_HOSTS.map(str::to_owned).to_vec()),
            worker_secret: None,
        }
    }
}

impl ServerConfig {
    /// Reads the configuration from the environment (see the table above).
    ///
    /// # Errors
    ///
    /// [`ServerError::Config`] naming the variable whose value cannot be read, or the keys'
    /// error.
    pub fn from_env() -> Result<Self, ServerError> {
        let defaults = Self::default();
        Ok(Self {
            addr: env_parsed("FACT_ADDR", defaults.addr)?,
            api_keys: ApiKeys::from_env()?,
            allow_anonymous: env_bool("FACT_ALLOW_ANONYMOUS", false)?,
            metrics_public: env_bool("FACT_METRICS_PUBLIC", false)?,
            max_body_bytes: env_parsed("FACT_MAX_BODY_BYTES", defaults.max_body_bytes)?,
            request_timeout: Duration::from_secs(env_parsed(
                "FACT_REQUEST_TIMEOUT_SECS",
                defaults.request_timeout.as_secs(),
            )?),
            max_batch_calls: env_parsed("FACT_MAX_BATCH_CALLS", defaults.max_batch_calls)?,
            header_read_timeout: Duration::from_secs(env_parsed(
                "FACT_HEADER_READ_TIMEOUT_SECS",
                defaults.header_read_timeout.as_secs(),
            )?),
            body_read_timeout: Duration::from_secs(env_parsed(
                "FACT_BODY_READ_TIMEOUT_SECS",
                defaults.body_read_timeout.as_secs(),
            )?),
            max_connections: env_parsed("FACT_MAX_CONNECTIONS", defaults.max_connections)?,
            max_connections_per_address: env_parsed(
                "FACT_MAX_CONNECTIONS_PER_ADDRESS",
                defaults.max_connections_per_address,
            )?,
            max_response_bytes: env_parsed("FACT_MAX_RESPONSE_BYTES", defaults.max_response_bytes)?,
            max_batch_response_bytes: env_parsed(
                "FACT_MAX_BATCH_RESPONSE_BYTES",
                defaults.max_batch_response_bytes,
            )?,
            shutdown_grace: Duration::from_secs(env_parsed(
                "FACT_SHUTDOWN_GRACE_SECS",
                defaults.shutdown_grace.as_secs(),
            )?),
            mcp_allowed_hosts: match std::env::var("FACT_MCP_ALLOWED_HOSTS") {
                Ok(hosts) => allowed_hosts(&hosts)?,
                Err(_) => defaults.mcp_allowed_hosts,
            },
            worker_secret: match std::env::var_os(WORKER_SECRET_ENV) {
                None => None,
                Some(secret) => Some(WorkerSecret::new(secret.as_encoded_bytes()).map_err(
                    |error| ServerError::Config {
                        name: WORKER_SECRET_ENV,
                        problem: error.to_string(),
                    },
                )?),
            },
        })
    }

    /// Serves this server's tools to an Arcade Engine too, as its worker: `GET /worker/health`
    /// (open), `GET /worker/tools` and `POST /worker/tools/invoke`, each behind the Engine's
    /// JWT signed with `secret` (docs/ARCHITECTURE.md, "Arcade worker"). The worker endpoints
    /// need no API key, and a server that has no keys but a worker secret serves the Engine
    /// alone. [`from_env`](Self::from_env) reads it from `ARCADE_WORKER_SECRET`.
    ///
    /// ```
    /// use fact_runtime::arcade::worker::WorkerSecret;
    /// use fact_runtime::server::ServerConfig;
    ///
    /// let config = ServerConfig::default()
    ///     .arcade_worker_secret(WorkerSecret::new("the-secret-the-engine-was-given-for-me")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn arcade_worker_secret(mut self, secret: WorkerSecret) -> Self {
        self.worker_secret = Some(secret);
        self
    }

    /// The `Host` names (`example.com`, or `example.com:8443` for one port) that `/mcp`
    /// answers; a request naming another is refused with 403 before any tool work, which
    /// stops DNS-rebinding attacks on a server a browser can reach. Browser `Origin`s are held
    /// to the same hosts. Defaults to loopback ([`DEFAULT_MCP_ALLOWED_HOSTS`]); a public
    /// deployment lists its own names.
    #[must_use]
    pub fn mcp_allowed_hosts(mut self, hosts: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.mcp_allowed_hosts = Some(hosts.into_iter().map(Into::into).collect());
        self
    }

    /// Lets `/mcp` answer any `Host` (`FACT_MCP_ALLOWED_HOSTS=*`): for a server only reached
    /// through a proxy that checks the host itself.
    #[must_use]
    pub fn mcp_any_host(mut self) -> Self {
        self.mcp_allowed_hosts = None;
        self
    }

    /// The address to listen on; port 0 picks a free one
    /// ([`BoundServer::local_addr`](super::BoundServer::local_addr) tells which).
    #[must_use]
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// The keys callers present, each mapped to its user.
    #[must_use]
    pub fn api_keys(mut self, keys: ApiKeys) -> Self {
        self.api_keys = keys;
        self
    }

    /// The keys callers present.
    pub fn api_keys_ref(&self) -> &ApiKeys {
        &self.api_keys
    }

    /// Serve without keys: every caller is anonymous (calls have no user). For a server that
    /// only local, trusted programs reach; [`Server::new`](super::Server::new) refuses to start
    /// with neither keys nor this.
    #[must_use]
    pub fn allow_anonymous(mut self, allow: bool) -> Self {
        self.allow_anonymous = allow;
        self
    }

    /// Whether `GET /metrics` is open to callers without a key (default `false`). The series
    /// carry tool names and counts, never users or arguments.
    #[must_use]
    pub fn metrics_public(mut self, public: bool) -> Self {
        self.metrics_public = public;
        self
    }

    /// The largest request body accepted; a larger one is refused with 413.
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// How long a request may take, tool included; a slower one is answered 504 and its call
    /// cancelled (its audit record says so).
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The most calls one batch request may hold; more is a 400.
    #[must_use]
    pub fn max_batch_calls(mut self, calls: usize) -> Self {
        self.max_batch_calls = calls;
        self
    }

    /// How long a client has to send a request's headers; a slower one is disconnected.
    #[must_use]
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long a client has to send a request's whole body once its headers are in; a
    /// slower one is answered 408 and disconnected.
    #[must_use]
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// How many connections may be open at once; further clients wait in the listen backlog.
    #[must_use]
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections;
        self
    }

    /// How many connections one client address may have open at once; one more is answered
    /// 429 and closed at once, without waiting for its request. IPv6 clients are counted by
    /// their /64 network, the block one subscriber usually holds. Behind a reverse proxy every
    /// connection comes from the proxy's address: raise this to
    /// [`max_connections`](Self::max_connections) there.
    #[must_use]
    pub fn max_connections_per_address(mut self, connections: usize) -> Self {
        self.max_connections_per_address = connections;
        self
    }

    /// The largest answer to one call, in bytes of the JSON sent (the whole `ToolResult`, or
    /// one result of a batch). A result past it is not sent: the caller gets a 403
    /// `SecurityError` naming the limit (`metadata.limit` = `"max_response_bytes"`) instead.
    #[must_use]
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// The largest answer to one batch, in bytes of the JSON sent. Results are counted in
    /// input order as they are serialized; each one that no longer fits is replaced by a 403
    /// `SecurityError` (`metadata.limit` = `"max_batch_response_bytes"`) of a few hundred
    /// bytes, so the answer holds every call and exceeds the budget by those refusals at most.
    #[must_use]
    pub fn max_batch_response_bytes(mut self, bytes: usize) -> Self {
        self.max_batch_response_bytes = bytes;
        self
    }

    /// How long calls in flight get to finish once shutdown begins; the audit log is flushed
    /// after that whether or not they have.
    #[must_use]
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Checks that the server can start: keys or an explicit anonymous mode, and limits that
    /// let something through.
    pub(crate) fn validate(&self) -> Result<(), ServerError> {
        if self.api_keys.is_empty() && !self.allow_anonymous && self.worker_secret.is_none() {
            return Err(ServerError::NoApiKeys);
        }
        if self.mcp_allowed_hosts.as_ref().is_some_and(Vec::is_empty) {
            // rmcp reads an empty list as no check at all: say `*` (mcp_any_host) for that.
            return Err(ServerError::Config {
                name: "FACT_MCP_ALLOWED_HOSTS",
                problem: "names no host: list the hosts /mcp answers, or '*' for any".to_owned(),
            });
        }
        if !self.api_keys.is_empty() && self.allow_anonymous {
            // Keys would then be optional: a caller without one gets in anyway.
            return Err(ServerError::Config {
                name: "FACT_ALLOW_ANONYMOUS",
                problem: "cannot be true while API keys are configured (keys would become optional); unset one of them".to_owned(),
            });
        }
        let zero = [
            ("FACT_MAX_BODY_BYTES", self.max_body_bytes == 0),
            ("FACT_REQUEST_TIMEOUT_SECS", self.request_timeout.is_zero()),
            ("FACT_MAX_BATCH_CALLS", self.max_batch_calls == 0),
            (
                "FACT_HEADER_READ_TIMEOUT_SECS",
                self.header_read_timeout.is_zero(),
            ),
            (
                "FACT_BODY_READ_TIMEOUT_SECS",
                self.body_read_timeout.is_zero(),
            ),
            ("FACT_MAX_CONNECTIONS", self.max_connections == 0),
            (
                "FACT_MAX_CONNECTIONS_PER_ADDRESS",
                self.max_connections_per_address == 0,
            ),
            ("FACT_MAX_RESPONSE_BYTES", self.max_response_bytes == 0),
            (
                "FACT_MAX_BATCH_RESPONSE_BYTES",
                self.max_batch_response_bytes == 0,
            ),
        ];
        match zero.into_iter().find(|(_, is_zero)| *is_zero) {
            Some((name, _)) => Err(ServerError::Config {
                name,
                problem: "must be greater than zero".to_owned(),
            }),
            None => Ok(()),
        }
    }
}

fn env_parsed<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ServerError>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(value) => value.trim().parse().map_err(|error| ServerError::Config {
            name,
            problem: format!("'{value}' is not valid: {error}"),
        }),
        Err(_) => Ok(default),
    }
}

fn env_bool(name: &'static str, default: bool) -> Result<bool, ServerError> {
    match std::env::var(name) {
        Ok(value) => match value.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" | "" => Ok(false),
            _ => Err(ServerError::Config {
                name,
                problem: format!("'{value}' is not a boolean (true/false, 1/0, yes/no, on/off)"),
            }),
        },
        Err(_) => Ok(default),
    }
}

/// `FACT_MCP_ALLOWED_HOSTS`: `*` for any host, else a comma-separated list of names.
fn allowed_hosts(value: &str) -> Result<Option<Vec<String>>, ServerError> {
    if value.trim() == "*" {
        return Ok(None);
    }
    let hosts: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|host| !host.is_empty())
        .map(str::to_owned)
        .collect();
    let malformed = hosts
        .iter()
        .find(|host| host.contains(['/', '@', ' ', '*']) || host.contains("://"));
    if hosts.is_empty() || malformed.is_some() {
        return Err(ServerError::Config {
            name: "FACT_MCP_ALLOWED_HOSTS",
            problem: format!(
                "expected host names separated by commas (example.com,example.com:8443) or '*', got '{value}'"
            ),
        });
    }
    Ok(Some(hosts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_needs_keys_or_explicit_anonymity() {
        assert!(matches!(
            ServerConfig::default().validate(),
            Err(ServerError::NoApiKeys)
        ));
        assert!(
            ServerConfig::default()
                .allow_anonymous(true)
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn zero_limits_are_refused_by_name() {
        let open = || ServerConfig::default().allow_anonymous(true);
        let cases = [
            ("FACT_MAX_BATCH_CALLS", open().max_batch_calls(0)),
            (
                "FACT_BODY_READ_TIMEOUT_SECS",
                open().body_read_timeout(Duration::ZERO),
            ),
            (
                "FACT_MAX_CONNECTIONS_PER_ADDRESS",
                open().max_connections_per_address(0),
            ),
            ("FACT_MAX_RESPONSE_BYTES", open().max_response_bytes(0)),
            (
                "FACT_MAX_BATCH_RESPONSE_BYTES",
                open().max_batch_response_bytes(0),
            ),
        ];
        for (name, config) in cases {
            let error = config.validate().map(|()| "").expect_err("refused");
            assert!(error.to_string().contains(name), "{name}: {error}");
        }
    }

    #[test]
    fn an_empty_list_of_mcp_hosts_is_refused_rather_than_read_as_any() {
        let error = ServerConfig::default()
            .allow_anonymous(true)
            .mcp_allowed_hosts(Vec::<String>::new())
            .validate()
            .expect_err("refused")
            .to_string();
        assert!(error.contains("FACT_MCP_ALLOWED_HOSTS"), "{error}");
        let any = ServerConfig::default().allow_anonymous(true).mcp_any_host();
        assert!(any.validate().is_ok());
    }

    #[test]
    fn mcp_hosts_are_a_list_or_a_star_and_anything_else_is_named() {
        assert_eq!(
            allowed_hosts(" example.com, example.com:8443 ,").expect("hosts"),
            Some(vec![
                "example.com".to_owned(),
                "example.com:8443".to_owned()
            ])
        );
        assert_eq!(allowed_hosts("*").expect("any"), None);
        for bad in [
            "",
            " , ",
            "https://example.com",
            "user@host",
            "*.example.com",
        ] {
            let error = allowed_hosts(bad).expect_err(bad).to_string();
            assert!(error.contains("FACT_MCP_ALLOWED_HOSTS"), "{error}");
        }
    }
}
