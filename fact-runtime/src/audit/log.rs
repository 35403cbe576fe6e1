//! [`AuditLog`]: the handle through which calls are recorded, and the writer task behind it
//! that hands batches to an [`AuditSink`] off the hot path.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{ArgumentsDigest, AuditConfig, AuditError, AuditRecord, AuditSink};

/// The audit log: records go through a bounded channel to a writer task, which hands them to
/// the sink in batches. A cheap handle: clones share the same channel and writer.
///
/// What a caller may rely on:
/// - [`record`](Self::record) costs one channel send. When `channel_capacity` records are
///   waiting, it waits for room: no record is ever dropped.
/// - A batch the sink fails to write is kept and retried, with a pause doubling from
///   `retry_backoff` up to `max_retry_backoff`, until it is written. Failures are logged
///   (`tracing::error!`, without record contents) and counted in [`AuditStats`].
/// - [`flush`](Self::flush) returns once every record recorded before it is written.
/// - [`shutdown`](Self::shutdown) stops intake (later `record` calls return
///   [`AuditError::Closed`]), writes everything accepted and stops the writer. While the
///   sink keeps failing it keeps waiting; bound it with `tokio::time::timeout` if you must.
/// - Dropping every handle without `shutdown` also lets the writer write what it has and
///   stop, as long as the runtime keeps running.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), fact_runtime::audit::AuditError> {
/// use std::sync::Arc;
///
/// use fact_runtime::audit::{AuditConfig, AuditLog, AuditQuery, AuditRecord, SqlAuditSink};
/// use serde_json::json;
///
/// let path = std::env::temp_dir().join(format!("fact-audit-log-doc-{}.db", std::process::id()));
/// let sink = Arc::new(SqlAuditSink::sqlite(&path).await?);
/// let log = AuditLog::start(sink.clone(), AuditConfig::default())?;
///
/// let digest = log.digest(&json!({"a": 1, "b": 2}));
/// log.record(AuditRecord {
///     call_id: "call-1".into(),
///     timestamp: 1_700_000_000.0,
///     tool_name: "MyApp.Calculator".into(),
///     user_id: Some("alice".into()),
///     session_id: None,
///     status_code: 200,
///     error_type: None,
///     duration_ms: 0.3,
///     execution_method: AuditRecord::LOCAL.into(),
///     arguments_sha256: digest.sha256,
///     arguments_size: digest.size,
///     arguments: digest.raw,
/// })
/// .await?;
///
/// let stats = log.shutdown().await?;
/// assert_eq!(stats.written, 1);
/// assert_eq!(sink.count(&AuditQuery::new().user("alice")).await?, 1);
/// # sink.close().await;
/// # for suffix in ["", "-wal", "-shm"] {
/// #     let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
/// # }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    sender: mpsc::Sender<Message>,
    /// Set by the first `shutdown`: `record` refuses from then on.
    closing: AtomicBool,
    include_arguments: bool,
    counters: Arc<Counters>,
    writer: Mutex<Writer>,
    /// Records handed over without waiting ([`AuditLog::record_detached`]); `None` once the
    /// writer has taken the last of them.
    overflow: Overflow,
}

type Overflow = Arc<std::sync::Mutex<Option<Vec<AuditRecord>>>>;

fn lock(overflow: &Overflow) -> std::sync::MutexGuard<'_, Option<Vec<AuditRecord>>> {
    // Pushing and taking leave the queue whole, so a panic elsewhere poisons nothing.
    overflow
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Debug)]
struct Writer {
    /// `None` once joined.
    task: Option<JoinHandle<()>>,
    panicked: bool,
}

/// What travels to the writer, in order.
// Nearly every message is a record: boxing it to shrink the rare markers would add an
// allocation to every call.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Message {
    Record(AuditRecord),
    /// Answered once every record before it is written.
    Flush(oneshot::Sender<()>),
    /// Close intake, write what is left, stop.
    Shutdown,
    /// Look at the side queue of records handed over without waiting.
    Nudge,
}

/// Counters of the writer, since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditStats {
    /// Records the sink has acknowledged.
    pub written: u64,
    /// Batches the sink has acknowledged.
    pub batches: u64,
    /// Failed attempts to write a batch (each retried until it succeeded).
    pub failed_attempts: u64,
}

