//! Connections: graceful shutdown, header and connection limits.

use std::time::Duration;

use fact_runtime::audit::AuditQuery;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::*;

// ---- graceful shutdown ----

#[tokio::test]
async fn shutdown_finishes_calls_in_flight_refuses_new_ones_and_flushes_the_audit_log() {
    let gate = Gate::default();
    let (_db, sink, executor) = audited(&gate, "server-shutdown").await;
    let server = Running::start(executor, config()).await;
    let addr = server.base.trim_start_matches("http://").to_owned();

    let in_flight = {
        let client = server.client.clone();
        let url = format!("{}/v1/tools/execute", server.base);
        tokio::spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(ADA_KEY)
                .body(json!({"tool_name": "Test.Gate"}).to_string())
                .send()
                .await
                .expect("answered despite the shutdown");
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        })
    };
    gate.entered.notified().await;

    let Running { stop, task, .. } = server;
    stop.expect("not stopped yet")
        .send(())
        .expect("server listening");
    // The listener closes: new connections are refused while the call is still running.
    let mut refused = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(&addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        refused,
        "the server kept accepting connections after shutdown began"
    );
    assert!(
        !task.is_finished(),
        "the server waits for the call in flight"
    );

    gate.release.notify_one();
    let (status, body) = in_flight.await.expect("joins");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("released"), "{body}");
    task.await.expect("joins").expect("stops cleanly");

    // Flushed by the shutdown: the record is there without waiting.
    let records = sink
        .query(&AuditQuery::new().tool("Test.Gate"))
        .await
        .expect("query");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].status_code, 200);
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_disconnected() {
    let executor = builder(&Gate::default()).build().expect("builds");
    let config = config().header_read_timeout(Duration::from_millis(200));
    let server = Running::start(executor, config).await;
    let mut stream = TcpStream::connect(server.addr()).await.expect("connects");
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: fact\r\nX-Slow: ")
        .await
        .expect("writes");
    let answer = read_until_closed(&mut stream).await;
    assert!(!answer.contains("200 OK"), "{answer}");
    // The server still serves others.
    assert_eq!(server.get("/health", None).await.status, 200);
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_without_waiting_for_the_body() {
    let executor = builder(&Gate::default()).build().expect("builds");
    let server = Running::start(executor, config().max_body_bytes(1024)).await;
    let mut stream = TcpStream::connect(server.addr()).await.expect("connects");
    let head = format!(
        "POST /v1/tools/execute HTTP/1.1\r\nHost: fact\r\nAuthorization: Bearer {ADA_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("writes");
    // No body is sent: the answer can only come from the header.
    let mut answer = vec![0; 4096];
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut answer))
        .await
        .expect("answered before the body")
        .expect("reads");
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("larger than the server accepts"),
        "{answer}"
    );
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_slot() {
    let executor = builder(&Gate::default()).build().expect("builds");
    let server = Running::start(executor, config().max_connections(1)).await;
    let held = TcpStream::connect(server.addr()).await.expect("connects");
    // The one slot is taken, so this request is not served yet...
    let waiting = tokio::spawn({
        let client = server.client.clone();
        let url = format!("{}/health", server.base);
        async move { client.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished(), "served beyond the connection limit");
    // ...until the slot is freed.
    drop(held);
    let status = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("served once a slot is free")
        .expect("joins")
        .expect("answered");
    assert_eq!(status, 200);
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn shutdown_waits_for_calls_in_flight_only_up_to_the_grace_period() {
    let gate = Gate::default();
    let (_db, sink, executor) = audited(&gate, "server-grace").await;
    let config = config().shutdown_grace(Duration::from_millis(200));
    let server = Running::start(executor, config).await;
    assert_eq!(
        server
            .execute(
                ADA_KEY,
                json!({"tool_name": "Fixture.Echo", "input": {"text": "a"}})
            )
            .await
            .status,
        200
    );
    // A call that never finishes holds its connection.
    let stuck = tokio::spawn({
        let client = server.client.clone();
        let url = format!("{}/v1/tools/execute", server.base);
        async move {
            client
                .post(url)
                .bearer_auth(ADA_KEY)
                .body(json!({"tool_name": "Test.Gate"}).to_string())
                .send()
                .await
        }
    });
    gate.entered.notified().await;
    // The server stops anyway once the grace period is over, and flushes the audit log.
    tokio::time::timeout(Duration::from_secs(30), server.stop())
        .await
        .expect("shutdown does not wait for the stuck call")
        .expect("stops cleanly");
    let records = sink
        .query(&AuditQuery::new().tool("Fixture.Echo"))
        .await
        .expect("query");
    assert_eq!(records.len(), 1, "{records:?}");
    stuck.abort();
}

// ---- per-address connection cap ----

/// A connection from `from` that sends the head of a call and part of its body, then stops:
/// it holds a connection slot until the body timeout.
async fn half_sent(addr: &str, from: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind(format!("{from}:0").parse().expect("an address"))
        .expect("binds the client's address");
    let mut stream = socket
        .connect(addr.parse().expect("the server's address"))
        .await
        .expect("connects");
    let (head, body) = half_sent_call();
    // A connection past the cap may be closed before it is written to.
    let _ = stream
        .write_all(format!("{head}{}", &body[..10]).as_bytes())
        .await;
    stream
}

/// A call to `Fixture.Echo` as a request head and body.
fn half_sent_call() -> (String, String) {
    let body = json!({"tool_name": "Fixture.Echo", "input": {"text": "held"}}).to_string();
    let head = format!(
        "POST /v1/tools/execute HTTP/1.1\r\nHost: fact\r\nAuthorization: Bearer {ADA_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    (head, body)
}

/// A client whose connections come from `from`.
fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(Some(from.parse().expect("an address")))
        .build()
        .expect("a client")
}

/// Limits under which only the per-address cap can let another address in: few connection
/// slots, and header and body timeouts far longer than any wait of the test.
fn per_address_config() -> fact_runtime::server::ServerConfig {
    config()
        .max_connections(4)
        .max_connections_per_address(2)
        .header_read_timeout(Duration::from_secs(600))
        .body_read_timeout(Duration::from_secs(600))
        .request_timeout(Duration::from_secs(600))
}

#[tokio::test]
async fn one_address_at_its_connection_cap_does_not_keep_another_address_waiting() {
    let executor = builder(&Gate::default()).build().expect("builds");
    let server = Running::start(executor, per_address_config()).await;
    let addr = server.addr();
    // 127.0.0.1 takes its two slots with half-sent requests, and tries for more: without a
    // per-address cap these would take every slot of the server.
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(half_sent(&addr, "127.0.0.1").await);
    }
    let mut extra = Vec::new();
    for _ in 0..4 {
        extra.push(half_sent(&addr, "127.0.0.1").await);
    }
    // Another address is served while they are held.
    let other = client_from("127.0.0.2");
    let reply = tokio::time::timeout(
        Duration::from_secs(20),
        other
            .post(format!("{}/v1/tools/execute", server.base))
            .bearer_auth(BOB_KEY)
            .body(json!({"tool_name": "Fixture.Echo", "input": {"text": "served"}}).to_string())
            .send(),
    )
    .await
    .expect("another address is served while one holds its cap")
    .expect("answered");
    assert_eq!(reply.status().as_u16(), 200);
    assert!(reply.text().await.expect("a body").contains("served"));
    // The held connections were kept, not dropped: they finish their calls.
    let (_, body) = half_sent_call();
    for mut stream in held {
        stream
            .write_all(&body.as_bytes()[10..])
            .await
            .expect("writes the rest");
        let mut answer = vec![0; 4096];
        let read = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut answer))
            .await
            .expect("answered")
            .expect("reads");
        let answer = String::from_utf8_lossy(&answer[..read]);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("held"), "{answer}");
    }
    drop(extra);
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_connection_past_its_addresss_cap_is_refused_at_once_with_429() {
    let executor = builder(&Gate::default()).build().expect("builds");
    let server = Running::start(executor, per_address_config()).await;
    let addr = server.addr();
    let held = [
        half_sent(&addr, "127.0.0.1").await,
        half_sent(&addr, "127.0.0.1").await,
    ];
    // Refused without sending anything: the answer cannot wait for a request.
    let mut refused = TcpStream::connect(&addr).await.expect("connects");
    let answer = RawAnswer::parse(&read_until_closed(&mut refused).await);
    answer.assert_refusal(
        429,
        "RateLimitError",
        "too many connections from your address",
    );
    assert_eq!(
        answer.body["metadata"]["limit"],
        "max_connections_per_address"
    );
    assert_eq!(answer.body["metadata"]["max"], 2);
    assert!(answer.head.contains("retry-after: 1"), "{}", answer.head);
    // Closing one of the address's connections lets it connect again.
    let [first, second] = held;
    drop(first);
    let mut served = None;
    for _ in 0..100 {
        let mut stream = TcpStream::connect(&addr).await.expect("connects");
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: fact\r\nConnection: close\r\n\r\n")
            .await
            .expect("writes");
        let answer = read_until_closed(&mut stream).await;
        if answer.starts_with("HTTP/1.1 200") {
            served = Some(answer);
            break;
        }
        // The server has not yet seen the closed connection end; try again once it has.
        tokio::task::yield_now().await;
    }
    assert!(served.is_some(), "the freed slot was never given back");
    // Closed, so that shutdown need not wait out its grace period for it.
    drop(second);
    server.stop().await.expect("stops");
}

