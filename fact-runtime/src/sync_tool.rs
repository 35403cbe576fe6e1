//! Where a sync `#[tool]` function runs: on tokio's blocking pool (the default), or, declared
//! `#[tool(inline)]`, on the calling task, until one run takes longer than [`INLINE_BUDGET`]
//! (docs/ARCHITECTURE.md, "Sync tools").
//!
//! Handing a call to the blocking pool and back costs several microseconds (a thread wake each
//! way, BENCHMARKS.md, issue 17), more than a tool that computes for one. Running such a tool
//! where the call is, on an async worker, saves that, at the price that nothing else runs on
//! that worker meanwhile. The budget bounds that price: an inline run is timed, and the first
//! to overrun moves its tool to the blocking pool for the rest of the process.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::error::ToolError;

/// How long one run of a `#[tool(inline)]` tool may hold its async worker. A run that takes
/// longer is answered as usual (or 504 when it also ran past its deadline), and from then on
/// every call of that tool runs on tokio's blocking pool, as a sync tool without `inline` does:
/// the tool is demoted, once, for the rest of the process, with one warning and
/// `fact_inline_demotions_total` counted.
///
/// One millisecond: tokio asks for at most 10 to 100 µs between two `.await`s, and a tool worth
/// running inline takes a few microseconds; the budget is ten times the upper figure so that
/// such a tool is not demoted by a cold first call (page faults, a lazy static) or by the
/// operating system taking its thread away for a moment, while a tool that blocks (on a file,
/// a socket, a lock) overruns it at its first slow call, and stalls its worker that once.
///
/// ```
/// assert_eq!(fact_runtime::INLINE_BUDGET, std::time::Duration::from_millis(1));
/// ```
pub const INLINE_BUDGET: Duration = Duration::from_millis(1);

/// The run state of one `#[tool(inline)]` tool: a `static` the macro generates beside it.
#[doc(hidden)]
#[derive(Debug)]
pub struct InlineTool {
    name: &'static str,
    timeout_secs: u64,
    /// Set, once and for good, by the first run past [`INLINE_BUDGET`].
    demoted: AtomicBool,
}

impl InlineTool {
    /// The state of tool `name` of timeout `timeout_secs`, not demoted.
    #[must_use]
    pub const fn new(name: &'static str, timeout_secs: u64) -> Self {
        Self {
            name,
            timeout_secs,
            demoted: AtomicBool::new(false),
        }
    }

    /// Whether a run overran the budget, so that calls now go to the blocking pool.
    pub fn is_demoted(&self) -> bool {
        self.demoted.load(Ordering::Relaxed)
    }

    /// Moves the tool to the blocking pool after a run of `took`; the first caller to do so
    /// logs and counts it, so that calls overrunning at once on several workers say it once.
    fn demote(&self, took: Duration) {
        if self.demoted.swap(true, Ordering::Relaxed) {
            return;
        }
        tracing::warn!(
            tool = self.name,
            budget_us = micros(INLINE_BUDGET),
            took_us = micros(took),
            "inline tool '{}' held its async worker for {took:?}, past the inline budget of \
             {INLINE_BUDGET:?}: its calls run on the blocking pool from now on",
            self.name,
        );
        metrics::counter!(crate::metrics::INLINE_DEMOTIONS_TOTAL, "tool" => self.name)
            .increment(1);
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// Times one inline run, and demotes its tool when the run overran the budget, also when it
/// ends by a panic (the guard is dropped while unwinding).
struct Timing {
    tool: &'static InlineTool,
    started: Option<std::time::Instant>,
}

impl Timing {
    fn start(tool: &'static InlineTool) -> Self {
        Self {
            tool,
            started: Some(std::time::Instant::now()),
        }
    }

    /// Ends the run: whether it overran the budget (and so demoted its tool).
    fn finish(mut self) -> bool {
        self.check()
    }

    fn check(&mut self) -> bool {
        let Some(started) = self.started.take() else {
            return false;
        };
        let took = started.elapsed();
        let overran = took > INLINE_BUDGET;
        if overran {
            self.tool.demote(took);
        }
        overran
    }
}

impl Drop for Timing {
    fn drop(&mut self) {
        self.check();
    }
}

/// Runs a sync tool on tokio's blocking pool. A panic is resumed on the awaiting task, where the
/// executor turns it into a 500 like any other panic.
pub async fn run_blocking<F>(work: F) -> Result<Value, ToolError>
where
    F: FnOnce() -> Result<Value, ToolError> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(error) => match error.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(_) => Err(ToolError::fatal(
                "the blocking task running the tool was cancelled",
            )),
        },
    }
}

