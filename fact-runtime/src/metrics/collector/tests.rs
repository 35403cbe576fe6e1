use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::clock::{Clock, ManualClock};

/// A whole minute, so that "N minutes later" lands N buckets on.
const START: Duration = Duration::from_secs(28_333_333 * 60);
const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

fn collector() -> (ManualClock, MetricsCollector) {
    collector_with(CollectorLimits::default())
}

fn collector_with(limits: CollectorLimits) -> (ManualClock, MetricsCollector) {
    let clock = ManualClock::new(START);
    let collector = MetricsCollector::with_limits(Arc::new(clock.clone()), limits);
    (clock, collector)
}

fn ok(tool: &str, duration_ms: f64) -> CallOutcome<'_> {
    CallOutcome {
        call_id: "call",
        tool,
        user: None,
        success: true,
        status_code: 200,
        error_type: None,
        error: None,
        duration_ms,
    }
}

fn failed<'a>(tool: &'a str, status_code: u16, error_type: &'a str) -> CallOutcome<'a> {
    CallOutcome {
        success: false,
        status_code,
        error_type: Some(error_type),
        error: Some("it went wrong"),
        ..ok(tool, 1.0)
    }
}

fn by<'a>(user: &'a str, call: CallOutcome<'a>) -> CallOutcome<'a> {
    CallOutcome {
        user: Some(user),
        ..call
    }
}

/// Fails unless every number in `value` is 0 and nothing is null (serde_json writes NaN and
/// infinity as null).
fn assert_zeros_only(value: &Value, path: &str) {
    match value {
        Value::Null => panic!("{path} is null"),
        Value::Number(number) => assert_eq!(number.as_f64(), Some(0.0), "{path}"),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                assert_zeros_only(item, &format!("{path}[{i}]"));
            }
        }
        Value::Object(fields) => {
            for (key, field) in fields {
                assert_zeros_only(field, &format!("{path}.{key}"));
            }
        }
        Value::Bool(_) | Value::String(_) => {}
    }
}

fn to_json<T: serde::Serialize>(report: &T) -> Value {
    match serde_json::to_value(report) {
        Ok(value) => value,
        Err(error) => panic!("report does not serialize: {error}"),
    }
}

#[test]
fn system_metrics_give_totals_error_rate_and_times_of_the_window() {
    let (_, metrics) = collector();
    for ms in [10.0, 20.0, 30.0] {
        metrics.record(&ok("A.Tool", ms));
    }
    metrics.record(&CallOutcome {
        duration_ms: 40.0,
        ..failed("A.Tool", 500, "ToolExecutionError")
    });

    let system = metrics.get_system_metrics(60);
    assert_eq!(system.time_window_minutes, 60);
    assert_eq!(system.total_executions, 4);
    assert_eq!(system.successful_executions, 3);
    assert_eq!(system.failed_executions, 1);
    assert_eq!(system.error_rate, 25.0);
    assert_eq!(system.avg_execution_time_ms, 25.0);
    assert_eq!(system.min_execution_time_ms, 10.0);
    assert_eq!(system.max_execution_time_ms, 40.0);
}

#[test]
fn a_window_of_n_minutes_is_the_current_minute_and_the_n_minus_1_before_it() {
    let (clock, metrics) = collector();
    metrics.record(&ok("A.Tool", 1.0));
    clock.advance(10 * MINUTE);
    metrics.record(&ok("A.Tool", 1.0));

    assert_eq!(metrics.get_system_metrics(10).total_executions, 1);
    assert_eq!(metrics.get_system_metrics(11).total_executions, 2);
}

#[test]
fn a_window_with_no_calls_reports_zero_times_not_infinity() {
    let (clock, metrics) = collector();
    metrics.record(&ok("A.Tool", 5.0));
    clock.advance(30 * MINUTE);

    let system = metrics.get_system_metrics(5);
    assert_eq!(system.total_executions, 0);
    assert_eq!(system.min_execution_time_ms, 0.0);
    assert_eq!(system.avg_execution_time_ms, 0.0);
    assert_eq!(system.error_rate, 0.0);
    assert!(system.top_tools.is_empty());
}

