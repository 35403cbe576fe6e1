//! Redis stopped, hung, and started again (also with the password the store expects): the store-error policy decides each call promptly
//! (deny: 503 with `retry_after_ms` and, over HTTP, `Retry-After`; allow: the call runs and
//! `fact_rate_limit_store_errors_total{policy="allow"}` counts it), and limits hold again once
//! Redis answers, with the same executor.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fact_runtime::metrics::PrometheusExporter;
use fact_runtime::server::{Server, ServerConfig};
use fact_runtime::{ErrorKind, RedisRateLimitStore, StoreErrorPolicy, ToolExecutor, ToolResult};
use fact_tests::fixtures;
use fact_tests::redis_server::RedisServer;

use super::{echo, replica, start};

/// Longer than any answer should take: the store's timeout is 300 ms. Only a call that hangs
/// reaches it, and fails the test instead of hanging it.
const PROMPTLY: Duration = Duration::from_secs(10);

/// `echo` as `user`, failing the test if it does not answer [`PROMPTLY`].
async fn answered(executor: &ToolExecutor, user: &str) -> ToolResult {
    tokio::time::timeout(PROMPTLY, echo(executor, Some(user)))
        .await
        .unwrap_or_else(|_| panic!("no answer within {PROMPTLY:?}: a store error hangs calls"))
}

fn assert_store_unreachable(result: &ToolResult) {
    assert_eq!(result.status_code, 503, "{result:?}");
    assert_eq!(result.error_kind(), Some(ErrorKind::Unavailable));
    assert_eq!(result.metadata.retry_after_ms, Some(1_000), "{result:?}");
    let error = result.error.as_deref().unwrap_or_default();
    assert!(error.contains("rate-limit store is unreachable"), "{error}");
    assert!(error.contains("not started"), "{error}");
}

