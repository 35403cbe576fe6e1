//! Batches on a runtime of two worker threads, where `execute_tool_calls` spreads its calls
//! over both: input order, the concurrency bound (answers waiting count), both threads used,
//! panics and cancellation.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use fact_runtime::audit::{AuditConfig, AuditLog};
use fact_runtime::{AuditRecord, ToolCall, ToolDefinition, ToolExecutor};
use fact_tests::audit_sinks::MemorySink;
use futures::{FutureExt as _, StreamExt as _};
use serde_json::{Value, json};

/// How long a test waits for something a correct batch does at once.
const PATIENCE: Duration = Duration::from_secs(10);

fn executor_of(tool: ToolDefinition, bound: usize) -> ToolExecutor {
    ToolExecutor::builder()
        .discover_linked_tools(false)
        .register(tool)
        .max_concurrency(bound)
        .build()
        .expect("builds")
}

/// `Test.Index`: answers the `index` it is given.
fn index_tool() -> ToolDefinition {
    ToolDefinition::new(
        "Test.Index",
        "answers its index",
        json!({"type": "object"}),
        |_ctx, args: Value| async move { Ok(args["index"].clone()) },
    )
}

fn indexed_calls(tool: &str, count: usize) -> Vec<ToolCall> {
    (0..count)
        .map(|index| ToolCall::new(tool, json!({"index": index})))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spread_batch_answers_in_input_order() {
    let executor = executor_of(index_tool(), 8);
    let calls = indexed_calls("Test.Index", 500);
    let ids: Vec<String> = calls.iter().map(|call| call.call_id.clone()).collect();
    let results = executor.execute_tool_calls(calls).await;
    let answered: Vec<Value> = results
        .iter()
        .map(|r| r.data.clone().unwrap_or_default())
        .collect();
    let expected: Vec<Value> = (0..500).map(|index| json!(index)).collect();
    assert_eq!(answered, expected);
    let result_ids: Vec<String> = results.iter().map(|r| r.call_id.clone()).collect();
    assert_eq!(result_ids, ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spread_batch_keeps_failures_and_panics_to_their_own_calls() {
    let tool = ToolDefinition::new(
        "Test.Picky",
        "fails on odd indexes, panics on 3",
        json!({"type": "object"}),
        |_ctx, args: Value| async move {
            match args["index"].as_u64() {
                Some(3) => panic!("three"),
                Some(index) if index % 2 == 1 => Err(fact_runtime::ToolError::retryable(
                    "odd",
                    Duration::from_secs(1),
                )),
                _ => Ok(json!("even")),
            }
        },
    );
    let executor = executor_of(tool, 4);
    let results = executor
        .execute_tool_calls(indexed_calls("Test.Picky", 8))
        .await;
    let outcomes: Vec<(u16, String)> = results
        .iter()
        .map(|r| (r.status_code, r.error.clone().unwrap_or_default()))
        .collect();
    for (index, (status, error)) in outcomes.iter().enumerate() {
        match index {
            3 => assert!(error.contains("it panicked"), "{index}: {error}"),
            _ if index % 2 == 1 => assert_eq!(error, "odd", "{index}"),
            _ => assert_eq!(*status, 200, "{index}: {error}"),
        }
    }
    assert_eq!(outcomes.len(), 8);
}

/// `Test.Gate`: counts the calls running, keeps the peak, and holds each call until `peak`
/// calls have run at once (or [`PATIENCE`] has passed).
struct Gate {
    running: AtomicUsize,
    started: AtomicUsize,
    peak: Mutex<usize>,
    reached: Condvar,
}

impl Gate {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            running: AtomicUsize::new(0),
            started: AtomicUsize::new(0),
            peak: Mutex::new(0),
            reached: Condvar::new(),
        })
    }

    fn tool(gate: &Arc<Self>, hold_until: usize) -> ToolDefinition {
        let gate = Arc::clone(gate);
        ToolDefinition::new(
            "Test.Gate",
            "holds until enough calls run at once",
            json!({"type": "object"}),
            move |_ctx, _args| {
                let gate = Arc::clone(&gate);
                async move {
                    gate.started.fetch_add(1, Ordering::SeqCst);
                    let now = gate.running.fetch_add(1, Ordering::SeqCst) + 1;
                    {
                        let mut peak = gate.peak.lock().expect("peak");
                        *peak = (*peak).max(now);
                        gate.reached.notify_all();
                    }
                    let deadline = tokio::time::Instant::now() + PATIENCE;
                    while *gate.peak.lock().expect("peak") < hold_until
                        && tokio::time::Instant::now() < deadline
                    {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    gate.running.fetch_sub(1, Ordering::SeqCst);
                    Ok(json!(now))
                }
            },
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spread_batch_runs_as_many_calls_at_once_as_its_bound_and_never_more() {
    let gate = Gate::new();
    let executor = executor_of(Gate::tool(&gate, 3), 3);
    let results = executor
        .execute_tool_calls(indexed_calls("Test.Gate", 40))
        .await;
    assert!(results.iter().all(|r| r.success), "{results:?}");
    assert_eq!(*gate.peak.lock().expect("peak"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_waiting_for_an_earlier_one_count_against_the_bound() {
    let started = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&started);
    let executor = executor_of(
        ToolDefinition::new(
            "Test.Count",
            "counts its runs",
            json!({"type": "object"}),
            move |_ctx, _args| {
                counted.fetch_add(1, Ordering::SeqCst);
                async { Ok(json!("ran")) }
            },
        ),
        3,
    );
    let finished = Arc::new(AtomicUsize::new(0));
    let finished_in = Arc::clone(&finished);
    // Nobody polls the batch yet: its three answers wait, and hold the whole bound.
    let mut batch = Box::pin(executor.execute_tool_calls_with(
        indexed_calls("Test.Count", 10),
        move |result| {
            finished_in.fetch_add(1, Ordering::SeqCst);
            result
        },
    ));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while finished.load(Ordering::SeqCst) < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(finished.load(Ordering::SeqCst), 3);
    // Time for a batch that ignored its bound to start a fourth call.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(started.load(Ordering::SeqCst), 3, "a fourth call started");
    let mut answered = 0;
    while let Some(result) = batch.next().await {
        assert!(result.success);
        answered += 1;
    }
    assert_eq!(answered, 10);
    assert_eq!(started.load(Ordering::SeqCst), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spread_batch_of_calls_that_hold_their_thread_uses_both_worker_threads() {
    // Each call blocks its thread until two calls run at once: only a batch whose calls run
    // on two threads gets there.
    let threads = Arc::new(Mutex::new(HashSet::<ThreadId>::new()));
    let met = Arc::new((Mutex::new(0_usize), Condvar::new()));
    let tool = {
        let (threads, met) = (Arc::clone(&threads), Arc::clone(&met));
        ToolDefinition::new(
            "Test.Hold",
            "holds its thread until another call runs",
            json!({"type": "object"}),
            move |_ctx, _args| {
                threads
                    .lock()
                    .expect("threads")
                    .insert(std::thread::current().id());
                let (count, arrived) = &*met;
                let mut count = count.lock().expect("count");
                *count += 1;
                arrived.notify_all();
                let (count, _) = arrived
                    .wait_timeout_while(count, PATIENCE, |count| *count < 2)
                    .expect("count");
                let met = *count >= 2;
                async move { Ok(json!(met)) }
            },
        )
    };
    let executor = executor_of(tool, 2);
    let results = executor
        .execute_tool_calls(indexed_calls("Test.Hold", 2))
        .await;
    let met: Vec<Value> = results
        .iter()
        .map(|r| r.data.clone().unwrap_or_default())
        .collect();
    assert_eq!(met, [json!(true), json!(true)], "{results:?}");
    assert_eq!(threads.lock().expect("threads").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_finish_is_resumed_where_the_spread_batch_is_polled() {
    let executor = executor_of(index_tool(), 4);
    let batch = executor
        .execute_tool_calls_with(indexed_calls("Test.Index", 6), |result| {
            assert!(result.data != Some(json!(4)), "finish refused index 4");
            result
        })
        .collect::<Vec<_>>();
    let panic = std::panic::AssertUnwindSafe(batch)
        .catch_unwind()
        .await
        .expect_err("the panic reaches the caller");
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    assert!(message.contains("finish refused index 4"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_spread_batch_cancels_its_running_calls_and_audits_each_as_cancelled() {
    let started = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&started);
    let tool = ToolDefinition::new(
        "Test.Forever",
        "never answers",
        json!({"type": "object"}),
        move |_ctx, _args| {
            counted.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<Result<Value, fact_runtime::ToolError>>()
        },
    );
    let sink = Arc::new(MemorySink::default());
    let log = AuditLog::start(sink.clone(), AuditConfig::default()).expect("log");
    let executor = ToolExecutor::builder()
        .discover_linked_tools(false)
        .register(tool)
        .max_concurrency(4)
        .audit(log)
        .build()
        .expect("builds");
    let mut batch = Box::pin(executor.execute_tool_calls(indexed_calls("Test.Forever", 10)));
    // Polled until its four calls run, then dropped.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while started.load(Ordering::SeqCst) < 4 && tokio::time::Instant::now() < deadline {
        assert!((&mut batch).now_or_never().is_none());
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(started.load(Ordering::SeqCst), 4);
    drop(batch);
    // The runners are stopped as the runtime gets to them: their calls' records follow.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while sink.records().len() < 4 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    executor.shutdown().await.expect("flushes");
    let records = sink.records();
    assert_eq!(records.len(), 4, "{records:?}");
    assert!(
        records
            .iter()
            .all(|record| record.status_code == AuditRecord::CANCELLED_STATUS),
        "{records:?}"
    );
    assert_eq!(
        started.load(Ordering::SeqCst),
        4,
        "no call started after the drop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_comes_whichever_runner_finishes_first() {
    // Calls that give way once: the runners interleave, and either may be the last to answer.
    let executor = executor_of(
        ToolDefinition::new(
            "Test.Yield",
            "gives way once, then answers its index",
            json!({"type": "object"}),
            |_ctx, args: Value| async move {
                tokio::task::yield_now().await;
                Ok(args["index"].clone())
            },
        ),
        8,
    );
    for _ in 0..50 {
        let results = executor
            .execute_tool_calls(indexed_calls("Test.Yield", 100))
            .await;
        let answered: Vec<Value> = results
            .iter()
            .map(|r| r.data.clone().unwrap_or_default())
            .collect();
        let expected: Vec<Value> = (0..100).map(|index| json!(index)).collect();
        assert_eq!(answered, expected);
    }
}
