//! When and how long [`ArcadeClient`](super::ArcadeClient) waits before trying a request
//! again: exponential backoff with jitter, or what the Engine asked for with `retry-after-ms` /
//! `Retry-After`, up to a minute (docs/ARCHITECTURE.md, "Remote execution").

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// The longest wait an Engine may ask for that is honoured; a longer one ends the retries.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// The first backoff; each retry doubles it.
const BASE_BACKOFF: Duration = Duration::from_millis(500);
/// The longest backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// Waits between attempts. The default sleeps on tokio's timer; tests give one that records
/// the waits and returns at once, so retry timing is checked without sleeping.
pub trait Sleeper: Send + Sync + fmt::Debug + 'static {
    /// Waits `duration`.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// Sleeps on tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// The wait before retry number `retry` (0 for the first): what the Engine asked for when it
/// did, else `0.5 s × 2^retry` capped at 8 s, less up to a quarter at random so that many
/// clients do not retry in step. `None` when the Engine asked for longer than a minute.
pub(crate) fn delay(retry: u32, asked: Option<Duration>) -> Option<Duration> {
    if let Some(asked) = asked {
        return (asked <= MAX_RETRY_AFTER).then_some(asked);
    }
    let backoff = BASE_BACKOFF
        .saturating_mul(2u32.saturating_pow(retry))
        .min(MAX_BACKOFF);
    Some(backoff.mul_f64(1.0 - 0.25 * fastrand::f64()))
}

/// The wait an answer asks for: `retry-after-ms` (milliseconds), else `Retry-After` (seconds
/// or an HTTP date).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name)?.to_str().ok().map(str::trim);
    // A wait too long for a `Duration` is longer than any honoured: `Duration::MAX`.
    let seconds = |seconds: f64| {
        (seconds >= 0.0).then(|| Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
    };
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && !ms.is_nan()
        && ms >= 0.0
    {
        return seconds(ms / 1000.0);
    }
    let value = header("retry-after")?;
    if let Ok(value) = value.parse::<f64>() {
        return if value.is_nan() { None } else { seconds(value) };
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The Engine's `x-should-retry` header: `true`, `false`, or absent.
pub(crate) fn should_retry(headers: &HeaderMap) -> Option<bool> {
    match headers.get("x-should-retry")?.to_str().ok()?.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_eight_seconds() {
        for _ in 0..100 {
            let first = delay(0, None).expect("a wait");
            assert!(first <= Duration::from_millis(500) && first >= Duration::from_millis(375));
            let second = delay(1, None).expect("a wait");
            assert!(second <= Duration::from_secs(1) && second >= Duration::from_millis(750));
            let late = delay(30, None).expect("a wait");
            assert!(late <= MAX_BACKOFF && late >= Duration::from_secs(6));
        }
    }

    #[test]
    fn the_engines_wait_is_honoured_up_to_a_minute() {
        assert_eq!(
            delay(0, Some(Duration::from_secs(3))),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            delay(5, Some(Duration::from_secs(60))),
            Some(Duration::from_secs(60))
        );
        assert_eq!(delay(0, Some(Duration::from_secs(61))), None);
    }

    #[test]
    fn retry_after_reads_milliseconds_then_seconds_then_a_date() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        headers.insert("retry-after-ms", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        let mut dated = HeaderMap::new();
        let in_a_while = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        dated.insert(
            "retry-after",
            HeaderValue::from_str(&in_a_while).expect("ascii"),
        );
        let wait = retry_after(&dated).expect("a date");
        assert!(wait <= Duration::from_secs(30) && wait >= Duration::from_secs(28));
        dated.insert("retry-after", HeaderValue::from_static("-1"));
        assert_eq!(retry_after(&dated), None);
        // Waits no `Duration` can hold are longer than any honoured, not a panic.
        let mut huge = HeaderMap::new();
        huge.insert("retry-after-ms", HeaderValue::from_static("1e300"));
        assert_eq!(retry_after(&huge), Some(Duration::MAX));
        huge.insert("retry-after-ms", HeaderValue::from_static("inf"));
        assert_eq!(retry_after(&huge), Some(Duration::MAX));
        assert_eq!(delay(0, retry_after(&huge)), None);
        let mut huge = HeaderMap::new();
        huge.insert("retry-after", HeaderValue::from_static("1e20"));
        assert_eq!(retry_after(&huge), Some(Duration::MAX));
    }
}
