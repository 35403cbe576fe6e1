//! `rate_limit` must be a whole number of calls per minute in range.

use fact_runtime::tool;

/// Zero calls a minute would make the tool unusable.
#[tool(name = "Ui.Zero", rate_limit = 0)]
fn zero() {}

/// A rate is a number, not a string.
#[tool(name = "Ui.Text", rate_limit = "30/min")]
fn text() {}

fn main() {}
