//! OAuth2 end to end over real HTTP: the `AuthorizationManager` against the loopback provider of
//! `fact_tests::oauth_provider`, and the executor calling tools that require auth. Time moves
//! only by `ManualClock::advance`, shared by the manager and the provider.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fact_runtime::audit::{AuditConfig, AuditLog};
use fact_runtime::auth::{
    AuthError, AuthorizationFlow, AuthorizationManager, GrantInfo, GrantStore, OAuthConfig,
    SqlGrantStore,
};
use fact_runtime::{ManualClock, ToolCall, ToolDefinition, ToolExecutor, ToolResult};
use fact_tests::audit_sinks::MemorySink;
use fact_tests::captured_log::CapturedLog;
use fact_tests::oauth_provider::{OAuthProvider, ProviderSettings};
use fact_tests::scratch::{TempDb, unique};
use serde_json::{Value, json};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::util::SubscriberInitExt as _;

const START: Duration = Duration::from_secs(1_700_000_000);
const SECRET_KEY: &str = "test-secret-key-with-at-least-32-bytes!";
const OTHER_SECRET_KEY: &str = "another-secret-key-of-at-least-32-bytes";

/// A provider, a manager configured for it, and an executor with two tools that require auth:
/// `Docs.Read` (scope `docs.read`) and `Docs.Edit` (`docs.read` and `docs.write`). Each tool
/// presents its token to the provider's `/me` and records it in `seen`. The executor audits
/// every call, raw arguments included, to `audit`.
struct Harness {
    clock: ManualClock,
    provider: OAuthProvider,
    manager: AuthorizationManager,
    executor: ToolExecutor,
    seen: Arc<Mutex<Vec<String>>>,
    audit: Arc<MemorySink>,
    user: String,
}

impl Harness {
    async fn start(settings: ProviderSettings) -> Self {
        Self::with_store(settings, None).await
    }

    async fn with_store(settings: ProviderSettings, store: Option<Arc<dyn GrantStore>>) -> Self {
        let clock = ManualClock::new(START);
        let provider = OAuthProvider::start(settings, clock.clone()).await;
        let s = provider.settings();
        let config = OAuthConfig::new(
            s.client_id.clone(),
            &s.redirect_uri,
            &provider.authorization_url(),
            &provider.token_url(),
        )
        .expect("config")
        .with_client_secret(s.client_secret.clone());
        let mut builder = AuthorizationManager::builder(config).clock(Arc::new(clock.clone()));
        if let Some(store) = store {
            builder = builder.grant_store(store);
        }
        let manager = builder.build().expect("manager");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let audit = Arc::new(MemorySink::default());
        let log = AuditLog::start(
            audit.clone(),
            AuditConfig::default().include_arguments(true),
        )
        .expect("audit log");
        let executor = ToolExecutor::builder()
            .discover_linked_tools(false)
            .register(docs_tool("Docs.Read", &["docs.read"], &provider, &seen))
            .register(docs_tool(
                "Docs.Edit",
                &["docs.read", "docs.write"],
                &provider,
                &seen,
            ))
            .authorization(manager.clone())
            .audit(log)
            .build()
            .expect("executor");
        Self {
            clock,
            provider,
            manager,
            executor,
            seen,
            audit,
            user: unique("user"),
        }
    }

