use fact_runtime::tool;

/// Takes an `impl Trait` parameter, which has no schema.
#[tool(name = "Ui.ImplTrait")]
async fn impl_trait(value: impl Into<String>) -> String {
    value.into()
}

struct Opaque;

/// Takes a type with neither `Deserialize` nor `JsonSchema`, and a good one.
#[tool(name = "Ui.Opaque")]
async fn opaque(count: u32, opaque: Opaque) -> u32 {
    let _ = opaque;
    count
}

fn main() {}
