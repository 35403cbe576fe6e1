//! Credentials a caller hands a call (`CallOptions::access_token`, `CallOptions::secret`), as
//! an Arcade Engine hands a worker the user's token and the tool's secrets: which tool sees
//! which, and that neither is audited nor logged.

use std::sync::Arc;
use std::time::Duration;

use fact_runtime::audit::{AuditConfig, AuditLog};
use fact_runtime::auth::Grant;
use fact_runtime::{AccessToken, CallOptions, ManualClock, ToolCall, ToolExecutor, ToolResult};
use fact_tests::audit_sinks::MemorySink;
use fact_tests::captured_log::CapturedLog;
use fact_tests::fixtures::{self, SERVICE_KEY};
use fact_tests::grants::manager_granting;
use serde_json::{Value, json};

/// The token an Engine obtained for its user and hands over with the call.
const GIVEN_TOKEN: &str = "gho_given-t0ken-5d1e";
/// The value of the declared secret the call brings.
const SERVICE_SECRET: &str = "sk-service-s3cret-91f2";
/// The value of a secret the tools do not declare.
const OTHER_SECRET: &str = "sk-other-s3cret-07ab";

/// An executor of the linked tools with no authorization manager.
fn executor() -> ToolExecutor {
    let _ = fixtures::TOOL_NAMES;
    ToolExecutor::builder().build().expect("registry builds")
}

/// `Fixture.Credentials` (or another tool) asked to look up `keys`, for `user`.
fn call(tool: &str, keys: &[&str], user: &str) -> ToolCall {
    ToolCall::new(tool, json!({ "keys": keys })).user(user)
}

fn with_token() -> CallOptions {
    CallOptions::default().access_token(AccessToken::new(GIVEN_TOKEN))
}

/// What the fixture saw: its answer's `token`, and its `secrets` as a JSON object.
fn seen(result: &ToolResult) -> (Option<String>, Value) {
    assert_eq!(result.status_code, 200, "{result:?}");
    let data = result.data.as_ref().expect("a successful call answers");
    (
        data["token"].as_str().map(str::to_owned),
        data["secrets"].clone(),
    )
}

#[tokio::test]
async fn a_given_token_reaches_a_tool_that_requires_auth_without_an_authorization_manager() {
    let result = executor()
        .execute_tool_call_with(call("Fixture.Credentials", &[], "ada"), with_token())
        .await;
    let (token, _) = seen(&result);
    assert_eq!(token.as_deref(), Some(GIVEN_TOKEN));
    assert_eq!(
        result.data.as_ref().map(|d| d["user"].clone()),
        Some(json!("ada"))
    );
}

#[tokio::test]
async fn a_given_token_replaces_the_managers_grant_and_the_manager_is_not_asked() {
    let _ = fixtures::TOOL_NAMES;
    let clock = ManualClock::new(Duration::from_secs(1_700_000_000));
    let grant = Grant::new("ada", AccessToken::new("granted-token"), ["creds.read"]);
    let manager = manager_granting(grant, Arc::new(clock)).await;
    let executor = ToolExecutor::builder()
        .authorization(manager)
        .build()
        .expect("builds");

    // Without a given token the manager decides: ada's grant, and bob, who has none, refused.
    let granted = executor
        .execute_tool_call(call("Fixture.Credentials", &[], "ada"))
        .await;
    assert_eq!(seen(&granted).0.as_deref(), Some("granted-token"));
    let refused = executor
        .execute_tool_call(call("Fixture.Credentials", &[], "bob"))
        .await;
    assert_eq!(refused.status_code, 401, "{refused:?}");

    // With one, the tool gets it, whatever the manager holds for the user.
    for user in ["ada", "bob"] {
        let given = executor
            .execute_tool_call_with(call("Fixture.Credentials", &[], user), with_token())
            .await;
        assert_eq!(seen(&given).0.as_deref(), Some(GIVEN_TOKEN), "{user}");
    }
}

#[tokio::test]
async fn a_tool_that_requires_no_authorization_never_receives_a_given_token() {
    let result = executor()
        .execute_tool_call_with(call("Fixture.NoCredentials", &[], "ada"), with_token())
        .await;
    assert_eq!(seen(&result).0, None);
}

#[tokio::test]
async fn without_a_given_token_or_a_manager_a_tool_that_requires_auth_is_refused_401() {
    let result = executor()
        .execute_tool_call_with(
            call("Fixture.Credentials", &[], "ada"),
            CallOptions::default().secret(SERVICE_KEY, SERVICE_SECRET),
        )
        .await;
    assert_eq!(result.status_code, 401, "{result:?}");
    assert_eq!(
        result.metadata.error_type.as_deref(),
        Some("UnauthorizedError")
    );
    assert_eq!(
        result.error.as_deref(),
        Some(
            "Tool 'Fixture.Credentials' requires authorization, and no authorization provider \
             is configured to grant it to user 'ada'"
        )
    );
    assert_eq!(result.data, None, "the tool did not run");
}

