//! The rate-limit stage: GCRA quotas per user, per tool and with bursts, exact under
//! concurrency, driven by a manual clock (no sleeps), and pluggable storage whose errors the
//! store-error policy decides (Redis itself: rate_limit_redis.rs).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fact_runtime::{
    Admission, ErrorKind, ManualClock, RateLimit, RateLimitConfig, RateLimitKey, RateLimitStore,
    RateLimitStoreError, StoreErrorPolicy, ToolCall, ToolExecutor, ToolExecutorBuilder, ToolResult,
};
use fact_tests::fixtures;
// The one line that keeps a crate of tools linked when nothing else names it.
use fact_examples as _;
use futures::future::BoxFuture;
use serde_json::json;

fn limited(clock: &ManualClock) -> ToolExecutorBuilder {
    let _ = fixtures::TOOL_NAMES;
    ToolExecutor::builder()
        .enable_rate_limiting(true)
        .clock(Arc::new(clock.clone()))
}

fn start() -> ManualClock {
    ManualClock::new(Duration::from_secs(1_700_000_000))
}

async fn echo(executor: &ToolExecutor, user: Option<&str>) -> ToolResult {
    let mut call = ToolCall::new("Fixture.Echo", json!({"text": "hi"}));
    if let Some(user) = user {
        call = call.user(user);
    }
    executor.execute_tool_call(call).await
}

fn assert_refused(result: &ToolResult, retry_after_ms: u64) {
    assert_eq!(result.status_code, 429, "{result:?}");
    assert_eq!(result.error_kind(), Some(ErrorKind::RateLimit));
    assert_eq!(
        result.error.as_deref(),
        Some("Rate limit exceeded. Too many tool calls per minute.")
    );
    assert_eq!(result.metadata.retry_after_ms, Some(retry_after_ms));
}

#[tokio::test]
async fn rate_limiting_is_off_unless_enabled() {
    let _ = fixtures::TOOL_NAMES;
    let executor = ToolExecutor::builder()
        .max_calls_per_minute(1)
        .build()
        .expect("builds");
    for _ in 0..100 {
        assert_eq!(echo(&executor, Some("ada")).await.status_code, 200);
    }
}

#[tokio::test]
async fn the_call_past_the_quota_is_a_429_that_says_when_to_retry() {
    let clock = start();
    let executor = limited(&clock)
        .max_calls_per_minute(60)
        .build()
        .expect("builds");
    for _ in 0..60 {
        assert_eq!(echo(&executor, Some("ada")).await.status_code, 200);
    }
    assert_refused(&echo(&executor, Some("ada")).await, 1_000);

    clock.advance(Duration::from_millis(400));
    assert_refused(&echo(&executor, Some("ada")).await, 600);

    clock.advance(Duration::from_millis(600));
    assert_eq!(echo(&executor, Some("ada")).await.status_code, 200);
    assert_refused(&echo(&executor, Some("ada")).await, 1_000);
}

#[tokio::test]
async fn each_user_has_a_quota_and_anonymous_callers_share_one() {
    let clock = start();
    let executor = limited(&clock)
        .max_calls_per_minute(2)
        .build()
        .expect("builds");
    for user in [
        Some("ada"),
        Some("ada"),
        Some("bob"),
        Some("bob"),
        None,
        None,
    ] {
        assert_eq!(echo(&executor, user).await.status_code, 200, "{user:?}");
    }
    for user in [Some("ada"), Some("bob"), None] {
        assert_eq!(echo(&executor, user).await.status_code, 429, "{user:?}");
    }
    assert_eq!(echo(&executor, Some("cyd")).await.status_code, 200);
}

#[tokio::test]
async fn without_rate_limit_by_user_everyone_shares_one_quota() {
    let clock = start();
    let executor = limited(&clock)
        .max_calls_per_minute(2)
        .rate_limit_by_user(false)
        .build()
        .expect("builds");
    assert_eq!(echo(&executor, Some("ada")).await.status_code, 200);
    assert_eq!(echo(&executor, Some("bob")).await.status_code, 200);
    assert_eq!(echo(&executor, Some("cyd")).await.status_code, 429);
    assert_eq!(echo(&executor, None).await.status_code, 429);
}

#[tokio::test]
async fn a_burst_caps_back_to_back_calls_below_the_per_minute_rate() {
    let clock = start();
    let executor = limited(&clock)
        .max_calls_per_minute(60)
        .rate_limit_burst(2)
        .build()
        .expect("builds");
    assert_eq!(echo(&executor, Some("ada")).await.status_code, 200);
    assert_eq!(echo(&executor, Some("ada")).await.status_code, 200);
    assert_refused(&echo(&executor, Some("ada")).await, 1_000);
    clock.advance(Duration::from_secs(1));
    assert_eq!(echo(&executor, Some("ada")).await.status_code, 200);
    assert_eq!(echo(&executor, Some("ada")).await.status_code, 429);
}

