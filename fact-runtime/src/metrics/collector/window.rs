//! The per-minute ring behind the collector's windows: one [`Bucket`] per minute for the last
//! [`MINUTES_KEPT`] minutes, reset lazily when its slot comes round again, and the budget of
//! per-user entries across all of them.

use std::collections::HashMap;

/// Minutes the ring covers: the longest window a caller may ask for (24 hours).
pub(crate) const MINUTES_KEPT: u32 = 1440;

/// The tool id of a user's calls to a tool beyond the collector's tool cap.
pub(crate) const UNTRACKED_TOOL: u32 = u32::MAX;

/// Counts and times of a set of calls, in O(1) memory whatever their number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Aggregate {
    pub(crate) calls: u64,
    pub(crate) successes: u64,
    sum_ms: f64,
    /// `INFINITY` until the first call; read through [`Aggregate::min_ms`].
    min_ms: f64,
    max_ms: f64,
}

impl Aggregate {
    pub(crate) const EMPTY: Self = Self {
        calls: 0,
        successes: 0,
        sum_ms: 0.0,
        min_ms: f64::INFINITY,
        max_ms: 0.0,
    };

    /// Adds one call; `duration_ms` must already be finite and non-negative.
    pub(crate) fn add(&mut self, success: bool, duration_ms: f64) {
        self.calls += 1;
        self.successes += u64::from(success);
        self.sum_ms += duration_ms;
        self.min_ms = self.min_ms.min(duration_ms);
        self.max_ms = self.max_ms.max(duration_ms);
    }

    pub(crate) fn merge(&mut self, other: &Self) {
        self.calls += other.calls;
        self.successes += other.successes;
        self.sum_ms += other.sum_ms;
        self.min_ms = self.min_ms.min(other.min_ms);
        self.max_ms = self.max_ms.max(other.max_ms);
    }

    pub(crate) fn failures(&self) -> u64 {
        self.calls - self.successes
    }

    /// The mean time, 0 for no calls.
    pub(crate) fn avg_ms(&self) -> f64 {
        mean(self.sum_ms, self.calls)
    }

    /// The shortest time, 0 for no calls.
    pub(crate) fn min_ms(&self) -> f64 {
        if self.calls == 0 { 0.0 } else { self.min_ms }
    }

    pub(crate) fn max_ms(&self) -> f64 {
        self.max_ms
    }
}

/// `sum / count`, 0 for no calls.
pub(crate) fn mean(sum: f64, count: u64) -> f64 {
    if count == 0 { 0.0 } else { sum / count as f64 }
}

/// `part` as a percentage of `whole`, 0 when `whole` is 0.
pub(crate) fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// One user's calls of one tool within one minute.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UserCell {
    /// A tool id, or [`UNTRACKED_TOOL`].
    pub(crate) tool: u32,
    pub(crate) calls: u64,
    pub(crate) successes: u64,
    pub(crate) sum_ms: f64,
}

impl UserCell {
    pub(crate) fn new(tool: u32) -> Self {
        Self {
            tool,
            calls: 0,
            successes: 0,
            sum_ms: 0.0,
        }
    }

    pub(crate) fn add(&mut self, success: bool, duration_ms: f64) {
        self.calls += 1;
        self.successes += u64::from(success);
        self.sum_ms += duration_ms;
    }
}

/// Everything recorded within one minute.
#[derive(Debug)]
pub(crate) struct Bucket {
    /// The minute (since the Unix epoch) these figures belong to.
    pub(crate) minute: u64,
    pub(crate) totals: Aggregate,
    /// By tool id.
    pub(crate) tools: HashMap<u32, Aggregate>,
    /// Failures by error-type id; few types, so a short list.
    pub(crate) errors: Vec<(u32, u64)>,
    /// By user id: one cell per tool the user called this minute.
    pub(crate) users: HashMap<Box<str>, Vec<UserCell>>,
    /// Cells in `users`, charged to the ring's budget.
    pub(crate) user_cells: usize,
}

impl Bucket {
    fn new(minute: u64) -> Self {
        Self {
            minute,
            totals: Aggregate::EMPTY,
            tools: HashMap::new(),
            errors: Vec::new(),
            users: HashMap::new(),
            user_cells: 0,
        }
    }

    pub(crate) fn count_error(&mut self, error_type: u32) {
        match self.errors.iter_mut().find(|(id, _)| *id == error_type) {
            Some((_, count)) => *count += 1,
            None => self.errors.push((error_type, 1)),
        }
    }

