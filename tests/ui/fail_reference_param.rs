use fact_runtime::tool;

/// Counts characters.
#[tool(name = "Ui.Count")]
async fn count(s: &str) -> usize {
    s.chars().count()
}

fn main() {}
