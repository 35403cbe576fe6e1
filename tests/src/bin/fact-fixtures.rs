//! `fact-fixtures`: the `fact` command line over this crate's fixture tools (`Fixture.*`), for
//! tests that need `fact serve` processes running tools the standard ones do not cover: one that
//! requires an OAuth2 grant and uses its token (`Fixture.SecureMultiply`), a slow one, a
//! rate-limited one.

use std::process::ExitCode;

// Naming the crate links its tools, so that `#[tool]` registration reaches the executor.
use fact_tests as _;

fn main() -> ExitCode {
    fact_runtime::cli::run()
}
