//! The audit log end to end: every call gives exactly one record, in SQLite and PostgreSQL,
//! whatever the load, sink failures or shutdown; the query helper reads them back.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use fact_runtime::audit::{
    AuditConfig, AuditError, AuditLog, AuditQuery, AuditRecord, AuditSink, SqlAuditSink,
};
use fact_tests::audit_sinks::MemorySink;
use fact_tests::scratch::{TempDb, unique};
use futures::FutureExt;
use serde_json::json;

const CALLS: usize = 10_000;

fn record(call_id: impl Into<String>, user: &str, tool: &str, timestamp: f64) -> AuditRecord {
    AuditRecord {
        call_id: call_id.into(),
        timestamp,
        tool_name: tool.into(),
        user_id: Some(user.into()),
        session_id: Some("session-1".into()),
        status_code: 200,
        error_type: None,
        duration_ms: 1.5,
        execution_method: AuditRecord::LOCAL.into(),
        arguments_sha256: "0".repeat(64),
        arguments_size: 2,
        arguments: None,
    }
}

/// Sends [`CALLS`] records for `user` at once, one task each, through a channel of 64.
async fn record_concurrently(sink: Arc<SqlAuditSink>, user: &str) -> AuditLog {
    let log =
        AuditLog::start(sink, AuditConfig::default().channel_capacity(64)).expect("valid config");
    let callers: Vec<_> = (0..CALLS)
        .map(|n| {
            let log = log.clone();
            let timestamp = 1_700_000_000.0 + n as f64 / 1000.0;
            let record = record(format!("{user}-{n}"), user, "Test.Load", timestamp);
            tokio::spawn(async move { log.record(record).await.expect("the log is open") })
        })
        .collect();
    for caller in callers {
        caller.await.expect("caller finished");
    }
    log
}

