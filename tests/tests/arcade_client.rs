//! `ArcadeClient` against Engines that misbehave on loopback: retries that honour the Engine's
//! wait and never send an execute twice once it may have reached the tool, and bad answers
//! (not JSON, not the endpoint's shape, too large, too slow) that end as clear errors within
//! the deadline. A well-behaved Engine is a second FACT: see the server's Engine API tests.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fact_runtime::ErrorKind;
use fact_runtime::arcade::wire::ExecuteRequest;
use fact_runtime::arcade::{ArcadeClient, ArcadeError, Sleeper, ToolQuery};
use serde_json::json;
use tokio::net::TcpListener;

const KEY: &str = "arc_test_key_never_shown_0123";

/// Records the waits asked for and returns at once: retry timing without sleeping.
#[derive(Debug, Default)]
struct RecordedWaits(Mutex<Vec<Duration>>);

impl Sleeper for RecordedWaits {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.0.lock().expect("not poisoned").push(duration);
        Box::pin(async {})
    }
}

impl RecordedWaits {
    fn waits(&self) -> Vec<Duration> {
        self.0.lock().expect("not poisoned").clone()
    }
}

/// An Engine on loopback serving `app`; stops when dropped.
struct Engine {
    base_url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn engine(app: Router) -> Engine {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let address = listener.local_addr().expect("has an address");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Engine {
        base_url: format!("http://{address}/arcade"),
        task,
    }
}

fn client(base_url: &str, waits: &Arc<RecordedWaits>) -> ArcadeClient {
    ArcadeClient::builder(KEY)
        .base_url(base_url)
        .sleeper(Arc::clone(waits) as Arc<dyn Sleeper>)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("builds")
}

fn execute_request() -> ExecuteRequest {
    let mut request = ExecuteRequest::default();
    request.tool_name = "Math.Add".to_owned();
    request.input = json!({"a": 1, "b": 2})
        .as_object()
        .cloned()
        .unwrap_or_default();
    request.user_id = Some("ada".to_owned());
    request
}

fn success() -> Response {
    axum::Json(json!({"success": true, "status": "success", "output": {"value": 3}}))
        .into_response()
}

/// Answers with `failing` until the `failures`-th request, then `success`; counts requests.
fn failing_then(
    failures: usize,
    failing: impl Fn() -> Response + Clone + Send + Sync + 'static,
    count: &Arc<AtomicUsize>,
) -> impl Fn() -> Pin<Box<dyn Future<Output = Response> + Send>> + Clone + Send + Sync + 'static {
    let count = Arc::clone(count);
    move || {
        let seen = count.fetch_add(1, Ordering::SeqCst);
        let answer = if seen < failures {
            failing()
        } else {
            success()
        };
        Box::pin(async move { answer })
    }
}

#[tokio::test]
async fn an_execute_refused_with_429_is_retried_after_the_engines_wait() {
    let count = Arc::new(AtomicUsize::new(0));
    let limited = || {
        (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after-ms", "1500")],
            axum::Json(json!({"name": "rate_limited", "message": "slow down"})),
        )
            .into_response()
    };
    let engine = engine(Router::new().route(
        "/arcade/v1/tools/execute",
        post(failing_then(2, limited, &count)),
    ))
    .await;
    let waits = Arc::new(RecordedWaits::default());
    let response = client(&engine.base_url, &waits)
        .execute(&execute_request(), None)
        .await
        .expect("succeeds on the third try");
    assert!(response.success);
    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert_eq!(waits.waits(), [Duration::from_millis(1500); 2]);
}

#[tokio::test]
async fn an_execute_that_may_have_reached_the_tool_is_sent_once() {
    for (status, should_retry) in [(500, None), (502, None), (503, Some("false")), (504, None)] {
        let count = Arc::new(AtomicUsize::new(0));
        let failing = move || {
            let mut response = (
                StatusCode::from_u16(status).expect("a status"),
                axum::Json(json!({"message": "the worker fell over"})),
            )
                .into_response();
            if let Some(value) = should_retry {
                response
                    .headers_mut()
                    .insert("x-should-retry", value.parse().expect("a header value"));
            }
            response
        };
        let engine = engine(Router::new().route(
            "/arcade/v1/tools/execute",
            post(failing_then(usize::MAX, failing, &count)),
        ))
        .await;
        let waits = Arc::new(RecordedWaits::default());
        let error = client(&engine.base_url, &waits)
            .execute(&execute_request(), None)
            .await
            .expect_err("fails");
        assert_eq!(count.load(Ordering::SeqCst), 1, "HTTP {status}");
        assert!(waits.waits().is_empty());
        assert!(error.may_have_run(), "{error}");
        assert_eq!(
            error.to_string(),
            format!(
                "the Arcade Engine answered POST /v1/tools/execute with HTTP {status}: the worker fell over"
            )
        );
        let tool_error = error.into_tool_error("Math.Add");
        assert_eq!(tool_error.kind(), ErrorKind::Arcade);
        assert_eq!(tool_error.kind().status_code(), 502);
    }
}

