//! How large a file tool's answer is as JSON: what [`FileRoots::max_answer_bytes`] bounds.
//!
//! The bound is measured on the JSON the answer is sent as (compact, as serde_json writes it),
//! not on the bytes of the file: a NUL byte is one byte on disk and six in JSON (`\u0000`), so
//! a cap on raw bytes would let an answer grow six times past it.
//!
//! [`FileRoots::max_answer_bytes`]: super::FileRoots::max_answer_bytes

use fact_runtime::ToolError;
use serde::Serialize;

pub(crate) use crate::json_size::{char_len as json_char_len, len as json_len};

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

#[cfg(test)]
mod tests {
    use super::*;

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
