use fact_runtime::tool;

/// Adds a pair of numbers.
#[tool(name = "Ui.Pair")]
async fn add((a, b): (i32, i32)) -> i32 {
    a + b
}

fn main() {}