#[test]
fn the_window_asked_for_is_clamped_to_one_minute_through_one_day() {
    let (_, metrics) = collector();
    assert_eq!(metrics.get_system_metrics(0).time_window_minutes, 1);
    assert_eq!(metrics.get_system_metrics(5000).time_window_minutes, 1440);
    assert_eq!(metrics.get_user_metrics("u", 0).time_window_minutes, 1);
    assert_eq!(
        metrics.get_user_metrics("u", u32::MAX).time_window_minutes,
        1440
    );
}

#[test]
fn executions_per_minute_divide_by_the_time_covered_when_the_collector_is_younger_than_the_window()
{
    let (clock, metrics) = collector();
    for _ in 0..10 {
        metrics.record(&ok("A.Tool", 1.0));
    }
    clock.advance(2 * MINUTE);

    assert_eq!(metrics.get_system_metrics(60).executions_per_minute, 5.0);
}

#[test]
fn executions_per_minute_divide_by_the_window_once_the_collector_is_older() {
    let (clock, metrics) = collector();
    clock.advance(10 * MINUTE);
    for _ in 0..6 {
        metrics.record(&ok("A.Tool", 1.0));
    }

    assert_eq!(metrics.get_system_metrics(3).executions_per_minute, 2.0);
}

#[test]
fn executions_per_minute_are_zero_when_no_time_has_passed() {
    let (_, metrics) = collector();
    metrics.record(&ok("A.Tool", 1.0));

    let system = metrics.get_system_metrics(60);
    assert_eq!(system.total_executions, 1);
    assert_eq!(system.executions_per_minute, 0.0);
}

#[test]
fn top_tools_are_the_ten_most_called_most_first_ties_by_name() {
    let (_, metrics) = collector();
    let tools: Vec<String> = (0..12).map(|i| format!("T.Tool{i:02}")).collect();
    for (i, tool) in tools.iter().enumerate() {
        for _ in 0..(i / 2 + 1) {
            metrics.record(&ok(tool, 2.0));
        }
    }
    metrics.record(&failed("T.Tool11", 500, "ToolExecutionError"));

    let top = metrics.get_system_metrics(60).top_tools;
    let names: Vec<&str> = top.iter().map(|tool| tool.tool_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "T.Tool11", "T.Tool10", "T.Tool08", "T.Tool09", "T.Tool06", "T.Tool07", "T.Tool04",
            "T.Tool05", "T.Tool02", "T.Tool03"
        ]
    );
    assert_eq!(top[0].executions, 7);
    assert_eq!(top[0].success_rate, 600.0 / 7.0);
    assert_eq!(top[0].avg_execution_time_ms, 13.0 / 7.0);
}

#[test]
fn refused_calls_are_counted_by_error_type() {
    let (_, metrics) = collector();
    metrics.record(&failed("A.Tool", 429, "RateLimitError"));
    metrics.record(&failed("A.Tool", 429, "RateLimitError"));
    metrics.record(&failed("A.Tool", 403, "SecurityError"));
    metrics.record(&ok("A.Tool", 1.0));

    let errors = metrics.get_system_metrics(60).errors_by_type;
    assert_eq!(
        errors,
        BTreeMap::from([
            ("RateLimitError".to_owned(), 2),
            ("SecurityError".to_owned(), 1)
        ])
    );
}

#[test]
fn a_failure_without_an_error_type_counts_as_unknown_error() {
    let (_, metrics) = collector();
    metrics.record(&CallOutcome {
        error_type: None,
        ..failed("A.Tool", 500, "")
    });

    let system = metrics.get_system_metrics(60);
    assert_eq!(system.errors_by_type["UnknownError"], 1);
    assert_eq!(system.recent_errors[0].error_type, "UnknownError");
}

