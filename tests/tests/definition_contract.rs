//! One contract for every tool definition: the table of cases `#[tool]`'s own tests run at
//! compile-time parsing (fact-macros) runs here against run-time registration, so that a
//! `ToolDefinition` made at run time is checked exactly as strictly as the attribute.

include!("../../fact-macros/src/definition_cases.rs");

use std::time::Duration;

use fact_runtime::{BuildError, ToolDefinition, ToolExecutor};
use serde_json::json;

fn register(case: &DefinitionCase) -> Result<ToolExecutor, BuildError> {
    let mut definition = ToolDefinition::new(
        case.name,
        "a tool of the contract's table",
        json!({"type": "object"}),
        |_ctx, _args| async { Ok(json!(null)) },
    )
    .version(case.version)
    .timeout(Duration::from_secs(case.timeout_secs))
    .requires_auth(case.scopes.iter().copied());
    if let Some(title) = case.title {
        definition = definition.title(title);
    }
    ToolExecutor::builder()
        .discover_linked_tools(false)
        .register(definition)
        .build()
}

#[test]
fn run_time_registration_accepts_exactly_the_definitions_the_attribute_accepts() {
    for case in DEFINITION_CASES {
        let built = register(case);
        assert_eq!(
            built.is_ok(),
            case.accepted,
            "{case:?}: {:?}",
            built.err().map(|e| e.to_string())
        );
    }
}

#[test]
fn a_refused_definition_says_what_is_wrong_and_what_was_expected() {
    let refused = |name, version, timeout_secs, scopes| {
        register(&DefinitionCase {
            name,
            version,
            timeout_secs,
            scopes,
            title: None,
            accepted: false,
        })
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default()
    };
    assert_eq!(
        refused("App.Calc", "1.0", 10, &[]),
        "invalid definition of tool 'App.Calc' (registered at run time): version \"1.0\" is not \
         MAJOR.MINOR.PATCH, e.g. \"1.0.0\""
    );
    assert!(
        refused("App.Calc", "1.0.0", 0, &[]).contains("timeout of 0 s is outside 1 s to 86400 s")
    );
    assert!(refused("App.Calc", "1.0.0", 10, &["r", "r"]).contains("duplicate scope \"r\""));
}
