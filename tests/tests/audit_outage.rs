//! PostgreSQL really stopped and started again under load, on a private cluster of the test's
//! own (the shared one is never disturbed): nothing lost, nothing duplicated, the executor
//! stays up and writes again on its own. With `answered` durability, calls during the outage
//! are refused with 503 and no call is answered 200 without a committed record; with `queued`
//! durability they are answered and their records written once the database is back. The
//! backlog gauge rises during the outage and falls to 0 after.
//!
//! The two load tests run one at a time: the Prometheus gauge is one per process.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use fact_runtime::audit::{
    AUDIT_BACKLOG_RECORDS, AuditConfig, AuditDurability, AuditLog, AuditQuery, AuditRecord,
    SqlAuditSink,
};
use fact_runtime::metrics::PrometheusExporter;
use fact_runtime::{ToolCall, ToolDefinition, ToolExecutor};
use fact_tests::audit_sinks::ObservedSink;
use fact_tests::private_postgres::{PrivatePostgres, StopMode};
use serde_json::json;
use tokio::task::JoinHandle;

/// Callers in the load, each making one call every [`PACE`].
const WORKERS: usize = 8;
/// Paces each caller, so that refusals during the outage (answered at once) do not flood
/// the log's channel; not a timing assumption of any assertion.
const PACE: Duration = Duration::from_millis(5);
/// The longest any phase of a test may take before it fails.
const PHASE_LIMIT: Duration = Duration::from_secs(60);

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Where the load is when a call is answered.
const BEFORE: u8 = 0;
const DURING: u8 = 1;
const AFTER: u8 = 2;

#[derive(Debug)]
struct Answer {
    call_id: String,
    status: u16,
    error_type: Option<String>,
    /// Whether the sink had committed the call's record when the answer came back.
    committed: bool,
    phase: u8,
}

/// Callers calling `Outage.Count` until stopped, and what they were answered.
struct Load {
    stop: Arc<AtomicBool>,
    phase: Arc<AtomicU8>,
    /// Answers 200 so far, per phase.
    ok: Arc<[AtomicUsize; 3]>,
    /// Answers 503 so far.
    refused: Arc<AtomicUsize>,
    callers: Vec<JoinHandle<Vec<Answer>>>,
}

impl Load {
    fn start(executor: &ToolExecutor, sink: &Arc<ObservedSink>, user: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let phase = Arc::new(AtomicU8::new(BEFORE));
        let ok: Arc<[AtomicUsize; 3]> = Arc::new(Default::default());
        let refused = Arc::new(AtomicUsize::new(0));
        let callers = (0..WORKERS)
            .map(|_| {
                let (executor, sink) = (executor.clone(), sink.clone());
                let (stop, phase, ok, refused) =
                    (stop.clone(), phase.clone(), ok.clone(), refused.clone());
                let user = user.to_owned();
                tokio::spawn(async move {
                    let mut answers = Vec::new();
                    let mut pace = tokio::time::interval(PACE);
                    while !stop.load(Ordering::SeqCst) {
                        pace.tick().await;
                        let call = ToolCall::new("Outage.Count", json!({})).user(&user);
                        let result = executor.execute_tool_call(call).await;
                        let committed = sink.is_committed(&result.call_id);
                        let now = phase.load(Ordering::SeqCst);
                        match result.status_code {
                            200 => ok[usize::from(now)].fetch_add(1, Ordering::SeqCst),
                            _ => refused.fetch_add(1, Ordering::SeqCst),
                        };
                        answers.push(Answer {
                            call_id: result.call_id,
                            status: result.status_code,
                            error_type: result.metadata.error_type.map(Into::into),
                            committed,
                            phase: now,
                        });
                    }
                    answers
                })
            })
            .collect();
        Self {
            stop,
            phase,
            ok,
            refused,
            callers,
        }
    }

    fn ok(&self, phase: u8) -> usize {
        self.ok[usize::from(phase)].load(Ordering::SeqCst)
    }

    async fn finish(self) -> Vec<Answer> {
        self.stop.store(true, Ordering::SeqCst);
        let mut answers = Vec::new();
        for caller in self.callers {
            answers.extend(caller.await.expect("caller finished"));
        }
        answers
    }
}

