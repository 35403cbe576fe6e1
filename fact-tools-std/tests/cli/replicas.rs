//! Three `fact serve` replicas behind haproxy, sharing PostgreSQL: they behave as one service.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use serde_json::{Value, json};

use super::cluster::{Cluster, Database};
use super::support::*;

/// A cheap call that every replica serves the same way.
fn parse_json_call(n: usize) -> Value {
    json!({"tool_name": "Web.ParseJSON", "input": {"json_text": format!("[{n}]")}})
}

/// `calls` calls through `addr`, at most `concurrency` at once; the status and body of each.
async fn load(addr: SocketAddr, calls: usize, concurrency: usize) -> Vec<(u16, Value)> {
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency));
    let tasks: Vec<_> = (0..calls)
        .map(|n| {
            let semaphore = std::sync::Arc::clone(&semaphore);
            tokio::spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                execute(addr, parse_json_call(n)).await
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(calls);
    for task in tasks {
        answers.push(task.await.expect("a call task"));
    }
    answers
}

/// How many calls of `tool` the replica at `addr` has counted, from its `/metrics`.
async fn executions_counted(addr: SocketAddr, tool: &str) -> u64 {
    let response = http_client()
        .get(format!("http://{addr}/metrics"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .expect("the replica answers /metrics");
    let text = response.text().await.expect("a metrics body");
    let series = format!("tool_executions_total{{tool=\"{tool}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |value| value.trim().parse().unwrap_or(0))
}

#[test]
fn three_replicas_behind_a_balancer_answer_every_call_and_audit_each_once_in_one_database() {
    let test = "three_replicas_share_one_audit_log";
    let Some(database) = Database::create(test) else {
        return;
    };
    let scratch = Scratch::new("cluster-audit");
    let Some(mut cluster) = Cluster::start(
        test,
        &scratch,
        3,
        &[("DATABASE_URL", database.url.as_str())],
    ) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the clients");

    let answers = runtime.block_on(load(cluster.balancer, 90, 16));
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
        let counted = runtime.block_on(executions_counted(addr, "Web.ParseJSON"));
        assert!(counted > 0, "replica {addr} served no call");
    }

    cluster.stop_replicas();
    let records = database.audit_records();
    let mut per_call: HashMap<&str, usize> = HashMap::new();
    for record in &records {
        *per_call.entry(record.call_id.as_str()).or_default() += 1;
    }
    for call_id in &answered {
        assert_eq!(per_call.get(call_id.as_str()), Some(&1), "call {call_id}");
    }
    assert_eq!(
        records.len(),
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
    let scratch = Scratch::new("cluster-failover");
    let Some(mut cluster) = Cluster::start(
        test,
        &scratch,
        3,
        &[("DATABASE_URL", database.url.as_str())],
    ) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the clients");
    for (status, body) in runtime.block_on(load(cluster.balancer, 12, 4)) {
        assert_eq!(status, 200, "{body}");
    }

    cluster.kill(1);

    // The balancer sends each call whose connection is refused to another replica.
    for (status, body) in runtime.block_on(load(cluster.balancer, 60, 8)) {
        assert_eq!(status, 200, "{body}");
    }
    let survivors = [cluster.addrs[0], cluster.addrs[2]];
    let served: u64 = survivors
        .iter()
        .map(|addr| runtime.block_on(executions_counted(*addr, "Web.ParseJSON")))
        .sum();
    assert!(served >= 60, "the survivors served {served} calls");
}
