//! JSON Schemas of tools: derivation from Rust types (schemars) and the export formats that LLM
//! APIs read.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use crate::registry::ToolInfo;

mod openai_strict;

pub use openai_strict::openai_strict_schema;

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
    plain_descriptions(&mut schema);
    schema
}

/// Rewrites every `description` of `schema` as [`plain_text`]: the schema is shown to models,
/// which have no use for rustdoc's links.
fn plain_descriptions(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            for (key, value) in object.iter_mut() {
                match value {
                    Value::String(text) if key == "description" => *text = plain_text(text),
                    _ => plain_descriptions(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(plain_descriptions),
        _ => {}
    }
}

/// `text` (a doc comment) as a model should read it: rustdoc's intra-doc links become plain
/// text (``[`DirectoryListing`]`` is `` `DirectoryListing` ``, ``[`connect`](Self::connect)``
/// is `` `connect` ``, `[the roots][FileRoots]` is `the roots`), and Rust code blocks (rustdoc's
/// examples, hidden lines and all) are left out. Links to URLs, brackets that link nothing,
/// code spans and other fenced blocks (`` ```json ``) are kept as written.
pub(crate) fn plain_text(text: &str) -> String {
    let mut paragraphs = String::with_capacity(text.len());
    let mut in_rust_block = false;
    let mut in_other_block = false;
    for line in text.lines() {
        let fence = line.trim_start().strip_prefix("```");
        match fence {
            Some(info) if !in_rust_block && !in_other_block => {
                let info = info.trim();
                let rust = info.is_empty()
                    || info.split(',').any(|word| {
                        matches!(
                            word.trim(),
                            "rust" | "ignore" | "no_run" | "should_panic" | "compile_fail"
                        )
                    });
                if rust {
                    in_rust_block = true;
                } else {
                    in_other_block = true;
                    paragraphs.push_str(line);
                    paragraphs.push('\n');
                }
            }
            Some(_) if in_rust_block => in_rust_block = false,
            Some(_) => {
                in_other_block = false;
                paragraphs.push_str(line);
                paragraphs.push('\n');
            }
            None if in_rust_block => {}
            None if in_other_block => {
                paragraphs.push_str(line);
                paragraphs.push('\n');
            }
            None => {
                paragraphs.push_str(&without_links(line));
                paragraphs.push('\n');
            }
        }
    }
    // A block left out leaves its blank lines: one is enough between paragraphs.
    let mut plain = paragraphs.trim_end().to_owned();
    while plain.contains("\n\n\n") {
        plain = plain.replace("\n\n\n", "\n\n");
    }
    plain
}

/// One line of prose without its intra-doc links; code spans are copied untouched.
fn without_links(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut rest = line;
    loop {
        let Some(at) = rest.find(['[', '`']) else {
            plain.push_str(rest);
            return plain;
        };
        plain.push_str(&rest[..at]);
        let here = &rest[at..];
        if here.starts_with('`') {
            // A code span runs to the next run of as many backticks.
            let ticks = here.len() - here.trim_start_matches('`').len();
            let fence = &here[..ticks];
            match here[ticks..].find(fence) {
                Some(end) => {
                    let span = ticks + end + ticks;
                    plain.push_str(&here[..span]);
                    rest = &here[span..];
                }
                None => {
                    plain.push_str(here);
                    return plain;
                }
            }
            continue;
        }
        match link(here) {
            Some((label, consumed)) => {
                plain.push_str(label);
                rest = &here[consumed..];
            }
            None => {
                plain.push('[');
                rest = &here[1..];
            }
        }
    }
}

/// The label of the intra-doc link `text` starts with, and the link's length.
fn link(text: &str) -> Option<(&str, usize)> {
    let close = text.find(']')?;
    let label = &text[1..close];
    let tail = &text[close + 1..];
    let target = match tail.chars().next() {
        Some(open @ ('(' | '[')) => {
            let shut = if open == '(' { ')' } else { ']' };
            let end = tail.find(shut)?;
            Some((&tail[1..end], end + 1))
        }
        _ => None,
    };
    match target {
        Some((target, length)) if is_item_path(target.trim_start_matches("Self::")) => {
            Some((label, close + 1 + length))
        }
        Some(_) => None,
        None => {
            let code = label.len() > 2 && label.starts_with('`') && label.ends_with('`');
            let item = &label[usize::from(code)..label.len() - usize::from(code)];
            (is_item_path(item) && (code || item.contains("::"))).then_some((label, close + 1))
        }
    }
}

/// Whether `text` is a Rust path (`Type`, `module::item`, `Self::method`, with `()` or `!`).
fn is_item_path(text: &str) -> bool {
    let text = text.trim_end_matches("()").trim_end_matches('!');
    !text.is_empty()
        && text.split("::").all(|segment| {
            segment.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
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
    let mut schema = settings()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    plain_descriptions(&mut schema);
    schema
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
    /// OpenAI's strict function calling (Structured Outputs): as [`OpenAi`](Self::OpenAi),
    /// with `"strict": true` and the parameters rewritten by [`openai_strict_schema`]: every
    /// object closed with every property required (an optional one nullable instead), and
    /// only the keywords strict mode accepts. The model then always answers with arguments
    /// of that shape; FACT still validates them against the tool's full schema.
    ///
    /// ```
    /// use fact_runtime::{ToolDefinition, ToolExecutor, ToolFormat};
    /// use serde_json::json;
    ///
    /// let schema = json!({
    ///     "type": "object",
    ///     "properties": {"text": {"type": "string"}, "times": {"type": "integer"}},
    ///     "required": ["text"]
    /// });
    /// let tool = ToolDefinition::new("Demo.Echo", "Echoes a text", schema,
    ///     |_ctx, args| async move { Ok(args["text"].clone()) });
    /// let executor = ToolExecutor::builder().register(tool).build().unwrap();
    /// let strict = executor.tool_info("Demo.Echo").unwrap().export(ToolFormat::OpenAiStrict);
    /// assert_eq!(strict["function"]["name"], "Demo_Echo");
    /// assert_eq!(strict["function"]["strict"], true);
    /// let parameters = &strict["function"]["parameters"];
    /// assert_eq!(parameters["required"], json!(["text", "times"]));
    /// assert_eq!(parameters["properties"]["times"]["type"], json!(["integer", "null"]));
    /// assert_eq!(parameters["additionalProperties"], false);
    /// ```
    OpenAiStrict,
    /// Anthropic tool use: `{name, description, input_schema}`, with `.` in names replaced by
    /// `_` (Anthropic names allow only `[a-zA-Z0-9_-]`).
    Anthropic,
    /// Model Context Protocol: `{name, description, inputSchema, outputSchema?}`.
    Mcp,
}

impl ToolFormat {
    /// Every format, in a stable order.
    pub const ALL: [ToolFormat; 5] = [
        Self::Native,
        Self::OpenAi,
        Self::OpenAiStrict,
        Self::Anthropic,
        Self::Mcp,
    ];

    /// The format's name as [`FromStr`] reads it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::OpenAi => "openai",
            Self::OpenAiStrict => "openai-strict",
            Self::Anthropic => "anthropic",
            Self::Mcp => "mcp",
        }
    }

    /// Every format's name, comma-separated, for messages that list them.
    pub(crate) fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

impl fmt::Display for ToolFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown format name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown tool format '{0}': expected one of {names}", names = ToolFormat::names())]
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
            ToolFormat::OpenAiStrict => json!({
                "type": "function",
                "function": {
                    "name": underscore_name(&self.name),
                    "description": self.description,
                    "parameters": openai_strict_schema(&self.input_schema),
                    "strict": true,
                }
            }),
            ToolFormat::Anthropic => json!({
                "name": underscore_name(&self.name),
                "description": self.description,
                "input_schema": self.input_schema,
            }),
            ToolFormat::Mcp => {
                let mut tool = serde_json::Map::new();
                tool.insert("name".to_owned(), json!(self.name));
                if let Some(title) = &self.title {
                    tool.insert("title".to_owned(), json!(title));
                }
                tool.insert("description".to_owned(), json!(self.description));
                tool.insert("inputSchema".to_owned(), self.input_schema.clone());
                if let Some(schema) = &self.output_schema {
                    tool.insert("outputSchema".to_owned(), mcp_output_schema(schema));
                }
                let hints = mcp_annotations(self);
                if !hints.is_empty() {
                    tool.insert("annotations".to_owned(), Value::Object(hints));
                }
                Value::Object(tool)
            }
        }
    }
}

