//! What happens to a call when the shared rate-limit store cannot decide: the policy
//! ([`StoreErrorPolicy`]) and its bookkeeping (a counter, a warning that an outage cannot turn
//! into a flood of log lines).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::clock::SharedClock;
use crate::error::ToolError;
use crate::metrics::RATE_LIMIT_STORE_ERRORS_TOTAL;

use super::RateLimitStoreError;

/// The message of a call refused because the store could not decide. It names no host and no
/// secret: the log line has the details.
pub(crate) const STORE_UNREACHABLE: &str =
    "The rate-limit store is unreachable, so the call was not started. Try again shortly.";

/// The `retry_after` of such a refusal.
pub(crate) const STORE_ERROR_RETRY_AFTER: Duration = Duration::from_secs(1);

/// At most one warning about store errors this often; the errors in between are counted and
/// reported with the next one.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// What the executor does with a call when its [`RateLimitStore`](super::RateLimitStore)
/// cannot decide (Redis down, a timeout): `FACT_RATE_LIMIT_ON_STORE_ERROR`, or
/// [`ToolExecutorBuilder::rate_limit_on_store_error`](crate::ToolExecutorBuilder::rate_limit_on_store_error).
///
/// Either way the error is counted in `fact_rate_limit_store_errors_total{policy}` and logged
/// as a warning, at most once every ten seconds.
///
/// ```
/// use fact_runtime::StoreErrorPolicy;
///
/// assert_eq!(StoreErrorPolicy::default(), StoreErrorPolicy::Deny);
/// assert_eq!(StoreErrorPolicy::Allow.as_str(), "allow");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StoreErrorPolicy {
    /// Refuse the call: 503 `ServiceUnavailableError` with `retry_after_ms` (and `Retry-After`
    /// over HTTP). No call escapes its quota; none is served while the store is down.
    #[default]
    Deny,
    /// Let the call through unlimited. Service goes on; quotas are not enforced until the
    /// store answers again.
    Allow,
}

impl StoreErrorPolicy {
    /// `"deny"` or `"allow"`: the value of `FACT_RATE_LIMIT_ON_STORE_ERROR` and of the
    /// counter's `policy` label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Deny => "deny",
            Self::Allow => "allow",
        }
    }

    /// The policy named `value` (`deny` or `allow`, any case), or `None`.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "deny" => Some(Self::Deny),
            "allow" => Some(Self::Allow),
            _ => None,
        }
    }
}

impl std::fmt::Display for StoreErrorPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Applies the policy to each store error, counts it, and warns, at most every
/// [`WARN_EVERY`]; logs once when the store answers again.
#[derive(Debug)]
pub(crate) struct StoreErrors {
    policy: StoreErrorPolicy,
    clock: SharedClock,
    /// When the last warning was logged, in nanoseconds of the clock; [`NEVER`] before the
    /// first.
    last_warning: AtomicU64,
    /// Errors since the last warning that did not log one.
    suppressed: AtomicU64,
    /// Whether the last answer of the store was an error.
    failing: AtomicBool,
}

const NEVER: u64 = u64::MAX;

impl StoreErrors {
    pub(crate) fn new(policy: StoreErrorPolicy, clock: SharedClock) -> Self {
        Self {
            policy,
            clock,
            last_warning: AtomicU64::new(NEVER),
            suppressed: AtomicU64::new(0),
            failing: AtomicBool::new(false),
        }
    }

