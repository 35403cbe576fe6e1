//! Derived schemas and their export formats. The calculator's exports are golden files under
//! `tests/golden/`: a schema change shows up as a reviewed diff (see `fact_tests::golden`).

use fact_runtime::{ToolExecutor, ToolFormat, ToolInfo};
use fact_tests::fixtures;
use fact_tests::golden::assert_golden as golden;
use fact_tests::openai_strict::strict_violations;
use serde_json::{Value, json};
// Keeps the crate defining MyApp.Calculator linked.
use fact_examples as _;

fn executor() -> ToolExecutor {
    let _ = fixtures::TOOL_NAMES;
    ToolExecutor::builder().build().expect("registry builds")
}

fn info(executor: &ToolExecutor, name: &str) -> std::sync::Arc<ToolInfo> {
    executor
        .tool_info(name)
        .unwrap_or_else(|| panic!("{name} is registered"))
}

#[test]
fn calculator_exports_match_golden_files() {
    let executor = executor();
    let calculator = info(&executor, "MyApp.Calculator");
    for format in [
        ToolFormat::OpenAi,
        ToolFormat::OpenAiStrict,
        ToolFormat::Anthropic,
        ToolFormat::Mcp,
    ] {
        golden(
            &format!("calculator.{format}.json"),
            &calculator.export(format),
        );
    }
    let mut native = calculator.export(ToolFormat::Native);
    // Where the tool is defined moves with every edit of its file; the rest is the contract.
    assert!(
        native["defined_at"]
            .as_str()
            .is_some_and(|d| d.starts_with("fact_examples::calculator::calculator ("))
    );
    native["defined_at"] = json!("<elided>");
    golden("calculator.native.json", &native);
}

#[test]
fn openai_export_replaces_dots_and_wraps_in_function() {
    let executor = executor();
    let exported = info(&executor, "MyApp.Calculator").export(ToolFormat::OpenAi);
    assert_eq!(exported["type"], "function");
    assert_eq!(exported["function"]["name"], "MyApp_Calculator");
    assert_eq!(exported["function"]["parameters"]["type"], "object");
}

#[test]
fn exported_name_finds_the_tool() {
    let executor = executor();
    assert_eq!(
        executor
            .tool_info("MyApp_Calculator")
            .map(|i| i.name.clone())
            .as_deref(),
        Some("MyApp.Calculator")
    );
}

#[test]
fn export_tools_lists_every_tool_sorted_in_the_format() {
    let executor = executor();
    let exported = executor.export_tools(ToolFormat::Anthropic);
    let names: Vec<&str> = exported
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    let mut expected: Vec<String> = fixtures::TOOL_NAMES
        .iter()
        .map(|n| n.replace('.', "_"))
        .collect();
    expected.push("MyApp_Calculator".to_owned());
    expected.sort();
    assert_eq!(names, expected);
}

#[test]
fn formats_parse_from_their_names() {
    for format in ToolFormat::ALL {
        assert_eq!(format.as_str().parse::<ToolFormat>(), Ok(format));
    }
    let error = "yaml".parse::<ToolFormat>().expect_err("unknown");
    assert_eq!(
        error.to_string(),
        "unknown tool format 'yaml': expected one of native, openai, openai-strict, anthropic, mcp"
    );
}

#[test]
fn doc_comments_become_descriptions() {
    let executor = executor();
    let echo = info(&executor, "Fixture.Echo");
    assert_eq!(echo.description, "Echoes a text, optionally repeated.");
    assert_eq!(
        echo.input_schema["properties"]["text"]["description"],
        "The text to echo"
    );
}

#[test]
fn option_parameters_are_not_required() {
    let executor = executor();
    let echo = info(&executor, "Fixture.Echo");
    assert_eq!(echo.input_schema["required"], json!(["text"]));
}

#[test]
fn serde_and_schemars_attributes_shape_the_schema() {
    let executor = executor();
    let schema = &info(&executor, "Fixture.Constrained").input_schema;
    assert_eq!(schema["properties"]["limit"]["minimum"], 1);
    assert_eq!(schema["properties"]["limit"]["maximum"], 100);
    assert_eq!(schema["properties"]["email"]["format"], "email");
    assert!(schema["properties"].get("tagName").is_some(), "{schema}");
    assert_eq!(
        schema["required"],
        json!(["limit"]),
        "serde(default) makes descending optional"
    );
    assert_eq!(schema["additionalProperties"], false);
}

