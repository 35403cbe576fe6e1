//! `fact`: serve, list and call FACT's standard tools (HTTP, file system, SQL).
//!
//! ```text
//! cargo run -p fact-tools-std --features cli --bin fact -- --help
//! ```

// Links the standard tools, so that `#[tool]` registration reaches the executor.
use fact_tools_std as _;

fn main() -> std::process::ExitCode {
    fact_runtime::cli::run()
}
