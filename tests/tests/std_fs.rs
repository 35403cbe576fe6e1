//! The `FileSystem.*` tools of fact-tools-std through the executor: every way out of the
//! sandbox is refused without returning content, and legitimate paths, encodings and listings
//! work.
#![cfg(unix)]

// A test crate's root resolves `mod` next to itself, so the submodules name their folder.
#[path = "std_fs/answer_size.rs"]
mod answer_size;
#[path = "std_fs/encodings.rs"]
mod encodings;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use fact_runtime::{ToolCall, ToolExecutor, ToolResult};
use fact_tests::scratch::unique;
use fact_tools_std::fs::FileRoots;
use serde_json::{Value, json};

/// What the secret file next to the root holds; no answer may ever contain it.
const SECRET: &str = "TOP-SECRET-next-to-the-root";

/// The configured answer limit of these tests, in bytes of JSON.
///
/// Room for every listing of the fixture tree, and far less than the files made to exceed it.
const CAP: u64 = 8 * 1024;

/// A temporary tree, removed on drop:
///
/// ```text
/// base/secret.txt                 the secret, outside the root
/// base/outside/leak.txt           a directory outside the root
/// base/root/                      the only root
/// ```
struct Tree {
    base: PathBuf,
    root: PathBuf,
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

impl Tree {
    fn new() -> Self {
        let base = std::env::temp_dir().join(unique("fact-std-fs"));
        let root = base.join("root");
        let tree = Self { base, root };
        tree.build();
        tree
    }

    fn write(&self, path: &str, contents: impl AsRef<[u8]>) {
        let path = self.root.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("creates parent directories");
        }
        std::fs::write(path, contents).expect("writes a fixture file");
    }

    fn link(&self, target: impl AsRef<Path>, link: &str) {
        symlink(target, self.root.join(link)).expect("creates a symlink");
    }

    fn build(&self) {
        std::fs::create_dir_all(self.base.join("outside")).expect("creates the tree");
        std::fs::create_dir_all(&self.root).expect("creates the root");
        std::fs::write(self.base.join("secret.txt"), SECRET).expect("writes the secret");
        std::fs::write(self.base.join("outside/leak.txt"), SECRET).expect("writes the leak");

        self.write("notes.txt", "hello\nworld\nagain\n");
        std::fs::set_permissions(
            self.root.join("notes.txt"),
            std::fs::Permissions::from_mode(0o640),
        )
        .expect("sets permissions");
        self.write("sub/inner.txt", "inner\n");
        self.write(".hidden.txt", "hidden\n");
        self.write("file with spaces.txt", "spaces\n");
        self.write("ünïcødé ☃.txt", "unicode\n");
        self.write("a&b.txt", "ampersand\n");
        self.write("it's.txt", "quote\n");
        self.write("latin1.txt", b"caf\xe9 cr\xe8me");
        let mut le = vec![0xFF, 0xFE];
        le.extend("héllo 𝄞".encode_utf16().flat_map(u16::to_le_bytes));
        self.write("utf16le.txt", le);
        let mut be = vec![0xFE, 0xFF];
        be.extend("héllo 𝄞".encode_utf16().flat_map(u16::to_be_bytes));
        self.write("utf16be.txt", be);
        self.write("odd.txt", [0x68, 0x00, 0x69]);
        self.write("binary.bin", b"abc\xff\xfe\x00rest");
        // 'a' then 2-byte characters, twice the limit.
        self.write("big.txt", format!("a{}", "é".repeat(5000)));

        // Listing fixtures.
        self.write("listing/z.txt", "z");
        self.write("listing/c.rs", "fn main() {}");
        self.write("listing/.hidden", "h");
        self.write("listing/.hdir/h.txt", "h");
        self.write("listing/a_dir/inner.rs", "");
        self.write("listing/a_dir/deep/deeper.txt", "");
        self.write("listing/a_dir/deep/d2/d3.txt", "");
        self.write("listing/b_dir/b.txt", "b");
        self.link("b_dir", "listing/link_to_b");

        // Symlinks: legitimate ones, and ones leading out.
        self.link("notes.txt", "link_inside");
        self.link("sub", "linkdir");
        self.link("../secret.txt", "link_secret");
        self.link(self.base.join("secret.txt"), "link_abs_secret");
        self.link("/etc/passwd", "link_passwd");
        self.link("/dev/zero", "link_zero");
        self.link(self.base.join("outside"), "linkdir_out");
        self.link("sub/../../secret.txt", "link_dotdot");

        let made = Command::new("mkfifo")
            .arg(self.root.join("pipe"))
            .status()
            .expect("runs mkfifo");
        assert!(made.success(), "mkfifo failed");
        self.link("pipe", "link_pipe");
    }

