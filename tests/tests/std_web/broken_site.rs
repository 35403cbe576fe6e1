//! A loopback TCP listener that answers HTTP requests badly, one way per site: what a failing
//! upstream looks like to `Web.HTTPRequest`.

use std::net::Ipv4Addr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How a [`BrokenSite`] answers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Breakage {
    /// Closes each connection as soon as it is accepted.
    ClosesAtOnce,
    /// Sends a status line, then far more header lines than any client keeps.
    FloodsHeaders,
    /// Announces a 100-byte body, sends 10 bytes and closes.
    ShortBody,
    /// Sends one chunk of a chunked body and closes without the last chunk.
    CutChunkedBody,
}

/// The listener; stops accepting when dropped.
pub(crate) struct BrokenSite {
    pub(crate) port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl BrokenSite {
    pub(crate) async fn start(breakage: Breakage) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind a loopback port");
        let port = listener.local_addr().expect("bound address").port();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream, breakage));
            }
        });
        Self { port, task }
    }

    /// `http://127.0.0.1:PORT/`.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for BrokenSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(mut stream: TcpStream, breakage: Breakage) {
    if let Breakage::ClosesAtOnce = breakage {
        return;
    }
    // Read the request head, so that closing later does not reset the connection under
    // the client before it has read the answer. The client sends it at once; the read ends
    // at the head's end, or when the client gives up and closes.
    let mut head = Vec::new();
    let mut buf = [0; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let answer: Vec<u8> = match breakage {
        Breakage::ClosesAtOnce => return,
        Breakage::FloodsHeaders => {
            let mut answer = b"HTTP/1.1 200 OK\r\n".to_vec();
            for i in 0..5000 {
                answer
                    .extend_from_slice(format!("X-Flood-{i}: {}\r\n", "f".repeat(100)).as_bytes());
            }
            answer.extend_from_slice(b"Content-Length: 0\r\n\r\n");
            answer
        }
        Breakage::ShortBody => {
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nonly ten b"
                .to_vec()
        }
        Breakage::CutChunkedBody => b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\
              Transfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n"
            .to_vec(),
    };
    // The client may close first (it stops reading a flood): nothing to do about it.
    let _ = stream.write_all(&answer).await;
    let _ = stream.shutdown().await;
}
