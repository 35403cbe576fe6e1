use fact_runtime::tool;

/// Echoes a value.
#[tool(name = "Ui.Echo")]
async fn echo<T: serde::Serialize>(value: T) -> T {
    value
}

fn main() {}