    fn roots(&self) -> FileRoots {
        FileRoots::new([&self.root])
            .expect("the root opens")
            .max_answer_bytes(CAP)
    }

    fn executor(&self) -> ToolExecutor {
        ToolExecutor::builder()
            .extension(self.roots())
            .build()
            .expect("the executor builds")
    }

    fn abs(&self, relative: &str) -> String {
        self.root.join(relative).display().to_string()
    }
}

async fn call(executor: &ToolExecutor, tool: &str, arguments: Value) -> ToolResult {
    executor
        .execute_tool_call(ToolCall::new(tool, arguments))
        .await
}

async fn read(executor: &ToolExecutor, arguments: Value) -> ToolResult {
    call(executor, "FileSystem.ReadFile", arguments).await
}

fn data(result: &ToolResult) -> &Value {
    assert!(result.success, "expected success: {result:?}");
    result.data.as_ref().expect("a successful result has data")
}

/// Asserts that `result` is a refusal with `status` that leaks nothing from outside the root.
fn assert_refused(result: &ToolResult, status: u16, what: &str) {
    assert_eq!(result.status_code, status, "{what}: {result:?}");
    assert!(result.data.is_none(), "{what}: {result:?}");
    let shown = serde_json::to_string(result).expect("serializes");
    assert!(!shown.contains(SECRET), "{what} leaked the secret: {shown}");
    assert!(
        !shown.contains("root:x:0"),
        "{what} leaked /etc/passwd: {shown}"
    );
}

#[tokio::test]
async fn read_file_refuses_every_path_of_the_attack_corpus() {
    let tree = Tree::new();
    let executor = tree.executor();
    let outside_abs = tree.base.join("secret.txt").display().to_string();
    let dotdot_abs = format!("{}/../secret.txt", tree.root.display());
    let corpus: Vec<(String, u16)> = vec![
        ("../../../etc/passwd".into(), 403),
        // A backslash is a file-name character on Unix: one odd name, not found.
        (r"..\..\windows\system32\config\sam".into(), 400),
        ("/etc/shadow".into(), 403),
        // `~` is not expanded: a directory named `~` that does not exist.
        ("~/.ssh/id_rsa".into(), 400),
        ("/etc/passwd".into(), 403),
        ("/proc/self/environ".into(), 403),
        ("sub/../../secret.txt".into(), 403),
        ("../secret.txt".into(), 403),
        ("notes.txt\0.png".into(), 400),
        (outside_abs, 403),
        (dotdot_abs, 403),
        ("link_secret".into(), 403),
        ("link_abs_secret".into(), 403),
        ("link_passwd".into(), 403),
        ("link_dotdot".into(), 403),
        ("linkdir_out/leak.txt".into(), 403),
        // Never opened: refused by type (the call would hang on a FIFO or never end on
        // /dev/zero otherwise).
        ("link_zero".into(), 403),
        ("pipe".into(), 403),
        ("link_pipe".into(), 403),
    ];
    for (path, status) in corpus {
        let result = read(&executor, json!({"file_path": path})).await;
        assert_refused(&result, status, &format!("{path:?}"));
    }
}

#[tokio::test]
async fn an_escape_is_a_security_error_naming_the_path() {
    let tree = Tree::new();
    let result = read(&tree.executor(), json!({"file_path": "link_secret"})).await;
    assert_refused(&result, 403, "link_secret");
    assert_eq!(
        result.metadata.error_type.as_deref(),
        Some("SecurityError"),
        "{result:?}"
    );
    let message = result.error.unwrap_or_default();
    assert!(message.contains("'link_secret'"), "{message}");
    assert!(
        message.contains("outside the allowed file roots"),
        "{message}"
    );
}