#[tokio::test]
async fn an_engine_that_says_the_tool_did_not_run_is_tried_again() {
    let count = Arc::new(AtomicUsize::new(0));
    let busy = || {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [("x-should-retry", "true"), ("retry-after", "2")],
            axum::Json(json!({"message": "busy"})),
        )
            .into_response()
    };
    let engine = engine(Router::new().route(
        "/arcade/v1/tools/execute",
        post(failing_then(1, busy, &count)),
    ))
    .await;
    let waits = Arc::new(RecordedWaits::default());
    let response = client(&engine.base_url, &waits)
        .execute(&execute_request(), None)
        .await
        .expect("succeeds on the second try");
    assert!(response.success);
    assert_eq!(count.load(Ordering::SeqCst), 2);
    assert_eq!(waits.waits(), [Duration::from_secs(2)]);
}

#[tokio::test]
async fn reads_are_retried_with_doubling_waits_and_give_up_after_max_retries() {
    let count = Arc::new(AtomicUsize::new(0));
    let failing = || (StatusCode::BAD_GATEWAY, "upstream gone").into_response();
    let engine = engine(Router::new().route(
        "/arcade/v1/tools",
        get(failing_then(usize::MAX, failing, &count)),
    ))
    .await;
    let waits = Arc::new(RecordedWaits::default());
    let error = client(&engine.base_url, &waits)
        .list_tools(&ToolQuery::new())
        .await
        .expect_err("fails");
    assert_eq!(count.load(Ordering::SeqCst), 3, "one try and two retries");
    let waits = waits.waits();
    assert_eq!(waits.len(), 2);
    assert!(waits[0] >= Duration::from_millis(375) && waits[0] <= Duration::from_millis(500));
    assert!(waits[1] >= Duration::from_millis(750) && waits[1] <= Duration::from_secs(1));
    assert_eq!(
        error.to_string(),
        "the Arcade Engine answered GET /v1/tools with HTTP 502: upstream gone"
    );
}

#[tokio::test]
async fn a_wait_longer_than_a_minute_ends_the_retries_and_reaches_the_caller() {
    let count = Arc::new(AtomicUsize::new(0));
    let limited = || {
        (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "120")],
            "later",
        )
            .into_response()
    };
    let engine = engine(Router::new().route(
        "/arcade/v1/tools/execute",
        post(failing_then(usize::MAX, limited, &count)),
    ))
    .await;
    let waits = Arc::new(RecordedWaits::default());
    let error = client(&engine.base_url, &waits)
        .execute(&execute_request(), None)
        .await
        .expect_err("fails");
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert!(!error.may_have_run());
    let tool_error = error.into_tool_error("Math.Add");
    assert_eq!(tool_error.kind(), ErrorKind::Unavailable);
    assert_eq!(tool_error.retry_after(), Some(Duration::from_secs(120)));
}

#[tokio::test]
async fn an_engine_that_refuses_connections_is_tried_again_and_the_tool_never_ran() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let address = listener.local_addr().expect("has an address");
    drop(listener);
    let waits = Arc::new(RecordedWaits::default());
    let error = client(&format!("http://{address}/arcade"), &waits)
        .execute(&execute_request(), None)
        .await
        .expect_err("nothing listens");
    assert!(matches!(error, ArcadeError::Connect { .. }), "{error:?}");
    assert!(!error.may_have_run());
    assert_eq!(waits.waits().len(), 2);
    let tool_error = error.into_tool_error("Math.Add");
    assert_eq!(tool_error.kind(), ErrorKind::Arcade);
    assert!(
        tool_error
            .message()
            .starts_with("Tool 'Math.Add' failed remotely: could not connect to the Arcade Engine for POST /v1/tools/execute: "),
        "{}",
        tool_error.message()
    );
}

