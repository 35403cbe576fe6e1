//! [`State`]: what the collector's lock guards, and how one call is counted in it.

use std::collections::VecDeque;
use std::time::Duration;

use super::intern::Interner;
use super::window::{Aggregate, MinuteRing, UNTRACKED_TOOL, UserCell};
use super::{CallOutcome, CollectorLimits, RecentError};

/// Failures kept for [`SystemMetrics::recent_errors`](super::SystemMetrics::recent_errors).
const RECENT_ERRORS: usize = 20;
/// Characters kept of a recent error's message.
const MESSAGE_CHARS: usize = 200;
/// Characters kept of a recent error's call id, tool and error type.
const LABEL_CHARS: usize = 128;
/// Longest user id (in bytes) given per-user figures.
const MAX_USER_ID_BYTES: usize = 128;
/// Longest error type (in bytes) counted under its own name.
const MAX_ERROR_TYPE_BYTES: usize = 64;
/// Longest duration counted (about 31 years), so that sums stay finite.
const MAX_DURATION_MS: f64 = 1e12;
/// The error type of a failure that names none.
const UNKNOWN_ERROR: &str = "UnknownError";
/// The error type of failures beyond [`CollectorLimits::max_error_types`] distinct types, or
/// whose type is too long.
const OTHER_ERROR: &str = "OtherError";

/// What the lock guards.
#[derive(Debug)]
pub(crate) struct State {
    /// When the collector was made: windows never reach further back.
    pub(crate) created: Duration,
    /// The latest minute recorded; a clock reading before it counts as this minute.
    latest_minute: u64,
    pub(crate) tools: Interner,
    /// By tool id.
    pub(crate) all_time: Vec<Aggregate>,
    pub(crate) error_types: Interner,
    /// The id of [`OTHER_ERROR`], interned first so that it always has one.
    other_error: u32,
    pub(crate) ring: MinuteRing,
    /// Oldest first; at most [`RECENT_ERRORS`].
    pub(crate) recent_errors: VecDeque<RecentError>,
}

impl State {
    pub(crate) fn new(created: Duration, limits: &CollectorLimits) -> Self {
        let mut error_types = Interner::new(limits.error_types.saturating_add(1));
        let other_error = error_types.intern(OTHER_ERROR).unwrap_or_default();
        Self {
            created,
            latest_minute: minute_of(created),
            tools: Interner::new(limits.tools),
            all_time: Vec::new(),
            error_types,
            other_error,
            ring: MinuteRing::new(),
            recent_errors: VecDeque::with_capacity(RECENT_ERRORS),
        }
    }

    pub(crate) fn current_minute(&self, now: Duration) -> u64 {
        self.latest_minute.max(minute_of(now))
    }

    pub(crate) fn record(
        &mut self,
        now: Duration,
        call: &CallOutcome<'_>,
        limits: &CollectorLimits,
    ) {
        self.latest_minute = self.current_minute(now);
        let minute = self.latest_minute;
        let duration_ms = sanitize(call.duration_ms);
        let success = call.success;

        let tool = self.tools.intern(call.tool);
        if let Some(tool) = tool {
            let index = tool as usize;
            if index == self.all_time.len() {
                self.all_time.push(Aggregate::EMPTY);
            }
            if let Some(figures) = self.all_time.get_mut(index) {
                figures.add(success, duration_ms);
            }
        }
        let error_type = (!success).then(|| self.error_type_id(call.error_type));

        let bucket = self.ring.bucket_mut(minute);
        bucket.totals.add(success, duration_ms);
        if let Some(tool) = tool {
            bucket
                .tools
                .entry(tool)
                .or_insert(Aggregate::EMPTY)
                .add(success, duration_ms);
        }
        if let Some(error_type) = error_type {
            bucket.count_error(error_type);
            self.remember_error(now, call, error_type);
        }
        if let Some(user) = call.user {
            let tool = tool.unwrap_or(UNTRACKED_TOOL);
            self.record_user(minute, user, tool, success, duration_ms, limits);
        }
    }

    fn error_type_id(&mut self, error_type: Option<&str>) -> u32 {
        let name = error_type.unwrap_or(UNKNOWN_ERROR);
        if name.len() > MAX_ERROR_TYPE_BYTES {
            return self.other_error;
        }
        self.error_types.intern(name).unwrap_or(self.other_error)
    }

