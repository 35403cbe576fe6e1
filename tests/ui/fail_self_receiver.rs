use fact_runtime::tool;

struct Calculator {
    offset: i64,
}

impl Calculator {
    /// Adds the offset.
    #[tool(name = "Ui.Offset")]
    async fn add(&self, a: i64) -> i64 {
        a + self.offset
    }
}

fn main() {
    let _ = Calculator { offset: 1 };
}
