//! [`AuditConfig`]: how the audit log buffers, batches and retries.

use std::time::Duration;

use super::{AuditDurability, AuditError};

/// Settings of an [`AuditLog`](super::AuditLog).
///
/// ```
/// use std::time::Duration;
///
/// use fact_runtime::audit::{AuditConfig, AuditDurability};
///
/// let config = AuditConfig::default().channel_capacity(1024).include_arguments(true);
/// assert_eq!(config.batch_size, 2048);
/// assert!(config.validate().is_ok());
///
/// // What `fact serve` runs with by default: answers wait for their record's commit.
/// let durable = AuditConfig::default().durability(AuditDurability::Answered);
/// assert_eq!(durable.commit_timeout, Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditConfig {
    /// Records that may wait for the writer; when they are this many, callers of
    /// `AuditLog::record` wait for room (nothing is dropped). At least 1; default 8192.
    pub channel_capacity: usize,
    /// Most records the writer hands the sink at once. At least 1; default 2048. Under load,
    /// larger batches write faster (into SQLite, 2048 gave about 1.4× the records per second
    /// of 512); when calls are few, batches are as small as what is waiting.
    pub batch_size: usize,
    /// Whether records keep the raw arguments (`AuditRecord::arguments`); default `false`,
    /// since arguments may hold personal data. The log does not enforce it: whoever builds
    /// the records reads `AuditLog::include_arguments`.
    pub include_arguments: bool,
    /// Pause after the first failed write of a batch; doubled after each further failure of
    /// the same batch up to `max_retry_backoff`. Default 100 ms.
    pub retry_backoff: Duration,
    /// Longest pause between two attempts at one batch. Default 2 s: in
    /// [`Answered`](AuditDurability::Answered) mode calls are refused while the writer is
    /// failing, so this bounds how long after the database returns they still are.
    pub max_retry_backoff: Duration,
    /// When the executor answers a call relative to its record's commit; default
    /// [`Queued`](AuditDurability::Queued). The log enforces nothing itself: the executor
    /// reads `AuditLog::durability`.
    pub durability: AuditDurability,
    /// In [`Answered`](AuditDurability::Answered) mode: how long a call whose tool has run
    /// waits for its record's commit before it is answered 503 `AuditUnavailableError`, and
    /// how long one write attempt may take before the writer counts as failing. At least
    /// 1 ms; default 5 s.
    pub commit_timeout: Duration,
    /// How long records nobody waits for may gather before the writer commits them, so that
    /// one transaction holds many: a record is written at most this long after the writer
    /// takes it (longer only while the database is down). A record whose caller waits for
    /// its commit ([`Answered`](AuditDurability::Answered)), a flush and a shutdown are
    /// written at once, with whatever gathered. Zero writes whatever is waiting as soon as
    /// the writer is free. Default 20 ms.
    pub linger: Duration,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            channel_capacity: 8192,
            batch_size: 2048,
            include_arguments: false,
            retry_backoff: Duration::from_millis(100),
            max_retry_backoff: Duration::from_secs(2),
            durability: AuditDurability::Queued,
            commit_timeout: Duration::from_secs(5),
            linger: Duration::from_millis(20),
        }
    }
}

impl AuditConfig {
    /// Sets [`channel_capacity`](Self::channel_capacity).
    pub fn channel_capacity(mut self, capacity: usize) -> Self {
        self.channel_capacity = capacity;
        self
    }

    /// Sets [`batch_size`](Self::batch_size).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Sets [`include_arguments`](Self::include_arguments).
    pub fn include_arguments(mut self, include: bool) -> Self {
        self.include_arguments = include;
        self
    }

    /// Sets [`retry_backoff`](Self::retry_backoff) and
    /// [`max_retry_backoff`](Self::max_retry_backoff).
    pub fn retry_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.retry_backoff = first;
        self.max_retry_backoff = max;
        self
    }

    /// Sets [`durability`](Self::durability).
    pub fn durability(mut self, durability: AuditDurability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets [`commit_timeout`](Self::commit_timeout).
    pub fn commit_timeout(mut self, timeout: Duration) -> Self {
        self.commit_timeout = timeout;
        self
    }

    /// Sets [`linger`](Self::linger).
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Checks that every value is in range; `AuditLog::start` calls it.
    pub fn validate(&self) -> Result<(), AuditError> {
        if self.channel_capacity == 0 {
            return Err(AuditError::InvalidConfig(
                "`channel_capacity` must be at least 1, got 0".into(),
            ));
        }
        if self.channel_capacity > tokio::sync::Semaphore::MAX_PERMITS {
            return Err(AuditError::InvalidConfig(format!(
                "`channel_capacity` must be at most {}, got {}",
                tokio::sync::Semaphore::MAX_PERMITS,
                self.channel_capacity
            )));
        }
        if self.batch_size == 0 {
            return Err(AuditError::InvalidConfig(
                "`batch_size` must be at least 1, got 0".into(),
            ));
        }
        if self.max_retry_backoff < self.retry_backoff {
            return Err(AuditError::InvalidConfig(format!(
                "`max_retry_backoff` ({:?}) must not be shorter than `retry_backoff` ({:?})",
                self.max_retry_backoff, self.retry_backoff
            )));
        }
        if self.commit_timeout < Duration::from_millis(1) {
            return Err(AuditError::InvalidConfig(format!(
                "`commit_timeout` must be at least 1 ms, got {:?}",
                self.commit_timeout
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(AuditConfig::default().validate().is_ok());
    }

    #[test]
    fn zero_capacity_is_rejected() {
        let error = AuditConfig::default().channel_capacity(0).validate();
        assert!(
            matches!(error, Err(AuditError::InvalidConfig(ref m)) if m.contains("channel_capacity"))
        );
    }

    #[test]
    fn zero_batch_size_is_rejected() {
        let error = AuditConfig::default().batch_size(0).validate();
        assert!(matches!(error, Err(AuditError::InvalidConfig(ref m)) if m.contains("batch_size")));
    }

    #[test]
    fn capacity_and_batch_size_of_one_are_accepted() {
        let config = AuditConfig::default().channel_capacity(1).batch_size(1);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn durability_and_commit_timeout_are_set_by_the_builder() {
        let config = AuditConfig::default()
            .durability(AuditDurability::Answered)
            .commit_timeout(Duration::from_millis(250));
        assert_eq!(config.durability, AuditDurability::Answered);
        assert_eq!(config.commit_timeout, Duration::from_millis(250));
        assert!(config.validate().is_ok());
    }

    #[test]
    fn linger_is_set_by_the_builder_and_zero_is_accepted() {
        assert_eq!(AuditConfig::default().linger, Duration::from_millis(20));
        let config = AuditConfig::default().linger(Duration::ZERO);
        assert_eq!(config.linger, Duration::ZERO);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn a_zero_commit_timeout_is_rejected() {
        let config = AuditConfig::default().commit_timeout(Duration::ZERO);
        assert!(
            matches!(config.validate(), Err(AuditError::InvalidConfig(ref m)) if m.contains("commit_timeout"))
        );
    }

    #[test]
    fn backoff_cap_below_first_pause_is_rejected() {
        let config =
            AuditConfig::default().retry_backoff(Duration::from_secs(2), Duration::from_secs(1));
        assert!(
            matches!(config.validate(), Err(AuditError::InvalidConfig(ref m)) if m.contains("max_retry_backoff"))
        );
    }
}
