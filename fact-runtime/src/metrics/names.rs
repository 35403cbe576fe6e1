//! The Prometheus series FACT exports, and the one function that feeds them.
//!
//! The names are a contract (docs/ARCHITECTURE.md): the seed's alert rules use them unchanged. So are the
//! label sets. `HighToolErrorRate` divides `rate(tool_execution_failures_total[5m])` by
//! `rate(tool_executions_total[5m])` with no `by` clause, which PromQL matches series by series on
//! identical labels: both counters therefore carry exactly one label, `tool`, and the rule yields
//! each tool's error ratio. The outcome of each call (`status`, the HTTP-style code,
//! `error_type`, `none` on success, and `route`: `local`, `arcade`, or `refused` before it was
//! routed) labels the duration histogram, whose `_count` series counts calls by outcome and
//! route. No series is ever labelled by user.

use std::borrow::Cow;
use std::sync::Arc;

use metrics::{Key, Label, Level, Metadata, SharedString};

use crate::audit::AuditRecord;
use crate::error::ErrorKind;
use crate::result::ToolResult;

/// Every call, accepted or refused; label `tool`.
pub const EXECUTIONS_TOTAL: &str = "tool_executions_total";
/// Every call that failed, whatever stage refused it; label `tool`.
pub const EXECUTION_FAILURES_TOTAL: &str = "tool_execution_failures_total";
/// Wall time of each call, from receipt to answer, in seconds; labels `tool`, `status`,
/// `error_type`, `route`.
pub const EXECUTION_DURATION_SECONDS: &str = "tool_execution_duration_seconds";
/// Every time the shared rate-limit store could not decide about a call; label `policy`
/// (`deny`: the call was refused with 503, `allow`: it ran unlimited).
pub const RATE_LIMIT_STORE_ERRORS_TOTAL: &str = "fact_rate_limit_store_errors_total";
/// Every `#[tool(inline)]` tool moved to the blocking pool because a run took longer than
/// [`INLINE_BUDGET`](crate::INLINE_BUDGET); label `tool`. At most once per tool per process.
pub const INLINE_DEMOTIONS_TOTAL: &str = "fact_inline_demotions_total";
/// The `tool` label (and collector key) of calls to a name no tool has: a fixed value, so that
/// made-up names cannot grow the number of series.
pub const UNREGISTERED_TOOL: &str = "unregistered";
/// The duration histogram's bucket bounds, in seconds: from a millisecond to past the default
/// 30-second tool timeout, so that `SlowToolExecution`'s p95 > 30 s is measurable.
pub const DURATION_BUCKETS_SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Where the series' registrations say they come from.
static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// The `route` label values: the audit record's `execution_method`s.
const ROUTES: [&str; 3] = [
    AuditRecord::REFUSED,
    AuditRecord::LOCAL,
    AuditRecord::ARCADE,
];

/// The Prometheus keys of one tool (a registered one, or [`UNREGISTERED_TOOL`]), built once so
/// that recording a call allocates nothing: its two counters, and its duration histogram for
/// each outcome the pipeline answers with (success, then each [`ErrorKind`]) on each route.
#[derive(Debug)]
pub(crate) struct ToolSeries {
    executions: Key,
    failures: Key,
    durations: Vec<(u16, &'static str, &'static str, Key)>,
}

impl ToolSeries {
    pub(crate) fn new(tool: &Arc<str>) -> Self {
        let label = || Label::new("tool", SharedString::from(Arc::clone(tool)));
        let outcomes = std::iter::once((200, "none")).chain(
            ErrorKind::ALL
                .into_iter()
                .map(|kind| (kind.status_code(), kind.error_type())),
        );
        Self {
            executions: Key::from_parts(EXECUTIONS_TOTAL, vec![label()]),
            failures: Key::from_parts(EXECUTION_FAILURES_TOTAL, vec![label()]),
            durations: outcomes
                .flat_map(|(status, error_type)| {
                    ROUTES.into_iter().map(move |route| {
                        let key = duration_key(label(), status, Cow::Borrowed(error_type), route);
                        (status, error_type, route, key)
                    })
                })
                .collect(),
        }
    }

    /// Records `result`, of a call that went `route` (an `execution_method`), in whatever
    /// recorder the process installed.
    pub(crate) fn emit(&self, result: &ToolResult, route: &'static str) {
        let error_type = result.metadata.error_type.as_deref().unwrap_or("none");
        let seconds = result.execution_time_ms / 1000.0;
        metrics::with_recorder(|recorder| {
            recorder
                .register_counter(&self.executions, &METADATA)
                .increment(1);
            if !result.success {
                recorder
                    .register_counter(&self.failures, &METADATA)
                    .increment(1);
            }
            let known = self.durations.iter().find(|(status, kind, on, _)| {
                *status == result.status_code && *kind == error_type && *on == route
            });
            match known {
                Some((_, _, _, key)) => recorder.register_histogram(key, &METADATA).record(seconds),
                // An outcome the pipeline does not produce today: keyed on the spot.
                None => {
                    let tool = self.executions.labels().next().cloned();
                    let key = duration_key(
                        tool.unwrap_or_else(|| Label::new("tool", UNREGISTERED_TOOL)),
                        result.status_code,
                        Cow::Owned(error_type.to_owned()),
                        route,
                    );
                    recorder.register_histogram(&key, &METADATA).record(seconds);
                }
            }
        });
    }
}

fn duration_key(
    tool: Label,
    status: u16,
    error_type: Cow<'static, str>,
    route: &'static str,
) -> Key {
    let labels = vec![
        tool,
        Label::new("status", Cow::<'static, str>::Owned(status.to_string())),
        Label::new("error_type", error_type),
        Label::new("route", route),
    ];
    Key::from_parts(EXECUTION_DURATION_SECONDS, labels)
}
