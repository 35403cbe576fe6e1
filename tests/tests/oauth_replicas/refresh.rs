//! Refresh, single-flight across replicas on PostgreSQL: of N replicas that find one grant
//! expiring at once, one refreshes it while the others wait on its advisory lock, then read the
//! refreshed grant. The wait is bounded, and a holder whose connection died frees the grant.

use std::sync::Arc;
use std::time::Duration;

use fact_runtime::ToolResult;
use sqlx::Connection as _;
use tokio::task::JoinHandle;

use crate::support::{Database, Replicas};

/// How long a step that the system under test must take (a lock passed on, a request
/// arriving) may take before the test fails.
const STEP: Duration = Duration::from_secs(30);

fn call_on(r: &Arc<Replicas>, i: usize) -> JoinHandle<ToolResult> {
    let r = Arc::clone(r);
    tokio::spawn(async move { r.call(i).await })
}

async fn finished(call: JoinHandle<ToolResult>) -> ToolResult {
    tokio::time::timeout(STEP, call)
        .await
        .expect("the call ends")
        .expect("the call's task ends")
}

/// The replicas' PostgreSQL server.
fn server_of(r: &Replicas) -> &str {
    r.db.postgres_server()
        .expect("the advisory lock is PostgreSQL's")
}

/// Advisory locks the replicas hold, and those they wait for, as PostgreSQL sees them.
async fn advisory_locks(r: &Replicas) -> (i64, i64) {
    let mut admin = sqlx::PgConnection::connect(server_of(r))
        .await
        .expect("PostgreSQL reachable");
    sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE l.granted), COUNT(*) FILTER (WHERE NOT l.granted) \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND left(a.application_name, length($1)) = $1",
    )
    .bind(format!("{}-", r.application))
    .fetch_one(&mut admin)
    .await
    .expect("pg_locks")
}

/// Returns once PostgreSQL shows the replicas holding `granted` advisory locks and waiting for
/// `waiting`; fails after [`STEP`].
async fn until_advisory_locks(r: &Replicas, granted: i64, waiting: i64) {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let seen = advisory_locks(r).await;
        if seen == (granted, waiting) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "PostgreSQL shows (granted, waiting) = {seen:?}, expected ({granted}, {waiting})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn refresh_arrived(r: &Replicas) {
    tokio::time::timeout(STEP, r.provider.refresh_arrived())
        .await
        .expect("a refresh request reaches the provider");
}

/// The grant authorized, used once, and then expired on the shared clock.
async fn expired_grant(r: &Replicas) -> String {
    r.authorize(0, 0).await;
    assert_eq!(r.call(0).await.status_code, 200);
    let first = r.tokens_seen().pop().expect("a token");
    r.clock.advance(Duration::from_secs(3600));
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_on_five_replicas_make_one_token_request() {
    let test = "concurrent refreshes on five replicas";
    let Some(db) = Database::postgres(test).await else {
        return;
    };
    let r = Arc::new(Replicas::start(db, 5).await);
    let first = expired_grant(&r).await;

    // The provider holds the first refresh until the four other replicas wait on its lock.
    r.provider.hold_refreshes(true);
    let calls: Vec<_> = (0..5).map(|i| call_on(&r, i)).collect();
    refresh_arrived(&r).await;
    until_advisory_locks(&r, 1, 4).await;
    assert_eq!(r.provider.refreshes(), 1);
    r.provider.hold_refreshes(false);

    for (i, call) in calls.into_iter().enumerate() {
        let result = finished(call).await;
        assert_eq!(result.status_code, 200, "replica {i}: {result:?}");
    }
    assert_eq!(
        r.provider.refreshes(),
        1,
        "one refresh request at the provider"
    );
    let seen = r.tokens_seen();
    let renewed = &seen[seen.len() - 5..];
    assert!(
        renewed
            .iter()
            .all(|token| *token == renewed[0] && *token != first),
        "every replica got the one refreshed token: {renewed:?}"
    );
    assert_eq!(advisory_locks(&r).await, (0, 0), "every lock is released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_waiting_past_its_lock_timeout_is_refused_with_503_and_a_retry_delay() {
    let test = "a replica waiting past its lock timeout";
    let Some(db) = Database::postgres(test).await else {
        return;
    };
    let impatient = Duration::from_millis(500);
    let r = Arc::new(
        Replicas::start_with(db, 2, |i, store| {
            if i == 1 {
                store.with_lock_timeout(impatient)
            } else {
                store
            }
        })
        .await,
    );
    expired_grant(&r).await;
    r.provider.hold_refreshes(true);
    let holder = call_on(&r, 0);
    refresh_arrived(&r).await;

    let refused = finished(call_on(&r, 1)).await;
    assert_eq!(refused.status_code, 503, "{refused:?}");
    assert_eq!(
        refused.metadata.error_type.as_deref(),
        Some("ServiceUnavailableError")
    );
    assert!(refused.metadata.retry_after_ms.is_some(), "{refused:?}");
    let message = refused.error.as_deref().unwrap_or_default();
    assert!(
        message.contains("is being changed by another process") && message.contains("500 ms"),
        "{message}"
    );

    r.provider.hold_refreshes(false);
    assert_eq!(finished(holder).await.status_code, 200);
    assert_eq!(
        r.call(1).await.status_code,
        200,
        "the retry reads the refreshed grant"
    );
    assert_eq!(r.provider.refreshes(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lock_whose_holder_lost_its_connection_passes_to_the_next_replica() {
    let test = "a lock whose holder lost its connection";
    let Some(db) = Database::postgres(test).await else {
        return;
    };
    let r = Arc::new(Replicas::start(db, 2).await);
    expired_grant(&r).await;
    r.provider.hold_refreshes(true);
    let holder = call_on(&r, 0);
    refresh_arrived(&r).await;
    let waiter = call_on(&r, 1);
    until_advisory_locks(&r, 1, 1).await;

    // Replica 0's lock connection dies (as with its process): PostgreSQL ends its lock.
    let mut admin = sqlx::PgConnection::connect(server_of(&r))
        .await
        .expect("PostgreSQL reachable");
    let terminated: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(l.pid) FROM pg_locks l \
         JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = $1",
    )
    .bind(format!("{}-0", r.application))
    .fetch_all(&mut admin)
    .await
    .expect("terminate");
    assert_eq!(terminated, [(true,)]);

    // Replica 1 takes the lock, finds the grant still expiring, and refreshes it itself.
    refresh_arrived(&r).await;
    assert_eq!(r.provider.refreshes(), 2);
    r.provider.hold_refreshes(false);
    assert_eq!(finished(waiter).await.status_code, 200);
    assert_eq!(finished(holder).await.status_code, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_on_one_replica_of_a_sqlite_file_refresh_once() {
    let r = Arc::new(Replicas::start(Database::sqlite(), 1).await);
    let first = expired_grant(&r).await;
    r.provider.hold_refreshes(true);
    let calls: Vec<_> = (0..8).map(|_| call_on(&r, 0)).collect();
    refresh_arrived(&r).await;
    r.provider.hold_refreshes(false);
    for call in calls {
        assert_eq!(finished(call).await.status_code, 200);
    }
    assert_eq!(r.provider.refreshes(), 1);
    assert_ne!(r.tokens_seen().pop(), Some(first));
}
