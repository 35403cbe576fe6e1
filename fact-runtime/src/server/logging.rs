//! Where the spans and events of a server or CLI go.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// Sends logs to standard error, filtered by `RUST_LOG` (`fact_runtime=debug`, `warn`, ...).
/// Without it the level is `info`, or `debug` when `DEBUG` is `true` or `1`: the seed's debug
/// mode, which shows one line per tool call (its span: call id, tool, status, error type,
/// duration; never arguments or tokens). Does nothing if the program installed a subscriber
/// already.
pub fn init_logging() {
    let debug = std::env::var("DEBUG")
        .is_ok_and(|value| matches!(value.trim().to_ascii_lowercase().as_str(), "1" | "true"));
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(if debug { "debug" } else { "info" }));
    // An error means a subscriber is already installed: the program's choice wins.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}
