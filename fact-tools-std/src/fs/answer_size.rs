//! How large a file tool's answer is as JSON: what [`FileRoots::max_answer_bytes`] bounds.
//!
//! The bound is measured on the JSON the answer is sent as (compact, as serde_json writes it),
//! not on the bytes of the file: a NUL byte is one byte on disk and six in JSON (`\u0000`), so
//! a cap on raw bytes would let an answer grow six times past it.
//!
//! [`FileRoots::max_answer_bytes`]: super::FileRoots::max_answer_bytes

use std::io;

use fact_runtime::ToolError;
use serde::Serialize;

/// The bytes `c` takes inside a JSON string as serde_json writes it: two for `"`, `\` and the
/// control characters with a short escape (`\b \t \n \f \r`), six for the other control
/// characters (`\u001f`), and its UTF-8 length for every other character (serde_json escapes
/// nothing else, not even U+2028).
pub(crate) fn json_char_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\u{8}' | '\t' | '\n' | '\u{c}' | '\r' => 2,
        '\0'..='\u{1f}' => 6,
        _ => c.len_utf8(),
    }
}

/// The size of `value` as compact JSON, counted without building the text.
pub(crate) fn json_len(value: &impl Serialize) -> usize {
    let mut counter = Counter(0);
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        // The answer types always serialize; one that did not would have no size worth
        // sending, and is treated as too large.
        Err(_) => usize::MAX,
    }
}

/// How many bytes of JSON an answer whose fixed part is `frame` has left for the part that
/// grows (a file's characters, a directory's entries), under a limit of `limit` bytes.
///
/// `frame` is the answer with that part empty and every other field at its widest, so that
/// what is added within the budget never takes the answer past `limit`. A frame that alone is
/// over the limit (a path longer than the limit allows) is a 400 naming `what`.
pub(crate) fn budget(limit: u64, frame: &impl Serialize, what: &str) -> Result<usize, ToolError> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let fixed = json_len(frame);
    limit.checked_sub(fixed).ok_or_else(|| {
        ToolError::invalid_input(format!(
            "the answer for {what} would take {fixed} bytes before any content, over the \
             limit of {limit} bytes per answer: use a shorter path"
        ))
    })
}

/// An `io::Write` that only counts.
struct Counter(usize);

impl io::Write for Counter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0 = self.0.saturating_add(bytes.len());
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The length serde_json gives `c` inside a string.
    fn serde_len(c: char) -> usize {
        serde_json::to_string(&c.to_string()).map_or(0, |text| text.len() - 2)
    }

    #[test]
    fn the_json_length_of_a_character_is_the_one_serde_json_writes() {
        let samples = (0..=0x2FF)
            .chain([
                0x7FF, 0x800, 0x2028, 0x2029, 0xFEFF, 0xFFFD, 0xFFFF, 0x1_0000, 0x1_D11E, 0x10_FFFF,
            ])
            .filter_map(char::from_u32);
        for c in samples {
            assert_eq!(json_char_len(c), serde_len(c), "{c:?}");
        }
    }

    #[test]
    fn the_json_length_of_a_value_is_its_compact_text() {
        let value = serde_json::json!({"a": ["\u{0}", "é", 1.5, null], "b\"": true});
        let text = serde_json::to_string(&value).unwrap_or_default();
        assert_eq!(json_len(&value), text.len());
    }

    #[test]
    fn the_budget_is_what_the_frame_leaves_of_the_limit() {
        let frame = serde_json::json!({"content": ""});
        assert_eq!(budget(100, &frame, "'x'").ok(), Some(100 - 14));
        assert_eq!(budget(14, &frame, "'x'").ok(), Some(0));
    }

    #[test]
    fn a_frame_over_the_limit_is_a_validation_error_naming_what() {
        let frame = serde_json::json!({"path": "x".repeat(200)});
        let error = budget(100, &frame, "'xxx'").expect_err("over the limit");
        assert_eq!(error.kind().status_code(), 400);
        assert!(error.message().contains("'xxx'"), "{error}");
        assert!(error.message().contains("100 bytes"), "{error}");
    }
}
