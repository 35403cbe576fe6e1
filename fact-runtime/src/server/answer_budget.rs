//! The byte budgets of answers, measured on the JSON actually sent.
//!
//! A result is serialized once, as its call completes, into a buffer that refuses to grow
//! past the budget: whatever a tool returns (a large file whose NUL bytes each become six bytes
//! of JSON, say), the server holds at most the budget of its JSON. A result past the budget is
//! replaced by a refusal that names the limit, as the security policy's refusals do:
//! a 403 `SecurityError` with `metadata.limit` and `metadata.max`. A batch adds its results in
//! input order to one body with a budget of its own.

use std::io;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ToolError;
use crate::result::ToolResult;

/// `metadata.limit` of a result refused for passing the budget of one answer.
pub(crate) const RESPONSE_LIMIT: &str = "max_response_bytes";
/// `metadata.limit` of a result refused for passing what was left of a batch's budget.
pub(crate) const BATCH_LIMIT: &str = "max_batch_response_bytes";

const BATCH_OPEN: &[u8] = br#"{"results":["#;
const BATCH_CLOSE: &[u8] = b"]}";

/// One result as it will be sent: its JSON (or its refusal's, when it passed the budget of
/// one answer), and what a refusal for the batch's budget needs to know about it.
#[derive(Debug)]
pub(crate) struct EncodedResult {
    json: Vec<u8>,
    status_code: u16,
    retry_after_ms: Option<u64>,
    call_id: String,
    tool_name: String,
    execution_time_ms: f64,
}

impl EncodedResult {
    /// `result` as JSON of at most `budget` bytes, or its refusal when it is larger.
    pub(crate) fn new(result: ToolResult, budget: usize) -> Self {
        match encode_within(&result, budget) {
            Ok(json) => Self::of(&result, json),
            Err(problem) => {
                let refusal = withheld(&result, budget, problem);
                Self::of(&refusal, encode_small(&refusal))
            }
        }
    }

    fn of(result: &ToolResult, json: Vec<u8>) -> Self {
        Self {
            json,
            status_code: result.status_code,
            retry_after_ms: result.metadata.retry_after_ms,
            call_id: result.call_id.clone(),
            tool_name: result.tool_name.clone(),
            execution_time_ms: result.execution_time_ms,
        }
    }

    /// The answer to a single call: the HTTP status is the result's `status_code`.
    pub(crate) fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status_code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after_ms.map(|ms| ms.div_ceil(1000).max(1));
        let mut response = (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.json,
        )
            .into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }

    /// A refusal of this result for the batch's budget: same call, a few hundred bytes.
    fn refused_by_batch(&self, budget: usize) -> Vec<u8> {
        let refused = refusal(
            &self.call_id,
            &self.tool_name,
            self.execution_time_ms,
            BATCH_LIMIT,
            budget,
            format!(
                "the result of '{}' does not fit in what is left of the {budget} bytes of JSON this server sends for one batch ({BATCH_LIMIT}): call it alone or in a smaller batch",
                self.tool_name
            ),
        );
        encode_small(&refused)
    }
}

/// The body of a batch answer, `{"results":[...]}`, filled in input order within its budget.
#[derive(Debug)]
pub(crate) struct BatchBody {
    json: Vec<u8>,
    budget: usize,
    results: usize,
}

impl BatchBody {
    pub(crate) fn new(budget: usize) -> Self {
        Self {
            json: BATCH_OPEN.to_vec(),
            budget,
            results: 0,
        }
    }

    /// Adds the next result, or its refusal when it no longer fits. The result's JSON is
    /// dropped either way, so the body is all that grows.
    pub(crate) fn push(&mut self, result: EncodedResult) {
        let separator = usize::from(self.results > 0);
        let after = self.json.len() + separator + result.json.len() + BATCH_CLOSE.len();
        let json = if after <= self.budget {
            result.json
        } else {
            result.refused_by_batch(self.budget)
        };
        let needed = self.json.len() + separator + json.len() + BATCH_CLOSE.len();
        grow_within(&mut self.json, needed, self.budget);
        if self.results > 0 {
            self.json.push(b',');
        }
        self.json.extend_from_slice(&json);
        self.results += 1;
    }

