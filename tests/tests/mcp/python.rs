//! The official Python SDK's MCP client (`mcp`, pinned by `.ci/python-venv.sh`) against `/mcp`:
//! in its default mode (`server/discover`, the current revision) and in its legacy mode
//! (`initialize`), it lists, calls, hears progress and reads failures (mcp_python.py beside
//! this file).
//!
//! The Python comes from `FACT_TEST_PYTHON` (set by `.ci/run`); without it the test is
//! skipped, unless `FACT_REQUIRE_SERVICES=1`, where it fails.

use std::time::Duration;

use crate::support::*;

/// The script's whole run, a bound against a hang, not a measure.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(120);

/// Runs mcp_python.py against `server` in `mode`, and returns its standard output once it
/// has passed every check. The child is killed if the test ends first.
async fn run_script(python: &str, server: &Running, mode: &str) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/mcp_python.py");
    let mut command = tokio::process::Command::new(python);
    command
        .arg(script)
        .arg(mode)
        .env("FACT_MCP_URL", server.mcp_url())
        .env("FACT_MCP_KEY", ADA_KEY)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    for variable in fact_tests::services::PROXY_VARIABLES {
        command.env_remove(variable);
    }
    let output = tokio::time::timeout(SCRIPT_DEADLINE, command.output())
        .await
        .unwrap_or_else(|_| panic!("{mode}: did not finish within {SCRIPT_DEADLINE:?}"))
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{mode} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("mcp: all checks passed"),
        "{stdout}\n{stderr}"
    );
    stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn pythons_mcp_client_lists_calls_and_hears_progress_in_default_and_legacy_modes() {
    let Some(python) = fact_tests::services::test_python(
        "pythons_mcp_client_lists_calls_and_hears_progress_in_default_and_legacy_modes",
    ) else {
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
