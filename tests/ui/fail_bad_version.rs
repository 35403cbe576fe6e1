use fact_runtime::tool;

/// Adds two numbers.
#[tool(name = "Ui.Short", version = "1.0")]
async fn short(a: i64, b: i64) -> i64 {
    a + b
}

/// Adds two numbers.
#[tool(name = "Ui.Tagged", version = "v1.0.0")]
async fn tagged(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {}
