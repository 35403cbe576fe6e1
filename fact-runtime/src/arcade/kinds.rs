//! One table between FACT's [`ErrorKind`]s and the Engine's error kinds, read in both
//! directions: FACT's server writes a failed call as an [`OutputError`], and
//! [`ArcadeClient`](super::ArcadeClient) reads a remote tool's [`OutputError`] back as a
//! [`ToolError`] that keeps its meaning (docs/ARCHITECTURE.md, "Engine API").
//!
//! The Engine's kinds are coarser than FACT's, so FACT also sends its status code: a FACT
//! client reads every kind back exactly, and a real Engine's kinds map by their meaning.

use std::time::Duration;

use serde_json::Value;

use super::wire::{OutputError, kind};
use crate::error::{ErrorKind, ToolError};
use crate::result::ToolResult;

/// The Engine's kind for a failure of FACT's `kind`, and whether calling again may succeed.
pub(crate) fn engine_kind(kind: ErrorKind, retry_after: bool) -> (&'static str, bool) {
    match kind {
        ErrorKind::Validation => (kind::TOOL_RUNTIME_BAD_INPUT_VALUE, false),
        ErrorKind::Unauthorized => (kind::TOOL_REQUIREMENTS_NOT_MET, false),
        ErrorKind::Security => (kind::CONTEXT_DENIED, false),
        ErrorKind::RateLimit => (kind::TOOL_RUNTIME_RETRY, true),
        ErrorKind::Execution if retry_after => (kind::TOOL_RUNTIME_RETRY, true),
        ErrorKind::Upstream => (kind::UPSTREAM_RUNTIME_SERVER_ERROR, true),
        ErrorKind::Arcade => (kind::NETWORK_TRANSPORT_RUNTIME_UNREACHABLE, true),
        ErrorKind::Unavailable => (kind::TOOL_RUNTIME_RETRY, true),
        ErrorKind::Timeout => (kind::NETWORK_TRANSPORT_RUNTIME_TIMEOUT, false),
        // The tool may have run: not to be sent again blindly.
        ErrorKind::AuditUnavailable => (kind::TOOL_RUNTIME_FATAL, false),
        // Not found is answered as a request error (404) and never reaches here; a kind
        // added later reads as fatal until mapped.
        _ => (kind::TOOL_RUNTIME_FATAL, false),
    }
}

/// The kind an Arcade worker answers a failure of FACT's `kind` with, and whether calling
/// again may succeed: the Engine API's, within the kinds arcade-core defines
/// ([`WORKER_KINDS`]), which lack the Engine's `CONTEXT_DENIED` and
/// `TOOL_REQUIREMENTS_NOT_MET` (docs/ARCHITECTURE.md, "Arcade worker").
#[cfg(feature = "server")]
pub(crate) fn worker_kind(kind: ErrorKind, retry_after: bool) -> (&'static str, bool) {
    match kind {
        // A policy refused the input: a path outside the roots, a write in a query.
        ErrorKind::Security => (kind::TOOL_RUNTIME_BAD_INPUT_VALUE, false),
        // The Engine brought no token (or one without the scopes) for a tool that needs it.
        ErrorKind::Unauthorized => (kind::TOOL_RUNTIME_FATAL, false),
        _ => engine_kind(kind, retry_after),
    }
}

/// The error kinds arcade-core 4.23 defines (its `ErrorKind`): what a worker may answer.
#[cfg(all(test, feature = "server"))]
pub(crate) const WORKER_KINDS: [&str; 20] = [
    kind::TOOLKIT_LOAD_FAILED,
    kind::TOOL_DEFINITION_BAD_DEFINITION,
    kind::TOOL_DEFINITION_BAD_INPUT_SCHEMA,
    kind::TOOL_DEFINITION_BAD_OUTPUT_SCHEMA,
    kind::TOOL_RUNTIME_BAD_INPUT_VALUE,
    kind::TOOL_RUNTIME_BAD_OUTPUT_VALUE,
    kind::TOOL_RUNTIME_RETRY,
    kind::TOOL_RUNTIME_CONTEXT_REQUIRED,
    kind::TOOL_RUNTIME_FATAL,
    kind::UPSTREAM_RUNTIME_BAD_REQUEST,
    kind::UPSTREAM_RUNTIME_AUTH_ERROR,
    kind::UPSTREAM_RUNTIME_NOT_FOUND,
    kind::UPSTREAM_RUNTIME_VALIDATION_ERROR,
    kind::UPSTREAM_RUNTIME_RATE_LIMIT,
    kind::UPSTREAM_RUNTIME_SERVER_ERROR,
    kind::UPSTREAM_RUNTIME_UNMAPPED,
    kind::NETWORK_TRANSPORT_RUNTIME_TIMEOUT,
    kind::NETWORK_TRANSPORT_RUNTIME_UNREACHABLE,
    "NETWORK_TRANSPORT_RUNTIME_UNMAPPED",
    kind::UNKNOWN,
];

