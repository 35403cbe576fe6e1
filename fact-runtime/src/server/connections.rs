//! Accepting and running connections: hyper's HTTP/1 with a header-read timeout, at most
//! [`ServerConfig::max_connections`](super::ServerConfig::max_connections) at once and
//! [`ServerConfig::max_connections_per_address`](super::ServerConfig::max_connections_per_address)
//! from one client address, and a graceful shutdown that waits for calls in flight only up to
//! a grace period.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::address_cap::AddressCap;
use super::error::ApiError;
use super::guards::Guards;
use super::parse_errors::{JsonParseErrors, MAX_REQUEST_HEAD_BYTES};

/// How long accepting pauses after an error such as running out of file descriptors, so that a
/// full descriptor table does not turn the accept loop into a busy loop.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The `Retry-After` of a connection refused for its address's cap: by then one of the
/// address's connections has likely finished its request.
const PER_ADDRESS_RETRY_AFTER_SECS: u64 = 1;

/// The limits of the connection layer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    pub(crate) header_read_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_connections_per_address: usize,
    pub(crate) shutdown_grace: Duration,
}

/// Serves `guards` (the routes behind them) on `listener` until `shutdown` completes, then
/// stops accepting and waits for open connections to finish their requests, at most
/// `limits.shutdown_grace`. Connections still busy after that are left to end with the
/// runtime; the caller goes on (to flush the audit log) either way.
pub(crate) async fn serve(
    listener: TcpListener,
    guards: Guards,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // At most `MAX_REQUEST_HEADERS` header fields: hyper's default, not set again (see there).
        .max_header_size(MAX_REQUEST_HEAD_BYTES);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = AddressCap::new(limits.max_connections_per_address);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        // A free slot first, so that a full server stops taking connections off the backlog.
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(address_slot) = per_address.try_open(peer.ip()) else {
            refuse_over_address_cap(&stream, per_address.max());
            tracing::debug!(peer = %peer.ip(), max = per_address.max(), "refused a connection past its address's cap");
            // Dropped here: the connection is closed and both slots are free again at once.
            continue;
        };
        // Responses are written whole; waiting to coalesce them only adds latency.
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(JsonParseErrors::new(stream));
        let connection = graceful.watch(http.serve_connection(io, guards.clone()));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(address_slot);
            drop(permit);
        });
    }
    drop(listener);
    let open = graceful.count();
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace = ?limits.shutdown_grace,
            "connections still busy after the shutdown grace period are abandoned"
        );
    } else {
        tracing::debug!(open, "every connection finished");
    }
    Ok(())
}

/// Answers a connection past its address's cap with a 429 and leaves it to be closed, without
/// reading its request or waiting for the socket: the answer is written only as far as the
/// socket's buffer takes it at once (a fresh connection's takes it whole). A client that had
/// already sent its request may see the connection reset instead; either way it is refused
/// at once rather than queued behind its own address's connections.
fn refuse_over_address_cap(stream: &TcpStream, max: usize) {
    let answer = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "RateLimitError",
        format!(
            "too many connections from your address: at most {max} at once; reuse an open connection or retry when one closes"
        ),
    )
    .limit("max_connections_per_address", max)
    .retry_after_secs(PER_ADDRESS_RETRY_AFTER_SECS)
    .closing();
    let _ = stream.try_write(&answer.to_http1());
}
