//! The `fact` binary as its users meet it: real processes, real loopback sockets, real signals.
//!
//! Every child runs in a fresh scratch directory with an environment cleared of everything but
//! what the test gives it (`DATABASE_URL` on a SQLite file of that directory, keys, allowed
//! hosts), so no variable of the developer's shell and no `fact.db` of the working tree can
//! change what a test sees. Waits are bounded only so that a broken binary fails the test
//! instead of hanging it; nothing is asserted about how long anything takes.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use fact_runtime::audit::{AuditQuery, AuditRecord, SqlAuditSink};
use serde_json::{Value, json};

/// The longest any single wait lasts before the test gives up (and kills what it started).
const WAIT: Duration = Duration::from_secs(60);
/// An API key of 24 characters, and the user it belongs to.
const API_KEY: &str = "fact-test-key-0123456789";
const API_USER: &str = "ada";
/// A secret the server is given and must never print.
const ARCADE_SECRET: &str = "arcade-secret-value-123";

/// The ten standard tools the binary links, by their native names.
const STANDARD_TOOLS: [&str; 10] = [
    "Web.HTTPRequest",
    "Web.URLHealth",
    "Web.ParseJSON",
    "Web.ExtractURLs",
    "FileSystem.ReadFile",
    "FileSystem.ListDirectory",
    "FileSystem.GetFileInfo",
    "SQL.Query",
    "SQL.TableInfo",
    "SQL.SchemaInfo",
];

// ---- scratch directories and commands ------------------------------------------------------

/// A directory of its own for one test, removed when the test ends.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "fact-cli-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("the scratch directory can be created");
        Self { dir }
    }

    /// The audit database of this test: a SQLite file in the scratch directory.
    fn database_url(&self) -> String {
        format!("sqlite://{}", self.dir.join("audit.db").display())
    }

    /// `fact` with no environment but `DATABASE_URL`, run inside the scratch directory.
    fn fact(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_fact"));
        command
            .env_clear()
            .env("DATABASE_URL", self.database_url())
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        command
    }

    /// `fact serve` on a free loopback port with one API key (of [`API_USER`]).
    fn serve(&self) -> Command {
        let mut command = self.fact();
        command
            .args(["serve", "--addr", "127.0.0.1:0"])
            .env("FACT_API_KEYS", format!("{API_KEY}:{API_USER}"));
        command
    }

    /// The audit records of `tool` in this test's database.
    fn audit_records(&self, tool: &str) -> Vec<AuditRecord> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime to read the audit log");
        runtime.block_on(async {
            let sink = SqlAuditSink::connect(&self.database_url())
                .await
                .expect("the audit database opens");
            let records = sink
                .query(&AuditQuery::new().tool(tool))
                .await
                .expect("the audit log can be queried");
            sink.close().await;
            records
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `command` to completion and returns its exit status and output; a process still running
/// after [`WAIT`] is killed and fails the test.
fn run(command: &mut Command) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the fact binary starts");
    let pid = child.id();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(WAIT) {
        Ok(output) => output.expect("the output of fact can be read"),
        Err(_) => {
            send_signal(pid, "KILL");
            panic!("fact did not finish within {WAIT:?}");
        }
    }
}

/// Sends the signal `name` (`TERM`, `KILL`) to the process `pid`, as an orchestrator would.
fn send_signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name} {pid} failed: {status}");
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The JSON printed on standard output.
fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "stdout is not JSON ({error}):\n{}\nstderr:\n{}",
            stdout(output),
            stderr(output)
        )
    })
}

// ---- a running server ----------------------------------------------------------------------

/// A `fact serve` process whose standard error is read line by line; killed when dropped, so
/// that a failing test leaves no server behind.
struct Server {
    child: Child,
    lines: Receiver<String>,
    /// Every line of standard error received so far.
    log: Vec<String>,
}