#[test]
fn context_parameter_is_left_out_of_the_schema() {
    let executor = executor();
    let schema = &info(&executor, "Fixture.WhoAmI").input_schema;
    assert_eq!(schema["properties"], json!({}));
    assert_eq!(schema["type"], "object");
}

#[test]
fn output_schema_comes_from_the_success_type() {
    let executor = executor();
    let calculator = info(&executor, "MyApp.Calculator");
    let output = calculator
        .output_schema
        .as_ref()
        .expect("Calculation derives JsonSchema");
    assert_eq!(output["properties"]["result"]["type"], "number");
    let mcp = calculator.export(ToolFormat::Mcp);
    assert_eq!(mcp["outputSchema"]["type"], "object");
    // A success type that is not an object is wrapped, as MCP requires an object.
    let echo = info(&executor, "Fixture.Echo").export(ToolFormat::Mcp);
    assert_eq!(
        echo["outputSchema"]["properties"]["result"]["type"],
        "string"
    );
}

/// Every `$ref` in `document` must point inside it.
fn assert_refs_resolve(document: &Value, node: &Value) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                let pointer = reference
                    .strip_prefix('#')
                    .unwrap_or_else(|| panic!("external $ref {reference}"));
                assert!(
                    document.pointer(pointer).is_some(),
                    "{reference} does not resolve in {document}"
                );
            }
            map.values().for_each(|v| assert_refs_resolve(document, v));
        }
        Value::Array(items) => items.iter().for_each(|v| assert_refs_resolve(document, v)),
        _ => {}
    }
}

#[test]
fn every_ref_resolves_inside_each_exported_schema() {
    let executor = executor();
    let tree = info(&executor, "Fixture.Tree");
    assert!(
        tree.input_schema.to_string().contains("$ref"),
        "a recursive type needs a $ref"
    );
    for tool in executor.available_tools() {
        assert_refs_resolve(&tool.input_schema, &tool.input_schema);
        let mcp = tool.export(ToolFormat::Mcp);
        assert_refs_resolve(&mcp["inputSchema"], &mcp["inputSchema"]);
        if let Some(output) = mcp.get("outputSchema") {
            assert_refs_resolve(output, output);
        }
        for format in [ToolFormat::OpenAi, ToolFormat::OpenAiStrict] {
            let openai = tool.export(format);
            let parameters = &openai["function"]["parameters"];
            assert_refs_resolve(parameters, parameters);
        }
    }
}

#[test]
fn every_tool_exports_parameters_that_keep_the_rules_of_strict_mode() {
    // The fixtures hold the shapes the standard tools do not: a recursive type (`$ref`),
    // nested objects, enums, `#[serde(default)]`, a context parameter.
    let executor = executor();
    for tool in executor.available_tools() {
        let exported = tool.export(ToolFormat::OpenAiStrict);
        let parameters = &exported["function"]["parameters"];
        assert_eq!(
            strict_violations(parameters),
            Vec::<String>::new(),
            "{}: {parameters}",
            tool.name
        );
    }
}

#[test]
fn strict_parameters_of_a_recursive_type_keep_the_recursion() {
    let executor = executor();
    let tree = info(&executor, "Fixture.Tree").export(ToolFormat::OpenAiStrict);
    let parameters = &tree["function"]["parameters"];
    assert_eq!(parameters["required"], json!(["root"]));
    let root = &parameters["properties"]["root"];
    let reference = root["properties"]["children"]["anyOf"][0]["items"]["$ref"]
        .as_str()
        .unwrap_or_else(|| panic!("children are a $ref: {parameters}"));
    let node = parameters
        .pointer(reference.trim_start_matches('#'))
        .unwrap_or_else(|| panic!("{reference} resolves in {parameters}"));
    for tree in [root, node] {
        assert_eq!(tree["required"], json!(["label", "children"]), "{tree}");
        assert_eq!(tree["additionalProperties"], false, "{tree}");
    }
}

#[tokio::test]
async fn recursive_arguments_validate_and_run() {
    let executor = executor();
    let call = fact_runtime::ToolCall::new(
        "Fixture.Tree",
        json!({"root": {"label": "a", "children": [{"label": "b"}, {"label": "c", "children": [{"label": "d"}]}]}}),
    );
    assert_eq!(executor.execute_tool_call(call).await.data, Some(json!(4)));
}
