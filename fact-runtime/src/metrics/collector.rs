//! [`MetricsCollector`]: windowed figures of every call (system, per tool, per user) in memory
//! that stays bounded whatever the call volume.
//!
//! The seed kept a list of every call and filtered it on each query. Here each minute has one
//! bucket of running aggregates in a ring covering 24 hours; a window sums the buckets it spans,
//! and a minute's slot is reset the first time the ring comes round to it again.

mod intern;
mod report;
mod state;
#[cfg(test)]
mod tests;
mod window;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub use report::{
    ExecutionStats, RecentError, SystemMetrics, ToolMetrics, ToolSummary, UserMetrics,
};

use crate::clock::{SharedClock, SystemClock};
#[cfg(test)]
use state::Footprint;
use state::State;
use window::{Aggregate, MINUTES_KEPT, mean, percent};

/// Tools listed in [`SystemMetrics::top_tools`].
const TOP_TOOLS: usize = 10;

/// One answered call, as the executor's record stage reports it.
///
/// `tool` should come from a bounded set (registered names, or one fixed label for unknown
/// ones); `user` may be anything, the collector bounds it.
#[derive(Debug, Clone, Copy)]
pub struct CallOutcome<'a> {
    /// The call's id.
    pub call_id: &'a str,
    /// The tool called.
    pub tool: &'a str,
    /// The user who called, if known.
    pub user: Option<&'a str>,
    /// Whether the call succeeded.
    pub success: bool,
    /// The result's status code (200, 429, ...).
    pub status_code: u16,
    /// The result's `error_type`, on failure.
    pub error_type: Option<&'a str>,
    /// The result's error message, on failure.
    pub error: Option<&'a str>,
    /// Wall time of the call in milliseconds. NaN, infinite or negative values count as 0.
    pub duration_ms: f64,
}

/// How much a [`MetricsCollector`] may hold. Calls beyond a limit still count in every figure
/// the limit does not name.
///
/// ```
/// use fact_runtime::metrics::CollectorLimits;
///
/// // A server with many users and a few tools.
/// let limits = CollectorLimits::default()
///     .max_tools(32)
///     .max_user_cells(400_000)
///     .max_user_cells_per_minute(20_000);
/// assert_ne!(limits, CollectorLimits::default());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectorLimits {
    tools: usize,
    error_types: usize,
    user_cells_per_minute: usize,
    user_cells: usize,
}

impl Default for CollectorLimits {
    fn default() -> Self {
        Self {
            tools: 256,
            error_types: 64,
            user_cells_per_minute: 10_000,
            user_cells: 100_000,
        }
    }
}

impl CollectorLimits {
    /// Distinct tool names given per-tool figures.
    pub const fn tools(&self) -> usize {
        self.tools
    }

    /// Distinct tool names given per-tool figures, for the collector's lifetime (default 256).
    /// Calls of further tools count in system figures and in their user's totals only.
    #[must_use]
    pub const fn max_tools(mut self, tools: usize) -> Self {
        self.tools = tools;
        self
    }

    /// Distinct error types counted under their own name, for the collector's lifetime
    /// (default 64); further types, and types longer than 64 bytes, count as `OtherError`.
    #[must_use]
    pub const fn max_error_types(mut self, error_types: usize) -> Self {
        self.error_types = error_types;
        self
    }

    /// User cells (one user's calls of one tool within one minute) kept for any one minute
    /// (default 10 000), so that one minute's flood of users cannot evict the rest of the day.
    #[must_use]
    pub const fn max_user_cells_per_minute(mut self, cells: usize) -> Self {
        self.user_cells_per_minute = cells;
        self
    }

    /// User cells kept across the 24 hours (default 100 000). When they are all in use, the
    /// oldest minutes' user figures are dropped to make room for the current minute's. 0 keeps
    /// no user figures.
    #[must_use]
    pub const fn max_user_cells(mut self, cells: usize) -> Self {
        self.user_cells = cells;
        self
    }
}

