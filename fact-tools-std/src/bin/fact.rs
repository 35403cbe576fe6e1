//! `fact`: serve, list and call FACT's standard tools (HTTP, file system, SQL).
//!
//! ```text
//! cargo run -p fact-tools-std --features cli --bin fact -- --help
//! ```
//!
//! The file tools' roots are opened once, when `fact` starts, from `FACT_FS_ROOTS` (default
//! `./data`): a root that cannot be opened, or a variable set to no directory at all, stops
//! `fact` with exit code 3 and a message naming the variable and the root. Unset with no
//! `./data`, `fact` starts and the file tools refuse every call.
//!
//! The SQL tools' settings (`FACT_SQL_ALLOWED_TABLES`, `FACT_SQL_STATEMENT_TIMEOUT`, ...) are
//! checked then too: one that does not parse stops `fact` the same way. Their database
//! (`FACT_SQL_DATABASE_URL`) is connected on the first SQL call.

use std::error::Error;
use std::process::ExitCode;

use fact_runtime::ToolExecutorBuilder;
// Naming the crate links the standard tools, so that `#[tool]` registration reaches the
// executor.
use fact_tools_std::fs::{DEFAULT_ROOT, FileRoots, ROOTS_ENV};

fn main() -> ExitCode {
    fact_runtime::cli::try_run_with(|builder| {
        // A typo in a SQL setting stops `fact` here, rather than failing every SQL call.
        fact_tools_std::sql::SqlPolicy::from_env()?;
        with_file_roots(builder)
    })
}

/// Hands the executor the file roots of the environment, opened now.
fn with_file_roots(
    builder: ToolExecutorBuilder,
) -> Result<ToolExecutorBuilder, Box<dyn Error + Send + Sync>> {
    match FileRoots::from_env()? {
        Some(roots) => Ok(builder.extension(roots)),
        None => {
            tracing::warn!(
                "{ROOTS_ENV} is not set and {DEFAULT_ROOT} does not exist: the file tools \
                 refuse every call until {ROOTS_ENV} lists the directories they may read"
            );
            Ok(builder)
        }
    }
}
