//! Audit sinks for tests that look at records without a database.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use fact_runtime::audit::{AuditError, AuditRecord, AuditSink};
use futures::future::BoxFuture;

/// Keeps what it is given in memory, after failing its first `failures` writes.
#[derive(Debug, Default)]
pub struct MemorySink {
    failures: AtomicUsize,
    records: Mutex<Vec<AuditRecord>>,
}

impl MemorySink {
    /// A sink whose first `failures` writes fail.
    pub fn failing_first(failures: usize) -> Self {
        Self {
            failures: AtomicUsize::new(failures),
            records: Mutex::default(),
        }
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