#[tokio::test]
async fn a_burst_set_before_the_rate_keeps_its_value() {
    let clock = start();
    let executor = limited(&clock)
        .rate_limit_burst(60)
        .max_calls_per_minute(120)
        .build()
        .expect("builds");
    for _ in 0..60 {
        assert_eq!(echo(&executor, Some("ada")).await.status_code, 200);
    }
    // 120 a minute: the next call is half a second away.
    assert_refused(&echo(&executor, Some("ada")).await, 500);
}

#[tokio::test]
async fn a_tool_quota_from_the_attribute_applies_on_top_of_the_executor_quota() {
    let clock = start();
    let executor = limited(&clock)
        .max_calls_per_minute(1_000)
        .build()
        .expect("builds");
    let quota = || ToolCall::new("Fixture.Quota", json!({})).user("ada");
    for _ in 0..3 {
        assert_eq!(executor.execute_tool_call(quota()).await.status_code, 200);
    }
    // 3 a minute: the next one is 20 seconds away.
    assert_refused(&executor.execute_tool_call(quota()).await, 20_000);
    assert_eq!(echo(&executor, Some("ada")).await.status_code, 200);
    clock.advance(Duration::from_secs(20));
    assert_eq!(executor.execute_tool_call(quota()).await.status_code, 200);
}

#[tokio::test]
async fn a_builder_tool_quota_overrides_the_attribute() {
    let clock = start();
    let executor = limited(&clock)
        .tool_rate_limit("Fixture.Quota", RateLimit::per_minute(5))
        .build()
        .expect("builds");
    let quota = || ToolCall::new("Fixture.Quota", json!({})).user("ada");
    for _ in 0..5 {
        assert_eq!(executor.execute_tool_call(quota()).await.status_code, 200);
    }
    assert_refused(&executor.execute_tool_call(quota()).await, 12_000);
}

#[tokio::test]
async fn a_tool_quota_given_the_exported_name_applies_to_the_tool() {
    let clock = start();
    let executor = limited(&clock)
        .tool_rate_limit("Fixture_Echo", RateLimit::per_minute(2))
        .build()
        .expect("builds");
    assert_eq!(echo(&executor, Some("ada")).await.status_code, 200);
    assert_eq!(echo(&executor, Some("ada")).await.status_code, 200);
    assert_refused(&echo(&executor, Some("ada")).await, 30_000);
}

#[test]
fn two_quotas_for_one_tool_under_its_two_names_are_a_build_error() {
    let clock = start();
    let error = limited(&clock)
        .tool_rate_limit("Fixture.Echo", RateLimit::per_minute(2))
        .tool_rate_limit("Fixture_Echo", RateLimit::per_minute(3))
        .build()
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some(
            "invalid executor configuration: tool 'Fixture.Echo' is given two rate limits, one by its name and one by its exported name"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_a_quota_of_n_exactly_n_of_20n_simultaneous_calls_run() {
    const N: usize = 25;
    let clock = start();
    let executor = limited(&clock)
        .max_calls_per_minute(u32::try_from(N).expect("small"))
        .build()
        .expect("builds");
    let barrier = Arc::new(tokio::sync::Barrier::new(20 * N));
    let tasks: Vec<_> = (0..20 * N)
        .map(|_| {
            let executor = executor.clone();
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                echo(&executor, Some("ada")).await.status_code
            })
        })
        .collect();
    let mut codes: HashMap<u16, usize> = HashMap::new();
    for task in tasks {
        *codes.entry(task.await.expect("task runs")).or_default() += 1;
    }
    assert_eq!(codes.get(&200), Some(&N));
    assert_eq!(codes.get(&429), Some(&(19 * N)));
}

#[test]
fn a_zero_quota_is_a_build_error() {
    let clock = start();
    let error = limited(&clock)
        .max_calls_per_minute(0)
        .build()
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some(
            "invalid executor configuration: max_calls_per_minute: calls per minute must be at least 1"
        )
    );
    let error = limited(&clock)
        .tool_rate_limit("Fixture.Nope", RateLimit::per_minute(3))
        .build()
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some(
            "invalid executor configuration: a validator or rate limit names tool 'Fixture.Nope', which is not registered"
        )
    );
}

/// A store that admits a fixed number of calls per (scope, key) and records what it was asked.
#[derive(Debug, Default)]
struct CountingStore {
    seen: Mutex<Vec<(String, String, u32)>>,
}

