use fact_runtime::tool;

/// Adds two numbers.
#[tool(name = "Ui.AddAsync", inline)]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Adds two numbers.
#[tool(name = "Ui.AddAsyncTrue", timeout = 5, inline = true)]
async fn add_true(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {}
