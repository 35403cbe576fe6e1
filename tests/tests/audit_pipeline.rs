//! The executor's record stage writes one audit record per call, refused, failed, timed-out and
//! cancelled calls included: 10,000 concurrent calls through the whole pipeline give exactly
//! 10,000 records, in SQLite and in PostgreSQL.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use fact_runtime::audit::{AuditConfig, AuditLog, AuditQuery, AuditRecord, SqlAuditSink};
use fact_runtime::auth::Grant;
use fact_runtime::{AccessToken, ManualClock, ToolCall, ToolError, ToolExecutor, ToolInfo};
use fact_tests::audit_sinks::MemorySink;
use fact_tests::fixtures;
use fact_tests::grants::manager_granting;
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

/// Runs [`CALLS`] calls at once, one task each, shuts the log down, and checks that the store
/// holds one record per call with the status each caller saw.
async fn run_load(sink: Arc<SqlAuditSink>, user: &str) {
    let _ = fixtures::TOOL_NAMES;
    let log = AuditLog::start(sink.clone(), AuditConfig::default().channel_capacity(256))
        .expect("valid config");
    let executor = ToolExecutor::builder().audit(log).build().expect("builds");
    // One task per call, all in flight at once, through a channel of 256.
    let tasks: Vec<_> = (0..CALLS)
        .map(|n| {
            let executor = executor.clone();
            let call = call(n, user);
            tokio::spawn(async move {
                let result = executor.execute_tool_call(call).await;
                (result.call_id, result.status_code)
            })
        })
        .collect();
    let mut expected: HashMap<String, u16> = HashMap::new();
    for task in tasks {
        let (call_id, status) = task.await.expect("task runs");
        expected.insert(call_id, status);
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
    let Some(sink) = fact_tests::services::postgres_audit_sink("postgres audit pipeline").await
    else {
        return;
    };
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

/// An executor with every stage on, auditing to memory: `Fixture.Private` needs `secrets.read`,
/// which `ada` has not granted (her grant covers `other`); `Fixture.Quota` allows 3 calls a
/// minute; validators of `Fixture.Sum` panic.
async fn every_stage(sink: Arc<MemorySink>, clock: &ManualClock) -> ToolExecutor {
    let _ = fixtures::TOOL_NAMES;
    let grant = Grant::new("ada", AccessToken::new("tok"), ["other"]);
    let manager = manager_granting(grant, Arc::new(clock.clone())).await;
    ToolExecutor::builder()
        .enable_rate_limiting(true)
        .clock(Arc::new(clock.clone()))
        .authorization(manager)
        .tool_validator(
            "Fixture.Sum",
            |_: &ToolInfo, _: &ToolCall| -> Result<(), ToolError> { panic!("validator bug") },
        )
        .audit(AuditLog::start(sink, AuditConfig::default()).expect("valid config"))
        .build()
        .expect("builds")
}

#[tokio::test(start_paused = true)]
async fn every_refusal_failure_and_timeout_is_recorded_with_its_status_and_stage() {
    let sink = Arc::new(MemorySink::default());
    let clock = ManualClock::new(Duration::from_secs(1_700_000_000));
    let executor = every_stage(sink.clone(), &clock).await;
    let mut calls = vec![
        ToolCall::new("Fixture.Private", json!({})).user("bob"),
        ToolCall::new("Fixture.Private", json!({})).user("ada"),
        ToolCall::new("Fixture.Echo", json!({"text": "x".repeat(10_001)})),
        ToolCall::new("Fixture.Slow", json!({"millis": 5_000})),
        ToolCall::new("Fixture.Panics", json!({"secret": "s"})),
        ToolCall::new("Fixture.Sum", json!({"values": [1]})),
    ];
    calls.extend((0..4).map(|_| ToolCall::new("Fixture.Quota", json!({})).user("ada")));
    let mut expected = Vec::new();
    for call in calls {
        let result = executor.execute_tool_call(call).await;
        expected.push((
            result.call_id,
            result.status_code,
            result.metadata.error_type.map(|t| t.into_owned()),
        ));
    }
    executor.shutdown().await.expect("written");

    let statuses: Vec<u16> = expected.iter().map(|(_, status, _)| *status).collect();
    assert_eq!(statuses, [401, 403, 403, 504, 500, 500, 200, 200, 200, 429]);
    let records = sink.records();
    let stored: Vec<_> = records
        .iter()
        .map(|r| (r.call_id.clone(), r.status_code, r.error_type.clone()))
        .collect();
    assert_eq!(stored, expected);
    let methods: Vec<&str> = records
        .iter()
        .map(|r| r.execution_method.as_str())
        .collect();
    assert_eq!(
        methods,
        [
            "refused", "refused", "refused", "local", "local", "refused", "local", "local",
            "local", "refused"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_panicking_validator_is_a_500_and_the_executor_keeps_serving() {
    let sink = Arc::new(MemorySink::default());
    let clock = ManualClock::new(Duration::from_secs(1_700_000_000));
    let executor = every_stage(sink.clone(), &clock).await;
    let result = executor
        .execute_tool_call(ToolCall::new("Fixture.Sum", json!({"values": [1, 2]})))
        .await;
    assert_eq!(result.status_code, 500);
    assert_eq!(
        result.error.as_deref(),
        Some(
            "Call of tool 'Fixture.Sum' failed: a validator or store of the pipeline panicked (see the server log)"
        )
    );
    let next = executor
        .execute_tool_call(ToolCall::new("Fixture.Echo", json!({"text": "still here"})))
        .await;
    assert_eq!(next.data, Some(json!("still here")));
}

#[tokio::test(start_paused = true)]
async fn a_call_dropped_before_its_answer_is_recorded_as_cancelled() {
    let sink = Arc::new(MemorySink::default());
    let clock = ManualClock::new(Duration::from_secs(1_700_000_000));
    let executor = every_stage(sink.clone(), &clock).await;
    let call = ToolCall::new("Fixture.Slow", json!({"millis": 800}))
        .user("ada")
        .session("s1");
    let call_id = call.call_id.clone();
    // The caller gives up after 100 ms, dropping the call's future mid-execution.
    let abandoned =
        tokio::time::timeout(Duration::from_millis(100), executor.execute_tool_call(call)).await;
    assert!(abandoned.is_err(), "the call should still be running");
    executor.shutdown().await.expect("written");

    let records = sink.records();
    let [record] = records.as_slice() else {
        panic!("expected one record, got {records:?}");
    };
    assert_eq!(record.call_id, call_id);
    assert_eq!(record.tool_name, "Fixture.Slow");
    assert_eq!(record.user_id.as_deref(), Some("ada"));
    assert_eq!(record.session_id.as_deref(), Some("s1"));
    assert_eq!(record.status_code, AuditRecord::CANCELLED_STATUS);
    assert_eq!(
        record.error_type.as_deref(),
        Some(AuditRecord::CANCELLED_ERROR_TYPE)
    );
    // It was dropped while the tool ran.
    assert_eq!(record.execution_method, AuditRecord::LOCAL);
}

#[tokio::test(start_paused = true)]
async fn an_answered_call_dropped_while_waiting_for_room_in_the_log_keeps_its_record() {
    let _ = fixtures::TOOL_NAMES;
    let sink = Arc::new(MemorySink::default());
    sink.hold(true);
    let config = AuditConfig::default().channel_capacity(1).batch_size(1);
    let log = AuditLog::start(sink.clone(), config).expect("valid config");
    let executor = ToolExecutor::builder().audit(log).build().expect("builds");
    let echo = |text: &str| ToolCall::new("Fixture.Echo", json!({"text": text}));

    // The writer holds the first record; the second fills the one-record channel.
    assert_eq!(
        executor.execute_tool_call(echo("first")).await.status_code,
        200
    );
    sink.writing().await;
    assert_eq!(
        executor.execute_tool_call(echo("second")).await.status_code,
        200
    );
    // The third is answered, then waits for room in the log, and its caller gives up.
    let third = echo("third");
    let third_id = third.call_id.clone();
    let abandoned = tokio::time::timeout(
        Duration::from_millis(100),
        executor.execute_tool_call(third),
    )
    .await;
    assert!(abandoned.is_err(), "the call should be waiting for room");

    sink.hold(false);
    executor.shutdown().await.expect("written");
    let records = sink.records();
    assert_eq!(records.len(), 3, "{records:?}");
    let third = records.iter().find(|r| r.call_id == third_id);
    let third = third.unwrap_or_else(|| panic!("no record of the third call in {records:?}"));
    // It was answered before its caller left: the record says how.
    assert_eq!(third.status_code, 200);
    assert_eq!(third.error_type, None);
    assert_eq!(third.execution_method, AuditRecord::LOCAL);
}
