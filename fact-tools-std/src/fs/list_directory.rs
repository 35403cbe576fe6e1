//! `FileSystem.ListDirectory`: the entries of a directory inside the roots, optionally
//! recursive, never following symlinks, as many as one answer has room for.

use std::collections::BinaryHeap;

use cap_fs_ext::DirExt;
use cap_std::fs::Dir;
use fact_runtime::{ToolContext, ToolError, tool};
use schemars::JsonSchema;
use serde::Serialize;

use super::FileRoots;
use super::access::io_error;
use super::answer_size;
use super::metadata::{self, EntryType};

/// How deep a recursive listing goes when `max_depth` is not given.
pub const DEFAULT_RECURSIVE_DEPTH: u32 = 3;

/// The deepest listing the tool allows.
pub const MAX_DEPTH: u32 = 10;

/// One entry of a [`DirectoryListing`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct DirectoryEntry {
    /// The entry's file name.
    pub name: String,
    /// The entry's path as the file tools take it: `directory_path` joined with the path
    /// below it (just the path below it when listing `.`).
    pub path: String,
    /// What the entry is; a symlink is reported as `symlink`, never as its target.
    #[serde(rename = "type")]
    pub entry_type: EntryType,
    /// The size in bytes, for regular files.
    pub size: Option<u64>,
    /// When the entry was last modified (RFC 3339, UTC), where recorded.
    pub modified: Option<String>,
}

/// The entries under a directory.
///
/// As compact JSON the whole answer takes at most [`FileRoots::max_answer_bytes`] bytes, and
/// it holds at most [`FileRoots::max_list_entries`] entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct DirectoryListing {
    /// The directory, as requested.
    pub directory: String,
    /// The entries, directory by directory: in each, subdirectories first (each followed by
    /// its own entries when recursing), then the other entries, each group by name.
    pub entries: Vec<DirectoryEntry>,
    /// How many entries were returned.
    pub count: usize,
    /// Whether entries were left out because the entry limit, or the answer's size limit, was
    /// reached. The entries kept are then the first in listing order.
    pub truncated: bool,
    /// How many levels were listed (1: the directory's own entries only).
    pub max_depth: u32,
}

/// Lists a directory inside the allowed file roots: directories first, then files, by name.
/// Hidden entries (names starting with '.') are left out unless asked for. Recursion never
/// follows symlinked directories. A listing too large for one answer keeps its first entries,
/// and says so.
#[tool(
    name = "FileSystem.ListDirectory",
    title = "List Directory",
    timeout = 30,
    read_only,
    destructive = false,
    idempotent,
    open_world = false
)]
pub fn list_directory(
    /// The directory: relative to a root or absolute inside one; none, "" or '.' is the first root
    directory_path: Option<String>,
    /// Include entries whose names start with '.' (default false)
    include_hidden: Option<bool>,
    /// List subdirectories too, 3 levels deep unless max_depth says otherwise (default false)
    recursive: Option<bool>,
    /// How many levels to list, 1 to 10 (default 1, or 3 when recursive)
    #[schemars(range(min = 1, max = 10))]
    max_depth: Option<u32>,
    /// Only list files with these extensions, like ["rs", ".txt"]; directories are always listed
    file_types: Option<Vec<String>>,
    ctx: &ToolContext,
) -> Result<DirectoryListing, ToolError> {
    let roots = FileRoots::for_call(ctx)?;
    // A model's first call often names no directory: the first root is the obvious one.
    let directory_path = directory_path
        .filter(|path| !path.is_empty())
        .unwrap_or_else(|| ".".to_owned());
    let resolved = roots.resolve(&directory_path)?;
    let max_depth = max_depth
        .unwrap_or(if recursive.unwrap_or(false) {
            DEFAULT_RECURSIVE_DEPTH
        } else {
            1
        })
        .clamp(1, MAX_DEPTH);
    let start = resolved
        .dir
        .metadata(&resolved.relative)
        .map_err(|e| io_error(resolved.path, &e))?;
    if !start.is_dir() {
        return Err(ToolError::invalid_input(format!(
            "'{}' is not a directory",
            resolved.path
        )));
    }
    let room = answer_size::budget(
        roots.max_answer_bytes_limit(),
        &DirectoryListing::frame(&directory_path, max_depth),
        &format!("'{}'", resolved.path),
    )?;
    let dir = resolved
        .dir
        .open_dir(&resolved.relative)
        .map_err(|e| io_error(resolved.path, &e))?;
    let mut walk = Walk {
        include_hidden: include_hidden.unwrap_or(false),
        extensions: normalize_extensions(file_types.unwrap_or_default()),
        max_depth,
        max_entries: roots.max_list_entries_limit(),
        room,
        entries: Vec::new(),
        truncated: false,
        over: false,
        ctx,
    };
    walk.list(&dir, &display_prefix(&directory_path), 1)
        .map_err(|e| io_error(resolved.path, &e))?;
    Ok(DirectoryListing {
        directory: directory_path.clone(),
        count: walk.entries.len(),
        entries: walk.entries,
        truncated: walk.truncated,
        max_depth,
    })
}

impl DirectoryListing {
    /// The answer for `directory` with no entries and its count at its widest: what an answer
    /// takes besides its entries.
    fn frame(directory: &str, max_depth: u32) -> Self {
        Self {
            directory: directory.to_owned(),
            entries: Vec::new(),
            count: usize::MAX,
            truncated: false,
            max_depth,
        }
    }
}

