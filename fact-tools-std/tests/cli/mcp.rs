//! `fact mcp`: MCP on stdio, with the client starting the binary as its child, as Claude and
//! IDEs do: rmcp's client, and the official Python SDK's (mcp_stdio.py beside this file, when
//! `FACT_TEST_PYTHON` names a Python that has it). Standard output carries the protocol only;
//! every call is audited as `FACT_MCP_USER`.

use std::process::Stdio;
use std::time::Duration;

use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::TokioChildProcess;
use serde_json::json;

use crate::support::*;

/// `fact mcp` in `scratch`, as user "grace", with `root` as its file root.
fn fact_mcp(scratch: &Scratch) -> tokio::process::Command {
    let std_command = scratch.fact();
    let mut command = tokio::process::Command::from(std_command);
    command
        .arg("mcp")
        .env("FACT_MCP_USER", "grace")
        .env("FACT_FS_ROOTS", scratch.dir.join("files"));
    command
}

/// The audit records of `FileSystem.ListDirectory` in `scratch`'s database, read off the
/// async runtime (the reader has one of its own); the scratch directory goes with it.
async fn listings_audited(scratch: Scratch) -> Vec<fact_runtime::AuditRecord> {
    tokio::task::spawn_blocking(move || scratch.audit_records("FileSystem.ListDirectory"))
        .await
        .expect("the audit log is read")
}

#[tokio::test(flavor = "multi_thread")]
async fn rmcps_client_lists_the_standard_tools_and_calls_one_as_the_configured_user() {
    let scratch = Scratch::new("mcp-rmcp");
    std::fs::create_dir_all(scratch.dir.join("files")).expect("a root");
    std::fs::write(scratch.dir.join("files/notes.txt"), "hello").expect("a file");
    let (transport, stderr) = TokioChildProcess::builder(fact_mcp(&scratch))
        .stderr(Stdio::piped())
        .spawn()
        .expect("fact mcp starts");
    let client = tokio::time::timeout(WAIT, ().serve(transport))
        .await
        .expect("initialize within the bound")
        .expect("initialize");

    let tools = client.list_all_tools().await.expect("tools/list");
    let mut names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    names.sort_unstable();
    let mut expected = STANDARD_TOOLS.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected);

    // The standard tools' claims reach the client: SQL.Query only reads, Web.HTTPRequest may
    // change what a site holds.
    let query = tools
        .iter()
        .find(|t| t.name == "SQL.Query")
        .expect("SQL.Query");
    let hints = query.annotations.as_ref().expect("annotations");
    assert_eq!(query.title.as_deref(), Some("Run SQL Query"));
    assert_eq!(
        (hints.read_only_hint, hints.open_world_hint),
        (Some(true), Some(false))
    );
    let request = tools
        .iter()
        .find(|t| t.name == "Web.HTTPRequest")
        .expect("HTTPRequest");
    let hints = request.annotations.as_ref().expect("annotations");
    assert_eq!(
        (hints.read_only_hint, hints.open_world_hint),
        (Some(false), Some(true))
    );

    let mut params = CallToolRequestParams::new("FileSystem.ListDirectory");
    params.arguments = json!({}).as_object().cloned();
    let listed = client.call_tool(params).await.expect("tools/call");
    assert_eq!(listed.is_error, Some(false), "{listed:?}");
    let text = listed.content[0]
        .as_text()
        .map(|t| t.text.clone())
        .unwrap_or_default();
    assert!(text.contains("notes.txt"), "{text}");

    // Closing stdin ends the server, which flushes its audit log before it exits.
    tokio::time::timeout(WAIT, client.cancel())
        .await
        .expect("the session closes within the bound")
        .expect("closes");
    drop(stderr);
    let records = listings_audited(scratch).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].user_id.as_deref(), Some("grace"));
    assert_eq!(records[0].status_code, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn pythons_mcp_client_starts_fact_mcp_lists_and_calls() {
    let Ok(python) = std::env::var("FACT_TEST_PYTHON") else {
        assert!(
            std::env::var("FACT_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "FACT_REQUIRE_SERVICES=1 but FACT_TEST_PYTHON is not set (run .ci/python-venv.sh)"
        );
        eprintln!("skipped: set FACT_TEST_PYTHON (see .ci/python-venv.sh) to run it");
        return;
    };
    let scratch = Scratch::new("mcp-python");
    std::fs::create_dir_all(scratch.dir.join("files")).expect("a root");
    std::fs::write(scratch.dir.join("files/notes.txt"), "hello").expect("a file");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/mcp_stdio.py");
    let mut command = tokio::process::Command::new(python);
    command
        .arg(script)
        .env("FACT_BIN", env!("CARGO_BIN_EXE_fact"))
        .env("FACT_DATABASE_URL", scratch.database_url())
        .env("FACT_FS_ROOTS", scratch.dir.join("files"))
        .current_dir(&scratch.dir)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("the script ends within the bound")
        .expect("python runs");
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && said.contains("mcp stdio: all checks passed"),
        "{said}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let records = listings_audited(scratch).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].user_id.as_deref(), Some("grace"));
}
