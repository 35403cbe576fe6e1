//! Arcade's own Python client, arcadepy 1.10.0 (pinned by `.ci/python-venv.sh`), pointed at a
//! FACT server on loopback: it lists with paging, gets, executes, and sees failures as
//! arcadepy surfaces them (engine_arcadepy.py beside this file).
//!
//! The Python comes from `FACT_TEST_PYTHON` (set by `.ci/run`); without it the test is
//! skipped, unless `FACT_REQUIRE_SERVICES=1`, where it fails.

use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fact_runtime::server::ApiKeys;

use crate::support::*;

const PROJECT_KEY: &str = "project-key-0123456789abcdef";
/// The script's whole run, a bound against a hang, not a measure.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(120);

/// A child process that is killed and reaped however the test ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn arcadepy_lists_gets_and_executes_facts_tools() {
    let Some(python) =
        fact_tests::services::test_python("arcadepy_lists_gets_and_executes_facts_tools")
    else {
        return;
    };
    let executor = builder(&Gate::default()).build().expect("builds");
    let keys = ApiKeys::parse(&format!("{ADA_KEY}:ada,{PROJECT_KEY}:*")).expect("valid keys");
    let server = Running::start(executor.clone(), config().api_keys(keys)).await;
    let tools = executor.available_tools();
    let names: Vec<&str> = tools.iter().map(|info| info.name.as_str()).collect();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/server/engine_arcadepy.py"
    );
    let mut command = Command::new(&python);
    command
        .arg(script)
        .env("FACT_ENGINE_BASE_URL", format!("{}/arcade", server.base))
        .env("FACT_ENGINE_KEY", ADA_KEY)
        .env("FACT_ENGINE_PROJECT_KEY", PROJECT_KEY)
        .env("FACT_ENGINE_TOOLS", names.join(","))
        .env(
            "FACT_ENGINE_FIXTURE_TOOLS",
            fact_tests::fixtures::TOOL_NAMES.join(","),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Nothing from outside steers the client: no Arcade settings, no proxy for loopback.
    for variable in ["ARCADE_API_KEY", "ARCADE_BASE_URL"]
        .into_iter()
        .chain(fact_tests::services::PROXY_VARIABLES)
    {
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
    let mut stdout = String::new();
    let mut stderr = String::new();
    if status.is_some() {
        if let Some(mut out) = child.0.stdout.take() {
            let _ = out.read_to_string(&mut stdout);
        }
        if let Some(mut err) = child.0.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
    }
    drop(child);
    server.stop().await.expect("stops");
    let status =
        status.unwrap_or_else(|| panic!("arcadepy did not finish within {SCRIPT_DEADLINE:?}"));
    assert!(
        status.success(),
        "arcadepy failed ({status}):\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("arcadepy: all checks passed"),
        "{stdout}\n{stderr}"
    );
    eprintln!("{stdout}");
}
