//! Audit durability (docs/ARCHITECTURE.md, "Audit log"): with `answered` durability a result
//! leaves the executor only once its record is committed, exactly one record per call id;
//! while the writer fails, calls are refused up front and a call whose tool ran is answered
//! 503 past the commit timeout; records are keyed by call id, so a batch retried after a lost
//! acknowledgement is stored once, and a table of an earlier version holding duplicates is
//! cleaned when a sink opens it.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fact_runtime::audit::{
    AuditConfig, AuditDurability, AuditLog, AuditQuery, AuditRecord, AuditSink, SqlAuditSink,
};
use fact_runtime::{ToolCall, ToolDefinition, ToolExecutor};
use fact_tests::audit_sinks::{MemorySink, ObservedSink};
use fact_tests::audit_tables::previous_table_with_duplicates_is_deduplicated_and_keyed;
use fact_tests::scratch::{TempDb, unique};
use serde_json::json;

/// Calls at once in the load tests: enough for batches of many records.
const CALLS: usize = 2_000;

/// A tool that counts its runs: a call refused up front never runs it.
fn counting_tool(runs: Arc<AtomicUsize>) -> ToolDefinition {
    fact_tests::fixtures::counting_tool("Durable.Count", runs)
}

fn answered(config: AuditConfig) -> AuditConfig {
    config.durability(AuditDurability::Answered)
}

fn executor(log: AuditLog, runs: Arc<AtomicUsize>) -> ToolExecutor {
    ToolExecutor::builder()
        .register(counting_tool(runs))
        .audit(log)
        .build()
        .expect("executor builds")
}

/// Runs [`CALLS`] calls at once as `user`; each caller checks, the moment its result is
/// returned, that the sink has committed its record. Returns the call ids.
async fn every_answer_finds_its_record_committed(
    sink: Arc<ObservedSink>,
    executor: &ToolExecutor,
    user: &str,
) -> HashSet<String> {
    let callers: Vec<_> = (0..CALLS)
        .map(|_| {
            let executor = executor.clone();
            let sink = sink.clone();
            let call = ToolCall::new("Durable.Count", json!({})).user(user);
            tokio::spawn(async move {
                let result = executor.execute_tool_call(call).await;
                assert_eq!(result.status_code, 200, "{result:?}");
                assert!(
                    sink.is_committed(&result.call_id),
                    "call {} was answered before its record was committed",
                    result.call_id
                );
                result.call_id
            })
        })
        .collect();
    let mut ids = HashSet::new();
    for caller in callers {
        ids.insert(caller.await.expect("caller finished"));
    }
    assert_eq!(ids.len(), CALLS);
    ids
}

/// The stored records of `user`: exactly one per id of `ids`, and nothing else.
async fn assert_one_record_each(sink: &SqlAuditSink, user: &str, ids: &HashSet<String>) {
    let records = sink
        .query(&AuditQuery::new().user(user))
        .await
        .expect("query");
    let stored: Vec<&str> = records.iter().map(|r| r.call_id.as_str()).collect();
    let distinct: HashSet<&str> = stored.iter().copied().collect();
    assert_eq!(stored.len(), distinct.len(), "a call id is stored twice");
    assert_eq!(
        distinct,
        ids.iter().map(String::as_str).collect::<HashSet<_>>()
    );
}

