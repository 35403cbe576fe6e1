use fact_runtime::tool;
use serde::Deserialize;

/// Read from JSON, but not described.
#[derive(Deserialize, Default)]
struct Point {
    x: i32,
    y: i32,
}

/// Measures how far the nearest point is from the origin; the attributes of a parameter do not
/// add errors of their own.
#[tool(name = "Ui.Nearest")]
async fn nearest(
    /// Where to measure from
    #[serde(default)]
    origin: Point,
    /// The points, when any
    #[serde(rename = "candidates")]
    points: Option<Vec<Point>>,
    /// How many to consider
    #[schemars(range(min = 1))]
    limit: usize,
) -> f64 {
    let _ = (origin, limit);
    points.map_or(0.0, |points| points.len() as f64)
}

fn main() {}
