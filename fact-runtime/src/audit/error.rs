//! [`AuditError`]: what writing, querying or running the audit log can fail with.

/// Why the audit log could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The audit database refused or could not be reached.
    #[error(
        "audit database error: {0}; check that DATABASE_URL names a reachable SQLite file or \
         PostgreSQL server that this process may write to"
    )]
    Database(#[from] sqlx::Error),
    /// A custom [`AuditSink`](super::AuditSink) failed.
    #[error("audit sink failed: {0}")]
    Sink(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The log has been shut down (or its writer has stopped): the record was not accepted.
    #[error(
        "the audit log is shut down and accepts no more records; record calls before \
         `AuditLog::shutdown`"
    )]
    Closed,
    /// An `AuditConfig` value is out of range.
    #[error("invalid audit configuration: {0}")]
    InvalidConfig(String),
    /// `AuditLog::start` was called outside a tokio runtime.
    #[error(
        "the audit log needs a tokio runtime to run its writer; call `AuditLog::start` from \
         within one"
    )]
    NoRuntime,
    /// The writer task panicked; records it held may not have been written.
    #[error("the audit writer task panicked; records it held may not have been written")]
    WriterPanicked,
    /// A stored row holds a value that no `AuditRecord` can have.
    #[error("audit row has an invalid `{column}`: {reason}")]
    InvalidRow {
        /// The column that holds the bad value.
        column: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl AuditError {
    /// Wraps the error of a custom sink.
    pub fn sink(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Sink(error.into())
    }
}
