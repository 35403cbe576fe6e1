//! [`AuditRecord`]: what the audit log keeps about one call, and [`ArgumentsDigest`], how the
//! arguments are summarised in it.

use std::io;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// One call, accepted or refused, as the audit log keeps it.
///
/// `execution_method` is one of [`AuditRecord::LOCAL`] (`"local"`: run in this process),
/// [`AuditRecord::ARCADE`] (`"arcade"`: run remotely on Arcade) or [`AuditRecord::REFUSED`]
/// (`"refused"`: stopped before execution by lookup, validation, authorization or rate
/// limiting).
///
/// ```
/// use fact_runtime::audit::{ArgumentsDigest, AuditRecord};
/// use serde_json::json;
///
/// let arguments = json!({"operation": "add", "a": 1, "b": 2});
/// let digest = ArgumentsDigest::of(&arguments, false);
/// let record = AuditRecord {
///     call_id: "c-1".into(),
///     timestamp: 1_700_000_000.25,
///     tool_name: "MyApp.Calculator".into(),
///     user_id: Some("alice".into()),
///     session_id: None,
///     status_code: 200,
///     error_type: None,
///     duration_ms: 0.4,
///     execution_method: AuditRecord::LOCAL.into(),
///     arguments_sha256: digest.sha256,
///     arguments_size: digest.size,
///     arguments: digest.raw,
/// };
/// assert_eq!(record.arguments_size, 31);
/// assert!(record.arguments.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The call's id (`ToolCall::call_id`).
    pub call_id: String,
    /// When the call was received, in seconds since the Unix epoch (as `metadata.timestamp` of
    /// a `ToolResult`). Stores keep microseconds: finer digits do not survive a round trip.
    pub timestamp: f64,
    /// The tool asked for, as given by the caller (it may name no tool: status 404).
    pub tool_name: String,
    /// The calling user, when known.
    pub user_id: Option<String>,
    /// The caller's session, when known.
    pub session_id: Option<String>,
    /// The result's status code: 200 on success, else the code of the error kind;
    /// [`CANCELLED_STATUS`](Self::CANCELLED_STATUS) when the caller stopped waiting.
    pub status_code: u16,
    /// The result's `metadata.error_type` (`"ToolValidationError"`, ...); `None` on success.
    pub error_type: Option<String>,
    /// How long the call took, in milliseconds.
    pub duration_ms: f64,
    /// `"local"`, `"arcade"` or `"refused"`: see the type's documentation.
    pub execution_method: String,
    /// SHA-256 of the arguments' compact JSON, lowercase hex (64 characters).
    pub arguments_sha256: String,
    /// Size in bytes of the arguments' compact JSON.
    pub arguments_size: u64,
    /// The arguments' compact JSON itself, kept only when the log is configured to
    /// (`AuditConfig::include_arguments`): arguments may hold personal data.
    pub arguments: Option<String>,
}

impl AuditRecord {
    /// `execution_method` of a call run in this process.
    pub const LOCAL: &'static str = "local";
    /// `execution_method` of a call run remotely on Arcade.
    pub const ARCADE: &'static str = "arcade";
    /// `execution_method` of a call stopped before execution.
    pub const REFUSED: &'static str = "refused";
    /// `status_code` of a call whose caller stopped waiting before it was answered (its future
    /// was dropped: a client that hung up, a timeout around the call). No `ToolResult` was
    /// given; the record still says who called what, and how far the call got
    /// (`execution_method`). 499 as in common HTTP servers' "client closed request".
    pub const CANCELLED_STATUS: u16 = 499;
    /// `error_type` of a cancelled call.
    pub const CANCELLED_ERROR_TYPE: &'static str = "CancelledError";
}

/// The digest, size and (optionally) text of a call's arguments, computed from their compact
/// JSON serialization (keys in the order they arrived).
///
/// Without the raw text, the JSON is streamed straight into the hash: nothing is allocated but
/// the 64-character hex digest.
///
/// ```
/// use fact_runtime::audit::ArgumentsDigest;
/// use serde_json::json;
///
/// let digest = ArgumentsDigest::of(&json!({}), true);
/// assert_eq!(digest.size, 2);
/// assert_eq!(digest.raw.as_deref(), Some("{}"));
/// assert_eq!(
///     digest.sha256,
///     "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgumentsDigest {
    /// SHA-256 of the compact JSON, lowercase hex.
    pub sha256: String,
    /// Bytes of the compact JSON.
    pub size: u64,
    /// The compact JSON, when asked for.
    pub raw: Option<String>,
}

impl ArgumentsDigest {
    /// Serializes `arguments` once, hashing and measuring it; keeps the text when `keep_raw`.
    pub fn of(arguments: &Value, keep_raw: bool) -> Self {
        if keep_raw {
            let raw = arguments.to_string();
            Self {
                sha256: hex(&Sha256::digest(raw.as_bytes())),
                size: raw.len() as u64,
                raw: Some(raw),
            }
        } else {
            let mut sink = HashingWriter {
                hasher: Sha256::new(),
                size: 0,
            };
            // Writing a `Value` fails only when the writer does, and this one never does.
            if let Err(error) = serde_json::to_writer(&mut sink, arguments) {
                unreachable!("serializing a JSON value into a hash failed: {error}");
            }
            Self {
                sha256: hex(&sink.hasher.finalize()),
                size: sink.size,
                raw: None,
            }
        }
    }
}

/// Feeds serialized bytes into the hash and counts them, keeping none.
struct HashingWriter {
    hasher: Sha256,
    size: u64,
}

impl io::Write for HashingWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn digest_is_sha256_of_the_compact_json() {
        let arguments = json!({"operation": "add", "a": 1, "b": [2, 3]});
        let compact = r#"{"operation":"add","a":1,"b":[2,3]}"#;
        let digest = ArgumentsDigest::of(&arguments, false);
        assert_eq!(digest.sha256, hex(&Sha256::digest(compact.as_bytes())));
        assert_eq!(digest.size, compact.len() as u64);
        assert_eq!(digest.raw, None);
    }

    #[test]
    fn keeping_the_raw_text_does_not_change_digest_or_size() {
        let arguments = json!({"query": "a & b", "n": 1.5, "unicode": "é"});
        let streamed = ArgumentsDigest::of(&arguments, false);
        let kept = ArgumentsDigest::of(&arguments, true);
        assert_eq!(kept.sha256, streamed.sha256);
        assert_eq!(kept.size, streamed.size);
        assert_eq!(kept.raw.as_deref(), Some(arguments.to_string().as_str()));
    }

    #[test]
    fn digest_is_lowercase_hex_of_64_characters() {
        let digest = ArgumentsDigest::of(&json!(null), false);
        assert_eq!(digest.sha256.len(), 64);
        assert!(
            digest
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        // Known answer: SHA-256("null").
        assert_eq!(
            digest.sha256,
            "74234e98afe7498fb5daf1f36ac2d78acc339464f950703b8c019892f982b90b"
        );
    }
}
