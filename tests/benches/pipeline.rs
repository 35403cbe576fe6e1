//! Pipeline overhead: the calculator called directly as Rust (the physical limit), through
//! `execute_tool_call`, and through `execute_tool_calls` in batches of 100 (on one thread, and
//! one call at a time against batches on two worker threads, and the calls split over two
//! spawned tasks: the best a batch spread over both could do); a microsecond tool written sync,
//! sync `inline` and async, on two worker threads (what the blocking pool's round trip costs);
//! then a tool behind every stage (auth with a live grant, rate limiting with a high quota,
//! audit to SQLite, and audit to a sink that never lags) beside its own direct call, in one
//! run; and the same with audit to SQLite in `answered` durability (each call waits for its
//! record's commit), one call at a time and 32 at once, beside `queued`; and the rate-limit
//! stage's cost per call, in process and, when `FACT_BENCH_REDIS_URL` names a Redis, on Redis.
//!
//! `cargo bench -p fact-tests --bench pipeline`
//!
//! With Redis: `redis-server --port 6390 --save '' --appendonly no` in one shell, then
//! `FACT_BENCH_REDIS_URL=redis://127.0.0.1:6390 cargo bench -p fact-tests --bench pipeline -- rate_limit`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use fact_examples::calculator::{Operation, calculator};
use fact_runtime::audit::{
    AuditConfig, AuditDurability, AuditError, AuditLog, AuditRecord, AuditSink, SqlAuditSink,
};
use fact_runtime::auth::Grant;
use fact_runtime::{
    AccessToken, RateLimit, RedisRateLimitStore, SystemClock, ToolCall, ToolContext, ToolExecutor,
    ToolExecutorBuilder, ToolResult,
};
use fact_tests::fixtures::secure_multiply;
use fact_tests::grants::manager_granting;
use futures::future::BoxFuture;
use serde_json::{Value, json};

const BATCH: usize = 100;
/// Calls at once in the concurrent group (as the server bench's connections).
const CONCURRENT: usize = 32;

fn pipeline(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let executor = ToolExecutor::builder().build().expect("registry builds");
    let arguments = json!({"operation": "multiply", "a": 6, "b": 7});

    let mut group = c.benchmark_group("calculator");
    group.throughput(Throughput::Elements(1));
    group.bench_function("direct", |b| {
        b.to_async(&runtime).iter(|| {
            calculator(
                black_box(Operation::Multiply),
                black_box(6.0),
                black_box(7.0),
            )
        });
    });
    group.bench_function("execute_tool_call", |b| {
        b.to_async(&runtime).iter(|| {
            executor.execute_tool_call(ToolCall::new(
                "MyApp.Calculator",
                black_box(arguments.clone()),
            ))
        });
    });
    group.finish();

    let mut group = c.benchmark_group("calculator_batch_100");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("execute_tool_calls", |b| {
        b.to_async(&runtime).iter_batched(
            || {
                (0..BATCH)
                    .map(|_| ToolCall::new("MyApp.Calculator", arguments.clone()))
                    .collect::<Vec<_>>()
            },
            |calls| executor.execute_tool_calls(calls),
            BatchSize::SmallInput,
        );
    });
    group.finish();

    // The same on a runtime of two worker threads, this machine's cores: one call at a time
    // keeps to one core, where a batch spreads its calls over both (issue 17's goal: a batch
    // at 1.6 times the one-at-a-time rate or more).
    let two_workers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("calculator_two_workers");
    group.throughput(Throughput::Elements(1));
    group.bench_function("execute_tool_call", |b| {
        b.to_async(&two_workers).iter(|| {
            executor.execute_tool_call(ToolCall::new(
                "MyApp.Calculator",
                black_box(arguments.clone()),
            ))
        });
    });
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("execute_tool_calls_100", |b| {
        b.to_async(&two_workers).iter_batched(
            || {
                (0..BATCH)
                    .map(|_| ToolCall::new("MyApp.Calculator", arguments.clone()))
                    .collect::<Vec<_>>()
            },
            |calls| async {
                let results = executor.execute_tool_calls(calls).await;
                assert!(results.iter().all(|result| result.success));
                results
            },
            BatchSize::SmallInput,
        );
    });
    // What spreading a batch over both workers could give at best, with no batch machinery:
    // its calls in two spawned tasks, each making its half one at a time; then the same with
    // 50 times the calls, where waking the workers is paid once for 5,000 calls; and the
    // waking alone, two empty tasks spawned and joined.
    for (name, each) in [
        ("two_tasks_of_50", BATCH / 2),
        ("two_tasks_of_2500", BATCH * 25),
    ] {
        group.throughput(Throughput::Elements(2 * each as u64));
        group.bench_function(name, |b| {
            b.to_async(&two_workers)
                .iter(|| in_two_tasks(&executor, &arguments, each));
        });
    }
    group.throughput(Throughput::Elements(2));
    group.bench_function("two_empty_tasks", |b| {
        b.to_async(&two_workers).iter(|| async {
            let tasks = [tokio::spawn(async {}), tokio::spawn(async {})];
            for task in tasks {
                task.await.expect("an empty task");
            }
        });
    });
    group.finish();
}

