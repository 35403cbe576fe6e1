//! The one place where a transport's request becomes a [`ToolCall`] and a [`ToolResult`]
//! becomes what the transport answers with (docs/ARCHITECTURE.md, "Transports"). FACT's HTTP
//! API, the Engine API and MCP each parse their own wire format, then hand the parts here:
//! names and session ids that no tool or session could have are refused the same way on
//! every transport, and a result is sorted the same way into "answered by the tool" and "never
//! started".

use std::fmt;

use serde_json::Value;

use crate::call::ToolCall;
use crate::error::ErrorKind;
use crate::registry::{MAX_NAME_LEN, plausible_tool_name};
use crate::result::ToolResult;

/// The longest session id a request may carry.
pub(crate) const MAX_SESSION_ID_LENGTH: usize = 128;

/// Why a request names no call this runtime could run. Each transport words its refusal
/// with this text (HTTP 400, the Engine's `bad_request`, MCP's invalid params).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The tool name is not of the shape `Toolkit.Tool`.
    NotAToolName,
    /// The session id is empty, too long, or not visible ASCII.
    NotASessionId,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAToolName => write!(
                f,
                "'tool_name' is not a tool name: expected 'Toolkit.Tool' (letters, digits, '_' and '.', at most {MAX_NAME_LEN} characters)"
            ),
            Self::NotASessionId => write!(
                f,
                "'session_id' must be 1 to {MAX_SESSION_ID_LENGTH} visible ASCII characters"
            ),
        }
    }
}

/// A call of `tool_name` with `arguments` for `user`, the identity the transport's credential
/// carries, in `session`. The user never comes from the request body, except where a
/// transport lets a key act for others and has checked so. The arguments are the pipeline's
/// to judge (and audit), as every other part of the call's input.
pub(crate) fn tool_call(
    tool_name: String,
    arguments: Value,
    user: Option<String>,
    session: Option<String>,
) -> Result<ToolCall, Refusal> {
    if !plausible_tool_name(&tool_name) {
        return Err(Refusal::NotAToolName);
    }
    if let Some(session) = &session {
        let plausible = !session.is_empty()
            && session.len() <= MAX_SESSION_ID_LENGTH
            && session.bytes().all(|b| b.is_ascii_graphic());
        if !plausible {
            return Err(Refusal::NotASessionId);
        }
    }
    let mut call = ToolCall::new(tool_name, arguments);
    call.user_id = user;
    call.session_id = session;
    Ok(call)
}

/// How a call ended, as every transport must tell it apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The tool ran and answered: the result's data is its output.
    Succeeded,
    /// No tool has the name: nothing ran. A request-level refusal on every transport.
    NoSuchTool,
    /// The call provably did not start (over a quota, a busy shared resource) and may be sent
    /// again after `retry_after_ms`.
    NotStarted {
        /// When to try again, when the runtime knows.
        retry_after_ms: Option<u64>,
    },
    /// The tool, or the pipeline judging its input, authorization or policy, answered with a
    /// failure: the caller reads it as the tool's answer and must not simply send it again.
    Failed,
}

impl Outcome {
    /// How `result` ended.
    pub(crate) fn of(result: &ToolResult) -> Self {
        if result.success {
            return Self::Succeeded;
        }
        match result.error_kind() {
            Some(ErrorKind::ToolNotFound) => Self::NoSuchTool,
            Some(ErrorKind::RateLimit | ErrorKind::Unavailable) => Self::NotStarted {
                retry_after_ms: result.metadata.retry_after_ms,
            },
            _ => Self::Failed,
        }
    }
}

/// Where the user grants the access a failed call needed, when that is why it failed: the
/// URL to open, and the flow's id.
pub(crate) fn authorization(result: &ToolResult) -> Option<(&str, Option<&str>)> {
    let extra = &result.metadata.extra;
    let url = extra.get("authorization_url").and_then(Value::as_str)?;
    Some((url, extra.get("flow_id").and_then(Value::as_str)))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::error::ToolError;

    #[test]
    fn a_call_carries_the_transports_user_and_session() {
        let call = tool_call(
            "Math.Add".into(),
            json!({"a": 1}),
            Some("ada".into()),
            Some("s-1".into()),
        )
        .expect("a call");
        assert_eq!(call.tool_name, "Math.Add");
        assert_eq!(call.arguments, json!({"a": 1}));
        assert_eq!(call.user_id.as_deref(), Some("ada"));
        assert_eq!(call.session_id.as_deref(), Some("s-1"));
    }

    #[test]
    fn names_and_sessions_no_tool_or_session_could_have_are_refused() {
        for name in [
            String::new(),
            "../etc".into(),
            "Math.Add\n".into(),
            "a b".into(),
            "A".repeat(65),
        ] {
            assert_eq!(
                tool_call(name.clone(), json!({}), None, None),
                Err(Refusal::NotAToolName),
                "{name:?}"
            );
        }
        for session in [String::new(), "a b".into(), "x".repeat(129), "é".into()] {
            assert_eq!(
                tool_call("Math.Add".into(), json!({}), None, Some(session.clone())),
                Err(Refusal::NotASessionId),
                "{session:?}"
            );
        }
        assert!(Refusal::NotAToolName.to_string().contains("'Toolkit.Tool'"));
    }

    fn failed(error: ToolError) -> ToolResult {
        ToolResult::failure("c".into(), "T.T".into(), error, Duration::ZERO)
    }

    #[test]
    fn outcomes_tell_not_started_from_answered() {
        let ok = ToolResult::success("c".into(), "T.T".into(), json!(1), Duration::ZERO);
        assert_eq!(Outcome::of(&ok), Outcome::Succeeded);
        let missing = failed(ToolError::new(ErrorKind::ToolNotFound, "no"));
        assert_eq!(Outcome::of(&missing), Outcome::NoSuchTool);
        let busy = failed(ToolError::unavailable("busy", Duration::from_millis(250)));
        assert_eq!(
            Outcome::of(&busy),
            Outcome::NotStarted {
                retry_after_ms: Some(250)
            }
        );
        let limited = failed(
            ToolError::new(ErrorKind::RateLimit, "slow down")
                .with_retry_after(Duration::from_secs(1)),
        );
        assert_eq!(
            Outcome::of(&limited),
            Outcome::NotStarted {
                retry_after_ms: Some(1000)
            }
        );
        for error in [
            ToolError::invalid_input("bad"),
            ToolError::fatal("broke"),
            ToolError::new(ErrorKind::Timeout, "slow"),
            ToolError::new(ErrorKind::Unauthorized, "who"),
        ] {
            assert_eq!(Outcome::of(&failed(error)), Outcome::Failed);
        }
    }

    #[test]
    fn an_authorization_failure_says_where_to_grant_it() {
        let needs = failed(
            ToolError::new(ErrorKind::Unauthorized, "grant it")
                .with_metadata("authorization_url", "https://idp/authorize?x")
                .with_metadata("flow_id", "f-1"),
        );
        assert_eq!(
            authorization(&needs),
            Some(("https://idp/authorize?x", Some("f-1")))
        );
        assert_eq!(authorization(&failed(ToolError::fatal("no"))), None);
    }
}
