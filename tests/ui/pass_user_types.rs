//! Parameters of the user's own types, deriving `Deserialize` and `JsonSchema`.

use fact_runtime::serde_json::json;
use fact_runtime::{ToolCall, ToolExecutor, tool};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A compass direction.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Direction {
    North,
    East,
    South,
    West,
}

/// A point on a grid.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Point {
    x: i32,
    y: i32,
}

/// Moves a point one step in a direction.
#[tool(name = "Ui.Step")]
async fn step(
    /// Where to start
    from: Point,
    /// Which way to go
    direction: Direction,
) -> Point {
    let Point { x, y } = from;
    match direction {
        Direction::North => Point { x, y: y + 1 },
        Direction::East => Point { x: x + 1, y },
        Direction::South => Point { x, y: y - 1 },
        Direction::West => Point { x: x - 1, y },
    }
}

#[tokio::main]
async fn main() {
    assert_eq!(
        step(Point { x: 0, y: 0 }, Direction::East).await,
        Point { x: 1, y: 0 }
    );

    let executor = ToolExecutor::builder().build().unwrap();
    let info = executor.tool_info("Ui.Step").unwrap();
    assert!(info.output_schema.is_some(), "{info:?}");

    let result = executor
        .execute_tool_call(ToolCall::new(
            "Ui.Step",
            json!({"from": {"x": 2, "y": 2}, "direction": "south"}),
        ))
        .await;
    assert_eq!(result.data, Some(json!({"x": 2, "y": 1})), "{result:?}");

    let bad_variant = executor
        .execute_tool_call(ToolCall::new(
            "Ui.Step",
            json!({"from": {"x": 2, "y": 2}, "direction": "up"}),
        ))
        .await;
    assert_eq!(bad_variant.status_code, 400, "{bad_variant:?}");
}
