//! Arcade's own code judges FACT's worker endpoints (arcade_worker.py beside this file, with
//! python_worker.py and wire_checks.py): every `ToolDefinition` and `ToolCallResponse` FACT
//! answers is read by arcade-core 4.23.0's models in strict mode, and an arcade-serve 3.6.0
//! worker serving the same fixture tools, written in Python, answers the same requests in the
//! same shapes, refusals of bad tokens included. Both pinned by `.ci/python-venv.sh`.
//!
//! The Python comes from `FACT_TEST_PYTHON` (set by `.ci/run`); without it the test is
//! skipped, unless `FACT_REQUIRE_SERVICES=1`, where it fails.

use std::process::{Command, Stdio};
use std::time::Duration;

use fact_tests::scratch::TempDb;
use fact_tests::serve_process::ServeProcess;

/// The Engine's signing secret: 32 bytes at least, as FACT requires.
const WORKER_SECRET: &str = "fact-worker-test-secret-0123456789abcdef";
/// An API key for FACT's other routes: the worker paths must not need it.
const API_KEY: &str = "fact-worker-key-0123456789";
/// The script's whole run, a bound against a hang, not a measure.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(180);

/// `fact-fixtures serve` as an Arcade worker on a free loopback port, with an environment
/// cleared of everything but what it is given here; killed when dropped.
fn serve_worker(audit: &TempDb) -> ServeProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fact-fixtures"));
    command
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env_clear()
        .env("ARCADE_WORKER_SECRET", WORKER_SECRET)
        .env("FACT_API_KEYS", format!("{API_KEY}:ada"))
        .env("DATABASE_URL", audit.url())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    ServeProcess::start(&mut command)
}

#[tokio::test(flavor = "multi_thread")]
async fn arcade_core_accepts_facts_worker_json_and_arcade_serve_answers_in_the_same_shapes() {
    let test = "arcade_core_accepts_facts_worker_json_and_arcade_serve_answers_in_the_same_shapes";
    let Some(python) = fact_tests::services::test_python(test) else {
        return;
    };
    let audit = TempDb::new("fact-worker-python");
    let mut server = serve_worker(&audit);
    let addr = server.addr();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/worker/arcade_worker.py");
    let mut command = tokio::process::Command::new(&python);
    command
        .arg(script)
        .env("FACT_WORKER_URL", format!("http://{addr}"))
        .env("FACT_WORKER_SECRET", WORKER_SECRET)
        .env(
            "FACT_WORKER_TOOLS",
            fact_tests::fixtures::TOOL_NAMES.join(","),
        )
        // Nothing from outside steers arcade-serve: no secret of its own, no telemetry.
        .env_remove("ARCADE_WORKER_SECRET")
        .env("ARCADE_USAGE_TRACKING", "0")
        .env("OTEL_SDK_DISABLED", "true")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for variable in fact_tests::services::PROXY_VARIABLES {
        command.env_remove(variable);
    }
    // On a timeout the child is dropped, and so killed; the server is killed when dropped.
    let output = tokio::time::timeout(SCRIPT_DEADLINE, command.output())
        .await
        .unwrap_or_else(|_| panic!("arcade_worker.py did not finish within {SCRIPT_DEADLINE:?}"))
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "arcade_worker.py failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("arcade worker: all checks passed"),
        "{stdout}\n{stderr}"
    );
    // The script exercised both sides: FACT's listing, a mirrored comparison, a refusal.
    let listed = format!(
        "ok FACT /worker/tools: {} ToolDefinitions accepted by arcade-core",
        fact_tests::fixtures::TOOL_NAMES.len()
    );
    for line in [
        listed.as_str(),
        "ok Fixture.KindOf (tool error retryable): the same answer shape",
        "ok /worker/tools/invoke with expired: FACT and arcade-serve both refuse alike",
    ] {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }
    eprintln!("{stdout}");
    server.terminate();
    assert!(server.wait_exit().success(), "{}", server.log());
}
