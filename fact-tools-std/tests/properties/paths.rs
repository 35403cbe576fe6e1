//! Properties of the file sandbox: nothing the file tools accept resolves outside a root, and
//! every spelling of a file inside one is read.
//!
//! The oracle is the operating system: `std::fs::canonicalize` of the path a tool was given
//! (under each root, when relative), outside the code under test. Paths are walks through the
//! tree ([`super::tree`]) ending in a file, a way out or random names
//! ([`super::path_spelling`]).

use fact_runtime::{ToolCall, ToolExecutor, ToolResult};
use fact_tests::property;
use fact_tools_std::fs::FileRoots;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use super::path_spelling::{path, walk};
use super::tree::{SECRET, SECRET_LEN, Tree, entry_location};

/// One call of a file tool on a path.
#[derive(Debug, Clone)]
enum Call {
    Read,
    Info,
    List { hidden: bool, recursive: bool },
}

fn call() -> impl Strategy<Value = Call> {
    prop_oneof![
        Just(Call::Read),
        Just(Call::Info),
        (any::<bool>(), any::<bool>())
            .prop_map(|(hidden, recursive)| Call::List { hidden, recursive }),
    ]
}

struct Sandbox {
    tree: Tree,
    executor: ToolExecutor,
    runtime: tokio::runtime::Runtime,
}

impl Sandbox {
    fn new() -> Self {
        let tree = Tree::build();
        let roots = FileRoots::new(tree.configured_roots()).expect("the roots open");
        let executor = ToolExecutor::builder()
            .extension(roots)
            .build()
            .expect("an executor");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        Self {
            tree,
            executor,
            runtime,
        }
    }

    fn run(&self, tool: &str, arguments: Value) -> ToolResult {
        self.runtime.block_on(
            self.executor
                .execute_tool_call(ToolCall::new(tool, arguments)),
        )
    }
}

/// Whether `result` is one of the answers a file tool gives: success, bad input, or refused.
fn expected_status(result: &ToolResult) -> Result<(), TestCaseError> {
    prop_assert!(
        matches!(result.status_code, 200 | 400 | 403),
        "unexpected answer: {:?}",
        result
    );
    Ok(())
}

#[test]
fn nothing_a_file_tool_accepts_resolves_outside_a_root() {
    let sandbox = Sandbox::new();
    let tree = &sandbox.tree;
    property::check(
        "file tools stay inside their roots",
        1_500,
        (path(&tree.base.display().to_string()), call()),
        |(path, call)| {
            match call {
                Call::Read => {
                    let result = sandbox.run("FileSystem.ReadFile", json!({"file_path": path}));
                    expected_status(&result)?;
                    let Some(data) = result.data else {
                        return Ok(());
                    };
                    let content = data["content"].as_str().unwrap_or_default();
                    prop_assert!(!content.contains(SECRET), "{:?} read the secret", path);
                    // The file read is one the OS also finds for this path, inside a root.
                    let found = tree.candidates(&path).into_iter().any(|candidate| {
                        std::fs::canonicalize(candidate).is_ok_and(|real| {
                            tree.inside(&real)
                                && std::fs::read_to_string(&real).is_ok_and(|text| text == content)
                        })
                    });
                    prop_assert!(
                        found,
                        "{:?} read {:?}, no file inside a root",
                        path,
                        content
                    );
                }
                Call::Info => {
                    let result = sandbox.run("FileSystem.GetFileInfo", json!({"path": path}));
                    expected_status(&result)?;
                    let Some(info) = result.data else {
                        return Ok(());
                    };
                    let found = tree.candidates(&path).into_iter().find(|candidate| {
                        entry_location(candidate).is_some_and(|entry| tree.inside(&entry))
                    });
                    let Some(candidate) = found else {
                        return Err(TestCaseError::fail(format!(
                            "{path:?} described an entry outside the roots: {info}"
                        )));
                    };
                    prop_assert_ne!(info["size"].as_u64(), Some(SECRET_LEN as u64), "{}", info);
                    // Where a link leads is told only when it leads inside a root.
                    let link = &info["symlink"];
                    if link["resolves"] == "inside_root" || !link["target"].is_null() {
                        let real = std::fs::canonicalize(&candidate);
                        prop_assert!(
                            real.as_ref().is_ok_and(|real| tree.inside(real)),
                            "{:?} said its link stays inside: {:?}, {}",
                            path,
                            real,
                            info
                        );
                    }
                }
                Call::List { hidden, recursive } => {
                    let arguments = json!({
                        "directory_path": path, "include_hidden": hidden, "recursive": recursive
                    });
                    let result = sandbox.run("FileSystem.ListDirectory", arguments);
                    expected_status(&result)?;
                    let Some(listing) = result.data else {
                        return Ok(());
                    };
                    let listed_dir = tree.candidates(&path).into_iter().any(|candidate| {
                        std::fs::canonicalize(candidate)
                            .is_ok_and(|real| real.is_dir() && tree.inside(&real))
                    });
                    prop_assert!(
                        listed_dir,
                        "{:?} listed outside the roots: {}",
                        path,
                        listing
                    );
                    for entry in listing["entries"].as_array().into_iter().flatten() {
                        let entry_path = entry["path"].as_str().unwrap_or_default();
                        let inside = tree.candidates(entry_path).into_iter().any(|candidate| {
                            entry_location(&candidate).is_some_and(|real| {
                                tree.inside(&real)
                                    && real
                                        .file_name()
                                        .is_some_and(|n| entry["name"] == *n.to_string_lossy())
                            })
                        });
                        prop_assert!(inside, "{:?} listed {} outside the roots", path, entry);
                    }
                }
            }
            Ok(())
        },
    );
}

