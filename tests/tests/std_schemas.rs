//! The ten standard tools are registered by linking `fact-tools-std`, and each one's schemas
//! (input and output, as MCP exports them) are golden files under `tests/golden/std/`: a change
//! to a tool's arguments or output shape shows up as a reviewed diff. So are their titles and
//! annotations (`std/annotations.json`): what each declares about its effects is a claim
//! clients act on.

use fact_runtime::{ToolExecutor, ToolFormat};
use fact_tests::golden::assert_golden;
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
        assert_golden(
            &format!("std/{name}.mcp.json"),
            &info.export(ToolFormat::Mcp),
        );
    }
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
