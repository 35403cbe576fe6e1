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

/// Reads what the server sends until it closes the connection; a guard against hanging, not a
/// measure of time.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .ok();
    String::from_utf8_lossy(&answer).into_owned()
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
