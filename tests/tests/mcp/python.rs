//! The official Python SDK's MCP client (`mcp`, pinned by `.ci/python-venv.sh`) against `/mcp`:
//! in its default mode (`server/discover`, the current revision) and in its legacy mode
//! (`initialize`), it lists, calls, hears progress and reads failures (mcp_python.py beside
//! this file).
//!
//! The Python comes from `FACT_TEST_PYTHON` (set by `.ci/run`); without it the test is
//! skipped, unless `FACT_REQUIRE_SERVICES=1`, where it fails.

use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// The script's whole run, a bound against a hang, not a measure.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(120);

fn python(test: &str) -> Option<String> {
    if let Ok(python) = std::env::var("FACT_TEST_PYTHON") {
        return Some(python);
    }
    assert!(
        std::env::var("FACT_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "FACT_REQUIRE_SERVICES=1 but FACT_TEST_PYTHON is not set (run .ci/python-venv.sh)"
    );
    eprintln!("skipped {test}: set FACT_TEST_PYTHON (see .ci/python-venv.sh) to run it");
    None
}

/// A child process that is killed and reaped however the test ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs mcp_python.py against `server` in `mode`, and returns its standard output once it
/// has passed every check.
async fn run_script(python: &str, server: &Running, mode: &str) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/mcp_python.py");
    let mut command = Command::new(python);
    command
        .arg(script)
        .arg(mode)
        .env("FACT_MCP_URL", server.mcp_url())
        .env("FACT_MCP_KEY", ADA_KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for variable in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        command.env_remove(variable);
    }
    let mut child = Killed(command.spawn().expect("python starts"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("the child can be waited for") {
            break Some(status);
        }
        if started.elapsed() > SCRIPT_DEADLINE {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    if let Some(mut out) = child.0.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    if let Some(mut err) = child.0.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    drop(child);
    let status =
        status.unwrap_or_else(|| panic!("{mode}: did not finish within {SCRIPT_DEADLINE:?}"));
    assert!(
        status.success(),
        "{mode} failed ({status}):\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("mcp: all checks passed"),
        "{stdout}\n{stderr}"
    );
    stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn pythons_mcp_client_lists_calls_and_hears_progress_in_default_and_legacy_modes() {
    let Some(python) =
        python("pythons_mcp_client_lists_calls_and_hears_progress_in_default_and_legacy_modes")
    else {
        return;
    };
    let fixture = fixture().await;
    let server = Running::start(fixture.executor.clone(), config()).await;
    for mode in ["auto", "legacy"] {
        let said = run_script(&python, &server, mode).await;
        assert!(said.contains(&format!("mode={mode}")), "{said}");
        eprintln!("{said}");
    }
    let records = fixture.records().await;
    let added = records
        .iter()
        .filter(|r| r.tool_name == "Mcp.Add" && r.status_code == 200)
        .count();
    assert_eq!(added, 2, "one sum per mode, audited: {records:?}");
    assert!(records.iter().all(|r| r.user_id.as_deref() == Some("ada")));
    server.stop().await;
}