    /// The call's fate after `error` from the store asked about `scope`: admitted under
    /// [`StoreErrorPolicy::Allow`], a 503 under [`StoreErrorPolicy::Deny`].
    pub(crate) fn on_error(
        &self,
        scope: &str,
        error: &RateLimitStoreError,
    ) -> Result<(), ToolError> {
        metrics::counter!(RATE_LIMIT_STORE_ERRORS_TOTAL, "policy" => self.policy.as_str())
            .increment(1);
        self.failing.store(true, Ordering::Relaxed);
        if let Some(suppressed) = self.warning_due() {
            let outcome = match self.policy {
                StoreErrorPolicy::Deny => "calls are refused with 503 until it answers",
                StoreErrorPolicy::Allow => "calls pass without rate limits until it answers",
            };
            tracing::warn!(
                policy = self.policy.as_str(),
                scope,
                %error,
                errors_not_logged = suppressed,
                "the rate-limit store cannot decide: {outcome}"
            );
        }
        match self.policy {
            StoreErrorPolicy::Allow => Ok(()),
            StoreErrorPolicy::Deny => Err(ToolError::unavailable(
                STORE_UNREACHABLE,
                STORE_ERROR_RETRY_AFTER,
            )),
        }
    }

    /// Notes an answer of the store: the first after errors is logged.
    pub(crate) fn on_answer(&self) {
        if self.failing.load(Ordering::Relaxed) && self.failing.swap(false, Ordering::Relaxed) {
            tracing::info!("the rate-limit store answers again: quotas are enforced");
        }
    }

    /// `Some(errors not logged since the last warning)` when this error should be logged.
    fn warning_due(&self) -> Option<u64> {
        let now = u64::try_from(self.clock.now().as_nanos()).unwrap_or(NEVER - 1);
        let last = self.last_warning.load(Ordering::Relaxed);
        let every = u64::try_from(WARN_EVERY.as_nanos()).unwrap_or(u64::MAX);
        let due = last == NEVER || now.saturating_sub(last) >= every;
        if due
            && self
                .last_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.suppressed.swap(0, Ordering::Relaxed));
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::error::ErrorKind;

    fn errors(policy: StoreErrorPolicy, clock: &ManualClock) -> StoreErrors {
        StoreErrors::new(policy, Arc::new(clock.clone()))
    }

    fn unreachable() -> RateLimitStoreError {
        RateLimitStoreError::Unreachable("Connection refused (os error 111)".to_owned())
    }

    #[test]
    fn deny_refuses_with_a_503_that_says_when_to_retry_and_names_the_store() {
        let clock = ManualClock::new(Duration::from_secs(1_000));
        let refused = errors(StoreErrorPolicy::Deny, &clock)
            .on_error("*", &unreachable())
            .err();
        let Some(refused) = refused else {
            panic!("deny lets a call through")
        };
        assert_eq!(refused.kind(), ErrorKind::Unavailable);
        assert_eq!(refused.retry_after(), Some(Duration::from_secs(1)));
        assert!(
            refused
                .to_string()
                .contains("rate-limit store is unreachable")
        );
    }

    #[test]
    fn allow_lets_the_call_through() {
        let clock = ManualClock::new(Duration::from_secs(1_000));
        let allowed = errors(StoreErrorPolicy::Allow, &clock).on_error("*", &unreachable());
        assert!(allowed.is_ok());
    }

    #[test]
    fn an_outage_logs_one_warning_per_ten_seconds_with_the_count_of_the_others() {
        let clock = ManualClock::new(Duration::from_secs(1_000));
        let errors = errors(StoreErrorPolicy::Allow, &clock);
        assert_eq!(errors.warning_due(), Some(0), "the first error is logged");
        for _ in 0..999 {
            assert_eq!(errors.warning_due(), None);
        }
        clock.advance(Duration::from_millis(9_999));
        assert_eq!(errors.warning_due(), None);
        clock.advance(Duration::from_millis(1));
        assert_eq!(errors.warning_due(), Some(1_000));
        assert_eq!(errors.warning_due(), None);
    }

    #[test]
    fn policies_parse_from_their_names_in_any_case() {
        assert_eq!(
            StoreErrorPolicy::parse(" Deny "),
            Some(StoreErrorPolicy::Deny)
        );
        assert_eq!(
            StoreErrorPolicy::parse("ALLOW"),
            Some(StoreErrorPolicy::Allow)
        );
        assert_eq!(StoreErrorPolicy::parse("open"), None);
    }
}
