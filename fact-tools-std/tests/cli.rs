//! The `fact` binary as its users meet it: real processes, real loopback sockets, real signals.
//!
//! Every child runs in a fresh scratch directory with an environment cleared of everything but
//! what the test gives it (`DATABASE_URL` on a SQLite file of that directory, keys, allowed
//! hosts), so no variable of the developer's shell and no `fact.db` of the working tree can
//! change what a test sees. Waits are bounded only so that a broken binary fails the test
//! instead of hanging it; nothing is asserted about how long anything takes.

#[path = "cli/fs_roots.rs"]
mod fs_roots;
#[path = "cli/mcp.rs"]
mod mcp;
#[path = "cli/rate_limits.rs"]
mod rate_limits;
#[path = "cli/sql_settings.rs"]
mod sql_settings;
#[path = "cli/support.rs"]
mod support;

use std::process::Output;

use serde_json::json;
use support::*;

// ---- help ----------------------------------------------------------------------------------

#[test]
fn help_names_the_four_commands_and_gives_examples() {
    let scratch = Scratch::new("help");
    let output = run(scratch.fact().arg("--help"));

    assert!(output.status.success(), "{output:?}");
    let help = stdout(&output);
    for command in ["serve", "mcp", "tools", "call"] {
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
    for variable in [
        "FACT_API_KEYS",
        "FACT_API_KEYS_FILE",
        "DATABASE_URL",
        "FACT_AUDIT_DURABILITY",
    ] {
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
fn tools_in_openai_strict_format_marks_every_function_strict() {
    let scratch = Scratch::new("tools-openai-strict");
    let output = run(scratch.fact().args(["tools", "--format", "openai-strict"]));

    assert!(output.status.success(), "{output:?}");
    let tools = stdout_json(&output);
    let tools = tools.as_array().expect("a JSON array");
    assert_eq!(tools.len(), STANDARD_TOOLS.len(), "{tools:?}");
    for tool in tools {
        let function = &tool["function"];
        assert_eq!(function["strict"], true, "{tool}");
        assert_eq!(
            function["parameters"]["additionalProperties"], false,
            "{tool}"
        );
    }
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
fn debug_mode_logs_each_call_with_its_span_and_never_its_arguments() {
    let scratch = Scratch::new("call-debug");
    let output = run(scratch.fact().env("DEBUG", "true").args([
        "call",
        "Web.ParseJSON",
        "--args",
        r#"{"json_text": "[\"hunter2\"]"}"#,
    ]));
    assert!(output.status.success(), "{output:?}");
    let log = stderr(&output);
    let line = log
        .lines()
        .find(|line| line.contains("tool call finished"))
        .unwrap_or_else(|| panic!("no line for the call in:\n{log}"));
    for field in [
        "tool_call{",
        "call_id=",
        "tool=Web.ParseJSON",
        "status=200",
        "duration_ms=",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
    assert!(
        !log.contains("hunter2"),
        "an argument reached the log:\n{log}"
    );
}

#[test]
fn without_debug_or_rust_log_a_call_logs_no_line_of_its_own() {
    let scratch = Scratch::new("call-quiet");
    let output = parse_json_call(&scratch);
    assert!(output.status.success(), "{output:?}");
    let log = stderr(&output);
    assert!(!log.contains("tool call finished"), "{log}");
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
fn serve_with_an_unknown_audit_durability_cannot_start_and_names_the_variable() {
    let scratch = Scratch::new("serve-bad-durability");
    let output = run(scratch.serve().env("FACT_AUDIT_DURABILITY", "durable"));

    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let errors = stderr(&output);
    assert!(
        errors.lines().any(|line| line.starts_with("fact: ")
            && line
                .contains("FACT_AUDIT_DURABILITY must be `answered` or `queued`, got `durable`")),
        "{errors}"
    );
}

#[test]
fn serve_logs_its_environment_with_secrets_and_keys_hidden() {
    let scratch = Scratch::new("serve-env");
    // With a key, `fact serve` routes through an Arcade gateway (hybrid): here to a loopback
    // port where no Engine listens, so the server starts on its own tools and says why.
    let mut server = Server::start(
        scratch
            .serve()
            .env("ARCADE_API_KEY", ARCADE_SECRET)
            .env("ARCADE_BASE_URL", "http://127.0.0.1:9/arcade"),
    );
    server.addr();

    let log = server.log();
    assert!(log.contains("ARCADE_API_KEY=(set, hidden)"), "{log}");
    assert!(
        log.contains("the Arcade Engine's tools could not be read"),
        "{log}"
    );
    assert!(log.contains("FACT_API_KEYS=1 key(s) for ada"), "{log}");
    assert!(!log.contains(ARCADE_SECRET), "{log}");
    assert!(!log.contains(API_KEY), "{log}");
}

#[test]
fn serve_answers_calls_once_their_audit_record_is_committed_unless_told_otherwise() {
    let scratch = Scratch::new("serve-durability");
    let mut server = Server::start(&mut scratch.serve());
    server.addr();
    let log = server.log();
    assert!(log.contains("audit log durability: answered"), "{log}");

    let mut queued = Server::start(scratch.serve().env("FACT_AUDIT_DURABILITY", "queued"));
    queued.addr();
    let log = queued.log();
    assert!(log.contains("FACT_AUDIT_DURABILITY=queued"), "{log}");
    assert!(log.contains("audit log durability: queued"), "{log}");
}

#[test]
fn serve_logs_the_database_url_without_its_password() {
    let scratch = Scratch::new("serve-db-password");
    // No driver serves this scheme, so the server stops right after logging its environment.
    let output = run(scratch.serve().env(
        "DATABASE_URL",
        "mysql://fact:db-secret-pass@127.0.0.1:1/fact?password=db-secret-query",
    ));

    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let errors = stderr(&output);
    assert!(
        errors.contains("DATABASE_URL=mysql://****@127.0.0.1:1/fact?password=****"),
        "{errors}"
    );
    assert!(!errors.contains("db-secret"), "{errors}");
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