#[tokio::test]
async fn a_file_named_with_a_trailing_slash_is_not_read() {
    let tree = Tree::new();
    for path in ["notes.txt/", "notes.txt/."] {
        let result = read(&tree.executor(), json!({"file_path": path})).await;
        assert_refused(&result, 400, path);
    }
    let listing = list(&tree.executor(), json!({"directory_path": "listing/"})).await;
    assert_eq!(
        data(&listing)["count"],
        json!(5),
        "a directory with a trailing slash lists"
    );
}

#[tokio::test]
async fn an_absolute_path_outside_the_roots_is_refused_as_outside() {
    let tree = Tree::new();
    let result = read(&tree.executor(), json!({"file_path": "/etc/passwd"})).await;
    assert_refused(&result, 403, "/etc/passwd");
    let message = result.error.unwrap_or_default();
    assert!(
        message.contains("'/etc/passwd' is outside the allowed file roots"),
        "{message}"
    );
}

#[tokio::test]
async fn a_missing_file_is_a_validation_error_naming_it() {
    let tree = Tree::new();
    let result = read(&tree.executor(), json!({"file_path": "nope.txt"})).await;
    assert_refused(&result, 400, "nope.txt");
    let message = result.error.unwrap_or_default();
    assert!(message.contains("'nope.txt'"), "{message}");
}

#[tokio::test]
async fn read_file_reads_every_path_of_the_legitimate_corpus() {
    let tree = Tree::new();
    let executor = tree.executor();
    let corpus = [
        (tree.abs("notes.txt"), "hello\nworld\nagain\n"),
        ("./notes.txt".into(), "hello\nworld\nagain\n"),
        ("sub/../notes.txt".into(), "hello\nworld\nagain\n"),
        ("link_inside".into(), "hello\nworld\nagain\n"),
        ("linkdir/inner.txt".into(), "inner\n"),
        ("sub/inner.txt".into(), "inner\n"),
        ("file with spaces.txt".into(), "spaces\n"),
        ("ünïcødé ☃.txt".into(), "unicode\n"),
        ("a&b.txt".into(), "ampersand\n"),
        ("it's.txt".into(), "quote\n"),
        (".hidden.txt".into(), "hidden\n"),
    ];
    for (path, content) in corpus {
        let result = read(&executor, json!({"file_path": path})).await;
        let data = data(&result);
        assert_eq!(data["content"], json!(content), "{path}: {data}");
        assert_eq!(data["path"], json!(path), "{path}: {data}");
        assert_eq!(data["truncated"], json!(false), "{path}: {data}");
    }
}

#[tokio::test]
async fn read_file_reports_size_lines_and_the_default_encoding() {
    let tree = Tree::new();
    let result = read(&tree.executor(), json!({"file_path": "notes.txt"})).await;
    let data = data(&result);
    assert_eq!(data["encoding"], json!("utf-8"));
    assert_eq!(data["size_bytes"], json!(18));
    assert_eq!(data["bytes_read"], json!(18));
    assert_eq!(data["lines"], json!(3));
    assert_eq!(data["truncated_by"], Value::Null);
}

#[tokio::test]
async fn max_lines_cuts_the_content_and_says_so() {
    let tree = Tree::new();
    let args = json!({"file_path": "notes.txt", "max_lines": 2});
    let result = read(&tree.executor(), args).await;
    let data = data(&result);
    assert_eq!(data["content"], json!("hello\nworld\n"));
    assert_eq!(data["lines"], json!(2));
    assert_eq!(data["truncated"], json!(true));
    assert_eq!(data["truncated_by"], json!("max_lines"));
}

#[tokio::test]
async fn max_lines_of_zero_is_refused_by_the_schema() {
    let tree = Tree::new();
    let args = json!({"file_path": "notes.txt", "max_lines": 0});
    let result = read(&tree.executor(), args).await;
    assert_refused(&result, 400, "max_lines 0");
}

