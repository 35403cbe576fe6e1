//! Hybrid fallback with B in its own process: killed mid-load, no call that could have fallen
//! back is lost and none runs twice; a remote tool that ran and failed is never run again here;
//! the user and the audit records on both sides.

use std::collections::HashMap;
use std::sync::Arc;

use fact_runtime::arcade::{ArcadeGateway, ExecutionMode, Side};
use fact_runtime::audit::AuditRecord;
use fact_runtime::{ErrorKind, ToolCall};
use fact_tests::audit_sinks::MemorySink;
use futures::StreamExt as _;
use serde_json::json;

use super::engines::{ChildEngine, Runs, a_builder, client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_load_no_call_that_could_fall_back_is_lost_and_none_runs_twice() {
    // A scratch file (removed on drop) where B writes each token as it runs it.
    let scratch = fact_tests::scratch::TempDb::new("b-runs");
    let b_runs_file = scratch.path().to_owned();
    let mut b = ChildEngine::start_recording_to(Some(&b_runs_file));
    let sink = Arc::new(MemorySink::default());
    let a_runs = Runs::default();
    let gateway = ArcadeGateway::new(client(&b.base_url))
        .mode(ExecutionMode::Hybrid)
        .prefer(Side::Arcade);
    let executor = a_builder(gateway, &a_runs, &sink)
        .build_connected()
        .await
        .expect("builds");
    let calls = 300;
    let in_flight = 8;
    let kill_after = 60;
    let results = futures::stream::iter(0..calls)
        .map(|i| {
            let executor = executor.clone();
            async move {
                let token = format!("call-{i}");
                let result = executor
                    .execute_tool_call(ToolCall::new("Shared.Record", json!({"token": token})))
                    .await;
                (token, result)
            }
        })
        .buffer_unordered(in_flight);
    tokio::pin!(results);
    let mut answered = Vec::with_capacity(calls);
    while let Some(next) = results.next().await {
        answered.push(next);
        if answered.len() == kill_after {
            // Calls are in flight to B right now.
            b.kill();
        }
    }
    assert_eq!(answered.len(), calls);
    let a_tokens = a_runs.tokens();
    let mut ran_here: HashMap<&str, usize> = HashMap::new();
    for token in &a_tokens {
        *ran_here.entry(token.as_str()).or_default() += 1;
    }
    // What B ran, as it ran it (the file outlives the kill).
    let b_tokens = std::fs::read_to_string(&b_runs_file).unwrap_or_default();
    let mut ran_on_b_side: HashMap<&str, usize> = HashMap::new();
    for token in b_tokens.lines() {
        *ran_on_b_side.entry(token).or_default() += 1;
    }
    for (token, runs) in &ran_on_b_side {
        assert_eq!(*runs, 1, "{token} ran {runs} times on B");
        assert!(
            !ran_here.contains_key(token),
            "{token} ran on B and fell back here"
        );
    }
    let mut failed = 0;
    for (token, result) in &answered {
        match (&result.data, result.error_kind()) {
            (Some(side), None) if side == "B" => {
                assert!(
                    !ran_here.contains_key(token.as_str()),
                    "{token} ran on B and here"
                );
            }
            (Some(side), None) if side == "A" => {
                assert_eq!(
                    ran_here.get(token.as_str()),
                    Some(&1),
                    "{token} fell back once"
                );
            }
            // In flight when B died, or sent on a pooled connection B's death had cut without
            // the client knowing yet: it may have reached B, so it is not run again here.
            (None, Some(ErrorKind::Arcade)) => {
                failed += 1;
                assert!(
                    !ran_here.contains_key(token.as_str()),
                    "{token} may have run on B"
                );
                let error = result.error.as_deref().unwrap_or_default();
                assert!(
                    error.contains(
                        "the connection to the Arcade Engine failed during POST /v1/tools/execute"
                    ),
                    "only a connection cut after the request went out is a lost call: {error}"
                );
            }
            other => panic!("{token}: unexpected {other:?}: {result:?}"),
        }
    }
    // At most the calls in flight, and as many sent on the pool's connections (one per call
    // in flight at most) before the client saw them cut.
    assert!(
        failed <= 2 * in_flight,
        "{failed} calls lost, more than were in flight or on pooled connections"
    );
    let fell_back = answered
        .iter()
        .filter(|(_, r)| r.data == Some(json!("A")))
        .count();
    assert!(
        fell_back + failed >= calls - kill_after - in_flight,
        "only {fell_back} fell back"
    );
    assert!(
        fell_back >= calls - kill_after - 3 * in_flight,
        "only {fell_back} fell back"
    );
    let ran_on_b = answered
        .iter()
        .filter(|(_, r)| r.data == Some(json!("B")))
        .count();
    assert!(
        ran_on_b >= kill_after - in_flight,
        "only {ran_on_b} ran on B before it died"
    );
    eprintln!("{ran_on_b} ran on B, {failed} were cut off when it died, {fell_back} fell back");
    // After a few refused connections the circuit opens and calls go straight here.
    let health = executor.arcade_health().expect("a gateway");
    assert_eq!(health.status, "unreachable", "{health:?}");
    executor.shutdown().await.expect("audit flushed");
    let methods =
        sink.records()
            .iter()
            .fold(HashMap::<String, usize>::new(), |mut counts, record| {
                *counts.entry(record.execution_method.clone()).or_default() += 1;
                counts
            });
    assert_eq!(
        methods.get(AuditRecord::LOCAL),
        Some(&fell_back),
        "{methods:?}"
    );
    assert_eq!(methods.values().sum::<usize>(), calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_tool_that_ran_and_failed_is_not_run_again_and_users_are_audited_on_both_sides() {
    let b = ChildEngine::start();
    let sink = Arc::new(MemorySink::default());
    let a_runs = Runs::default();
    let gateway = ArcadeGateway::new(client(&b.base_url))
        .mode(ExecutionMode::Hybrid)
        .prefer(Side::Arcade);
    let executor = a_builder(gateway, &a_runs, &sink)
        .build_connected()
        .await
        .expect("builds");
    let failed = executor
        .execute_tool_call(ToolCall::new("Shared.Fail", json!({"token": "once"})).user("ada"))
        .await;
    assert_eq!(failed.status_code, 500, "{failed:?}");
    assert_eq!(failed.error.as_deref(), Some("B ran it and failed"));
    assert!(
        a_runs.tokens().is_empty(),
        "no fallback after the remote tool ran"
    );
    let echoed = executor
        .execute_tool_call(ToolCall::new("Remote.Echo", json!({"text": "hi"})).user("grace"))
        .await;
    assert_eq!(echoed.data, Some(json!({"text": "hi", "user": "grace"})));
    executor.shutdown().await.expect("audit flushed");
    let (b_runs, b_audit) = b.stop();
    assert_eq!(b_runs, ["once"], "B ran Shared.Fail exactly once");
    let a_audit = sink.records();
    for (tool, user, status) in [("Shared.Fail", "ada", 500), ("Remote.Echo", "grace", 200)] {
        let here = a_audit
            .iter()
            .find(|record| record.tool_name == tool)
            .unwrap_or_else(|| panic!("A audited {tool}"));
        assert_eq!(here.user_id.as_deref(), Some(user));
        assert_eq!(here.execution_method, AuditRecord::ARCADE);
        assert_eq!(here.status_code, status);
        let there = b_audit
            .iter()
            .find(|record| record.tool_name == tool)
            .unwrap_or_else(|| panic!("B audited {tool}"));
        assert_eq!(
            there.user_id.as_deref(),
            Some(user),
            "the user travelled to B"
        );
        assert_eq!(there.execution_method, AuditRecord::LOCAL);
        assert_eq!(there.status_code, status);
    }
}
