//! [`Progress`]: how far a long-running call has come, reported by the tool through
//! [`ToolContext::progress`](crate::ToolContext::progress) to whoever asked to hear it (an MCP
//! client that sent a progress token). Elsewhere reporting costs nothing and goes nowhere.

use std::fmt;
use std::sync::Arc;

/// One progress report of a call: `done` units of `total` (when the tool knows the total),
/// with an optional message for the person waiting.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Work done so far, in the tool's own units (items, bytes, percent).
    pub done: f64,
    /// The work there is in all, when known.
    pub total: Option<f64>,
    /// What the tool is doing now, for a person to read.
    pub message: Option<String>,
}

type Report = dyn Fn(Progress) + Send + Sync;

/// Where a call's progress reports go: given with
/// [`CallOptions::progress`](crate::CallOptions::progress), reached by the tool through its
/// context.
///
/// The function runs on the tool's own task, so it must not block: hand the report on (a
/// channel's `try_send`) and return. Reports of a call that fell back from one side to the
/// other reach the same sink.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use fact_runtime::{Progress, ProgressSink, ToolContext};
///
/// let heard = Arc::new(Mutex::new(Vec::new()));
/// let sink = {
///     let heard = Arc::clone(&heard);
///     ProgressSink::new(move |progress: Progress| heard.lock().unwrap().push(progress.done))
/// };
/// let ctx = ToolContext::new("Demo.Copy").with_progress(sink);
/// ctx.progress(1.0, Some(2.0), "copying");
/// ctx.progress(2.0, Some(2.0), "");
/// assert_eq!(*heard.lock().unwrap(), [1.0, 2.0]);
/// ```
#[derive(Clone)]
pub struct ProgressSink(Arc<Report>);

impl ProgressSink {
    /// A sink that hands every report to `report`.
    pub fn new(report: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        Self(Arc::new(report))
    }

    pub(crate) fn report(&self, progress: Progress) {
        (self.0)(progress);
    }
}

impl fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgressSink")
    }
}
