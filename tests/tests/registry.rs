//! The registry: discovery of linked tools, run-time registration, and start-up errors.

use std::time::Duration;

use fact_runtime::{
    BuildError, ToolAnnotations, ToolCall, ToolDefinition, ToolExecutor, ToolFuture,
};
use fact_tests::fixtures;
use serde_json::{Value, json};
// The documented line that keeps a crate of tools linked.
use fact_examples as _;

fn noop(name: &str) -> ToolDefinition {
    ToolDefinition::new(
        name,
        "does nothing",
        json!({"type": "object"}),
        |_ctx, _args| async { Ok(Value::Null) },
    )
}

#[test]
fn registry_holds_exactly_the_linked_tools() {
    let executor = ToolExecutor::builder().build().expect("registry builds");
    let tools = executor.available_tools();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    let mut expected: Vec<&str> = fixtures::TOOL_NAMES.to_vec();
    expected.push("MyApp.Calculator");
    expected.sort_unstable();
    assert_eq!(names, expected);
    assert_eq!(
        executor.tool_info("MyApp.Calculator").map(|t| t.timeout),
        Some(Duration::from_secs(10))
    );
}

#[test]
fn tool_keys_reach_the_tool_info() {
    let executor = ToolExecutor::builder().build().expect("registry builds");
    let private = executor.tool_info("Fixture.Private").expect("registered");
    assert!(private.requires_auth);
    assert_eq!(private.scopes, ["secrets.read"]);
    assert_eq!(private.version, "1.0.0");
    assert_eq!(private.timeout, Duration::from_secs(30));
    assert_eq!(private.auth_provider, None);
    assert!(private.secrets.is_empty());
}

#[test]
fn the_auth_provider_and_secret_keys_reach_the_tool_info_and_its_native_export() {
    let executor = ToolExecutor::builder().build().expect("registry builds");
    let credentials = executor
        .tool_info("Fixture.Credentials")
        .expect("registered");
    assert!(credentials.requires_auth);
    assert_eq!(credentials.scopes, ["creds.read"]);
    assert_eq!(credentials.auth_provider.as_deref(), Some("github"));
    assert_eq!(credentials.secrets, [fixtures::SERVICE_KEY]);
    let native = credentials.export(fact_runtime::ToolFormat::Native);
    assert_eq!(native["auth_provider"], "github");
    assert_eq!(native["secrets"], json!(["SERVICE_KEY"]));

    // Neither is written for a tool that declares neither.
    let plain = executor
        .tool_info("Fixture.NoCredentials")
        .expect("registered")
        .export(fact_runtime::ToolFormat::Native);
    assert!(plain.get("auth_provider").is_none(), "{plain}");
    assert!(plain.get("secrets").is_none(), "{plain}");
}

#[test]
fn title_and_annotations_reach_the_tool_info_from_the_attribute() {
    let executor = ToolExecutor::builder().build().expect("registry builds");
    let calculator = executor.tool_info("MyApp.Calculator").expect("registered");
    assert_eq!(calculator.title.as_deref(), Some("Calculator"));
    assert_eq!(
        calculator.annotations,
        ToolAnnotations {
            read_only: Some(true),
            destructive: Some(false),
            idempotent: Some(true),
            open_world: Some(false),
        }
    );
    let undeclared = executor.tool_info("Fixture.Private").expect("registered");
    assert_eq!(undeclared.title, None);
    assert_eq!(undeclared.annotations, ToolAnnotations::default());
}

#[test]
fn title_and_annotations_reach_the_tool_info_from_a_run_time_definition() {
    let delete = noop("Notes.Delete")
        .title("Delete a note")
        .annotations(ToolAnnotations {
            destructive: Some(true),
            idempotent: Some(true),
            ..ToolAnnotations::default()
        });
    let executor = ToolExecutor::builder()
        .discover_linked_tools(false)
        .register(delete)
        .register(noop("Notes.Plain"))
        .build()
        .expect("registry builds");
    let info = executor.tool_info("Notes.Delete").expect("registered");
    assert_eq!(info.title.as_deref(), Some("Delete a note"));
    assert_eq!(
        info.annotations,
        ToolAnnotations {
            read_only: None,
            destructive: Some(true),
            idempotent: Some(true),
            open_world: None,
        }
    );
    let plain = executor.tool_info("Notes.Plain").expect("registered");
    assert_eq!(plain.title, None);
    assert_eq!(plain.annotations, ToolAnnotations::default());
}

#[test]
fn native_json_holds_the_title_when_set_and_the_declared_annotations_only() {
    let executor = ToolExecutor::builder()
        .discover_linked_tools(false)
        .register(
            noop("Notes.Search")
                .title("Search notes")
                .annotations(ToolAnnotations {
                    read_only: Some(true),
                    open_world: Some(false),
                    ..ToolAnnotations::default()
                }),
        )
        .register(noop("Notes.Plain"))
        .build()
        .expect("registry builds");
    let native = |name: &str| {
        serde_json::to_value(&*executor.tool_info(name).expect("registered")).expect("serializes")
    };
    let search = native("Notes.Search");
    assert_eq!(search["title"], json!("Search notes"));
    assert_eq!(
        search["annotations"],
        json!({"read_only": true, "open_world": false})
    );
    let plain = native("Notes.Plain");
    assert!(plain.get("title").is_none(), "{plain}");
    assert_eq!(plain["annotations"], json!({}));
}