/// A failed [`ToolResult`] as an Arcade worker's `output.error`: the Engine API's error with
/// the worker's kind, and FACT's error type and status for the developer.
#[cfg(feature = "server")]
pub(crate) fn worker_output_error(result: &ToolResult) -> OutputError {
    let mut error = output_error(result);
    let kind = result.error_kind().unwrap_or(ErrorKind::Execution);
    let (worker_kind, can_retry) = worker_kind(kind, result.metadata.retry_after_ms.is_some());
    worker_kind.clone_into(&mut error.kind);
    error.can_retry = can_retry;
    error.developer_message = Some(match &result.metadata.error_type {
        Some(error_type) => format!("FACT {error_type}, status {}", result.status_code),
        None => format!("FACT status {}", result.status_code),
    });
    error
}

/// A failed [`ToolResult`] as the Engine's `output.error`: FACT's status code rides along in
/// `status_code`, its metadata (an authorization URL, the limit that was hit) in `extra`.
pub(crate) fn output_error(result: &ToolResult) -> OutputError {
    let kind = result.error_kind().unwrap_or(ErrorKind::Execution);
    let retry_after_ms = result.metadata.retry_after_ms;
    let (engine_kind, can_retry) = engine_kind(kind, retry_after_ms.is_some());
    let mut error = OutputError {
        message: result.error.clone().unwrap_or_default(),
        kind: engine_kind.to_owned(),
        can_retry,
        retry_after_ms,
        status_code: Some(result.status_code),
        ..OutputError::default()
    };
    if !result.metadata.extra.is_empty() {
        error.extra = Some(result.metadata.extra.clone());
    }
    error
}

/// A remote tool's failure as the [`ToolError`] a local one would have given: FACT's own
/// status code when the Engine is a FACT (it sends one with every kind), else the kind's
/// meaning. `authorization_url` is the URL of the authorization the remote asks for.
#[allow(
    dead_code,
    reason = "the client side: ArcadeClient (issue 13, part 1) reads it"
)]
pub(crate) fn tool_error(error: OutputError, authorization_url: Option<String>) -> ToolError {
    let fact_kind = fact_kind(&error.kind, error.status_code);
    let message = if error.message.is_empty() {
        format!("the remote tool failed ({})", error.kind)
    } else {
        error.message
    };
    let mut tool_error = ToolError::new(fact_kind, message);
    if let Some(ms) = error.retry_after_ms {
        tool_error = tool_error.with_retry_after(Duration::from_millis(ms));
    }
    for (key, value) in error.extra.unwrap_or_default() {
        tool_error = tool_error.with_metadata(key, value);
    }
    if let Some(prompt) = error.additional_prompt_content {
        tool_error = tool_error.with_metadata("additional_prompt_content", prompt);
    }
    if let Some(url) = authorization_url {
        tool_error = tool_error.with_metadata("authorization_url", Value::String(url));
    }
    tool_error
}

