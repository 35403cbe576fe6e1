use fact_runtime::tool;

/// Reads the calendar.
#[tool(name = "Ui.Calendar", requires_auth = "yes")]
async fn calendar(day: String) -> String {
    day
}

fn main() {}
