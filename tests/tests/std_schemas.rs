//! The ten standard tools are registered by linking `fact-tools-std`, and each one's schemas
//! (input and output, as MCP exports them, and the parameters of OpenAI's strict mode) are
//! golden files under `tests/golden/std/`: a change to a tool's arguments or output shape
//! shows up as a reviewed diff. So are their titles and annotations (`std/annotations.json`):
//! what each declares about its effects is a claim clients act on.

use fact_runtime::{ToolExecutor, ToolFormat};
use fact_tests::golden::assert_golden;
use fact_tests::openai_strict::strict_violations;
use serde_json::{Map, Value, json};
// Links the standard tools, as a user's binary does.
use fact_tools_std as _;

const STD_TOOLS: [&str; 10] = [
    "FileSystem.GetFileInfo",
    "FileSystem.ListDirectory",
    "FileSystem.ReadFile",
    "SQL.Query",
    "SQL.SchemaInfo",
    "SQL.TableInfo",
    "Web.ExtractURLs",
    "Web.HTTPRequest",
    "Web.ParseJSON",
    "Web.URLHealth",
];

fn executor() -> ToolExecutor {
    ToolExecutor::builder().build().expect("registry builds")
}

#[test]
fn linking_the_crate_registers_exactly_the_ten_tools() {
    let executor = executor();
    let tools = executor.available_tools();
    let mut names: Vec<&str> = tools
        .iter()
        .map(|info| info.name.as_str())
        .filter(|name| {
            ["Web.", "FileSystem.", "SQL."]
                .iter()
                .any(|family| name.starts_with(family))
        })
        .collect();
    names.sort_unstable();
    assert_eq!(names, STD_TOOLS);
}

#[test]
fn every_tool_has_a_documented_output_schema() {
    let executor = executor();
    for name in STD_TOOLS {
        let info = executor.tool_info(name).expect("registered");
        assert!(!info.description.is_empty(), "{name} has no description");
        let exported = info.export(ToolFormat::Mcp);
        assert_eq!(
            exported["outputSchema"]["type"],
            json!("object"),
            "{name} has no object output schema: {exported}"
        );
    }
}

#[test]
fn schemas_match_golden_files() {
    let executor = executor();
    for name in STD_TOOLS {
        let info = executor.tool_info(name).expect("registered");
        for format in [ToolFormat::Mcp, ToolFormat::OpenAiStrict] {
            assert_golden(&format!("std/{name}.{format}.json"), &info.export(format));
        }
    }
}

#[test]
fn every_strict_export_keeps_the_rules_of_strict_mode() {
    let executor = executor();
    for name in STD_TOOLS {
        let exported = executor
            .tool_info(name)
            .expect("registered")
            .export(ToolFormat::OpenAiStrict);
        let function = &exported["function"];
        assert_eq!(function["strict"], true, "{name}");
        assert_eq!(function["name"], name.replace('.', "_"));
        let parameters = &function["parameters"];
        assert_eq!(
            strict_violations(parameters),
            Vec::<String>::new(),
            "{name}"
        );
        if let Err(error) = jsonschema::draft202012::meta::validate(parameters) {
            panic!("{name}: not a JSON Schema: {error}");
        }
    }
}

#[test]
fn the_rules_of_strict_mode_are_broken_by_the_plain_openai_export() {
    // The check above can fail: optional parameters are left out of `required`, and the
    // schemas hold keywords strict mode does not know (`format: uint32`, `maxLength`).
    let executor = executor();
    for name in ["FileSystem.ListDirectory", "Web.ExtractURLs", "SQL.Query"] {
        let exported = executor
            .tool_info(name)
            .expect("registered")
            .export(ToolFormat::OpenAi);
        let violations = strict_violations(&exported["function"]["parameters"]);
        assert!(!violations.is_empty(), "{name}");
    }
}

