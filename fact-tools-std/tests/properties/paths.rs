//! Properties of the file sandbox: nothing the file tools accept resolves outside a root, and
//! every spelling of a file inside one is read.
//!
//! The oracle is the operating system: `std::fs::canonicalize` of the path a tool was given
//! (under each root, when relative), outside the code under test. Paths are built from the
//! names of the tree ([`super::tree`]), `.`, `..`, separators, absolute prefixes (the roots'
//! own paths, the secret's, `/etc`, `/proc/self/root`), trailing slashes, encoded and
//! look-alike dots and NUL bytes.

use fact_runtime::{ToolCall, ToolExecutor, ToolResult};
use fact_tests::property;
use fact_tools_std::fs::FileRoots;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use super::tree::{SECRET, SECRET_LEN, Tree, entry_location};

const NAMES: &[&str] = &[
    "notes.txt",
    "sub",
    "deeper",
    "leaf.txt",
    "file.txt",
    ".hidden",
    "with space.txt",
    "ünïcode.txt",
    "only-in-b.txt",
    "missing.txt",
    "link-inside-file",
    "link-inside-dir",
    "link-up",
    "link-abs-inside",
    "link-outside-rel",
    "link-outside-dir",
    "link-outside-abs",
    "link-etc",
    "link-passwd",
    "link-loop-a",
    "link-self",
    "link-escape",
    "link-root",
    "dangling",
    "link-dot",
    "link-parent",
    "link-root-b",
    "outside",
    "secret.txt",
    "inner.txt",
    "dir",
    "root",
    "root-b",
    "root-link",
    "root-evil",
    "root-link-evil",
    "etc",
    "passwd",
    ".",
    "..",
    "..",
    "..",
    "...",
    "%2e%2e",
    "..%2f",
    "%2F",
    "\u{ff0e}\u{ff0e}",
    "\u{2025}",
    "..\\",
    "~",
    " ..",
    "NOTES.TXT",
    "notes.txt\0",
    "\0",
];

/// A path as a caller might write it, from the tree's names and every trick listed above.
fn path(tree: &Tree) -> impl Strategy<Value = String> + use<> {
    let base = tree.base.display().to_string();
    let prefixes = vec![
        String::new(),
        "./".to_owned(),
        "/".to_owned(),
        format!("{base}/"),
        format!("{base}/root-link/"),
        format!("{base}/root/"),
        format!("{base}/root-b/"),
        format!("{base}/outside/"),
        format!("{base}/root/../"),
        format!("{base}/root-link/../root/"),
        format!("/proc/self/root{base}/root/"),
        "/etc/".to_owned(),
    ];
    let steps = proptest::collection::vec((select(NAMES), select(vec!["/", "//", "/./"])), 0..6);
    (select(prefixes), steps, select(vec!["", "/", "/.", "//"])).prop_map(
        |(prefix, steps, trailing)| {
            let mut path = prefix;
            for (index, (name, separator)) in steps.iter().enumerate() {
                if index > 0 {
                    path.push_str(separator);
                }
                path.push_str(name);
            }
            if !steps.is_empty() {
                path.push_str(trailing);
            }
            path
        },
    )
}

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
        (path(tree), call()),
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

/// A walk from root A to one of its files: through real directories, `.`, `..` and the
/// links that stay inside, as `(path steps, the file's content)`.
fn walk() -> impl Strategy<Value = (Vec<&'static str>, &'static str)> {
    (proptest::collection::vec(any::<u8>(), 0..8), any::<u8>()).prop_map(|(choices, last)| {
        // Where the walk is, as the OS sees it: a directory under the root.
        let mut at: Vec<&str> = Vec::new();
        let mut steps = Vec::new();
        for choice in choices {
            let moves: &[&str] = match at.as_slice() {
                [] => &[".", "sub", "link-inside-dir", "link-dot"],
                ["sub"] => &[".", "..", "deeper"],
                _ => &[".", "..", "link-root"],
            };
            let step = moves[usize::from(choice) % moves.len()];
            match step {
                "sub" | "link-inside-dir" => at = vec!["sub"],
                "deeper" => at.push("deeper"),
                "link-root" => at.clear(),
                ".." => {
                    at.pop();
                }
                _ => {}
            }
            steps.push(step);
        }
        let files: &[(&str, &str)] = match at.as_slice() {
            [] => &[
                ("notes.txt", "notes in root a\n"),
                ("link-inside-file", "notes in root a\n"),
                (".hidden", "hidden in root a\n"),
                ("with space.txt", "spaced\n"),
                ("ünïcode.txt", "unicode name\n"),
            ],
            ["sub"] => &[
                ("file.txt", "file in sub\n"),
                ("link-up", "notes in root a\n"),
            ],
            _ => &[("leaf.txt", "leaf\n")],
        };
        let (file, content) = files[usize::from(last) % files.len()];
        steps.push(file);
        (steps, content)
    })
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
