//! The record stage: account for every call, accepted or refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::audit::{AUDIT_COMMIT_TIMEOUTS_TOTAL, AuditDurability, AuditLog, AuditRecord};
use crate::call::ToolCall;
use crate::clock::SharedClock;
use crate::error::{ErrorKind, ToolError};
use crate::metrics::{
    CallOutcome, CollectorLimits, MetricsCollector, ToolSeries, UNREGISTERED_TOOL,
};
use crate::result::ToolResult;

/// Accounts for every answered call: totals for the health check, the windowed
/// [`MetricsCollector`] (with the user), and the Prometheus series (without it).
#[derive(Debug)]
pub(crate) struct Recorder {
    executions: AtomicU64,
    failures: AtomicU64,
    collector: MetricsCollector,
    /// The series of calls to names no tool has; each registered tool carries its own.
    unregistered: ToolSeries,
}

impl Recorder {
    /// A recorder for an executor of `tools` tools: each of them, and the one
    /// [`UNREGISTERED_TOOL`], gets figures of its own however many there are.
    pub(crate) fn new(clock: SharedClock, tools: usize) -> Self {
        let limits = CollectorLimits::default();
        let limits = limits.max_tools(limits.tools().max(tools + 1));
        Self {
            executions: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            collector: MetricsCollector::with_limits(clock, limits),
            unregistered: ToolSeries::new(&Arc::from(UNREGISTERED_TOOL)),
        }
    }

    /// Records `result`, the answer to a call made by `user` that went `route` (an
    /// `execution_method`), to the tool whose `series` these are, or to no tool.
    pub(crate) fn record(
        &self,
        result: &ToolResult,
        user: Option<&str>,
        route: &'static str,
        series: Option<&ToolSeries>,
    ) {
        self.executions.fetch_add(1, Ordering::Relaxed);
        if !result.success {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        // A name no tool has is the caller's to choose: keep it out of every key. (A found
        // tool's result carries its registered name.)
        let (tool, series) = match series {
            Some(series) => (result.tool_name.as_str(), series),
            None => (UNREGISTERED_TOOL, &self.unregistered),
        };
        self.collector.record(&CallOutcome {
            call_id: &result.call_id,
            tool,
            user,
            success: result.success,
            status_code: result.status_code,
            error_type: result.metadata.error_type.as_deref(),
            error: result.error.as_deref(),
            duration_ms: result.execution_time_ms,
        });
        series.emit(result, route);
    }

    /// Calls recorded so far, and how many of them failed.
    pub(crate) fn totals(&self) -> (u64, u64) {
        (
            self.executions.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
        )
    }

    /// The windowed figures of every call recorded.
    pub(crate) fn collector(&self) -> &MetricsCollector {
        &self.collector
    }
}

/// How long a caller refused because the audit log cannot commit is told to wait.
const REFUSED_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The audit record of one call, opened when the call arrives and closed when it is answered.
/// Should the caller stop waiting first (the call's future dropped: a client that hung up, a
/// timeout around the call), dropping this writes the record anyway, as a cancelled call
/// ([`AuditRecord::CANCELLED_STATUS`]) or, when the call had been answered and only waited for
/// room in the log, as answered: every call is accounted for.
///
/// With `answered` durability (docs/ARCHITECTURE.md, "Audit log"), [`admit`](Self::admit)
/// refuses calls while the log cannot commit, and [`close`](Self::close) returns the answer
/// only once the record is committed, or withholds it past the commit timeout.
#[derive(Debug)]
pub(crate) struct AuditedCall<'a> {
    /// The log and the record so far; `None` without an audit log, or once handed over.
    open: Option<(&'a AuditLog, AuditRecord)>,
    /// Whether the record holds the call's answer.
    answered: bool,
    /// Whether the answer waits for the record's commit: `answered` durability, and the call
    /// was not refused for the log's own failure (whose record cannot be committed now).
    awaits_commit: bool,
    started: Instant,
    /// How far the call got: set by the pipeline as it goes.
    pub(crate) method: &'static str,
}

impl<'a> AuditedCall<'a> {
    /// Opens the record of `call`, received now, when there is a log. The arguments are digested
    /// here, before the tool takes them.
    pub(crate) fn open(log: Option<&'a AuditLog>, call: &ToolCall, started: Instant) -> Self {
        let open = log.map(|log| {
            let digest = log.digest(&call.arguments);
            let timestamp = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            let record = AuditRecord {
                call_id: call.call_id.clone(),
                timestamp,
                tool_name: call.tool_name.clone(),
                user_id: call.user_id.clone(),
                session_id: call.session_id.clone(),
                // Until the call is answered.
                status_code: AuditRecord::CANCELLED_STATUS,
                error_type: None,
                duration_ms: 0.0,
                execution_method: String::new(),
                arguments_sha256: digest.sha256,
                arguments_size: digest.size,
                arguments: digest.raw,
            };
            (log, record)
        });
        let awaits_commit = log.is_some_and(|log| log.durability() == AuditDurability::Answered);
        Self {
            open,
            answered: false,
            awaits_commit,
            started,
            method: AuditRecord::REFUSED,
        }
    }

