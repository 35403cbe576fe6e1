//! `FileSystem.ReadFile`: the text of a regular file inside the roots, as much of it as one
//! answer has room for.

use fact_runtime::{ToolContext, ToolError, tool};
use schemars::JsonSchema;
use serde::Serialize;

use super::FileRoots;
use super::access::{io_error, open_regular_file};
use super::answer_size;
use super::bounded_text::{ReadTextError, TextLimits, read_text};
use super::encoding::{Encoding, EncodingLabel};

/// Why the content of a [`FileContent`] stops before the end of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TruncatedBy {
    /// The answer, as JSON, would have grown past the configured limit
    /// ([`FileRoots::max_answer_bytes`]) with the next character.
    MaxAnswerBytes,
    /// The content stops after `max_lines` lines.
    MaxLines,
}

/// The text of a file, and how much of the file it covers.
///
/// As compact JSON the whole answer takes at most [`FileRoots::max_answer_bytes`] bytes,
/// escapes included: a file of NUL bytes (six bytes of JSON each) is cut six times sooner than
/// a file of letters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FileContent {
    /// The path, as requested.
    pub path: String,
    /// The decoded text, from the start of the file: at most `max_lines` lines, and no more
    /// than the answer has room for. It never ends inside a character.
    pub content: String,
    /// The encoding the bytes were decoded with.
    pub encoding: Encoding,
    /// The size of the whole file in bytes, when it was opened.
    pub size_bytes: u64,
    /// How many bytes from the start of the file `content` covers (a UTF-16 byte-order mark
    /// included).
    pub bytes_read: u64,
    /// How many lines `content` holds (a last line without a newline counts).
    pub lines: usize,
    /// Whether the file has text after `content`.
    pub truncated: bool,
    /// The limit that stopped `content` before the end of the file.
    pub truncated_by: Option<TruncatedBy>,
}

impl FileContent {
    /// The answer for `path` with no content and every other field at its widest: what an
    /// answer takes besides the characters of its content.
    fn frame(path: &str, encoding: Encoding) -> Self {
        Self {
            path: path.to_owned(),
            content: String::new(),
            encoding,
            size_bytes: u64::MAX,
            bytes_read: u64::MAX,
            lines: usize::MAX,
            truncated: false,
            truncated_by: Some(TruncatedBy::MaxAnswerBytes),
        }
    }
}

/// Reads a text file inside the allowed file roots. Relative paths are looked up in each root
/// in order; absolute paths must lie inside a root. Symlinks are followed only while they stay
/// inside the root; devices, FIFOs and sockets are refused. A file too large for one answer
/// (10 MiB of JSON by default) is cut between two characters, and says so.
#[tool(
    name = "FileSystem.ReadFile",
    title = "Read File",
    timeout = 30,
    read_only,
    destructive = false,
    idempotent,
    open_world = false
)]
pub fn read_file(
    /// The file to read: relative to a root, or absolute inside one
    file_path: String,
    /// The text encoding of the file: utf-8 (the default), ascii, latin-1 or utf-16, under
    /// any common label, in any case (UTF8, us-ascii, ISO-8859-1, ...)
    #[schemars(with = "Option<EncodingLabel>")]
    encoding: Option<Encoding>,
    /// Return at most this many lines from the start of the file
    #[schemars(range(min = 1))]
    max_lines: Option<u64>,
    ctx: &ToolContext,
) -> Result<FileContent, ToolError> {
    let roots = FileRoots::for_call(ctx)?;
    let resolved = roots.resolve(&file_path)?;
    let encoding = encoding.unwrap_or_default();
    let json_bytes = answer_size::budget(
        roots.max_answer_bytes_limit(),
        &FileContent::frame(&file_path, encoding),
        &format!("'{}'", resolved.path),
    )?;
    let (file, metadata) = open_regular_file(resolved.dir, &resolved.relative, resolved.path)?;
    let limits = TextLimits {
        json_bytes,
        max_lines,
    };
    let text = read_text(file, encoding, limits).map_err(|error| match error {
        ReadTextError::Io(e) => io_error(resolved.path, &e),
        ReadTextError::Decode(e) => ToolError::invalid_input(format!(
            "cannot decode '{}': {e}; try another encoding",
            resolved.path
        )),
    })?;
    Ok(FileContent {
        path: file_path.clone(),
        content: text.content,
        encoding,
        size_bytes: metadata.len(),
        bytes_read: text.bytes_read,
        lines: text.lines,
        truncated: text.stopped_by.is_some(),
        truncated_by: text.stopped_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::answer_size::{json_char_len, json_len};

    #[test]
    fn an_answer_takes_no_more_than_its_frame_and_the_json_of_its_characters() {
        let content = "a\0\"é𝄞\n\u{1f}";
        let characters: usize = content.chars().map(json_char_len).sum();
        let truncations = [
            None,
            Some(TruncatedBy::MaxLines),
            Some(TruncatedBy::MaxAnswerBytes),
        ];
        for truncated_by in truncations {
            for encoding in [Encoding::Utf8, Encoding::Latin1, Encoding::Utf16] {
                let answer = FileContent {
                    path: "dir/ü \"x\"\t.txt".to_owned(),
                    content: content.to_owned(),
                    encoding,
                    size_bytes: 123_456_789,
                    bytes_read: 17,
                    lines: 2,
                    truncated: truncated_by.is_some(),
                    truncated_by,
                };
                let frame = FileContent::frame(&answer.path, encoding);
                assert!(
                    json_len(&answer) <= json_len(&frame) + characters,
                    "{answer:?}"
                );
            }
        }
    }
}