/// A listing in progress.
struct Walk<'a> {
    include_hidden: bool,
    /// Lowercase extensions without their dot; empty means every file.
    extensions: Vec<String>,
    max_depth: u32,
    max_entries: usize,
    /// The bytes of JSON the answer has left for entries.
    room: usize,
    entries: Vec<DirectoryEntry>,
    /// Whether an entry was left out.
    truncated: bool,
    /// Set once an entry had no room, or the call was cancelled: nothing more is added, so
    /// that the entries are always the start of the whole listing.
    over: bool,
    ctx: &'a ToolContext,
}

/// An entry read from a directory, ordered as listings are: directories first, then by name.
struct Candidate {
    key: (bool, String),
    entry_type: EntryType,
    entry: cap_std::fs::DirEntry,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

/// An entry chosen for the listing, with its metadata.
struct Found {
    name: String,
    entry_type: EntryType,
    size: Option<u64>,
    modified: Option<String>,
}

impl Walk<'_> {
    /// Appends the entries of `dir` (at `depth`, 1 for the listed directory) whose paths start
    /// with `prefix`, recursing into real subdirectories while `depth < max_depth`, until an
    /// entry has no room left: the listing then stops there, so that what it holds is always
    /// the start of the whole listing.
    fn list(&mut self, dir: &Dir, prefix: &str, depth: u32) -> std::io::Result<()> {
        let budget = self.max_entries.saturating_sub(self.entries.len());
        // The `budget` entries that sort first, whatever order the disk gives them in: a
        // bounded max-heap whose top is the last of them, so memory stays within the budget
        // however large the directory.
        let mut kept: BinaryHeap<Candidate> = BinaryHeap::with_capacity(budget.min(1024) + 1);
        for entry in dir.entries()? {
            if self.ctx.is_cancelled() {
                self.truncated = true;
                self.over = true;
                return Ok(());
            }
            // An entry removed while listing, or unreadable, is left out.
            let Ok(entry) = entry else { continue };
            let name = entry.file_name().to_string_lossy().into_owned();
            if !self.include_hidden && name.starts_with('.') {
                continue;
            }
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            let entry_type = EntryType::of(file_type);
            if entry_type != EntryType::Directory && !self.wanted(&name) {
                continue;
            }
            let candidate = Candidate {
                key: (entry_type != EntryType::Directory, name),
                entry_type,
                entry,
            };
            if kept.len() < budget {
                kept.push(candidate);
                continue;
            }
            self.truncated = true;
            if kept.peek().is_some_and(|last| candidate.key < last.key) {
                kept.pop();
                kept.push(candidate);
            }
        }
        let found = kept.into_sorted_vec().into_iter().map(|candidate| {
            // DirEntry::metadata does not follow a symlink: the link's own metadata.
            let meta = candidate.entry.metadata().ok();
            Found {
                size: meta
                    .as_ref()
                    .filter(|m| m.is_file())
                    .map(cap_std::fs::Metadata::len),
                modified: meta.as_ref().and_then(metadata::modified),
                name: candidate.key.1,
                entry_type: candidate.entry_type,
            }
        });
        for item in found {
            let path = format!("{prefix}{}", item.name);
            let descend = item.entry_type == EntryType::Directory && depth < self.max_depth;
            let entry = DirectoryEntry {
                name: item.name.clone(),
                path: path.clone(),
                entry_type: item.entry_type,
                size: item.size,
                modified: item.modified,
            };
            if !self.admit(entry) {
                return Ok(());
            }
            if descend {
                // `open_dir_nofollow`: an entry swapped for a symlink since it was read is
                // refused by the kernel, not followed. Unreadable subdirectories are listed
                // but not entered.
                if let Ok(sub) = dir.open_dir_nofollow(&item.name) {
                    self.list(&sub, &format!("{path}/"), depth + 1)?;
                }
                if self.over {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Adds `entry` if the entry limit and the answer's room allow it (its JSON and a comma);
    /// otherwise marks the listing truncated and over.
    fn admit(&mut self, entry: DirectoryEntry) -> bool {
        let cost = answer_size::json_len(&entry).saturating_add(1);
        if self.over || self.entries.len() >= self.max_entries || cost > self.room {
            self.truncated = true;
            self.over = true;
            return false;
        }
        self.room -= cost;
        self.entries.push(entry);
        true
    }

    fn wanted(&self, name: &str) -> bool {
        if self.extensions.is_empty() {
            return true;
        }
        let name = name.to_lowercase();
        self.extensions.iter().any(|ext| {
            name.strip_suffix(ext.as_str())
                .is_some_and(|stem| stem.len() > 1 && stem.ends_with('.'))
        })
    }
}

/// `["RS", ".txt", " "]` -> `["rs", "txt"]`.
fn normalize_extensions(file_types: Vec<String>) -> Vec<String> {
    file_types
        .into_iter()
        .map(|t| t.trim().trim_start_matches('.').to_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// What entry paths start with: nothing for `.`, else the directory path and a `/`.
fn display_prefix(directory_path: &str) -> String {
    let trimmed = directory_path.trim_end_matches('/');
    match trimmed {
        "" if directory_path.starts_with('/') => "/".to_owned(),
        "" | "." => String::new(),
        _ => format!("{trimmed}/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_normalized_without_dots_or_case() {
        let got = normalize_extensions(vec!["RS".into(), ".txt".into(), " ".into()]);
        assert_eq!(got, ["rs", "txt"]);
    }

    #[test]
    fn entry_paths_of_the_root_have_no_prefix() {
        assert_eq!(display_prefix("."), "");
        assert_eq!(display_prefix("./"), "");
        assert_eq!(display_prefix("sub/"), "sub/");
        assert_eq!(display_prefix("/srv/data"), "/srv/data/");
    }
}