/// Windowed figures of every call: totals, error rates and times for the whole system
/// ([`get_system_metrics`](Self::get_system_metrics)), one tool
/// ([`get_tool_metrics`](Self::get_tool_metrics)) or one user
/// ([`get_user_metrics`](Self::get_user_metrics)), over the last minutes up to 24 hours.
///
/// Calls are counted in per-minute buckets of a 24-hour ring: a window of N minutes is the
/// current minute and the N - 1 before it, so a call drops out of every window once 24 hours
/// of minutes have passed. Each tool also keeps running all-time aggregates. Time comes only
/// from the injected [`Clock`](crate::Clock), read in whole minutes since the Unix epoch; a
/// clock that steps back counts as still in the latest minute seen.
///
/// [`record`](Self::record) takes one lock, does O(1) work and allocates only for a name not
/// yet seen in the current minute (and for a failure's entry among the 20 recent errors, until
/// there are 20). Queries are O(minutes in the window × names).
///
/// # Memory
///
/// Bounded whatever the call volume, by [`CollectorLimits`]. The worst case, with 64-bit
/// pointers and every hash table at its sparsest, is about:
///
/// - 12 KiB for the ring, plus 180 bytes per minute that saw a call (260 KiB for a full day);
/// - 115 bytes per tool per minute it was called: at most `max_tools` × 165 KiB, 41 MiB with
///   the defaults, reached only if 256 tools are each called every minute of a day;
/// - 32 bytes per error type per minute it occurred: at most 3 MiB with the defaults;
/// - 300 bytes per user cell (user ids over 128 bytes are not kept): at most
///   `max_user_cells` × 300 bytes, 29 MiB with the defaults;
/// - 150 bytes plus twice the name per tool or error type ever seen, and 20 recent errors of
///   under 2.5 KiB each.
///
/// User figures are what gives under pressure: calls of a user beyond the limits count in the
/// system and tool figures but not in [`get_user_metrics`](Self::get_user_metrics).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use fact_runtime::ManualClock;
/// use fact_runtime::metrics::{CallOutcome, MetricsCollector};
///
/// let clock = ManualClock::new(Duration::from_secs(1_700_000_000));
/// let metrics = MetricsCollector::new(Arc::new(clock.clone()));
///
/// let ok = CallOutcome {
///     call_id: "c1",
///     tool: "MyApp.Calculator",
///     user: Some("alice"),
///     success: true,
///     status_code: 200,
///     error_type: None,
///     error: None,
///     duration_ms: 2.0,
/// };
/// metrics.record(&ok);
/// metrics.record(&CallOutcome {
///     call_id: "c2",
///     success: false,
///     status_code: 429,
///     error_type: Some("RateLimitError"),
///     error: Some("Rate limit exceeded"),
///     duration_ms: 0.5,
///     ..ok
/// });
/// clock.advance(Duration::from_secs(120));
///
/// let system = metrics.get_system_metrics(60);
/// assert_eq!(system.total_executions, 2);
/// assert_eq!(system.error_rate, 50.0);
/// assert_eq!(system.executions_per_minute, 1.0); // 2 calls over the 2 minutes covered
/// assert_eq!(system.errors_by_type["RateLimitError"], 1);
///
/// let tool = metrics.get_tool_metrics("MyApp.Calculator");
/// assert_eq!(tool.all_time.max_execution_time_ms, 2.0);
///
/// let alice = metrics.get_user_metrics("alice", 60);
/// assert_eq!(alice.tools_used["MyApp.Calculator"], 2);
/// ```
pub struct MetricsCollector {
    clock: SharedClock,
    limits: CollectorLimits,
    state: Mutex<State>,
}

impl fmt::Debug for MetricsCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsCollector")
            .field("clock", &self.clock)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Default for MetricsCollector {
    /// A collector on the [`SystemClock`], with the default limits.
    fn default() -> Self {
        Self::new(Arc::new(SystemClock))
    }
}

impl MetricsCollector {
    /// A collector reading `clock`, with the default [`CollectorLimits`]. Windows start now:
    /// rates are computed over the time since this call at most.
    pub fn new(clock: SharedClock) -> Self {
        Self::with_limits(clock, CollectorLimits::default())
    }

    /// A collector reading `clock` that holds at most what `limits` allows.
    pub fn with_limits(clock: SharedClock, limits: CollectorLimits) -> Self {
        let created = clock.now();
        Self {
            state: Mutex::new(State::new(created, &limits)),
            clock,
            limits,
        }
    }

    /// The limits this collector keeps to.
    pub fn limits(&self) -> CollectorLimits {
        self.limits
    }

    /// Counts one answered call, in the current minute.
    pub fn record(&self, call: &CallOutcome<'_>) {
        let now = self.clock.now();
        self.state().record(now, call, &self.limits);
    }

