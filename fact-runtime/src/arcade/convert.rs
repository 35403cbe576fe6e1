//! Tools between FACT's JSON Schemas and the Engine's parameter lists, both ways: FACT's
//! server lists its tools as [`wire::Tool`]s, and a remote's [`wire::Tool`]s join an
//! executor's registry with a JSON Schema that the pipeline validates calls against before
//! any request leaves the process (docs/ARCHITECTURE.md, "Engine API").

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::wire::{self, AuthorizationRequirement, OAuth2Requirement, Parameter, ValueSchema};
use crate::registry::ToolInfo;
use crate::schema::ToolFormat;

/// `info` as the Engine lists a tool, with its schema in each of `formats` besides.
pub(crate) fn engine_tool(info: &ToolInfo, formats: &[ToolFormat]) -> wire::Tool {
    let (toolkit, name) = info.name.split_once('.').unwrap_or(("", &info.name));
    let required: Vec<&str> = info
        .input_schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let parameters = info
        .input_schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .map(|(key, schema)| Parameter {
                    name: key.clone(),
                    required: required.contains(&key.as_str()),
                    description: description(schema),
                    inferrable: true,
                    value_schema: value_schema(schema),
                })
                .collect()
        })
        .unwrap_or_default();
    let requirements =
        (info.requires_auth || !info.scopes.is_empty()).then(|| wire::Requirements {
            authorization: Some(AuthorizationRequirement {
                provider_id: info.auth_provider.clone(),
                provider_type: Some("oauth2".to_owned()),
                oauth2: Some(OAuth2Requirement {
                    scopes: info.scopes.clone(),
                }),
            }),
            met: None,
        });
    let formatted_schema = (!formats.is_empty()).then(|| {
        formats
            .iter()
            .map(|format| (format.to_string(), info.export(*format)))
            .collect::<Map<String, Value>>()
    });
    wire::Tool {
        name: name.to_owned(),
        qualified_name: info.name.clone(),
        fully_qualified_name: format!("{}@{}", info.name, info.version),
        description: Some(info.description.clone()),
        toolkit: wire::Toolkit {
            name: toolkit.to_owned(),
            description: None,
            version: Some(info.version.clone()),
        },
        input: wire::Input { parameters },
        output: Some(wire::Output {
            available_modes: vec!["value".to_owned(), "error".to_owned()],
            description: None,
            value_schema: info.output_schema.as_ref().map(value_schema),
        }),
        requirements,
        formatted_schema,
    }
}

/// The Engine's type of a JSON Schema: its first non-null type (`Option<T>` is `T`, said
/// `nullable`), `json` for objects and anything a parameter list cannot say. An object's
/// fields (`properties`, `required_keys`), and an array's items' fields, are described as far
/// as the schema spells them out (a `$ref`, a recursive type's, stays a bare `json`).
pub(crate) fn value_schema(schema: &Value) -> ValueSchema {
    let val_type = json_type(schema);
    let mut value = ValueSchema {
        val_type: engine_type(val_type).to_owned(),
        description: description(schema),
        enumeration: string_enum(schema),
        nullable: nullable(schema).then_some(true),
        ..ValueSchema::default()
    };
    match val_type {
        Some("array") => {
            let items = schema.get("items").unwrap_or(&Value::Null);
            value.inner_val_type = Some(engine_type(json_type(items)).to_owned());
            if value.enumeration.is_none() {
                value.enumeration = string_enum(items);
            }
            if let Some((properties, required)) = fields(items) {
                value.inner_properties = Some(properties);
                value.inner_required_keys = Some(required);
            }
        }
        Some("object") => {
            if let Some((properties, required)) = fields(schema) {
                value.properties = Some(properties);
                value.required_keys = Some(required);
            }
        }
        _ => {}
    }
    value
}

/// An object schema's fields and its required ones (sorted), when it lists its fields (or is
/// an `Option` of one that does).
fn fields(schema: &Value) -> Option<(BTreeMap<String, ValueSchema>, Vec<String>)> {
    let object = object_variant(schema)?;
    let properties = object.get("properties")?.as_object()?;
    let mut required: Vec<String> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    required.sort();
    let properties = properties
        .iter()
        .map(|(key, field)| (key.clone(), value_schema(field)))
        .collect();
    Some((properties, required))
}

/// `schema` itself when it has `properties`, else its one non-null variant that has.
fn object_variant(schema: &Value) -> Option<&Value> {
    if schema.get("properties").is_some() {
        return Some(schema);
    }
    let variants = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))?
        .as_array()?;
    let mut objects = variants
        .iter()
        .filter(|variant| json_type(variant) != Some("null"));
    let only = objects.next()?;
    objects.next().is_none().then_some(only)?;
    only.get("properties").is_some().then_some(only)
}

/// Whether `schema` admits `null` besides its type: `type: [T, "null"]`, or a `null` variant.
pub(crate) fn nullable(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::Array(kinds)) => {
            kinds.iter().any(|kind| kind == "null") && kinds.iter().any(|kind| kind != "null")
        }
        Some(_) => false,
        None => schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
            .is_some_and(|variants| {
                variants.len() > 1
                    && variants
                        .iter()
                        .any(|variant| variant.get("type").and_then(Value::as_str) == Some("null"))
            }),
    }
}