/// Calls as `probe` until one is not refused for the store (bounded): Redis answers again.
async fn until_redis_answers(executor: &ToolExecutor) -> ToolResult {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let result = answered(executor, "probe").await;
        if result.status_code != 503 {
            return result;
        }
        assert!(
            Instant::now() < deadline,
            "the executor never used the restarted Redis: {result:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn with_redis_down_deny_refuses_with_503_and_limits_resume_when_it_returns() {
    let Some(mut redis) = RedisServer::start("outage_deny") else {
        return;
    };
    let clock = start();
    let executor = replica(&redis, Some(&clock), 2).build().expect("builds");
    assert_eq!(answered(&executor, "ada").await.status_code, 200);

    redis.stop();
    for _ in 0..3 {
        assert_store_unreachable(&answered(&executor, "ada").await);
    }

    redis.restart();
    assert_eq!(until_redis_answers(&executor).await.status_code, 200);
    // The restarted Redis kept nothing: ada's quota is whole again, and enforced.
    assert_eq!(answered(&executor, "ada").await.status_code, 200);
    assert_eq!(answered(&executor, "ada").await.status_code, 200);
    assert_eq!(answered(&executor, "ada").await.status_code, 429);
}

#[tokio::test]
async fn a_hung_redis_fails_calls_within_the_store_timeout_and_is_used_again_when_it_wakes() {
    let Some(redis) = RedisServer::start("outage_hung") else {
        return;
    };
    let clock = start();
    let executor = replica(&redis, Some(&clock), 2).build().expect("builds");
    assert_eq!(answered(&executor, "ada").await.status_code, 200);

    redis.pause();
    assert_store_unreachable(&answered(&executor, "ada").await);
    redis.resume();

    assert_eq!(until_redis_answers(&executor).await.status_code, 200);
    // The quota survived, and the call that timed out was sent before Redis hung: Redis ran
    // it once awake, spending ada's last unit. A timeout errs on the side of refusing.
    assert_quota_spent(&answered(&executor, "ada").await);
}

fn assert_quota_spent(result: &ToolResult) {
    assert_eq!(result.status_code, 429, "{result:?}");
    assert_eq!(result.metadata.retry_after_ms, Some(30_000), "{result:?}");
}

#[tokio::test]
async fn with_redis_down_allow_runs_calls_and_counts_each_store_error() {
    let exporter = PrometheusExporter::install().expect("the only recorder of this test binary");
    let Some(mut redis) = RedisServer::start("outage_allow") else {
        return;
    };
    let clock = start();
    let executor = replica(&redis, Some(&clock), 1)
        .rate_limit_on_store_error(StoreErrorPolicy::Allow)
        .build()
        .expect("builds");
    assert_eq!(answered(&executor, "ada").await.status_code, 200);
    assert_eq!(answered(&executor, "ada").await.status_code, 429);

    redis.stop();
    let before = allowed_errors(&exporter);
    for _ in 0..4 {
        assert_eq!(answered(&executor, "ada").await.status_code, 200);
    }
    // No other test of this binary allows: every error counted here is one of these calls.
    assert_eq!(allowed_errors(&exporter) - before, 4);

    redis.restart();
    assert_eq!(until_redis_answers(&executor).await.status_code, 200);
    assert_eq!(answered(&executor, "ada").await.status_code, 200);
    assert_eq!(answered(&executor, "ada").await.status_code, 429);
}

/// `fact_rate_limit_store_errors_total{policy="allow"}` as the exporter renders it.
fn allowed_errors(exporter: &PrometheusExporter) -> u64 {
    let text = exporter.render();
    text.lines()
        .find_map(|line| {
            line.strip_prefix(r#"fact_rate_limit_store_errors_total{policy="allow"} "#)
        })
        .map_or(0, |value| value.trim().parse().expect("a count"))
}

#[tokio::test]
async fn over_http_a_store_outage_is_a_503_with_retry_after() {
    let Some(mut redis) = RedisServer::start("outage_http") else {
        return;
    };
    let clock = start();
    let executor = replica(&redis, Some(&clock), 10).build().expect("builds");
    redis.stop();
    const KEY: &str = "ada-key-0123456789abcdef";
    let config = ServerConfig::default()
        .addr("127.0.0.1:0".parse().expect("an address"))
        .api_keys(fact_runtime::server::ApiKeys::parse(&format!("{KEY}:ada")).expect("keys"));
    let bound = Server::new(executor, config)
        .expect("the server configures")
        .bind()
        .await
        .expect("binds");
    let base = format!("http://{}", bound.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(bound.run_until(async move {
        let _ = stopped.await;
    }));

    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a client")
        .post(format!("{base}/v1/tools/execute"))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body(r#"{"tool_name": "Fixture.Echo", "input": {"text": "hi"}}"#)
        .timeout(PROMPTLY)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status().as_u16(), 503);
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    assert_eq!(retry_after.as_deref(), Some("1"));
    let text = response.text().await.expect("a body");
    let body: serde_json::Value = serde_json::from_str(&text).expect("a JSON body");
    assert_eq!(
        body["metadata"]["error_type"], "ServiceUnavailableError",
        "{body}"
    );
    assert_eq!(body["metadata"]["retry_after_ms"], 1_000, "{body}");

    let _ = stop.send(());
    let _ = served.await;
}

#[tokio::test]
async fn a_redis_restarted_with_the_password_the_store_expects_is_used_again() {
    let Some(mut redis) = RedisServer::start("outage_password") else {
        return;
    };
    let clock = start();
    let url = format!("redis://:rl-secret@127.0.0.1:{}", redis.port());
    let store = RedisRateLimitStore::builder(&url)
        .expect("a Redis URL")
        .timeout(Duration::from_millis(300))
        .clock(Arc::new(clock.clone()))
        .build()
        .expect("the store builds");
    let _ = fixtures::TOOL_NAMES;
    let executor = ToolExecutor::builder()
        .enable_rate_limiting(true)
        .max_calls_per_minute(2)
        .clock(Arc::new(clock))
        .rate_limit_store(Arc::new(store))
        .build()
        .expect("builds");
    // This Redis wants no password: the handshake fails, which is no connection error.
    assert_store_unreachable(&answered(&executor, "ada").await);

    redis.restart_with(&["--requirepass", "rl-secret"]);
    assert_eq!(until_redis_answers(&executor).await.status_code, 200);
    assert_eq!(answered(&executor, "ada").await.status_code, 200);
    assert_eq!(answered(&executor, "ada").await.status_code, 200);
    assert_eq!(answered(&executor, "ada").await.status_code, 429);
}
