//! The executor's record stage writes one audit record per call, refused calls included:
//! 10,000 concurrent calls through the whole pipeline give exactly 10,000 records, in SQLite and
//! in PostgreSQL.

use std::collections::HashMap;
use std::sync::Arc;

use fact_runtime::audit::{AuditConfig, AuditLog, AuditQuery, AuditRecord, SqlAuditSink};
use fact_runtime::{ToolCall, ToolExecutor};
use fact_tests::fixtures;
use fact_tests::scratch::{TempDb, unique};
// The one line that keeps a crate of tools linked when nothing else names it.
use fact_examples as _;
use serde_json::json;

const CALLS: usize = 10_000;

/// The call `n` of a load: mostly successes, with validation failures, unknown tools and a
/// tool error mixed in.
fn call(n: usize, user: &str) -> ToolCall {
    let call = match n % 10 {
        0 => ToolCall::new("Fixture.Echo", json!({"text": 5})),
        1 => ToolCall::new("Fixture.Missing", json!({})),
        2 => ToolCall::new("Fixture.KindOf", json!({"kind": "invalid"})),
        _ => ToolCall::new("Fixture.Echo", json!({"text": format!("call {n}")})),
    };
    call.user(user).session("load")
}

/// Runs [`CALLS`] calls from 100 tasks at once, shuts the log down, and checks that the store
/// holds one record per call with the status each caller saw.
async fn run_load(sink: Arc<SqlAuditSink>, user: &str) {
    let _ = fixtures::TOOL_NAMES;
    let log = AuditLog::start(sink.clone(), AuditConfig::default().channel_capacity(256))
        .expect("valid config");
    let executor = ToolExecutor::builder().audit(log).build().expect("builds");
    let tasks: Vec<_> = (0..100)
        .map(|task| {
            let executor = executor.clone();
            let user = user.to_owned();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                for i in 0..CALLS / 100 {
                    let result = executor
                        .execute_tool_call(call(task * (CALLS / 100) + i, &user))
                        .await;
                    seen.push((result.call_id, result.status_code));
                }
                seen
            })
        })
        .collect();
    let mut expected: HashMap<String, u16> = HashMap::new();
    for task in tasks {
        expected.extend(task.await.expect("task runs"));
    }
    executor.shutdown().await.expect("every record written");

    let records = sink
        .query(&AuditQuery::new().user(user))
        .await
        .expect("query");
    assert_eq!(records.len(), CALLS);
    let stored: HashMap<String, u16> = records
        .iter()
        .map(|r| (r.call_id.clone(), r.status_code))
        .collect();
    assert_eq!(stored, expected);
    let refused = records
        .iter()
        .filter(|r| r.execution_method == AuditRecord::REFUSED)
        .count();
    // Validation failures and unknown tools never ran; the tool error did.
    assert_eq!(refused, CALLS / 10 * 2);
    assert!(records.iter().all(|r| r.arguments.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_calls_give_ten_thousand_records_in_sqlite() {
    let db = TempDb::new("fact-audit-pipeline");
    let sink = Arc::new(SqlAuditSink::sqlite(db.path()).await.expect("SQLite opens"));
    run_load(sink.clone(), "load").await;
    sink.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_calls_give_ten_thousand_records_in_postgres() {
    let Some(url) = fact_tests::services::postgres_url("postgres audit pipeline") else {
        return;
    };
    let sink = Arc::new(
        SqlAuditSink::connect(&url)
            .await
            .expect("PostgreSQL reachable"),
    );
    run_load(sink.clone(), &unique("load")).await;
    sink.close().await;
}

#[tokio::test]
async fn a_record_describes_the_call_without_its_arguments() {
    let _ = fixtures::TOOL_NAMES;
    let db = TempDb::new("fact-audit-one");
    let sink = Arc::new(SqlAuditSink::sqlite(db.path()).await.expect("SQLite opens"));
    let log = AuditLog::start(sink.clone(), AuditConfig::default()).expect("valid config");
    let executor = ToolExecutor::builder().audit(log).build().expect("builds");
    let arguments = json!({"text": "my secret note"});
    let result = executor
        .execute_tool_call(
            ToolCall::new("Fixture_Echo", arguments.clone())
                .user("ada")
                .session("s1"),
        )
        .await;
    executor.shutdown().await.expect("written");
    let records = sink.query(&AuditQuery::new()).await.expect("query");
    let [record] = records.as_slice() else {
        panic!("expected one record, got {records:?}");
    };
    let digest = fact_runtime::audit::ArgumentsDigest::of(&arguments, false);
    assert_eq!(record.call_id, result.call_id);
    assert_eq!(record.tool_name, "Fixture.Echo");
    assert_eq!(record.user_id.as_deref(), Some("ada"));
    assert_eq!(record.session_id.as_deref(), Some("s1"));
    assert_eq!(record.status_code, 200);
    assert_eq!(record.error_type, None);
    assert_eq!(record.execution_method, AuditRecord::LOCAL);
    assert_eq!(record.arguments_sha256, digest.sha256);
    assert_eq!(record.arguments_size, digest.size);
    assert_eq!(record.arguments, None);
    assert!(!format!("{record:?}").contains("secret note"));
    sink.close().await;
}
