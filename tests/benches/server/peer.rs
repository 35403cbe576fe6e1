//! The worker targets of the server bench: `fact-worker`, FACT's `/worker/tools/invoke`, and its
//! peer `arcade-serve`, the same calculator written in Python (arcade_calculator.py beside this
//! file) served by arcade-serve's FastAPIWorker under uvicorn, one process: what a user would
//! otherwise deploy as an Arcade worker. Both get the same request, an Engine's call of
//! `MyApp.Calculator` multiply 6 × 7 with the Engine's HS256 JWT (docs/ARCHITECTURE.md,
//! "Arcade worker"), and both must answer each with `success: true` and the result 42: a worker
//! answers a failed call with a 200 too, so wrk's script reads every body.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fact_runtime::arcade::worker::WorkerSecret;
use fact_tests::serve_process::{ServeProcess, WAIT};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::wrk::Run;

/// The secret the bench's Engine shares with both workers.
const SECRET: &str = "bench-worker-secret-0123456789abcdef";
/// Where a worker takes the Engine's calls.
pub(crate) const INVOKE_PATH: &str = "/worker/tools/invoke";
/// The Engine's call of the calculator, as it sends one: the tool by toolkit and name, the
/// user it runs for, its execution id.
const BODY: &str = r#"{"execution_id":"bench","tool":{"name":"Calculator","toolkit":"MyApp"},"inputs":{"operation":"multiply","a":6,"b":7},"context":{"user_id":"bench"}}"#;
/// What each answer of either worker holds, in both's compact JSON: success, and 6 × 7.
const EXPECTED: [&str; 2] = [r#""success":true"#, r#""result":42.0"#];
/// What wrk's script says at the end: how many answers lacked [`EXPECTED`].
const UNEXPECTED: &str = "answers not as expected:";
/// The Python worker, beside this file.
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/benches/server/arcade_calculator.py"
);
/// The Engine's token lives far longer than any run of the bench; an Engine's shorter life
/// changes nothing in the work of checking it.
const TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Whether `target` is one of the worker targets measured here.
pub(crate) fn is_worker(target: &str) -> bool {
    matches!(target, "fact-worker" | "arcade-serve")
}

/// The secret FACT's worker checks the Engine's tokens with.
pub(crate) fn worker_secret() -> WorkerSecret {
    WorkerSecret::new(SECRET).expect("the bench's secret is 32 bytes or more")
}

/// A token as the Engine signs it: HS256 with the shared secret, audience `worker`, version
/// `"1"`, valid for [`TOKEN_LIFETIME`].
pub(crate) fn engine_token() -> String {
    let expiry = jsonwebtoken::get_current_timestamp() + TOKEN_LIFETIME.as_secs();
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"aud": "worker", "ver": "1", "exp": expiry}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("claims of JSON encode")
}

/// The arcade-serve worker, a child process on a free loopback port; killed when dropped.
pub(crate) struct ArcadeServe {
    process: ServeProcess,
    addr: SocketAddr,
}

