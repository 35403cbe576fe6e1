//! Rate limits of replicas sharing Redis (`REDIS_URL`), through the balancer: a quota of N
//! admits N calls in total, whichever replica takes each; while Redis is down every replica
//! refuses with 503 and `Retry-After` (the default policy), and enforces the quota again once
//! Redis is back, without a restart.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use fact_tests::cluster::Cluster;
use fact_tests::redis_server::RedisServer;

use super::*;

/// Replicas limiting each user to `burst` calls, then one a minute (so no unit comes back
/// while the test runs), counted in `redis`; each with an audit file of its own.
fn limited(scratch: &Scratch, redis: &RedisServer, burst: u32) -> impl Fn() -> Command {
    let env = [
        ("FACT_RATE_LIMIT_PER_MINUTE", "1".to_owned()),
        ("FACT_RATE_LIMIT_BURST", burst.to_string()),
        ("REDIS_URL", redis.url()),
    ];
    let replica = AtomicUsize::new(0);
    move || {
        let n = replica.fetch_add(1, Ordering::Relaxed);
        let database = format!(
            "sqlite://{}",
            scratch.0.join(format!("audit-{n}.db")).display()
        );
        let mut env = env.to_vec();
        env.push(("DATABASE_URL", database));
        serve(scratch, &env)
    }
}

/// The answers' statuses, counted.
fn statuses(answers: &[(u16, Value)]) -> HashMap<u16, usize> {
    let mut counted = HashMap::new();
    for (status, _) in answers {
        *counted.entry(*status).or_default() += 1;
    }
    counted
}

#[test]
fn three_replicas_sharing_redis_admit_exactly_the_quota_through_the_balancer() {
    let test = "replicas_share_one_quota";
    let Some(redis) = RedisServer::start(test) else {
        return;
    };
    let scratch = Scratch::new("rate-limits");
    let Some(cluster) = Cluster::start(test, &scratch.0, 3, limited(&scratch, &redis, 20)) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the clients");

    let answers = runtime.block_on(load(cluster.balancer, 150, 24, echo));

    let counted = statuses(&answers);
    assert_eq!(counted.get(&200), Some(&20), "{counted:?}");
    assert_eq!(counted.get(&429), Some(&130), "{counted:?}");
    for addr in cluster.addrs.clone() {
        let took = runtime.block_on(executions_counted(addr, "Fixture.Echo"));
        assert!(took > 0, "replica {addr} took no call");
    }
}

#[test]
fn replicas_refuse_with_503_while_redis_is_down_and_enforce_the_quota_once_it_is_back() {
    let test = "replicas_outage";
    let Some(mut redis) = RedisServer::start(test) else {
        return;
    };
    let scratch = Scratch::new("rate-limits-outage");
    let Some(cluster) = Cluster::start(test, &scratch.0, 3, limited(&scratch, &redis, 5)) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the clients");
    let client = http_client();
    for (status, body) in runtime.block_on(load(cluster.balancer, 3, 3, echo)) {
        assert_eq!(status, 200, "{body}");
    }

    redis.stop();
    for (status, body) in runtime.block_on(load(cluster.balancer, 9, 3, echo)) {
        assert_eq!(status, 503, "{body}");
        assert_eq!(
            body["metadata"]["error_type"], "ServiceUnavailableError",
            "{body}"
        );
        assert_eq!(body["metadata"]["retry_after_ms"], 1_000, "{body}");
    }

    // Restarted empty: every replica finds it again on its own, with its first call, and
    // counts from zero.
    redis.restart();
    for addr in cluster.addrs.clone() {
        let (status, body) = runtime.block_on(execute(&client, addr, &echo(0)));
        assert_eq!(
            status, 200,
            "replica {addr} did not use Redis again at once: {body}"
        );
    }
    let counted = statuses(&runtime.block_on(load(cluster.balancer, 12, 4, echo)));
    assert_eq!(
        counted.get(&200),
        Some(&2),
        "three of five spent by the calls above: {counted:?}"
    );
    assert_eq!(counted.get(&429), Some(&10), "{counted:?}");
}
