//! A FACT tool as an Arcade worker lists it: the Engine API's parameter list (one converter
//! for both, `arcade::convert`), plus what only a worker tells the Engine: the secrets a tool
//! reads and its behavior (docs/ARCHITECTURE.md, "Arcade worker").

use super::wire::{
    Behavior, SecretRequirement, ToolDefinition, ToolMetadata, ToolOutput, ToolRequirements,
};
use serde_json::Value;

use crate::arcade::convert::{engine_tool, nullable, value_schema};
use crate::registry::ToolInfo;

/// `info` as `GET /worker/tools` lists it.
pub(crate) fn worker_tool(info: &ToolInfo) -> ToolDefinition {
    let engine = engine_tool(info, &[]);
    let annotations = info.annotations;
    let behavior = Behavior {
        read_only: annotations.read_only,
        destructive: annotations.destructive,
        idempotent: annotations.idempotent,
        open_world: annotations.open_world,
    };
    let metadata = (behavior != Behavior::default()).then_some(ToolMetadata {
        behavior: Some(behavior),
    });
    let secrets = (!info.secrets.is_empty()).then(|| {
        info.secrets
            .iter()
            .map(|key| SecretRequirement { key: key.clone() })
            .collect()
    });
    ToolDefinition {
        name: engine.name,
        // Arcade's workers name a tool `Toolkit.Tool`, its version in the toolkit.
        fully_qualified_name: engine.qualified_name,
        description: info.description.clone(),
        toolkit: engine.toolkit,
        input: engine.input,
        output: output(info),
        requirements: ToolRequirements {
            authorization: engine
                .requirements
                .and_then(|requirements| requirements.authorization),
            secrets,
        },
        deprecation_message: None,
        metadata,
    }
}

/// What the tool answers: a value or an error; `null` too for an `Option`, and only `null`
/// (or an error) for a tool that answers nothing (`()`).
fn output(info: &ToolInfo) -> ToolOutput {
    let modes = |names: &[&str]| names.iter().map(|name| (*name).to_owned()).collect();
    match &info.output_schema {
        Some(schema) if schema.get("type") == Some(&Value::from("null")) => ToolOutput {
            description: None,
            available_modes: modes(&["null", "error"]),
            value_schema: None,
        },
        Some(schema) => ToolOutput {
            description: None,
            available_modes: if nullable(schema) {
                modes(&["value", "error", "null"])
            } else {
                modes(&["value", "error"])
            },
            value_schema: Some(value_schema(schema)),
        },
        None => ToolOutput {
            description: None,
            available_modes: modes(&["value", "error"]),
            value_schema: None,
        },
    }
}