#[test]
fn error_types_beyond_the_cap_count_as_other_error() {
    let (_, metrics) = collector_with(CollectorLimits::default().max_error_types(2));
    for error_type in ["AError", "BError", "CError", "DError"] {
        metrics.record(&failed("A.Tool", 500, error_type));
    }
    metrics.record(&failed("A.Tool", 500, &"E".repeat(65)));

    let errors = metrics.get_system_metrics(60).errors_by_type;
    assert_eq!(
        errors,
        BTreeMap::from([
            ("AError".to_owned(), 1),
            ("BError".to_owned(), 1),
            ("OtherError".to_owned(), 3)
        ])
    );
}

#[test]
fn errors_by_type_count_only_the_window() {
    let (clock, metrics) = collector();
    metrics.record(&failed("A.Tool", 429, "RateLimitError"));
    clock.advance(5 * MINUTE);
    metrics.record(&failed("A.Tool", 403, "SecurityError"));

    let errors = metrics.get_system_metrics(5).errors_by_type;
    assert_eq!(errors, BTreeMap::from([("SecurityError".to_owned(), 1)]));
}

#[test]
fn recent_errors_keep_the_last_20_failures_oldest_first() {
    let (clock, metrics) = collector();
    let ids: Vec<String> = (0..25).map(|i| format!("call-{i}")).collect();
    for id in &ids {
        metrics.record(&CallOutcome {
            call_id: id,
            ..failed("A.Tool", 429, "RateLimitError")
        });
        metrics.record(&ok("A.Tool", 1.0));
        clock.advance(Duration::from_secs(1));
    }

    let recent = metrics.get_system_metrics(60).recent_errors;
    let kept: Vec<&str> = recent.iter().map(|error| error.call_id.as_str()).collect();
    let expected: Vec<&str> = ids[5..].iter().map(String::as_str).collect();
    assert_eq!(kept, expected);
    assert_eq!(recent[0].timestamp, (START.as_secs() + 5) as f64);
    assert_eq!(recent[0].status_code, 429);
    assert_eq!(recent[0].tool_name, "A.Tool");
    assert_eq!(recent[0].error.as_deref(), Some("it went wrong"));
}

#[test]
fn recent_errors_are_kept_whatever_the_window() {
    let (clock, metrics) = collector();
    metrics.record(&failed("A.Tool", 500, "ToolExecutionError"));
    clock.advance(DAY * 2);

    let system = metrics.get_system_metrics(1);
    assert_eq!(system.failed_executions, 0);
    assert_eq!(system.recent_errors.len(), 1);
}

#[test]
fn a_recent_errors_message_is_cut_at_200_characters_on_a_char_boundary() {
    let (_, metrics) = collector();
    let long = "é".repeat(300);
    metrics.record(&CallOutcome {
        error: Some(&long),
        ..failed("A.Tool", 500, "ToolExecutionError")
    });

    let recent = metrics.get_system_metrics(60).recent_errors;
    let message = recent[0].error.as_deref().unwrap_or_default();
    assert_eq!(message.chars().count(), 201);
    assert_eq!(message, format!("{}…", "é".repeat(200)));
}

#[test]
fn tool_metrics_keep_all_time_counts_and_times() {
    let (clock, metrics) = collector();
    metrics.record(&ok("A.Tool", 4.0));
    clock.advance(3 * DAY);
    metrics.record(&ok("A.Tool", 8.0));
    metrics.record(&CallOutcome {
        duration_ms: 12.0,
        ..failed("A.Tool", 504, "ToolTimeoutError")
    });
    metrics.record(&ok("B.Other", 100.0));

    let tool = metrics.get_tool_metrics("A.Tool");
    assert_eq!(tool.tool_name, "A.Tool");
    assert_eq!(
        tool.all_time,
        ExecutionStats {
            total_executions: 3,
            successful_executions: 2,
            failed_executions: 1,
            success_rate: 200.0 / 3.0,
            avg_execution_time_ms: 8.0,
            min_execution_time_ms: 4.0,
            max_execution_time_ms: 12.0,
        }
    );
}

