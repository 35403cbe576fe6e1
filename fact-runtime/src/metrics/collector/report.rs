//! The figures [`MetricsCollector`](super::MetricsCollector) reports, shaped for the metrics
//! API's JSON.
//!
//! Every number is finite: figures over no calls (an empty window, a tool or user never seen)
//! are 0, so that a report always serializes to valid JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Every call within a window: what [`get_system_metrics`](super::MetricsCollector::get_system_metrics)
/// returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemMetrics {
    /// The window these figures cover, in minutes: the one asked for, clamped to 1..=1440.
    pub time_window_minutes: u32,
    /// Calls within the window, accepted or refused.
    pub total_executions: u64,
    /// Calls that succeeded.
    pub successful_executions: u64,
    /// Calls that failed, whichever stage refused them.
    pub failed_executions: u64,
    /// `failed_executions` as a percentage of `total_executions` (0 to 100).
    pub error_rate: f64,
    /// Mean time per call, in milliseconds.
    pub avg_execution_time_ms: f64,
    /// Shortest call, in milliseconds.
    pub min_execution_time_ms: f64,
    /// Longest call, in milliseconds.
    pub max_execution_time_ms: f64,
    /// Calls per minute over the time the window actually covers: the window, or less when
    /// the collector is younger than the window. 0 when no time is covered.
    pub executions_per_minute: f64,
    /// The (at most 10) tools with the most calls in the window, most first; ties by name.
    pub top_tools: Vec<ToolSummary>,
    /// Failed calls in the window by `error_type` (`RateLimitError`, `SecurityError`, ...),
    /// refused calls included.
    pub errors_by_type: BTreeMap<String, u64>,
    /// The last (at most 20) failures the collector saw, whatever the window, oldest first.
    pub recent_errors: Vec<RecentError>,
}

/// One tool's share of a window, in [`SystemMetrics::top_tools`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSummary {
    /// The tool.
    pub tool_name: String,
    /// Its calls within the window.
    pub executions: u64,
    /// The percentage of them that succeeded.
    pub success_rate: f64,
    /// Their mean time, in milliseconds.
    pub avg_execution_time_ms: f64,
}

/// One failed call, in [`SystemMetrics::recent_errors`]. Its strings are cut short (with `…`)
/// so that the list stays small: the message at 200 characters, the others at 128.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentError {
    /// The call's id.
    pub call_id: String,
    /// The tool called.
    pub tool_name: String,
    /// The call's status code (429, 500, ...).
    pub status_code: u16,
    /// The call's `error_type`; `UnknownError` when it had none.
    pub error_type: String,
    /// The call's error message, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the call was recorded, in seconds since the Unix epoch.
    pub timestamp: f64,
}

/// One tool's calls: since the collector started and over the last 24 hours. What
/// [`get_tool_metrics`](super::MetricsCollector::get_tool_metrics) returns.
///
/// The all-time figures are flattened into the JSON object beside `tool_name`, as the seed had
/// them; the 24-hour ones sit under `last_24_hours`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolMetrics {
    /// The tool asked about.
    pub tool_name: String,
    /// Every call since the collector started.
    #[serde(flatten)]
    pub all_time: ExecutionStats,
    /// Calls within the last 24 hours (the current minute and the 1439 before it).
    pub last_24_hours: ExecutionStats,
}

/// Counts, success rate and times of a set of calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionStats {
    /// Calls, accepted or refused.
    pub total_executions: u64,
    /// Calls that succeeded.
    pub successful_executions: u64,
    /// Calls that failed.
    pub failed_executions: u64,
    /// `successful_executions` as a percentage of `total_executions` (0 to 100).
    pub success_rate: f64,
    /// Mean time per call, in milliseconds.
    pub avg_execution_time_ms: f64,
    /// Shortest call, in milliseconds.
    pub min_execution_time_ms: f64,
    /// Longest call, in milliseconds.
    pub max_execution_time_ms: f64,
}

/// One user's calls within a window: what
/// [`get_user_metrics`](super::MetricsCollector::get_user_metrics) returns.
///
/// User figures are bounded (see [`CollectorLimits`](super::CollectorLimits)): these count the
/// calls the collector kept for this user, which under a flood of distinct users may be fewer
/// than the user made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserMetrics {
    /// The user asked about.
    pub user_id: String,
    /// The window these figures cover, in minutes: the one asked for, clamped to 1..=1440.
    pub time_window_minutes: u32,
    /// The user's calls within the window.
    pub total_executions: u64,
    /// Those that succeeded.
    pub successful_executions: u64,
    /// Those that failed.
    pub failed_executions: u64,
    /// `successful_executions` as a percentage of `total_executions` (0 to 100).
    pub success_rate: f64,
    /// Mean time per call, in milliseconds.
    pub avg_execution_time_ms: f64,
    /// Calls by tool.
    pub tools_used: BTreeMap<String, u64>,
}
