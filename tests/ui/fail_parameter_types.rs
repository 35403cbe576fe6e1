use fact_runtime::tool;

/// Takes an `impl Trait` parameter, which has no schema.
#[tool(name = "Ui.ImplTrait")]
async fn impl_trait(value: impl Into<String>) -> String {
    value.into()
}

struct NotSerializable;

/// Returns a type that cannot be serialized.
#[tool(name = "Ui.NotSerializable")]
async fn not_serializable(x: i64) -> NotSerializable {
    let _ = x;
    NotSerializable
}

fn main() {}
