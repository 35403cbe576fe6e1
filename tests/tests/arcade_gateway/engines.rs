//! The Engines A talks to: B in a child process (this test binary, running the ignored test
//! below), B in this process, and A's own executor.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fact_runtime::arcade::{ArcadeClient, ArcadeGateway};
use fact_runtime::audit::{AuditConfig, AuditLog, AuditRecord};
use fact_runtime::server::{ApiKeys, Server, ServerConfig};
use fact_runtime::{ToolDefinition, ToolError, ToolExecutor, ToolExecutorBuilder};
use fact_tests::audit_sinks::MemorySink;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The key A uses at B: allowed to name the end user (`KEY:*`).
pub(crate) const PROJECT_KEY: &str = "project-key-0123456789abcdef";

/// Tokens of the calls a side's `Shared.Record` ran, in order; in a child, also appended to
/// a file line by line as each runs, so that they outlive a kill.
#[derive(Debug, Clone, Default)]
pub(crate) struct Runs {
    tokens: Arc<Mutex<Vec<String>>>,
    file: Option<std::path::PathBuf>,
}

impl Runs {
    pub(crate) fn tokens(&self) -> Vec<String> {
        self.tokens.lock().expect("not poisoned").clone()
    }

    fn record(&self, token: String) {
        if let Some(path) = &self.file {
            use std::io::Write as _;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("the runs file opens");
            // One write of the whole line: `writeln!` may write the token and the newline
            // separately, and the tools of concurrent calls append to the same file, so their
            // lines could interleave ("call-1call-2", then an empty line).
            file.write_all(format!("{token}\n").as_bytes())
                .expect("the run is recorded");
            file.sync_data().expect("the run is on disk");
        }
        self.tokens.lock().expect("not poisoned").push(token);
    }
}

/// The tools both sides have, answering which side ran them: `Shared.Where`; `Shared.Record`,
/// which records its `token` (its side effect) and says where it ran; `Shared.Fail`, which
/// records and then fails.
pub(crate) fn shared_tools(side: &'static str, runs: &Runs) -> Vec<ToolDefinition> {
    let token_schema = json!({
        "type": "object",
        "properties": {"token": {"type": "string", "description": "names the call"}},
        "required": ["token"]
    });
    let recorder = |fail: bool| {
        let runs = runs.clone();
        move |_ctx, args: Value| {
            let runs = runs.clone();
            async move {
                let token = args["token"].as_str().unwrap_or_default().to_owned();
                runs.record(token);
                if fail {
                    Err(ToolError::fatal(format!("{side} ran it and failed")))
                } else {
                    Ok(json!(side))
                }
            }
        }
    };
    vec![
        ToolDefinition::new(
            "Shared.Where",
            "Says where it ran",
            json!({"type": "object", "properties": {}}),
            move |_ctx, _args| async move { Ok(json!(side)) },
        ),
        ToolDefinition::new(
            "Shared.Record",
            "Records its token",
            token_schema.clone(),
            recorder(false),
        ),
        ToolDefinition::new(
            "Shared.Fail",
            "Records its token, then fails",
            token_schema,
            recorder(true),
        ),
    ]
}

/// B's tools: the shared ones, and `Remote.Echo` (B only), whose `count` must be an integer
/// from 1 to 10 and which answers the user it ran for.
pub(crate) fn b_builder(runs: &Runs) -> ToolExecutorBuilder {
    let mut builder = ToolExecutor::builder().discover_linked_tools(false);
    for tool in shared_tools("B", runs) {
        builder = builder.register(tool);
    }
    builder.register(ToolDefinition::new(
        "Remote.Echo",
        "Echoes its text for the user",
        json!({
            "type": "object",
            "properties": {
                "text": {"type": "string"},
                "count": {"type": "integer", "minimum": 1, "maximum": 10}
            },
            "required": ["text"]
        }),
        |ctx, args| async move { Ok(json!({"text": args["text"], "user": ctx.user_id()})) },
    ))
}

fn b_config(addr: std::net::SocketAddr) -> ServerConfig {
    ServerConfig::default()
        .addr(addr)
        .api_keys(ApiKeys::parse(&format!("{PROJECT_KEY}:*")).expect("valid keys"))
}

/// B in this process: it can be stopped and started again on the same port.
pub(crate) struct LocalEngine {
    pub(crate) addr: std::net::SocketAddr,
    pub(crate) runs: Runs,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl LocalEngine {
    /// B on `addr` (port 0: any free one).
    pub(crate) async fn start(
        addr: std::net::SocketAddr,
        builder: ToolExecutorBuilder,
        runs: Runs,
    ) -> Self {
        let executor = builder.build().expect("B builds");
        let server = Server::new(executor, b_config(addr)).expect("B's configuration is valid");
        let bound = server.bind().await.expect("B binds");
        let addr = bound.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = bound
                .run_until(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            addr,
            runs,
            stop: Some(stop),
            task,
        }
    }

    pub(crate) fn base_url(&self) -> String {
        format!("http://{}/arcade", self.addr)
    }

    /// Stops B and waits until its port is closed.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    }
}

impl Drop for LocalEngine {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// B in a child process: this test binary running [`child_engine`]. Killed when dropped.
pub(crate) struct ChildEngine {
    child: Child,
    pub(crate) base_url: String,
    lines: std::sync::mpsc::Receiver<String>,
}

impl ChildEngine {
    pub(crate) fn start() -> Self {
        Self::start_recording_to(None)
    }

