//! JSON Schemas of tools: derivation from Rust types (schemars) and the export formats that LLM
//! APIs read.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use crate::registry::ToolInfo;

/// The input schema of a `#[tool]`'s arguments struct: draft 2020-12, subschemas inlined so
/// that the document stands alone (recursive types keep `$defs` at the root), no `title` (the
/// struct is generated) and no `$schema`.
pub(crate) fn input_schema_of<T: JsonSchema>() -> Value {
    let generator = settings().for_deserialize().into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(object) = schema.as_object_mut() {
        object.remove("title");
        object.entry("properties").or_insert_with(|| json!({}));
    }
    schema
}

/// Draft 2020-12, subschemas inlined so that each document stands alone, no `$schema`.
fn settings() -> SchemaSettings {
    SchemaSettings::draft2020_12().with(|s| {
        s.inline_subschemas = true;
        s.meta_schema = None;
    })
}

/// The output schema of a tool's success type, as serialized.
pub(crate) fn output_schema_of<T: JsonSchema + ?Sized>() -> Value {
    settings()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

/// A format in which tool schemas are exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ToolFormat {
    /// FACT's own [`ToolInfo`] JSON.
    Native,
    /// OpenAI function calling: `{"type": "function", "function": {name, description,
    /// parameters}}`, with `.` in names replaced by `_`.
    OpenAi,
    /// Anthropic tool use: `{name, description, input_schema}`, with `.` in names replaced by
    /// `_` (Anthropic names allow only `[a-zA-Z0-9_-]`).
    Anthropic,
    /// Model Context Protocol: `{name, description, inputSchema, outputSchema?}`.
    Mcp,
}

impl ToolFormat {
    /// Every format, in a stable order.
    pub const ALL: [ToolFormat; 4] = [Self::Native, Self::OpenAi, Self::Anthropic, Self::Mcp];

    /// The format's name as [`FromStr`] reads it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
            Self::Mcp => "mcp",
        }
    }
}

impl fmt::Display for ToolFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown format name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown tool format '{0}': expected one of native, openai, anthropic, mcp")]
pub struct UnknownFormat(String);

impl FromStr for ToolFormat {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|format| format.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// The name under which formats that forbid `.` know a tool, as Arcade spells it.
pub(crate) fn underscore_name(name: &str) -> String {
    name.replace('.', "_")
}

impl ToolInfo {
    /// This tool's schema in `format`.
    ///
    /// ```
    /// use fact_runtime::{ToolDefinition, ToolExecutor, ToolFormat};
    /// use serde_json::json;
    ///
    /// let tool = ToolDefinition::new("Demo.Noop", "Does nothing", json!({"type": "object"}),
    ///     |_ctx, _args| async { Ok(json!(null)) });
    /// let executor = ToolExecutor::builder().register(tool).build().unwrap();
    /// let openai = executor.tool_info("Demo.Noop").unwrap().export(ToolFormat::OpenAi);
    /// assert_eq!(openai["function"]["name"], "Demo_Noop");
    /// ```
    pub fn export(&self, format: ToolFormat) -> Value {
        match format {
            ToolFormat::Native => serde_json::to_value(self).unwrap_or(Value::Null),
            ToolFormat::OpenAi => json!({
                "type": "function",
                "function": {
                    "name": underscore_name(&self.name),
                    "description": self.description,
                    "parameters": self.input_schema,
                }
            }),
            ToolFormat::Anthropic => json!({
                "name": underscore_name(&self.name),
                "description": self.description,
                "input_schema": self.input_schema,
            }),
            ToolFormat::Mcp => {
                let mut tool = json!({
                    "name": self.name,
                    "description": self.description,
                    "inputSchema": self.input_schema,
                });
                if let (Some(schema), Some(object)) = (&self.output_schema, tool.as_object_mut()) {
                    object.insert("outputSchema".to_owned(), mcp_output_schema(schema));
                }
                tool
            }
        }
    }
}

/// MCP requires `outputSchema` to describe an object (structured content is a JSON object);
/// other outputs are wrapped as `{"result": ...}`, the shape MCP servers return them in.
pub(crate) fn mcp_output_schema(schema: &Value) -> Value {
    if schema.get("type").and_then(Value::as_str) == Some("object") {
        return schema.clone();
    }
    let mut inner = schema.clone();
    let defs = inner.as_object_mut().and_then(|o| o.remove("$defs"));
    let mut wrapped = json!({
        "type": "object",
        "properties": {"result": inner},
        "required": ["result"],
    });
    if let (Some(defs), Some(object)) = (defs, wrapped.as_object_mut()) {
        // `$ref`s inside point at `#/$defs/...`, which stays the root of the wrapped document.
        object.insert("$defs".to_owned(), defs);
    }
    wrapped
}
