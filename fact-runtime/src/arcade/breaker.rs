//! A circuit breaker per remote Engine: after `failures` consecutive transport failures, calls
//! skip the Engine for a cool-down; then one call probes it, and its outcome closes the circuit
//! or opens it again (docs/ARCHITECTURE.md, "Remote execution"). Time is read from the
//! executor's [`Clock`](crate::Clock), so tests move it by hand.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::clock::SharedClock;

/// Consecutive transport failures that open the circuit, unless set.
pub const DEFAULT_BREAKER_FAILURES: u32 = 5;
/// How long an open circuit skips the Engine before a probe, unless set.
pub const DEFAULT_BREAKER_COOL_DOWN: Duration = Duration::from_secs(30);

/// The state of a circuit, as `/health` and the metrics report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CircuitState {
    /// Calls go to the Engine.
    Closed,
    /// Calls skip the Engine until the cool-down ends.
    Open,
    /// The cool-down ended: one call is probing the Engine.
    HalfOpen,
}

impl CircuitState {
    /// `closed`, `open`, `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// Whether a call may go to the Engine now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Yes: the circuit is closed.
    Go,
    /// Yes, as the one probe after a cool-down: its outcome decides the circuit.
    Probe,
    /// No: the circuit is open (or another call probes) for about this long still.
    Skip { retry_after: Duration },
}

#[derive(Debug)]
pub(crate) struct CircuitBreaker {
    failures_to_open: u32,
    cool_down: Duration,
    clock: SharedClock,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Closed { failures: u32 },
    Open { until: Duration },
    HalfOpen,
}

impl CircuitBreaker {
    pub(crate) fn new(failures_to_open: u32, cool_down: Duration, clock: SharedClock) -> Self {
        Self {
            failures_to_open: failures_to_open.max(1),
            cool_down,
            clock,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a few words, each write whole: a panic elsewhere leaves it valid.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a call may go to the Engine now; the first call after a cool-down is the probe.
    pub(crate) fn admit(&self) -> Admission {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => Admission::Go,
            State::Open { until } => {
                let now = self.clock.now();
                if now >= until {
                    *state = State::HalfOpen;
                    Admission::Probe
                } else {
                    Admission::Skip {
                        retry_after: until - now,
                    }
                }
            }
            State::HalfOpen => Admission::Skip {
                retry_after: Duration::from_secs(1),
            },
        }
    }

    /// The Engine answered (whatever the tool did): the circuit closes.
    pub(crate) fn succeeded(&self) {
        *self.lock() = State::Closed { failures: 0 };
    }

    /// The Engine could not be reached or failed: one more consecutive failure, which opens the
    /// circuit at the threshold, or at once after a failed probe.
    pub(crate) fn failed(&self) {
        let mut state = self.lock();
        let open = State::Open {
            until: self.clock.now() + self.cool_down,
        };
        *state = match *state {
            State::Closed { failures } if failures + 1 >= self.failures_to_open => {
                tracing::warn!(
                    failures = failures + 1,
                    cool_down_s = self.cool_down.as_secs_f64(),
                    "Arcade Engine circuit opened"
                );
                open
            }
            State::Closed { failures } => State::Closed {
                failures: failures + 1,
            },
            // A late failure of a call admitted before the circuit opened does not push the
            // probe back.
            State::Open { until } => State::Open { until },
            State::HalfOpen => open,
        };
    }

    /// A call admitted as the probe ended without telling anything (its caller stopped
    /// waiting): the next call probes instead.
    pub(crate) fn probe_abandoned(&self) {
        let mut state = self.lock();
        if matches!(*state, State::HalfOpen) {
            *state = State::Open {
                until: self.clock.now(),
            };
        }
    }

    pub(crate) fn state(&self) -> CircuitState {
        match *self.lock() {
            State::Closed { .. } => CircuitState::Closed,
            State::Open { .. } => CircuitState::Open,
            State::HalfOpen => CircuitState::HalfOpen,
        }
    }

    pub(crate) fn failures_to_open(&self) -> u32 {
        self.failures_to_open
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Arc;

    #[test]
    fn the_circuit_opens_after_consecutive_failures_probes_and_closes() {
        let clock = ManualClock::new(Duration::from_secs(1_000));
        let breaker = CircuitBreaker::new(3, Duration::from_secs(30), Arc::new(clock.clone()));
        breaker.failed();
        breaker.failed();
        // A success in between starts the count again.
        breaker.succeeded();
        breaker.failed();
        breaker.failed();
        assert_eq!(breaker.admit(), Admission::Go);
        breaker.failed();
        assert_eq!(breaker.state(), CircuitState::Open);
        assert_eq!(
            breaker.admit(),
            Admission::Skip {
                retry_after: Duration::from_secs(30)
            }
        );
        clock.advance(Duration::from_secs(29));
        assert_eq!(
            breaker.admit(),
            Admission::Skip {
                retry_after: Duration::from_secs(1)
            }
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(breaker.admit(), Admission::Probe);
        // One probe at a time.
        assert!(matches!(breaker.admit(), Admission::Skip { .. }));
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        // A failed probe opens it again for a whole cool-down.
        breaker.failed();
        assert_eq!(breaker.state(), CircuitState::Open);
        clock.advance(Duration::from_secs(30));
        assert_eq!(breaker.admit(), Admission::Probe);
        breaker.succeeded();
        assert_eq!(breaker.state(), CircuitState::Closed);
        assert_eq!(breaker.admit(), Admission::Go);
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_call_probe() {
        let clock = ManualClock::new(Duration::from_secs(1_000));
        let breaker = CircuitBreaker::new(1, Duration::from_secs(10), Arc::new(clock.clone()));
        breaker.failed();
        clock.advance(Duration::from_secs(10));
        assert_eq!(breaker.admit(), Admission::Probe);
        breaker.probe_abandoned();
        assert_eq!(breaker.admit(), Admission::Probe);
    }
}