#[test]
fn a_blank_run_time_title_is_a_start_up_error() {
    let error = ToolExecutor::builder()
        .discover_linked_tools(false)
        .register(noop("Notes.Blank").title("  "))
        .build()
        .expect_err("blank title");
    assert_eq!(
        error.to_string(),
        "invalid definition of tool 'Notes.Blank' (registered at run time): title \"  \" is \
         blank: give a title people can read, or none"
    );
}

#[test]
fn duplicate_name_is_a_start_up_error_naming_both_definitions() {
    let error = ToolExecutor::builder()
        .register(noop("MyApp.Calculator"))
        .build()
        .expect_err("duplicate");
    let BuildError::DuplicateTool {
        name,
        first,
        second,
    } = &error
    else {
        panic!("{error}")
    };
    assert_eq!(name, "MyApp.Calculator");
    assert!(
        first.starts_with("fact_examples::calculator::calculator (examples/src/calculator.rs:"),
        "{first}"
    );
    assert_eq!(second, "registered at run time");
    assert!(error.to_string().starts_with(
        "duplicate tool name 'MyApp.Calculator': defined by fact_examples::calculator::calculator ("
    ));
}

#[test]
fn names_that_export_alike_are_a_start_up_error() {
    let error = ToolExecutor::builder()
        .discover_linked_tools(false)
        .register(noop("A_b.C"))
        .register(noop("A.b_C"))
        .build()
        .expect_err("ambiguous");
    assert_eq!(
        error.to_string(),
        "tools 'A_b.C' (registered at run time) and 'A.b_C' (registered at run time) would both be exported as 'A_b_C'"
    );
}

#[test]
fn run_time_names_are_checked() {
    for bad in ["NoDot", "Two.Dots.Here", "1Bad.Name", "Sp ace.Tool"] {
        let error = ToolExecutor::builder()
            .discover_linked_tools(false)
            .register(noop(bad))
            .build()
            .expect_err(bad);
        assert!(
            matches!(error, BuildError::InvalidName { .. }),
            "{bad}: {error}"
        );
    }
}

#[test]
fn run_time_schema_must_describe_an_object() {
    let tool = ToolDefinition::new(
        "Demo.Bad",
        "bad",
        json!({"type": "string"}),
        |_ctx, _args| async { Ok(Value::Null) },
    );
    let error = ToolExecutor::builder()
        .discover_linked_tools(false)
        .register(tool)
        .build()
        .expect_err("bad schema");
    assert_eq!(
        error.to_string(),
        "invalid input schema for tool 'Demo.Bad' (registered at run time): the root must have \"type\": \"object\" (arguments are named), found \"string\""
    );
}

#[test]
fn run_time_schema_with_remote_ref_is_refused() {
    let schema =
        json!({"type": "object", "properties": {"x": {"$ref": "https://example.com/x.json"}}});
    let tool = ToolDefinition::new("Demo.Remote", "remote", schema, |_ctx, _args| async {
        Ok(Value::Null)
    });
    let error = ToolExecutor::builder()
        .discover_linked_tools(false)
        .register(tool)
        .build()
        .expect_err("remote ref");
    assert!(matches!(error, BuildError::InvalidSchema { .. }), "{error}");
}

#[test]
fn zero_concurrency_is_refused() {
    let error = ToolExecutor::builder()
        .max_concurrency(0)
        .build()
        .expect_err("zero");
    assert_eq!(
        error.to_string(),
        "invalid executor configuration: max_concurrency must be at least 1"
    );
}

#[tokio::test]
async fn run_time_tool_is_validated_and_run() {
    let schema = json!({
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 0}},
        "required": ["n"],
        "additionalProperties": false
    });
    let double = ToolDefinition::new("Demo.Double", "doubles n", schema, |ctx, args| async move {
        assert_eq!(ctx.tool_name(), "Demo.Double");
        Ok(json!(args["n"].as_i64().unwrap_or_default() * 2))
    })
    .timeout(Duration::from_secs(2));
    let executor = ToolExecutor::builder()
        .discover_linked_tools(false)
        .register(double)
        .build()
        .expect("builds");
    assert_eq!(executor.available_tools().len(), 1);

    let ok = executor
        .execute_tool_call(ToolCall::new("Demo.Double", json!({"n": 21})))
        .await;
    assert_eq!(ok.data, Some(json!(42)));
    let bad = executor
        .execute_tool_call(ToolCall::new("Demo.Double", json!({"n": -1})))
        .await;
    assert_eq!(
        bad.error.as_deref(),
        Some("Parameter validation failed: 'n' must be at least 0")
    );
}

#[tokio::test]
async fn run_time_handler_panicking_before_its_future_is_a_500() {
    fn explode(_ctx: fact_runtime::ToolContext, _args: Value) -> ToolFuture {
        panic!("no future for you");
    }
    let tool = ToolDefinition::new(
        "Demo.Explode",
        "panics at once",
        json!({"type": "object"}),
        explode,
    );
    let executor = ToolExecutor::builder()
        .discover_linked_tools(false)
        .register(tool)
        .build()
        .expect("builds");
    let result = executor
        .execute_tool_call(ToolCall::new("Demo.Explode", json!({})))
        .await;
    assert_eq!(result.status_code, 500);
}
