use fact_runtime::{ToolContext, tool};

/// Takes the context twice.
#[tool(name = "Ui.TwoContexts")]
async fn two_contexts(first: &ToolContext, second: ToolContext) -> bool {
    first.call_id() == second.call_id()
}

/// Documents the context as if it were a schema parameter.
#[tool(name = "Ui.DocumentedContext")]
async fn documented_context(
    /// The call's context
    ctx: &ToolContext,
) -> String {
    ctx.call_id().to_owned()
}

/// Asks for exclusive access to the context.
#[tool(name = "Ui.MutContext")]
async fn mut_context(ctx: &mut ToolContext) -> String {
    ctx.call_id().to_owned()
}

fn main() {}
