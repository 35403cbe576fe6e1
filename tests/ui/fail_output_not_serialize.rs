use fact_runtime::{ToolError, tool};

struct Report {
    lines: usize,
}

/// Counts lines, and returns a type that cannot be serialized.
#[tool(name = "Ui.Count")]
fn count(text: String) -> Report {
    Report {
        lines: text.lines().count(),
    }
}

/// The same, in a `Result`.
#[tool(name = "Ui.TryCount")]
async fn try_count(text: String) -> Result<Report, ToolError> {
    Ok(Report {
        lines: text.lines().count(),
    })
}

fn main() {}
