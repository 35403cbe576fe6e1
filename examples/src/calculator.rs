//! `MyApp.Calculator`, the seed's example tool.

use fact_runtime::{ToolError, tool};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An arithmetic operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Add,
    Subtract,
    Multiply,
    Divide,
}

/// The result of a calculation, with its inputs.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Calculation {
    /// The operation performed.
    pub operation: Operation,
    /// The first operand.
    pub a: f64,
    /// The second operand.
    pub b: f64,
    /// `a <operation> b`.
    pub result: f64,
}

/// Performs basic arithmetic on two numbers.
#[tool(
    name = "MyApp.Calculator",
    title = "Calculator",
    timeout = 10,
    read_only,
    destructive = false,
    idempotent,
    open_world = false
)]
pub async fn calculator(
    /// The operation to perform
    operation: Operation,
    /// The first operand
    a: f64,
    /// The second operand
    b: f64,
) -> Result<Calculation, ToolError> {
    let result = match operation {
        Operation::Add => a + b,
        Operation::Subtract => a - b,
        Operation::Multiply => a * b,
        Operation::Divide if b == 0.0 => {
            return Err(ToolError::invalid_input(
                "Division by zero: 'b' must not be 0 when dividing",
            ));
        }
        Operation::Divide => a / b,
    };
    if !result.is_finite() {
        return Err(ToolError::invalid_input(format!(
            "the result of {a} {operation:?} {b} is not a finite number"
        )));
    }
    Ok(Calculation {
        operation,
        a,
        b,
        result,
    })
}
