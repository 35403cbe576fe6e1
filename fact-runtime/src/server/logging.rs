//! Where the spans and events of a server or CLI go.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// Sends logs to standard error, filtered by `RUST_LOG` (`fact_runtime=debug`, `warn`, ...).
/// Without it the level is `info`; `DEBUG=true` (or `1`), the seed's debug mode, adds FACT's
/// debug lines, among them one per tool call with its span (call id, tool, status, error type,
/// duration; never arguments or tokens). Without `RUST_LOG`, rmcp (MCP) logs warnings only:
/// its own lines come once per `/mcp` request and, at debug, hold whole requests and results,
/// arguments among them. Does nothing if the program installed a subscriber already.
pub fn init_logging() {
    init_logging_at("info");
}

/// As [`init_logging`], with `level` as the level when `RUST_LOG` is not set.
pub(crate) fn init_logging_at(level: &str) {
    let debug = std::env::var("DEBUG")
        .is_ok_and(|value| matches!(value.trim().to_ascii_lowercase().as_str(), "1" | "true"));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        if debug {
            EnvFilter::new(format!("{level},fact_runtime=debug,rmcp=warn"))
        } else {
            EnvFilter::new(format!("{level},rmcp=warn"))
        }
    });
    // An error means a subscriber is already installed: the program's choice wins.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}
