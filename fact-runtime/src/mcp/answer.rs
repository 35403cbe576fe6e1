//! MCP's view of FACT's tools and results: a [`ToolInfo`] as an MCP `Tool` (the same JSON
//! `ToolFormat::Mcp` exports), a [`ToolResult`] as a `CallToolResult`.

use rmcp::model::{CallToolResult, ContentBlock, ErrorData, Tool};
use serde_json::{Map, Value, json};

use crate::registry::ToolInfo;
use crate::result::ToolResult;
use crate::schema::{ToolFormat, mcp_wraps_output};
use crate::transport;

/// `info` as `tools/list` shows it: name, title, description, input and output schemas,
/// annotations, exactly as [`ToolFormat::Mcp`] exports them.
pub(super) fn tool(info: &ToolInfo) -> Result<Tool, ErrorData> {
    serde_json::from_value(info.export(ToolFormat::Mcp)).map_err(|error| {
        ErrorData::internal_error(
            format!("tool '{}' cannot be described in MCP: {error}", info.name),
            None,
        )
    })
}

/// `result` as the answer to `tools/call`, for the tool `declared` (when there is one).
///
/// Success: the output as `structuredContent` (wrapped as `{"result": ...}` where the
/// declared output schema is not an object, or, with none declared, where the output is not
/// one), and a text copy of it for clients that read only text (a string output is its own
/// text). Failure: `isError: true`, the message as text (with where to authorize, when that is
/// why), and `{"error", "error_type", "status_code", ...}` as structured content.
pub(super) fn call_result(result: ToolResult, declared: Option<&ToolInfo>) -> CallToolResult {
    if result.success {
        let output = result.data.unwrap_or(Value::Null);
        let text = match &output {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let schema = declared.and_then(|info| info.output_schema.as_ref());
        let structured = if mcp_wraps_output(schema, &output) {
            json!({ "result": output })
        } else {
            output
        };
        // Built whole: `CallToolResult::structured` would write a text copy of its own.
        let mut answer = CallToolResult::success(vec![ContentBlock::text(text)]);
        answer.structured_content = Some(structured);
        return answer;
    }
    let mut message = result.error.clone().unwrap_or_default();
    let mut facts = Map::new();
    facts.insert("error".into(), Value::String(message.clone()));
    if let Some(error_type) = &result.metadata.error_type {
        facts.insert("error_type".into(), Value::String(error_type.to_string()));
    }
    facts.insert("status_code".into(), result.status_code.into());
    if let Some(retry_after_ms) = result.metadata.retry_after_ms {
        facts.insert("retry_after_ms".into(), retry_after_ms.into());
    }
    if let Some((url, flow)) = transport::authorization(&result) {
        message = format!("{message} Authorize here: {url}");
        facts.insert("authorization_url".into(), Value::String(url.to_owned()));
        if let Some(flow) = flow {
            facts.insert("flow_id".into(), Value::String(flow.to_owned()));
        }
    }
    let mut answer = CallToolResult::error(vec![ContentBlock::text(message)]);
    answer.structured_content = Some(Value::Object(facts));
    answer
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::error::{ErrorKind, ToolError};

    fn success(data: Value) -> ToolResult {
        ToolResult::success("c".into(), "T.T".into(), data, Duration::ZERO)
    }

    #[test]
    fn an_object_output_is_the_structured_content_and_its_text() {
        let answer = call_result(success(json!({"sum": 3})), None);
        assert_eq!(answer.is_error, Some(false));
        assert_eq!(answer.structured_content, Some(json!({"sum": 3})));
        assert_eq!(
            answer.content[0].as_text().map(|t| t.text.as_str()),
            Some(r#"{"sum":3}"#)
        );
    }

    #[test]
    fn other_outputs_are_wrapped_and_a_string_is_its_own_text() {
        let answer = call_result(success(json!("hello")), None);
        assert_eq!(answer.structured_content, Some(json!({"result": "hello"})));
        assert_eq!(
            answer.content[0].as_text().map(|t| t.text.as_str()),
            Some("hello")
        );
        let answer = call_result(success(json!([1, 2])), None);
        assert_eq!(answer.structured_content, Some(json!({"result": [1, 2]})));
    }

    #[test]
    fn a_failure_is_an_error_result_with_its_type_and_status() {
        let result = ToolResult::failure(
            "c".into(),
            "T.T".into(),
            ToolError::invalid_input("'a' must be a number"),
            Duration::ZERO,
        );
        let answer = call_result(result, None);
        assert_eq!(answer.is_error, Some(true));
        assert_eq!(
            answer.structured_content,
            Some(json!({
                "error": "'a' must be a number",
                "error_type": "ToolValidationError",
                "status_code": 400,
            }))
        );
        assert_eq!(
            answer.content[0].as_text().map(|t| t.text.as_str()),
            Some("'a' must be a number")
        );
    }

    #[test]
    fn a_call_needing_authorization_says_which_url_to_open() {
        let error = ToolError::new(ErrorKind::Unauthorized, "Grant access first.")
            .with_metadata("authorization_url", "https://idp.example/authorize?state=s")
            .with_metadata("flow_id", "f-1");
        let result = ToolResult::failure("c".into(), "T.T".into(), error, Duration::ZERO);
        let answer = call_result(result, None);
        let text = answer.content[0].as_text().map(|t| t.text.clone());
        assert_eq!(
            text.as_deref(),
            Some("Grant access first. Authorize here: https://idp.example/authorize?state=s")
        );
        let facts = answer.structured_content.expect("facts");
        assert_eq!(
            facts["authorization_url"],
            "https://idp.example/authorize?state=s"
        );
        assert_eq!(facts["flow_id"], "f-1");
        assert_eq!(facts["status_code"], 401);
    }
}