impl Server {
    fn start(command: &mut Command) -> Self {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the fact binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (sender, lines) = mpsc::channel();
        // The sender drops at the end of stderr: the receiver then reports the disconnection.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            log: Vec::new(),
        }
    }

    /// The next line of the log, or `None` at the end of standard error.
    fn next_line(&mut self) -> Option<String> {
        match self.lines.recv_timeout(WAIT) {
            Ok(line) => {
                self.log.push(line.clone());
                Some(line)
            }
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => {
                panic!("no log line within {WAIT:?}; log so far:\n{}", self.log())
            }
        }
    }

    /// The first line from now on that contains `needle`.
    fn wait_for(&mut self, needle: &str) -> String {
        loop {
            match self.next_line() {
                Some(line) if line.contains(needle) => return line,
                Some(_) => {}
                None => panic!("the server's log ended without {needle:?}:\n{}", self.log()),
            }
        }
    }

    /// The address the server listens on, from its `serving addr=...` line.
    fn addr(&mut self) -> SocketAddr {
        let line = self.wait_for("serving");
        line.split_whitespace()
            .find_map(|field| field.strip_prefix("addr="))
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no addr=HOST:PORT in {line:?}"))
    }

    fn terminate(&self) {
        send_signal(self.child.id(), "TERM");
    }

    /// Reads the log to its end, then returns the exit status.
    fn wait_exit(&mut self) -> ExitStatus {
        while self.next_line().is_some() {}
        self.child.wait().expect("the server can be waited for")
    }

    fn log(&self) -> String {
        self.log.join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // An exited and reaped child is not signalled again.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that reaches loopback directly, whatever proxy the environment names.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client")
}

/// The status and JSON body of `GET http://addr/path`.
async fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    let response = http_client()
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    (status, serde_json::from_str(&text).expect("a JSON body"))
}

/// The status and JSON body of `POST /v1/tools/execute` with [`API_KEY`].
async fn execute(addr: SocketAddr, request: Value) -> (u16, Value) {
    let response = http_client()
        .post(format!("http://{addr}/v1/tools/execute"))
        .bearer_auth(API_KEY)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(request.to_string())
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    (status, serde_json::from_str(&text).expect("a JSON body"))
}

// ---- a site that answers only when told to -------------------------------------------------

/// A one-request HTTP site on loopback that reports when a request has arrived and answers
/// `200 ok` only once released.
struct SlowSite {
    addr: SocketAddr,
    entered: Receiver<()>,
    release: Sender<()>,
}

impl SlowSite {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().expect("the site's address");
        let (entered_sender, entered) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut head = Vec::new();
            let mut buffer = [0_u8; 1024];
            while !head.windows(4).any(|window| window == b"\r\n\r\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => return,
                    Ok(read) => head.extend_from_slice(&buffer[..read]),
                }
            }
            let _ = entered_sender.send(());
            // A test that failed drops `release`: the site then closes without answering.
            if released.recv().is_ok() {
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\
                      Connection: close\r\n\r\nok",
                );
            }
        });
        Self {
            addr,
            entered,
            release,
        }
    }
}

