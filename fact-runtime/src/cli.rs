//! The `fact` command line (feature `cli`): `serve`, `tools` and `call` over the tools linked
//! into a binary, so that any crate of tools becomes a server and a test bench with one line:
//!
//! ```no_run
//! use fact_runtime::tool;
//!
//! /// Adds two numbers.
//! #[tool(name = "MyApp.Add")]
//! fn add(a: f64, b: f64) -> f64 {
//!     a + b
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     fact_runtime::cli::run()
//! }
//! ```
//!
//! ```text
//! $ my-tools call MyApp.Add --args '{"a": 2, "b": 3}'
//! {"call_id": "…", "tool_name": "MyApp.Add", "success": true, "data": 5.0, "status_code": 200, …}
//! ```
//!
//! Exit codes: 0 success; 1 the call failed (its `ToolResult` is still printed); 2 a bad command
//! line (including `--args` that is not JSON); 3 the program could not start (configuration,
//! address, audit database).
//!
//! A program whose tools need configuration that can be wrong (a directory, a database) checks
//! it in [`try_run_with`], so that a mistake stops it at start-up with exit code 3, not each
//! call later.

use std::error::Error;
use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand, ValueEnum};
use serde_json::Value;

use crate::audit::{AuditConfig, AuditDurability, AuditLog, SqlAuditSink};
use crate::auth::AuthorizationManager;
use crate::call::ToolCall;
use crate::executor::{ToolExecutor, ToolExecutorBuilder};
use crate::mcp::McpServer;
use crate::rate_limit::RateLimitConfig;
use crate::schema::ToolFormat;
use crate::server::{Server, ServerConfig, environment_summary};

/// Exit code of a call that failed.
pub const EXIT_CALL_FAILED: u8 = 1;
/// Exit code of a bad command line.
pub const EXIT_USAGE: u8 = 2;
/// Exit code of a program that could not start.
pub const EXIT_STARTUP: u8 = 3;

/// Why a `configure` of [`try_run_with`] refused to start: any error, printed as
/// `fact: {error}` (its `Display` alone, so say there what was wrong and what was expected).
pub type ConfigureError = Box<dyn Error + Send + Sync>;