#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    batches: AtomicU64,
    failed_attempts: AtomicU64,
}

impl AuditLog {
    /// Starts the writer on the current tokio runtime.
    ///
    /// Fails with [`AuditError::InvalidConfig`] when `config` does not
    /// [validate](AuditConfig::validate), and with [`AuditError::NoRuntime`] outside a runtime.
    pub fn start(sink: Arc<dyn AuditSink>, config: AuditConfig) -> Result<Self, AuditError> {
        config.validate()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| AuditError::NoRuntime)?;
        let (sender, receiver) = mpsc::channel(config.channel_capacity);
        let counters = Arc::new(Counters::default());
        let include_arguments = config.include_arguments;
        let overflow: Overflow = Arc::new(std::sync::Mutex::new(Some(Vec::new())));
        let task = runtime.spawn(run_writer(
            receiver,
            sink,
            config,
            counters.clone(),
            overflow.clone(),
        ));
        Ok(Self {
            inner: Arc::new(Inner {
                sender,
                closing: AtomicBool::new(false),
                include_arguments,
                counters,
                writer: Mutex::new(Writer {
                    task: Some(task),
                    panicked: false,
                }),
                overflow,
            }),
        })
    }

    /// Hands `record` to the writer, waiting while the channel is full.
    ///
    /// Fails with [`AuditError::Closed`] once [`shutdown`](Self::shutdown) has been called (or
    /// the writer has stopped): the record was not accepted and will not be written.
    pub async fn record(&self, record: AuditRecord) -> Result<(), AuditError> {
        self.reserve().await?.record(record);
        Ok(())
    }

    /// Waits for room for one record, so that a record can then be handed over without
    /// waiting: a caller that may be cancelled while it waits keeps its record until it has
    /// room, rather than lose it inside a pending send.
    pub(crate) async fn reserve(&self) -> Result<RecordPermit<'_>, AuditError> {
        if self.inner.closing.load(Ordering::Acquire) {
            return Err(AuditError::Closed);
        }
        self.inner
            .sender
            .reserve()
            .await
            .map(RecordPermit)
            .map_err(|_| AuditError::Closed)
    }

    /// Hands `record` to the writer without waiting, for callers that cannot await (a `Drop`):
    /// it goes to an unbounded side queue that the writer takes with its next batch, and at the
    /// latest when it stops. Refused (and logged, by call id) once the log is shut down, as
    /// [`record`](Self::record) is.
    pub(crate) fn record_detached(&self, record: AuditRecord) {
        let mut overflow = lock(&self.inner.overflow);
        match overflow.as_mut() {
            Some(records) if !self.inner.closing.load(Ordering::Acquire) => {
                records.push(record);
                drop(overflow);
                // Wakes an idle writer; a full channel means it is busy and will look anyway.
                let _ = self.inner.sender.try_send(Message::Nudge);
            }
            _ => {
                tracing::error!(call_id = %record.call_id, "audit record refused: the audit log is shut down");
            }
        }
    }

    /// Whether records should keep the raw arguments (`AuditConfig::include_arguments`).
    pub fn include_arguments(&self) -> bool {
        self.inner.include_arguments
    }

    /// The digest of `arguments`, with the raw text when this log is configured to keep it.
    pub fn digest(&self, arguments: &Value) -> ArgumentsDigest {
        ArgumentsDigest::of(arguments, self.inner.include_arguments)
    }

    /// Returns once every record recorded before this call has been written by the sink.
    ///
    /// Fails with [`AuditError::Closed`] after shutdown (when everything accepted is already
    /// written), and with [`AuditError::WriterPanicked`] if the writer died meanwhile.
    pub async fn flush(&self) -> Result<(), AuditError> {
        let (done, written) = oneshot::channel();
        self.inner
            .sender
            .send(Message::Flush(done))
            .await
            .map_err(|_| AuditError::Closed)?;
        written.await.map_err(|_| AuditError::WriterPanicked)
    }

    /// Stops intake, writes every accepted record and stops the writer; returns the final
    /// counters. Idempotent: later calls (from any clone) wait for the first to finish and
    /// return the same outcome.
    pub async fn shutdown(&self) -> Result<AuditStats, AuditError> {
        let mut writer = self.inner.writer.lock().await;
        if let Some(task) = writer.task.as_mut() {
            self.inner.closing.store(true, Ordering::Release);
            // An error means the writer is already gone; joining it says why.
            let _ = self.inner.sender.send(Message::Shutdown).await;
            writer.panicked = task.await.is_err();
            writer.task = None;
        }
        if writer.panicked {
            Err(AuditError::WriterPanicked)
        } else {
            Ok(self.stats())
        }
    }

    /// The writer's counters now.
    pub fn stats(&self) -> AuditStats {
        let counters = &self.inner.counters;
        AuditStats {
            written: counters.written.load(Ordering::Relaxed),
            batches: counters.batches.load(Ordering::Relaxed),
            failed_attempts: counters.failed_attempts.load(Ordering::Relaxed),
        }
    }
}