#[tokio::test]
async fn a_file_over_the_answer_limit_is_cut_between_two_characters() {
    let tree = Tree::new();
    let result = read(&tree.executor(), json!({"file_path": "big.txt"})).await;
    let data = data(&result);
    assert_eq!(data["truncated"], json!(true));
    assert_eq!(data["truncated_by"], json!("max_answer_bytes"));
    assert_eq!(data["size_bytes"], json!(10_001));
    let content = data["content"].as_str().unwrap_or_default();
    let kept = content.strip_prefix('a').map(|rest| rest.chars().count());
    assert!(
        kept.is_some_and(|k| k > 0) && content[1..].chars().all(|c| c == 'é'),
        "{content:?}"
    );
    // Every byte read is behind the content: no character was cut in half.
    assert_eq!(data["bytes_read"], json!(content.len()));
}

#[tokio::test]
async fn reading_a_directory_is_a_validation_error() {
    let tree = Tree::new();
    let result = read(&tree.executor(), json!({"file_path": "sub"})).await;
    assert_refused(&result, 400, "a directory");
}

fn names(result: &ToolResult) -> Vec<String> {
    let entries = data(result)["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    entries
        .iter()
        .map(|e| e["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn paths(result: &ToolResult) -> Vec<String> {
    let entries = data(result)["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    entries
        .iter()
        .map(|e| e["path"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn list(executor: &ToolExecutor, arguments: Value) -> ToolResult {
    call(executor, "FileSystem.ListDirectory", arguments).await
}

#[tokio::test]
async fn list_directory_puts_directories_first_then_sorts_by_name_without_hidden_entries() {
    let tree = Tree::new();
    let result = list(&tree.executor(), json!({"directory_path": "listing"})).await;
    assert_eq!(
        names(&result),
        ["a_dir", "b_dir", "c.rs", "link_to_b", "z.txt"]
    );
    let data = data(&result);
    assert_eq!(data["count"], json!(5));
    assert_eq!(data["truncated"], json!(false));
    let entries = &data["entries"];
    assert_eq!(entries[0]["type"], json!("directory"));
    assert_eq!(entries[0]["path"], json!("listing/a_dir"));
    assert_eq!(entries[2]["type"], json!("file"));
    assert_eq!(entries[2]["size"], json!(12));
    assert!(entries[2]["modified"].is_string(), "{entries}");
    assert_eq!(entries[3]["type"], json!("symlink"));
}

#[tokio::test]
async fn list_directory_includes_hidden_entries_when_asked() {
    let tree = Tree::new();
    let args = json!({"directory_path": "listing", "include_hidden": true});
    let result = list(&tree.executor(), args).await;
    assert_eq!(
        names(&result),
        [
            ".hdir",
            "a_dir",
            "b_dir",
            ".hidden",
            "c.rs",
            "link_to_b",
            "z.txt"
        ]
    );
}

#[tokio::test]
async fn a_recursive_listing_goes_three_levels_and_never_enters_a_symlinked_directory() {
    let tree = Tree::new();
    let args = json!({"directory_path": "listing", "recursive": true});
    let result = list(&tree.executor(), args).await;
    assert_eq!(
        paths(&result),
        [
            "listing/a_dir",
            "listing/a_dir/deep",
            "listing/a_dir/deep/d2",
            "listing/a_dir/deep/deeper.txt",
            "listing/a_dir/inner.rs",
            "listing/b_dir",
            "listing/b_dir/b.txt",
            "listing/c.rs",
            "listing/link_to_b",
            "listing/z.txt",
        ]
    );
    assert_eq!(data(&result)["max_depth"], json!(3));
}

#[tokio::test]
async fn max_depth_limits_how_many_levels_are_listed() {
    let tree = Tree::new();
    let args = json!({"directory_path": "listing", "max_depth": 2});
    let result = list(&tree.executor(), args).await;
    let paths = paths(&result);
    assert!(
        paths.contains(&"listing/a_dir/deep".to_owned()),
        "{paths:?}"
    );
    assert!(
        !paths.iter().any(|p| p.starts_with("listing/a_dir/deep/")),
        "{paths:?}"
    );
}

#[tokio::test]
async fn max_depth_above_ten_is_refused_by_the_schema() {
    let tree = Tree::new();
    let args = json!({"directory_path": "listing", "max_depth": 11});
    let result = list(&tree.executor(), args).await;
    assert_refused(&result, 400, "max_depth 11");
}

#[tokio::test]
async fn file_types_filter_files_by_extension_and_keep_directories() {
    let tree = Tree::new();
    let executor = tree.executor();
    for filter in [json!(["rs"]), json!([".RS"])] {
        let args = json!({"directory_path": "listing", "file_types": filter});
        let result = list(&executor, args).await;
        assert_eq!(names(&result), ["a_dir", "b_dir", "c.rs"], "{filter}");
    }
}

#[tokio::test]
async fn a_listing_over_the_entry_limit_is_truncated_and_says_so() {
    let tree = Tree::new();
    let executor = ToolExecutor::builder()
        .extension(tree.roots().max_list_entries(2))
        .build()
        .expect("the executor builds");
    let result = list(&executor, json!({"directory_path": "listing"})).await;
    let data = data(&result);
    assert_eq!(data["count"], json!(2), "{data}");
    assert_eq!(data["truncated"], json!(true), "{data}");
    assert_eq!(names(&result), ["a_dir", "b_dir"]);
}

#[tokio::test]
async fn a_truncated_listing_keeps_the_entries_that_sort_first_whatever_the_disk_order() {
    let tree = Tree::new();
    for n in (0..50).rev() {
        tree.write(&format!("many/f{n:02}.txt"), "x");
    }
    tree.write("many/zdir/inside.txt", "x");
    let executor = ToolExecutor::builder()
        .extension(tree.roots().max_list_entries(5))
        .build()
        .expect("the executor builds");
    let result = list(&executor, json!({"directory_path": "many"})).await;
    assert_eq!(
        names(&result),
        ["zdir", "f00.txt", "f01.txt", "f02.txt", "f03.txt"]
    );
    assert_eq!(data(&result)["truncated"], json!(true));
    // Recursing, the first entries in listing order: a directory, then its own contents.
    let result = list(
        &executor,
        json!({"directory_path": "many", "recursive": true}),
    )
    .await;
    assert_eq!(
        paths(&result),
        [
            "many/zdir",
            "many/zdir/inside.txt",
            "many/f00.txt",
            "many/f01.txt",
            "many/f02.txt"
        ]
    );
}

#[tokio::test]
async fn the_root_lists_with_root_relative_paths() {
    let tree = Tree::new();
    let result = list(&tree.executor(), json!({"directory_path": "."})).await;
    let paths = paths(&result);
    assert!(paths.contains(&"notes.txt".to_owned()), "{paths:?}");
    assert!(paths.contains(&"sub".to_owned()), "{paths:?}");
}

#[tokio::test]
async fn list_directory_refuses_directories_outside_the_roots() {
    let tree = Tree::new();
    let executor = tree.executor();
    for path in ["..", "/etc", "linkdir_out", "sub/../..", "/"] {
        let result = list(&executor, json!({"directory_path": path})).await;
        assert_refused(&result, 403, path);
    }
}

#[tokio::test]
async fn listing_a_file_is_a_validation_error() {
    let tree = Tree::new();
    let result = list(&tree.executor(), json!({"directory_path": "notes.txt"})).await;
    assert_refused(&result, 400, "a file");
}

async fn info(executor: &ToolExecutor, path: &str) -> ToolResult {
    call(executor, "FileSystem.GetFileInfo", json!({"path": path})).await
}

#[tokio::test]
async fn get_file_info_describes_a_file() {
    let tree = Tree::new();
    let result = info(&tree.executor(), "notes.txt").await;
    let data = data(&result);
    assert_eq!(data["path"], json!("notes.txt"));
    assert_eq!(data["name"], json!("notes.txt"));
    assert_eq!(data["type"], json!("file"));
    assert_eq!(data["size"], json!(18));
    assert_eq!(data["extension"], json!("txt"));
    assert_eq!(data["is_hidden"], json!(false));
    assert_eq!(data["readonly"], json!(false));
    assert_eq!(data["permissions"], json!("0640"));
    assert_eq!(data["symlink"], Value::Null);
    let modified = data["modified"].as_str().unwrap_or_default();
    assert!(
        modified.len() == 20 && modified.ends_with('Z') && modified.as_bytes()[10] == b'T',
        "not RFC 3339: {modified:?}"
    );
}

#[tokio::test]
async fn get_file_info_marks_hidden_files_and_directories() {
    let tree = Tree::new();
    let executor = tree.executor();
    let hidden = info(&executor, ".hidden.txt").await;
    assert_eq!(data(&hidden)["is_hidden"], json!(true));
    let dir = info(&executor, "sub").await;
    assert_eq!(data(&dir)["type"], json!("directory"));
}

#[tokio::test]
async fn get_file_info_shows_the_target_of_a_symlink_inside_the_root() {
    let tree = Tree::new();
    let result = info(&tree.executor(), "link_inside").await;
    let data = data(&result);
    assert_eq!(data["type"], json!("symlink"));
    assert_eq!(
        data["symlink"],
        json!({"target": "notes.txt", "resolves": "inside_root", "target_type": "file"})
    );
}

#[tokio::test]
async fn get_file_info_hides_where_an_escaping_symlink_points() {
    let tree = Tree::new();
    // Broken before it escapes: judged broken, and its text still hidden.
    tree.link("nope/../../../../etc/shadow", "broken_out");
    let executor = tree.executor();
    for link in [
        "link_passwd",
        "link_secret",
        "link_abs_secret",
        "link_zero",
        "broken_out",
    ] {
        let result = info(&executor, link).await;
        let data = data(&result);
        assert_eq!(data["type"], json!("symlink"), "{link}");
        let resolves = if link == "broken_out" {
            "broken"
        } else {
            "outside_root"
        };
        assert_eq!(
            data["symlink"],
            json!({"target": null, "resolves": resolves, "target_type": null}),
            "{link}"
        );
        // Even the length of the target text is not told.
        assert_eq!(data["size"], json!(null), "{link}");
        let shown = data.to_string();
        assert!(
            !shown.contains("passwd") || link == "link_passwd",
            "{shown}"
        );
        assert!(
            !shown.contains("secret.txt") && !shown.contains("/dev") && !shown.contains("shadow"),
            "{shown}"
        );
    }
    let inside = info(&executor, "listing/link_to_b").await;
    assert_eq!(
        data(&inside)["symlink"],
        json!({"target": "b_dir", "resolves": "inside_root", "target_type": "directory"})
    );
    assert_eq!(data(&inside)["size"], json!(5));
}

#[tokio::test]
async fn get_file_info_describes_a_fifo_without_opening_it() {
    let tree = Tree::new();
    let result = info(&tree.executor(), "pipe").await;
    assert_eq!(data(&result)["type"], json!("other"));
}

#[tokio::test]
async fn get_file_info_refuses_paths_outside_the_roots() {
    let tree = Tree::new();
    let executor = tree.executor();
    for path in ["../secret.txt", "/etc/passwd", "linkdir_out/leak.txt"] {
        let result = info(&executor, path).await;
        assert_refused(&result, 403, path);
    }
}

#[tokio::test]
async fn without_file_roots_every_file_tool_refuses_and_names_the_setting_not_a_host_path() {
    // Whatever the environment says and whatever `./data` holds: the tools never read it.
    let executor = ToolExecutor::builder()
        .build()
        .expect("the executor builds");
    let cwd = std::env::current_dir().expect("a working directory");
    let calls = [
        ("FileSystem.ReadFile", json!({"file_path": "notes.txt"})),
        ("FileSystem.ListDirectory", json!({"directory_path": "."})),
        ("FileSystem.GetFileInfo", json!({"path": "notes.txt"})),
    ];
    for (tool, arguments) in calls {
        let result = call(&executor, tool, arguments).await;
        assert_refused(&result, 403, tool);
        let message = result.error.unwrap_or_default();
        assert!(message.contains("FACT_FS_ROOTS"), "{tool}: {message}");
        assert!(message.contains("FileRoots"), "{tool}: {message}");
        assert!(
            !message.contains(&*cwd.to_string_lossy()),
            "{tool}: {message}"
        );
    }
}

#[tokio::test]
async fn list_directory_without_a_path_or_with_an_empty_one_lists_the_first_root() {
    let tree = Tree::new();
    let executor = tree.executor();
    let dot = paths(&list(&executor, json!({"directory_path": "."})).await);
    assert!(!dot.is_empty(), "the first root has entries");
    assert_eq!(paths(&list(&executor, json!({})).await), dot);
    assert_eq!(
        paths(&list(&executor, json!({"directory_path": ""})).await),
        dot
    );
}