#[derive(Debug, Parser)]
#[command(
    name = "fact",
    version,
    about = "Serve, list and call the tools linked into this program",
    long_about = "Serve, list and call the tools linked into this program.\n\n\
        Every call runs through FACT's pipeline: schema and security validation, authorization, \
        rate limiting, execution with a timeout, metrics and the audit log.",
    after_help = "Examples:\n  \
        FACT_API_KEYS=$(openssl rand -hex 16):ada fact serve --addr 127.0.0.1:8080\n  \
        fact tools --format openai\n  \
        fact mcp   (MCP on stdio, for a client that starts the tools itself)\n  \
        fact call MyApp.Add --args '{\"a\": 2, \"b\": 3}' --user ada\n\n\
        Exit codes: 0 success, 1 the call failed (its result is still printed), 2 a bad command \
        line, 3 the program could not start.\n\n\
        The audit log goes to DATABASE_URL (default sqlite://fact.db). RUST_LOG filters logs \
        (DEBUG=true shows one line per call). `fact serve --help` lists the server's variables."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the tools over HTTP until SIGTERM or Ctrl-C
    #[command(after_help = "Environment:\n  \
        FACT_API_KEYS            key:user,... (keys of 16+ characters; each call runs as its key's user)\n  \
        FACT_API_KEYS_FILE       a file of key:user lines\n  \
        FACT_ALLOW_ANONYMOUS     true to serve without keys (trusted networks only)\n  \
        FACT_METRICS_PUBLIC      true to serve /metrics without a key\n  \
        FACT_MAX_BODY_BYTES      largest request body (default 2 MiB)\n  \
        FACT_REQUEST_TIMEOUT_SECS longest request (default 60)\n  \
        FACT_MAX_BATCH_CALLS     most calls per batch (default 100)\n  \
        FACT_MAX_CONNECTIONS     open connections at once (default 1024)\n  \
        FACT_MAX_CONNECTIONS_PER_ADDRESS open connections from one client address (default 64)\n  \
        FACT_HEADER_READ_TIMEOUT_SECS time to send request headers (default 10)\n  \
        FACT_BODY_READ_TIMEOUT_SECS time to send a request body, 408 past it (default 30)\n  \
        FACT_MAX_RESPONSE_BYTES  largest answer to one call, in bytes of JSON (default 16 MiB)\n  \
        FACT_MAX_BATCH_RESPONSE_BYTES largest answer to one batch, in bytes of JSON (default 32 MiB)\n  \
        FACT_SHUTDOWN_GRACE_SECS time calls in flight get at shutdown (default 25)\n  \
        FACT_MCP_ALLOWED_HOSTS   Host names /mcp answers, comma-separated, * for any (default loopback)\n  \
        DATABASE_URL             audit log database (default sqlite://fact.db); with SECRET_KEY, OAuth grants and flows too\n  \
        SECRET_KEY               32+ bytes, the same on every replica: OAuth grants and pending flows are kept encrypted in DATABASE_URL, shared by replicas (unset: in memory)\n  \
        FACT_RATE_LIMIT_PER_MINUTE calls a minute per caller (unset: no rate limiting)\n  \
        FACT_RATE_LIMIT_BURST    calls back to back (default: the per-minute quota)\n  \
        FACT_RATE_LIMIT_BY_USER  false: all callers share one quota (default true: per user)\n  \
        FACT_RATE_LIMIT_TOOLS    tools' own quotas, Toolkit.Tool=N,... (N a minute)\n  \
        FACT_RATE_LIMIT_ON_STORE_ERROR deny (503, default) or allow, when Redis cannot answer\n  \
        REDIS_URL                redis://[:password@]host[:port][/db]: quotas shared by replicas\n  \
        FACT_AUDIT_DURABILITY    answered (default: a call is answered once its audit record is committed) or queued (answered first, written behind)\n  \
        ARCADE_WORKER_SECRET     32+ bytes, the secret an Arcade Engine signs its requests with: set, this server is also its worker at /worker (no API key needed there)\n\n\
        Endpoints: GET /health, GET /metrics, GET /v1/tools[?format=], GET /v1/tools/{name}, \
        POST /v1/tools/execute, POST /v1/tools/execute/batch, POST /mcp (MCP, streamable HTTP), \
        the Engine API under /arcade/v1, and with ARCADE_WORKER_SECRET GET /worker/health, \
        GET /worker/tools, POST /worker/tools/invoke (Arcade worker)")]
    Serve {
        /// Address to listen on [default: FACT_ADDR, else 127.0.0.1:8080]
        #[arg(long, value_name = "HOST:PORT")]
        addr: Option<std::net::SocketAddr>,
    },
    /// Serve the tools over MCP on stdin and stdout until the client closes them
    #[command(
        after_help = "Every call runs through FACT's pipeline and is audited, as the user \
        FACT_MCP_USER names (default: the operating system's user, USER). Standard output \
        carries MCP only; logs go to standard error.\n\n\
        Example, in an MCP client's configuration:\n  \
        {\"command\": \"fact\", \"args\": [\"mcp\"], \"env\": {\"FACT_MCP_USER\": \"ada\"}}"
    )]
    Mcp,
    /// Print every tool's schema as a JSON array
    Tools {
        /// Schema format
        #[arg(long, value_enum, default_value_t = Format::Native)]
        format: Format,
    },
    /// Run one call and print its ToolResult as JSON; exits 1 when the call failed
    Call {
        /// The tool's name (`Toolkit.Tool`, or its exported name `Toolkit_Tool`)
        name: String,
        /// The arguments, a JSON object
        #[arg(long, value_name = "JSON", default_value = "{}")]
        args: String,
        /// The user the call runs as
        #[arg(long, value_name = "ID")]
        user: Option<String>,
        /// The session the call belongs to
        #[arg(long, value_name = "ID")]
        session: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Native,
    Openai,
    OpenaiStrict,
    Anthropic,
    Mcp,
}

impl From<Format> for ToolFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Native => Self::Native,
            Format::Openai => Self::OpenAi,
            Format::OpenaiStrict => Self::OpenAiStrict,
            Format::Anthropic => Self::Anthropic,
            Format::Mcp => Self::Mcp,
        }
    }
}

/// Runs the command line of this process over every linked tool, with the audit log on
/// `DATABASE_URL` and OAuth2 authorization when `OAUTH_*` is set.
pub fn run() -> ExitCode {
    run_with(|builder| builder)
}

/// As [`run`], with `configure` applied to the executor's builder (policies, quotas,
/// extensions, tools registered at run time), as [`try_run_with`] applies it.
pub fn run_with(
    configure: impl FnOnce(ToolExecutorBuilder) -> ToolExecutorBuilder + Send + 'static,
) -> ExitCode {
    try_run_with(|builder| Ok(configure(builder)))
}

