//! Where a sync `#[tool]` function runs: on tokio's blocking pool (the default), or, declared
//! `#[tool(inline)]`, on the calling task, until its runs hold their worker past
//! [`INLINE_BUDGET`] (docs/ARCHITECTURE.md, "Sync tools").
//!
//! Handing a call to the blocking pool and back costs a thread wake each way (about 45 µs on the
//! project's virtual machine, BENCHMARKS.md, issue 17), far more than a tool that computes for a
//! microsecond. Running such a tool where the call is, on an async worker, saves that, at the
//! price that nothing else runs on that worker meanwhile. The budget bounds that price. A run
//! can also take long on the clock through no doing of the tool's: the operating system, or on
//! a virtual machine the host, gives the thread's CPU to something else for a few milliseconds
//! (on the project's machine under load, an addition called at full rate was timed at 4 ms, CPU
//! time included, within seconds). No task of that worker could have run meanwhile either, so
//! such a run must not demote the tool; the clock cannot tell it apart, but a thread that
//! blocked (slept, read, waited on a lock) says so to the kernel. So an inline tool moves
//! through three states, each for the rest of the process:
//!
//! - inline: each run is timed by the clock. A run past the budget puts the tool under watch.
//! - watched: each run also reads whether its thread blocked (`thread_usage.rs`, about a
//!   microsecond a run). A run past the budget that blocked demotes the tool at once;
//!   [`STRIKES`] runs in a row past the budget that did not block (the tool computing, or its
//!   thread preempted) demote it too, and a run within the budget clears them.
//! - demoted: every call runs on the blocking pool, as a sync tool without `inline` does.
//!
//! So a tool that blocks holds its worker past the budget twice, one that computes four times,
//! before it is moved; a tool that takes long only now and then, without blocking, is not
//! moved.

mod thread_usage;

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use self::thread_usage::{RunUsage, ThreadUsage};
use crate::error::ToolError;

/// How long one run of a `#[tool(inline)]` tool may hold its async worker. Runs past it move
/// the tool to tokio's blocking pool for the rest of the process, as a sync tool without
/// `inline` runs: the second such run if it blocked, else after [`STRIKES`] in a row (the first
/// could have been the machine's doing, not the tool's). Each run is answered as usual (or 504
/// when it also ran past its deadline); the move is logged once as a warning and counted in
/// `fact_inline_demotions_total` (docs/ARCHITECTURE.md, "Sync tools").
///
/// One millisecond: tokio asks for at most 10 to 100 µs between two `.await`s, and a tool worth
/// running inline takes a few microseconds; the budget is ten times the upper figure so that
/// such a tool is not held to it by a cold first call (page faults, a lazy static), while a tool
/// that blocks (on a file, a socket, a lock) overruns it at its first slow calls.
///
/// ```
/// assert_eq!(fact_runtime::INLINE_BUDGET, std::time::Duration::from_millis(1));
/// ```
pub const INLINE_BUDGET: Duration = Duration::from_millis(1);

/// Runs in a row past the budget, none of them blocking, that demote a watched tool. A thread
/// preempted at random is not preempted in three runs in a row; a tool that computes past the
/// budget overruns every time.
const STRIKES: u8 = 3;

const INLINE: u8 = 0;
const WATCHED: u8 = 1;
const DEMOTED: u8 = 2;

/// The run state of one `#[tool(inline)]` tool: a `static` the macro generates beside it.
#[doc(hidden)]
#[derive(Debug)]
pub struct InlineTool {
    name: &'static str,
    timeout_secs: u64,
    /// `INLINE`, then `WATCHED`, then `DEMOTED`; never back.
    state: AtomicU8,
    /// Watched runs in a row past the budget that did not block.
    strikes: AtomicU8,
}

impl InlineTool {
    /// The state of tool `name` of timeout `timeout_secs`: inline.
    #[must_use]
    pub const fn new(name: &'static str, timeout_secs: u64) -> Self {
        Self {
            name,
            timeout_secs,
            state: AtomicU8::new(INLINE),
            strikes: AtomicU8::new(0),
        }
    }

    /// Whether the tool's runs held their worker past the budget, so that calls now go to the
    /// blocking pool.
    pub fn is_demoted(&self) -> bool {
        self.state.load(Ordering::Relaxed) == DEMOTED
    }