    /// Follows the flow's URL as a browser would, up to the provider's redirect, and returns the
    /// `code` and `state` it carries.
    async fn approve(&self, authorization_url: &str) -> (String, String) {
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let response = browser
            .get(authorization_url)
            .send()
            .await
            .expect("GET /authorize");
        assert_eq!(response.status(), 302, "{:?}", response.text().await);
        let location = response.headers()["location"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(
            location.starts_with(&self.provider.settings().redirect_uri),
            "{location}"
        );
        let query: HashMap<String, String> = reqwest::Url::parse(&location)
            .expect("location")
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        (query["code"].clone(), query["state"].clone())
    }

    async fn initiate(&self, scopes: &[&str]) -> AuthorizationFlow {
        let scopes = scopes.iter().copied();
        self.manager
            .initiate_authorization(&self.user, "Docs.Read", scopes)
            .await
            .expect("flow")
    }

    /// The whole flow for this harness's user.
    async fn authorize(&self, scopes: &[&str]) -> GrantInfo {
        let flow = self.initiate(scopes).await;
        let (code, state) = self.approve(&flow.authorization_url).await;
        self.manager
            .complete_authorization(&state, &code)
            .await
            .expect("grant")
    }

    async fn call(&self, tool: &str) -> ToolResult {
        let call = ToolCall::new(tool, json!({})).user(self.user.clone());
        self.executor.execute_tool_call(call).await
    }

    fn last_token_seen(&self) -> String {
        self.seen
            .lock()
            .expect("seen")
            .last()
            .cloned()
            .expect("the tool saw a token")
    }
}

fn docs_tool(
    name: &str,
    scopes: &[&str],
    provider: &OAuthProvider,
    seen: &Arc<Mutex<Vec<String>>>,
) -> ToolDefinition {
    let (resource, seen) = (provider.resource_url(), seen.clone());
    ToolDefinition::new(
        name,
        "reads docs",
        json!({"type": "object"}),
        move |ctx, _args| {
            let (resource, seen) = (resource.clone(), seen.clone());
            async move {
                let token = ctx
                    .access_token()
                    .expect("a token in the context")
                    .secret()
                    .to_owned();
                seen.lock().expect("seen").push(token.clone());
                let response = reqwest::Client::new()
                    .get(resource)
                    .bearer_auth(token)
                    .send()
                    .await
                    .map_err(|e| fact_runtime::ToolError::fatal(e.to_string()))?;
                let status = response.status().as_u16();
                let body: Value = serde_json::from_str(&response.text().await.unwrap_or_default())
                    .unwrap_or(Value::Null);
                Ok(json!({"provider_status": status, "provider": body}))
            }
        },
    )
    .requires_auth(scopes.iter().copied())
}

fn metadata<'a>(result: &'a ToolResult, key: &str) -> &'a Value {
    result
        .metadata
        .extra
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in {result:?}"))
}

#[tokio::test]
async fn full_flow_hands_the_token_to_the_tool_through_its_context_only() {
    let h = Harness::start(ProviderSettings::default()).await;
    let flow = h.initiate(&["docs.read"]).await;
    let (code, state) = h.approve(&flow.authorization_url).await;
    assert_eq!(state, flow.flow_id, "the flow id is the OAuth2 state");

    let grant = h
        .manager
        .complete_authorization(&state, &code)
        .await
        .expect("grant");
    assert_eq!(grant.user_id, h.user);
    assert_eq!(
        grant.scopes,
        ["docs.read"],
        "scope omitted by the provider: as requested"
    );
    assert_eq!(grant.expires_at, Some(START + Duration::from_secs(3600)));
    assert_eq!(h.provider.code_exchanges(), 1);

    let result = h.call("Docs.Read").await;
    assert_eq!(result.status_code, 200, "{result:?}");
    assert_eq!(
        result.data.as_ref().map(|d| d["provider_status"].clone()),
        Some(json!(200))
    );
    let token = h.last_token_seen();
    assert!(token.starts_with("fact-at-"), "{token}");
    let serialized = serde_json::to_string(&result).expect("json");
    assert!(!serialized.contains(&token), "{serialized}");
    assert!(!format!("{result:?}").contains(&token));
    assert!(
        !serde_json::to_string(&grant)
            .expect("json")
            .contains(&token)
    );
}

