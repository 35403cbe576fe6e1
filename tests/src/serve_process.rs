//! A `fact serve` child process (or another server that logs `addr=HOST:PORT` as it does) whose
//! log is read line by line, as an operator reads it: the address it serves on, the lines it
//! logs, its exit status. Killed when dropped, on every path.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

/// The longest any single wait lasts before the test gives up (and kills what it started).
pub const WAIT: Duration = Duration::from_secs(60);

/// A `fact serve` process whose standard error is read line by line; killed when dropped, so
/// that a failing test leaves no server behind.
#[derive(Debug)]
pub struct ServeProcess {
    pub child: Child,
    pub lines: Receiver<String>,
    /// Every line of standard error received so far.
    pub log: Vec<String>,
}

impl ServeProcess {
    pub fn start(command: &mut Command) -> Self {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server's program starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (sender, lines) = mpsc::channel();
        // The sender drops at the end of stderr: the receiver then reports the disconnection.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            log: Vec::new(),
        }
    }

    /// The next line of the log, or `None` at the end of standard error.
    pub fn next_line(&mut self) -> Option<String> {
        match self.lines.recv_timeout(WAIT) {
            Ok(line) => {
                self.log.push(line.clone());
                Some(line)
            }
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => {
                panic!("no log line within {WAIT:?}; log so far:\n{}", self.log())
            }
        }
    }

    /// The first line from now on that contains `needle`.
    pub fn wait_for(&mut self, needle: &str) -> String {
        loop {
            match self.next_line() {
                Some(line) if line.contains(needle) => return line,
                Some(_) => {}
                None => panic!("the server's log ended without {needle:?}:\n{}", self.log()),
            }
        }
    }

    /// The address the server listens on, from its `serving addr=...` line.
    pub fn addr(&mut self) -> SocketAddr {
        let line = self.wait_for(" addr=");
        line.split_whitespace()
            .find_map(|field| field.strip_prefix("addr="))
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no addr=HOST:PORT in {line:?}"))
    }

    pub fn terminate(&self) {
        send_signal(self.child.id(), "TERM");
    }

    /// Reads the log to its end, then returns the exit status.
    pub fn wait_exit(&mut self) -> ExitStatus {
        while self.next_line().is_some() {}
        self.child.wait().expect("the server can be waited for")
    }

    pub fn log(&self) -> String {
        self.log.join("\n")
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        // An exited and reaped child is not signalled again.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends the signal `name` (`TERM`, `KILL`) to the process `pid`, as an orchestrator would.
pub fn send_signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name} {pid} failed: {status}");
}