/// The hints `info` declares, as MCP's `ToolAnnotations` names them (`title` too, which MCP
/// repeats there for clients of older revisions); a hint left undeclared is left out, and a
/// client then reads MCP's default for it.
fn mcp_annotations(info: &ToolInfo) -> serde_json::Map<String, Value> {
    let declared = &info.annotations;
    let mut hints = serde_json::Map::new();
    if let Some(title) = &info.title {
        hints.insert("title".to_owned(), json!(title));
    }
    for (name, hint) in [
        ("readOnlyHint", declared.read_only),
        ("destructiveHint", declared.destructive),
        ("idempotentHint", declared.idempotent),
        ("openWorldHint", declared.open_world),
    ] {
        if let Some(hint) = hint {
            hints.insert(name.to_owned(), Value::Bool(hint));
        }
    }
    hints
}

/// Whether MCP's structured content of `output` is `{"result": output}`: when the declared
/// output `schema` is not an object's (its exported `outputSchema` wraps it, see
/// [`mcp_output_schema`]), or, with no schema declared, when the output is not an object.
#[cfg(feature = "mcp")]
pub(crate) fn mcp_wraps_output(schema: Option<&Value>, output: &Value) -> bool {
    match schema {
        Some(schema) => !describes_an_object(schema),
        None => !output.is_object(),
    }
}