#[tokio::test]
async fn no_token_reaches_the_logs_or_the_audit_log() {
    // Every event at every level, of FACT and of the HTTP and OAuth2 crates under it, from every
    // test of this binary: the subscriber is the process's, since a thread-local one missed
    // events whose callsites another test's thread had met first (their interest was cached
    // before it existed). The other tests' events only add to what must hold no token.
    let log = CapturedLog::default();
    tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_max_level(LevelFilter::TRACE)
        .with_ansi(false)
        .finish()
        .try_init()
        .expect("no other test of this binary installs a subscriber");
    let h = Harness::start(ProviderSettings::default()).await;
    h.authorize(&["docs.read"]).await;
    assert_eq!(h.call("Docs.Read").await.status_code, 200);
    h.clock.advance(Duration::from_secs(3600));
    assert_eq!(h.call("Docs.Read").await.status_code, 200);
    h.provider.fail_refreshes(true);
    h.clock.advance(Duration::from_secs(3600));
    assert_eq!(h.call("Docs.Read").await.status_code, 401);
    h.executor.shutdown().await.expect("audit written");

    let text = log.text();
    // The log is really captured: the flow, the refresh and its failure are all in it.
    for event in [
        "authorization completed",
        "grant refreshed",
        "grant refresh failed",
    ] {
        assert!(text.contains(event), "no '{event}' in the log:\n{text}");
    }
    let records = format!("{:?}", h.audit.records());
    assert!(records.contains("Docs.Read"), "{records}");
    let seen = h.seen.lock().expect("seen").clone();
    assert_eq!(
        seen.len(),
        2,
        "two access tokens, the first and the refreshed one"
    );
    // Access and refresh tokens of this provider all start so.
    for secret in seen
        .iter()
        .map(String::as_str)
        .chain(["fact-at-", "fact-rt-"])
    {
        assert!(!text.contains(secret), "'{secret}' in the log:\n{text}");
        assert!(!records.contains(secret), "'{secret}' in the audit log");
    }
}

#[tokio::test]
async fn call_without_grant_is_401_with_a_flow_that_authorizes_the_user() {
    let h = Harness::start(ProviderSettings::default()).await;
    let refused = h.call("Docs.Read").await;
    assert_eq!(refused.status_code, 401, "{refused:?}");
    assert_eq!(
        refused.metadata.error_type.as_deref(),
        Some("UnauthorizedError")
    );
    assert_eq!(
        refused.error.as_deref(),
        Some(&*format!(
            "Tool 'Docs.Read' requires authorization: user '{}' has not granted access. Open authorization_url to authorize.",
            h.user
        ))
    );
    let url = metadata(&refused, "authorization_url")
        .as_str()
        .expect("url");
    assert!(url.starts_with(&h.provider.authorization_url()), "{url}");
    let expires_at = metadata(&refused, "flow_expires_at")
        .as_f64()
        .expect("seconds");
    assert_eq!(expires_at, (START + Duration::from_secs(600)).as_secs_f64());

    let (code, state) = h.approve(url).await;
    assert_eq!(
        state,
        metadata(&refused, "flow_id").as_str().expect("flow id")
    );
    let grant = h
        .manager
        .complete_authorization(&state, &code)
        .await
        .expect("grant");
    assert_eq!(grant.scopes, ["docs.read"]);
    assert_eq!(h.call("Docs.Read").await.status_code, 200);
}

#[tokio::test]
async fn anonymous_call_is_401_asking_for_an_authenticated_user() {
    let h = Harness::start(ProviderSettings::default()).await;
    let result = h
        .executor
        .execute_tool_call(ToolCall::new("Docs.Read", json!({})))
        .await;
    assert_eq!(result.status_code, 401, "{result:?}");
    assert!(
        result
            .error
            .as_deref()
            .is_some_and(|e| e.contains("an authenticated user is required"))
    );
}