#[test]
fn every_spelling_of_a_file_inside_a_root_is_read() {
    let sandbox = Sandbox::new();
    let base = sandbox.tree.base.display().to_string();
    let prefixes = vec![
        String::new(),
        "./".to_owned(),
        format!("{base}/root-link/"),
        format!("{base}/root/"),
        format!("{base}//root-link/./"),
    ];
    let spelled = (
        select(prefixes),
        walk(),
        proptest::collection::vec(select(vec!["/", "//", "/./"]), 8),
    );
    property::check(
        "files inside a root are read",
        512,
        spelled,
        |(prefix, (steps, content), separators)| {
            let mut path = prefix;
            for (index, step) in steps.iter().enumerate() {
                if index > 0 {
                    path.push_str(separators[index % separators.len()]);
                }
                path.push_str(step);
            }
            let result = sandbox.run("FileSystem.ReadFile", json!({"file_path": path}));
            prop_assert_eq!(result.status_code, 200, "{:?}: {:?}", path, result.error);
            let read = result.data.as_ref().and_then(|d| d["content"].as_str());
            prop_assert_eq!(read, Some(content), "{:?}", path);
            Ok(())
        },
    );
}

/// Found by the property above: `FileSystem.GetFileInfo` described `notes.txt/` as the file.
#[test]
fn a_trailing_slash_names_a_directory_for_get_file_info_too() {
    let sandbox = Sandbox::new();
    for path in [".hidden/", "notes.txt/", "notes.txt/.", "sub/file.txt//"] {
        let result = sandbox.run("FileSystem.GetFileInfo", json!({"path": path}));
        assert_eq!(result.status_code, 400, "{path}: {result:?}");
    }
    let result = sandbox.run(
        "FileSystem.GetFileInfo",
        json!({"path": "link-inside-dir/"}),
    );
    assert_eq!(
        result.data.as_ref().map(|info| info["type"].clone()),
        Some(json!("directory")),
        "{result:?}"
    );
    let result = sandbox.run("FileSystem.GetFileInfo", json!({"path": "link-etc/"}));
    assert_eq!(result.status_code, 403, "{result:?}");
    let result = sandbox.run("FileSystem.GetFileInfo", json!({"path": "link-etc"}));
    assert_eq!(
        result.data.as_ref().map(|info| info["type"].clone()),
        Some(json!("symlink")),
        "{result:?}"
    );
}
