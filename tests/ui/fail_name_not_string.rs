use fact_runtime::tool;

/// Adds two numbers.
#[tool(name = 5)]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Subtracts two numbers.
#[tool("Ui.Subtract")]
async fn subtract(a: i64, b: i64) -> i64 {
    a - b
}

fn main() {}