#[tokio::test]
async fn partial_grant_is_403_naming_the_missing_scopes() {
    let settings = ProviderSettings {
        grant_only: Some(vec!["docs.read".to_owned()]),
        ..ProviderSettings::default()
    };
    let h = Harness::start(settings).await;
    let grant = h.authorize(&["docs.read", "docs.write"]).await;
    assert_eq!(
        grant.scopes,
        ["docs.read"],
        "the token response's scope wins"
    );

    let refused = h.call("Docs.Edit").await;
    assert_eq!(refused.status_code, 403, "{refused:?}");
    assert_eq!(
        refused.metadata.error_type.as_deref(),
        Some("SecurityError")
    );
    let message = refused.error.as_deref().expect("message");
    assert!(
        message.contains("missing scopes ['docs.write']"),
        "{message}"
    );
    assert_eq!(metadata(&refused, "missing_scopes"), &json!(["docs.write"]));
    assert!(metadata(&refused, "authorization_url").is_string());

    assert_eq!(
        h.call("Docs.Read").await.status_code,
        200,
        "covered scopes still work"
    );
}

#[tokio::test]
async fn expired_grant_is_refreshed_once_for_concurrent_calls() {
    let h = Harness::start(ProviderSettings::default()).await;
    h.authorize(&["docs.read"]).await;
    assert_eq!(h.call("Docs.Read").await.status_code, 200);
    let first_token = h.last_token_seen();

    h.clock.advance(Duration::from_secs(3600));
    let calls = (0..8)
        .map(|_| ToolCall::new("Docs.Read", json!({})).user(h.user.clone()))
        .collect();
    let results = h.executor.execute_tool_calls(calls).await;
    assert!(results.iter().all(|r| r.status_code == 200), "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| r.data.as_ref().is_some_and(|d| d["provider_status"] == 200))
    );
    assert_eq!(h.provider.refreshes(), 1);
    let renewed = h.last_token_seen();
    assert_ne!(renewed, first_token);
    let grant = h
        .manager
        .grant_info(&h.user)
        .await
        .expect("store")
        .expect("grant");
    assert_eq!(grant.expires_at, Some(START + Duration::from_secs(7200)));
}

#[tokio::test]
async fn refreshed_grant_keeps_its_refresh_token_when_the_provider_sends_none() {
    let h = Harness::start(ProviderSettings::default()).await;
    h.authorize(&["docs.read"]).await;
    for round in 1..=2 {
        h.clock.advance(Duration::from_secs(3600));
        assert_eq!(h.call("Docs.Read").await.status_code, 200, "round {round}");
        assert_eq!(h.provider.refreshes(), round);
    }
}

#[tokio::test]
async fn refused_refresh_is_401_and_drops_the_dead_grant() {
    let h = Harness::start(ProviderSettings::default()).await;
    h.authorize(&["docs.read"]).await;
    h.provider.fail_refreshes(true);
    h.clock.advance(Duration::from_secs(3600));

    let refused = h.call("Docs.Read").await;
    assert_eq!(refused.status_code, 401, "{refused:?}");
    let message = refused.error.as_deref().expect("message");
    assert!(message.contains("could not be refreshed"), "{message}");
    assert!(message.contains("invalid_grant"), "{message}");
    assert!(metadata(&refused, "authorization_url").is_string());
    assert_eq!(h.provider.refreshes(), 1);
    assert_eq!(h.manager.grant_info(&h.user).await.expect("store"), None);
}

#[tokio::test]
async fn expired_grant_without_refresh_token_is_401() {
    let settings = ProviderSettings {
        issue_refresh_tokens: false,
        ..ProviderSettings::default()
    };
    let h = Harness::start(settings).await;
    h.authorize(&["docs.read"]).await;
    h.clock.advance(Duration::from_secs(3600));
    let refused = h.call("Docs.Read").await;
    assert_eq!(refused.status_code, 401, "{refused:?}");
    assert_eq!(h.provider.refreshes(), 0);
}