/// Connects to `addr` until a connection is refused; panics if it is still accepted after
/// [`WAIT`].
fn wait_until_refused(addr: SocketAddr) {
    let deadline = Instant::now() + WAIT;
    loop {
        match TcpStream::connect(addr) {
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => return,
            Err(error) => panic!("connecting to {addr} failed other than by refusal: {error}"),
            Ok(stream) => drop(stream),
        }
        assert!(
            Instant::now() < deadline,
            "{addr} still accepts connections {WAIT:?} after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---- help ----------------------------------------------------------------------------------

#[test]
fn help_names_the_three_commands_and_gives_examples() {
    let scratch = Scratch::new("help");
    let output = run(scratch.fact().arg("--help"));

    assert!(output.status.success(), "{output:?}");
    let help = stdout(&output);
    for command in ["serve", "tools", "call"] {
        assert!(
            help.lines()
                .any(|line| line.trim_start().starts_with(command)),
            "no {command} command in:\n{help}"
        );
    }
    assert!(help.contains("exits 1 when the call failed"), "{help}");
    assert!(help.contains("Examples:"), "{help}");
    assert!(help.contains("fact call MyApp.Add --args"), "{help}");
}

#[test]
fn serve_help_lists_the_key_variables_and_the_endpoints() {
    let scratch = Scratch::new("serve-help");
    let output = run(scratch.fact().args(["serve", "--help"]));

    assert!(output.status.success(), "{output:?}");
    let help = stdout(&output);
    for variable in ["FACT_API_KEYS", "FACT_API_KEYS_FILE", "DATABASE_URL"] {
        assert!(help.contains(variable), "no {variable} in:\n{help}");
    }
    for endpoint in ["GET /health", "POST /v1/tools/execute", "GET /v1/tools"] {
        assert!(help.contains(endpoint), "no {endpoint} in:\n{help}");
    }
}

// ---- tools ---------------------------------------------------------------------------------

#[test]
fn tools_in_openai_format_lists_the_ten_standard_tools_with_underscored_names() {
    let scratch = Scratch::new("tools-openai");
    let output = run(scratch.fact().args(["tools", "--format", "openai"]));

    assert!(output.status.success(), "{output:?}");
    let tools = stdout_json(&output);
    let mut names: Vec<&str> = tools
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|tool| tool["function"]["name"].as_str().expect("a function name"))
        .collect();
    names.sort_unstable();
    let mut expected: Vec<String> = STANDARD_TOOLS
        .iter()
        .map(|name| name.replace('.', "_"))
        .collect();
    expected.sort_unstable();
    assert_eq!(names, expected);
}

#[test]
fn tools_in_native_format_keeps_dotted_names() {
    let scratch = Scratch::new("tools-native");
    let output = run(scratch.fact().arg("tools"));

    assert!(output.status.success(), "{output:?}");
    let tools = stdout_json(&output);
    let names: Vec<&str> = tools
        .as_array()
        .expect("a JSON array")
        .iter()
        .filter_map(|tool| tool["name"].as_str())
        .collect();
    assert!(names.contains(&"Web.ParseJSON"), "{names:?}");
    assert_eq!(names.len(), STANDARD_TOOLS.len(), "{names:?}");
}

#[test]
fn tools_in_an_unknown_format_is_a_usage_error() {
    let scratch = Scratch::new("tools-yaml");
    let output = run(scratch.fact().args(["tools", "--format", "yaml"]));

    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(output.stdout.is_empty(), "{}", stdout(&output));
    assert!(stderr(&output).contains("yaml"), "{}", stderr(&output));
}

// ---- call ----------------------------------------------------------------------------------

/// `fact call Web.ParseJSON` of `[1, 2]` as ada in session s1.
fn parse_json_call(scratch: &Scratch) -> Output {
    run(scratch.fact().args([
        "call",
        "Web.ParseJSON",
        "--args",
        r#"{"json_text": "[1, 2]"}"#,
        "--user",
        "ada",
        "--session",
        "s1",
    ]))
}

#[test]
fn call_prints_the_successful_tool_result_and_exits_0() {
    let scratch = Scratch::new("call-ok");
    let output = parse_json_call(&scratch);

    assert!(output.status.success(), "{output:?}");
    let result = stdout_json(&output);
    assert_eq!(result["success"], true, "{result}");
    assert_eq!(result["status_code"], 200, "{result}");
    assert_eq!(result["tool_name"], "Web.ParseJSON", "{result}");
    assert_eq!(result["data"]["value"], json!([1, 2]), "{result}");
}

#[test]
fn call_writes_one_audit_record_with_its_user_session_and_status() {
    let scratch = Scratch::new("call-audit");
    let output = parse_json_call(&scratch);
    assert!(output.status.success(), "{output:?}");
    let call_id = stdout_json(&output)["call_id"].clone();

    let records = scratch.audit_records("Web.ParseJSON");

    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0];
    assert_eq!(json!(record.call_id), call_id);
    assert_eq!(record.user_id.as_deref(), Some("ada"));
    assert_eq!(record.session_id.as_deref(), Some("s1"));
    assert_eq!(record.status_code, 200);
}

#[test]
fn call_of_an_unknown_tool_prints_a_404_result_and_exits_1() {
    let scratch = Scratch::new("call-404");
    let output = run(scratch.fact().args(["call", "Nope.Nope"]));

    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let result = stdout_json(&output);
    assert_eq!(result["success"], false, "{result}");
    assert_eq!(result["status_code"], 404, "{result}");
    assert_eq!(
        result["metadata"]["error_type"], "ToolNotFoundError",
        "{result}"
    );
}

#[test]
fn call_with_invalid_arguments_prints_a_400_result_and_exits_1() {
    let scratch = Scratch::new("call-400");
    let output =
        run(scratch
            .fact()
            .args(["call", "Web.ParseJSON", "--args", r#"{"json": "[1]"}"#]));

    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let result = stdout_json(&output);
    assert_eq!(result["success"], false, "{result}");
    assert_eq!(result["status_code"], 400, "{result}");
    assert_eq!(
        result["metadata"]["error_type"], "ToolValidationError",
        "{result}"
    );
    let error = result["error"].as_str().expect("an error message");
    assert!(error.contains("json_text"), "{error}");
}

#[test]
fn call_with_args_that_are_not_json_is_a_usage_error_with_nothing_on_stdout() {
    let scratch = Scratch::new("call-bad-json");
    let output = run(scratch
        .fact()
        .args(["call", "Web.ParseJSON", "--args", "{"]));

    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(output.stdout.is_empty(), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("--args is not JSON"),
        "{}",
        stderr(&output)
    );
}

// ---- serve ---------------------------------------------------------------------------------

#[test]
fn serve_without_api_keys_cannot_start_and_names_fact_api_keys() {
    let scratch = Scratch::new("serve-no-keys");
    let output = run(scratch.fact().args(["serve", "--addr", "127.0.0.1:0"]));

    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let errors = stderr(&output);
    assert!(
        errors
            .lines()
            .any(|line| line.starts_with("fact: ") && line.contains("FACT_API_KEYS")),
        "{errors}"
    );
}

#[test]
fn serve_logs_its_environment_with_secrets_and_keys_hidden() {
    let scratch = Scratch::new("serve-env");
    let mut server = Server::start(scratch.serve().env("ARCADE_API_KEY", ARCADE_SECRET));
    server.addr();

    let log = server.log();
    assert!(log.contains("ARCADE_API_KEY=(set, hidden)"), "{log}");
    assert!(log.contains("FACT_API_KEYS=1 key(s) for ada"), "{log}");
    assert!(!log.contains(ARCADE_SECRET), "{log}");
    assert!(!log.contains(API_KEY), "{log}");
}

#[test]
fn serve_logs_the_database_url_without_its_password() {
    let scratch = Scratch::new("serve-db-password");
    // No driver serves this scheme, so the server stops right after logging its environment.
    let output = run(scratch.serve().env(
        "DATABASE_URL",
        "mysql://fact:db-secret-pass@127.0.0.1:1/fact",
    ));

    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let errors = stderr(&output);
    assert!(
        errors.contains("DATABASE_URL=mysql://fact:****@127.0.0.1:1/fact"),
        "{errors}"
    );
    assert!(!errors.contains("db-secret-pass"), "{errors}");
}

#[test]
fn serve_answers_health_without_a_key() {
    let scratch = Scratch::new("serve-health");
    let mut server = Server::start(&mut scratch.serve());
    let addr = server.addr();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the client");

    let (status, health) = runtime.block_on(get(addr, "/health"));

    assert_eq!(status, 200, "{health}");
    assert_eq!(health["status"], "healthy", "{health}");
}

#[test]
fn serve_exits_0_on_sigterm_after_flushing_the_audit_log() {
    let scratch = Scratch::new("serve-sigterm");
    let mut server = Server::start(&mut scratch.serve());
    server.addr();

    server.terminate();
    let status = server.wait_exit();

    assert!(status.success(), "{status}; log:\n{}", server.log());
    assert!(
        server
            .log
            .iter()
            .any(|line| line.contains("stopped; audit log flushed")),
        "{}",
        server.log()
    );
}

#[test]
fn sigterm_refuses_new_connections_but_finishes_and_audits_the_call_in_flight() {
    let scratch = Scratch::new("serve-in-flight");
    let site = SlowSite::start();
    let mut server = Server::start(scratch.serve().env("ALLOWED_HOSTS", "127.0.0.1"));
    let addr = server.addr();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the client");
    let call = runtime.spawn(execute(
        addr,
        json!({
            "tool_name": "Web.HTTPRequest",
            "input": {"url": format!("http://{}/slow", site.addr)},
        }),
    ));
    site.entered
        .recv_timeout(WAIT)
        .expect("the call reaches the slow site");

    server.terminate();
    wait_until_refused(addr);
    site.release.send(()).expect("the slow site is waiting");
    let (status, result) = runtime
        .block_on(async { tokio::time::timeout(WAIT, call).await })
        .expect("the call in flight is answered")
        .expect("the client task completes");
    let exit = server.wait_exit();

    assert_eq!(status, 200, "{result}");
    assert_eq!(result["success"], true, "{result}");
    assert_eq!(result["data"]["status_code"], 200, "{result}");
    assert_eq!(result["data"]["body"], "ok", "{result}");
    assert!(exit.success(), "{exit}; log:\n{}", server.log());
    assert!(
        server.log().contains("audit log flushed"),
        "{}",
        server.log()
    );
    let records = scratch.audit_records("Web.HTTPRequest");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].user_id.as_deref(), Some(API_USER));
    assert_eq!(records[0].status_code, 200);
}
