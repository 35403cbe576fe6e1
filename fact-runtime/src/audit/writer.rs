//! The audit log's writer task: takes what waits in the channel as one batch, hands it to the
//! sink (one transaction: a group commit), retries a failed batch until it is written, and
//! tells the callers waiting for their records' commit (docs/ARCHITECTURE.md, "Audit log").

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::{AuditConfig, AuditRecord, AuditSink};

/// Records accepted and not yet committed: in the channel, in the batch being written, and in
/// the side queue. Set by the writer on every batch and every attempt, and at least once a
/// second while it waits to retry.
pub const AUDIT_BACKLOG_RECORDS: &str = "fact_audit_backlog_records";
/// Failed attempts to write a batch (each batch is retried until it is written).
pub const AUDIT_WRITE_FAILURES_TOTAL: &str = "fact_audit_write_failures_total";
/// Calls whose tool ran but whose record was not committed within the commit timeout, so
/// that their answer was withheld (`answered` durability only).
pub const AUDIT_COMMIT_TIMEOUTS_TOTAL: &str = "fact_audit_commit_timeouts_total";

/// What travels to the writer, in order.
// Nearly every message is a record: boxing it to shrink the rare markers would add an
// allocation to every call.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(super) enum Message {
    /// A record nobody waits for.
    Record(AuditRecord),
    /// A record whose caller waits for its commit. These are sent in the order of their
    /// tickets (under `Inner::tickets`), so the writer's count of them is the ticket of the
    /// last one taken.
    Awaited(AuditRecord),
    /// Answered once every record before it is written.
    Flush(oneshot::Sender<()>),
    /// Close intake, write what is left, stop.
    Shutdown,
    /// Look at the side queue of records handed over without waiting.
    Nudge,
}

/// Records handed over without waiting (`AuditLog::record_detached`); `None` once the writer
/// has taken the last of them.
pub(super) type Overflow = Arc<std::sync::Mutex<Option<Vec<AuditRecord>>>>;

pub(super) fn lock(overflow: &Overflow) -> std::sync::MutexGuard<'_, Option<Vec<AuditRecord>>> {
    // Pushing and taking leave the queue whole, so a panic elsewhere poisons nothing.
    overflow
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the writer and the handles share.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) written: AtomicU64,
    pub(super) batches: AtomicU64,
    pub(super) failed_attempts: AtomicU64,
    /// Records accepted and not yet committed.
    pub(super) backlog: AtomicU64,
    /// Whether the last attempt to write failed.
    pub(super) failing: AtomicBool,
    /// When the attempt under way began, in nanoseconds since `epoch`, plus one; 0 between
    /// attempts.
    attempt_started: AtomicU64,
    epoch: Instant,
    /// How long one attempt may run before the writer counts as failing.
    stall_after: Duration,
}

impl Shared {
    pub(super) fn new(stall_after: Duration) -> Self {
        Self {
            written: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            failed_attempts: AtomicU64::new(0),
            backlog: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            attempt_started: AtomicU64::new(0),
            epoch: Instant::now(),
            stall_after,
        }
    }

    /// Whether the writer commits records now: its last attempt did not fail, and the one
    /// under way (if any) has not run past `stall_after`.
    pub(super) fn is_writing(&self) -> bool {
        if self.failing.load(Ordering::Acquire) {
            return false;
        }
        match self.attempt_started.load(Ordering::Acquire) {
            0 => true,
            started => self.nanos_now().saturating_sub(started - 1) <= nanos(self.stall_after),
        }
    }

    fn nanos_now(&self) -> u64 {
        nanos(self.epoch.elapsed())
    }

