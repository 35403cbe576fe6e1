use fact_runtime::tool;

/// Adds two numbers.
#[tool(name = "My App.Calc")]
async fn spaced(a: i64, b: i64) -> i64 {
    a + b
}

/// Adds two numbers.
#[tool(name = "Calculator")]
async fn no_toolkit(a: i64, b: i64) -> i64 {
    a + b
}

/// Adds two numbers.
#[tool(name = "MyApp.1Calc")]
async fn digit_first(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {}
