//! Audit sinks for tests: one that keeps records in memory, without a database, and one that
//! watches a real sink.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use fact_runtime::audit::{AuditError, AuditRecord, AuditSink};
use futures::future::BoxFuture;
use tokio::sync::{Notify, watch};

/// Keeps what it is given in memory. It can fail its first writes, and hold every write until
/// released, to play a slow or broken database.
#[derive(Debug)]
pub struct MemorySink {
    failures: AtomicUsize,
    /// Writes wait while this is `false`.
    gate: watch::Sender<bool>,
    writing: Notify,
    records: Mutex<Vec<AuditRecord>>,
}

impl Default for MemorySink {
    fn default() -> Self {
        Self::failing_first(0)
    }
}

impl MemorySink {
    /// A sink whose first `failures` writes fail.
    pub fn failing_first(failures: usize) -> Self {
        Self {
            failures: AtomicUsize::new(failures),
            gate: watch::Sender::new(true),
            writing: Notify::new(),
            records: Mutex::default(),
        }
    }

    /// While `hold` is set, writes wait before they are kept (or fail).
    pub fn hold(&self, hold: bool) {
        self.gate.send_replace(!hold);
    }

    /// Returns once a write has begun (and, when held, waits).
    pub async fn writing(&self) {
        self.writing.notified().await;
    }

    /// Every record written so far, in order.
    pub fn records(&self) -> Vec<AuditRecord> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl AuditSink for MemorySink {
    fn write_batch<'a>(
        &'a self,
        records: &'a [AuditRecord],
    ) -> BoxFuture<'a, Result<(), AuditError>> {
        Box::pin(async move {
            self.writing.notify_one();
            self.gate
                .subscribe()
                .wait_for(|open| *open)
                .await
                .map_err(|_| AuditError::sink("gate dropped"))?;
            let failing = self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    left.checked_sub(1)
                })
                .is_ok();
            if failing {
                return Err(AuditError::sink("disk on fire"));
            }
            self.records
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(records);
            Ok(())
        })
    }
}

/// Wraps a real sink (SQLite, PostgreSQL) to watch what it commits, and to play a lost
/// acknowledgement: a write that the database committed but whose success never reached the
/// writer, so that the writer retries a batch already stored.
#[derive(Debug)]
pub struct ObservedSink {
    inner: std::sync::Arc<dyn AuditSink>,
    lost_acks: AtomicUsize,
    committed: Mutex<std::collections::HashSet<String>>,
}

impl ObservedSink {
    /// Watches `inner`.
    pub fn new(inner: std::sync::Arc<dyn AuditSink>) -> Self {
        Self {
            inner,
            lost_acks: AtomicUsize::new(0),
            committed: Mutex::default(),
        }
    }

    /// The next `writes` successful writes are reported as failures, after committing.
    pub fn lose_acks(&self, writes: usize) {
        self.lost_acks.store(writes, Ordering::SeqCst);
    }

    /// Whether the record of `call_id` has been committed (its write reported success, or
    /// committed and its acknowledgement lost).
    pub fn is_committed(&self, call_id: &str) -> bool {
        self.committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(call_id)
    }
}

impl AuditSink for ObservedSink {
    fn write_batch<'a>(
        &'a self,
        records: &'a [AuditRecord],
    ) -> BoxFuture<'a, Result<(), AuditError>> {
        Box::pin(async move {
            self.inner.write_batch(records).await?;
            self.committed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(records.iter().map(|record| record.call_id.clone()));
            let lost = self
                .lost_acks
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    left.checked_sub(1)
                })
                .is_ok();
            if lost {
                return Err(AuditError::sink(
                    "connection lost before the commit was acknowledged",
                ));
            }
            Ok(())
        })
    }
}
