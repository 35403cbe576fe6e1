//! The audit log of replicas sharing PostgreSQL: one record per call, whichever replica took
//! it, and none lost when a replica dies.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fact_tests::cluster::{Cluster, Database};
use fact_tests::private_postgres::{PrivatePostgres, StopMode};
use fact_tests::serve_process::WAIT;

use super::*;

#[test]
fn three_replicas_behind_a_balancer_answer_every_call_and_audit_each_once_in_one_database() {
    let test = "three_replicas_share_one_audit_log";
    let Some(database) = Database::create(test) else {
        return;
    };
    let scratch = Scratch::new("audit");
    let env = [("DATABASE_URL", database.url.clone())];
    let Some(mut cluster) = Cluster::start(test, &scratch.0, 3, || serve(&scratch, &env)) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the clients");

    let answers = runtime.block_on(load(cluster.balancer, 90, 16, echo));
    let mut answered = HashSet::new();
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        let call_id = body["call_id"]
            .as_str()
            .expect("every answer has a call id");
        assert!(
            answered.insert(call_id.to_owned()),
            "call id {call_id} twice"
        );
    }
    // Round robin: every replica took its share.
    for addr in cluster.addrs.clone() {
        let counted = runtime.block_on(executions_counted(addr, "Fixture.Echo"));
        assert!(counted > 0, "replica {addr} served no call");
    }

    cluster.stop_replicas();
    let per_call = records_per_call(&database);
    for call_id in &answered {
        assert_eq!(per_call.get(call_id), Some(&1), "call {call_id}");
    }
    assert_eq!(
        per_call.len(),
        answered.len(),
        "records of calls nobody made"
    );
}

#[test]
fn a_replica_killed_outright_leaves_the_others_answering_every_call_through_the_balancer() {
    let test = "a_killed_replica_leaves_the_others_answering";
    let Some(database) = Database::create(test) else {
        return;
    };
    let scratch = Scratch::new("failover");
    let env = [("DATABASE_URL", database.url.clone())];
    let Some(mut cluster) = Cluster::start(test, &scratch.0, 3, || serve(&scratch, &env)) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the clients");
    for (status, body) in runtime.block_on(load(cluster.balancer, 12, 4, echo)) {
        assert_eq!(status, 200, "{body}");
    }

    cluster.kill(1);

    // The balancer sends each call whose connection is refused to another replica.
    for (status, body) in runtime.block_on(load(cluster.balancer, 60, 8, echo)) {
        assert_eq!(status, 200, "{body}");
    }
    let survivors = [cluster.addrs[0], cluster.addrs[2]];
    let served: u64 = survivors
        .iter()
        .map(|addr| runtime.block_on(executions_counted(*addr, "Fixture.Echo")))
        .sum();
    assert!(served >= 60, "the survivors served {served} calls");
}

#[test]
fn a_replica_killed_at_load_in_durable_mode_loses_no_record_of_a_call_it_answered() {
    let test = "a_replica_killed_at_load_loses_no_answered_record";
    let Some(database) = Database::create(test) else {
        return;
    };
    let scratch = Scratch::new("kill-durable");
    let env = [
        ("DATABASE_URL", database.url.clone()),
        ("FACT_AUDIT_DURABILITY", "answered".to_owned()),
    ];
    let Some(mut cluster) = Cluster::start(test, &scratch.0, 3, || serve(&scratch, &env)) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the clients");
    let answered = Arc::new(AtomicUsize::new(0));
    let calls = 600;
    let load = runtime.spawn(load_counted(
        cluster.balancer,
        calls,
        24,
        echo,
        Arc::clone(&answered),
    ));

    // Mid-load: a third of the calls answered, the rest still coming.
    let deadline = Instant::now() + WAIT;
    while answered.load(Ordering::Relaxed) < calls / 3 {
        assert!(Instant::now() < deadline, "the load did not progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    cluster.kill(1);
    let answers = runtime
        .block_on(load)
        .expect("the load finishes after the kill");
    assert_eq!(answers.len(), calls);

    // FACT's answers carry a call id; the balancer's own (a call in flight on the killed
    // replica) do not.
    let mut answered_ids = HashSet::new();
    for (status, body) in &answers {
        match body["call_id"].as_str() {
            Some(call_id) => {
                assert_eq!(*status, 200, "{body}");
                assert!(answered_ids.insert(call_id.to_owned()), "{call_id} twice");
            }
            // No answer (0), or the balancer's own.
            None => assert!(
                [0, 502, 503, 504].contains(status),
                "only the balancer answers without a call id: {status} {body}"
            ),
        }
    }
    assert!(
        answered_ids.len() > calls / 2,
        "the survivors answered most calls: {}",
        answered_ids.len()
    );

    cluster.stop_replicas();
    let per_call = records_per_call(&database);
    for call_id in &answered_ids {
        assert_eq!(
            per_call.get(call_id),
            Some(&1),
            "call {call_id} was answered, so it has exactly one record"
        );
    }
    let duplicated: Vec<_> = per_call.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "{duplicated:?}");
}

#[test]
fn replicas_ride_out_a_postgres_outage_without_losing_or_duplicating_a_record() {
    let test = "replicas_ride_out_a_postgres_outage";
    let Some(postgres) = PrivatePostgres::start(test) else {
        return;
    };
    let scratch = Scratch::new("postgres-outage");
    let env = [
        ("DATABASE_URL", postgres.url()),
        ("FACT_AUDIT_DURABILITY", "answered".to_owned()),
    ];
    let Some(mut cluster) = Cluster::start(test, &scratch.0, 3, || serve(&scratch, &env)) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the clients");
    let mut answers = runtime.block_on(load(cluster.balancer, 30, 6, echo));
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "{answers:?}"
    );

    postgres.stop(StopMode::Fast);
    let during = runtime.block_on(load(cluster.balancer, 30, 6, echo));
    for (status, body) in &during {
        // Never a 200 that no committed record stands behind.
        assert_eq!(*status, 503, "{body}");
        assert!(body["call_id"].is_string(), "{body}");
    }
    answers.extend(during);

    postgres.start_again();
    // Each replica finds the database again on its own; until then it still says 503.
    let client = http_client();
    for addr in cluster.addrs.clone() {
        let deadline = Instant::now() + WAIT;
        loop {
            let answer = runtime.block_on(execute(&client, addr, &echo(0)));
            let status = answer.0;
            answers.push(answer);
            if status == 200 {
                break;
            }
            assert_eq!(status, 503, "{:?}", answers.last());
            assert!(Instant::now() < deadline, "replica {addr} never recovered");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let after = runtime.block_on(load(cluster.balancer, 30, 6, echo));
    assert!(after.iter().all(|(status, _)| *status == 200), "{after:?}");
    answers.extend(after);

    cluster.stop_replicas();
    let database = records_per_call_at(&postgres.url());
    let answered: HashSet<&str> = answers
        .iter()
        .filter_map(|(_, body)| body["call_id"].as_str())
        .collect();
    assert_eq!(answered.len(), answers.len(), "every answer came from FACT");
    for call_id in &answered {
        assert_eq!(
            database.get(*call_id),
            Some(&1),
            "call {call_id}, answered during or around the outage, has exactly one record"
        );
    }
    assert_eq!(
        database.len(),
        answered.len(),
        "records of calls nobody made"
    );
}