    /// Publishes the backlog gauge.
    fn report_backlog(&self) {
        metrics::gauge!(AUDIT_BACKLOG_RECORDS).set(self.backlog.load(Ordering::Relaxed) as f64);
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The writer task: receives up to `batch_size` messages at a time, writes their records and
/// those of the side queue as one batch, then tells the callers waiting for those records and
/// answers the flushes among them. Once the channel is closed and empty, takes the side queue
/// for good and writes what is left in it.
pub(super) async fn run_writer(
    mut receiver: mpsc::Receiver<Message>,
    sink: Arc<dyn AuditSink>,
    config: AuditConfig,
    shared: Arc<Shared>,
    overflow: Overflow,
    committed: watch::Sender<u64>,
) {
    let mut messages = Vec::with_capacity(config.batch_size);
    let mut batch = Vec::with_capacity(config.batch_size);
    let mut flushes = Vec::new();
    // Awaited records taken so far: the ticket of the last one.
    let mut awaited: u64 = 0;
    // Returns 0 only once the channel is closed (by `Shutdown` or by every handle being
    // dropped) and empty.
    while receiver.recv_many(&mut messages, config.batch_size).await > 0 {
        let awaited_before = awaited;
        let linger_until = crate::deadline::after(config.linger);
        loop {
            // Whether someone waits for this batch: a caller for its record's commit, a
            // flush, a shutdown. Then it is written now; otherwise it may linger.
            let mut awaited_now = false;
            for message in messages.drain(..) {
                match message {
                    Message::Record(record) => batch.push(record),
                    Message::Awaited(record) => {
                        batch.push(record);
                        awaited += 1;
                        awaited_now = true;
                    }
                    Message::Flush(done) => {
                        flushes.push(done);
                        awaited_now = true;
                    }
                    Message::Shutdown => {
                        receiver.close();
                        awaited_now = true;
                    }
                    Message::Nudge => {}
                }
            }
            let room = config.batch_size.saturating_sub(batch.len());
            if awaited_now || room == 0 || config.linger.is_zero() {
                break;
            }
            // Records nobody waits for gather for up to `linger`: one commit for many of them,
            // where each commit is a transaction (a round trip to the database per statement,
            // and a WAL write) however few records it holds.
            match tokio::time::timeout_at(linger_until, receiver.recv_many(&mut messages, room))
                .await
            {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        if let Some(records) = lock(&overflow).as_mut() {
            batch.append(records);
        }
        write_until_done(&*sink, &batch, &config, &shared).await;
        batch.clear();
        if awaited > awaited_before {
            // Wakes every caller waiting; those whose ticket is past `awaited` wait on.
            committed.send_replace(awaited);
        }
        for done in flushes.drain(..) {
            // The flusher may have stopped waiting; nothing to tell it then.
            let _ = done.send(());
        }
    }
    let last = lock(&overflow).take().unwrap_or_default();
    write_until_done(&*sink, &last, &config, &shared).await;
}

/// Writes `batch`, retrying with capped exponential backoff until the sink accepts it.
async fn write_until_done(
    sink: &dyn AuditSink,
    batch: &[AuditRecord],
    config: &AuditConfig,
    shared: &Shared,
) {
    if batch.is_empty() {
        return;
    }
    let mut pause = config.retry_backoff;
    let mut attempt: u64 = 1;
    loop {
        shared.report_backlog();
        shared
            .attempt_started
            .store(shared.nanos_now().saturating_add(1), Ordering::Release);
        let outcome = sink.write_batch(batch).await;
        shared.attempt_started.store(0, Ordering::Release);
        match outcome {
            Ok(()) => {
                shared.failing.store(false, Ordering::Release);
                let records = batch.len() as u64;
                shared.written.fetch_add(records, Ordering::Relaxed);
                shared.batches.fetch_add(1, Ordering::Relaxed);
                shared.backlog.fetch_sub(records, Ordering::Relaxed);
                shared.report_backlog();
                if attempt > 1 {
                    tracing::info!(
                        records = batch.len(),
                        attempts = attempt,
                        "audit batch written after failed attempts; the audit log writes again"
                    );
                }
                return;
            }
            Err(error) => {
                shared.failing.store(true, Ordering::Release);
                shared.failed_attempts.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(AUDIT_WRITE_FAILURES_TOTAL).increment(1);
                tracing::error!(
                    %error,
                    records = batch.len(),
                    attempt,
                    retry_in_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
                    "audit batch write failed; keeping the batch and retrying"
                );
                pause_reporting(pause, shared).await;
                pause = next_pause(pause, config.max_retry_backoff);
                attempt += 1;
            }
        }
    }
}

/// Sleeps `pause`, publishing the backlog at least once a second meanwhile: records keep
/// arriving while the writer waits.
async fn pause_reporting(pause: Duration, shared: &Shared) {
    const REPORT_EVERY: Duration = Duration::from_secs(1);
    let until = Instant::now() + pause;
    loop {
        let now = Instant::now();
        if now >= until {
            return;
        }
        tokio::time::sleep((until - now).min(REPORT_EVERY)).await;
        shared.report_backlog();
    }
}

pub(super) fn next_pause(pause: Duration, max: Duration) -> Duration {
    pause.saturating_mul(2).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_cap() {
        let max = Duration::from_millis(500);
        let mut pause = Duration::from_millis(100);
        let mut pauses = vec![pause];
        for _ in 0..4 {
            pause = next_pause(pause, max);
            pauses.push(pause);
        }
        assert_eq!(
            pauses,
            [100, 200, 400, 500, 500]
                .map(Duration::from_millis)
                .to_vec()
        );
        assert_eq!(next_pause(Duration::MAX, Duration::MAX), Duration::MAX);
    }

    #[tokio::test(start_paused = true)]
    async fn the_writer_counts_as_failing_after_a_failed_attempt_or_a_stalled_one() {
        let shared = Shared::new(Duration::from_secs(5));
        assert!(shared.is_writing());
        shared.failing.store(true, Ordering::Release);
        assert!(!shared.is_writing());
        shared.failing.store(false, Ordering::Release);

        shared
            .attempt_started
            .store(shared.nanos_now() + 1, Ordering::Release);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(shared.is_writing(), "an attempt within its bound");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(!shared.is_writing(), "an attempt past its bound");
        shared.attempt_started.store(0, Ordering::Release);
        assert!(shared.is_writing());
    }
}
