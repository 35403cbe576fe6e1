use fact_runtime::tool;

/// Adds two numbers.
#[tool(name = "Ui.Add", title = "  ")]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Subtracts two numbers.
#[tool(name = "Ui.Subtract", title = Subtract)]
async fn subtract(a: i64, b: i64) -> i64 {
    a - b
}

/// Multiplies two numbers.
#[tool(name = "Ui.Multiply", title = "Multiply", title = "Times")]
async fn multiply(a: i64, b: i64) -> i64 {
    a * b
}

fn main() {}