/// Runs a `#[tool(inline)]` tool: on the task polling this future, unless `tool` was demoted,
/// then on the blocking pool. A panic unwinds into the executor's guard, as an async tool's
/// does. Nothing can stop an inline run before it returns, its timeout included: a run that
/// overran the budget and ended past `deadline` (the call's) answers 504, as a tool on the
/// blocking pool would have by then.
pub async fn run_inline<F>(
    tool: &'static InlineTool,
    deadline: tokio::time::Instant,
    work: F,
) -> Result<Value, ToolError>
where
    F: FnOnce() -> Result<Value, ToolError> + Send + 'static,
{
    if tool.is_demoted() {
        return run_blocking(work).await;
    }
    let timing = Timing::start(tool);
    let result = work();
    // Only a run past the budget reads the clock again for the deadline: a timeout is a second
    // at least.
    if timing.finish() && tokio::time::Instant::now() >= deadline {
        return Err(crate::pipeline::execute::timed_out(
            tool.name,
            Duration::from_secs(tool.timeout_secs),
        ));
    }
    result
}

#[cfg(test)]
mod tests {
    use std::panic::AssertUnwindSafe;

    use futures::FutureExt as _;
    use serde_json::json;

    use super::*;

    fn far_deadline() -> tokio::time::Instant {
        tokio::time::Instant::now() + Duration::from_secs(30)
    }

    #[tokio::test]
    async fn a_run_that_panics_past_the_budget_demotes_its_tool() {
        static TOOL: InlineTool = InlineTool::new("Unit.PanicsLate", 30);
        let run = run_inline(&TOOL, far_deadline(), || {
            std::thread::sleep(INLINE_BUDGET * 2);
            panic!("late and broken");
        });
        let outcome = AssertUnwindSafe(run).catch_unwind().await;
        assert!(outcome.is_err(), "the panic reaches the caller's guard");
        assert!(TOOL.is_demoted());
    }

    #[tokio::test]
    async fn a_demoted_tool_runs_on_the_blocking_pool() {
        static TOOL: InlineTool = InlineTool::new("Unit.Demoted", 30);
        TOOL.demote(INLINE_BUDGET * 2);
        let caller = std::thread::current().id();
        let result = run_inline(&TOOL, far_deadline(), move || {
            Ok(json!(std::thread::current().id() == caller))
        })
        .await;
        assert_eq!(result.ok(), Some(json!(false)));
    }

    #[tokio::test]
    async fn an_overrun_that_ends_past_the_deadline_is_a_timeout() {
        static TOOL: InlineTool = InlineTool::new("Unit.Late", 1);
        let deadline = tokio::time::Instant::now();
        let result = run_inline(&TOOL, deadline, || {
            std::thread::sleep(INLINE_BUDGET * 2);
            Ok(json!("done"))
        })
        .await;
        let error = result.err();
        assert_eq!(
            error.as_ref().map(ToolError::kind),
            Some(crate::ErrorKind::Timeout)
        );
        assert_eq!(
            error.map(|e| e.message().to_owned()).as_deref(),
            Some("Tool 'Unit.Late' timed out after 1s")
        );
    }
}