#[test]
fn tool_figures_for_the_last_24_hours_drop_calls_older_than_a_day_but_all_time_keeps_them() {
    let (clock, metrics) = collector();
    metrics.record(&ok("A.Tool", 1.0));
    metrics.record(&ok("A.Tool", 3.0));
    clock.advance(DAY + MINUTE);
    metrics.record(&ok("A.Tool", 5.0));

    let tool = metrics.get_tool_metrics("A.Tool");
    assert_eq!(tool.all_time.total_executions, 3);
    assert_eq!(tool.all_time.min_execution_time_ms, 1.0);
    assert_eq!(tool.last_24_hours.total_executions, 1);
    assert_eq!(tool.last_24_hours.min_execution_time_ms, 5.0);
}

#[test]
fn a_call_23_hours_59_minutes_old_is_still_in_the_last_24_hours() {
    let (clock, metrics) = collector();
    metrics.record(&ok("A.Tool", 1.0));
    clock.advance(DAY - MINUTE);

    assert_eq!(
        metrics
            .get_tool_metrics("A.Tool")
            .last_24_hours
            .total_executions,
        1
    );
    assert_eq!(metrics.get_system_metrics(1440).total_executions, 1);
}

#[test]
fn a_call_exactly_a_day_later_replaces_the_figures_of_its_minutes_slot() {
    let (clock, metrics) = collector();
    metrics.record(&by("alice", failed("A.Tool", 429, "RateLimitError")));
    clock.advance(DAY);
    metrics.record(&by("bob", ok("A.Tool", 2.0)));

    let system = metrics.get_system_metrics(1440);
    assert_eq!(system.total_executions, 1);
    assert!(system.errors_by_type.is_empty());
    assert_eq!(metrics.get_user_metrics("alice", 1440).total_executions, 0);
    assert_eq!(metrics.footprint().user_cells, 1);
    assert_eq!(
        metrics.get_tool_metrics("A.Tool").all_time.total_executions,
        2
    );
}

#[test]
fn user_metrics_count_that_users_calls_in_the_window_by_tool() {
    let (clock, metrics) = collector();
    metrics.record(&by("alice", ok("A.Tool", 2.0)));
    clock.advance(30 * MINUTE);
    metrics.record(&by("alice", ok("A.Tool", 4.0)));
    metrics.record(&by("alice", ok("B.Tool", 6.0)));
    metrics.record(&by("alice", failed("B.Tool", 403, "SecurityError")));
    metrics.record(&by("bob", ok("A.Tool", 100.0)));
    metrics.record(&ok("A.Tool", 100.0));

    let alice = metrics.get_user_metrics("alice", 30);
    assert_eq!(alice.user_id, "alice");
    assert_eq!(alice.time_window_minutes, 30);
    assert_eq!(alice.total_executions, 3);
    assert_eq!(alice.successful_executions, 2);
    assert_eq!(alice.failed_executions, 1);
    assert_eq!(alice.success_rate, 200.0 / 3.0);
    assert_eq!(alice.avg_execution_time_ms, 11.0 / 3.0);
    assert_eq!(
        alice.tools_used,
        BTreeMap::from([("A.Tool".to_owned(), 1), ("B.Tool".to_owned(), 2)])
    );
    assert_eq!(metrics.get_user_metrics("alice", 31).total_executions, 4);
}

#[test]
fn distinct_users_beyond_the_per_minute_cap_are_not_kept_but_count_in_system_totals() {
    let (_, metrics) = collector_with(CollectorLimits::default().max_user_cells_per_minute(100));
    let users: Vec<String> = (0..1000).map(|i| format!("user-{i}")).collect();
    for user in &users {
        metrics.record(&by(user, ok("A.Tool", 1.0)));
    }

    let footprint = metrics.footprint();
    assert_eq!(footprint.user_cells, 100);
    assert_eq!(metrics.get_system_metrics(60).total_executions, 1000);
    assert_eq!(metrics.get_user_metrics("user-0", 60).total_executions, 1);
    assert_eq!(metrics.get_user_metrics("user-999", 60).total_executions, 0);

    for user in &users {
        metrics.record(&by(user, ok("A.Tool", 1.0)));
    }
    assert_eq!(metrics.footprint(), footprint);
    assert_eq!(metrics.get_user_metrics("user-0", 60).total_executions, 2);
}