/// FACT's kind for the Engine's `kind` and `status_code`.
fn fact_kind(engine_kind: &str, status_code: Option<u16>) -> ErrorKind {
    // A FACT remote says exactly which kind: its code and kind agree with our table.
    if let Some(kind) = status_code.and_then(|code| {
        ErrorKind::ALL.into_iter().find(|kind| {
            kind.status_code() == code
                && [false, true]
                    .into_iter()
                    .any(|retry_after| self::engine_kind(*kind, retry_after).0 == engine_kind)
        })
    }) {
        return kind;
    }
    match engine_kind {
        kind::TOOL_RUNTIME_BAD_INPUT_VALUE
        | kind::TOOL_RUNTIME_CONTEXT_REQUIRED
        | kind::UPSTREAM_RUNTIME_VALIDATION_ERROR => ErrorKind::Validation,
        kind::TOOL_REQUIREMENTS_NOT_MET => ErrorKind::Unauthorized,
        kind::CONTEXT_DENIED => ErrorKind::Security,
        kind::UPSTREAM_RUNTIME_BAD_REQUEST
        | kind::UPSTREAM_RUNTIME_AUTH_ERROR
        | kind::UPSTREAM_RUNTIME_NOT_FOUND
        | kind::UPSTREAM_RUNTIME_RATE_LIMIT
        | kind::UPSTREAM_RUNTIME_SERVER_ERROR
        | kind::UPSTREAM_RUNTIME_UNMAPPED => ErrorKind::Upstream,
        // The remote's toolkit or its transport failed, not the tool.
        kind::TOOLKIT_LOAD_FAILED
        | kind::TOOL_DEFINITION_BAD_DEFINITION
        | kind::TOOL_DEFINITION_BAD_INPUT_SCHEMA
        | kind::TOOL_DEFINITION_BAD_OUTPUT_SCHEMA
        | kind::NETWORK_TRANSPORT_RUNTIME_UNREACHABLE => ErrorKind::Arcade,
        kind::NETWORK_TRANSPORT_RUNTIME_TIMEOUT => ErrorKind::Timeout,
        _ => ErrorKind::Execution,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(error: ToolError) -> ToolResult {
        ToolResult::failure(
            "call".to_owned(),
            "Test.Tool".to_owned(),
            error,
            Duration::from_millis(3),
        )
    }

    #[test]
    fn every_fact_kind_sent_to_a_fact_client_comes_back_the_same() {
        for kind in ErrorKind::ALL {
            if kind == ErrorKind::ToolNotFound {
                continue;
            }
            for retry_after in [None, Some(Duration::from_millis(1500))] {
                let mut sent = ToolError::new(kind, "it failed").with_metadata("limit", "x");
                if let Some(after) = retry_after {
                    sent = sent.with_retry_after(after);
                }
                let wire = output_error(&failure(sent.clone()));
                let json = serde_json::to_value(&wire).expect("serializes");
                let read: OutputError = serde_json::from_value(json).expect("reads back");
                let back = tool_error(read, None);
                assert_eq!(back.kind(), kind, "{kind:?} with {retry_after:?}");
                assert_eq!(back.message(), "it failed");
                assert_eq!(back.retry_after(), retry_after, "{kind:?}");
                assert_eq!(
                    back.metadata().and_then(|m| m.get("limit")),
                    Some(&Value::from("x"))
                );
            }
        }
    }

    #[test]
    fn an_engines_kinds_keep_their_meaning() {
        let read = |kind: &str, status: Option<u16>| {
            tool_error(
                OutputError {
                    message: "m".to_owned(),
                    kind: kind.to_owned(),
                    status_code: status,
                    ..OutputError::default()
                },
                None,
            )
            .kind()
        };
        assert_eq!(
            read(kind::TOOL_RUNTIME_BAD_INPUT_VALUE, Some(400)),
            ErrorKind::Validation
        );
        assert_eq!(read(kind::TOOL_RUNTIME_RETRY, None), ErrorKind::Execution);
        assert_eq!(
            read(kind::TOOL_RUNTIME_FATAL, Some(500)),
            ErrorKind::Execution
        );
        // An upstream's 404 is not "no such tool", nor its 429 FACT's own quota.
        assert_eq!(
            read(kind::UPSTREAM_RUNTIME_NOT_FOUND, Some(404)),
            ErrorKind::Upstream
        );
        assert_eq!(
            read(kind::UPSTREAM_RUNTIME_RATE_LIMIT, Some(429)),
            ErrorKind::Upstream
        );
        assert_eq!(
            read(kind::TOOL_REQUIREMENTS_NOT_MET, None),
            ErrorKind::Unauthorized
        );
        assert_eq!(
            read(kind::NETWORK_TRANSPORT_RUNTIME_TIMEOUT, None),
            ErrorKind::Timeout
        );
        assert_eq!(
            read("A_KIND_FROM_THE_FUTURE", Some(418)),
            ErrorKind::Execution
        );
    }

    #[cfg(feature = "server")]
    #[test]
    fn a_worker_answers_every_fact_kind_with_a_kind_arcade_core_defines() {
        for kind in ErrorKind::ALL {
            for retry_after in [false, true] {
                let (answered, _) = worker_kind(kind, retry_after);
                assert!(
                    WORKER_KINDS.contains(&answered),
                    "{kind:?} answers {answered}, which arcade-core does not define"
                );
            }
        }
        assert_eq!(
            worker_kind(ErrorKind::Validation, false),
            (kind::TOOL_RUNTIME_BAD_INPUT_VALUE, false)
        );
        assert_eq!(
            worker_kind(ErrorKind::RateLimit, true),
            (kind::TOOL_RUNTIME_RETRY, true)
        );
        assert_eq!(
            worker_kind(ErrorKind::Execution, false),
            (kind::TOOL_RUNTIME_FATAL, false)
        );
    }

    #[test]
    fn an_authorization_url_and_prompt_reach_the_metadata() {
        let error = tool_error(
            OutputError {
                message: "authorize first".to_owned(),
                kind: kind::TOOL_REQUIREMENTS_NOT_MET.to_owned(),
                additional_prompt_content: Some("ask the user".to_owned()),
                ..OutputError::default()
            },
            Some("https://provider.example/authorize?x=1".to_owned()),
        );
        let metadata = error.metadata().expect("metadata");
        assert_eq!(
            metadata["authorization_url"],
            "https://provider.example/authorize?x=1"
        );
        assert_eq!(metadata["additional_prompt_content"], "ask the user");
    }
}
