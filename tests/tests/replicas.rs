//! Three `fact serve` replicas (`fact-fixtures`, the `fact` command line over this crate's
//! fixture tools) behind haproxy, sharing PostgreSQL: they behave as one service
//! (docs/ARCHITECTURE.md, "Scaling out").
//!
//! Every replica runs with an environment cleared of everything but what the test gives it;
//! every process and database is removed on every path (`fact_tests::cluster`).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;

use fact_tests::cluster::{Cluster, Database};
use fact_tests::scratch::unique;
use serde_json::{Value, json};

/// An API key of 24 characters, and the user it belongs to.
const API_KEY: &str = "fact-replica-key-0123456";
const API_USER: &str = "ada";

/// A directory of its own for one test, removed when the test ends.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(unique(&format!("fact-replicas-{name}")));
        std::fs::create_dir_all(&dir).expect("the scratch directory can be created");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `fact-fixtures serve` on a free loopback port, with one API key, `env` and nothing else.
fn serve(scratch: &Scratch, env: &[(&str, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fact-fixtures"));
    command
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env_clear()
        .env("FACT_API_KEYS", format!("{API_KEY}:{API_USER}"))
        .env("RUST_LOG", "info")
        .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
        .current_dir(&scratch.0)
        .stdin(Stdio::null());
    command
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client")
}

/// The status and JSON body of `POST /v1/tools/execute`.
async fn execute(client: &reqwest::Client, addr: SocketAddr, request: &Value) -> (u16, Value) {
    let response = client
        .post(format!("http://{addr}/v1/tools/execute"))
        .bearer_auth(API_KEY)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(request.to_string())
        .send()
        .await
        .expect("the balancer answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| json!({"not_json": text}));
    (status, body)
}

fn echo(n: usize) -> Value {
    json!({"tool_name": "Fixture.Echo", "input": {"text": format!("call {n}")}})
}

/// `calls` calls made by `call(n)` through `addr`, at most `concurrency` at once; the status and
/// body of each.
async fn load(
    addr: SocketAddr,
    calls: usize,
    concurrency: usize,
    call: impl Fn(usize) -> Value,
) -> Vec<(u16, Value)> {
    let client = http_client();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let tasks: Vec<_> = (0..calls)
        .map(|n| {
            let semaphore = Arc::clone(&semaphore);
            let client = client.clone();
            let request = call(n);
            tokio::spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                execute(&client, addr, &request).await
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

/// How many audit records each call id has in `database`.
fn records_per_call(database: &Database) -> HashMap<String, usize> {
    let mut per_call = HashMap::new();
    for record in database.audit_records() {
        *per_call.entry(record.call_id).or_default() += 1;
    }
    per_call
}

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
