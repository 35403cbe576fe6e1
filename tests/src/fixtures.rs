//! One tool per behaviour the executor must show.

use std::time::Duration;

use fact_runtime::{ErrorKind, ToolContext, ToolError, tool};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub mod sync_tools;

/// Every tool this crate defines, sorted: the registry of a binary that links only this crate
/// and `fact-examples` must hold exactly these plus `MyApp.Calculator`.
pub const TOOL_NAMES: &[&str] = &[
    "Fixture.Choose",
    "Fixture.Constrained",
    "Fixture.Credentials",
    "Fixture.DisplayError",
    "Fixture.Echo",
    "Fixture.InlineOverrun",
    "Fixture.InlinePanics",
    "Fixture.InlinePastTimeout",
    "Fixture.InlineThread",
    "Fixture.KindOf",
    "Fixture.NoCredentials",
    "Fixture.Panics",
    "Fixture.PlusAsync",
    "Fixture.PlusInline",
    "Fixture.PlusSync",
    "Fixture.Private",
    "Fixture.Quota",
    "Fixture.SecureMultiply",
    "Fixture.Slow",
    "Fixture.SlowSync",
    "Fixture.Sum",
    "Fixture.SyncThread",
    "Fixture.Tree",
    "Fixture.WhoAmI",
];

/// Echoes a text, optionally repeated.
#[tool(name = "Fixture.Echo")]
pub async fn echo(
    /// The text to echo
    text: String,
    /// How many times; once when absent
    times: Option<u32>,
) -> String {
    text.repeat(times.unwrap_or(1) as usize)
}

/// Sums numbers on the blocking pool (a sync tool).
#[tool(name = "Fixture.Sum", timeout = 5)]
pub fn sum(values: Vec<i64>) -> i64 {
    values.iter().sum()
}

/// Takes constrained parameters.
#[tool(name = "Fixture.Constrained")]
pub async fn constrained(
    /// Page size
    #[schemars(range(min = 1, max = 100))]
    limit: u32,
    /// A contact address
    #[schemars(email)]
    email: Option<String>,
    /// Sort order, defaulting to ascending
    #[serde(default)]
    descending: bool,
    /// A short tag
    #[schemars(length(min = 2, max = 8))]
    #[serde(rename = "tagName")]
    tag: Option<String>,
) -> (u32, bool, Option<String>) {
    let _ = email;
    (limit, descending, tag)
}

/// A colour.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Colour {
    /// Like blood
    Red,
    /// Like grass
    Green,
}

/// A point on the plane.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Point {
    pub x: i32,
    pub y: i32,
}

/// Takes user-defined types.
#[tool(name = "Fixture.Choose")]
pub async fn choose(colour: Colour, at: Point, tags: Vec<String>) -> String {
    format!(
        "{colour:?} at ({}, {}) tagged {}",
        at.x,
        at.y,
        tags.join(",")
    )
}

/// A recursive type, whose schema needs `$defs`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Tree {
    pub label: String,
    #[serde(default)]
    pub children: Vec<Tree>,
}

/// Counts the nodes of a tree.
#[tool(name = "Fixture.Tree")]
pub async fn tree(root: Tree) -> usize {
    fn count(tree: &Tree) -> usize {
        1 + tree.children.iter().map(count).sum::<usize>()
    }
    count(&root)
}

/// Reports the call's identity from its context.
#[tool(name = "Fixture.WhoAmI")]
pub async fn who_am_i(ctx: &ToolContext) -> identity::Identity {
    identity::Identity {
        call_id: ctx.call_id().to_owned(),
        user: ctx.user_id().map(str::to_owned),
        session: ctx.session_id().map(str::to_owned),
    }
}

/// Types of [`who_am_i`]'s output (a module, to show output types from elsewhere work).
pub mod identity {
    use super::{JsonSchema, Serialize};

    /// Who called.
    #[derive(Debug, Serialize, JsonSchema)]
    pub struct Identity {
        pub call_id: String,
        pub user: Option<String>,
        pub session: Option<String>,
    }
}

/// Panics when asked to.
#[tool(name = "Fixture.Panics")]
pub async fn panics(secret: String) -> String {
    panic!("tool blew up holding {secret}");
}

/// Sleeps for `millis` milliseconds, within a one-second timeout.
#[tool(name = "Fixture.Slow", timeout = 1)]
pub async fn slow(millis: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(millis)).await;
    millis
}

