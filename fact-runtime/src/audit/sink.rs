//! [`AuditSink`]: where the audit log writes its batches.

use std::fmt;

use futures::future::BoxFuture;

use super::{AuditError, AuditRecord};

/// A destination for audit records: the SQL store ([`SqlAuditSink`](super::SqlAuditSink)) or
/// one of your own.
///
/// The log's writer calls [`write_batch`](AuditSink::write_batch) with one batch at a time, in
/// the order the records were received. `Ok` must mean that the whole batch is durably stored;
/// on `Err` the writer keeps the batch and calls again with the same records after a pause, so
/// a sink should write a batch all or nothing (one transaction).
///
/// A sink that keeps records in memory, for example to forward them elsewhere:
///
/// ```
/// use std::sync::{Arc, Mutex};
///
/// use fact_runtime::audit::{AuditConfig, AuditError, AuditLog, AuditRecord, AuditSink};
/// use futures::future::BoxFuture;
///
/// #[derive(Debug, Default)]
/// struct MemorySink(Mutex<Vec<AuditRecord>>);
///
/// impl AuditSink for MemorySink {
///     fn write_batch<'a>(
///         &'a self,
///         records: &'a [AuditRecord],
///     ) -> BoxFuture<'a, Result<(), AuditError>> {
///         Box::pin(async move {
///             self.0
///                 .lock()
///                 .map_err(|_| AuditError::sink("memory sink poisoned"))?
///                 .extend_from_slice(records);
///             Ok(())
///         })
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), AuditError> {
/// let sink = Arc::new(MemorySink::default());
/// let log = AuditLog::start(sink.clone(), AuditConfig::default())?;
/// // ... log.record(record).await? for each call ...
/// let stats = log.shutdown().await?;
/// assert_eq!(stats.written, 0);
/// # Ok(())
/// # }
/// ```
pub trait AuditSink: Send + Sync + fmt::Debug {
    /// Stores `records`, all or nothing.
    fn write_batch<'a>(
        &'a self,
        records: &'a [AuditRecord],
    ) -> BoxFuture<'a, Result<(), AuditError>>;
}
