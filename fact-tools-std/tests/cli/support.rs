//! What the CLI tests share: scratch directories, running `fact` to completion, a `fact serve`
//! whose log is read line by line, a loopback site that answers only when released.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use fact_runtime::audit::{AuditQuery, AuditRecord, SqlAuditSink};
use serde_json::Value;

pub(crate) use fact_tests::serve_process::{ServeProcess as Server, WAIT, send_signal};

/// An API key of 24 characters, and the user it belongs to.
pub(crate) const API_KEY: &str = "fact-test-key-0123456789";
pub(crate) const API_USER: &str = "ada";
/// A secret the server is given and must never print.
pub(crate) const ARCADE_SECRET: &str = "arcade-secret-value-123";

/// The ten standard tools the binary links, by their native names.
pub(crate) const STANDARD_TOOLS: [&str; 10] = [
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
pub(crate) struct Scratch {
    pub(crate) dir: PathBuf,
}

impl Scratch {
    pub(crate) fn new(name: &str) -> Self {
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
    pub(crate) fn database_url(&self) -> String {
        format!("sqlite://{}", self.dir.join("audit.db").display())
    }

    /// `fact` with no environment but `DATABASE_URL`, run inside the scratch directory.
    pub(crate) fn fact(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_fact"));
        command
            .env_clear()
            .env("DATABASE_URL", self.database_url())
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        command
    }

    /// `fact serve` on a free loopback port with one API key (of [`API_USER`]).
    pub(crate) fn serve(&self) -> Command {
        let mut command = self.fact();
        command
            .args(["serve", "--addr", "127.0.0.1:0"])
            .env("FACT_API_KEYS", format!("{API_KEY}:{API_USER}"));
        command
    }

    /// The audit records of `tool` in this test's database.
    pub(crate) fn audit_records(&self, tool: &str) -> Vec<AuditRecord> {
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
pub(crate) fn run(command: &mut Command) -> Output {
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

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The JSON printed on standard output.
pub(crate) fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "stdout is not JSON ({error}):\n{}\nstderr:\n{}",
            stdout(output),
            stderr(output)
        )
    })
}

/// A client that reaches loopback directly, whatever proxy the environment names.
pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client")
}

/// The status and JSON body of `GET http://addr/path`.
pub(crate) async fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    status_and_json(http_client().get(format!("http://{addr}{path}"))).await
}

/// The status and JSON body of `POST /v1/tools/execute` with [`API_KEY`].
pub(crate) async fn execute(addr: SocketAddr, request: Value) -> (u16, Value) {
    let request = http_client()
        .post(format!("http://{addr}/v1/tools/execute"))
        .bearer_auth(API_KEY)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(request.to_string());
    status_and_json(request).await
}

async fn status_and_json(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    (status, serde_json::from_str(&text).expect("a JSON body"))
}

// ---- a site that answers only when told to -------------------------------------------------

/// A one-request HTTP site on loopback that reports when a request has arrived and answers
/// `200 ok` only once released.
pub(crate) struct SlowSite {
    pub(crate) addr: SocketAddr,
    pub(crate) entered: Receiver<()>,
    pub(crate) release: Sender<()>,
}

impl SlowSite {
    pub(crate) fn start() -> Self {
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
/// [`WAIT`], or fails any other way than by refusal or by a reset while the listener closes.
pub(crate) fn wait_until_refused(addr: SocketAddr) {
    let deadline = Instant::now() + WAIT;
    loop {
        match TcpStream::connect(addr) {
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => return,
            // The listener closed while this connection sat in its queue: it is closing, so try
            // again until it refuses outright.
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {}
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
