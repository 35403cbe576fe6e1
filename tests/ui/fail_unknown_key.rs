use fact_runtime::tool;

/// Adds two numbers.
#[tool(name = "Ui.Add", timeout_secs = 10)]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {}