    /// B, appending the token of each `Shared.Record` it runs to `runs_file` as it runs.
    pub(crate) fn start_recording_to(runs_file: Option<&std::path::Path>) -> Self {
        let mut command = Command::new(std::env::current_exe().expect("test binary"));
        if let Some(path) = runs_file {
            command.env("FACT_TEST_RUNS_FILE", path);
        }
        let mut child = command
            .args([
                "arcade_gateway::engines::child_engine",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("FACT_TEST_CHILD_ENGINE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the child starts");
        let stdout = child.stdout.take().expect("piped");
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        let mut engine = Self {
            child,
            base_url: String::new(),
            lines,
        };
        let listening = engine
            .line_starting("LISTENING ", Duration::from_secs(60))
            .expect("B says where it listens within a minute");
        engine.base_url = format!("http://{listening}/arcade");
        engine
    }

    /// What follows `prefix` on the first line of B's output holding it, within `wait` (the
    /// test harness may have printed the test's name before it on the same line).
    fn line_starting(&self, prefix: &str, wait: Duration) -> Option<String> {
        let end = std::time::Instant::now() + wait;
        loop {
            let left = end.checked_duration_since(std::time::Instant::now())?;
            let line = self.lines.recv_timeout(left).ok()?;
            if let Some((_, rest)) = line.split_once(prefix) {
                return Some(rest.to_owned());
            }
        }
    }

    /// Kills B at once (SIGKILL): no shutdown, no goodbye.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops B as an orchestrator does (SIGTERM) and returns what it printed on the way out:
    /// the tokens its `Shared.Record` ran and its audit records.
    pub(crate) fn stop(self) -> (Vec<String>, Vec<AuditRecord>) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let runs = self
            .line_starting("RUNS ", Duration::from_secs(60))
            .expect("B reports its runs when stopped");
        let audit = self
            .line_starting("AUDIT ", Duration::from_secs(60))
            .expect("B reports its audit records when stopped");
        (
            serde_json::from_str(&runs).expect("a JSON list"),
            serde_json::from_str(&audit).expect("JSON records"),
        )
    }
}

impl Drop for ChildEngine {
    fn drop(&mut self) {
        self.kill();
    }
}

/// B, as a child process: serves its tools until SIGTERM, then prints the tokens it ran and its
/// audit records. Alone it is ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run as a child process by the tests that kill an Engine"]
async fn child_engine() {
    if std::env::var_os("FACT_TEST_CHILD_ENGINE").is_none() {
        return;
    }
    let runs = Runs {
        file: std::env::var_os("FACT_TEST_RUNS_FILE").map(Into::into),
        ..Runs::default()
    };
    let sink = Arc::new(MemorySink::default());
    let log = AuditLog::start(sink.clone(), AuditConfig::default()).expect("valid config");
    let executor = b_builder(&runs).audit(log).build().expect("B builds");
    let server = Server::new(
        executor.clone(),
        b_config("127.0.0.1:0".parse().expect("address")),
    )
    .expect("valid configuration");
    let bound = server.bind().await.expect("binds");
    println!("LISTENING {}", bound.local_addr());
    bound.run().await.expect("serves");
    executor.shutdown().await.expect("audit flushed");
    println!(
        "RUNS {}",
        serde_json::to_string(&runs.tokens()).expect("serializes")
    );
    let records: Vec<Value> = sink
        .records()
        .iter()
        .map(|record| serde_json::to_value(record).expect("serializes"))
        .collect();
    println!("AUDIT {}", Value::Array(records));
}

/// A client of B at `base_url` that does not retry: what happens on each try is the test's.
pub(crate) fn client(base_url: &str) -> ArcadeClient {
    ArcadeClient::builder(PROJECT_KEY)
        .base_url(base_url)
        .max_retries(0)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("builds")
}

/// A: the shared tools (answering "A") and `Local.Only`, routed through `gateway`, with an
/// in-memory audit log.
pub(crate) fn a_builder(
    gateway: ArcadeGateway,
    runs: &Runs,
    sink: &Arc<MemorySink>,
) -> ToolExecutorBuilder {
    let log = AuditLog::start(sink.clone(), AuditConfig::default()).expect("valid config");
    let mut builder = ToolExecutor::builder()
        .discover_linked_tools(false)
        .arcade(gateway)
        .audit(log);
    for tool in shared_tools("A", runs) {
        builder = builder.register(tool);
    }
    builder.register(ToolDefinition::new(
        "Local.Only",
        "Only A has it",
        json!({"type": "object", "properties": {}}),
        |_ctx, _args| async { Ok(json!("A")) },
    ))
}

/// A as [`a_builder`] makes it, routing through a hybrid gateway with the defaults to `b`,
/// whose catalogue it has read.
pub(crate) async fn a_connected_to(b: &LocalEngine, sink: &Arc<MemorySink>) -> ToolExecutor {
    a_builder(
        ArcadeGateway::new(client(&b.base_url())),
        &Runs::default(),
        sink,
    )
    .build_connected()
    .await
    .expect("builds")
}

/// A's own server on loopback (the key `A_KEY` acts for any user), and what stops it.
pub(crate) async fn serve_a(
    executor: ToolExecutor,
) -> (String, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let config = ServerConfig::default()
        .addr("127.0.0.1:0".parse().expect("address"))
        .api_keys(ApiKeys::parse(&format!("{A_KEY}:*")).expect("keys"));
    let bound = Server::new(executor, config)
        .expect("configures")
        .bind()
        .await
        .expect("binds");
    let base = format!("http://{}", bound.local_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = bound
            .run_until(async {
                let _ = stopped.await;
            })
            .await;
    });
    (base, stop, task)
}

/// The key callers present to A's own server.
pub(crate) const A_KEY: &str = "a-server-key-0123456789abcdef";