/// The first non-null `type` of `schema`, looking through a nullable `anyOf` and constants.
fn json_type(schema: &Value) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(kind)) => Some(kind.as_str()),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|kind| *kind != "null"),
        _ => variants_type(schema).or_else(|| {
            match schema.get("const").or_else(|| schema.get("enum")?.get(0)) {
                Some(Value::String(_)) => Some("string"),
                _ => None,
            }
        }),
    }
}

/// The one non-null type of every variant of an `anyOf` or `oneOf` (an `Option<T>`, an enum
/// with described variants), if they share one.
fn variants_type(schema: &Value) -> Option<&str> {
    let variants = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))?
        .as_array()?;
    let mut types = variants
        .iter()
        .map(json_type)
        .filter(|kind| *kind != Some("null"));
    let first = types.next()??;
    types.all(|kind| kind == Some(first)).then_some(first)
}

fn engine_type(json_type: Option<&str>) -> &'static str {
    match json_type {
        Some("string") => "string",
        Some("integer") => "integer",
        Some("number") => "number",
        Some("boolean") => "boolean",
        Some("array") => "array",
        _ => "json",
    }
}

/// The strings a value may be, when `schema` closes them: `enum`, or `oneOf`/`anyOf` of
/// `const`s.
fn string_enum(schema: &Value) -> Option<Vec<String>> {
    let strings = |values: &Vec<Value>| -> Option<Vec<String>> {
        values
            .iter()
            .filter(|value| !value.is_null())
            .map(|value| value.as_str().map(str::to_owned))
            .collect()
    };
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return strings(values);
    }
    let variants = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))?
        .as_array()?;
    let constants: Option<Vec<Value>> = variants
        .iter()
        .filter(|variant| variant.get("type").and_then(Value::as_str) != Some("null"))
        .map(|variant| variant.get("const").cloned())
        .collect();
    strings(&constants?)
}

fn description(schema: &Value) -> Option<String> {
    schema
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// What FACT needs of a remote tool to register it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RemoteShape {
    pub(crate) name: String,
    pub(crate) description: String,
    /// The Engine's version of the tool, or `1.0.0` when it gives none.
    pub(crate) version: String,
    /// Whether the Engine gave the version (else calls name none).
    pub(crate) version_known: bool,
    pub(crate) input_schema: Value,
    pub(crate) scopes: Vec<String>,
    pub(crate) requires_auth: bool,
    /// The Engine's provider of the authorization the tool requires.
    pub(crate) auth_provider: Option<String>,
}

/// A remote `tool` as FACT registers it, or why it cannot be: the message names the tool.
#[allow(
    dead_code,
    reason = "the client side: ArcadeClient (issue 13, part 1) reads it"
)]
pub(crate) fn remote_shape(tool: &wire::Tool) -> Result<RemoteShape, String> {
    let name = if tool.qualified_name.is_empty() {
        format!("{}.{}", tool.toolkit.name, tool.name)
    } else {
        tool.qualified_name.clone()
    };
    let mut properties = Map::new();
    let mut required = Vec::new();
    for parameter in &tool.input.parameters {
        let schema = json_schema(&parameter.value_schema, parameter.description.as_deref())
            .map_err(|problem| {
                format!(
                    "remote tool '{name}': parameter '{}' {problem}",
                    parameter.name
                )
            })?;
        if properties.insert(parameter.name.clone(), schema).is_some() {
            return Err(format!(
                "remote tool '{name}': parameter '{}' is listed twice",
                parameter.name
            ));
        }
        if parameter.required {
            required.push(Value::String(parameter.name.clone()));
        }
    }
    let mut input_schema = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        input_schema["required"] = Value::Array(required);
    }
    let authorization = tool
        .requirements
        .as_ref()
        .and_then(|requirements| requirements.authorization.as_ref());
    let scopes = authorization
        .and_then(|authorization| authorization.oauth2.as_ref())
        .map(|oauth2| oauth2.scopes.clone())
        .unwrap_or_default();
    let version = tool.toolkit.version.clone().or_else(|| {
        let (_, version) = tool.fully_qualified_name.rsplit_once('@')?;
        Some(version.to_owned())
    });
    let version_known = version.is_some();
    let version = version.unwrap_or_else(|| "1.0.0".to_owned());
    Ok(RemoteShape {
        name,
        description: tool.description.clone().unwrap_or_default(),
        version,
        version_known,
        input_schema,
        scopes,
        requires_auth: authorization.is_some(),
        auth_provider: authorization.and_then(|authorization| authorization.provider_id.clone()),
    })
}

