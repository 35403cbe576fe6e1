//! [`Clock`]: where the pipeline reads the time, so that rate windows, flow expiry and token
//! expiry can be driven by a test without sleeping.

use std::fmt;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of the current time, as the duration since the Unix epoch.
///
/// Implementations must never go backwards: rate limiting depends on it.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The time now, since the Unix epoch.
    fn now(&self) -> Duration;
}

/// A clock shared by the stages of one executor.
pub type SharedClock = Arc<dyn Clock>;

/// The real clock: wall time read once at start-up, then advanced by the monotonic clock, so it
/// tracks the calendar yet never jumps back when the system time is adjusted.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        static ANCHOR: OnceLock<(Duration, Instant)> = OnceLock::new();
        let (wall, mono) = ANCHOR.get_or_init(|| {
            let wall = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO);
            (wall, Instant::now())
        });
        *wall + mono.elapsed()
    }
}

/// A clock that moves only when told to: for tests of rate windows and expiry. Clones share the
/// same time.
///
/// ```
/// use fact_runtime::{Clock, ManualClock};
/// use std::time::Duration;
///
/// let clock = ManualClock::new(Duration::from_secs(1_700_000_000));
/// let shared = clock.clone();
/// clock.advance(Duration::from_secs(60));
/// assert_eq!(shared.now(), Duration::from_secs(1_700_000_060));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock reading `start` (since the Unix epoch).
    pub fn new(start: Duration) -> Self {
        Self {
            nanos: Arc::new(AtomicU64::new(saturating_nanos(start))),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.nanos.fetch_add(saturating_nanos(by), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_is_near_the_wall_clock_and_monotonic() {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let first = SystemClock.now();
        let second = SystemClock.now();
        assert!(second >= first);
        assert!(first.abs_diff(wall) < Duration::from_secs(5));
    }

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new(Duration::from_secs(10));
        assert_eq!(clock.now(), Duration::from_secs(10));
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now(), Duration::from_millis(11_500));
    }
}
