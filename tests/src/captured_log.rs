//! [`CapturedLog`]: what a `tracing` subscriber writes, kept in memory for a test to read.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Everything written to it: the log of one test. Clones share the buffer, so one goes to the
/// subscriber (`.with_writer(log.clone())`) and the test keeps the other.
#[derive(Debug, Clone, Default)]
pub struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl CapturedLog {
    /// A log of everything this thread's code writes from now until the guard is dropped:
    /// every level, every span's opening and closing with its fields, without colours. The
    /// test keeps the log; `set_default` makes the capture the thread's, so tests running
    /// beside it on other threads do not write into it.
    ///
    /// While a process has registered a single dispatcher, `tracing` works out a new
    /// callsite's interest from the default of the thread that first reaches it: a callsite
    /// first reached on another test's thread, which has none, would be switched off for the
    /// capture too. A second dispatcher, kept for the life of the process, makes `tracing` ask
    /// every registered one instead, the capture among them.
    #[must_use]
    pub fn of_this_thread() -> (Self, tracing::subscriber::DefaultGuard) {
        static SECOND_DISPATCHER: OnceLock<tracing::Dispatch> = OnceLock::new();
        SECOND_DISPATCHER
            .get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
        let log = Self::default();
        let guard = tracing_subscriber::fmt()
            .with_writer(log.clone())
            .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
            .with_ansi(false)
            .finish()
            .set_default();
        (log, guard)
    }

    /// What was written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

impl std::io::Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl MakeWriter<'_> for CapturedLog {
    type Writer = Self;

    fn make_writer(&self) -> Self {
        self.clone()
    }
}