    /// Whether a run overran the budget, so that each run now reads whether its thread blocked.
    fn is_watched(&self) -> bool {
        self.state.load(Ordering::Relaxed) == WATCHED
    }

    /// Judges a run the clock alone timed: past the budget, the tool is watched.
    fn after_run(&self, took: Duration) {
        if took <= INLINE_BUDGET {
            return;
        }
        let watched =
            self.state
                .compare_exchange(INLINE, WATCHED, Ordering::Relaxed, Ordering::Relaxed);
        if watched.is_ok() {
            tracing::debug!(
                tool = self.name,
                took_us = micros(took),
                "inline tool '{}' took {took:?}, past the inline budget of {INLINE_BUDGET:?}: \
                 its runs now also read whether their thread blocked",
                self.name,
            );
        }
    }

    /// Judges a watched run of `took` that did `usage` (unknown where the platform does not
    /// tell): one that blocked past the budget demotes the tool, as do [`STRIKES`] in a row past
    /// it that did not.
    fn after_watched_run(&self, took: Duration, usage: Option<RunUsage>) {
        if took <= INLINE_BUDGET {
            // Read before written: calls on several workers do not fight over the line.
            if self.strikes.load(Ordering::Relaxed) != 0 {
                self.strikes.store(0, Ordering::Relaxed);
            }
            return;
        }
        let blocked = usage.is_some_and(|run| run.blocked);
        if blocked || self.strikes.fetch_add(1, Ordering::Relaxed) + 1 >= STRIKES {
            self.demote(took, usage);
        }
    }