    /// Drops the user figures; returns how many cells that freed.
    ///
    /// The map is replaced rather than cleared: a cleared map keeps its capacity, and a slot
    /// that once held a burst of users would hold that memory for good.
    fn forget_users(&mut self) -> usize {
        self.users = HashMap::new();
        std::mem::take(&mut self.user_cells)
    }
}

/// One slot per minute of the last [`MINUTES_KEPT`]; slot `minute % MINUTES_KEPT` holds that
/// minute's figures, or an older minute's that nobody has overwritten yet (and that every reader
/// skips by checking [`Bucket::minute`]).
#[derive(Debug)]
pub(crate) struct MinuteRing {
    /// Boxed and allocated on first use, so that an idle collector costs a few KiB.
    slots: Vec<Option<Box<Bucket>>>,
    /// User cells held across all slots.
    user_cells: usize,
    /// The slots of the minutes from `current - MINUTES_KEPT + 1` up to (not including) this
    /// one hold no user cells, whichever minute they hold: where the search for the oldest user
    /// figures to evict resumes, so that eviction costs amortized O(1) per call.
    evict_from: u64,
}

impl MinuteRing {
    pub(crate) fn new() -> Self {
        Self {
            slots: (0..MINUTES_KEPT).map(|_| None).collect(),
            user_cells: 0,
            evict_from: 0,
        }
    }

    fn index(minute: u64) -> usize {
        // The remainder is below MINUTES_KEPT, a u32.
        (minute % u64::from(MINUTES_KEPT)) as usize
    }

    /// The bucket of `minute`, reset first if its slot still holds an older minute: this is the
    /// ring's only rotation, done when a minute is first written.
    pub(crate) fn bucket_mut(&mut self, minute: u64) -> &mut Bucket {
        let slot = &mut self.slots[Self::index(minute)];
        let bucket = slot.get_or_insert_with(|| Box::new(Bucket::new(minute)));
        if bucket.minute != minute {
            self.user_cells -= bucket.forget_users();
            bucket.minute = minute;
            bucket.totals = Aggregate::EMPTY;
            bucket.tools.clear();
            bucket.errors.clear();
        }
        bucket
    }

    /// The buckets of the `minutes` minutes up to and including `current` that hold figures.
    pub(crate) fn window(&self, current: u64, minutes: u32) -> impl Iterator<Item = &Bucket> {
        let first = current.saturating_sub(u64::from(minutes.clamp(1, MINUTES_KEPT)) - 1);
        (first..=current).filter_map(|minute| {
            self.slots[Self::index(minute)]
                .as_deref()
                .filter(|bucket| bucket.minute == minute)
        })
    }

    #[cfg(test)]
    pub(crate) fn user_cells(&self) -> usize {
        self.user_cells
    }

    /// Adds `cell` to `user`'s cells in `minute`'s bucket and charges it to the budget; the
    /// caller has checked that `user` has no cell for that tool yet and that there is room.
    pub(crate) fn insert_user_cell(&mut self, minute: u64, user: &str, cell: UserCell) {
        let bucket = self.bucket_mut(minute);
        match bucket.users.get_mut(user) {
            Some(cells) => cells.push(cell),
            None => {
                bucket.users.insert(user.into(), vec![cell]);
            }
        }
        bucket.user_cells += 1;
        self.user_cells += 1;
    }

    /// Frees user cells, oldest minutes first and never `current`'s, until fewer than `limit`
    /// are held. False if that is impossible (every cell is `current`'s).
    pub(crate) fn make_room_for_user_cell(&mut self, current: u64, limit: usize) -> bool {
        // The minutes from current - MINUTES_KEPT + 1 to current - 1 name every slot but
        // current's; a slot is emptied whichever (older) minute it still holds.
        let mut minute = self
            .evict_from
            .max(current.saturating_sub(u64::from(MINUTES_KEPT) - 1));
        while self.user_cells >= limit && minute < current {
            if let Some(bucket) = self.slots[Self::index(minute)].as_deref_mut() {
                self.user_cells -= bucket.forget_users();
            }
            minute += 1;
        }
        self.evict_from = self.evict_from.max(minute);
        self.user_cells < limit
    }

    /// The buckets allocated so far, for tests of the state's size.
    #[cfg(test)]
    pub(crate) fn buckets(&self) -> impl Iterator<Item = &Bucket> {
        self.slots.iter().flatten().map(|bucket| &**bucket)
    }
}
