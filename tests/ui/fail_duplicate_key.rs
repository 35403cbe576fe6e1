use fact_runtime::tool;

/// Adds two numbers.
#[tool(name = "Ui.Add", timeout = 10, timeout = 20)]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {}