    /// Moves the tool to the blocking pool after a run of `took` (that did `usage`, when
    /// known); the first caller to do so logs and counts it, so that runs overrunning at once on
    /// several workers say it once.
    fn demote(&self, took: Duration, usage: Option<RunUsage>) {
        if self.state.swap(DEMOTED, Ordering::Relaxed) == DEMOTED {
            return;
        }
        tracing::warn!(
            tool = self.name,
            budget_us = micros(INLINE_BUDGET),
            took_us = micros(took),
            cpu_us = usage.map(|run| micros(run.cpu)),
            blocked = usage.map(|run| run.blocked),
            "inline tool '{}' held its async worker for {took:?}, past the inline budget of \
             {INLINE_BUDGET:?}: its calls run on the blocking pool from now on",
            self.name,
        );
        metrics::counter!(crate::metrics::INLINE_DEMOTIONS_TOTAL, "tool" => self.name).increment(1);
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// Times one inline run and judges it when it ends, also when it ends by a panic (the guard is
/// dropped while unwinding).
struct Timing {
    tool: &'static InlineTool,
    started: Option<Instant>,
    /// Whether the tool was watched as the run started, and its thread's usage then (unknown
    /// where the platform does not tell).
    watched: Option<Option<ThreadUsage>>,
}

impl Timing {
    fn start(tool: &'static InlineTool) -> Self {
        Self {
            tool,
            watched: tool.is_watched().then(ThreadUsage::now),
            // Read last, so that reading the usage is not timed.
            started: Some(Instant::now()),
        }
    }

    /// Ends the run: whether it overran the budget on the clock.
    fn finish(mut self) -> bool {
        self.judge()
    }

    fn judge(&mut self) -> bool {
        let Some(started) = self.started.take() else {
            return false;
        };
        let took = started.elapsed();
        match self.watched {
            None => self.tool.after_run(took),
            Some(before) => {
                let usage = before
                    .zip(ThreadUsage::now())
                    .map(|(before, after)| before.until(after));
                self.tool.after_watched_run(took, usage);
            }
        }
        took > INLINE_BUDGET
    }
}

impl Drop for Timing {
    fn drop(&mut self) {
        self.judge();
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
/// then on the blocking pool; the run is judged against the budget as it ends. A panic unwinds
/// into the executor's guard, as an async tool's does. Nothing can stop an inline run before it
/// returns, its timeout included: a run past the budget that ended past `deadline` (the call's)
/// answers 504, as a tool on the blocking pool would have by then.
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

    /// A run that sleeps past the budget: it blocks its thread.
    fn sleeps_past_the_budget() -> Result<Value, ToolError> {
        std::thread::sleep(INLINE_BUDGET * 2);
        Ok(json!("slept"))
    }

    /// What a watched run past the budget did: `blocked` or not.
    fn past_the_budget(blocked: bool) -> (Duration, Option<RunUsage>) {
        let usage = RunUsage {
            cpu: INLINE_BUDGET * 2,
            blocked,
        };
        (INLINE_BUDGET * 2, Some(usage))
    }

    #[tokio::test]
    async fn a_first_run_past_the_budget_only_watches_the_tool() {
        static TOOL: InlineTool = InlineTool::new("Unit.FirstOverrun", 30);
        let result = run_inline(&TOOL, far_deadline(), sleeps_past_the_budget).await;
        assert_eq!(result.ok(), Some(json!("slept")));
        assert!(TOOL.is_watched());
    }

    // Blocking is known on Linux only (`thread_usage.rs`).
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_watched_run_that_blocks_past_the_budget_demotes_the_tool() {
        static TOOL: InlineTool = InlineTool::new("Unit.Blocks", 30);
        TOOL.after_run(INLINE_BUDGET * 2);
        let result = run_inline(&TOOL, far_deadline(), sleeps_past_the_budget).await;
        assert_eq!(result.ok(), Some(json!("slept")), "its answer stands");
        assert!(TOOL.is_demoted());
    }

    // Blocking is known on Linux only (`thread_usage.rs`).
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_watched_run_that_panics_after_blocking_past_the_budget_demotes_the_tool() {
        static TOOL: InlineTool = InlineTool::new("Unit.PanicsLate", 30);
        TOOL.after_run(INLINE_BUDGET * 2);
        let run = run_inline(&TOOL, far_deadline(), || {
            std::thread::sleep(INLINE_BUDGET * 2);
            panic!("late and broken");
        });
        let outcome = AssertUnwindSafe(run).catch_unwind().await;
        assert!(outcome.is_err(), "the panic reaches the caller's guard");
        assert!(TOOL.is_demoted());
    }

    #[test]
    fn watched_runs_past_the_budget_without_blocking_demote_the_tool_at_the_third_in_a_row() {
        let tool = InlineTool::new("Unit.Computes", 30);
        tool.after_run(INLINE_BUDGET * 2);
        let (took, usage) = past_the_budget(false);
        tool.after_watched_run(took, usage);
        tool.after_watched_run(took, usage);
        assert!(!tool.is_demoted());
        tool.after_watched_run(took, usage);
        assert!(tool.is_demoted());
    }

    #[test]
    fn a_watched_run_within_the_budget_clears_the_strikes() {
        let tool = InlineTool::new("Unit.Preempted", 30);
        tool.after_run(INLINE_BUDGET * 2);
        let (took, usage) = past_the_budget(false);
        for _ in 0..10 {
            tool.after_watched_run(took, usage);
            tool.after_watched_run(took, usage);
            tool.after_watched_run(INLINE_BUDGET / 2, None);
        }
        assert!(tool.is_watched());
    }

    #[test]
    fn a_watched_run_that_blocked_past_the_budget_demotes_the_tool_at_once() {
        let tool = InlineTool::new("Unit.BlocksOnce", 30);
        tool.after_run(INLINE_BUDGET * 2);
        let (took, usage) = past_the_budget(true);
        tool.after_watched_run(took, usage);
        assert!(tool.is_demoted());
    }

    #[tokio::test]
    async fn a_demoted_tool_runs_on_the_blocking_pool() {
        static TOOL: InlineTool = InlineTool::new("Unit.Demoted", 30);
        TOOL.demote(INLINE_BUDGET * 2, None);
        let caller = std::thread::current().id();
        let result = run_inline(&TOOL, far_deadline(), move || {
            Ok(json!(std::thread::current().id() == caller))
        })
        .await;
        assert_eq!(result.ok(), Some(json!(false)));
    }

    #[tokio::test]
    async fn a_run_past_the_budget_that_ends_past_the_deadline_is_a_timeout() {
        static TOOL: InlineTool = InlineTool::new("Unit.Late", 1);
        let deadline = tokio::time::Instant::now();
        let result = run_inline(&TOOL, deadline, sleeps_past_the_budget).await;
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
