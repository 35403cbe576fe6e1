use fact_runtime::tool;

/// Reads the calendar.
#[tool(name = "Ui.Calendar", requires_auth, scopes = "read")]
async fn calendar(day: String) -> String {
    day
}

/// Reads the calendar.
#[tool(name = "Ui.Spaced", scopes = ["calendar read"])]
async fn spaced(day: String) -> String {
    day
}

/// Reads the calendar.
#[tool(name = "Ui.Repeated", scopes = ["read", "read"])]
async fn repeated(day: String) -> String {
    day
}

/// Reads the calendar.
#[tool(name = "Ui.NotText", scopes = ["read", 7])]
async fn not_text(day: String) -> String {
    day
}

fn main() {}
