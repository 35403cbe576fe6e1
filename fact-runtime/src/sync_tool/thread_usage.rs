//! What the calling thread itself did during an inline run, as the kernel counts it: whether
//! it blocked (gave up its CPU of its own accord: a sleep, a read, a lock), and the CPU time it
//! was charged. Blocking is the tool's doing for certain. CPU time is not: a virtual machine's
//! thread is charged the time its host ran something else (measured on the project's machine:
//! 4 ms for an addition), so it is reported, never judged on.
//!
//! Linux only (`getrusage(RUSAGE_THREAD)`, about half a microsecond a reading); elsewhere
//! nothing is known.

use std::time::Duration;

/// The calling thread's counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ThreadUsage {
    /// User and system CPU time used so far.
    pub(super) cpu: Duration,
    /// How many times the thread gave up its CPU of its own accord.
    pub(super) voluntary_switches: i64,
}

/// What a thread did between two readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RunUsage {
    /// CPU time used.
    pub(super) cpu: Duration,
    /// Whether it blocked at least once.
    pub(super) blocked: bool,
}

impl ThreadUsage {
    /// The calling thread's counters now, where the platform tells them.
    #[cfg(target_os = "linux")]
    pub(super) fn now() -> Option<Self> {
        use nix::sys::resource::{UsageWho, getrusage};
        let usage = getrusage(UsageWho::RUSAGE_THREAD).ok()?;
        Some(Self {
            cpu: duration(usage.user_time()) + duration(usage.system_time()),
            voluntary_switches: usage.voluntary_context_switches(),
        })
    }

    /// The calling thread's counters now, where the platform tells them.
    #[cfg(not(target_os = "linux"))]
    pub(super) fn now() -> Option<Self> {
        None
    }

    /// What the thread did from this reading to `later`, a reading of the same thread.
    pub(super) fn until(self, later: Self) -> RunUsage {
        RunUsage {
            cpu: later.cpu.saturating_sub(self.cpu),
            blocked: later.voluntary_switches > self.voluntary_switches,
        }
    }
}

#[cfg(target_os = "linux")]
fn duration(time: nix::sys::time::TimeVal) -> Duration {
    let secs = u64::try_from(time.tv_sec()).unwrap_or(0);
    let micros = u64::try_from(time.tv_usec()).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(micros)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn reading() -> ThreadUsage {
        ThreadUsage::now().expect("Linux tells a thread's usage")
    }

    #[test]
    fn a_sleep_is_counted_as_blocking() {
        let before = reading();
        std::thread::sleep(Duration::from_millis(2));
        assert!(before.until(reading()).blocked);
    }

    #[test]
    fn computing_is_counted_as_cpu_time_without_blocking() {
        let before = reading();
        // Spins until the thread itself has used 3 ms of CPU, however long the clock says.
        let mut spins = 0_u64;
        let run = loop {
            spins = std::hint::black_box(spins.wrapping_add(1));
            let run = before.until(reading());
            if run.cpu >= Duration::from_millis(3) {
                break run;
            }
        };
        assert!(run.cpu >= Duration::from_millis(3));
        assert!(!run.blocked, "{run:?}");
    }
}
