//! [`AuditLog`]: the handle through which calls are recorded, and the writer task behind it
//! that hands batches to an [`AuditSink`] off the hot path.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Mutex, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::writer::{Message, Overflow, Shared, lock, run_writer};
use super::{ArgumentsDigest, AuditConfig, AuditDurability, AuditError, AuditRecord, AuditSink};

/// The audit log: records go through a bounded channel to a writer task, which hands them to
/// the sink in batches. A cheap handle: clones share the same channel and writer.
///
/// What a caller may rely on:
/// - [`record`](Self::record) costs one channel send. When `channel_capacity` records are
///   waiting, it waits for room: no record is ever dropped.
///   [`record_committed`](Self::record_committed) also waits for the record's commit.
/// - The writer takes everything waiting (up to `batch_size`) as one batch, one transaction
///   of the sink: a group commit. Callers waiting for a commit are woken when their batch is
///   committed.
/// - A batch the sink fails to write is kept and retried, with a pause doubling from
///   `retry_backoff` up to `max_retry_backoff`, until it is written. Failures are logged
///   (`tracing::error!`, without record contents), counted in [`AuditStats`] and in the
///   `fact_audit_write_failures_total` counter; the records accepted and not yet committed
///   are the `fact_audit_backlog_records` gauge. A sink that stores records by call id (as
///   [`SqlAuditSink`](super::SqlAuditSink) does) stores a retried batch once.
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
    durability: AuditDurability,
    commit_timeout: Duration,
    shared: Arc<Shared>,
    /// The ticket of the last awaited record handed over. Held while it is sent, so that
    /// awaited records enter the channel in the order of their tickets.
    tickets: std::sync::Mutex<u64>,
    /// The ticket of the last awaited record committed; closed when the writer stops.
    committed: watch::Receiver<u64>,
    writer: Mutex<Writer>,
    /// Records handed over without waiting ([`AuditLog::record_detached`]); `None` once the
    /// writer has taken the last of them.
    overflow: Overflow,
}

#[derive(Debug)]
struct Writer {
    /// `None` once joined.
    task: Option<JoinHandle<()>>,
    panicked: bool,
}