async fn assert_exactly_once(sink: &SqlAuditSink, log: AuditLog, user: &str) {
    let stats = log.shutdown().await.expect("shutdown");
    assert_eq!(stats.written, CALLS as u64);
    let query = AuditQuery::new().user(user);
    assert_eq!(sink.count(&query).await.expect("count"), CALLS as u64);
    let records = sink.query(&query).await.expect("query");
    let ids: HashSet<_> = records.iter().map(|r| r.call_id.as_str()).collect();
    let expected: HashSet<_> = (0..CALLS).map(|n| format!("{user}-{n}")).collect();
    assert_eq!(ids, expected.iter().map(String::as_str).collect());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_calls_give_ten_thousand_sqlite_rows() {
    let db = TempDb::new("fact-audit");
    let sink = Arc::new(SqlAuditSink::sqlite(db.path()).await.expect("SQLite opens"));
    let log = record_concurrently(sink.clone(), "load").await;
    assert_exactly_once(&sink, log, "load").await;
    sink.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_calls_give_ten_thousand_postgres_rows() {
    let Some(sink) = fact_tests::services::postgres_audit_sink("postgres audit load").await else {
        return;
    };
    // Rows of earlier runs stay in the shared table; this run's user tells ours apart.
    let user = unique("load");
    let log = record_concurrently(sink.clone(), &user).await;
    assert_exactly_once(&sink, log, &user).await;
    sink.close().await;
}

#[tokio::test]
async fn a_failing_sink_loses_no_record() {
    let sink = Arc::new(MemorySink::failing_first(3));
    let config = AuditConfig::default()
        .channel_capacity(16)
        .batch_size(8)
        .retry_backoff(Duration::from_millis(1), Duration::from_millis(2));
    let log = AuditLog::start(sink.clone(), config).expect("valid config");
    for n in 0..100 {
        log.record(record(format!("c{n}"), "u", "T.t", f64::from(n)))
            .await
            .expect("the log is open");
    }
    let stats = log.shutdown().await.expect("shutdown");

    assert_eq!(stats.failed_attempts, 3);
    assert_eq!(stats.written, 100);
    let ids: Vec<_> = sink.records().into_iter().map(|r| r.call_id).collect();
    assert_eq!(ids, (0..100).map(|n| format!("c{n}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_full_channel_makes_the_caller_wait_instead_of_dropping() {
    let sink = Arc::new(MemorySink::default());
    sink.hold(true);
    let config = AuditConfig::default().channel_capacity(1).batch_size(1);
    let log = AuditLog::start(sink.clone(), config).expect("valid config");

    log.record(record("first", "u", "T.t", 1.0))
        .await
        .expect("room");
    sink.writing().await; // the writer holds "first"; the channel is empty
    log.record(record("second", "u", "T.t", 2.0))
        .await
        .expect("room");
    let mut third = Box::pin(log.record(record("third", "u", "T.t", 3.0)));
    assert!(
        third.as_mut().now_or_never().is_none(),
        "record() must wait while the channel is full"
    );

    sink.hold(false);
    third.await.expect("room after the gate opened");
    let stats = log.shutdown().await.expect("shutdown");
    assert_eq!(stats.written, 3);
    assert_eq!(sink.records().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn records_nobody_waits_for_linger_then_commit_as_one_batch() {
    let sink = Arc::new(MemorySink::default());
    let config = AuditConfig::default().linger(Duration::from_millis(50));
    let log = AuditLog::start(sink.clone(), config).expect("valid config");
    for n in 0..3 {
        log.record(record(format!("c{n}"), "u", "T.t", 1.0))
            .await
            .expect("open");
    }
    // The clock is paused: it moves only to the next timer when every task waits.
    tokio::time::sleep(Duration::from_millis(40)).await;
    assert!(sink.records().is_empty(), "written before the linger ended");
    log.record(record("c3", "u", "T.t", 1.0))
        .await
        .expect("open");
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(sink.records().len(), 4, "not written once the linger ended");
    let stats = log.shutdown().await.expect("shutdown");
    assert_eq!((stats.written, stats.batches), (4, 1));
}

#[tokio::test(start_paused = true)]
async fn a_flush_a_full_batch_and_a_committed_record_do_not_linger() {
    let sink = Arc::new(MemorySink::default());
    let config = AuditConfig::default()
        .batch_size(4)
        .linger(Duration::from_secs(3600));
    let log = AuditLog::start(sink.clone(), config).expect("valid config");
    let started = tokio::time::Instant::now();

    log.record(record("flushed", "u", "T.t", 1.0))
        .await
        .expect("open");
    log.flush().await.expect("flushed");
    assert_eq!(sink.records().len(), 1);

    for n in 0..4 {
        log.record(record(format!("full{n}"), "u", "T.t", 1.0))
            .await
            .expect("open");
    }
    while sink.records().len() < 5 {
        tokio::task::yield_now().await;
        assert_eq!(started.elapsed(), Duration::ZERO, "a full batch waited");
    }

    log.record(record("before", "u", "T.t", 1.0))
        .await
        .expect("open");
    log.record_committed(record("committed", "u", "T.t", 1.0))
        .await
        .expect("committed");
    let ids: Vec<_> = sink.records().into_iter().map(|r| r.call_id).collect();
    assert_eq!(&ids[5..], ["before", "committed"]);

    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "something waited for the linger"
    );
    let stats = log.shutdown().await.expect("shutdown");
    assert_eq!((stats.written, stats.batches), (7, 3));
}

#[tokio::test]
async fn flush_makes_earlier_records_visible() {
    let db = TempDb::new("fact-audit");
    let sink = Arc::new(SqlAuditSink::sqlite(db.path()).await.expect("SQLite opens"));
    let log = AuditLog::start(sink.clone(), AuditConfig::default()).expect("valid config");
    for n in 0..3 {
        log.record(record(format!("c{n}"), "u", "T.t", 1.0))
            .await
            .expect("open");
    }
    log.flush().await.expect("flushed");
    assert_eq!(sink.count(&AuditQuery::new()).await.expect("count"), 3);
    log.shutdown().await.expect("shutdown");
    sink.close().await;
}

#[tokio::test]
async fn shutdown_writes_every_accepted_record() {
    let db = TempDb::new("fact-audit");
    let sink = Arc::new(SqlAuditSink::sqlite(db.path()).await.expect("SQLite opens"));
    let log = AuditLog::start(sink.clone(), AuditConfig::default()).expect("valid config");
    for n in 0..1000 {
        log.record(record(format!("c{n}"), "u", "T.t", 1.0))
            .await
            .expect("open");
    }
    let stats = log.shutdown().await.expect("shutdown");
    assert_eq!(stats.written, 1000);
    assert_eq!(sink.count(&AuditQuery::new()).await.expect("count"), 1000);
    sink.close().await;
}

#[tokio::test]
async fn after_shutdown_records_are_refused_and_shutdown_repeats_its_answer() {
    let sink = Arc::new(MemorySink::default());
    let log = AuditLog::start(sink.clone(), AuditConfig::default()).expect("valid config");
    log.record(record("before", "u", "T.t", 1.0))
        .await
        .expect("open");
    let first = log.shutdown().await.expect("shutdown");

    let refused = log.clone().record(record("after", "u", "T.t", 2.0)).await;
    assert!(matches!(refused, Err(AuditError::Closed)), "{refused:?}");
    assert!(matches!(log.flush().await, Err(AuditError::Closed)));
    assert_eq!(log.shutdown().await.expect("shutdown again"), first);
    let kept = sink.records();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].call_id, "before");
}

#[tokio::test]
async fn query_by_user_tool_and_time_range_returns_exactly_the_matches_in_time_order() {
    let db = TempDb::new("fact-audit");
    let sink = SqlAuditSink::sqlite(db.path()).await.expect("SQLite opens");
    let t0 = 1_700_000_000.0;
    // Written out of time order, to show that results are sorted.
    let records = vec![
        record("a3", "alice", "Calc.Add", t0 + 3.0),
        record("a1", "alice", "Calc.Add", t0 + 1.0),
        record("a2", "alice", "Calc.Sub", t0 + 2.0),
        record("b1", "bob", "Calc.Add", t0 + 1.5),
        record("a0", "alice", "Calc.Add", t0),
        record("a4", "alice", "Calc.Add", t0 + 4.000_001),
    ];
    sink.write_batch(&records).await.expect("written");
    let ids = |found: Vec<AuditRecord>| found.into_iter().map(|r| r.call_id).collect::<Vec<_>>();

    let range = AuditQuery::new()
        .user("alice")
        .tool("Calc.Add")
        .since(t0 + 1.0)
        .until(t0 + 4.000_001);
    assert_eq!(ids(sink.query(&range).await.expect("query")), ["a1", "a3"]);
    assert_eq!(sink.count(&range).await.expect("count"), 2);

    let by_tool = AuditQuery::new().tool("Calc.Add");
    assert_eq!(
        ids(sink.query(&by_tool).await.expect("query")),
        ["a0", "a1", "b1", "a3", "a4"]
    );
    let first_two = by_tool.clone().limit(2);
    assert_eq!(
        ids(sink.query(&first_two).await.expect("query")),
        ["a0", "a1"]
    );
    assert_eq!(
        ids(sink
            .query(&AuditQuery::new().user("bob"))
            .await
            .expect("query")),
        ["b1"]
    );
    assert_eq!(
        sink.count(&AuditQuery::new().user("carol"))
            .await
            .expect("count"),
        0
    );
    sink.close().await;
}

#[tokio::test]
async fn a_record_reads_back_unchanged() {
    let db = TempDb::new("fact-audit");
    let sink = SqlAuditSink::sqlite(db.path()).await.expect("SQLite opens");
    let refused = AuditRecord {
        call_id: "refused-1".into(),
        timestamp: 1_700_000_000.123_456,
        tool_name: "No.Such".into(),
        user_id: None,
        session_id: None,
        status_code: 404,
        error_type: Some("ToolNotFoundError".into()),
        duration_ms: 0.0125,
        execution_method: AuditRecord::REFUSED.into(),
        arguments_sha256: "ab".repeat(32),
        arguments_size: u64::from(u32::MAX) + 1,
        arguments: Some(r#"{"x":"é & 'quoted'"}"#.into()),
    };
    sink.write_batch(std::slice::from_ref(&refused))
        .await
        .expect("written");
    let found = sink.query(&AuditQuery::new()).await.expect("query");
    assert_eq!(found, [refused]);
    sink.close().await;
}

async fn stored_arguments(include_arguments: bool) -> (Option<String>, String, u64) {
    let db = TempDb::new("fact-audit");
    let sink = Arc::new(SqlAuditSink::sqlite(db.path()).await.expect("SQLite opens"));
    let config = AuditConfig::default().include_arguments(include_arguments);
    let log = AuditLog::start(sink.clone(), config).expect("valid config");
    let digest = log.digest(&json!({"path": "notes/a.txt", "limit": 10}));
    let mut call = record("c1", "u", "Fs.Read", 1.0);
    call.arguments_sha256 = digest.sha256;
    call.arguments_size = digest.size;
    call.arguments = digest.raw;
    log.record(call).await.expect("open");
    log.shutdown().await.expect("shutdown");
    let mut found = sink.query(&AuditQuery::new()).await.expect("query");
    sink.close().await;
    let stored = found.pop().expect("one record");
    (
        stored.arguments,
        stored.arguments_sha256,
        stored.arguments_size,
    )
}

#[tokio::test]
async fn raw_arguments_are_stored_only_when_configured() {
    let (without, digest_without, size_without) = stored_arguments(false).await;
    let (with, digest_with, size_with) = stored_arguments(true).await;
    assert_eq!(without, None);
    assert_eq!(
        with.as_deref(),
        Some(r#"{"path":"notes/a.txt","limit":10}"#)
    );
    assert_eq!(digest_without, digest_with);
    assert_eq!(size_without, size_with);
    assert_eq!(size_with, 33);
}

#[tokio::test]
async fn an_invalid_config_is_refused_at_start() {
    let started = AuditLog::start(
        Arc::new(MemorySink::default()),
        AuditConfig::default().batch_size(0),
    );
    assert!(matches!(started, Err(AuditError::InvalidConfig(_))));
}

/// Records a call whose caller-given names hold NUL, which PostgreSQL refuses in text, beside
/// an ordinary one, and checks that both are written (not retried forever, holding up the log)
/// and found again by the names given.
async fn nul_in_names_is_stored_not_refused(sink: Arc<SqlAuditSink>) {
    let user = format!("{}\0x", unique("nul-user"));
    // Call ids are unique in the table: a fixed one would be stored by the first run only.
    let odd_id = format!("{}\0id", unique("odd"));
    let mut odd = record(odd_id.clone(), &user, "No\0Such.Tool", 1.0);
    odd.session_id = Some("s\0".into());
    let ordinary = record(unique("ordinary"), &user, "T.t", 2.0);
    let log = AuditLog::start(sink.clone(), AuditConfig::default()).expect("valid config");
    log.record(odd).await.expect("open");
    log.record(ordinary.clone()).await.expect("open");
    let stats = tokio::time::timeout(Duration::from_secs(30), log.shutdown())
        .await
        .expect("the batch is written, not retried forever")
        .expect("shutdown");
    assert_eq!(stats.failed_attempts, 0);

    let found = sink
        .query(&AuditQuery::new().user(&user))
        .await
        .expect("query");
    let stored_user = user.replace('\0', "\u{FFFD}");
    let names: Vec<_> = found
        .iter()
        .map(|r| {
            (
                r.call_id.as_str(),
                r.tool_name.as_str(),
                r.user_id.as_deref(),
                r.session_id.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            (
                odd_id.replace('\0', "\u{FFFD}").as_str(),
                "No\u{FFFD}Such.Tool",
                Some(stored_user.as_str()),
                Some("s\u{FFFD}")
            ),
            (
                ordinary.call_id.as_str(),
                "T.t",
                Some(stored_user.as_str()),
                Some("session-1")
            ),
        ]
    );
}

#[tokio::test]
async fn a_nul_in_a_callers_names_is_stored_in_sqlite() {
    let db = TempDb::new("fact-audit");
    let sink = Arc::new(SqlAuditSink::sqlite(db.path()).await.expect("SQLite opens"));
    nul_in_names_is_stored_not_refused(sink.clone()).await;
    sink.close().await;
}

#[tokio::test]
async fn a_nul_in_a_callers_names_is_stored_in_postgres() {
    let Some(sink) = fact_tests::services::postgres_audit_sink("postgres audit NUL").await else {
        return;
    };
    nul_in_names_is_stored_not_refused(sink.clone()).await;
    sink.close().await;
}