impl ArcadeServe {
    /// Starts the Python worker and waits, bounded, until its `/worker/health` answers; `None`
    /// after saying why when there is no Python with arcade-serve (`FACT_TEST_PYTHON`, see
    /// `.ci/python-venv.sh`).
    pub(crate) async fn start() -> Option<Self> {
        let python = fact_tests::services::test_python("the server bench's arcade-serve target")?;
        let imports = Command::new(&python)
            .args(["-c", "import arcade_serve, uvicorn"])
            .stdin(Stdio::null())
            .output();
        match imports {
            Ok(output) if output.status.success() => {}
            Ok(output) => {
                eprintln!(
                    "server bench: target arcade-serve skipped: {python} cannot import arcade_serve and uvicorn (run .ci/python-venv.sh): {}",
                    String::from_utf8_lossy(&output.stderr)
                        .trim()
                        .lines()
                        .last()
                        .unwrap_or("")
                );
                return None;
            }
            Err(error) => {
                eprintln!(
                    "server bench: target arcade-serve skipped: {python} does not run: {error}"
                );
                return None;
            }
        }
        let mut command = Command::new(&python);
        command
            .arg(SCRIPT)
            .env("ARCADE_WORKER_SECRET", SECRET)
            // Nothing leaves the machine: no usage tracking, no telemetry.
            .env("ARCADE_USAGE_TRACKING", "0")
            .env("OTEL_SDK_DISABLED", "true")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null());
        for variable in fact_tests::services::PROXY_VARIABLES {
            command.env_remove(variable);
        }
        let mut process = ServeProcess::start(&mut command);
        let addr = process.addr();
        let worker = Self { process, addr };
        worker.wait_healthy().await;
        Some(worker)
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Polls `/worker/health` until it answers 200, for at most [`WAIT`].
    async fn wait_healthy(&self) {
        let client = client();
        let url = format!("http://{}/worker/health", self.addr);
        let deadline = Instant::now() + WAIT;
        let mut log = Vec::new();
        loop {
            if let Ok(answer) = client.get(&url).send().await
                && answer.status().is_success()
            {
                return;
            }
            log.extend(self.process.lines.try_iter());
            assert!(
                Instant::now() < deadline,
                "arcade-serve's /worker/health did not answer within {WAIT:?}; its log:\n{}",
                log.join("\n")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A client that goes straight to loopback, whatever proxy the shell names.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client builds")
}

/// The worker on `addr` answers the bench's call as expected before it is measured: 200,
/// `success: true`, the value 42, the request's execution id, and the bytes wrk's script looks
/// for.
pub(crate) async fn check_answers(target: &str, addr: SocketAddr, token: &str) {
    let answer = client()
        .post(format!("http://{addr}{INVOKE_PATH}"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(BODY)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{target} answers: {e}"));
    let status = answer.status().as_u16();
    let text = answer.text().await.expect("an answer");
    assert_eq!(status, 200, "{target}: {text}");
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{target}: {e}: {text}"));
    assert_eq!(body["success"], true, "{target}: {body}");
    assert_eq!(body["execution_id"], "bench", "{target}: {body}");
    assert_eq!(body["output"]["value"]["result"], 42.0, "{target}: {body}");
    for needle in EXPECTED {
        assert!(text.contains(needle), "{target}: no {needle} in {text}");
    }
}

/// A wrk script that sends the bench's call with `token`, counts the answers that lack
/// [`EXPECTED`], and says how many at the end (read by [`assert_all_expected`]).
pub(crate) fn wrk_script(token: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("fact-bench-worker-{}.lua", std::process::id()));
    let [success, result] = EXPECTED;
    let lua = format!(
        r#"wrk.method = "POST"
wrk.body = '{BODY}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) unexpected = 0 end
function response(status, headers, body)
  if not (body:find('{success}', 1, true) and body:find('{result}', 1, true)) then
    unexpected = unexpected + 1
  end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("unexpected") end
  io.write(string.format("{UNEXPECTED} %d\n", total))
end
"#
    );
    std::fs::write(&path, lua).expect("script written");
    path
}

/// Asserts that wrk's output, from [`wrk_script`], counts no answer without [`EXPECTED`] and
/// no socket error (an answer that never came).
pub(crate) fn assert_all_expected(target: &str, text: &str) {
    let count = text
        .lines()
        .find_map(|line| line.trim().strip_prefix(UNEXPECTED))
        .and_then(|count| count.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{target}: wrk's script did not count the answers:\n{text}"));
    assert_eq!(count, 0, "{target}: answers without {EXPECTED:?}:\n{text}");
    assert!(
        !text.contains("Socket errors"),
        "{target}: some requests got no answer:\n{text}"
    );
}

/// FACT's multiple of the peer, when both were measured: `fact-worker`'s mean req/s over
/// `arcade-serve`'s, with the mean p99 of each.
pub(crate) fn multiple(runs: &[(&str, Vec<Run>)]) -> Option<String> {
    let mean = |name: &str, f: fn(&Run) -> f64| {
        runs.iter()
            .find(|(target, runs)| *target == name && !runs.is_empty())
            .map(|(_, runs)| runs.iter().map(f).sum::<f64>() / runs.len() as f64)
    };
    let fact = mean("fact-worker", |r| r.requests_per_second)?;
    let peer = mean("arcade-serve", |r| r.requests_per_second)?;
    let fact_p99 = mean("fact-worker", |r| r.p99_ms)?;
    let peer_p99 = mean("arcade-serve", |r| r.p99_ms)?;
    Some(format!(
        "FACT's multiple of the peer: fact-worker {fact:.0} req/s / arcade-serve {peer:.0} req/s = {:.1}x; p99 {fact_p99:.3} ms against {peer_p99:.3} ms",
        fact / peer
    ))
}
