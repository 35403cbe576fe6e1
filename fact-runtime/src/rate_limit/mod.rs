//! Rate limiting: quotas ([`RateLimit`]) and the [`RateLimitStore`] trait behind which a
//! shared backend (`RedisRateLimitStore`, for several replicas) can replace the in-process
//! default.
//!
//! The executor limits with GCRA: a quota of N calls per minute admits a burst of up to `burst`
//! calls at once, then one call every `60/N` seconds. It is off unless
//! [`ToolExecutorBuilder::enable_rate_limiting`](crate::ToolExecutorBuilder::enable_rate_limiting)
//! (or [`RateLimitConfig`], from the environment) turns it on; then every call passes the
//! executor's quota and, for a tool that sets one (`#[tool(rate_limit = N)]` or
//! [`ToolExecutorBuilder::tool_rate_limit`](crate::ToolExecutorBuilder::tool_rate_limit)), the
//! tool's own. A refusal is a 429 `RateLimitError` with `retry_after_ms` in its metadata. A
//! shared store that cannot answer is handled by [`StoreErrorPolicy`]: 503 by default.

mod config;
mod policy;
#[cfg(feature = "redis")]
mod redis;

pub use config::{RATE_LIMIT_VARIABLES, RateLimitConfig, RateLimitConfigError};
pub use policy::StoreErrorPolicy;
pub(crate) use policy::StoreErrors;
#[cfg(feature = "redis")]
pub use redis::{RedisRateLimitStore, RedisRateLimitStoreBuilder, RedisStoreConfigError};

use std::fmt;
use std::time::Duration;

use futures::future::BoxFuture;

/// A quota: `per_minute` calls per minute, in bursts of at most `burst` (default: `per_minute`).
///
/// ```
/// use fact_runtime::RateLimit;
///
/// // 120 calls a minute, but never more than 10 back to back.
/// let quota = RateLimit::per_minute(120).burst(10);
/// assert_eq!(quota.calls_per_minute(), 120);
/// assert_eq!(quota.max_burst(), 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    per_minute: u32,
    burst: Option<u32>,
}

impl RateLimit {
    /// `calls` per minute, with a burst of as many. Zero is refused when the executor is built.
    pub const fn per_minute(calls: u32) -> Self {
        Self {
            per_minute: calls,
            burst: None,
        }
    }

    /// The same quota at `calls` per minute, keeping an explicit burst.
    pub(crate) const fn with_calls_per_minute(mut self, calls: u32) -> Self {
        self.per_minute = calls;
        self
    }

    /// Caps how many calls may run back to back before the steady rate applies.
    #[must_use]
    pub const fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// Calls admitted per minute, on average.
    pub const fn calls_per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Calls admitted back to back.
    pub const fn max_burst(&self) -> u32 {
        match self.burst {
            Some(burst) => burst,
            None => self.per_minute,
        }
    }

    /// The time between two calls at the steady rate.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(60) / self.per_minute.max(1)
    }

    pub(crate) fn check(&self, what: &str) -> Result<(), String> {
        if self.per_minute == 0 {
            return Err(format!("{what}: calls per minute must be at least 1"));
        }
        if self.max_burst() == 0 {
            return Err(format!("{what}: burst must be at least 1"));
        }
        Ok(())
    }
}

/// The caller a quota is counted against: one user, or everyone at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateLimitKey<'a> {
    /// Calls from this user (`rate_limit_by_user`).
    User(&'a str),
    /// Calls that name no user, when limiting by user: they share one key.
    Anonymous,
    /// Every call, when not limiting by user.
    Everyone,
}

/// What a [`RateLimitStore`] decided about one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The call is within its quota; one unit of it is spent.
    Admitted,
    /// The call is over its quota and nothing was spent: one would be admitted `retry_after`
    /// from now.
    Refused {
        /// How long until a call for the same key would be admitted.
        retry_after: Duration,
    },
}

/// Why a [`RateLimitStore`] could not decide: the call's fate is then the executor's
/// [`StoreErrorPolicy`]'s. Messages never hold a secret (a password of the store's URL).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RateLimitStoreError {
    /// The store did not answer within its deadline.
    #[error("the rate-limit store did not answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    /// The store could not be reached, or the connection to it failed.
    #[error("the rate-limit store is unreachable: {0}")]
    Unreachable(String),
    /// The store answered, but not as expected (an error reply, a reply of the wrong shape).
    #[error("the rate-limit store answered unexpectedly: {0}")]
    Unexpected(String),
}

/// Where quota state lives. The default keeps it in process (`governor`, pruned periodically);
/// a shared store (`RedisRateLimitStore`, feature `redis`) lets several replicas enforce one
/// quota.
///
/// `scope` is `"*"` for the executor's quota, or a tool's name for that tool's own quota. An
/// implementation must be atomic: with `quota.max_burst()` = N and many simultaneous calls for
/// one key, exactly N are admitted. A store that cannot decide returns an error, never panics
/// and never hangs: bound every wait.
///
/// ```
/// use std::time::Duration;
/// use fact_runtime::{Admission, RateLimit, RateLimitKey, RateLimitStore, RateLimitStoreError};
/// use futures::future::BoxFuture;
///
/// /// Refuses every call: a store for a maintenance window.
/// #[derive(Debug)]
/// struct Closed;
///
/// impl RateLimitStore for Closed {
///     fn acquire<'a>(
///         &'a self,
///         _scope: &'a str,
///         _key: RateLimitKey<'a>,
///         _quota: RateLimit,
///     ) -> BoxFuture<'a, Result<Admission, RateLimitStoreError>> {
///         Box::pin(async { Ok(Admission::Refused { retry_after: Duration::from_secs(60) }) })
///     }
/// }
/// ```
pub trait RateLimitStore: Send + Sync + fmt::Debug + 'static {
    /// Admits one call for `key` in `scope`, or refuses it with how long until one would be
    /// admitted; an error when the store cannot tell.
    fn acquire<'a>(
        &'a self,
        scope: &'a str,
        key: RateLimitKey<'a>,
        quota: RateLimit,
    ) -> BoxFuture<'a, Result<Admission, RateLimitStoreError>>;

    /// Whether the store answers now: `fact serve` asks at start-up, to warn early. The
    /// default, for a store that cannot fail, says yes.
    fn check(&self) -> BoxFuture<'_, Result<(), RateLimitStoreError>> {
        Box::pin(async { Ok(()) })
    }
}