    /// The answer: 200, whatever each result says.
    pub(crate) fn into_response(mut self) -> Response {
        self.json.extend_from_slice(BATCH_CLOSE);
        (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.json,
        )
            .into_response()
    }
}

/// Why an answer could not be written within its budget.
#[derive(Debug)]
pub(crate) enum EncodeProblem {
    /// Its JSON passes the budget.
    OverBudget,
    /// It cannot be written as JSON at all.
    Unserializable(serde_json::Error),
}

/// The failure sent in place of `result` when its answer could not be written for `problem`:
/// a 403 naming [`RESPONSE_LIMIT`], or a 500 for a value JSON cannot hold. Same call, a few
/// hundred bytes.
pub(crate) fn withheld(result: &ToolResult, budget: usize, problem: EncodeProblem) -> ToolResult {
    match problem {
        EncodeProblem::OverBudget => refusal(
            &result.call_id,
            &result.tool_name,
            result.execution_time_ms,
            RESPONSE_LIMIT,
            budget,
            format!(
                "the result of '{}' is more than the {budget} bytes of JSON this server sends for one call ({RESPONSE_LIMIT}): ask for a smaller result",
                result.tool_name
            ),
        ),
        EncodeProblem::Unserializable(error) => failure(
            &result.call_id,
            &result.tool_name,
            result.execution_time_ms,
            ToolError::fatal(format!(
                "the result of '{}' could not be written as JSON: {error}",
                result.tool_name
            )),
        ),
    }
}

/// What an answer's buffer starts with: most results fit, so that serializing one does not
/// grow the buffer byte by byte from nothing (1, 2, 4, ... 512: nine copies of the JSON so far).
const FIRST_CAPACITY: usize = 512;

/// `value` as JSON, written into a buffer that is never allowed past `budget` bytes (its
/// capacity included): the serializer stops at the first write that would pass it.
pub(crate) fn encode_within<T: serde::Serialize + ?Sized>(
    value: &T,
    budget: usize,
) -> Result<Vec<u8>, EncodeProblem> {
    let mut buffer = CappedBuffer {
        bytes: Vec::with_capacity(FIRST_CAPACITY.min(budget)),
        budget,
    };
    match serde_json::to_writer(&mut buffer, value) {
        Ok(()) => Ok(buffer.bytes),
        Err(error) if error.is_io() => Err(EncodeProblem::OverBudget),
        Err(error) => Err(EncodeProblem::Unserializable(error)),
    }
}

/// The JSON of a result the server made itself (a refusal): small, and serializable by
/// construction, since every field is a string, a number or a map of those.
fn encode_small(result: &ToolResult) -> Vec<u8> {
    serde_json::to_vec(result).unwrap_or_else(|_| {
        br#"{"success":false,"error":"the result could not be written as JSON","status_code":500,"metadata":{"error_type":"ToolExecutionError"}}"#.to_vec()
    })
}

/// A 403 `SecurityError` in place of a call's result, naming the limit it passed. The call
/// itself ran and was audited as it ended; the log line tells which answer was withheld.
fn refusal(
    call_id: &str,
    tool_name: &str,
    execution_time_ms: f64,
    limit: &'static str,
    max: usize,
    message: String,
) -> ToolResult {
    tracing::warn!(
        call_id,
        tool = tool_name,
        limit,
        max,
        "a result was not sent: it passed an answer's byte budget"
    );
    failure(
        call_id,
        tool_name,
        execution_time_ms,
        ToolError::security(message)
            .with_metadata("limit", limit)
            .with_metadata("max", max),
    )
}

/// A failure with `error` in place of a call's result, keeping its call id, tool and time.
fn failure(call_id: &str, tool_name: &str, execution_time_ms: f64, error: ToolError) -> ToolResult {
    let mut failure = ToolResult::failure(
        call_id.to_owned(),
        tool_name.to_owned(),
        error,
        std::time::Duration::ZERO,
    );
    failure.execution_time_ms = execution_time_ms;
    failure
}

