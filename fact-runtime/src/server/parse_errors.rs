//! [`JsonParseErrors`]: the answers hyper writes by itself, in the shape of every other
//! refusal.
//!
//! A request whose request line or headers cannot be parsed never reaches a route: hyper
//! answers it on its own with an empty `400 Bad Request`, `414 URI Too Long` or
//! `431 Request Header Fields Too Large` and closes the connection, and offers no hook to
//! change that answer. This wrapper around the connection's stream recognises such an answer
//! as it is written (one of those statuses with `content-length: 0`: the server's own answers
//! to those statuses always carry a JSON body) and writes, in its place, the same status with a
//! JSON body in the shape of a failed `ToolResult`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::error::ApiError;

/// The most header fields a request may have; one more is a 431. This is hyper's own default,
/// and is left to it: a limit set explicitly makes hyper fill both of its header arrays for
/// every request it parses (about 0.3 µs each on the server bench), where its default leaves
/// them uninitialized. A test pins the limit (`headers_too_many_or_too_large_are_a_json_431`).
pub(crate) const MAX_REQUEST_HEADERS: usize = 100;
/// The most bytes of a request line and headers together; a longer head is a 431.
pub(crate) const MAX_REQUEST_HEAD_BYTES: usize = 64 * 1024;

/// A stream whose bare parse-error answers are replaced by JSON ones.
#[derive(Debug)]
pub(crate) struct JsonParseErrors<S> {
    inner: S,
    /// A replacement answer still to be written, and how much of it has been.
    pending: Option<(Vec<u8>, usize)>,
}

impl<S> JsonParseErrors<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self {
            inner,
            pending: None,
        }
    }
}

impl<S: AsyncWrite + Unpin> JsonParseErrors<S> {
    /// Writes what is left of a replacement answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.pending {
            if *written == bytes.len() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Starts writing the JSON answer of `status` in place of hyper's bare one.
    fn replace(&mut self, status: StatusCode, cx: &mut Context<'_>) -> io::Result<()> {
        self.pending = Some((json_answer(status).to_http1(), 0));
        // Written as far as the socket takes now; flush and shutdown finish it.
        match self.poll_pending(cx) {
            Poll::Ready(result) => result,
            Poll::Pending => Ok(()),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for JsonParseErrors<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for JsonParseErrors<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if let Some(status) = bare_parse_error(buf) {
            self.replace(status, cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        let Some(first) = bufs.iter().position(|buf| !buf.is_empty()) else {
            return Poll::Ready(Ok(0));
        };
        if let Some(status) = bare_parse_error(&bufs[first]) {
            self.replace(status, cx)?;
            return Poll::Ready(Ok(bufs[first].len()));
        }
        // An answer hyper wrote by itself starts a buffer of its own: write only up to it, so
        // that the next write begins with it and is recognised.
        let end = bufs[first + 1..]
            .iter()
            .position(|buf| bare_parse_error(buf).is_some())
            .map_or(bufs.len(), |at| first + 1 + at);
        Pin::new(&mut self.inner).poll_write_vectored(cx, &bufs[..end])
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The status of `buf` when it is exactly an answer hyper writes by itself to a request it
/// cannot parse: a 400, 414 or 431 head with `content-length: 0` and nothing after it.
fn bare_parse_error(buf: &[u8]) -> Option<StatusCode> {
    let status = [
        StatusCode::BAD_REQUEST,
        StatusCode::URI_TOO_LONG,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
    ]
    .into_iter()
    .find(|status| {
        ["HTTP/1.1 ", "HTTP/1.0 "].iter().any(|version| {
            buf.strip_prefix(version.as_bytes())
                .is_some_and(|rest| rest.starts_with(status.as_str().as_bytes()))
        })
    })?;
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    if head_end != buf.len() {
        return None;
    }
    let empty = buf[..head_end]
        .split(|&b| b == b'\n')
        .any(|line| line.trim_ascii().eq_ignore_ascii_case(b"content-length: 0"));
    empty.then_some(status)
}

/// What the client is told in place of hyper's bare answer.
fn json_answer(status: StatusCode) -> ApiError {
    let message = match status {
        StatusCode::URI_TOO_LONG => "the request's URI is too long".to_owned(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => format!(
            "the request's headers are too large: at most {MAX_REQUEST_HEADERS} header fields and {} KiB for the request line and headers together",
            MAX_REQUEST_HEAD_BYTES / 1024
        ),
        _ => "the request is not valid HTTP/1.1: its request line or a header could not be parsed"
            .to_owned(),
    };
    ApiError::new(status, "InvalidRequestError", message).closing()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_bare_answers_are_recognised() {
        for (head, status) in [
            (
                "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n",
                StatusCode::BAD_REQUEST,
            ),
            (
                "HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ),
            (
                "HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n",
                StatusCode::URI_TOO_LONG,
            ),
        ] {
            assert_eq!(bare_parse_error(head.as_bytes()), Some(status), "{head}");
        }
    }

    #[test]
    fn the_servers_own_answers_are_left_alone() {
        for head in [
            // A JSON refusal of the same status: it has a body.
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 120\r\n\r\n",
            // The head and the body of one answer in one buffer.
            "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{}",
            // Other statuses, bodiless or not.
            "HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n",
            // Body bytes that happen to look like a head are not at the start of a write.
            "{\"x\": \"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n\"}",
        ] {
            assert_eq!(bare_parse_error(head.as_bytes()), None, "{head}");
        }
    }
}