/// Busy-waits on the blocking pool until cancelled or `millis` pass, and reports which.
#[tool(name = "Fixture.SlowSync", timeout = 1)]
pub fn slow_sync(millis: u64, ctx: ToolContext) -> &'static str {
    let until = std::time::Instant::now() + Duration::from_millis(millis);
    while std::time::Instant::now() < until {
        if ctx.is_cancelled() {
            CANCELLED_SEEN.store(true, std::sync::atomic::Ordering::SeqCst);
            return "cancelled";
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    "finished"
}

/// Set by [`slow_sync`] when it saw its context cancelled.
pub static CANCELLED_SEEN: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Fails with the error kind it is asked for.
#[tool(name = "Fixture.KindOf")]
pub async fn kind_of(kind: String) -> Result<(), ToolError> {
    Err(match kind.as_str() {
        "invalid" => ToolError::invalid_input("the input was judged bad"),
        "retryable" => ToolError::retryable("try again soon", Duration::from_millis(1500)),
        "security" => ToolError::new(ErrorKind::Security, "refused by policy"),
        "rate" => ToolError::new(ErrorKind::RateLimit, "slow down")
            .with_retry_after(Duration::from_secs(2)),
        "arcade" => ToolError::new(ErrorKind::Arcade, "upstream failed"),
        "upstream" => ToolError::upstream("the remote site refused the connection"),
        "unavailable" => ToolError::unavailable("the database is busy", Duration::from_secs(1)),
        _ => ToolError::fatal("fatal failure"),
    })
}

/// Fails with an error that is only `Display`.
#[tool(name = "Fixture.DisplayError")]
pub fn display_error() -> Result<u8, std::fmt::Error> {
    Err(std::fmt::Error)
}

/// Needs an authorized user.
#[tool(name = "Fixture.Private", requires_auth, scopes = ["secrets.read"])]
pub async fn private() -> &'static str {
    "secret"
}

/// Answers `"ok"`, at most 3 times a minute per caller (when the executor limits rates).
#[tool(name = "Fixture.Quota", rate_limit = 3)]
pub async fn quota() -> &'static str {
    "ok"
}

/// Multiplies two numbers for an authorized user: the calculator's work behind every stage of
/// the pipeline, for the full-pipeline benchmark.
#[tool(name = "Fixture.SecureMultiply", requires_auth, scopes = ["calc"], rate_limit = 1000000)]
pub async fn secure_multiply(a: f64, b: f64, ctx: &ToolContext) -> Result<f64, ToolError> {
    match ctx.access_token() {
        Some(_) => Ok(a * b),
        None => Err(ToolError::fatal("ran without the caller's token")),
    }
}

/// The secret key `Fixture.Credentials` declares.
pub const SERVICE_KEY: &str = "SERVICE_KEY";

/// Reports the access token and the secrets its call brought it (a test fixture: a real tool
/// never returns or logs its token or a secret; this one hands them back so that a test can
/// see exactly what reached it). Requires authorization by GitHub and declares one secret.
#[tool(
    name = "Fixture.Credentials",
    requires_auth,
    scopes = ["creds.read"],
    auth_provider = "github",
    secrets = ["SERVICE_KEY"]
)]
pub async fn credentials(
    /// The secret keys to look up, spelled as the tool would; `SERVICE_KEY` when absent
    keys: Option<Vec<String>>,
    ctx: &ToolContext,
) -> credentials::Seen {
    credentials::seen(ctx, keys)
}

/// Declares neither authorization nor secrets, and reports the token and secrets it sees all
/// the same, as `Fixture.Credentials` does: none should reach it.
#[tool(name = "Fixture.NoCredentials")]
pub async fn no_credentials(
    /// The secret keys to look up; `SERVICE_KEY` when absent
    keys: Option<Vec<String>>,
    ctx: &ToolContext,
) -> credentials::Seen {
    credentials::seen(ctx, keys)
}

/// What `Fixture.Credentials` and `Fixture.NoCredentials` answer.
pub mod credentials {
    use std::collections::BTreeMap;

    use super::{JsonSchema, SERVICE_KEY, Serialize, ToolContext};

    /// The credentials a call brought its tool, in the clear (test fixtures only).
    #[derive(Debug, Serialize, JsonSchema)]
    pub struct Seen {
        /// The call's access token (`ToolContext::access_token`), when it has one.
        pub token: Option<String>,
        /// Each key asked for and the value `ToolContext::secret` gave for it (`None`: hidden
        /// or not brought).
        pub secrets: BTreeMap<String, Option<String>>,
        /// The calling user.
        pub user: Option<String>,
    }

    pub(super) fn seen(ctx: &ToolContext, keys: Option<Vec<String>>) -> Seen {
        let keys = keys.unwrap_or_else(|| vec![SERVICE_KEY.to_owned()]);
        Seen {
            token: ctx.access_token().map(|token| token.secret().to_owned()),
            secrets: keys
                .into_iter()
                .map(|key| {
                    let value = ctx.secret(&key).map(str::to_owned);
                    (key, value)
                })
                .collect(),
            user: ctx.user_id().map(str::to_owned),
        }
    }
}

/// A tool named `name` that counts its runs in `runs`, so that a test can tell a call refused
/// before it ran from one that ran (registered by hand, not linked: it is in no registry of
/// [`TOOL_NAMES`]).
pub fn counting_tool(
    name: &str,
    runs: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> fact_runtime::ToolDefinition {
    fact_runtime::ToolDefinition::new(
        name,
        "Counts its runs",
        serde_json::json!({"type": "object"}),
        move |_ctx, _arguments| {
            let runs = runs.clone();
            async move {
                runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(serde_json::json!("counted"))
            }
        },
    )
}
