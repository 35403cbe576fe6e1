//! A deadline that costs nothing for a future that does not wait.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use tokio::time::{Instant, error::Elapsed};

/// The instant `timeout` from now; a timeout too long for the clock (`Duration::MAX`, say) is
/// a deadline thirty years away, as tokio's own `timeout` makes it, rather than a panic.
pub(crate) fn after(timeout: Duration) -> Instant {
    since(Instant::now(), timeout)
}

/// The instant `timeout` after `now`, as [`after`] makes it: for several deadlines from one
/// reading of the clock.
pub(crate) fn since(now: Instant, timeout: Duration) -> Instant {
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

/// `future`'s output, or [`Elapsed`] once `deadline` passes, as `tokio::time::timeout_at`
/// answers; but a future that is ready when first polled takes no timer. A timer takes a
/// handle on the runtime (a count every worker thread writes) and an entry in its wheel, which
/// most calls and requests, answered on their first poll, never need. `timeout_at` too polls
/// the future before it looks at the deadline, so the answers are the same.
pub(crate) async fn within<F: Future>(deadline: Instant, future: F) -> Result<F::Output, Elapsed> {
    let mut future = pin!(future);
    let first = std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => tokio::time::timeout_at(deadline, future).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_timeout_too_long_for_the_clock_is_far_away_not_a_panic() {
        let far = after(Duration::MAX);
        assert!(far > Instant::now() + Duration::from_secs(86_400 * 365 * 29));
        assert_eq!(
            after(Duration::from_secs(3)),
            Instant::now() + Duration::from_secs(3)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_ready_future_answers_even_past_its_deadline() {
        let past = Instant::now() - Duration::from_secs(1);
        assert_eq!(within(past, async { 7 }).await.ok(), Some(7));
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_future_meets_its_deadline_or_answers_before_it() {
        let start = Instant::now();
        let late = within(
            start + Duration::from_millis(10),
            tokio::time::sleep(Duration::from_millis(20)),
        )
        .await;
        assert!(late.is_err());
        assert_eq!(start.elapsed(), Duration::from_millis(10));

        let start = Instant::now();
        let early = within(start + Duration::from_millis(30), async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            "done"
        })
        .await;
        assert_eq!(early.ok(), Some("done"));
        assert_eq!(start.elapsed(), Duration::from_millis(20));
    }
}