/// The JSON Schema of an Engine type, or what is wrong with it.
fn json_schema(value: &ValueSchema, description: Option<&str>) -> Result<Value, String> {
    let mut schema = match value.val_type.as_str() {
        "string" | "integer" | "number" | "boolean" => json!({"type": value.val_type}),
        "json" => {
            let mut object = json!({"type": "object"});
            if let Some(properties) = &value.properties {
                let mut fields = Map::new();
                for (key, field) in properties {
                    fields.insert(
                        key.clone(),
                        json_schema(field, field.description.as_deref())?,
                    );
                }
                object["properties"] = Value::Object(fields);
            }
            object
        }
        "array" => {
            let inner = value.inner_val_type.as_deref().unwrap_or("json");
            let items = json_schema(
                &ValueSchema {
                    val_type: inner.to_owned(),
                    properties: value.inner_properties.clone(),
                    enumeration: value.enumeration.clone(),
                    ..ValueSchema::default()
                },
                None,
            )
            .map_err(|problem| format!("has items that {problem}"))?;
            json!({"type": "array", "items": items})
        }
        other => {
            return Err(format!(
                "has type '{other}', which is none of {}",
                ValueSchema::TYPES.join(", ")
            ));
        }
    };
    if value.val_type != "array"
        && let Some(values) = &value.enumeration
    {
        if value.val_type != "string" {
            return Err(format!(
                "lists allowed values for a '{}', which only a string may have",
                value.val_type
            ));
        }
        schema["enum"] = json!(values);
    }
    if let Some(description) = description.or(value.description.as_deref()) {
        schema["description"] = json!(description);
    }
    Ok(schema)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn info(input_schema: Value) -> ToolInfo {
        ToolInfo {
            name: "Math.Add".to_owned(),
            title: None,
            description: "Adds".to_owned(),
            version: "1.2.3".to_owned(),
            timeout: Duration::from_secs(5),
            requires_auth: false,
            scopes: vec![],
            auth_provider: None,
            secrets: vec![],
            rate_limit_per_minute: None,
            annotations: crate::ToolAnnotations::default(),
            input_schema,
            output_schema: None,
            defined_at: "here".to_owned(),
            execution: crate::registry::Execution::Local,
        }
    }

    #[test]
    fn a_fact_schema_becomes_an_engine_parameter_list_and_back() {
        let schema = json!({
            "type": "object",
            "properties": {
                "a": {"type": "integer", "description": "first"},
                "note": {"type": ["string", "null"]},
                "op": {"type": "string", "enum": ["add", "sub"]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "options": {"type": "object", "properties": {"x": {"type": "number"}}},
                "mode": {"oneOf": [{"const": "fast", "description": "f"}, {"const": "slow"}]}
            },
            "required": ["a", "op"]
        });
        let tool = engine_tool(&info(schema), &[ToolFormat::OpenAi]);
        assert_eq!(tool.qualified_name, "Math.Add");
        assert_eq!(tool.fully_qualified_name, "Math.Add@1.2.3");
        assert_eq!(
            (tool.name.as_str(), tool.toolkit.name.as_str()),
            ("Add", "Math")
        );
        let types: Vec<(&str, &str, bool)> = tool
            .input
            .parameters
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.value_schema.val_type.as_str(),
                    p.required,
                )
            })
            .collect();
        assert_eq!(
            types,
            [
                ("a", "integer", true),
                ("note", "string", false),
                ("op", "string", true),
                ("tags", "array", false),
                ("options", "json", false),
                ("mode", "string", false)
            ]
        );
        assert_eq!(
            tool.input.parameters[5].value_schema.enumeration,
            Some(vec!["fast".to_owned(), "slow".to_owned()])
        );
        assert!(tool.formatted_schema.as_ref().expect("asked for")["openai"].is_object());

        let back = remote_shape(&tool).expect("converts back");
        assert_eq!(back.name, "Math.Add");
        assert_eq!(back.version, "1.2.3");
        assert_eq!(back.input_schema["required"], json!(["a", "op"]));
        assert_eq!(
            back.input_schema["properties"]["a"],
            json!({"type": "integer", "description": "first"})
        );
        assert_eq!(
            back.input_schema["properties"]["tags"],
            json!({"type": "array", "items": {"type": "string"}})
        );
        assert_eq!(
            back.input_schema["properties"]["op"],
            json!({"type": "string", "enum": ["add", "sub"]})
        );
    }

    #[test]
    fn a_remote_type_that_is_not_one_of_the_engines_names_the_tool_and_parameter() {
        let mut tool = engine_tool(
            &info(json!({"type": "object", "properties": {"a": {"type": "integer"}}})),
            &[],
        );
        tool.input.parameters[0].value_schema.val_type = "object".to_owned();
        let problem = remote_shape(&tool).expect_err("refused");
        assert_eq!(
            problem,
            "remote tool 'Math.Add': parameter 'a' has type 'object', which is none of \
             string, integer, number, boolean, json, array"
        );
        tool.input.parameters[0].value_schema.val_type = "integer".to_owned();
        tool.input.parameters[0].value_schema.enumeration = Some(vec!["1".to_owned()]);
        assert!(
            remote_shape(&tool)
                .expect_err("refused")
                .contains("only a string may have")
        );
    }
}