/// As [`run_with`], with a `configure` that can refuse to start: when it returns an error, the
/// program prints `fact: {error}` to standard error and exits with [`EXIT_STARTUP`] (3),
/// having served, called and printed nothing.
///
/// `configure` runs once, for every command: `serve`, `call`, and `tools` too, so that `tools`
/// lists what `serve` would serve and a broken configuration shows there as well. It runs
/// after the command line and the server's settings are checked, and before the audit
/// database is opened (or created) or an address bound: a configuration that cannot work
/// leaves nothing behind. The command line then adds the audit log on `DATABASE_URL`, which
/// replaces one that `configure` set, and OAuth2 when `OAUTH_*` is set, which `configure` may
/// replace.
///
/// Build what the tools need from the environment here, once, and hand it to them as an
/// [extension](ToolExecutorBuilder::extension), rather than letting each call read the
/// environment and fail on its own:
///
/// ```no_run
/// use std::path::PathBuf;
///
/// /// Where the catalog tools read their files.
/// #[derive(Debug, Clone)]
/// struct CatalogDir(PathBuf);
///
/// fn main() -> std::process::ExitCode {
///     fact_runtime::cli::try_run_with(|builder| {
///         let dir = std::env::var_os("CATALOG_DIR")
///             .map(PathBuf::from)
///             .ok_or("CATALOG_DIR is not set: expected the catalog's directory")?;
///         if !dir.is_dir() {
///             return Err(format!("CATALOG_DIR={}: expected a directory", dir.display()).into());
///         }
///         Ok(builder.extension(CatalogDir(dir)))
///     })
/// }
/// ```
pub fn try_run_with(
    configure: impl FnOnce(ToolExecutorBuilder) -> Result<ToolExecutorBuilder, ConfigureError>
    + Send
    + 'static,
) -> ExitCode {
    let cli = match parse_command_line() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version print to stdout and succeed; mistakes print to stderr.
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("fact: cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_STARTUP);
        }
    };
    runtime.block_on(execute(cli.command, configure))
}

/// The command line, with usage lines naming this binary as it was invoked.
fn parse_command_line() -> Result<Cli, clap::Error> {
    let mut command = Cli::command();
    let invoked = std::env::args_os().next().and_then(|arg0| {
        std::path::Path::new(&arg0)
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
    });
    if let Some(name) = invoked {
        command = command.bin_name(name);
    }
    let matches = command.try_get_matches()?;
    Cli::from_arg_matches(&matches)
}

async fn execute(
    command: Command,
    configure: impl FnOnce(ToolExecutorBuilder) -> Result<ToolExecutorBuilder, ConfigureError>,
) -> ExitCode {
    match command {
        Command::Serve { addr } => {
            super::server::init_logging();
            serve(addr, configure).await
        }
        Command::Mcp => {
            // Standard output is the protocol's: every log line goes to standard error.
            super::server::init_logging_at("warn");
            let (executor, sink) = match executor(configure).await {
                Ok(built) => built,
                Err(message) => return startup_failed(&message),
            };
            let mut server = McpServer::new(executor.clone());
            match McpServer::user_from_env() {
                Some(user) => server = server.user(user),
                None => tracing::warn!(
                    "neither FACT_MCP_USER nor USER is set: calls run without a user"
                ),
            }
            let served = server.serve_stdio().await;
            let flushed = executor.shutdown().await;
            sink.close().await;
            if let Err(error) = flushed {
                eprintln!("fact: audit records could not be written: {error}");
                return ExitCode::from(EXIT_STARTUP);
            }
            match served {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("fact: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Tools { format } => {
            let built = configure(ToolExecutor::builder())
                .and_then(|builder| builder.build().map_err(ConfigureError::from));
            let executor = match built {
                Ok(executor) => executor,
                Err(error) => return startup_failed(&error),
            };
            print_json(&executor.export_tools(format.into()));
            ExitCode::SUCCESS
        }
        Command::Call {
            name,
            args,
            user,
            session,
        } => {
            // Warnings only by default: standard output is the result's JSON, logs go to
            // standard error.
            super::server::init_logging_at("warn");
            let arguments: Value = match serde_json::from_str(&args) {
                Ok(arguments) => arguments,
                Err(error) => {
                    eprintln!("fact: --args is not JSON: {error}");
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            let (executor, sink) = match executor(configure).await {
                Ok(built) => built,
                Err(message) => return startup_failed(&message),
            };
            let mut call = ToolCall::new(name, arguments);
            call.user_id = user;
            call.session_id = session;
            let result = executor.execute_tool_call(call).await;
            let flushed = executor.shutdown().await;
            sink.close().await;
            print_json(&result);
            if let Err(error) = flushed {
                eprintln!("fact: the audit record could not be written: {error}");
                return ExitCode::from(EXIT_STARTUP);
            }
            if result.success {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_CALL_FAILED)
            }
        }
    }
}

async fn serve(
    addr: Option<std::net::SocketAddr>,
    configure: impl FnOnce(ToolExecutorBuilder) -> Result<ToolExecutorBuilder, ConfigureError>,
) -> ExitCode {
    for line in environment_summary().lines() {
        tracing::info!(target: "fact::config", "{line}");
    }
    let mut config = match ServerConfig::from_env() {
        Ok(config) => config,
        Err(error) => return startup_failed(&error),
    };
    if let Some(addr) = addr {
        config = config.addr(addr);
    }
    // Refuse a server that could not serve before anything is opened or created.
    if let Err(error) = config.validate() {
        return startup_failed(&error);
    }
    let (executor, sink) = match executor(configure).await {
        Ok(built) => built,
        Err(message) => return startup_failed(&message),
    };
    tracing::info!(tools = executor.available_tools().len(), "tools registered");
    let bound = match Server::new(executor, config) {
        Ok(server) => server.bind().await,
        Err(error) => Err(error),
    };
    let bound = match bound {
        Ok(bound) => bound,
        Err(error) => return startup_failed(&error),
    };
    let served = bound.run().await;
    sink.close().await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "the server stopped with an error");
            ExitCode::FAILURE
        }
    }
}