impl RateLimitStore for CountingStore {
    fn acquire<'a>(
        &'a self,
        scope: &'a str,
        key: RateLimitKey<'a>,
        quota: RateLimit,
    ) -> BoxFuture<'a, Result<Admission, RateLimitStoreError>> {
        Box::pin(async move {
            let key = match key {
                RateLimitKey::User(user) => user.to_owned(),
                RateLimitKey::Anonymous => "<anonymous>".to_owned(),
                RateLimitKey::Everyone => "<everyone>".to_owned(),
            };
            let mut seen = self.seen.lock().expect("not poisoned");
            let used = seen
                .iter()
                .filter(|(s, k, _)| *s == scope && *k == key)
                .count();
            seen.push((scope.to_owned(), key, quota.calls_per_minute()));
            if used < quota.max_burst() as usize {
                Ok(Admission::Admitted)
            } else {
                Ok(Admission::Refused {
                    retry_after: quota.interval(),
                })
            }
        })
    }
}

#[tokio::test]
async fn a_custom_store_is_asked_for_the_executor_quota_and_the_tool_quota() {
    let store = Arc::new(CountingStore::default());
    let clock = start();
    let executor = limited(&clock)
        .max_calls_per_minute(10)
        .rate_limit_store(store.clone())
        .build()
        .expect("builds");
    let call = ToolCall::new("Fixture.Quota", json!({})).user("ada");
    assert_eq!(executor.execute_tool_call(call).await.status_code, 200);
    assert_eq!(echo(&executor, None).await.status_code, 200);
    let seen = store.seen.lock().expect("not poisoned").clone();
    assert_eq!(
        seen,
        [
            ("*".to_owned(), "ada".to_owned(), 10),
            ("Fixture.Quota".to_owned(), "ada".to_owned(), 3),
            ("*".to_owned(), "<anonymous>".to_owned(), 10),
        ]
    );
    for _ in 0..2 {
        let call = ToolCall::new("Fixture.Quota", json!({})).user("ada");
        assert_eq!(executor.execute_tool_call(call).await.status_code, 200);
    }
    let call = ToolCall::new("Fixture.Quota", json!({})).user("ada");
    assert_refused(&executor.execute_tool_call(call).await, 20_000);
}

/// A store that cannot answer, as a shared store whose backend is down.
#[derive(Debug)]
struct DownStore;

impl RateLimitStore for DownStore {
    fn acquire<'a>(
        &'a self,
        _scope: &'a str,
        _key: RateLimitKey<'a>,
        _quota: RateLimit,
    ) -> BoxFuture<'a, Result<Admission, RateLimitStoreError>> {
        Box::pin(async {
            Err(RateLimitStoreError::Unreachable(
                "Connection refused (os error 111)".to_owned(),
            ))
        })
    }
}

#[tokio::test]
async fn a_store_that_cannot_decide_refuses_the_call_with_a_503_by_default() {
    let clock = start();
    let executor = limited(&clock)
        .rate_limit_store(Arc::new(DownStore))
        .build()
        .expect("builds");
    let result = echo(&executor, Some("ada")).await;
    assert_eq!(result.status_code, 503, "{result:?}");
    assert_eq!(result.error_kind(), Some(ErrorKind::Unavailable));
    assert_eq!(result.metadata.retry_after_ms, Some(1_000));
    assert_eq!(
        result.error.as_deref(),
        Some(
            "The rate-limit store is unreachable, so the call was not started. Try again shortly."
        )
    );
}

#[tokio::test]
async fn under_the_allow_policy_a_store_that_cannot_decide_lets_calls_run() {
    let clock = start();
    let executor = limited(&clock)
        .max_calls_per_minute(1)
        .rate_limit_store(Arc::new(DownStore))
        .rate_limit_on_store_error(StoreErrorPolicy::Allow)
        .build()
        .expect("builds");
    for _ in 0..3 {
        assert_eq!(echo(&executor, Some("ada")).await.status_code, 200);
    }
}

#[tokio::test]
async fn a_rate_limit_config_turns_limiting_on_with_its_quotas() {
    let clock = start();
    let config = RateLimitConfig::new(RateLimit::per_minute(60).burst(2))
        .tool("Fixture.Quota", RateLimit::per_minute(1));
    let executor = ToolExecutor::builder()
        .clock(Arc::new(clock.clone()))
        .rate_limits(config)
        .build()
        .expect("builds");
    assert_eq!(echo(&executor, Some("ada")).await.status_code, 200);
    assert_eq!(echo(&executor, Some("ada")).await.status_code, 200);
    assert_refused(&echo(&executor, Some("ada")).await, 1_000);
    let quota = || ToolCall::new("Fixture.Quota", json!({})).user("bob");
    assert_eq!(executor.execute_tool_call(quota()).await.status_code, 200);
    assert_refused(&executor.execute_tool_call(quota()).await, 60_000);
}
