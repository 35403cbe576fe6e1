//! OAuth through the server, end to end with the loopback OAuth2 provider: a call refused
//! with 401 and an authorization URL, the user's browser at the provider and back at
//! `OAUTH_REDIRECT_URI`'s path, where the server completes the flow, and the retried call that
//! succeeds; over FACT's own API and over the Engine API (`authorize`, `auth/status` with
//! `wait`), including a refusal at the provider and a flow another key may not see.

use std::sync::Arc;
use std::time::Duration;

use fact_runtime::auth::{AuthorizationManager, OAuthConfig};
use fact_runtime::server::ApiKeys;
use fact_runtime::{ManualClock, ToolDefinition, ToolExecutor};
use fact_tests::oauth_provider::{OAuthProvider, ProviderSettings};
use serde_json::{Value, json};

use crate::support::{ADA_KEY, Running, config};

const PROJECT_KEY: &str = "project-key-oauth-0123456789";

/// A server whose `Docs.Read` needs the `docs.read` scope, authorized by a provider that
/// sends users back to the server's own `/oauth/callback`.
async fn server_with_provider() -> (Running, OAuthProvider, reqwest::Client) {
    // The redirect URI names the server's port, so the port is chosen first.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/oauth/callback");
    let clock = ManualClock::new(Duration::from_secs(1_700_000_000));
    let settings = ProviderSettings {
        redirect_uri: redirect_uri.clone(),
        ..ProviderSettings::default()
    };
    let provider = OAuthProvider::start(settings, clock.clone()).await;
    let s = provider.settings();
    let oauth = OAuthConfig::new(
        s.client_id.clone(),
        &redirect_uri,
        &provider.authorization_url(),
        &provider.token_url(),
    )
    .expect("config")
    .with_client_secret(s.client_secret.clone());
    let manager = AuthorizationManager::builder(oauth)
        .clock(Arc::new(clock))
        .build()
        .expect("manager");
    let executor = ToolExecutor::builder()
        .discover_linked_tools(false)
        .authorization(manager)
        .register(
            ToolDefinition::new(
                "Docs.Read",
                "Reads a document with the user's token",
                json!({"type": "object", "properties": {}}),
                |ctx, _args| async move {
                    Ok(json!({"user": ctx.user_id(), "token": ctx.access_token().is_some()}))
                },
            )
            .requires_auth(["docs.read"]),
        )
        .build()
        .expect("builds");
    let keys = ApiKeys::parse(&format!("{ADA_KEY}:ada,{PROJECT_KEY}:*")).expect("keys");
    let server = Running::start(
        executor,
        config()
            .addr(format!("127.0.0.1:{port}").parse().expect("address"))
            .api_keys(keys),
    )
    .await;
    // The user's browser: follows the provider's redirect back to the server.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .expect("a client");
    (server, provider, browser)
}

/// The user opens `url` and comes back: the page the server shows.
async fn visit(browser: &reqwest::Client, url: &str) -> (u16, String) {
    let response = browser.get(url).send().await.expect("the provider answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a page"))
}

#[tokio::test]
async fn a_401_leads_through_the_provider_back_to_the_server_and_the_retried_call_succeeds() {
    let (server, provider, browser) = server_with_provider().await;
    let refused = server
        .execute(ADA_KEY, json!({"tool_name": "Docs.Read", "input": {}}))
        .await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    let url = refused.json()["metadata"]["authorization_url"]
        .as_str()
        .expect("an authorization URL")
        .to_owned();
    let (status, page) = visit(&browser, &url).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("User &#39;ada&#39; authorized tool &#39;Docs.Read&#39;"),
        "{page}"
    );
    assert_eq!(provider.code_exchanges(), 1);
    let retried = server
        .execute(ADA_KEY, json!({"tool_name": "Docs.Read", "input": {}}))
        .await;
    assert_eq!(retried.status, 200, "{}", retried.text);
    assert_eq!(
        retried.json()["data"],
        json!({"user": "ada", "token": true})
    );
    // The same URL again: the flow is used, and the page says so.
    let (status, page) = visit(&browser, &url).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("could not be completed"), "{page}");
    server.stop().await.expect("stops");
}

async fn engine_post(server: &Running, key: &str, path: &str, body: Value) -> (u16, Value) {
    let reply = server
        .post(&format!("/arcade/v1{path}"), Some(key), body.to_string())
        .await;
    (reply.status, reply.json())
}

