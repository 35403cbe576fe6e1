//! The record stage: account for every call, accepted or refused.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::result::ToolResult;

/// Counts calls and failures and emits one `tracing` event per call (call id, tool, status,
/// duration; never arguments). Prometheus metrics and the audit log attach here.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    executions: AtomicU64,
    failures: AtomicU64,
}

impl Recorder {
    pub(crate) fn record(&self, result: &ToolResult) {
        self.executions.fetch_add(1, Ordering::Relaxed);
        if !result.success {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        tracing::debug!(
            call_id = %result.call_id,
            tool = %result.tool_name,
            status = result.status_code,
            duration_ms = result.execution_time_ms,
            "tool call finished"
        );
    }

    /// Calls recorded so far, and how many of them failed.
    pub(crate) fn totals(&self) -> (u64, u64) {
        (
            self.executions.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
        )
    }
}