/// Makes room in `bytes` for `needed` bytes, doubling as a `Vec` does but never reserving
/// past `budget` for a need within it: a buffer kept within a budget holds no more than it.
fn grow_within(bytes: &mut Vec<u8>, needed: usize, budget: usize) {
    if needed > bytes.capacity() {
        let doubled = bytes.capacity().saturating_mul(2);
        let target = needed.max(doubled.min(budget));
        bytes.reserve_exact(target - bytes.len());
    }
}

/// A `Vec` that refuses a write which would take it past `budget` bytes, and grows its
/// capacity no further than the budget.
struct CappedBuffer {
    bytes: Vec<u8>,
    budget: usize,
}

impl io::Write for CappedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf).map(|()| buf.len())
    }

    // Called for every token serde_json writes.
    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let needed = self.bytes.len().saturating_add(buf.len());
        if needed > self.budget {
            return Err(io::Error::other("the answer's byte budget is spent"));
        }
        grow_within(&mut self.bytes, needed, self.budget);
        self.bytes.extend_from_slice(buf);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn success(data: Value) -> ToolResult {
        ToolResult::success(
            "call-1".to_owned(),
            "Test.Big".to_owned(),
            data,
            std::time::Duration::from_millis(3),
        )
    }

    fn decoded(json: &[u8]) -> Value {
        serde_json::from_slice(json).expect("valid JSON")
    }

    #[test]
    fn a_result_within_the_budget_is_sent_as_it_is() {
        let result = success(json!("small"));
        let encoded = EncodedResult::new(result.clone(), 1024);
        assert_eq!(
            encoded.json,
            serde_json::to_vec(&result).expect("serializes")
        );
    }

    #[test]
    fn the_budget_is_measured_on_json_not_on_the_raw_value() {
        // 1,000 NUL characters are 1,000 bytes of text and 6,000 bytes of JSON.
        let result = success(json!("\u{0}".repeat(1000)));
        let encoded = EncodedResult::new(result, 4096);
        let body = decoded(&encoded.json);
        assert_eq!(encoded.status_code, 403, "{body}");
        assert_eq!(body["metadata"]["error_type"], "SecurityError");
        assert_eq!(body["metadata"]["limit"], RESPONSE_LIMIT);
        assert_eq!(body["metadata"]["max"], 4096);
        assert_eq!(body["call_id"], "call-1");
        assert_eq!(body["tool_name"], "Test.Big");
        assert!(body.get("data").is_none(), "{body}");
    }

    #[test]
    fn a_result_exactly_at_the_budget_fits_and_one_byte_more_does_not() {
        let result = success(json!("x".repeat(100)));
        let exact = serde_json::to_vec(&result).expect("serializes").len();
        assert_eq!(EncodedResult::new(result.clone(), exact).status_code, 200);
        assert_eq!(EncodedResult::new(result, exact - 1).status_code, 403);
    }

    #[test]
    fn the_buffer_never_grows_past_its_budget() {
        let mut buffer = CappedBuffer {
            bytes: Vec::new(),
            budget: 1000,
        };
        let written = serde_json::to_writer(&mut buffer, &json!("y".repeat(5000)));
        assert!(written.is_err());
        assert!(
            buffer.bytes.capacity() <= 1000,
            "{}",
            buffer.bytes.capacity()
        );
    }

    #[test]
    fn a_batch_keeps_input_order_and_refuses_what_no_longer_fits() {
        let big = || EncodedResult::new(success(json!("z".repeat(300))), 10_000);
        let one = big().json.len();
        // Room for the envelope and two results, not three (with slack for timestamps that
        // print a digit longer).
        let budget = BATCH_OPEN.len() + 2 * one + 1 + BATCH_CLOSE.len() + 8;
        let mut body = BatchBody::new(budget);
        for _ in 0..3 {
            body.push(big());
        }
        body.push(EncodedResult::new(success(json!(1)), 10_000));
        body.json.extend_from_slice(BATCH_CLOSE);
        let answer = decoded(&body.json);
        let statuses: Vec<_> = answer["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| r["status_code"].as_u64())
            .collect();
        assert_eq!(statuses, [Some(200), Some(200), Some(403), Some(403)]);
        assert_eq!(answer["results"][2]["metadata"]["limit"], BATCH_LIMIT);
        assert_eq!(answer["results"][2]["metadata"]["max"], budget);
    }
}
