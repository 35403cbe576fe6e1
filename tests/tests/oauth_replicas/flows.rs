//! Pending flows shared by replicas: started on one, completed on another, at most once, their
//! status the same everywhere, bounded.

use std::sync::Arc;
use std::time::Duration;

use fact_runtime::ToolResult;
use fact_runtime::auth::{
    AuthError, AuthorizationManager, FLOW_LIFETIME, FlowStatus, SqlFlowStore,
};
use fact_tests::captured_log::CapturedLog;
use serde_json::Value;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::support::{Database, Replicas, SECRET_KEY, TOOL};

fn metadata<'a>(result: &'a ToolResult, key: &str) -> &'a str {
    result
        .metadata
        .extra
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {key} in {result:?}"))
}

async fn status(manager: &AuthorizationManager, flow_id: &str) -> Option<FlowStatus> {
    manager
        .flow_status(flow_id)
        .await
        .expect("the flow store answers")
        .map(|(_, status)| status)
}

on_sqlite_and_postgres!(
    a_flow_started_on_one_replica_completes_on_another_and_its_grant_serves_a_third
);
async fn a_flow_started_on_one_replica_completes_on_another_and_its_grant_serves_a_third(
    db: Database,
) {
    let r = Replicas::start(db, 3).await;
    let refused = r.call(0).await;
    assert_eq!(refused.status_code, 401, "{refused:?}");
    let (code, state) = r.approve(metadata(&refused, "authorization_url")).await;
    assert_eq!(state, metadata(&refused, "flow_id"));

    let grant = r
        .manager(1)
        .complete_authorization(&state, &code)
        .await
        .expect("replica 1 completes replica 0's flow");
    assert_eq!(grant.user_id, r.user);
    assert_eq!(grant.scopes, ["docs.read"]);
    assert_eq!(r.provider.code_exchanges(), 1);

    assert_eq!(
        status(r.manager(2), &state).await,
        Some(FlowStatus::Completed)
    );
    let served = r.call(2).await;
    assert_eq!(served.status_code, 200, "{served:?}");
    assert_eq!(r.tokens_seen().len(), 1);
}

on_sqlite_and_postgres!(racing_completions_of_one_flow_on_two_replicas_make_one_token_request);
async fn racing_completions_of_one_flow_on_two_replicas_make_one_token_request(db: Database) {
    let r = Arc::new(Replicas::start(db, 3).await);
    for round in 1..=5 {
        let flow = r.initiate(0).await;
        let (code, state) = r.approve(&flow.authorization_url).await;
        let racers = [1, 2].map(|i| {
            let (r, code, state) = (Arc::clone(&r), code.clone(), state.clone());
            tokio::spawn(async move { r.manager(i).complete_authorization(&state, &code).await })
        });
        let mut outcomes = Vec::new();
        for racer in racers {
            outcomes.push(racer.await.expect("the completion task ends"));
        }
        let (won, lost): (Vec<_>, Vec<_>) = outcomes.into_iter().partition(Result::is_ok);
        assert_eq!(won.len(), 1, "round {round}: {won:?} {lost:?}");
        assert!(
            matches!(lost.as_slice(), [Err(AuthError::FlowUsed)]),
            "round {round}: the loser is told the flow is used: {lost:?}"
        );
        assert_eq!(r.provider.code_exchanges(), round, "one exchange per flow");
        assert_eq!(
            status(r.manager(0), &state).await,
            Some(FlowStatus::Completed)
        );
    }
}

on_sqlite_and_postgres!(a_waiter_on_one_replica_returns_when_another_completes_the_flow);
async fn a_waiter_on_one_replica_returns_when_another_completes_the_flow(db: Database) {
    let r = Arc::new(Replicas::start(db, 2).await);
    let flow = r.initiate(0).await;
    let waiter = tokio::spawn({
        let (r, id) = (Arc::clone(&r), flow.flow_id.clone());
        // Far longer than the store is polled: a waiter that missed the completion would
        // come back pending, at the end of its wait.
        async move {
            r.manager(0)
                .wait_for_flow(&id, Duration::from_secs(45))
                .await
        }
    });
    let (code, state) = r.approve(&flow.authorization_url).await;
    r.manager(1)
        .complete_authorization(&state, &code)
        .await
        .expect("completed on replica 1");
    let (seen, status) = waiter
        .await
        .expect("the waiter ends")
        .expect("the flow store answers")
        .expect("the flow is known");
    assert_eq!(status, FlowStatus::Completed);
    assert_eq!(seen.flow_id, flow.flow_id);
    assert_eq!(seen.user_id, r.user);
}

