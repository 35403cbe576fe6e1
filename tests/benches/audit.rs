//! Audit log throughput: the SQLite writer alone (one transaction of multi-row INSERTs per
//! batch, keyed by call id), and the caller's cost of `AuditLog::record` with that writer
//! behind it, and of `AuditLog::record_committed` (the `answered` durability's wait for the
//! commit) with many callers at once, each calling again once answered.
//!
//! Records look like a live log's: time only moves forward, calls come from 100 users. Call
//! ids are what the executor makes (UUID v7, time-ordered), and, for comparison, random UUID
//! v4s (`write_batch_*_v4`): the unique index by call id is written at its right edge with the
//! first, all over with the second.
//!
//! `cargo bench -p fact-tests --bench audit -- --warm-up-time 1 --measurement-time 3`

use std::cell::Cell;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use fact_runtime::audit::AuditSink;
use fact_runtime::audit::{ArgumentsDigest, AuditConfig, AuditLog, AuditRecord, SqlAuditSink};
use serde_json::json;

const BATCHES: [usize; 3] = [512, 2048, 8192];
/// Callers at once in the concurrent group (as the server bench's connections).
const CALLERS: usize = 32;
/// Records each of them makes in one iteration, one after the other.
const ROUNDS: usize = 8;

/// Which kind of call id a bench's records carry.
#[derive(Debug, Clone, Copy)]
enum Ids {
    /// Time-ordered, as the executor makes them.
    V7,
    /// Random.
    V4,
}

fn call_id(ids: Ids) -> String {
    match ids {
        Ids::V7 => uuid::Uuid::now_v7().to_string(),
        Ids::V4 => uuid::Uuid::new_v4().to_string(),
    }
}

fn record(n: usize, digest: &ArgumentsDigest, ids: Ids) -> AuditRecord {
    AuditRecord {
        call_id: call_id(ids),
        timestamp: timestamp(n),
        tool_name: "MyApp.Calculator".into(),
        user_id: Some(format!("user-{}", n % 100)),
        session_id: Some("session-1".into()),
        status_code: 200,
        error_type: None,
        duration_ms: 0.25,
        execution_method: AuditRecord::LOCAL.into(),
        arguments_sha256: digest.sha256.clone(),
        arguments_size: digest.size,
        arguments: None,
    }
}

/// Accepts every batch at once: what `record` costs when the writer is never the bottleneck.
#[derive(Debug)]
struct NullSink;

impl AuditSink for NullSink {
    fn write_batch<'a>(
        &'a self,
        _: &'a [AuditRecord],
    ) -> futures::future::BoxFuture<'a, Result<(), fact_runtime::audit::AuditError>> {
        Box::pin(async { Ok(()) })
    }
}

fn timestamp(n: usize) -> f64 {
    1_700_000_000.0 + n as f64 * 1e-6
}

fn audit(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let path = std::env::temp_dir().join(format!("fact-audit-bench-{}.db", std::process::id()));
    let sink = Arc::new(
        runtime
            .block_on(SqlAuditSink::sqlite(&path))
            .expect("SQLite opens"),
    );
    let arguments = json!({"operation": "multiply", "a": 6, "b": 7});
    let digest = ArgumentsDigest::of(&arguments, false);
    let next = Cell::new(0);
    let batch_of = |size: usize, ids: Ids| {
        let first = next.replace(next.get() + size);
        (first..first + size)
            .map(|n| record(n, &digest, ids))
            .collect::<Vec<_>>()
    };

    let writer = sink.as_ref();
    let mut group = c.benchmark_group("audit_sqlite");
    for (ids, suffix) in [(Ids::V7, ""), (Ids::V4, "_v4")] {
        for size in BATCHES {
            group.throughput(Throughput::Elements(size as u64));
            group.bench_function(format!("write_batch_{size}{suffix}"), |b| {
                b.to_async(&runtime).iter_batched(
                    || batch_of(size, ids),
                    |batch| async move {
                        writer
                            .write_batch(black_box(&batch))
                            .await
                            .expect("written")
                    },
                    BatchSize::PerIteration,
                );
            });
        }
    }
    group.finish();

    let log = runtime
        .block_on(async { AuditLog::start(sink.clone(), AuditConfig::default()) })
        .expect("valid config");
    let mut group = c.benchmark_group("audit_record");
    group.throughput(Throughput::Elements(1));
    group.bench_function("digest", |b| {
        b.iter(|| ArgumentsDigest::of(black_box(&arguments), false));
    });
    group.bench_function("record_to_sqlite", |b| {
        b.to_async(&runtime).iter(|| {
            let n = next.replace(next.get() + 1);
            let record = record(n, &digest, Ids::V7);
            let log = &log;
            async move { log.record(record).await.expect("open") }
        });
    });

    let null_log = runtime
        .block_on(async { AuditLog::start(Arc::new(NullSink), AuditConfig::default()) })
        .expect("valid config");
    group.bench_function("record_to_null_sink", |b| {
        let template = record(0, &digest, Ids::V7);
        b.to_async(&runtime).iter(|| {
            let record = template.clone();
            let log = &null_log;
            async move { log.record(record).await.expect("open") }
        });
    });
    group.finish();
    runtime.block_on(null_log.shutdown()).expect("shutdown");

    // `answered` durability: CALLERS callers at once, each recording ROUNDS records one after
    // the other (a closed loop, as clients that call again once answered), waiting for each
    // commit, against the same callers recording without waiting (queued).
    let mut group = c.benchmark_group(format!("audit_callers_{CALLERS}"));
    group.throughput(Throughput::Elements((CALLERS * ROUNDS) as u64));
    for (name, committed) in [("record_queued", false), ("record_committed", true)] {
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| {
                let first = next.replace(next.get() + CALLERS * ROUNDS);
                let log = log.clone();
                let records: Vec<Vec<_>> = (0..CALLERS)
                    .map(|caller| {
                        (0..ROUNDS)
                            .map(|round| record(first + caller * ROUNDS + round, &digest, Ids::V7))
                            .collect()
                    })
                    .collect();
                async move {
                    let callers: Vec<_> = records
                        .into_iter()
                        .map(|records| {
                            let log = log.clone();
                            tokio::spawn(async move {
                                for record in records {
                                    if committed {
                                        log.record_committed(record).await?;
                                    } else {
                                        log.record(record).await?;
                                    }
                                }
                                Ok::<(), fact_runtime::audit::AuditError>(())
                            })
                        })
                        .collect();
                    for caller in callers {
                        caller.await.expect("caller").expect("open");
                    }
                }
            });
        });
    }
    group.finish();

    let stats = runtime.block_on(log.shutdown()).expect("shutdown");
    eprintln!("audit writer: {stats:?}");
    runtime.block_on(sink.close());
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

criterion_group!(benches, audit);
criterion_main!(benches);
