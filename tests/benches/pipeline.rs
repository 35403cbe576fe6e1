//! Pipeline overhead: the calculator called directly as Rust (the physical limit), through
//! `execute_tool_call`, and through `execute_tool_calls` in batches of 100, in one run.
//!
//! `cargo bench -p fact-tests --bench pipeline`

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use fact_examples::calculator::{Operation, calculator};
use fact_runtime::{ToolCall, ToolExecutor};
use serde_json::json;

const BATCH: usize = 100;

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
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