/// Room for one record in the audit log's channel, from [`AuditLog::reserve`].
pub(crate) struct RecordPermit<'a>(mpsc::Permit<'a, Message>);

impl RecordPermit<'_> {
    /// Hands `record` to the writer.
    pub(crate) fn record(self, record: AuditRecord) {
        self.0.send(Message::Record(record));
    }
}

/// The writer task: receives up to `batch_size` messages at a time, writes their records and
/// those of the side queue as one batch, then answers the flushes among them. Once the channel
/// is closed and empty, takes the side queue for good and writes what is left in it.
async fn run_writer(
    mut receiver: mpsc::Receiver<Message>,
    sink: Arc<dyn AuditSink>,
    config: AuditConfig,
    counters: Arc<Counters>,
    overflow: Overflow,
) {
    let mut messages = Vec::with_capacity(config.batch_size);
    let mut batch = Vec::with_capacity(config.batch_size);
    let mut flushes = Vec::new();
    // Returns 0 only once the channel is closed (by `Shutdown` or by every handle being
    // dropped) and empty.
    while receiver.recv_many(&mut messages, config.batch_size).await > 0 {
        for message in messages.drain(..) {
            match message {
                Message::Record(record) => batch.push(record),
                Message::Flush(done) => flushes.push(done),
                Message::Shutdown => receiver.close(),
                Message::Nudge => {}
            }
        }
        if let Some(records) = lock(&overflow).as_mut() {
            batch.append(records);
        }
        write_until_done(&*sink, &batch, &config, &counters).await;
        batch.clear();
        for done in flushes.drain(..) {
            // The flusher may have stopped waiting; nothing to tell it then.
            let _ = done.send(());
        }
    }
    let last = lock(&overflow).take().unwrap_or_default();
    write_until_done(&*sink, &last, &config, &counters).await;
}

/// Writes `batch`, retrying with capped exponential backoff until the sink accepts it.
async fn write_until_done(
    sink: &dyn AuditSink,
    batch: &[AuditRecord],
    config: &AuditConfig,
    counters: &Counters,
) {
    if batch.is_empty() {
        return;
    }
    let mut pause = config.retry_backoff;
    let mut attempt: u64 = 1;
    loop {
        match sink.write_batch(batch).await {
            Ok(()) => {
                counters
                    .written
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                counters.batches.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(error) => {
                counters.failed_attempts.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    %error,
                    records = batch.len(),
                    attempt,
                    retry_in_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
                    "audit batch write failed; keeping the batch and retrying"
                );
                tokio::time::sleep(pause).await;
                pause = next_pause(pause, config.max_retry_backoff);
                attempt += 1;
            }
        }
    }
}

fn next_pause(pause: Duration, max: Duration) -> Duration {
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

    #[test]
    fn start_outside_a_runtime_is_an_error() {
        #[derive(Debug)]
        struct Nowhere;
        impl AuditSink for Nowhere {
            fn write_batch<'a>(
                &'a self,
                _: &'a [AuditRecord],
            ) -> futures::future::BoxFuture<'a, Result<(), AuditError>> {
                Box::pin(async { Ok(()) })
            }
        }
        let started = AuditLog::start(Arc::new(Nowhere), AuditConfig::default());
        assert!(matches!(started, Err(AuditError::NoRuntime)));
    }
}
