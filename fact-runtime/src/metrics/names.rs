//! The Prometheus series FACT exports, and the one function that feeds them.
//!
//! The names are a contract (DESIGN.md): the seed's alert rules use them unchanged. So are the
//! label sets. `HighToolErrorRate` divides `rate(tool_execution_failures_total[5m])` by
//! `rate(tool_executions_total[5m])` with no `by` clause, which PromQL matches series by series on
//! identical labels: both counters therefore carry exactly one label, `tool`, and the rule yields
//! each tool's error ratio. The outcome of each call (`status`, the HTTP-style code, and
//! `error_type`, `none` on success) labels the duration histogram, whose `_count` series counts
//! calls by outcome. No series is ever labelled by user.

use std::borrow::Cow;
use std::sync::Arc;

use metrics::{Label, SharedString, counter, histogram};

use crate::result::ToolResult;

/// Every call, accepted or refused; label `tool`.
pub const EXECUTIONS_TOTAL: &str = "tool_executions_total";
/// Every call that failed, whatever stage refused it; label `tool`.
pub const EXECUTION_FAILURES_TOTAL: &str = "tool_execution_failures_total";
/// Wall time of each call, from receipt to answer, in seconds; labels `tool`, `status`,
/// `error_type`.
pub const EXECUTION_DURATION_SECONDS: &str = "tool_execution_duration_seconds";
/// The `tool` label (and collector key) of calls to a name no tool has: a fixed value, so that
/// made-up names cannot grow the number of series.
pub const UNREGISTERED_TOOL: &str = "unregistered";
/// The duration histogram's bucket bounds, in seconds: from a millisecond to past the default
/// 30-second tool timeout, so that `SlowToolExecution`'s p95 > 30 s is measurable.
pub const DURATION_BUCKETS_SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Records `result` (answered for `tool`, already bounded to a registered name or
/// [`UNREGISTERED_TOOL`]) in whatever recorder the process installed. The tool label is shared,
/// never copied.
pub(crate) fn emit(tool: &Arc<str>, result: &ToolResult) {
    let tool = SharedString::from(Arc::clone(tool));
    counter!(EXECUTIONS_TOTAL, "tool" => tool.clone()).increment(1);
    if !result.success {
        counter!(EXECUTION_FAILURES_TOTAL, "tool" => tool.clone()).increment(1);
    }
    let error_type: Cow<'static, str> = match &result.metadata.error_type {
        Some(kind) => kind.clone(),
        None => Cow::Borrowed("none"),
    };
    let labels = [
        Label::new("tool", tool),
        Label::new("status", status_label(result.status_code)),
        Label::new("error_type", error_type),
    ];
    histogram!(EXECUTION_DURATION_SECONDS, labels.iter()).record(result.execution_time_ms / 1000.0);
}

/// The status code as a label value, without allocating for the codes the pipeline answers.
fn status_label(code: u16) -> Cow<'static, str> {
    let known = match code {
        200 => "200",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        429 => "429",
        499 => "499",
        500 => "500",
        502 => "502",
        504 => "504",
        other => return Cow::Owned(other.to_string()),
    };
    Cow::Borrowed(known)
}
