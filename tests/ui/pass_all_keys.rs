//! Every key of `#[tool]` at once, and a `description` key overriding the doc comment.

use fact_runtime::{CallOptions, ToolCall, ToolContext, ToolExecutor, tool};

/// This doc comment is overridden by the `description` key.
#[tool(
    name = "Ui.AllKeys",
    description = "Reads the calendar",
    timeout = 90,
    requires_auth,
    scopes = ["calendar.read", "calendar.freebusy"],
    auth_provider = "google",
    secrets = ["CALENDAR_API_KEY", "Region"],
    version = "2.3.4",
    rate_limit = 120,
)]
async fn all_keys(day: String) -> String {
    day
}

/// Scopes alone require authorization, so they admit a provider; reads the secret it declares.
#[tool(
    name = "Ui.ScopedProvider",
    scopes = ["repo"],
    auth_provider = "github",
    secrets = ["GITHUB_APP_KEY"]
)]
fn scoped_provider(ctx: &ToolContext) -> Option<String> {
    ctx.secret("github_app_key").map(str::to_owned)
}

/// Declares a secret and no authorization: a secret needs none. Runs inline.
#[tool(name = "Ui.SecretOnly", secrets = ["SERVICE_KEY"], inline)]
fn secret_only(ctx: &ToolContext) -> bool {
    ctx.secret("SERVICE_KEY").is_some()
}

/// Needs auth, spelled `requires_auth = true`; no doc comment is needed beside `description`.
#[tool(name = "Ui.ExplicitAuth", requires_auth = true)]
fn explicit_auth() -> bool {
    true
}

#[tool(
    name = "Ui.NoDocComment",
    description = "Described by the key alone",
    requires_auth = false
)]
fn no_doc_comment() {}

#[tokio::main]
async fn main() {
    assert_eq!(all_keys("monday".into()).await, "monday");
    assert!(explicit_auth());
    no_doc_comment();
    let ctx = ToolContext::new("Ui.ScopedProvider").with_secret("GITHUB_APP_KEY", "k-1");
    assert_eq!(scoped_provider(&ctx).as_deref(), Some("k-1"));
    assert!(!secret_only(&ToolContext::new("Ui.SecretOnly")));

    let executor = ToolExecutor::builder().build().unwrap();
    let info = executor.tool_info("Ui.AllKeys").unwrap();
    assert_eq!(info.description, "Reads the calendar");
    assert_eq!(info.timeout.as_secs(), 90);
    assert!(info.requires_auth);
    assert_eq!(info.scopes, ["calendar.read", "calendar.freebusy"]);
    assert_eq!(info.auth_provider.as_deref(), Some("google"));
    assert_eq!(info.secrets, ["CALENDAR_API_KEY", "Region"]);
    assert_eq!(info.version, "2.3.4");
    assert_eq!(info.rate_limit_per_minute, Some(120));

    assert!(executor.tool_info("Ui.ExplicitAuth").unwrap().requires_auth);
    let plain = executor.tool_info("Ui.NoDocComment").unwrap();
    assert!(!plain.requires_auth);
    assert_eq!(plain.rate_limit_per_minute, None);
    assert_eq!(plain.description, "Described by the key alone");
    assert_eq!(plain.auth_provider, None);
    assert!(plain.secrets.is_empty());

    let scoped = executor.tool_info("Ui.ScopedProvider").unwrap();
    assert!(!scoped.requires_auth);
    assert_eq!(scoped.auth_provider.as_deref(), Some("github"));
    assert_eq!(scoped.secrets, ["GITHUB_APP_KEY"]);

    let options = CallOptions::default().secret("service_key", "s-1");
    let seen = executor
        .execute_tool_call_with(ToolCall::new("Ui.SecretOnly", serde_json::json!({})), options)
        .await;
    assert_eq!(seen.data, Some(serde_json::json!(true)), "{:?}", seen.error);
}
