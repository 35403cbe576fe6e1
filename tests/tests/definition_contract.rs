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
    .secrets(case.secrets.iter().copied());
    // As `#[tool]` reads it: scopes alone require authorization too.
    if case.requires_auth || !case.scopes.is_empty() {
        definition = definition.requires_auth(case.scopes.iter().copied());
    }
    if let Some(provider) = case.auth_provider {
        definition = definition.auth_provider(provider);
    }
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
            requires_auth: true,
            scopes,
            auth_provider: None,
            secrets: &[],
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

#[test]
fn a_refused_secret_or_provider_says_what_is_wrong_and_what_was_expected() {
    let refused = |case: DefinitionCase| {
        register(&case)
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default()
    };
    let base = DefinitionCase {
        name: "App.Calc",
        version: "1.0.0",
        timeout_secs: 10,
        requires_auth: false,
        scopes: &[],
        auth_provider: None,
        secrets: &[],
        title: None,
        accepted: false,
    };
    assert_eq!(
        refused(DefinitionCase {
            secrets: &["API_KEY", "api_key"],
            ..base
        }),
        "invalid definition of tool 'App.Calc' (registered at run time): duplicate secret \
         \"api_key\" (keys match without regard to case)"
    );
    assert!(
        refused(DefinitionCase {
            secrets: &["API KEY"],
            ..base
        })
        .contains("secret key \"API KEY\" must be non-empty and contain no whitespace")
    );
    assert!(
        refused(DefinitionCase {
            auth_provider: Some("github"),
            ..base
        })
        .contains("auth provider \"github\" is named, but the tool requires no authorization")
    );
    assert!(
        refused(DefinitionCase {
            requires_auth: true,
            auth_provider: Some("git hub"),
            ..base
        })
        .contains("auth provider \"git hub\" must be non-empty and contain no whitespace")
    );
}