on_sqlite_and_postgres!(a_flow_expired_by_the_shared_clock_is_refused_on_every_replica);
async fn a_flow_expired_by_the_shared_clock_is_refused_on_every_replica(db: Database) {
    let r = Replicas::start(db, 3).await;
    let flow = r.initiate(0).await;
    let (code, state) = r.approve(&flow.authorization_url).await;
    r.clock.advance(FLOW_LIFETIME - Duration::from_millis(1));
    assert_eq!(
        status(r.manager(2), &state).await,
        Some(FlowStatus::Pending)
    );
    r.clock.advance(Duration::from_millis(1));
    let error = r
        .manager(1)
        .complete_authorization(&state, &code)
        .await
        .expect_err("expired");
    assert!(matches!(error, AuthError::FlowExpired { .. }), "{error:?}");
    assert_eq!(
        status(r.manager(2), &state).await,
        Some(FlowStatus::Expired)
    );
    assert_eq!(r.provider.code_exchanges(), 0);
}

on_sqlite_and_postgres!(a_used_flow_is_refused_on_every_other_replica);
async fn a_used_flow_is_refused_on_every_other_replica(db: Database) {
    let r = Replicas::start(db, 3).await;
    let flow = r.initiate(0).await;
    let (code, state) = r.approve(&flow.authorization_url).await;
    r.manager(1)
        .complete_authorization(&state, &code)
        .await
        .expect("first use");
    for i in [0, 1, 2] {
        let error = r
            .manager(i)
            .complete_authorization(&state, &code)
            .await
            .expect_err("second use");
        assert!(
            matches!(error, AuthError::FlowUsed),
            "replica {i}: {error:?}"
        );
        let error = r
            .manager(i)
            .abandon_authorization(&state, "access_denied")
            .await
            .expect_err("used");
        assert!(
            matches!(error, AuthError::FlowUsed),
            "replica {i}: {error:?}"
        );
    }
    assert_eq!(r.provider.code_exchanges(), 1, "the provider is asked once");
}

on_sqlite_and_postgres!(a_flow_refused_at_the_provider_reads_failed_on_every_replica);
async fn a_flow_refused_at_the_provider_reads_failed_on_every_replica(db: Database) {
    let r = Replicas::start(db, 2).await;
    let flow = r.initiate(0).await;
    r.manager(1)
        .abandon_authorization(&flow.flow_id, "access_denied")
        .await
        .expect("replica 1 ends replica 0's flow");
    let failed = Some(FlowStatus::Failed("access_denied".to_owned()));
    assert_eq!(status(r.manager(0), &flow.flow_id).await, failed);
    assert_eq!(status(r.manager(1), &flow.flow_id).await, failed);
}

on_sqlite_and_postgres!(refused_calls_on_any_replica_hand_out_the_latest_pending_flow);
async fn refused_calls_on_any_replica_hand_out_the_latest_pending_flow(db: Database) {
    let r = Replicas::start(db, 3).await;
    let first = r.call(0).await;
    assert_eq!(first.status_code, 401, "{first:?}");
    let flow_id = metadata(&first, "flow_id").to_owned();
    for i in [1, 2] {
        let again = r.call(i).await;
        assert_eq!(again.status_code, 401, "{again:?}");
        assert_eq!(metadata(&again, "flow_id"), flow_id, "replica {i}");
    }
    // Past half its lifetime the flow is not handed out again: a new one is started.
    r.clock.advance(FLOW_LIFETIME / 2);
    let later = r.call(1).await;
    let newer = metadata(&later, "flow_id").to_owned();
    assert_ne!(newer, flow_id);
    assert_eq!(metadata(&r.call(2).await, "flow_id"), newer);
    // Once used, it is not handed out either.
    let (code, state) = r.approve(metadata(&later, "authorization_url")).await;
    r.manager(0)
        .complete_authorization(&state, &code)
        .await
        .expect("grant");
    assert_eq!(r.call(2).await.status_code, 200);
}