    /// Every call within the last `time_window_minutes` minutes (clamped to 1..=1440; the
    /// window used is in the result).
    pub fn get_system_metrics(&self, time_window_minutes: u32) -> SystemMetrics {
        let window = clamp_window(time_window_minutes);
        let now = self.clock.now();
        let state = self.state();
        let current = state.current_minute(now);

        let mut totals = Aggregate::EMPTY;
        let mut by_tool = vec![Aggregate::EMPTY; state.tools.len()];
        let mut by_error = vec![0_u64; state.error_types.len()];
        for bucket in state.ring.window(current, window) {
            totals.merge(&bucket.totals);
            for (&tool, figures) in &bucket.tools {
                if let Some(sum) = by_tool.get_mut(tool as usize) {
                    sum.merge(figures);
                }
            }
            for &(error_type, count) in &bucket.errors {
                if let Some(sum) = by_error.get_mut(error_type as usize) {
                    *sum += count;
                }
            }
        }

        let age_minutes = now.saturating_sub(state.created).as_secs_f64() / 60.0;
        let covered_minutes = age_minutes.min(f64::from(window));
        let executions_per_minute = if covered_minutes > 0.0 {
            totals.calls as f64 / covered_minutes
        } else {
            0.0
        };

        let mut top: Vec<(&str, &Aggregate)> = (0_u32..)
            .zip(&by_tool)
            .filter(|(_, figures)| figures.calls > 0)
            .map(|(tool, figures)| (state.tools.name(tool), figures))
            .collect();
        top.sort_unstable_by(|a, b| b.1.calls.cmp(&a.1.calls).then_with(|| a.0.cmp(b.0)));
        top.truncate(TOP_TOOLS);

        SystemMetrics {
            time_window_minutes: window,
            total_executions: totals.calls,
            successful_executions: totals.successes,
            failed_executions: totals.failures(),
            error_rate: percent(totals.failures(), totals.calls),
            avg_execution_time_ms: totals.avg_ms(),
            min_execution_time_ms: totals.min_ms(),
            max_execution_time_ms: totals.max_ms(),
            executions_per_minute,
            top_tools: top
                .into_iter()
                .map(|(name, figures)| ToolSummary {
                    tool_name: name.to_owned(),
                    executions: figures.calls,
                    success_rate: percent(figures.successes, figures.calls),
                    avg_execution_time_ms: figures.avg_ms(),
                })
                .collect(),
            errors_by_type: (0_u32..)
                .zip(by_error)
                .filter(|&(_, count)| count > 0)
                .map(|(error_type, count)| (state.error_types.name(error_type).to_owned(), count))
                .collect(),
            recent_errors: state.recent_errors.iter().cloned().collect(),
        }
    }

    /// `tool_name`'s calls since the collector started and over the last 24 hours; zeros for
    /// a tool never recorded (or beyond [`CollectorLimits::max_tools`]).
    pub fn get_tool_metrics(&self, tool_name: &str) -> ToolMetrics {
        let now = self.clock.now();
        let state = self.state();
        let current = state.current_minute(now);
        let (all_time, last_24_hours) = match state.tools.get(tool_name) {
            Some(tool) => {
                let mut day = Aggregate::EMPTY;
                for bucket in state.ring.window(current, MINUTES_KEPT) {
                    if let Some(figures) = bucket.tools.get(&tool) {
                        day.merge(figures);
                    }
                }
                let all_time = state
                    .all_time
                    .get(tool as usize)
                    .copied()
                    .unwrap_or(Aggregate::EMPTY);
                (all_time, day)
            }
            None => (Aggregate::EMPTY, Aggregate::EMPTY),
        };
        ToolMetrics {
            tool_name: tool_name.to_owned(),
            all_time: stats(&all_time),
            last_24_hours: stats(&last_24_hours),
        }
    }

    /// `user_id`'s calls within the last `time_window_minutes` minutes (clamped to 1..=1440);
    /// zeros for a user never recorded. Counts only what the limits let the collector keep
    /// (see [`CollectorLimits`]); `tools_used` leaves out tools beyond
    /// [`CollectorLimits::max_tools`].
    pub fn get_user_metrics(&self, user_id: &str, time_window_minutes: u32) -> UserMetrics {
        let window = clamp_window(time_window_minutes);
        let now = self.clock.now();
        let state = self.state();
        let current = state.current_minute(now);

        let (mut calls, mut successes, mut sum_ms) = (0_u64, 0_u64, 0.0_f64);
        let mut by_tool = vec![0_u64; state.tools.len()];
        for bucket in state.ring.window(current, window) {
            for cell in bucket.users.get(user_id).into_iter().flatten() {
                calls += cell.calls;
                successes += cell.successes;
                sum_ms += cell.sum_ms;
                if let Some(count) = by_tool.get_mut(cell.tool as usize) {
                    *count += cell.calls;
                }
            }
        }
        UserMetrics {
            user_id: user_id.to_owned(),
            time_window_minutes: window,
            total_executions: calls,
            successful_executions: successes,
            failed_executions: calls - successes,
            success_rate: percent(successes, calls),
            avg_execution_time_ms: mean(sum_ms, calls),
            tools_used: (0_u32..)
                .zip(by_tool)
                .filter(|&(_, count)| count > 0)
                .map(|(tool, count)| (state.tools.name(tool).to_owned(), count))
                .collect(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves counts, never broken invariants that matter
        // more than losing every figure.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
impl MetricsCollector {
    fn footprint(&self) -> Footprint {
        self.state().footprint()
    }
}

fn clamp_window(minutes: u32) -> u32 {
    minutes.clamp(1, MINUTES_KEPT)
}

fn stats(figures: &Aggregate) -> ExecutionStats {
    ExecutionStats {
        total_executions: figures.calls,
        successful_executions: figures.successes,
        failed_executions: figures.failures(),
        success_rate: percent(figures.successes, figures.calls),
        avg_execution_time_ms: figures.avg_ms(),
        min_execution_time_ms: figures.min_ms(),
        max_execution_time_ms: figures.max_ms(),
    }
}
