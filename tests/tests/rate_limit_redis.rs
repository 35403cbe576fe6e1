//! Rate limits shared through Redis (`RedisRateLimitStore`): separate executors stand for
//! replicas, each with its own store and connection, against a private `redis-server` on
//! loopback. Quotas are exact under concurrency across replicas, keyed by user and by tool,
//! refill as the in-process limiter does, keep no state past their window; and when Redis
//! stops or hangs, the store-error policy decides, until Redis answers again (`outage.rs`).
//!
//! Refill is driven by a `ManualClock` handed to the store (the script is then passed the
//! time instead of reading Redis's `TIME`); the tests on Redis's own clock use quotas whose
//! refill is a minute away.

#[path = "rate_limit_redis/outage.rs"]
mod outage;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use fact_runtime::{
    ErrorKind, ManualClock, RateLimit, RedisRateLimitStore, ToolCall, ToolExecutor,
    ToolExecutorBuilder, ToolResult,
};
use fact_tests::fixtures;
use fact_tests::redis_server::RedisServer;
use serde_json::json;

/// The time every manual clock starts at.
fn start() -> ManualClock {
    ManualClock::new(Duration::from_secs(1_700_000_000))
}

/// A store of its own (one replica's connection) on `redis`, counting on `clock` when given,
/// else on Redis's clock.
fn store(redis: &RedisServer, clock: Option<&ManualClock>) -> Arc<RedisRateLimitStore> {
    let mut builder = RedisRateLimitStore::builder(&redis.url())
        .expect("a Redis URL")
        .timeout(Duration::from_millis(300));
    if let Some(clock) = clock {
        builder = builder.clock(Arc::new(clock.clone()));
    }
    Arc::new(builder.build().expect("the store builds"))
}

/// A replica: an executor of the fixtures limiting `per_minute` calls per user, counted in
/// `redis` (on `clock` when given).
fn replica(
    redis: &RedisServer,
    clock: Option<&ManualClock>,
    per_minute: u32,
) -> ToolExecutorBuilder {
    let _ = fixtures::TOOL_NAMES;
    let executor_clock = clock.cloned().unwrap_or_else(start);
    ToolExecutor::builder()
        .enable_rate_limiting(true)
        .max_calls_per_minute(per_minute)
        .clock(Arc::new(executor_clock))
        .rate_limit_store(store(redis, clock))
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
    assert_eq!(
        result.metadata.retry_after_ms,
        Some(retry_after_ms),
        "{result:?}"
    );
}