/// Polls `condition` until it holds; fails the test, saying `what`, past [`PHASE_LIMIT`].
async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PHASE_LIMIT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up after {PHASE_LIMIT:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The backlog gauge as `/metrics` shows it.
fn backlog_gauge(exporter: &PrometheusExporter) -> f64 {
    let text = exporter.render();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{AUDIT_BACKLOG_RECORDS} ")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {AUDIT_BACKLOG_RECORDS} in:\n{text}"))
}

/// A tool that counts its runs: a call refused up front never runs it.
fn counting_tool(runs: Arc<AtomicUsize>) -> ToolDefinition {
    fact_tests::fixtures::counting_tool("Outage.Count", runs)
}

/// What a load through an outage left: the answers, the tool's runs, the stored records.
struct Outcome {
    answers: Vec<Answer>,
    runs: usize,
    stored: Vec<AuditRecord>,
}

/// Starts a private cluster, runs the load with `durability`, stops PostgreSQL (`mode`) once
/// calls succeed, waits until the outage shows (refusals in `answered` mode, answers in
/// `queued` mode, and the backlog gauge above 0), starts it again, waits until calls succeed
/// again, and shuts the log down. `None` when PostgreSQL is not installed (skipped).
async fn load_through_an_outage(
    test: &'static str,
    durability: AuditDurability,
    mode: StopMode,
) -> Option<Outcome> {
    let postgres = tokio::task::spawn_blocking(move || PrivatePostgres::start(test))
        .await
        .expect("cluster task")?;
    let postgres = Arc::new(postgres);
    let exporter = PrometheusExporter::install().expect("the Prometheus recorder");
    let sql = Arc::new(
        SqlAuditSink::connect(&postgres.url())
            .await
            .expect("the private cluster answers"),
    );
    let sink = Arc::new(ObservedSink::new(sql.clone()));
    let config = AuditConfig::default()
        .durability(durability)
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .commit_timeout(Duration::from_secs(1));
    let log = AuditLog::start(sink.clone(), config).expect("valid config");
    let runs = Arc::new(AtomicUsize::new(0));
    let executor = ToolExecutor::builder()
        .register(counting_tool(runs.clone()))
        .audit(log.clone())
        .build()
        .expect("executor builds");

    let load = Load::start(&executor, &sink, "outage");
    wait_until("calls succeed", || load.ok(BEFORE) >= 100).await;

    let refused_before = load.refused.load(Ordering::SeqCst);
    load.phase.store(DURING, Ordering::SeqCst);
    let stopping = postgres.clone();
    tokio::task::spawn_blocking(move || stopping.stop(mode))
        .await
        .expect("stop task");
    match durability {
        AuditDurability::Answered => {
            wait_until("calls are refused", || {
                load.refused.load(Ordering::SeqCst) >= refused_before + 50
            })
            .await;
        }
        _ => wait_until("calls are answered", || load.ok(DURING) >= 200).await,
    }
    wait_until("the backlog gauge rises", || backlog_gauge(&exporter) > 0.0).await;
    assert!(log.stats().backlog > 0);

    let starting = postgres.clone();
    tokio::task::spawn_blocking(move || starting.start_again())
        .await
        .expect("start task");
    load.phase.store(AFTER, Ordering::SeqCst);
    wait_until("calls succeed again", || load.ok(AFTER) >= 100).await;
    let answers = load.finish().await;

    let stats = tokio::time::timeout(PHASE_LIMIT, log.shutdown())
        .await
        .expect("the backlog is written once the database is back")
        .expect("shutdown");
    // Whether a write attempt failed is the outage's timing, not the log's promise: an attempt
    // under way may wait through a short outage for its connection (up to 5 s) and succeed.
    // What is promised is below: everything written, once, and the backlog back to 0.
    assert_eq!(stats.backlog, 0);
    assert_eq!(backlog_gauge(&exporter), 0.0, "the gauge falls back to 0");
    let stored = sql
        .query(&AuditQuery::new().user("outage"))
        .await
        .expect("query");
    sql.close().await;
    Some(Outcome {
        answers,
        runs: runs.load(Ordering::SeqCst),
        stored,
    })
}

