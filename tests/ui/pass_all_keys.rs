//! Every key of `#[tool]` at once, and a `description` key overriding the doc comment.

use fact_runtime::{ToolExecutor, tool};

/// This doc comment is overridden by the `description` key.
#[tool(
    name = "Ui.AllKeys",
    description = "Reads the calendar",
    timeout = 90,
    requires_auth,
    scopes = ["calendar.read", "calendar.freebusy"],
    version = "2.3.4",
    rate_limit = 120,
)]
async fn all_keys(day: String) -> String {
    day
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

    let executor = ToolExecutor::builder().build().unwrap();
    let info = executor.tool_info("Ui.AllKeys").unwrap();
    assert_eq!(info.description, "Reads the calendar");
    assert_eq!(info.timeout.as_secs(), 90);
    assert!(info.requires_auth);
    assert_eq!(info.scopes, ["calendar.read", "calendar.freebusy"]);
    assert_eq!(info.version, "2.3.4");
    assert_eq!(info.rate_limit_per_minute, Some(120));

    assert!(executor.tool_info("Ui.ExplicitAuth").unwrap().requires_auth);
    let plain = executor.tool_info("Ui.NoDocComment").unwrap();
    assert!(!plain.requires_auth);
    assert_eq!(plain.rate_limit_per_minute, None);
    assert_eq!(plain.description, "Described by the key alone");
}