async fn answered_load(sql: Arc<SqlAuditSink>, user: &str) {
    let sink = Arc::new(ObservedSink::new(sql.clone()));
    let config = answered(AuditConfig::default().channel_capacity(256));
    let log = AuditLog::start(sink.clone(), config).expect("valid config");
    let runs = Arc::new(AtomicUsize::new(0));
    let executor = executor(log.clone(), runs.clone());
    let ids = every_answer_finds_its_record_committed(sink, &executor, user).await;
    let stats = log.shutdown().await.expect("shutdown");
    assert_eq!(stats.written, CALLS as u64);
    assert_eq!(stats.backlog, 0);
    // Group commit: many calls' records per transaction.
    assert!(stats.batches < CALLS as u64 / 4, "{stats:?}");
    assert_eq!(runs.load(Ordering::SeqCst), CALLS);
    assert_one_record_each(&sql, user, &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_calls_return_only_committed_records_one_per_call_in_sqlite() {
    let db = TempDb::new("fact-audit-answered");
    let sink = Arc::new(SqlAuditSink::sqlite(db.path()).await.expect("SQLite opens"));
    answered_load(sink.clone(), "answered").await;
    sink.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_calls_return_only_committed_records_one_per_call_in_postgres() {
    let Some(sink) = fact_tests::services::postgres_audit_sink("postgres answered load").await
    else {
        return;
    };
    answered_load(sink.clone(), &unique("answered")).await;
    sink.close().await;
}

fn record(call_id: String, user: &str) -> AuditRecord {
    AuditRecord {
        call_id,
        timestamp: 1_700_000_000.0,
        tool_name: "Durable.Count".into(),
        user_id: Some(user.into()),
        session_id: None,
        status_code: 200,
        error_type: None,
        duration_ms: 0.5,
        execution_method: AuditRecord::LOCAL.into(),
        arguments_sha256: "0".repeat(64),
        arguments_size: 2,
        arguments: None,
    }
}

/// The sink commits the first batch and its acknowledgement is lost: the writer retries the
/// same records, and the store keeps each once.
async fn a_retried_batch_is_stored_once(sql: Arc<SqlAuditSink>, user: &str) {
    let sink = Arc::new(ObservedSink::new(sql.clone()));
    sink.lose_acks(1);
    let config =
        AuditConfig::default().retry_backoff(Duration::from_millis(1), Duration::from_millis(1));
    let log = AuditLog::start(sink.clone(), config).expect("valid config");
    let ids: HashSet<String> = (0..100).map(|n| format!("{}-{n}", unique(user))).collect();
    for id in &ids {
        log.record(record(id.clone(), user)).await.expect("open");
    }
    let stats = log.shutdown().await.expect("shutdown");
    assert!(
        stats.failed_attempts >= 1,
        "no acknowledgement was lost: {stats:?}"
    );
    assert_one_record_each(&sql, user, &ids).await;
}

#[tokio::test]
async fn a_batch_retried_after_a_lost_acknowledgement_is_stored_once_in_sqlite() {
    let db = TempDb::new("fact-audit-lost-ack");
    let sink = Arc::new(SqlAuditSink::sqlite(db.path()).await.expect("SQLite opens"));
    a_retried_batch_is_stored_once(sink.clone(), "lost-ack").await;
    sink.close().await;
}

#[tokio::test]
async fn a_batch_retried_after_a_lost_acknowledgement_is_stored_once_in_postgres() {
    let Some(sink) = fact_tests::services::postgres_audit_sink("postgres lost ack").await else {
        return;
    };
    a_retried_batch_is_stored_once(sink.clone(), &unique("lost-ack")).await;
    sink.close().await;
}

#[tokio::test]
async fn a_second_record_of_a_call_id_is_not_stored_and_the_first_stays() {
    let db = TempDb::new("fact-audit-same-id");
    let sink = SqlAuditSink::sqlite(db.path()).await.expect("SQLite opens");
    let first = record("same-id".into(), "ada");
    let mut second = record("same-id".into(), "ada");
    second.status_code = 500;
    sink.write_batch(std::slice::from_ref(&first))
        .await
        .expect("written");
    // In one batch beside a new id, and alone.
    sink.write_batch(&[second.clone(), record("other".into(), "ada")])
        .await
        .expect("a conflict is not an error");
    sink.write_batch(&[second])
        .await
        .expect("a conflict is not an error");
    let found = sink
        .query(&AuditQuery::new().user("ada"))
        .await
        .expect("query");
    let ids: Vec<_> = found
        .iter()
        .map(|r| (r.call_id.as_str(), r.status_code))
        .collect();
    assert_eq!(ids, [("other", 200), ("same-id", 200)]);
    sink.close().await;
}

#[tokio::test]
async fn a_sqlite_table_of_the_previous_version_with_duplicates_is_deduplicated() {
    let db = TempDb::new("fact-audit-previous");
    previous_table_with_duplicates_is_deduplicated_and_keyed(&format!("{}?mode=rwc", db.url()))
        .await;
}

/// The writer fails its first write and waits an hour to retry; the commit timeout is a
/// second. Time is tokio's paused clock: nothing here waits for real.
#[tokio::test(start_paused = true)]
async fn while_the_writer_fails_calls_are_refused_up_front_and_a_ran_call_is_withheld() {
    let sink = Arc::new(MemorySink::failing_first(1));
    let config = answered(AuditConfig::default())
        .retry_backoff(Duration::from_secs(3600), Duration::from_secs(3600))
        .commit_timeout(Duration::from_secs(1));
    let log = AuditLog::start(sink.clone(), config).expect("valid config");
    let runs = Arc::new(AtomicUsize::new(0));
    let executor = executor(log.clone(), runs.clone());
    let call = || ToolCall::new("Durable.Count", json!({})).user("ada");

    // The tool runs; the record's write fails; past the commit timeout the answer is withheld.
    let ran = executor.execute_tool_call(call()).await;
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(ran.status_code, 503, "{ran:?}");
    assert_eq!(
        ran.metadata.error_type.as_deref(),
        Some("AuditUnavailableError")
    );
    assert_eq!(
        ran.metadata.retry_after_ms, None,
        "the tool ran: no blind retry"
    );
    assert!(ran.data.is_none());
    assert!(!log.is_writing());

    // While the writer is failing, a call is refused before any stage: the tool never runs.
    let refused = executor.execute_tool_call(call()).await;
    assert_eq!(refused.status_code, 503, "{refused:?}");
    assert_eq!(
        refused.metadata.error_type.as_deref(),
        Some("ServiceUnavailableError")
    );
    assert_eq!(refused.metadata.retry_after_ms, Some(1000));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(log.stats().backlog, 2);

    // The writer's retry succeeds: both records are written, and calls are served again.
    log.flush().await.expect("flushed");
    assert!(log.is_writing());
    let served = executor.execute_tool_call(call()).await;
    assert_eq!(served.status_code, 200, "{served:?}");
    assert_eq!(runs.load(Ordering::SeqCst), 2);

    let stats = log.shutdown().await.expect("shutdown");
    assert_eq!((stats.failed_attempts, stats.backlog), (1, 0));
    let records = sink.records();
    let outcomes: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r.call_id.as_str(),
                r.status_code,
                r.execution_method.as_str(),
            )
        })
        .collect();
    // The withheld call's record says what the tool did; the refusal's that it never ran.
    assert_eq!(
        outcomes,
        [
            (ran.call_id.as_str(), 200, AuditRecord::LOCAL),
            (refused.call_id.as_str(), 503, AuditRecord::REFUSED),
            (served.call_id.as_str(), 200, AuditRecord::LOCAL),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn queued_calls_are_answered_while_the_writer_fails_and_written_later() {
    let sink = Arc::new(MemorySink::failing_first(3));
    let config = AuditConfig::default()
        .retry_backoff(Duration::from_millis(100), Duration::from_millis(100));
    let log = AuditLog::start(sink.clone(), config).expect("valid config");
    assert_eq!(log.durability(), AuditDurability::Queued);
    let runs = Arc::new(AtomicUsize::new(0));
    let executor = executor(log.clone(), runs.clone());
    let mut ids = Vec::new();
    for _ in 0..5 {
        let result = executor
            .execute_tool_call(ToolCall::new("Durable.Count", json!({})))
            .await;
        assert_eq!(result.status_code, 200, "{result:?}");
        ids.push(result.call_id);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 5);
    let stats = log.shutdown().await.expect("shutdown");
    assert_eq!(
        (stats.failed_attempts, stats.backlog, stats.written),
        (3, 0, 5)
    );
    let written: Vec<_> = sink.records().into_iter().map(|r| r.call_id).collect();
    assert_eq!(written, ids);
}

#[tokio::test]
async fn after_shutdown_an_answered_log_refuses_calls_before_they_run() {
    let sink = Arc::new(MemorySink::default());
    let log = AuditLog::start(sink, answered(AuditConfig::default())).expect("valid config");
    let runs = Arc::new(AtomicUsize::new(0));
    let executor = executor(log.clone(), runs.clone());
    executor.shutdown().await.expect("shut down");
    let refused = executor
        .execute_tool_call(ToolCall::new("Durable.Count", json!({})))
        .await;
    assert_eq!(refused.status_code, 503, "{refused:?}");
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}