async fn engine_get(server: &Running, key: &str, path: &str) -> (u16, Value) {
    let reply = server.get(&format!("/arcade/v1{path}"), Some(key)).await;
    (reply.status, reply.json())
}

#[tokio::test]
async fn an_engine_client_starts_the_flow_waits_for_it_and_then_executes() {
    let (server, _provider, browser) = server_with_provider().await;
    let body = json!({"tool_name": "Docs.Read", "user_id": "grace"});
    let (status, started) =
        engine_post(&server, PROJECT_KEY, "/tools/authorize", body.clone()).await;
    assert_eq!(status, 200, "{started}");
    assert_eq!(started["status"], "pending");
    assert_eq!(started["scopes"], json!(["docs.read"]));
    let id = started["id"].as_str().expect("an id").to_owned();
    let url = started["url"].as_str().expect("a URL").to_owned();

    let (status, now) = engine_get(&server, PROJECT_KEY, &format!("/auth/status?id={id}")).await;
    assert_eq!(
        (status, now["status"].as_str()),
        (200, Some("pending")),
        "{now}"
    );
    // Another user's key is told nothing about grace's flow.
    let (status, _) = engine_get(&server, ADA_KEY, &format!("/auth/status?id={id}")).await;
    assert_eq!(status, 404);

    // A client long-polls while the user authorizes: the poll returns when the flow completes.
    let poll = {
        let base = server.base.clone();
        let id = id.clone();
        tokio::spawn(async move {
            let reply = reqwest::Client::new()
                .get(format!("{base}/arcade/v1/auth/status?id={id}&wait=30"))
                .header("authorization", PROJECT_KEY)
                .send()
                .await
                .expect("answers");
            let text = reply.text().await.expect("a body");
            serde_json::from_str::<Value>(&text).expect("JSON")
        })
    };
    let (status, page) = visit(&browser, &url).await;
    assert_eq!(status, 200, "{page}");
    let settled = tokio::time::timeout(Duration::from_secs(30), poll)
        .await
        .expect("the poll returns once the flow completes")
        .expect("the poll does not panic");
    assert_eq!(settled["status"], "completed", "{settled}");
    assert_eq!(settled["user_id"], "grace");

    let (status, again) = engine_post(&server, PROJECT_KEY, "/tools/authorize", body).await;
    assert_eq!(
        (status, again["status"].as_str()),
        (200, Some("completed")),
        "{again}"
    );
    let (status, executed) = engine_post(
        &server,
        PROJECT_KEY,
        "/tools/execute",
        json!({"tool_name": "Docs.Read", "input": {}, "user_id": "grace"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(executed["success"], true, "{executed}");
    assert_eq!(
        executed["output"]["value"],
        json!({"user": "grace", "token": true})
    );
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn an_execute_needing_authorization_names_the_flow_and_a_refusal_at_the_provider_fails_it() {
    let (server, _provider, browser) = server_with_provider().await;
    let (status, executed) = engine_post(
        &server,
        PROJECT_KEY,
        "/tools/execute",
        json!({"tool_name": "Docs.Read", "input": {}, "user_id": "lin"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(executed["success"], false);
    let authorization = &executed["output"]["authorization"];
    assert_eq!(authorization["status"], "pending", "{executed}");
    let id = authorization["id"]
        .as_str()
        .expect("the flow's id")
        .to_owned();
    // The user refuses at the provider: it sends them back with an error, not a code.
    let callback = format!(
        "{}/oauth/callback?state={id}&error=access_denied",
        server.base
    );
    let (status, page) = visit(&browser, &callback).await;
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains("did not grant access (access_denied)"),
        "{page}"
    );
    let (status, now) = engine_get(
        &server,
        PROJECT_KEY,
        &format!("/auth/status?id={id}&wait=5"),
    )
    .await;
    assert_eq!(
        (status, now["status"].as_str()),
        (200, Some("failed")),
        "{now}"
    );
    // The callback needs no key, but knows no flow it did not start.
    let (status, page) = visit(
        &browser,
        &format!("{}/oauth/callback?state=made-up&code=x", server.base),
    )
    .await;
    assert_eq!(status, 400, "{page}");
    server.stop().await.expect("stops");
}