#[test]
fn a_full_user_budget_drops_the_oldest_minutes_user_figures_for_the_current_ones() {
    let (clock, metrics) = collector_with(CollectorLimits::default().max_user_cells(4));
    for minute_users in [["a", "b"], ["c", "d"]] {
        for user in minute_users {
            metrics.record(&by(user, ok("A.Tool", 1.0)));
        }
        clock.advance(MINUTE);
    }
    metrics.record(&by("e", ok("A.Tool", 1.0)));

    let kept = |user| metrics.get_user_metrics(user, 60).total_executions;
    assert_eq!(
        [kept("a"), kept("b"), kept("c"), kept("d"), kept("e")],
        [0, 0, 1, 1, 1]
    );
    assert_eq!(metrics.footprint().user_cells, 3);
    assert_eq!(metrics.get_system_metrics(60).total_executions, 5);
}

#[test]
fn a_user_budget_full_with_the_current_minutes_cells_keeps_them() {
    let (_, metrics) = collector_with(CollectorLimits::default().max_user_cells(2));
    for user in ["a", "b", "c"] {
        metrics.record(&by(user, ok("A.Tool", 1.0)));
    }

    let kept = |user| metrics.get_user_metrics(user, 60).total_executions;
    assert_eq!([kept("a"), kept("b"), kept("c")], [1, 1, 0]);
}

#[test]
fn a_zero_user_budget_keeps_no_user_figures() {
    let (_, metrics) = collector_with(CollectorLimits::default().max_user_cells(0));
    metrics.record(&by("alice", ok("A.Tool", 1.0)));

    assert_eq!(metrics.get_user_metrics("alice", 60).total_executions, 0);
    assert_eq!(metrics.get_system_metrics(60).total_executions, 1);
}

#[test]
fn user_ids_longer_than_128_bytes_are_not_kept() {
    let (_, metrics) = collector();
    let long = "u".repeat(129);
    metrics.record(&by(&long, ok("A.Tool", 1.0)));
    metrics.record(&by(&long[..128], ok("A.Tool", 1.0)));

    assert_eq!(metrics.get_user_metrics(&long, 60).total_executions, 0);
    assert_eq!(
        metrics.get_user_metrics(&long[..128], 60).total_executions,
        1
    );
    assert_eq!(metrics.footprint().user_cells, 1);
}

#[test]
fn tools_beyond_the_cap_count_in_system_and_user_totals_only() {
    let (_, metrics) = collector_with(CollectorLimits::default().max_tools(1));
    metrics.record(&by("alice", ok("A.Tool", 1.0)));
    metrics.record(&by("alice", ok("B.Tool", 3.0)));

    let system = metrics.get_system_metrics(60);
    assert_eq!(system.total_executions, 2);
    assert_eq!(system.top_tools.len(), 1);
    assert_eq!(
        metrics.get_tool_metrics("B.Tool").all_time.total_executions,
        0
    );
    let alice = metrics.get_user_metrics("alice", 60);
    assert_eq!(alice.total_executions, 2);
    assert_eq!(alice.tools_used, BTreeMap::from([("A.Tool".to_owned(), 1)]));
}

#[test]
fn nan_infinite_and_negative_durations_count_as_zero() {
    let (_, metrics) = collector();
    for ms in [f64::NAN, f64::INFINITY, -5.0, 6.0] {
        metrics.record(&ok("A.Tool", ms));
    }

    let system = metrics.get_system_metrics(60);
    assert_eq!(system.min_execution_time_ms, 0.0);
    assert_eq!(system.max_execution_time_ms, 6.0);
    assert_eq!(system.avg_execution_time_ms, 1.5);
}

#[test]
fn an_empty_collector_reports_system_zeros_that_serialize_without_null() {
    let (_, metrics) = collector();
    let mut json = to_json(&metrics.get_system_metrics(60));
    if let Some(fields) = json.as_object_mut() {
        assert_eq!(fields.remove("time_window_minutes"), Some(60.into()));
    }
    assert_zeros_only(&json, "system");
}

