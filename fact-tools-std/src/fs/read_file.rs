//! `FileSystem.ReadFile`: the text of a regular file inside the roots.

use std::io::Read;

use fact_runtime::{ToolContext, ToolError, tool};
use schemars::JsonSchema;
use serde::Serialize;

use super::FileRoots;
use super::access::{io_error, open_regular_file};
use super::decode::Encoding;

/// Why the content of a [`FileContent`] stops before the end of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TruncatedBy {
    /// The file is longer than the configured read limit
    /// ([`FileRoots::max_read_bytes`]); only its first bytes were read.
    MaxReadBytes,
    /// The content stops after `max_lines` lines.
    MaxLines,
}

/// The text of a file, and how much of the file it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FileContent {
    /// The path, as requested.
    pub path: String,
    /// The decoded text (at most `max_lines` lines and the configured read limit).
    pub content: String,
    /// The encoding the bytes were decoded with.
    pub encoding: Encoding,
    /// The size of the whole file in bytes, when it was opened.
    pub size_bytes: u64,
    /// How many bytes were read from the start of the file.
    pub bytes_read: u64,
    /// How many lines `content` holds (a last line without a newline counts).
    pub lines: usize,
    /// Whether `content` stops before the end of the file.
    pub truncated: bool,
    /// Why `content` stops early: `max_lines` takes precedence when both apply.
    pub truncated_by: Option<TruncatedBy>,
    /// Bytes at the end of the read that were dropped because the read limit cut a character
    /// in half (0 unless the read limit was reached).
    pub incomplete_tail_bytes: usize,
}

/// Reads a text file inside the allowed file roots. Relative paths are looked up in each root
/// in order; absolute paths must lie inside a root. Symlinks are followed only while they stay
/// inside the root; devices, FIFOs and sockets are refused. Large files are cut at the
/// configured limit (10 MiB by default) and say so.
#[tool(name = "FileSystem.ReadFile", timeout = 30)]
pub fn read_file(
    /// The file to read: relative to a root, or absolute inside one
    file_path: String,
    /// The text encoding of the file (default utf-8)
    encoding: Option<Encoding>,
    /// Return at most this many lines from the start of the file
    #[schemars(range(min = 1))]
    max_lines: Option<u64>,
    ctx: &ToolContext,
) -> Result<FileContent, ToolError> {
    let roots = FileRoots::for_call(ctx)?;
    let resolved = roots.resolve(&file_path)?;
    let (file, metadata) = open_regular_file(resolved.dir, &resolved.relative, resolved.path)?;
    let limit = roots.max_read_bytes_limit();
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(resolved.path, &e))?;
    let cut_by_size = u64::try_from(bytes.len()).map_or(true, |read| read > limit);
    if cut_by_size {
        bytes.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    let encoding = encoding.unwrap_or_default();
    let decoded = encoding.decode(&bytes, cut_by_size).map_err(|e| {
        ToolError::invalid_input(format!(
            "cannot decode '{}': {e}; try another encoding",
            resolved.path
        ))
    })?;
    let (content, lines, cut_by_lines) = keep_lines(decoded.text, max_lines);
    let truncated_by = if cut_by_lines {
        Some(TruncatedBy::MaxLines)
    } else if cut_by_size {
        Some(TruncatedBy::MaxReadBytes)
    } else {
        None
    };
    Ok(FileContent {
        path: file_path.clone(),
        content,
        encoding,
        size_bytes: metadata.len(),
        bytes_read: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
        lines,
        truncated: truncated_by.is_some(),
        truncated_by,
        incomplete_tail_bytes: decoded.incomplete_tail_bytes,
    })
}

/// The first `max_lines` lines of `text` (each with its newline), how many lines that is, and
/// whether any text was left out.
fn keep_lines(text: String, max_lines: Option<u64>) -> (String, usize, bool) {
    let total = text.split_inclusive('\n').count();
    let keep = max_lines.map_or(total, |max| {
        usize::try_from(max).map_or(total, |max| max.min(total))
    });
    if keep == total {
        return (text, total, false);
    }
    let end: usize = text.split_inclusive('\n').take(keep).map(str::len).sum();
    let mut text = text;
    text.truncate(end);
    (text, keep, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_lines_counts_a_last_line_without_a_newline() {
        assert_eq!(keep_lines("a\nb".into(), None), ("a\nb".into(), 2, false));
        assert_eq!(keep_lines(String::new(), None), (String::new(), 0, false));
    }

    #[test]
    fn keep_lines_cuts_after_the_requested_line_keeping_its_newline() {
        assert_eq!(
            keep_lines("a\nb\nc\n".into(), Some(2)),
            ("a\nb\n".into(), 2, true)
        );
    }

    #[test]
    fn keep_lines_does_not_claim_a_cut_when_the_text_fits() {
        assert_eq!(
            keep_lines("a\nb\n".into(), Some(2)),
            ("a\nb\n".into(), 2, false)
        );
        assert_eq!(
            keep_lines("a\nb\n".into(), Some(9)),
            ("a\nb\n".into(), 2, false)
        );
    }
}