#[tokio::test]
async fn the_key_goes_in_the_authorization_header_only() {
    let seen: Arc<Mutex<Option<String>>> = Arc::default();
    let recorder = Arc::clone(&seen);
    let engine = engine(Router::new().route(
        "/arcade/v1/health",
        get(move |headers: HeaderMap| async move {
            *recorder.lock().expect("not poisoned") = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            axum::Json(json!({"healthy": true}))
        }),
    ))
    .await;
    let waits = Arc::new(RecordedWaits::default());
    let health = client(&engine.base_url, &waits)
        .health()
        .await
        .expect("answers");
    assert!(health.healthy);
    assert_eq!(
        seen.lock().expect("not poisoned").as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
}

/// What a misbehaving Engine answers.
type Answer = Box<dyn Fn() -> Response + Send + Sync>;

#[tokio::test]
async fn bad_answers_are_clear_errors_that_never_show_the_key() {
    let huge = || {
        // 50 MiB, declared.
        Response::new(Body::from(vec![b' '; 50 * 1024 * 1024]))
    };
    let huge_undeclared = || {
        let chunks = futures::stream::iter(
            (0..50).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024 * 1024])),
        );
        Response::new(Body::from_stream(chunks))
    };
    let cases: Vec<(&str, Answer, &str)> = vec![
        (
            "not JSON",
            Box::new(|| "<html>oops</html>".into_response()),
            "with a body that is not JSON",
        ),
        (
            "a 200 that is not an execute response",
            Box::new(|| axum::Json(json!({"items": []})).into_response()),
            "with an object without 'success'",
        ),
        (
            "success of the wrong type",
            Box::new(|| axum::Json(json!({"success": "yes"})).into_response()),
            "with an object of the wrong shape",
        ),
        (
            "50 MiB declared",
            Box::new(huge),
            "with a body larger than 16777216 bytes",
        ),
        (
            "50 MiB streamed",
            Box::new(huge_undeclared),
            "with a body larger than 16777216 bytes",
        ),
    ];
    for (case, answer, expected) in cases {
        let answer = Arc::new(answer);
        let engine = engine(Router::new().route(
            "/arcade/v1/tools/execute",
            post(move || {
                let answer = Arc::clone(&answer);
                async move { answer() }
            }),
        ))
        .await;
        let waits = Arc::new(RecordedWaits::default());
        let error = client(&engine.base_url, &waits)
            .execute(&execute_request(), None)
            .await
            .expect_err(case);
        let message = error.to_string();
        assert!(
            message.starts_with("the Arcade Engine answered POST /v1/tools/execute "),
            "{case}: {message}"
        );
        assert!(message.contains(expected), "{case}: {message}");
        assert!(!message.contains(KEY) && !format!("{error:?}").contains(KEY));
        assert!(error.may_have_run(), "{case}");
        assert!(
            waits.waits().is_empty(),
            "{case}: an execute that reached the Engine is not retried"
        );
        assert_eq!(
            error.into_tool_error("Math.Add").kind().status_code(),
            502,
            "{case}"
        );
    }
}

#[tokio::test]
async fn an_engine_that_sends_a_byte_a_second_is_left_at_the_tools_deadline() {
    let engine = engine(Router::new().route(
        "/arcade/v1/tools/execute",
        post(|| async {
            let drip = futures::stream::unfold(0u32, |sent| async move {
                if sent > 0 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                (sent < 600).then_some((Ok::<_, std::io::Error>(vec![b' ']), sent + 1))
            });
            Response::new(Body::from_stream(drip))
        }),
    ))
    .await;
    let waits = Arc::new(RecordedWaits::default());
    let deadline = tokio::time::Instant::now() + Duration::from_millis(700);
    let started = std::time::Instant::now();
    let error = tokio::time::timeout(
        Duration::from_secs(30),
        client(&engine.base_url, &waits).execute(&execute_request(), Some(deadline)),
    )
    .await
    .expect("returns at the deadline, not after the drip")
    .expect_err("times out");
    assert!(
        matches!(error, ArcadeError::Timeout { deadline: true, .. }),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    let tool_error = error.into_tool_error("Math.Add");
    assert_eq!(tool_error.kind(), ErrorKind::Timeout);
    assert_eq!(tool_error.kind().status_code(), 504);
}

#[tokio::test]
async fn all_tools_reads_every_page() {
    let offsets: Arc<Mutex<Vec<String>>> = Arc::default();
    let recorder = Arc::clone(&offsets);
    let engine = engine(Router::new().route(
        "/arcade/v1/tools",
        get(move |axum::extract::RawQuery(query): axum::extract::RawQuery| async move {
            let query = query.unwrap_or_default();
            recorder.lock().expect("not poisoned").push(query.clone());
            let offset: usize = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("offset="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let items: Vec<_> = (offset..250.min(offset + 100))
                .map(|i| json!({"name": format!("T{i}"), "qualified_name": format!("Kit.T{i}"), "toolkit": {"name": "Kit"}}))
                .collect();
            axum::Json(json!({"items": items, "total_count": 250, "offset": offset, "limit": 100}))
        }),
    ))
    .await;
    let waits = Arc::new(RecordedWaits::default());
    let tools = client(&engine.base_url, &waits)
        .all_tools(Some("Kit"))
        .await
        .expect("lists");
    assert_eq!(tools.len(), 250);
    assert_eq!(tools[249].qualified_name, "Kit.T249");
    assert_eq!(
        *offsets.lock().expect("not poisoned"),
        [
            "limit=100&offset=0&toolkit=Kit",
            "limit=100&offset=100&toolkit=Kit",
            "limit=100&offset=200&toolkit=Kit"
        ]
    );
}
