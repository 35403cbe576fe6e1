//! `FACT_FS_ROOTS` at start-up: a root that cannot be opened, or a list that names no root,
//! stops `fact` before it serves or calls anything; an unset variable without `./data` leaves
//! the file tools refusing every call; the roots are opened once, when `fact` starts.

use std::path::Path;

use serde_json::json;

use crate::support::*;

/// The first `fact: ...` line of standard error: the start-up failure.
fn failure_line(errors: &str) -> &str {
    errors
        .lines()
        .find(|line| line.starts_with("fact: "))
        .unwrap_or_else(|| panic!("no `fact: ` line in:\n{errors}"))
}

fn mkdir(path: &Path) {
    std::fs::create_dir_all(path).expect("the directory can be created");
}

fn write(path: &Path, contents: &str) {
    std::fs::write(path, contents).expect("the file can be written");
}

#[test]
fn serve_refuses_to_start_when_a_file_root_does_not_exist_naming_the_variable_and_the_root() {
    let scratch = Scratch::new("fs-root-missing");
    let data = scratch.dir.join("data");
    mkdir(&data);
    let roots = format!("{}:{}", data.display(), scratch.dir.join("dtaa").display());

    let output = run(scratch.serve().env("FACT_FS_ROOTS", &roots));

    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let errors = stderr(&output);
    let line = failure_line(&errors);
    assert!(line.contains("FACT_FS_ROOTS"), "{line}");
    assert!(
        line.contains("dtaa'"),
        "the root that failed is named: {line}"
    );
    assert!(!errors.contains("serving"), "{errors}");
    assert!(
        !scratch.dir.join("audit.db").exists(),
        "the audit database was created before the configuration was checked"
    );
}

#[test]
fn call_refuses_to_start_when_a_file_root_is_a_file() {
    let scratch = Scratch::new("fs-root-file");
    let file = scratch.dir.join("notes.txt");
    write(&file, "not a directory");

    let output = run(scratch.fact().env("FACT_FS_ROOTS", &file).args([
        "call",
        "Web.ParseJSON",
        "--args",
        r#"{"json_text": "1"}"#,
    ]));

    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(output.stdout.is_empty(), "{}", stdout(&output));
    let errors = stderr(&output);
    let line = failure_line(&errors);
    assert!(line.contains("FACT_FS_ROOTS"), "{line}");
    assert!(line.contains("notes.txt'"), "{line}");
}

/// `fact tools` runs the same configuration as `serve` and `call`, so that it lists what a
/// server of this environment would serve, and a broken environment shows at once.
#[test]
fn tools_refuses_to_start_when_a_file_root_does_not_exist() {
    let scratch = Scratch::new("fs-root-tools");
    let missing = scratch.dir.join("missing");

    let output = run(scratch.fact().env("FACT_FS_ROOTS", &missing).arg("tools"));

    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(output.stdout.is_empty(), "{}", stdout(&output));
    assert!(
        failure_line(&stderr(&output)).contains("FACT_FS_ROOTS"),
        "{output:?}"
    );
}

#[test]
fn a_fact_fs_roots_that_names_no_directory_refuses_to_start_in_every_form() {
    for (n, value) in ["", "   ", ":", "::", " : ", ","].into_iter().enumerate() {
        let scratch = Scratch::new(&format!("fs-roots-empty-{n}"));
        // A `./data` that would serve as the default must not be picked up instead.
        mkdir(&scratch.dir.join("data"));

        let output = run(scratch.fact().env("FACT_FS_ROOTS", value).args([
            "call",
            "Web.ParseJSON",
            "--args",
            r#"{"json_text": "1"}"#,
        ]));

        assert_eq!(output.status.code(), Some(3), "{value:?}: {output:?}");
        assert!(output.stdout.is_empty(), "{value:?}: {}", stdout(&output));
        let errors = stderr(&output);
        assert!(
            failure_line(&errors).contains("FACT_FS_ROOTS"),
            "{value:?}: {errors}"
        );
    }
}

#[test]
fn serve_refuses_to_start_with_an_empty_fact_fs_roots() {
    let scratch = Scratch::new("fs-roots-empty-serve");
    mkdir(&scratch.dir.join("data"));

    let output = run(scratch.serve().env("FACT_FS_ROOTS", ""));

    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(
        failure_line(&stderr(&output)).contains("FACT_FS_ROOTS"),
        "{output:?}"
    );
}

#[test]
fn without_fact_fs_roots_or_a_data_directory_the_server_starts_and_refuses_file_calls() {
    let scratch = Scratch::new("fs-roots-unset");
    let mut server = Server::start(&mut scratch.serve());
    let addr = server.addr();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the client");

    let (_, result) = runtime.block_on(execute(
        addr,
        json!({"tool_name": "FileSystem.ReadFile", "input": {"file_path": "notes.txt"}}),
    ));

    assert_eq!(result["status_code"], 403, "{result}");
    assert_eq!(
        result["metadata"]["error_type"], "SecurityError",
        "{result}"
    );
    let error = result["error"].as_str().unwrap_or_default();
    assert!(error.contains("FACT_FS_ROOTS"), "{error}");
    assert!(
        !error.contains(&*scratch.dir.to_string_lossy()),
        "a host path in {error}"
    );
    let log = server.log();
    assert!(
        log.lines()
            .any(|line| line.contains("WARN") && line.contains("FACT_FS_ROOTS")),
        "no warning naming FACT_FS_ROOTS in:\n{log}"
    );
}

#[test]
fn without_fact_fs_roots_the_data_directory_is_the_root() {
    let scratch = Scratch::new("fs-roots-default");
    mkdir(&scratch.dir.join("data"));
    write(&scratch.dir.join("data/notes.txt"), "from ./data\n");

    let output = run(scratch.fact().args([
        "call",
        "FileSystem.ReadFile",
        "--args",
        r#"{"file_path": "notes.txt"}"#,
    ]));

    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout_json(&output)["data"]["content"], "from ./data\n");
}

#[test]
fn the_roots_are_opened_once_when_the_server_starts() {
    let scratch = Scratch::new("fs-roots-once");
    let files = scratch.dir.join("files");
    mkdir(&files);
    write(&files.join("notes.txt"), "opened at start-up\n");
    let mut server = Server::start(scratch.serve().env("FACT_FS_ROOTS", &files));
    let addr = server.addr();
    // After start-up the path names another directory: the server still reads the one it
    // opened, whatever the path now leads to.
    std::fs::rename(&files, scratch.dir.join("moved")).expect("the root can be renamed");
    mkdir(&files);
    write(&files.join("notes.txt"), "put there later\n");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime for the client");

    let (status, result) = runtime.block_on(execute(
        addr,
        json!({"tool_name": "FileSystem.ReadFile", "input": {"file_path": "notes.txt"}}),
    ));

    assert_eq!(status, 200, "{result}");
    assert_eq!(
        result["data"]["content"], "opened at start-up\n",
        "{result}"
    );
}