#[test]
fn an_unknown_tool_reports_zeros_that_serialize_without_null() {
    let (_, metrics) = collector();
    metrics.record(&ok("A.Tool", 1.0));
    let tool = metrics.get_tool_metrics("No.Such");
    assert_eq!(tool.tool_name, "No.Such");
    assert_zeros_only(&to_json(&tool), "tool");
}

#[test]
fn an_unknown_user_reports_zeros_that_serialize_without_null() {
    let (_, metrics) = collector();
    metrics.record(&by("alice", ok("A.Tool", 1.0)));
    let mut json = to_json(&metrics.get_user_metrics("nobody", 60));
    if let Some(fields) = json.as_object_mut() {
        assert_eq!(fields.remove("time_window_minutes"), Some(60.into()));
        assert_eq!(fields["tools_used"], Value::Object(Default::default()));
    }
    assert_zeros_only(&json, "user");
}

#[test]
fn tool_metrics_json_flattens_all_time_figures_beside_the_tool_name() {
    let (_, metrics) = collector();
    metrics.record(&ok("A.Tool", 1.0));
    let json = to_json(&metrics.get_tool_metrics("A.Tool"));
    assert_eq!(json["tool_name"], "A.Tool");
    assert_eq!(json["total_executions"], 1);
    assert_eq!(json["last_24_hours"]["total_executions"], 1);
}

#[test]
fn a_million_records_in_one_minute_keep_the_state_the_same_size() {
    let (clock, metrics) = collector();
    let tools = ["A.One", "A.Two", "A.Three"];
    let users: Vec<String> = (0..50).map(|i| format!("user-{i}")).collect();
    let record = |i: usize| {
        let tool = tools[i % tools.len()];
        let user = &users[i % users.len()];
        let call = if i.is_multiple_of(7) {
            failed(tool, 429, "RateLimitError")
        } else {
            ok(tool, (i % 100) as f64)
        };
        metrics.record(&by(user, call));
    };
    // Every tool, user, pair and error type once, and the recent errors full.
    for i in 0..1_000 {
        record(i);
    }
    let before = metrics.footprint();
    assert_eq!(before.user_cells, 150);
    assert_eq!(before.recent_errors, 20);

    for i in 0..1_000_000 {
        record(i);
        if i.is_multiple_of(100_000) {
            clock.advance(Duration::from_millis(500));
        }
    }
    assert_eq!(metrics.footprint(), before);
    assert_eq!(metrics.get_system_metrics(1).total_executions, 1_001_000);
}

#[derive(Debug)]
struct SteppingClock(AtomicU64);

impl Clock for SteppingClock {
    fn now(&self) -> Duration {
        Duration::from_secs(self.0.load(Ordering::SeqCst))
    }
}

#[test]
fn a_clock_that_steps_back_counts_calls_in_the_latest_minute_seen() {
    let clock = Arc::new(SteppingClock(AtomicU64::new(START.as_secs())));
    let metrics = MetricsCollector::new(clock.clone());
    clock.0.store(START.as_secs() + 180, Ordering::SeqCst);
    metrics.record(&ok("A.Tool", 1.0));
    clock.0.store(START.as_secs() + 30, Ordering::SeqCst);
    metrics.record(&ok("A.Tool", 1.0));

    assert_eq!(metrics.get_system_metrics(1).total_executions, 2);
    assert_eq!(metrics.footprint().buckets, 1);
}

#[test]
fn the_collector_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<MetricsCollector>();
}

#[test]
fn the_default_collector_reads_the_system_clock() {
    let metrics = MetricsCollector::default();
    metrics.record(&ok("A.Tool", 1.0));
    // Two minutes, in case the minute turns between the two calls.
    assert_eq!(metrics.get_system_metrics(2).total_executions, 1);
    assert_eq!(metrics.limits(), CollectorLimits::default());
}