/// `each` calculator calls in each of two spawned tasks, one call at a time in each.
async fn in_two_tasks(executor: &ToolExecutor, arguments: &Value, each: usize) {
    let tasks = [0, 1].map(|_| {
        let executor = executor.clone();
        let arguments = arguments.clone();
        tokio::spawn(async move {
            for _ in 0..each {
                let call = ToolCall::new("MyApp.Calculator", arguments.clone());
                assert!(executor.execute_tool_call(call).await.success);
            }
        })
    });
    for task in tasks {
        task.await.expect("the calls answer");
    }
}

/// A tool of well under a microsecond written sync (run on tokio's blocking pool), sync and
/// declared `inline` (run on the calling task, timed against the inline budget), and async (run
/// on the calling task), each called one at a time through `execute_tool_call` on a runtime of
/// two worker threads, as a server runs: the first against the others is the blocking pool's
/// round trip per call (issue 17).
fn sync_tools(c: &mut Criterion) {
    let two_workers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let executor = ToolExecutor::builder().build().expect("registry builds");
    let arguments = json!({"a": 40, "b": 2});
    let mut group = c.benchmark_group("sync_tools");
    group.throughput(Throughput::Elements(1));
    for (bench, tool) in [
        ("sync_blocking_pool", "Fixture.PlusSync"),
        ("sync_inline", "Fixture.PlusInline"),
        ("async", "Fixture.PlusAsync"),
    ] {
        group.bench_function(bench, |b| {
            b.to_async(&two_workers).iter(|| async {
                let call = ToolCall::new(tool, black_box(arguments.clone()));
                let result = executor.execute_tool_call(call).await;
                assert_eq!(result.status_code, 200, "{result:?}");
                assert_eq!(result.data, Some(json!(42)), "{result:?}");
            });
        });
    }
    group.finish();
}

/// An executor with every stage on, auditing to `sink`: the calling user `ada` holds a live
/// grant covering the tool's scope, and every call passes two GCRA quotas (the executor's and
/// the tool's).
async fn every_stage(sink: Arc<dyn AuditSink>, durability: AuditDurability) -> ToolExecutor {
    let grant = Grant::new("ada", AccessToken::new("bench-token"), ["calc"]);
    let auth = manager_granting(grant, Arc::new(SystemClock)).await;
    let config = AuditConfig::default().durability(durability);
    let audit = AuditLog::start(sink, config).expect("audit log");
    ToolExecutor::builder()
        .authorization(auth)
        .enable_rate_limiting(true)
        // Quotas no run can spend (the fixture's own is a million, which a long run at 200 k
        // calls/s would), so that every call measured is admitted.
        .max_calls_per_minute(u32::MAX)
        .tool_rate_limit("Fixture.SecureMultiply", RateLimit::per_minute(u32::MAX))
        .audit(audit)
        .build()
        .expect("executor")
}

/// Accepts every batch at once: the audit writer is never behind.
#[derive(Debug)]
struct NullSink;

