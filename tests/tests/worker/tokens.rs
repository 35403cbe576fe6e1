//! The Engine's JWT: every refusal is a 401 with `WWW-Authenticate: Bearer` and arcade-serve's
//! `{"detail": ...}`, answered before any tool runs or any call is audited.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::support::{COUNTED, WORKER_SECRET, Worker, engine_token, now, request, signed};

/// The Engine's request to run the counted tool.
fn counted() -> Value {
    request(COUNTED, json!({}), "exec-counted")
}

/// Sends the request to run the counted tool with `authorization` (the whole header value,
/// or none), and checks the 401: its header, and a `detail` that says `detail`; then that the
/// tool never ran and no call was audited.
async fn assert_refused(authorization: Option<&str>, detail: &str) {
    let worker = Worker::start().await;
    let reply = worker.invoke_with(&counted(), authorization).await;
    reply.assert_bearer_challenge();
    assert_eq!(reply.json(), json!({ "detail": detail }));
    assert_eq!(worker.runs(), 0, "the tool ran for a refused request");
    let records = worker.records().await;
    assert!(
        records.is_empty(),
        "a refused request was audited: {records:?}"
    );
}

/// `claims` signed with the worker's secret, as a header value.
fn bearer(claims: &Value) -> String {
    format!("Bearer {}", signed(claims, WORKER_SECRET))
}

#[tokio::test]
async fn the_engines_token_lets_the_call_through_and_the_tool_runs_once() {
    let worker = Worker::start().await;
    let reply = worker.invoke(&counted()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["output"], json!({"value": "counted"}));
    assert_eq!(worker.runs(), 1);
    assert_eq!(worker.records().await.len(), 1);
}

#[tokio::test]
async fn a_token_without_an_expiry_is_accepted() {
    let worker = Worker::start().await;
    let lasting = bearer(&json!({"aud": "worker", "ver": "1"}));
    let reply = worker.invoke_with(&counted(), Some(&lasting)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(worker.runs(), 1);
}

#[tokio::test]
async fn a_request_without_a_token_is_refused() {
    assert_refused(
        None,
        "Not authenticated: no token: send 'Authorization: Bearer <JWT>' signed with the worker secret",
    )
    .await;
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_refused() {
    let token = signed(
        &json!({"aud": "worker", "ver": "1", "exp": now() + 300}),
        "another-secret-of-more-than-thirty-two-bytes",
    );
    assert_refused(
        Some(&format!("Bearer {token}")),
        "Invalid token. Error: the signature does not match this worker's secret (the Engine may be configured with another worker secret)",
    )
    .await;
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    assert_refused(
        Some(&bearer(
            &json!({"aud": "engine", "ver": "1", "exp": now() + 300}),
        )),
        "Invalid token. Error: the token's audience is not 'worker'",
    )
    .await;
}

#[tokio::test]
async fn a_token_without_an_audience_is_refused() {
    assert_refused(
        Some(&bearer(&json!({"ver": "1", "exp": now() + 300}))),
        "Invalid token. Error: the token has no audience: expected 'worker'",
    )
    .await;
}

#[tokio::test]
async fn a_token_of_another_version_is_refused() {
    assert_refused(
        Some(&bearer(
            &json!({"aud": "worker", "ver": "2", "exp": now() + 300}),
        )),
        "Invalid token. Error: unsupported token version \"2\": expected \"1\"",
    )
    .await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    assert_refused(
        Some(&bearer(
            &json!({"aud": "worker", "ver": "1", "exp": now() - 60}),
        )),
        "Invalid token. Error: the token has expired",
    )
    .await;
}

#[tokio::test]
async fn a_token_not_valid_yet_is_refused() {
    assert_refused(
        Some(&bearer(
            &json!({"aud": "worker", "ver": "1", "nbf": now() + 300}),
        )),
        "Invalid token. Error: the token is not valid yet",
    )
    .await;
}

#[tokio::test]
async fn an_unsigned_token_of_algorithm_none_is_refused() {
    let part = |value: Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let unsigned = format!(
        "{}.{}.",
        part(json!({"alg": "none", "typ": "JWT"})),
        part(json!({"aud": "worker", "ver": "1", "exp": now() + 300})),
    );
    assert_refused(
        Some(&format!("Bearer {unsigned}")),
        "Invalid token. Error: the token is not signed with HS256",
    )
    .await;
}

#[tokio::test]
async fn a_token_that_is_no_jwt_is_refused() {
    assert_refused(
        Some("Bearer ada-key-0123456789abcdef"),
        "Invalid token. Error: the token is not a well-formed JWT",
    )
    .await;
}

#[tokio::test]
async fn a_valid_token_under_another_scheme_than_bearer_is_refused_as_not_authenticated() {
    // Without a Bearer token the request is not authenticated (docs/ARCHITECTURE.md, "Arcade
    // worker": `{"detail": "Not authenticated: ..."}` without a token), as arcade-serve's
    // HTTPBearer answers a header of another scheme.
    assert_refused(
        Some(&format!("Basic {}", engine_token())),
        "Not authenticated: expected 'Authorization: Bearer <JWT>'",
    )
    .await;
}