#[tokio::test]
async fn wrong_code_is_refused_by_the_provider() {
    let h = Harness::start(ProviderSettings::default()).await;
    let flow = h.initiate(&["docs.read"]).await;
    let _ = h.approve(&flow.authorization_url).await;
    let error = h
        .manager
        .complete_authorization(&flow.flow_id, "fact-code-9999-not-issued")
        .await
        .expect_err("wrong code");
    assert!(
        matches!(&error, AuthError::Exchange { error, .. } if error == "invalid_grant"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the OAuth2 provider refused the authorization code: invalid_grant (unknown code)"
    );
    assert_eq!(h.manager.grant_info(&h.user).await.expect("store"), None);
}

#[tokio::test]
async fn a_code_completed_with_another_flows_pkce_verifier_is_refused() {
    let h = Harness::start(ProviderSettings::default()).await;
    let flow = h.initiate(&["docs.read"]).await;
    let other = h.initiate(&["docs.read", "docs.write"]).await;
    // A code approved for `other` (an intercepted code, say) presented with the first flow's
    // state: the manager sends that flow's verifier, which does not hash to the code's challenge.
    let (code, _) = h.approve(&other.authorization_url).await;
    let error = h
        .manager
        .complete_authorization(&flow.flow_id, &code)
        .await
        .expect_err("wrong verifier");
    assert!(
        matches!(
            &error,
            AuthError::Exchange { error, description: Some(description) }
                if error == "invalid_grant" && description.contains("PKCE")
        ),
        "{error:?}"
    );
    assert_eq!(h.provider.code_exchanges(), 1);
    assert_eq!(h.manager.grant_info(&h.user).await.expect("store"), None);
}

#[tokio::test]
async fn expired_code_is_refused_by_the_provider() {
    let h = Harness::start(ProviderSettings::default()).await;
    let flow = h.initiate(&["docs.read"]).await;
    let (code, state) = h.approve(&flow.authorization_url).await;
    // Past the provider's 60 s code lifetime, well within the flow's 10 minutes.
    h.clock.advance(Duration::from_secs(61));
    let error = h
        .manager
        .complete_authorization(&state, &code)
        .await
        .expect_err("expired code");
    assert!(
        error.to_string().ends_with("invalid_grant (code expired)"),
        "{error}"
    );
}

#[tokio::test]
async fn unknown_flow_is_a_clear_error() {
    let h = Harness::start(ProviderSettings::default()).await;
    let error = h
        .manager
        .complete_authorization("never-issued", "code")
        .await
        .expect_err("unknown");
    assert!(matches!(error, AuthError::UnknownFlow), "{error:?}");
    assert_eq!(h.provider.code_exchanges(), 0);
}

#[tokio::test]
async fn used_flow_is_a_clear_error() {
    let h = Harness::start(ProviderSettings::default()).await;
    let flow = h.initiate(&["docs.read"]).await;
    let (code, state) = h.approve(&flow.authorization_url).await;
    h.manager
        .complete_authorization(&state, &code)
        .await
        .expect("first use");
    let error = h
        .manager
        .complete_authorization(&state, &code)
        .await
        .expect_err("second use");
    assert!(matches!(error, AuthError::FlowUsed), "{error:?}");
    assert!(
        error.to_string().contains("can be completed once"),
        "{error}"
    );
    assert_eq!(
        h.provider.code_exchanges(),
        1,
        "the provider is not asked twice"
    );
}

#[tokio::test]
async fn expired_flow_is_a_clear_error() {
    let h = Harness::start(ProviderSettings::default()).await;
    let flow = h.initiate(&["docs.read"]).await;
    let (code, state) = h.approve(&flow.authorization_url).await;
    h.clock.advance(Duration::from_secs(600));
    let error = h
        .manager
        .complete_authorization(&state, &code)
        .await
        .expect_err("expired");
    assert!(matches!(error, AuthError::FlowExpired { .. }), "{error:?}");
    assert_eq!(h.provider.code_exchanges(), 0);
}

#[tokio::test]
async fn revoked_grant_means_401_again() {
    let h = Harness::start(ProviderSettings::default()).await;
    h.authorize(&["docs.read"]).await;
    assert_eq!(h.call("Docs.Read").await.status_code, 200);
    assert!(
        h.manager
            .revoke_authorization(&h.user)
            .await
            .expect("revoke")
    );
    assert_eq!(h.call("Docs.Read").await.status_code, 401);
    assert!(
        !h.manager
            .revoke_authorization(&h.user)
            .await
            .expect("revoke again")
    );
}

#[tokio::test]
async fn a_revocation_during_a_slow_refresh_is_not_undone_by_it() {
    let h = Arc::new(Harness::start(ProviderSettings::default()).await);
    h.authorize(&["docs.read"]).await;
    h.clock.advance(Duration::from_secs(3600));
    h.provider.hold_refreshes(true);
    let arrived = h.provider.refresh_arrived();
    let call = tokio::spawn({
        let h = Arc::clone(&h);
        async move { h.call("Docs.Read").await }
    });
    arrived.await;

    // The refresh is at the provider; the revocation waits for it, then removes its result.
    let revoke = tokio::spawn({
        let h = Arc::clone(&h);
        async move { h.manager.revoke_authorization(&h.user).await }
    });
    tokio::task::yield_now().await;
    h.provider.hold_refreshes(false);
    let refreshed = call.await.expect("call task");
    assert_eq!(refreshed.status_code, 200, "{refreshed:?}");
    assert!(revoke.await.expect("revoke task").expect("revoke"));

    assert_eq!(h.manager.grant_info(&h.user).await.expect("store"), None);
    assert_eq!(h.call("Docs.Read").await.status_code, 401);
}

/// The full flow with grants in `SqlGrantStore` at `url`; then the store reopened with the same
/// key reads the grant back, and with another key refuses it clearly. Returns the token.
async fn sql_store_keeps_grants_across_reopening(url: &str) -> String {
    let store = SqlGrantStore::connect(url, SECRET_KEY)
        .await
        .expect("store");
    let h = Harness::with_store(ProviderSettings::default(), Some(Arc::new(store))).await;
    h.authorize(&["docs.read"]).await;
    assert_eq!(h.call("Docs.Read").await.status_code, 200);
    let token = h.last_token_seen();

    let reopened = SqlGrantStore::connect(url, SECRET_KEY)
        .await
        .expect("reopen");
    let grant = reopened.get(&h.user).await.expect("read").expect("grant");
    assert_eq!(grant.access_token.secret(), token);
    assert_eq!(grant.scopes, ["docs.read"]);
    assert!(
        grant
            .refresh_token
            .is_some_and(|t| t.secret().starts_with("fact-rt-"))
    );
    assert_eq!(grant.expires_at, Some(START + Duration::from_secs(3600)));

    let other = SqlGrantStore::connect(url, OTHER_SECRET_KEY)
        .await
        .expect("other key");
    let error = other.get(&h.user).await.expect_err("another key");
    assert!(matches!(error, AuthError::Decrypt { .. }), "{error:?}");
    assert!(
        error.to_string().contains("different SECRET_KEY"),
        "{error}"
    );

    assert!(reopened.remove(&h.user).await.expect("remove"));
    assert!(reopened.get(&h.user).await.expect("read").is_none());
    token
}

#[tokio::test]
async fn sqlite_grant_store_encrypts_tokens_and_survives_reopening() {
    let db = TempDb::new("fact-grants");
    let token = sql_store_keeps_grants_across_reopening(&db.url()).await;

    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        let file = format!("{}{suffix}", db.path().display());
        bytes.extend(std::fs::read(&file).unwrap_or_default());
    }
    assert!(!bytes.is_empty());
    for needle in [token.as_str(), "fact-at-", "fact-rt-"] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} in the file"
        );
    }
}

#[tokio::test]
async fn postgres_grant_store_survives_reopening_and_refuses_another_key() {
    let Some(url) = fact_tests::services::postgres_url("postgres grant store") else {
        return;
    };
    sql_store_keeps_grants_across_reopening(&url).await;
}