impl AuditSink for NullSink {
    fn write_batch<'a>(&'a self, _: &'a [AuditRecord]) -> BoxFuture<'a, Result<(), AuditError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Calls the secured tool as `ada`, checking that the call was admitted and run.
async fn admitted_call(executor: &ToolExecutor, arguments: &Value) -> ToolResult {
    let call = ToolCall::new("Fixture.SecureMultiply", black_box(arguments.clone())).user("ada");
    let result = executor.execute_tool_call(call).await;
    // Every call measured is admitted and run, not refused along the way.
    assert_eq!(result.status_code, 200, "{result:?}");
    result
}

/// Every stage on, audit to a SQLite file by the background writer; beside it the same with a
/// sink that never lags (what the stages cost the caller, apart from the writer's pace), and
/// the tool called directly.
///
/// A multi-thread runtime, as a server runs: the audit writer drains on the other worker.
fn full_pipeline(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let db = std::env::temp_dir().join(format!("fact-bench-audit-{}.db", std::process::id()));
    let answered_db = std::env::temp_dir().join(format!(
        "fact-bench-audit-answered-{}.db",
        std::process::id()
    ));
    let (to_sqlite, to_null, answered) = runtime.block_on(async {
        let sqlite = Arc::new(SqlAuditSink::sqlite(&db).await.expect("SQLite opens"));
        let answered = Arc::new(
            SqlAuditSink::sqlite(&answered_db)
                .await
                .expect("SQLite opens"),
        );
        (
            every_stage(sqlite, AuditDurability::Queued).await,
            every_stage(Arc::new(NullSink), AuditDurability::Queued).await,
            every_stage(answered, AuditDurability::Answered).await,
        )
    });
    let ctx = ToolContext::new("Fixture.SecureMultiply")
        .with_user("ada")
        .with_access_token(AccessToken::new("bench-token"));
    let arguments = json!({"a": 6, "b": 7});
    let mut group = c.benchmark_group("all_stages");
    group.throughput(Throughput::Elements(1));
    group.bench_function("direct", |b| {
        b.to_async(&runtime)
            .iter(|| secure_multiply(black_box(6.0), black_box(7.0), &ctx));
    });
    group.bench_function("execute_tool_call", |b| {
        b.to_async(&runtime)
            .iter(|| admitted_call(&to_sqlite, &arguments));
    });
    group.bench_function("execute_tool_call_audit_never_behind", |b| {
        b.to_async(&runtime)
            .iter(|| admitted_call(&to_null, &arguments));
    });
    // One call at a time: each waits for a commit of its own (no group to share it with).
    group.bench_function("execute_tool_call_answered", |b| {
        b.to_async(&runtime)
            .iter(|| admitted_call(&answered, &arguments));
    });
    group.finish();

    // CONCURRENT calls at once per iteration: `answered` commits them in shared transactions.
    let mut group = c.benchmark_group(format!("all_stages_concurrent_{CONCURRENT}"));
    group.throughput(Throughput::Elements(CONCURRENT as u64));
    for (name, executor) in [("queued", &to_sqlite), ("answered", &answered)] {
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| {
                let calls: Vec<_> = (0..CONCURRENT)
                    .map(|_| {
                        let executor = executor.clone();
                        let arguments = arguments.clone();
                        tokio::spawn(async move { admitted_call(&executor, &arguments).await })
                    })
                    .collect();
                async move {
                    for call in calls {
                        call.await.expect("call");
                    }
                }
            });
        });
    }
    group.finish();
    for executor in [to_sqlite, to_null, answered] {
        runtime
            .block_on(executor.shutdown())
            .expect("audit records written");
    }
    for path in [&db, &answered_db] {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}

/// The calculator behind the rate-limit stage: off, counted in process, and counted in Redis
/// (one round trip and one script per call), one call at a time and in batches of 100 (which
/// share the store's one multiplexed connection). Quotas no run can spend, so every call is
/// admitted.
fn rate_limit_store(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let limited = || {
        ToolExecutor::builder()
            .enable_rate_limiting(true)
            .max_calls_per_minute(u32::MAX)
    };
    let build = |builder: ToolExecutorBuilder| builder.build().expect("executor");
    let mut executors = vec![
        ("off", build(ToolExecutor::builder())),
        ("in_process", build(limited())),
    ];
    match std::env::var("FACT_BENCH_REDIS_URL") {
        Ok(url) => {
            let store = RedisRateLimitStore::builder(&url)
                .expect("FACT_BENCH_REDIS_URL is a Redis URL")
                .key_prefix(format!("fact-bench:{}:", std::process::id()))
                .build()
                .expect("the store builds");
            executors.push(("redis", build(limited().rate_limit_store(Arc::new(store)))));
        }
        Err(_) => eprintln!("rate_limit/redis skipped: set FACT_BENCH_REDIS_URL to a Redis"),
    }
    let arguments = json!({"operation": "multiply", "a": 6, "b": 7});
    let call = || ToolCall::new("MyApp.Calculator", arguments.clone()).user("ada");

    let mut group = c.benchmark_group("rate_limit");
    group.throughput(Throughput::Elements(1));
    for (name, executor) in &executors {
        group.bench_function(*name, |b| {
            b.to_async(&runtime).iter(|| async {
                let result = executor.execute_tool_call(black_box(call())).await;
                assert_eq!(result.status_code, 200, "{result:?}");
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("rate_limit_batch_100");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, executor) in &executors {
        group.bench_function(*name, |b| {
            b.to_async(&runtime).iter_batched(
                || (0..BATCH).map(|_| call()).collect::<Vec<_>>(),
                |calls| async {
                    let results = executor.execute_tool_calls(calls).await;
                    assert!(results.iter().all(|result| result.status_code == 200));
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    pipeline,
    sync_tools,
    full_pipeline,
    rate_limit_store
);
criterion_main!(benches);
