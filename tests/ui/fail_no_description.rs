use fact_runtime::tool;

#[tool(name = "Ui.Undocumented")]
async fn undocumented(a: i64) -> i64 {
    a
}

/// A doc comment does not rescue an empty `description` key.
#[tool(name = "Ui.EmptyDescription", description = "")]
async fn empty_description(a: i64) -> i64 {
    a
}

fn main() {}
