use fact_runtime::{ToolContext, tool};

/// Reads the weather.
#[tool(name = "Ui.NotArray", secrets = "WEATHER_API_KEY")]
fn not_array(ctx: &ToolContext) -> bool {
    ctx.secret("WEATHER_API_KEY").is_some()
}

/// Reads the weather.
#[tool(name = "Ui.NotText", secrets = ["WEATHER_API_KEY", 7])]
fn not_text(ctx: &ToolContext) -> bool {
    ctx.secret("WEATHER_API_KEY").is_some()
}

/// Reads the weather.
#[tool(name = "Ui.Empty", secrets = [""])]
fn empty(ctx: &ToolContext) -> bool {
    ctx.secret("WEATHER_API_KEY").is_some()
}

/// Reads the weather.
#[tool(name = "Ui.Spaced", secrets = ["WEATHER API KEY"])]
fn spaced(ctx: &ToolContext) -> bool {
    ctx.secret("WEATHER_API_KEY").is_some()
}

/// Reads the weather.
#[tool(name = "Ui.Blank", secrets = ["  "])]
fn blank(ctx: &ToolContext) -> bool {
    ctx.secret("WEATHER_API_KEY").is_some()
}

/// Reads the weather.
#[tool(name = "Ui.Repeated", secrets = ["WEATHER_API_KEY", "Weather_Api_Key"])]
fn repeated(ctx: &ToolContext) -> bool {
    ctx.secret("WEATHER_API_KEY").is_some()
}

/// Reads the weather.
#[tool(name = "Ui.Twice", secrets = ["WEATHER_API_KEY"], secrets = ["REGION"])]
fn twice(ctx: &ToolContext) -> bool {
    ctx.secret("WEATHER_API_KEY").is_some()
}

fn main() {}