/// Runs `tasks` tasks at once, each making `calls` calls as `user` through the replica of its
/// index (round robin), and counts the answers by status; every 429 must say when to retry,
/// within `max_wait_ms`.
async fn load(
    replicas: &[ToolExecutor],
    tasks: usize,
    calls: usize,
    user: &'static str,
    max_wait_ms: u64,
) -> HashMap<u16, usize> {
    let barrier = Arc::new(tokio::sync::Barrier::new(tasks));
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let executor = replicas[task % replicas.len()].clone();
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                let mut answers = Vec::with_capacity(calls);
                for _ in 0..calls {
                    let result = echo(&executor, Some(user)).await;
                    answers.push((result.status_code, result.metadata.retry_after_ms));
                }
                answers
            })
        })
        .collect();
    let mut codes: HashMap<u16, usize> = HashMap::new();
    for handle in handles {
        for (status, retry_after_ms) in handle.await.expect("the task runs") {
            if status == 429 {
                let wait = retry_after_ms.expect("a 429 says when to retry");
                assert!(
                    (1..=max_wait_ms).contains(&wait),
                    "retry_after_ms {wait} outside 1..={max_wait_ms}"
                );
            }
            *codes.entry(status).or_default() += 1;
        }
    }
    codes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_sharing_redis_admit_exactly_n_of_hundreds_of_concurrent_calls() {
    const N: u32 = 50;
    let Some(redis) = RedisServer::start("replicas_admit_exactly_n") else {
        return;
    };
    let clock = start();
    let replicas: Vec<ToolExecutor> = (0..4)
        .map(|_| replica(&redis, Some(&clock), N).build().expect("builds"))
        .collect();

    let codes = load(&replicas, 40, 12, "ada", 60_000).await;

    assert_eq!(codes.get(&200), Some(&(N as usize)), "{codes:?}");
    assert_eq!(codes.get(&429), Some(&(480 - N as usize)), "{codes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_redis_own_clock_replicas_whose_clocks_disagree_still_admit_exactly_the_burst() {
    let Some(redis) = RedisServer::start("redis_clock_exact") else {
        return;
    };
    // One call a minute after a burst of 5: the next unit is a minute away, far beyond this
    // test. The replicas' own clocks are hours apart; Redis's is the one that counts.
    let replicas: Vec<ToolExecutor> = [0u64, 3 * 3600]
        .into_iter()
        .map(|skew| {
            let clock = start();
            clock.advance(Duration::from_secs(skew));
            replica(&redis, None, 1)
                .rate_limit_burst(5)
                .clock(Arc::new(clock))
                .build()
                .expect("builds")
        })
        .collect();

    let codes = load(&replicas, 20, 10, "ada", 60_000).await;

    assert_eq!(codes.get(&200), Some(&5), "{codes:?}");
    assert_eq!(codes.get(&429), Some(&195), "{codes:?}");
}

#[tokio::test]
async fn a_refused_call_says_when_to_retry_and_the_quota_refills_as_in_process() {
    let Some(redis) = RedisServer::start("refill") else {
        return;
    };
    let clock = start();
    let executor = replica(&redis, Some(&clock), 60).build().expect("builds");
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
async fn each_user_has_a_quota_of_their_own_across_replicas_and_anonymous_callers_share_one() {
    let Some(redis) = RedisServer::start("by_user") else {
        return;
    };
    let clock = start();
    let a = replica(&redis, Some(&clock), 2).build().expect("builds");
    let b = replica(&redis, Some(&clock), 2).build().expect("builds");
    for (executor, user) in [
        (&a, Some("ada")),
        (&b, Some("ada")),
        (&a, Some("bob")),
        (&b, None),
        (&a, None),
    ] {
        assert_eq!(echo(executor, user).await.status_code, 200, "{user:?}");
    }
    for (executor, user) in [(&b, Some("ada")), (&a, None)] {
        assert_eq!(echo(executor, user).await.status_code, 429, "{user:?}");
    }
    assert_eq!(echo(&b, Some("bob")).await.status_code, 200);
    assert_eq!(echo(&a, Some("bob")).await.status_code, 429);
    assert_eq!(echo(&b, Some("cyd")).await.status_code, 200);
}

#[tokio::test]
async fn without_rate_limit_by_user_every_caller_of_every_replica_shares_one_quota() {
    let Some(redis) = RedisServer::start("everyone") else {
        return;
    };
    let clock = start();
    let shared = |redis: &RedisServer| {
        replica(redis, Some(&clock), 2)
            .rate_limit_by_user(false)
            .build()
            .expect("builds")
    };
    let (a, b) = (shared(&redis), shared(&redis));
    assert_eq!(echo(&a, Some("ada")).await.status_code, 200);
    assert_eq!(echo(&b, Some("bob")).await.status_code, 200);
    assert_eq!(echo(&a, Some("cyd")).await.status_code, 429);
    assert_eq!(echo(&b, None).await.status_code, 429);
}

#[tokio::test]
async fn a_tool_quota_is_shared_by_replicas_on_top_of_the_executor_quota() {
    let Some(redis) = RedisServer::start("tool_quota") else {
        return;
    };
    let clock = start();
    // Fixture.Quota declares 3 a minute; the builder gives Fixture.Echo 2.
    let replicas: Vec<ToolExecutor> = (0..2)
        .map(|_| {
            replica(&redis, Some(&clock), 1_000)
                .tool_rate_limit("Fixture.Echo", RateLimit::per_minute(2))
                .build()
                .expect("builds")
        })
        .collect();
    let quota = || ToolCall::new("Fixture.Quota", json!({})).user("ada");
    for executor in [&replicas[0], &replicas[1], &replicas[0]] {
        assert_eq!(executor.execute_tool_call(quota()).await.status_code, 200);
    }
    assert_refused(&replicas[1].execute_tool_call(quota()).await, 20_000);
    assert_eq!(echo(&replicas[1], Some("ada")).await.status_code, 200);
    assert_eq!(echo(&replicas[0], Some("ada")).await.status_code, 200);
    assert_refused(&echo(&replicas[1], Some("ada")).await, 30_000);

    clock.advance(Duration::from_secs(20));
    assert_eq!(
        replicas[1].execute_tool_call(quota()).await.status_code,
        200
    );
}

#[tokio::test]
async fn users_with_odd_characters_never_share_a_key_and_every_key_expires() {
    let Some(redis) = RedisServer::start("odd_users") else {
        return;
    };
    let clock = start();
    let executor = replica(&redis, Some(&clock), 1).build().expect("builds");
    let users = [
        "a:e", "a", "e", "u:a", "a%3Ae", "{tag}", "ada\n", "é", "a b", "*", ":", "%",
    ];
    for user in users {
        assert_eq!(
            echo(&executor, Some(user)).await.status_code,
            200,
            "{user:?}"
        );
    }
    for user in users {
        assert_eq!(
            echo(&executor, Some(user)).await.status_code,
            429,
            "{user:?}"
        );
    }

    let client = redis::Client::open(redis.url()).expect("a Redis URL");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut connection)
        .await
        .expect("KEYS");
    assert_eq!(keys.len(), users.len(), "{keys:?}");
    for key in &keys {
        assert!(key.starts_with("fact:rl:*:u:"), "{key}");
        let ttl_ms: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut connection)
            .await
            .expect("PTTL");
        // One call of a one-a-minute quota: the key lives until that minute has passed.
        assert!(
            (1..=60_000).contains(&ttl_ms),
            "{key} expires in {ttl_ms} ms"
        );
    }
}

#[tokio::test]
async fn a_key_prefix_keeps_two_deployments_on_one_redis_apart() {
    let Some(redis) = RedisServer::start("prefix") else {
        return;
    };
    let clock = start();
    let deployment = |prefix: &str| {
        let store = RedisRateLimitStore::builder(&redis.url())
            .expect("a Redis URL")
            .key_prefix(prefix)
            .clock(Arc::new(clock.clone()))
            .build()
            .expect("the store builds");
        let _ = fixtures::TOOL_NAMES;
        ToolExecutor::builder()
            .enable_rate_limiting(true)
            .max_calls_per_minute(1)
            .rate_limit_store(Arc::new(store))
            .build()
            .expect("builds")
    };
    let (blue, green) = (deployment("blue:"), deployment("green:"));
    assert_eq!(echo(&blue, Some("ada")).await.status_code, 200);
    assert_eq!(echo(&green, Some("ada")).await.status_code, 200);
    assert_eq!(echo(&blue, Some("ada")).await.status_code, 429);
}
