//! `DATABASE_URL` decides where the audit log, the grant store and the pending OAuth flows
//! persist: the same code writes to a SQLite file or to PostgreSQL. Each case runs the stores'
//! `from_env` (and `AuthorizationManager::from_env`, as `fact serve` does) in a child process
//! of this test binary with the variables set, since a test cannot safely set its own
//! process's environment while other tests run.

use std::process::Command;

use fact_runtime::AccessToken;
use fact_runtime::audit::{AuditQuery, AuditRecord, AuditSink as _, SqlAuditSink};
use std::time::Duration;

use fact_runtime::auth::{
    AuthorizationManager, FlowStatus, FlowStore as _, Grant, GrantStore as _, SqlFlowStore,
    SqlGrantStore,
};
use fact_tests::scratch::{TempDb, unique};

const SECRET_KEY: &str = "database-url-test-key-of-32-bytes-or-more";

/// The child's part: opens the stores from the environment and writes one record and one grant
/// under the user `FACT_TEST_MARKER`; then starts a flow for that user through the manager
/// `AuthorizationManager::from_env` makes, and prints its id on a line `flow <id>`. Run by
/// [`assert_from_env_writes_to`] only; alone (no marker) it does nothing.
#[tokio::test]
#[ignore = "run as a child process by the tests below, with DATABASE_URL set"]
async fn child_writes_through_from_env() {
    let Ok(marker) = std::env::var("FACT_TEST_MARKER") else {
        return;
    };
    let sink = SqlAuditSink::from_env().await.expect("audit sink");
    let record = AuditRecord {
        call_id: marker.clone(),
        timestamp: 1_700_000_000.0,
        tool_name: "Env.Test".into(),
        user_id: Some(marker.clone()),
        session_id: None,
        status_code: 200,
        error_type: None,
        duration_ms: 0.1,
        execution_method: AuditRecord::LOCAL.into(),
        arguments_sha256: "0".repeat(64),
        arguments_size: 2,
        arguments: None,
    };
    sink.write_batch(&[record]).await.expect("record written");
    sink.close().await;
    let grants = SqlGrantStore::from_env().await.expect("grant store");
    grants
        .put(Grant::new(
            marker.clone(),
            AccessToken::new("token"),
            ["scope"],
        ))
        .await
        .expect("grant stored");
    let manager = AuthorizationManager::from_env()
        .await
        .expect("the manager's stores open")
        .expect("OAUTH_CLIENT_ID is set");
    let flow = manager
        .initiate_authorization(&marker, "Env.Test", ["scope"])
        .await
        .expect("flow stored");
    println!("flow {}", flow.flow_id);
}

/// Runs the child with `DATABASE_URL=url`, then finds what it wrote by connecting to `url`.
async fn assert_from_env_writes_to(url: &str) {
    let marker = unique("database-url");
    let output = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "child_writes_through_from_env",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("DATABASE_URL", url)
        .env("SECRET_KEY", SECRET_KEY)
        .env("FACT_TEST_MARKER", &marker)
        .env("OAUTH_CLIENT_ID", "database-url-test")
        .env("OAUTH_REDIRECT_URI", "http://127.0.0.1:1/oauth/callback")
        .env("OAUTH_AUTHORIZATION_URL", "http://127.0.0.1:1/authorize")
        .env("OAUTH_TOKEN_URL", "http://127.0.0.1:1/token")
        .output()
        .expect("the child runs");
    assert!(
        output.status.success(),
        "child failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    let sink = SqlAuditSink::connect(url).await.expect("audit database");
    let count = sink.count(&AuditQuery::new().user(&marker)).await;
    assert_eq!(count.expect("count"), 1);
    sink.close().await;
    let grants = SqlGrantStore::connect(url, SECRET_KEY)
        .await
        .expect("grant database");
    let grant = grants.get(&marker).await.expect("read");
    assert_eq!(grant.map(|g| g.scopes), Some(vec!["scope".to_owned()]));

    let stdout = String::from_utf8_lossy(&output.stdout);
    let flow_id = stdout
        .lines()
        .find_map(|line| line.strip_prefix("flow "))
        .unwrap_or_else(|| panic!("the child printed no flow id:\n{stdout}"));
    let flows = SqlFlowStore::connect(url, SECRET_KEY)
        .await
        .expect("flow database");
    // The child ran on the system clock; a minute later the flow is still pending.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        + Duration::from_secs(60);
    let (flow, status) = flows
        .status(flow_id, now)
        .await
        .expect("read")
        .expect("the child's flow is in the database");
    assert_eq!(status, FlowStatus::Pending);
    assert_eq!(flow.user_id, marker);
}

#[tokio::test]
async fn a_sqlite_database_url_puts_the_audit_log_grants_and_flows_in_that_file() {
    let db = TempDb::new("fact-database-url");
    assert_from_env_writes_to(&db.url()).await;
}

#[tokio::test]
async fn a_postgres_database_url_puts_the_audit_log_grants_and_flows_in_postgres() {
    let Some(url) = fact_tests::services::postgres_url("postgres DATABASE_URL") else {
        return;
    };
    assert_from_env_writes_to(&url).await;
}
