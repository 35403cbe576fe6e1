//! What the execute endpoints accept: one call, or a batch of calls, as JSON bodies, and the
//! words a malformed body is refused with.

use serde::Deserialize;
use serde_json::Value;

use super::error::ApiError;
use super::guards::Caller;
use crate::call::ToolCall;
use crate::transport;

/// The shape `POST /v1/tools/execute` takes, as its refusals show it.
pub(crate) const CALL_SHAPE: &str =
    r#"{"tool_name": "Toolkit.Tool", "input": {...}, "session_id": "..."?}"#;
/// The shape `POST /v1/tools/execute/batch` takes, as its refusals show it.
pub(crate) const BATCH_SHAPE: &str =
    r#"{"calls": [{"tool_name": "Toolkit.Tool", "input": {...}}, ...]}"#;

/// One call as a request names it. The user is never part of it: it is the API key's.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = r#"a call object {"tool_name": "Toolkit.Tool", "input": {...}}"#
)]
pub(crate) struct CallRequest {
    tool_name: String,
    #[serde(default = "empty_object")]
    input: Value,
    #[serde(default)]
    session_id: Option<String>,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// A batch as a request names it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = r#"a batch object {"calls": [...]}"#)]
pub(crate) struct BatchRequest {
    pub(crate) calls: Vec<CallRequest>,
}

impl CallRequest {
    /// The call this request asks for, as `caller`. Names and session ids that no tool or
    /// session could have are refused, before they reach the audit log or the logs.
    pub(crate) fn into_call(self, caller: &Caller) -> Result<ToolCall, ApiError> {
        let user = caller.user().map(str::to_owned);
        transport::tool_call(self.tool_name, self.input, user, self.session_id)
            .map_err(|refusal| ApiError::bad_request(refusal.to_string()))
    }
}

/// Reads `body` as the JSON object `T`, whose shape is `shape`. A body that is JSON but not an
/// object (a bare array of calls, a string) is told so in plain words, with the shape
/// expected; anything else wrong is serde's account of it, after the shape.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    shape: &str,
) -> Result<T, ApiError> {
    if let Some(kind) = json_kind_other_than_object(body) {
        let hint = if kind == "a JSON array" && shape == BATCH_SHAPE {
            ": put the calls in the object's \"calls\" field"
        } else {
            ""
        };
        return Err(ApiError::bad_request(format!(
            "the body is {kind}, but this endpoint takes a JSON object {shape}{hint}"
        )));
    }
    serde_json::from_slice(body)
        .map_err(|error| ApiError::bad_request(format!("the body must be {shape}: {error}")))
}

/// What kind of JSON value `body` starts with, when that is a value other than an object;
/// `None` for an object or for text that is not JSON at all (which serde then describes).
fn json_kind_other_than_object(body: &[u8]) -> Option<&'static str> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    let kind = match first {
        b'[' => "a JSON array",
        b'"' => "a JSON string",
        b'-' | b'0'..=b'9' => "a JSON number",
        b't' | b'f' => "a JSON boolean",
        b'n' => "JSON null",
        _ => return None,
    };
    // Only a body that is that value as a whole is described by it; `nonsense` is not null.
    serde_json::from_slice::<serde::de::IgnoredAny>(body)
        .ok()
        .map(|_| kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(body: &str, shape: &str) -> String {
        match parse_body::<BatchRequest>(body.as_bytes(), shape) {
            Ok(_) => panic!("{body} was accepted"),
            Err(error) => error.message().to_owned(),
        }
    }

    #[test]
    fn a_batch_that_is_a_bare_array_is_told_to_use_an_object_with_calls() {
        let said = refusal(r#"[{"tool_name": "A.B"}]"#, BATCH_SHAPE);
        assert!(said.starts_with("the body is a JSON array"), "{said}");
        assert!(said.contains(BATCH_SHAPE), "{said}");
        assert!(said.contains(r#"the object's "calls" field"#), "{said}");
        assert!(!said.contains("sequence"), "{said}");
    }

    #[test]
    fn json_values_other_than_objects_are_named() {
        for (body, kind) in [
            (r#""calls""#, "a JSON string"),
            ("42", "a JSON number"),
            ("true", "a JSON boolean"),
            ("null", "JSON null"),
        ] {
            let said = refusal(body, BATCH_SHAPE);
            assert!(said.starts_with(&format!("the body is {kind},")), "{said}");
            assert!(said.contains(BATCH_SHAPE), "{said}");
        }
    }

    #[test]
    fn a_call_of_the_wrong_type_inside_a_batch_names_the_call_shape_not_a_rust_type() {
        let said = refusal(r#"{"calls": ["A.B"]}"#, BATCH_SHAPE);
        assert!(said.contains("a call object"), "{said}");
        assert!(!said.contains("struct"), "{said}");
    }

    #[test]
    fn text_that_is_not_json_gets_the_shape_and_serdes_position() {
        for body in ["nonsense", "hello", "{\"calls\": "] {
            let said = refusal(body, BATCH_SHAPE);
            assert!(said.starts_with("the body must be {\"calls\""), "{said}");
            assert!(said.contains("at line 1 column"), "{said}");
        }
    }
}