on_sqlite_and_postgres!(the_flow_table_keeps_at_most_its_bound_and_forgets_long_gone_flows);
async fn the_flow_table_keeps_at_most_its_bound_and_forgets_long_gone_flows(db: Database) {
    let r = Replicas::start(db, 1).await;
    let flows = SqlFlowStore::connect(&r.db.url("bounded"), SECRET_KEY)
        .await
        .expect("flow store")
        .with_max_flows(3);
    let manager = AuthorizationManager::builder(r.manager(0).config().clone())
        .flow_store(Arc::new(flows))
        .clock(Arc::new(r.clock.clone()))
        .build()
        .expect("manager");
    let mut ids = Vec::new();
    for n in 0..5 {
        let flow = manager
            .initiate_authorization(&format!("{}-{n}", r.user), TOOL, ["docs.read"])
            .await
            .expect("flow");
        ids.push(flow.flow_id);
    }
    for (n, id) in ids.iter().enumerate() {
        let expected = (n >= 2).then_some(FlowStatus::Pending);
        assert_eq!(status(&manager, id).await, expected, "flow {n}");
    }
    let error = manager
        .complete_authorization(&ids[0], "code")
        .await
        .expect_err("dropped");
    assert!(matches!(error, AuthError::UnknownFlow), "{error:?}");

    // A lifetime after their expiry, the next start forgets them.
    r.clock.advance(FLOW_LIFETIME * 2);
    assert_eq!(status(&manager, &ids[4]).await, Some(FlowStatus::Expired));
    let fresh = manager
        .initiate_authorization(&r.user, TOOL, ["docs.read"])
        .await
        .expect("flow");
    for id in &ids {
        assert_eq!(status(&manager, id).await, None);
    }
    assert_eq!(
        status(&manager, &fresh.flow_id).await,
        Some(FlowStatus::Pending)
    );
}

#[tokio::test]
async fn nothing_in_the_sqlite_file_or_fact_s_log_lets_a_reader_complete_a_flow() {
    // Every event of every test of this binary, at every level: the only subscriber it installs.
    let log = CapturedLog::default();
    tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_max_level(LevelFilter::TRACE)
        .with_ansi(false)
        .finish()
        .try_init()
        .expect("no other test of this binary installs a subscriber");
    let r = Replicas::start(Database::sqlite(), 2).await;
    let left_pending = r.initiate(1).await;
    let flow = r.initiate(0).await;
    let (code, state) = r.approve(&flow.authorization_url).await;
    r.manager(1)
        .complete_authorization(&state, &code)
        .await
        .expect("grant");
    // The verifier was in the table (sealed) from the start of the flow to its claim.
    let verifier = r
        .provider
        .code_verifiers()
        .pop()
        .expect("the exchange sent a verifier");
    assert!(verifier.len() >= 43, "{verifier}");

    let Database::Sqlite(file) = &r.db else {
        unreachable!("a SQLite file was asked for")
    };
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        bytes.extend(
            std::fs::read(format!("{}{suffix}", file.path().display())).unwrap_or_default(),
        );
    }
    assert!(!bytes.is_empty());
    let text = log.text();
    assert!(
        text.contains("authorization flow started"),
        "the log is captured:\n{text}"
    );
    let fact_lines: String = text
        .lines()
        .filter(|line| line.contains(" fact_runtime"))
        .collect();
    for secret in [&verifier, &state, &left_pending.flow_id] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "'{secret}' in the database file"
        );
        assert!(
            !fact_lines.contains(secret.as_str()),
            "'{secret}' in FACT's log:\n{fact_lines}"
        );
    }
    assert!(
        !text.contains(&verifier),
        "the verifier in the log:\n{text}"
    );
}
