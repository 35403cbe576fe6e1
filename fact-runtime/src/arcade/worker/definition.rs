//! A FACT tool as an Arcade worker lists it: the Engine API's parameter list (one converter
//! for both, `arcade::convert`), plus what only a worker tells the Engine: the secrets a tool
//! reads and its behavior (docs/ARCHITECTURE.md, "Arcade worker").

use serde_json::Value;

use super::wire::{SecretRequirement, ToolDefinition, ToolMetadata, ToolOutput, ToolRequirements};
use crate::ToolAnnotations;
use crate::arcade::convert::{engine_tool, nullable, value_schema};
use crate::registry::ToolInfo;

/// `info` as `GET /worker/tools` lists it.
pub(crate) fn worker_tool(info: &ToolInfo) -> ToolDefinition {
    let engine = engine_tool(info, &[]);
    let metadata = (info.annotations != ToolAnnotations::default()).then_some(ToolMetadata {
        behavior: Some(info.annotations),
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::registry::Execution;

    fn info(input_schema: Value, output_schema: Option<Value>) -> ToolInfo {
        ToolInfo {
            name: "Notes.Find".to_owned(),
            title: None,
            description: "Finds notes".to_owned(),
            version: "2.1.0".to_owned(),
            timeout: Duration::from_secs(5),
            requires_auth: true,
            scopes: vec!["notes.read".to_owned()],
            auth_provider: Some("github".to_owned()),
            secrets: vec!["NOTES_API_KEY".to_owned()],
            rate_limit_per_minute: None,
            annotations: ToolAnnotations::default(),
            input_schema,
            output_schema,
            defined_at: "here".to_owned(),
            execution: Execution::Local,
        }
    }

    #[test]
    fn a_tool_is_listed_with_its_toolkit_requirements_and_parameters() {
        let schema = json!({
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to look for"},
                "limit": {"type": ["integer", "null"]},
                "filter": {
                    "anyOf": [
                        {"type": "object", "properties": {
                            "tag": {"type": "string"},
                            "after": {"type": "integer"}
                        }, "required": ["tag"]},
                        {"type": "null"}
                    ]
                },
                "points": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"y": {"type": "number"}, "x": {"type": "number"}},
                    "required": ["y", "x"]
                }}
            },
            "required": ["query", "points"]
        });
        let tool = serde_json::to_value(worker_tool(&info(schema, None))).expect("serializes");
        assert_eq!(tool["name"], "Find");
        assert_eq!(tool["fully_qualified_name"], "Notes.Find");
        assert_eq!(tool["description"], "Finds notes");
        assert_eq!(
            tool["toolkit"],
            json!({"name": "Notes", "version": "2.1.0"})
        );
        assert_eq!(
            tool["requirements"],
            json!({
                "authorization": {
                    "provider_id": "github",
                    "provider_type": "oauth2",
                    "oauth2": {"scopes": ["notes.read"]}
                },
                "secrets": [{"key": "NOTES_API_KEY"}]
            })
        );
        let parameters = tool["input"]["parameters"].as_array().expect("a list");
        let parameter = |name: &str| {
            parameters
                .iter()
                .find(|parameter| parameter["name"] == name)
                .unwrap_or_else(|| panic!("{name} is listed"))
        };
        assert_eq!(parameter("query")["required"], true);
        assert_eq!(
            parameter("query")["value_schema"],
            json!({"val_type": "string", "description": "What to look for"})
        );
        assert_eq!(
            parameter("limit")["value_schema"],
            json!({"val_type": "integer", "nullable": true})
        );
        assert_eq!(parameter("limit")["required"], false);
        assert_eq!(
            parameter("filter")["value_schema"],
            json!({
                "val_type": "json",
                "nullable": true,
                "properties": {"tag": {"val_type": "string"}, "after": {"val_type": "integer"}},
                "required_keys": ["tag"]
            })
        );
        assert_eq!(
            parameter("points")["value_schema"],
            json!({
                "val_type": "array",
                "inner_val_type": "json",
                "inner_properties": {"x": {"val_type": "number"}, "y": {"val_type": "number"}},
                "inner_required_keys": ["x", "y"]
            })
        );
        assert!(
            tool.get("metadata").is_none(),
            "no annotations, no behavior"
        );
    }

    #[test]
    fn annotations_become_the_behavior_and_outputs_their_modes() {
        let mut described = info(json!({"type": "object"}), Some(json!({"type": "integer"})));
        described.annotations = ToolAnnotations {
            read_only: Some(true),
            open_world: Some(false),
            ..ToolAnnotations::default()
        };
        let tool = serde_json::to_value(worker_tool(&described)).expect("serializes");
        assert_eq!(
            tool["metadata"],
            json!({"behavior": {"read_only": true, "open_world": false}})
        );
        assert_eq!(
            tool["output"],
            json!({"available_modes": ["value", "error"], "value_schema": {"val_type": "integer"}})
        );
        let nothing = worker_tool(&info(
            json!({"type": "object"}),
            Some(json!({"type": "null"})),
        ));
        assert_eq!(nothing.output.available_modes, ["null", "error"]);
        assert_eq!(nothing.output.value_schema, None);
        let maybe = worker_tool(&info(
            json!({"type": "object"}),
            Some(json!({"type": ["string", "null"]})),
        ));
        assert_eq!(maybe.output.available_modes, ["value", "error", "null"]);
    }

    #[test]
    fn an_open_tool_has_no_authorization_and_no_secrets() {
        let mut open = info(json!({"type": "object"}), None);
        open.requires_auth = false;
        open.scopes.clear();
        open.auth_provider = None;
        open.secrets.clear();
        let tool = serde_json::to_value(worker_tool(&open)).expect("serializes");
        assert_eq!(tool["requirements"], json!({}));
        assert_eq!(tool["input"]["parameters"], json!([]));
    }
}