/// The executor every command that runs calls uses: the linked tools, authorization when
/// `OAUTH_*` is configured, `configure`, and the audit log on `DATABASE_URL` with the
/// durability `FACT_AUDIT_DURABILITY` names (default `answered`). The audit sink is
/// returned too, to be closed once the executor has shut down (SQLite then folds its
/// write-ahead log back into the file).
async fn executor(
    configure: impl FnOnce(ToolExecutorBuilder) -> Result<ToolExecutorBuilder, ConfigureError>,
) -> Result<(ToolExecutor, std::sync::Arc<SqlAuditSink>), String> {
    let mut builder = ToolExecutor::builder();
    match AuthorizationManager::from_env().await {
        Ok(Some(manager)) => builder = builder.authorization(manager),
        Ok(None) => {}
        Err(error) => return Err(format!("OAuth configuration: {error}")),
    }
    match crate::arcade::ArcadeGateway::from_env() {
        Ok(Some(gateway)) => builder = builder.arcade(gateway),
        Ok(None) => {}
        Err(error) => return Err(error.to_string()),
    }
    match RateLimitConfig::from_env() {
        Ok(Some(limits)) => {
            tracing::info!(target: "fact::config", "rate limits: {limits}");
            if let Some(store) = limits.shared_store()
                && let Err(error) = store.check().await
            {
                tracing::warn!(%error, "the rate-limit store does not answer yet; until it does, calls meet FACT_RATE_LIMIT_ON_STORE_ERROR");
            }
            builder = builder.rate_limits(limits);
        }
        Ok(None) => {}
        Err(error) => return Err(error.to_string()),
    }
    // Before the audit database is opened: a configuration that cannot work refuses to start
    // without creating one.
    let durability = AuditDurability::from_env()
        .map_err(|error| format!("audit log: {error}"))?
        .unwrap_or(AuditDurability::Answered);
    let builder = configure(builder).map_err(|error| error.to_string())?;
    let sink = std::sync::Arc::new(
        SqlAuditSink::from_env()
            .await
            .map_err(|error| format!("audit log: {error}"))?,
    );
    let log = AuditLog::start(sink.clone(), AuditConfig::default().durability(durability))
        .map_err(|error| format!("audit log: {error}"))?;
    tracing::info!(target: "fact::config", "audit log durability: {durability}");
    let executor = builder
        .audit(log)
        .build_connected()
        .await
        .map_err(|error| error.to_string())?;
    Ok((executor, sink))
}

fn startup_failed(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("fact: {error}");
    ExitCode::from(EXIT_STARTUP)
}

/// Prints `value` as pretty JSON on standard output. A reader that went away (`| head`) is not
/// an error worth a panic.
fn print_json(value: &impl serde::Serialize) {
    use std::io::Write as _;
    let printed = serde_json::to_string_pretty(value)
        .map_err(std::io::Error::from)
        .and_then(|text| writeln!(std::io::stdout().lock(), "{text}"));
    if let Err(error) = printed
        && error.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("fact: cannot print the result: {error}");
    }
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::Format;
    use crate::schema::ToolFormat;

    #[test]
    fn every_export_format_is_offered_under_its_own_name() {
        for format in ToolFormat::ALL {
            let offered = Format::from_str(format.as_str(), false)
                .unwrap_or_else(|error| panic!("--format {format}: {error}"));
            assert_eq!(ToolFormat::from(offered), format);
        }
        assert_eq!(Format::value_variants().len(), ToolFormat::ALL.len());
    }
}
