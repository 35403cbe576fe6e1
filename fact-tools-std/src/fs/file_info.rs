//! `FileSystem.GetFileInfo`: the metadata of one entry inside the roots, without opening it.

use std::path::Path;

use cap_std::fs::{Dir, Metadata};
use fact_runtime::{ToolContext, ToolError, tool};
use schemars::JsonSchema;
use serde::Serialize;

use super::FileRoots;
use super::access::{io_error, is_escape};
use super::metadata::{self, EntryType};

/// Where a symlink leads, judged inside the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SymlinkResolution {
    /// It resolves to an existing entry inside the same root.
    InsideRoot,
    /// It leads out of the root (an absolute target, or `..` past the root); the tools never
    /// follow it and do not say where it points.
    OutsideRoot,
    /// It stays inside the root but names nothing (or loops).
    Broken,
}

/// What a symlink points to, as far as the sandbox lets the tools see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SymlinkInfo {
    /// The link's text, relative to the link's directory; `null` unless the link resolves to
    /// an entry inside the root, so that nothing about the host leaks (a broken link may be
    /// broken on its way out).
    pub target: Option<String>,
    /// Where the link leads.
    pub resolves: SymlinkResolution,
    /// What the link resolves to, when it resolves inside the root.
    pub target_type: Option<EntryType>,
}

/// The metadata of a file, directory or symlink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FileInfo {
    /// The path, as requested.
    pub path: String,
    /// The last component of the path.
    pub name: String,
    /// What the path names itself (a symlink is `symlink`; see `symlink` for its target).
    #[serde(rename = "type")]
    pub entry_type: EntryType,
    /// The entry's own size in bytes. For a symlink this is the length of its target text,
    /// given only when the target is (`null` otherwise).
    pub size: Option<u64>,
    /// Last modification (RFC 3339, UTC), where the file system records it.
    pub modified: Option<String>,
    /// Creation (RFC 3339, UTC), where the file system records it.
    pub created: Option<String>,
    /// Last access (RFC 3339, UTC), where the file system records it.
    pub accessed: Option<String>,
    /// Whether the entry's permissions forbid writing it.
    pub readonly: bool,
    /// The Unix permission bits as octal, like `0644` (absent on other platforms).
    pub permissions: Option<String>,
    /// Whether the name starts with '.'.
    pub is_hidden: bool,
    /// The extension of the name, without its dot.
    pub extension: Option<String>,
    /// For a symlink: where it leads.
    pub symlink: Option<SymlinkInfo>,
}

/// Gets the metadata of a file, directory or symlink inside the allowed file roots, without
/// opening or following it: its type, size, times, permissions, and for a symlink whether it
/// stays inside the root.
#[tool(
    name = "FileSystem.GetFileInfo",
    title = "Get File Info",
    timeout = 30,
    read_only,
    destructive = false,
    idempotent,
    open_world = false
)]
pub fn get_file_info(
    /// The path: relative to a root, or absolute inside one
    path: String,
    ctx: &ToolContext,
) -> Result<FileInfo, ToolError> {
    let roots = FileRoots::for_call(ctx)?;
    let resolved = roots.resolve(&path)?;
    // A trailing slash (kept as a final `.`, see `FileRoots::resolve`) names a directory,
    // through a final symlink, as the kernel reads it: `notes.txt/` is no entry. Not left to
    // `symlink_metadata`, which reads `notes.txt/.` as `notes.txt` (a path of one component
    // is looked up by its `Path::components`, which drop a final `.`).
    let meta = if names_directory(&resolved.relative) {
        resolved.dir.metadata(&resolved.relative)
    } else {
        resolved.dir.symlink_metadata(&resolved.relative)
    }
    .map_err(|e| io_error(resolved.path, &e))?;
    let entry_type = EntryType::of(meta.file_type());
    let symlink =
        (entry_type == EntryType::Symlink).then(|| symlink_info(resolved.dir, &resolved.relative));
    let size = match &symlink {
        Some(link) if link.target.is_none() => None,
        _ => Some(meta.len()),
    };
    let name = Path::new(&path)
        .file_name()
        .map_or_else(|| path.clone(), |n| n.to_string_lossy().into_owned());
    let extension = Path::new(&name)
        .extension()
        .map(|e| e.to_string_lossy().into_owned());
    Ok(FileInfo {
        is_hidden: name.starts_with('.') && name != "." && name != "..",
        extension,
        name,
        entry_type,
        size,
        modified: metadata::modified(&meta),
        created: metadata::timestamp(meta.created()),
        accessed: metadata::timestamp(meta.accessed()),
        readonly: meta.permissions().readonly(),
        permissions: permission_bits(&meta),
        symlink,
        path: path.clone(),
    })
}

/// Whether `relative` ends in `.`, as a path written with a trailing slash does once resolved.
fn names_directory(relative: &Path) -> bool {
    let text = relative.as_os_str().as_encoded_bytes();
    text == b"." || text.ends_with(b"/.")
}

/// Judges a symlink by resolving it through cap-std, which stops at the root.
fn symlink_info(dir: &Dir, relative: &Path) -> SymlinkInfo {
    let (resolves, target_type) = match dir.metadata(relative) {
        Ok(target) => (
            SymlinkResolution::InsideRoot,
            Some(EntryType::of(target.file_type())),
        ),
        Err(e) if is_escape(&e) => (SymlinkResolution::OutsideRoot, None),
        Err(_) => (SymlinkResolution::Broken, None),
    };
    // Only a link that resolves inside the root shows its text: a broken one may have broken
    // on its way out (`missing/../../../etc/shadow`), and `read_link` refuses absolute ones.
    let target = match resolves {
        SymlinkResolution::InsideRoot => dir
            .read_link(relative)
            .ok()
            .map(|t| t.to_string_lossy().into_owned()),
        SymlinkResolution::OutsideRoot | SymlinkResolution::Broken => None,
    };
    SymlinkInfo {
        target,
        resolves,
        target_type,
    }
}

#[cfg(unix)]
fn permission_bits(meta: &Metadata) -> Option<String> {
    use cap_std::fs::PermissionsExt;
    Some(format!("{:04o}", meta.permissions().mode() & 0o7777))
}

#[cfg(not(unix))]
fn permission_bits(_meta: &Metadata) -> Option<String> {
    None
}