/// Counters of the writer, since start, and its backlog now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditStats {
    /// Records the sink has acknowledged.
    pub written: u64,
    /// Batches the sink has acknowledged.
    pub batches: u64,
    /// Failed attempts to write a batch (each retried until it succeeded).
    pub failed_attempts: u64,
    /// Records accepted and not yet committed (the `fact_audit_backlog_records` gauge).
    pub backlog: u64,
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
        let (committed_sender, committed) = watch::channel(0);
        let shared = Arc::new(Shared::new(config.commit_timeout));
        let overflow: Overflow = Arc::new(std::sync::Mutex::new(Some(Vec::new())));
        let durability = config.durability;
        let commit_timeout = config.commit_timeout;
        let include_arguments = config.include_arguments;
        let task = runtime.spawn(run_writer(
            receiver,
            sink,
            config,
            shared.clone(),
            overflow.clone(),
            committed_sender,
        ));
        let inner = Inner {
            sender,
            closing: AtomicBool::new(false),
            include_arguments,
            durability,
            commit_timeout,
            shared,
            tickets: std::sync::Mutex::new(0),
            committed,
            writer: Mutex::new(Writer {
                task: Some(task),
                panicked: false,
            }),
            overflow,
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Hands `record` to the writer, waiting while the channel is full; returns once it is
    /// queued, before it is written.
    ///
    /// Fails with [`AuditError::Closed`] once [`shutdown`](Self::shutdown) has been called (or
    /// the writer has stopped): the record was not accepted and will not be written.
    pub async fn record(&self, record: AuditRecord) -> Result<(), AuditError> {
        self.reserve().await?.record(record);
        Ok(())
    }

    /// Hands `record` to the writer as [`record`](Self::record) does, then returns once the
    /// sink has committed it (with the batch it was written in: callers waiting at once share
    /// one transaction). While the sink fails this keeps waiting, as the writer keeps
    /// retrying; bound it with `tokio::time::timeout` if you must: the record stays accepted
    /// and is written all the same.
    ///
    /// Fails as [`record`](Self::record) does, and with [`AuditError::WriterPanicked`] if the
    /// writer died before committing it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), fact_runtime::audit::AuditError> {
    /// use std::sync::Arc;
    ///
    /// use fact_runtime::audit::{AuditConfig, AuditLog, AuditQuery, AuditRecord, SqlAuditSink};
    /// use serde_json::json;
    ///
    /// let path = std::env::temp_dir().join(format!("fact-audit-committed-{}.db", std::process::id()));
    /// let sink = Arc::new(SqlAuditSink::sqlite(&path).await?);
    /// let log = AuditLog::start(sink.clone(), AuditConfig::default())?;
    /// let digest = log.digest(&json!({}));
    /// log.record_committed(AuditRecord {
    ///     call_id: "0190f3a2-7c1e-7b3d-8f00-5a1b2c3d4e5f".into(),
    ///     timestamp: 1_700_000_000.0,
    ///     tool_name: "MyApp.Calculator".into(),
    ///     user_id: Some("ada".into()),
    ///     session_id: None,
    ///     status_code: 200,
    ///     error_type: None,
    ///     duration_ms: 0.3,
    ///     execution_method: AuditRecord::LOCAL.into(),
    ///     arguments_sha256: digest.sha256,
    ///     arguments_size: digest.size,
    ///     arguments: None,
    /// })
    /// .await?;
    /// // Committed: readable now, without a flush.
    /// assert_eq!(sink.count(&AuditQuery::new().user("ada")).await?, 1);
    /// # log.shutdown().await?;
    /// # sink.close().await;
    /// # for suffix in ["", "-wal", "-shm"] {
    /// #     let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    /// # }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn record_committed(&self, record: AuditRecord) -> Result<(), AuditError> {
        let ticket = self.reserve().await?.record_awaited(record);
        self.committed(ticket).await
    }

    /// Waits for room for one record, so that a record can then be handed over without
    /// waiting: a caller that may be cancelled while it waits keeps its record until it has
    /// room, rather than lose it inside a pending send.
    pub(crate) async fn reserve(&self) -> Result<RecordPermit<'_>, AuditError> {
        if self.inner.closing.load(Ordering::Acquire) {
            return Err(AuditError::Closed);
        }
        let permit = self
            .inner
            .sender
            .reserve()
            .await
            .map_err(|_| AuditError::Closed)?;
        Ok(RecordPermit {
            permit,
            inner: &self.inner,
        })
    }

    /// Returns once the awaited record of `ticket` is committed.
    pub(crate) async fn committed(&self, ticket: Ticket) -> Result<(), AuditError> {
        let mut committed = self.inner.committed.clone();
        committed
            .wait_for(|&last| last >= ticket.0)
            .await
            .map(|_| ())
            // The writer stops only once everything accepted is written, unless it panicked.
            .map_err(|_| AuditError::WriterPanicked)
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
                self.inner.shared.backlog.fetch_add(1, Ordering::Relaxed);
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

    /// When the executor answers a call relative to its record's commit
    /// (`AuditConfig::durability`).
    pub fn durability(&self) -> AuditDurability {
        self.inner.durability
    }

    /// How long an answer waits for its record's commit in `answered` mode
    /// (`AuditConfig::commit_timeout`).
    pub fn commit_timeout(&self) -> Duration {
        self.inner.commit_timeout
    }

    /// Whether the log commits records now: it is not shut down, the writer's last attempt
    /// did not fail, and the attempt under way (if any) has not run past the commit timeout.
    /// In `answered` mode the executor refuses calls while this is `false`.
    pub fn is_writing(&self) -> bool {
        !self.inner.closing.load(Ordering::Acquire) && self.inner.shared.is_writing()
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
        let shared = &self.inner.shared;
        AuditStats {
            written: shared.written.load(Ordering::Relaxed),
            batches: shared.batches.load(Ordering::Relaxed),
            failed_attempts: shared.failed_attempts.load(Ordering::Relaxed),
            backlog: shared.backlog.load(Ordering::Relaxed),
        }
    }
}

/// Room for one record in the audit log's channel, from [`AuditLog::reserve`].
pub(crate) struct RecordPermit<'a> {
    permit: mpsc::Permit<'a, Message>,
    inner: &'a Inner,
}

/// The place of an awaited record among those awaited: it is committed once the writer has
/// committed this many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket(u64);

impl RecordPermit<'_> {
    /// Hands `record` to the writer.
    pub(crate) fn record(self, record: AuditRecord) {
        self.inner.shared.backlog.fetch_add(1, Ordering::Relaxed);
        self.permit.send(Message::Record(record));
    }

    /// Hands `record` to the writer, to be waited for with [`AuditLog::committed`].
    pub(crate) fn record_awaited(self, record: AuditRecord) -> Ticket {
        self.inner.shared.backlog.fetch_add(1, Ordering::Relaxed);
        // Only ticket order and send order matter here: a panic cannot leave them apart.
        let mut last = self
            .inner
            .tickets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *last += 1;
        self.permit.send(Message::Awaited(record));
        Ticket(*last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