/// Exactly one stored record per answered call, and none for any other call id.
fn assert_one_record_per_call(outcome: &Outcome) -> HashMap<&str, &AuditRecord> {
    let stored: HashMap<&str, &AuditRecord> = outcome
        .stored
        .iter()
        .map(|record| (record.call_id.as_str(), record))
        .collect();
    assert_eq!(
        stored.len(),
        outcome.stored.len(),
        "a call id is stored twice"
    );
    let answered: HashSet<&str> = outcome.answers.iter().map(|a| a.call_id.as_str()).collect();
    assert_eq!(answered.len(), outcome.answers.len());
    let missing: Vec<_> = answered
        .iter()
        .filter(|id| !stored.contains_key(**id))
        .collect();
    assert!(missing.is_empty(), "calls without a record: {missing:?}");
    assert_eq!(
        stored.len(),
        answered.len(),
        "records of calls never answered"
    );
    stored
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_mode_refuses_calls_while_postgres_is_down_and_loses_nothing() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(outcome) = load_through_an_outage(
        "answered outage",
        AuditDurability::Answered,
        StopMode::Immediate,
    )
    .await
    else {
        return;
    };
    let stored = assert_one_record_per_call(&outcome);

    let mut statuses: HashMap<(u16, Option<&str>), usize> = HashMap::new();
    for answer in &outcome.answers {
        *statuses
            .entry((answer.status, answer.error_type.as_deref()))
            .or_default() += 1;
        match answer.status {
            200 => assert!(
                answer.committed,
                "call {} was answered 200 before its record was committed",
                answer.call_id
            ),
            503 => assert_ne!(answer.phase, BEFORE, "a refusal before the outage"),
            other => panic!("unexpected status {other}: {answer:?}"),
        }
    }
    eprintln!("answers by status and error type: {statuses:?}");
    let unavailable = statuses
        .get(&(503, Some("ServiceUnavailableError")))
        .copied()
        .unwrap_or(0);
    assert!(unavailable >= 50, "{statuses:?}");
    // A refused call never ran its tool; every other call did, and its record says so.
    let ran = outcome
        .answers
        .iter()
        .filter(|a| a.error_type.as_deref() != Some("ServiceUnavailableError"))
        .count();
    assert_eq!(outcome.runs, ran, "{statuses:?}");
    for answer in &outcome.answers {
        let record = stored[answer.call_id.as_str()];
        if answer.error_type.as_deref() == Some("ServiceUnavailableError") {
            assert_eq!(
                (record.status_code, record.execution_method.as_str()),
                (503, AuditRecord::REFUSED)
            );
        } else {
            assert_eq!(
                (record.status_code, record.execution_method.as_str()),
                (200, AuditRecord::LOCAL)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_mode_answers_while_postgres_is_down_and_writes_every_record_later() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(outcome) =
        load_through_an_outage("queued outage", AuditDurability::Queued, StopMode::Fast).await
    else {
        return;
    };
    assert_one_record_per_call(&outcome);
    let not_ok: Vec<_> = outcome.answers.iter().filter(|a| a.status != 200).collect();
    assert!(not_ok.is_empty(), "{not_ok:?}");
    let during = outcome.answers.iter().filter(|a| a.phase == DURING).count();
    eprintln!(
        "{} answers, {during} during the outage",
        outcome.answers.len()
    );
    assert!(during >= 200, "answered during the outage: {during}");
    assert_eq!(outcome.runs, outcome.answers.len());
}

#[tokio::test]
async fn a_postgres_table_of_the_previous_version_with_duplicates_is_deduplicated() {
    let Some(postgres) =
        tokio::task::spawn_blocking(|| PrivatePostgres::start("postgres previous table"))
            .await
            .expect("cluster task")
    else {
        return;
    };
    fact_tests::audit_tables::previous_table_with_duplicates_is_deduplicated_and_keyed(
        &postgres.url(),
    )
    .await;
}
