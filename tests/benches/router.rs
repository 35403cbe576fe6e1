//! The server's own layers without a socket: the calculator's `POST /v1/tools/execute` handed
//! to the FACT router in process (`tower::ServiceExt::oneshot`), beside the same request handed
//! to the thinnest router over the same executor (parse the body, run the call, write the
//! result), on one thread. The difference is what the server's layers cost per request (the
//! API key, the timeouts, the body guard, the refusal shapes, the answer budget), with hyper,
//! TCP and the client out of the measurement, so that it can be taken apart.
//!
//! Then the two again in interleaved rounds, each router's fastest round its figure: the
//! comparison to trust on a noisy machine.
//!
//! `cargo bench -p fact-tests --bench router`

use std::hint::black_box;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, header};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fact_runtime::ToolExecutor;
use fact_runtime::server::{ApiKeys, Server, ServerConfig};
use fact_tests::thin_router::thin_router;
// Links the calculator.
use fact_examples as _;
use tower::ServiceExt as _;

const KEY: &str = "bench-key-0123456789abcdef";
const BODY: &str =
    r#"{"tool_name":"MyApp.Calculator","input":{"operation":"multiply","a":6,"b":7}}"#;

fn request() -> Request<Body> {
    Request::post("/v1/tools/execute")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, BODY.len())
        .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
        .body(Body::from(BODY))
        .expect("request")
}

/// Sends one request and checks the answer is the calculator's 42, with status 200.
async fn call(router: Router) {
    let response = router.oneshot(black_box(request())).await.expect("answer");
    assert_eq!(response.status(), 200);
    let body = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    assert!(
        body.windows(br#""result":42"#.len())
            .any(|w| w == br#""result":42"#),
        "{}",
        String::from_utf8_lossy(&body)
    );
}

fn router(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let executor = ToolExecutor::builder().build().expect("registry builds");
    let thin = thin_router(executor.clone());
    let fact = {
        let _guard = runtime.enter();
        let config =
            ServerConfig::default().api_keys(ApiKeys::parse(&format!("{KEY}:bench")).expect("key"));
        Server::new(executor, config).expect("server").router()
    };
    runtime.block_on(call(thin.clone()));
    runtime.block_on(call(fact.clone()));

    let mut group = c.benchmark_group("router");
    group.throughput(Throughput::Elements(1));
    group.bench_function("executor", |b| {
        b.to_async(&runtime).iter(|| call(thin.clone()));
    });
    group.bench_function("fact", |b| {
        b.to_async(&runtime).iter(|| call(fact.clone()));
    });
    group.finish();
    interleaved(&runtime, &thin, &fact);
}

/// Rounds in [`interleaved`], and calls per router in each.
const ROUNDS: usize = 30;
const CALLS: usize = 2000;

/// The same comparison taken so that a noisy machine (a VM whose host lends its cores to
/// others) cannot tilt it: the two routers take turns, round after round, and each one's
/// fastest round is its figure. A pause of the host slows a round; nothing makes one faster.
fn interleaved(runtime: &tokio::runtime::Runtime, thin: &Router, fact: &Router) {
    let round = |router: &Router| {
        let started = std::time::Instant::now();
        runtime.block_on(async {
            for _ in 0..CALLS {
                call(router.clone()).await;
            }
        });
        started.elapsed().as_secs_f64() * 1e6 / CALLS as f64
    };
    let (mut thin_best, mut fact_best) = (f64::MAX, f64::MAX);
    for turn in 0..ROUNDS {
        // Each goes first in every other round.
        if turn % 2 == 0 {
            thin_best = thin_best.min(round(thin));
            fact_best = fact_best.min(round(fact));
        } else {
            fact_best = fact_best.min(round(fact));
            thin_best = thin_best.min(round(thin));
        }
    }
    println!(
        "router, fastest of {ROUNDS} interleaved rounds of {CALLS} calls: executor {thin_best:.2} µs, fact {fact_best:.2} µs per request; fact at {:.1}% of executor's rate",
        100.0 * thin_best / fact_best
    );
}

criterion_group!(benches, router);
criterion_main!(benches);
