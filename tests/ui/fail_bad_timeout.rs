use fact_runtime::tool;

/// Adds two numbers.
#[tool(name = "Ui.Zero", timeout = 0)]
async fn zero(a: i64, b: i64) -> i64 {
    a + b
}

/// Adds two numbers.
#[tool(name = "Ui.Text", timeout = "10")]
async fn text(a: i64, b: i64) -> i64 {
    a + b
}

/// Adds two numbers.
#[tool(name = "Ui.TooLong", timeout = 86401)]
async fn too_long(a: i64, b: i64) -> i64 {
    a + b
}

/// Adds two numbers.
#[tool(name = "Ui.Suffixed", timeout = 10s)]
async fn suffixed(a: i64, b: i64) -> i64 {
    a + b
}

/// Adds two numbers.
#[tool(name = "Ui.Fraction", timeout = 1.5)]
async fn fraction(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {}