    /// The first stage with `answered` durability: a call is refused up front, before any
    /// other stage, while the log cannot commit (its writer failing or stalled, or the log shut
    /// down), since its answer could not wait for a committed record. The tool never runs; the
    /// refusal's own record is queued and written when the writer recovers.
    pub(crate) fn admit(&mut self) -> Result<(), ToolError> {
        let Some((log, _)) = &self.open else {
            return Ok(());
        };
        if !self.awaits_commit || log.is_writing() {
            return Ok(());
        }
        self.awaits_commit = false;
        Err(ToolError::unavailable(
            "the audit log cannot commit records now (its database is failing), and every \
             answer waits for its record: the call did not start; try again later",
            REFUSED_RETRY_AFTER,
        ))
    }

    /// Whether there is a record to close (an audit log, and the record not yet handed over).
    pub(crate) fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Writes the record of the call answered with `result`, waiting while the log's queue is
    /// full, and returns the answer to give: `result`, or, with `answered` durability, once
    /// the record is committed; past the commit timeout (or should the log refuse the record)
    /// a 503 `AuditUnavailableError` instead, the record still written when the log can.
    pub(crate) async fn close(mut self, result: ToolResult) -> ToolResult {
        let Some((log, record)) = &mut self.open else {
            return result;
        };
        let log = *log;
        if record.tool_name != result.tool_name {
            // Called by its exported name: record the real one, as the result does.
            record.tool_name.clone_from(&result.tool_name);
        }
        record.status_code = result.status_code;
        record.error_type = result.metadata.error_type.as_deref().map(str::to_owned);
        record.duration_ms = result.execution_time_ms;
        record.execution_method = self.method.to_owned();
        self.answered = true;
        // Cancelled while waiting here, the record is still ours, and `drop` hands it over.
        let permit = log.reserve().await;
        let Some((_, record)) = self.open.take() else {
            return result;
        };
        let ticket = match permit {
            Ok(permit) if self.awaits_commit => permit.record_awaited(record),
            Ok(permit) => {
                permit.record(record);
                return result;
            }
            // Only after `shutdown`: the log refuses rather than silently losing it.
            Err(error) => {
                tracing::error!(call_id = %record.call_id, %error, "audit record refused");
                if !self.awaits_commit {
                    return result;
                }
                return self.withheld(result, "the audit log is shut down and cannot record it");
            }
        };
        match tokio::time::timeout(log.commit_timeout(), log.committed(ticket)).await {
            Ok(Ok(())) => result,
            Ok(Err(error)) => {
                tracing::error!(call_id = %result.call_id, %error, "audit record not committed");
                self.withheld(
                    result,
                    "the audit writer stopped before committing its record",
                )
            }
            Err(_) => {
                metrics::counter!(AUDIT_COMMIT_TIMEOUTS_TOTAL).increment(1);
                tracing::warn!(
                    call_id = %result.call_id,
                    timeout_ms = u64::try_from(log.commit_timeout().as_millis()).unwrap_or(u64::MAX),
                    "answer withheld: the call's audit record was not committed in time; it is \
                     written when the audit database takes it"
                );
                self.withheld(
                    result,
                    "its audit record was not committed in time (the audit database is failing \
                     or slow; the record is written when it takes it)",
                )
            }
        }
    }

    /// The answer given instead of `result` when its record is not committed.
    fn withheld(&self, result: ToolResult, why: &str) -> ToolResult {
        let error = ToolError::new(
            ErrorKind::AuditUnavailable,
            format!(
                "the call ran, but {why}, so its answer is withheld; the tool may have acted: \
                 check before calling again"
            ),
        );
        ToolResult::failure(
            result.call_id,
            result.tool_name,
            error,
            self.started.elapsed(),
        )
    }
}

impl Drop for AuditedCall<'_> {
    fn drop(&mut self) {
        let Some((log, mut record)) = self.open.take() else {
            return;
        };
        if !self.answered {
            record.status_code = AuditRecord::CANCELLED_STATUS;
            record.error_type = Some(AuditRecord::CANCELLED_ERROR_TYPE.to_owned());
            record.duration_ms = self.started.elapsed().as_secs_f64() * 1000.0;
            record.execution_method = self.method.to_owned();
            tracing::warn!(call_id = %record.call_id, tool = %record.tool_name, "call cancelled by its caller before it was answered");
        }
        log.record_detached(record);
    }
}