#[tokio::test]
async fn a_tool_sees_a_secret_it_declares_under_any_ascii_case_of_its_key() {
    let options = with_token().secret("service_key", SERVICE_SECRET);
    let result = executor()
        .execute_tool_call_with(
            call(
                "Fixture.Credentials",
                &["SERVICE_KEY", "Service_Key", "service_key"],
                "ada",
            ),
            options,
        )
        .await;
    assert_eq!(
        seen(&result).1,
        json!({
            "SERVICE_KEY": SERVICE_SECRET,
            "Service_Key": SERVICE_SECRET,
            "service_key": SERVICE_SECRET,
        })
    );
}

#[tokio::test]
async fn a_secret_the_tool_does_not_declare_is_invisible_to_it() {
    let options = with_token()
        .secret(SERVICE_KEY, SERVICE_SECRET)
        .secret("OTHER_KEY", OTHER_SECRET);
    let executor = executor();
    let declaring = executor
        .execute_tool_call_with(
            call("Fixture.Credentials", &["SERVICE_KEY", "OTHER_KEY"], "ada"),
            options.clone(),
        )
        .await;
    assert_eq!(
        seen(&declaring).1,
        json!({"SERVICE_KEY": SERVICE_SECRET, "OTHER_KEY": null})
    );
    let declaring_none = executor
        .execute_tool_call_with(
            call(
                "Fixture.NoCredentials",
                &["SERVICE_KEY", "OTHER_KEY"],
                "ada",
            ),
            options,
        )
        .await;
    assert_eq!(
        seen(&declaring_none).1,
        json!({"SERVICE_KEY": null, "OTHER_KEY": null})
    );
}

#[tokio::test]
async fn a_declared_secret_the_call_does_not_bring_is_absent() {
    let result = executor()
        .execute_tool_call_with(
            call("Fixture.Credentials", &["SERVICE_KEY"], "ada"),
            with_token(),
        )
        .await;
    assert_eq!(seen(&result).1, json!({"SERVICE_KEY": null}));
}

#[tokio::test]
async fn of_two_secrets_whose_keys_differ_only_in_case_the_later_one_reaches_the_tool() {
    let options = with_token()
        .secret("SERVICE_KEY", "the earlier value")
        .secret("Service_Key", SERVICE_SECRET);
    let result = executor()
        .execute_tool_call_with(
            call("Fixture.Credentials", &["SERVICE_KEY"], "ada"),
            options,
        )
        .await;
    assert_eq!(seen(&result).1, json!({"SERVICE_KEY": SERVICE_SECRET}));
}

/// Calls that bring the token and both secrets: two that succeed (one tool declaring
/// authorization and the secret, one declaring neither) and one refused for its input.
fn calls_with_credentials() -> Vec<(ToolCall, u16)> {
    vec![
        (
            call("Fixture.Credentials", &["SERVICE_KEY", "OTHER_KEY"], "ada"),
            200,
        ),
        (call("Fixture.NoCredentials", &["SERVICE_KEY"], "bob"), 200),
        (
            ToolCall::new("Fixture.Credentials", json!({"keys": "SERVICE_KEY"})).user("cy"),
            400,
        ),
    ]
}

fn all_credentials() -> CallOptions {
    with_token()
        .secret(SERVICE_KEY, SERVICE_SECRET)
        .secret("OTHER_KEY", OTHER_SECRET)
}

#[tokio::test]
async fn neither_the_token_nor_a_secret_reaches_the_audit_record() {
    let _ = fixtures::TOOL_NAMES;
    let sink = Arc::new(MemorySink::default());
    // Arguments kept too: the record holds everything it can.
    let log = AuditLog::start(sink.clone(), AuditConfig::default().include_arguments(true))
        .expect("valid config");
    let executor = ToolExecutor::builder().audit(log).build().expect("builds");
    for (call, status) in calls_with_credentials() {
        let result = executor
            .execute_tool_call_with(call, all_credentials())
            .await;
        assert_eq!(result.status_code, status, "{result:?}");
    }
    executor.shutdown().await.expect("every record written");

    let records = sink.records();
    let users: Vec<Option<&str>> = records.iter().map(|r| r.user_id.as_deref()).collect();
    assert_eq!(users, [Some("ada"), Some("bob"), Some("cy")]);
    assert!(records.iter().all(|r| r.arguments.is_some()), "{records:?}");
    let text = serde_json::to_string(&records).expect("records serialize");
    for credential in [GIVEN_TOKEN, SERVICE_SECRET, OTHER_SECRET] {
        assert!(!text.contains(credential), "{credential} audited: {text}");
    }
}

#[tokio::test]
async fn neither_the_token_nor_a_secret_reaches_the_log() {
    let _ = fixtures::TOOL_NAMES;
    let (log, _capture) = CapturedLog::of_this_thread();
    let executor = executor();
    for (call, status) in calls_with_credentials() {
        let result = executor
            .execute_tool_call_with(call, all_credentials())
            .await;
        assert_eq!(result.status_code, status, "{result:?}");
    }
    let text = log.text();
    assert_eq!(
        text.lines()
            .filter(|line| line.contains("tool_call{") && line.contains("close"))
            .count(),
        3,
        "the log is captured, one span per call:\n{text}"
    );
    for credential in [GIVEN_TOKEN, SERVICE_SECRET, OTHER_SECRET] {
        assert!(!text.contains(credential), "{credential} logged:\n{text}");
    }
}
