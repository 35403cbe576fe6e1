//! Three `fact serve` replicas (`fact-fixtures`, the `fact` command line over this crate's
//! fixture tools) behind haproxy, sharing PostgreSQL and Redis: they behave as one service
//! (docs/ARCHITECTURE.md, "Scaling out").
//!
//! Every replica runs with an environment cleared of everything but what the test gives it;
//! every process and database is removed on every path (`fact_tests::cluster`).

#[path = "replicas/audit.rs"]
mod audit;
#[path = "replicas/oauth.rs"]
mod oauth;
#[path = "replicas/rate_limits.rs"]
mod rate_limits;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use fact_tests::cluster::Database;
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

/// The status and JSON body of `POST /v1/tools/execute`; status 0 when no answer came (the
/// connection closed first: a replica killed while it held the call).
async fn execute(client: &reqwest::Client, addr: SocketAddr, request: &Value) -> (u16, Value) {
    let sent = client
        .post(format!("http://{addr}/v1/tools/execute"))
        .bearer_auth(API_KEY)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(request.to_string())
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) => return (0, json!({"no_answer": error.to_string()})),
    };
    let status = response.status().as_u16();
    match response.text().await {
        Ok(text) => {
            let body = serde_json::from_str(&text).unwrap_or_else(|_| json!({"not_json": text}));
            (status, body)
        }
        Err(error) => (0, json!({"no_answer": error.to_string()})),
    }
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
    load_counted(addr, calls, concurrency, call, Arc::default()).await
}

/// As [`load`], counting the answers in `answered` as they arrive.
async fn load_counted(
    addr: SocketAddr,
    calls: usize,
    concurrency: usize,
    call: impl Fn(usize) -> Value,
    answered: Arc<AtomicUsize>,
) -> Vec<(u16, Value)> {
    let client = http_client();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let tasks: Vec<_> = (0..calls)
        .map(|n| {
            let semaphore = Arc::clone(&semaphore);
            let client = client.clone();
            let request = call(n);
            let answered = Arc::clone(&answered);
            tokio::spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                let answer = execute(&client, addr, &request).await;
                answered.fetch_add(1, Ordering::Relaxed);
                answer
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
    records_per_call_at(&database.url)
}

/// How many audit records each call id has in the database at `url`.
fn records_per_call_at(url: &str) -> HashMap<String, usize> {
    let mut per_call = HashMap::new();
    for record in fact_tests::cluster::audit_records(url) {
        *per_call.entry(record.call_id).or_default() += 1;
    }
    per_call
}