    fn record_user(
        &mut self,
        minute: u64,
        user: &str,
        tool: u32,
        success: bool,
        duration_ms: f64,
        limits: &CollectorLimits,
    ) {
        if user.len() > MAX_USER_ID_BYTES {
            return;
        }
        let bucket = self.ring.bucket_mut(minute);
        if let Some(cells) = bucket.users.get_mut(user)
            && let Some(cell) = cells.iter_mut().find(|cell| cell.tool == tool)
        {
            cell.add(success, duration_ms);
            return;
        }
        if bucket.user_cells >= limits.user_cells_per_minute
            || !self.ring.make_room_for_user_cell(minute, limits.user_cells)
        {
            return;
        }
        let mut cell = UserCell::new(tool);
        cell.add(success, duration_ms);
        self.ring.insert_user_cell(minute, user, cell);
    }

    /// Keeps `call` among the recent errors, reusing the oldest entry's strings once there
    /// are [`RECENT_ERRORS`].
    fn remember_error(&mut self, now: Duration, call: &CallOutcome<'_>, error_type: u32) {
        let mut entry = if self.recent_errors.len() >= RECENT_ERRORS {
            self.recent_errors.pop_front()
        } else {
            None
        }
        .unwrap_or_else(|| RecentError {
            call_id: String::new(),
            tool_name: String::new(),
            status_code: 0,
            error_type: String::new(),
            error: None,
            timestamp: 0.0,
        });
        copy_truncated(&mut entry.call_id, call.call_id, LABEL_CHARS);
        copy_truncated(&mut entry.tool_name, call.tool, LABEL_CHARS);
        entry.status_code = call.status_code;
        copy_truncated(
            &mut entry.error_type,
            self.error_types.name(error_type),
            LABEL_CHARS,
        );
        match call.error {
            Some(message) => copy_truncated(
                entry.error.get_or_insert_with(String::new),
                message,
                MESSAGE_CHARS,
            ),
            None => entry.error = None,
        }
        entry.timestamp = now.as_secs_f64();
        self.recent_errors.push_back(entry);
    }

    /// Entries held, for tests that the state stays the same size.
    #[cfg(test)]
    pub(crate) fn footprint(&self) -> Footprint {
        let mut footprint = Footprint {
            tools: self.tools.len(),
            error_types: self.error_types.len(),
            recent_errors: self.recent_errors.len(),
            user_cells: self.ring.user_cells(),
            ..Footprint::default()
        };
        for bucket in self.ring.buckets() {
            footprint.buckets += 1;
            footprint.tool_slots += bucket.tools.capacity();
            footprint.error_slots += bucket.errors.capacity();
            footprint.user_slots += bucket.users.capacity();
            footprint.user_cell_slots += bucket.users.values().map(Vec::capacity).sum::<usize>();
        }
        footprint
    }
}

/// What a collector's state holds, counted in entries and allocated slots.
#[cfg(test)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Footprint {
    pub(crate) tools: usize,
    pub(crate) error_types: usize,
    pub(crate) recent_errors: usize,
    pub(crate) user_cells: usize,
    pub(crate) buckets: usize,
    pub(crate) tool_slots: usize,
    pub(crate) error_slots: usize,
    pub(crate) user_slots: usize,
    pub(crate) user_cell_slots: usize,
}

/// Minutes since the Unix epoch.
fn minute_of(time: Duration) -> u64 {
    time.as_secs() / 60
}

/// A duration fit to sum: finite and non-negative.
fn sanitize(duration_ms: f64) -> f64 {
    if duration_ms > 0.0 && duration_ms.is_finite() {
        duration_ms.min(MAX_DURATION_MS)
    } else {
        0.0
    }
}

/// Sets `dst` to `src`, cut after `max_chars` characters (at a character boundary) with `…`
/// appended when cut.
fn copy_truncated(dst: &mut String, src: &str, max_chars: usize) {
    dst.clear();
    match src.char_indices().nth(max_chars) {
        Some((cut, _)) => {
            dst.push_str(&src[..cut]);
            dst.push('…');
        }
        None => dst.push_str(src),
    }
}
