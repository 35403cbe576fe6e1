use fact_runtime::tool;
use schemars::JsonSchema;

/// Described, but cannot be read from JSON.
#[derive(JsonSchema)]
struct Point {
    x: i32,
    y: i32,
}

/// Measures how far a point is from the origin.
#[tool(name = "Ui.Distance")]
async fn distance(
    /// The point
    point: Point,
) -> f64 {
    f64::from(point.x).hypot(f64::from(point.y))
}

fn main() {}
