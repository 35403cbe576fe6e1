//! Read-only file tools, sandboxed by capabilities: `FileSystem.ReadFile`,
//! `FileSystem.ListDirectory` and `FileSystem.GetFileInfo`.
//!
//! # The sandbox
//!
//! The tools see only the directories of a [`FileRoots`]: each root is opened once, at
//! configuration, as a [`cap_std::fs::Dir`], and every later access is made *relative to that
//! open directory* through cap-std. cap-std resolves paths with `openat2(RESOLVE_BENEATH)` where
//! the kernel has it (and by its own careful component-by-component resolution elsewhere), so
//! `..` past the root, absolute symlinks and relative symlinks leading out of the root fail in
//! the resolution itself, whatever the path string looks like; such a failure is a 403
//! `SecurityError` naming the path. `..` that stays inside the root (`sub/../notes.txt`) and
//! symlinks between files of the same root work. No string check stands guard; the few there
//! are only choose which root a path belongs to:
//!
//! - A relative path is looked up in each root in order and resolves in the first root where
//!   it exists (a symlink counts as existing, and is then judged when followed). When it exists
//!   in none, the error is "no such file" (400), or 403 if a root refused it as an escape.
//! - An absolute path must start, component by component, with a root's absolute path (as
//!   configured, or canonical); it is then made relative to that root. Any other absolute path
//!   (`/etc/passwd`, `/proc/self/environ`) is a 403 "outside the allowed file roots".
//! - `~` is not expanded: `~/.ssh/id_rsa` names a directory called `~` inside a root, which
//!   normally does not exist (400). A backslash is an ordinary file-name character on Unix, so
//!   `..\..\secret` is one odd file name, not a way up.
//! - A path holding a NUL byte, or an empty path, is a 400.
//!
//! What no path-based sandbox can see: a hard link inside a root to a file outside it, or a
//! bind mount, is part of the root as far as the kernel is concerned. Do not give the tools a
//! root in which an untrusted party can create hard links or mounts.
//!
//! `FileSystem.ReadFile` reads regular files only: devices, FIFOs and sockets are a 403. The
//! type is checked before opening (following symlinks, inside the root only) and again on the
//! opened handle; the open is non-blocking, so a FIFO swapped in between cannot hang the call.
//! Nothing is opened for writing. `FileSystem.ListDirectory` never enters a symlinked
//! directory, and `FileSystem.GetFileInfo` never follows a symlink out of its root nor tells
//! where such a link points. A trailing `/` names a directory, as the kernel reads it, for
//! every tool: `notes.txt/` is refused (400), and `FileSystem.GetFileInfo` of `link/`
//! describes the directory the link leads to, inside the root only.
//!
//! # Encodings
//!
//! `FileSystem.ReadFile` decodes UTF-8 (the default), ASCII, ISO-8859-1 and UTF-16
//! ([`Encoding`]), each named by any of its common labels, in any case, with or without `-`
//! (`UTF8`, `us-ascii`, `ISO-8859-1`, `latin1`, `utf_16`). The input schema takes any string
//! for the encoding, with the names as examples, so that validation does not refuse a label
//! the tool accepts; an unknown label is a 400 listing the accepted names.
//!
//! # What one call can cost
//!
//! - **Answer size**: an answer takes at most [`FileRoots::max_answer_bytes`] bytes of
//!   compact JSON (default 10 MiB), measured on the JSON itself, escapes included: a NUL byte
//!   is one byte on disk and six in JSON (`\u0000`). `FileSystem.ReadFile` stops before the
//!   first character that would not fit and `FileSystem.ListDirectory` before the first
//!   entry, so an answer is always the start of the whole, and says `truncated` when it is
//!   not all of it. `FileSystem.GetFileInfo` describes one entry: its answer grows only with
//!   the path it was given (and a symlink's target, at most a few KiB).
//! - **Memory**: `FileSystem.ReadFile` decodes the file piece by piece (64 KiB at a time) and
//!   keeps only the text it answers, so a read holds at most about the answer's size plus one
//!   piece, whatever the file's size or encoding. `FileSystem.ListDirectory` keeps at most
//!   [`FileRoots::max_list_entries`] entries (default 10,000) per directory while it sorts
//!   them, however large the directory.
//! - **Time**: each tool has a 30 s timeout; a listing stops when its call is cancelled.
//!
//! # Configuration
//!
//! Give an executor a [`FileRoots`] with
//! [`ToolExecutorBuilder::extension`](fact_runtime::ToolExecutorBuilder::extension), built
//! once at start-up: [`FileRoots::new`] from paths, or [`FileRoots::from_env`] from
//! `FACT_FS_ROOTS`, which lists the roots separated like `PATH` (`:` on Unix, `;` on Windows)
//! and defaults to `./data` when unset. A root that cannot be opened, or a variable that is
//! set but lists no directory (empty, blank, only separators), is an error then, naming the
//! variable and the root; it never means the working directory. Unset with no `./data`,
//! there are no roots. The `fact` binary does exactly this, and refuses to start on such an
//! error.
//!
//! Without a [`FileRoots`] the tools refuse every call (403, naming no path of the host):
//! they never read the environment themselves.
//!
//! ```
//! use fact_runtime::serde_json::json;
//! use fact_runtime::{ToolCall, ToolExecutor};
//! use fact_tools_std::fs::FileRoots;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let root = std::env::temp_dir().join(format!("fact-fs-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&root)?;
//! std::fs::write(root.join("notes.txt"), "hello\n")?;
//!
//! let executor = ToolExecutor::builder()
//!     .extension(FileRoots::new([&root])?)
//!     .build()?;
//! let read = executor
//!     .execute_tool_call(ToolCall::new("FileSystem.ReadFile", json!({"file_path": "notes.txt"})))
//!     .await;
//! assert_eq!(read.data.as_ref().map(|d| d["content"].clone()), Some(json!("hello\n")));
//!
//! let escape = executor
//!     .execute_tool_call(ToolCall::new("FileSystem.ReadFile", json!({"file_path": "../../etc/passwd"})))
//!     .await;
//! assert_eq!(escape.status_code, 403);
//! # std::fs::remove_dir_all(&root)?;
//! # Ok(())
//! # }
//! ```

mod access;
mod answer_size;
mod bounded_text;
mod decode;
mod encoding;
mod file_info;
mod list_directory;
mod metadata;
mod read_file;
mod roots;

pub use decode::{DecodeError, Decoded};
pub use encoding::{Encoding, UnknownEncoding};
pub use file_info::{FileInfo, SymlinkInfo, SymlinkResolution, get_file_info};
pub use list_directory::{
    DEFAULT_RECURSIVE_DEPTH, DirectoryEntry, DirectoryListing, MAX_DEPTH, list_directory,
};
pub use metadata::EntryType;
pub use read_file::{FileContent, TruncatedBy, read_file};
pub use roots::{
    DEFAULT_MAX_ANSWER_BYTES, DEFAULT_MAX_LIST_ENTRIES, DEFAULT_ROOT, FileRoots, FileRootsError,
    ROOTS_ENV,
};
