use fact_runtime::tool;

/// Adds two numbers.
#[tool(timeout = 10)]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Adds two numbers.
#[tool]
async fn bare(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {}