// ---- body timeout ----

#[tokio::test]
async fn a_body_that_stops_arriving_is_answered_408_at_the_body_timeout() {
    let executor = builder(&Gate::default()).build().expect("builds");
    let config = config()
        .body_read_timeout(Duration::from_millis(200))
        .request_timeout(Duration::from_secs(600));
    let server = Running::start(executor.clone(), config).await;
    let (head, body) = half_sent_call();
    let chunked_head = format!(
        "POST /v1/tools/execute HTTP/1.1\r\nHost: fact\r\nAuthorization: Bearer {ADA_KEY}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{{\"too\r\n"
    );
    let stalls = [
        // Headers only, then nothing.
        head.clone(),
        // Part of a declared length.
        format!("{head}{}", &body[..10]),
        // A chunked body whose next chunk never comes.
        chunked_head,
    ];
    for request in stalls {
        let mut stream = TcpStream::connect(server.addr()).await.expect("connects");
        stream.write_all(request.as_bytes()).await.expect("writes");
        // Only the body timeout can answer within the bound: the request timeout is far off.
        let answer = RawAnswer::parse(&read_until_closed(&mut stream).await);
        answer.assert_refusal(408, "RequestTimeoutError", "did not arrive within 0.2 s");
        assert!(
            answer
                .head
                .to_ascii_lowercase()
                .contains("connection: close"),
            "{}",
            answer.head
        );
    }
    assert_eq!(
        executor.metrics().get_system_metrics(60).total_executions,
        0
    );
    server.stop().await.expect("stops");
}