/// Arguments each tool accepts: the least it needs, and, where it takes more, each of its
/// parameters given.
fn accepted_arguments() -> Vec<(&'static str, Value)> {
    vec![
        ("FileSystem.GetFileInfo", json!({"path": "notes/today.txt"})),
        ("FileSystem.ListDirectory", json!({})),
        (
            "FileSystem.ListDirectory",
            json!({"directory_path": "src", "include_hidden": true, "recursive": true,
                   "max_depth": 2, "file_types": ["rs", ".toml"]}),
        ),
        ("FileSystem.ReadFile", json!({"file_path": "README.md"})),
        (
            "FileSystem.ReadFile",
            json!({"file_path": "README.md", "encoding": "latin-1", "max_lines": 10}),
        ),
        ("SQL.Query", json!({"statement": "SELECT 1"})),
        (
            "SQL.Query",
            json!({"statement": "SELECT * FROM t WHERE a = ? AND b = ? AND c = ? AND d = ?",
                   "params": [1, "two", true, null], "max_rows": 5}),
        ),
        ("SQL.SchemaInfo", json!({})),
        ("SQL.TableInfo", json!({"table": "public.revenue"})),
        (
            "Web.ExtractURLs",
            json!({"text": "see https://example.org/a."}),
        ),
        (
            "Web.ExtractURLs",
            json!({"text": "ftp://a.org http://b.org", "schemes": ["ftp"]}),
        ),
        ("Web.HTTPRequest", json!({"url": "https://example.org/"})),
        (
            "Web.HTTPRequest",
            json!({"url": "https://example.org/", "method": "POST", "headers": {},
                   "body": "{}", "timeout": 5, "follow_redirects": false}),
        ),
        ("Web.ParseJSON", json!({"json_text": "{\"a\": [1, 2]}"})),
        ("Web.URLHealth", json!({"url": "https://example.org/"})),
        (
            "Web.URLHealth",
            json!({"url": "https://example.org/", "timeout": 3}),
        ),
    ]
}

/// `arguments` as a model in strict mode gives them: every parameter present, `null` for
/// those left out.
fn with_nulls(schema: &Value, arguments: &Value) -> Value {
    let mut filled = arguments.clone();
    if let (Some(Value::Object(properties)), Some(object)) =
        (schema.get("properties"), filled.as_object_mut())
    {
        for name in properties.keys() {
            object.entry(name.clone()).or_insert(Value::Null);
        }
    }
    filled
}

#[test]
fn arguments_a_tool_accepts_are_accepted_in_strict_mode_with_null_for_those_left_out() {
    let executor = executor();
    for (name, arguments) in accepted_arguments() {
        let info = executor.tool_info(name).expect("registered");
        let tools_own = jsonschema::validator_for(&info.input_schema).expect("compiles");
        assert!(tools_own.is_valid(&arguments), "{name} refuses {arguments}");
        let parameters = &info.export(ToolFormat::OpenAiStrict)["function"]["parameters"];
        let strict = jsonschema::validator_for(parameters).expect("compiles");
        let filled = with_nulls(&info.input_schema, &arguments);
        if let Err(error) = strict.validate(&filled) {
            panic!("{name}: strict mode refuses {filled}: {error}");
        }
        // And what the model gives in strict mode passes the tool's own schema.
        assert!(tools_own.is_valid(&filled), "{name} refuses {filled}");
    }
}

#[test]
fn strict_mode_can_give_only_an_empty_map_of_request_headers() {
    // Strict mode closes every object, so a map (names chosen by the caller) cannot be said:
    // the strict schema is narrower there, and the tool's own schema is unchanged.
    let executor = executor();
    let info = executor.tool_info("Web.HTTPRequest").expect("registered");
    let arguments = json!({"url": "https://example.org/", "headers": {"Accept": "text/plain"}});
    assert!(jsonschema::is_valid(&info.input_schema, &arguments));
    let parameters = &info.export(ToolFormat::OpenAiStrict)["function"]["parameters"];
    let filled = with_nulls(&info.input_schema, &arguments);
    assert!(!jsonschema::is_valid(parameters, &filled));
}

#[test]
fn titles_and_annotations_match_the_golden_file() {
    let executor = executor();
    let declared: Map<String, Value> = STD_TOOLS
        .iter()
        .map(|name| {
            let info = executor.tool_info(name).expect("registered");
            let native = info.export(ToolFormat::Native);
            let claims = json!({"title": native["title"], "annotations": native["annotations"]});
            ((*name).to_owned(), claims)
        })
        .collect();
    assert_golden("std/annotations.json", &Value::Object(declared));
}

#[test]
fn every_tool_has_a_title_and_declares_every_annotation() {
    let executor = executor();
    for name in STD_TOOLS {
        let info = executor.tool_info(name).expect("registered");
        assert!(info.title.is_some(), "{name} has no title");
        let annotations = info.annotations;
        assert!(
            [
                annotations.read_only,
                annotations.destructive,
                annotations.idempotent,
                annotations.open_world
            ]
            .iter()
            .all(Option::is_some),
            "{name} leaves an annotation undeclared: {annotations:?}"
        );
    }
}