fn describes_an_object(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("object")
}

/// MCP requires `outputSchema` to describe an object (structured content is a JSON object);
/// other outputs are wrapped as `{"result": ...}`, the shape MCP servers return them in.
pub(crate) fn mcp_output_schema(schema: &Value) -> Value {
    if describes_an_object(schema) {
        return schema.clone();
    }
    let mut inner = schema.clone();
    let mut wrapped = json!({
        "type": "object",
        "properties": {},
        "required": ["result"],
    });
    // `$ref`s inside point at `#/$defs/...` (or `#/definitions/...`), which must stay the
    // root of the wrapped document; `$schema` belongs at the root too.
    if let (Some(inner), Some(root)) = (inner.as_object_mut(), wrapped.as_object_mut()) {
        for key in ["$schema", "$defs", "definitions"] {
            if let Some(value) = inner.remove(key) {
                root.insert(key.to_owned(), value);
            }
        }
    }
    wrapped["properties"]["result"] = inner;
    wrapped
}

#[cfg(test)]
mod tests {
    use super::plain_text;

    #[test]
    fn rustdoc_links_become_plain_text() {
        for (doc, plain) in [
            (
                "One entry of a [`DirectoryListing`].",
                "One entry of a `DirectoryListing`.",
            ),
            (
                "at most [`FileRoots::max_answer_bytes`] bytes",
                "at most `FileRoots::max_answer_bytes` bytes",
            ),
            (
                "see [`connect`](Self::connect) first",
                "see `connect` first",
            ),
            ("under [the roots][FileRoots]", "under the roots"),
            ("a [crate::path::Item] here", "a crate::path::Item here"),
            ("see [`Self::method()`] too", "see `Self::method()` too"),
            // A code span is copied whole, brackets and all.
            (
                "IP literals (`http://[2001:db8::1]:8080/`)",
                "IP literals (`http://[2001:db8::1]:8080/`)",
            ),
            ("``a [`b`] c``", "``a [`b`] c``"),
            // Not links: kept as written.
            (
                "see [the site](https://example.com)",
                "see [the site](https://example.com)",
            ),
            ("a list like [1, 2]", "a list like [1, 2]"),
            ("index a[0] and [b]", "index a[0] and [b]"),
            ("an open [ bracket", "an open [ bracket"),
            ("nothing to do", "nothing to do"),
        ] {
            assert_eq!(plain_text(doc), plain, "{doc}");
        }
    }

    #[test]
    fn rust_examples_are_left_out_and_other_blocks_kept() {
        let doc = "Finds URLs.\n\n```\nuse x::y;\n# Ok::<(), E>(())\n```\n\nAnswers:\n\n```json\n{\"a\": [1]}\n```";
        assert_eq!(
            plain_text(doc),
            "Finds URLs.\n\nAnswers:\n\n```json\n{\"a\": [1]}\n```"
        );
        assert_eq!(plain_text("A.\n\n```rust,no_run\nlet a = 1;\n```"), "A.");
    }
}
