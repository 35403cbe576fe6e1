//! [`RedisServer`]: a private `redis-server` for one test, on a free loopback port in a
//! directory of its own, that the test may stop, pause and start again on the same port (an
//! outage), and that is killed when dropped, on every path out of the test.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The longest a server may take to answer `PING` after it was started.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// A `redis-server` child process: no persistence (`--save ''`, `--appendonly no`), listening
/// on 127.0.0.1 only.
#[derive(Debug)]
pub struct RedisServer {
    binary: PathBuf,
    dir: PathBuf,
    port: u16,
    /// Settings beyond the fixed ones (`--requirepass`, say).
    settings: Vec<String>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server for `test`, or returns `None` after printing that the test is skipped
    /// when no `redis-server` is found (`FACT_TEST_REDIS_SERVER`, else `redis-server` on
    /// `PATH`).
    ///
    /// # Panics
    ///
    /// When `FACT_REQUIRE_SERVICES=1` (as in CI) and no binary is found; when the server does
    /// not answer within 20 s (with its log in the message).
    pub fn start(test: &str) -> Option<Self> {
        let Some(binary) = binary() else {
            assert!(
                std::env::var("FACT_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "FACT_REQUIRE_SERVICES=1 but no redis-server was found (set FACT_TEST_REDIS_SERVER or put redis-server on PATH)"
            );
            eprintln!(
                "skipped {test}: no redis-server (set FACT_TEST_REDIS_SERVER or put redis-server on PATH)"
            );
            return None;
        };
        let dir = std::env::temp_dir().join(crate::scratch::unique("fact-redis"));
        std::fs::create_dir_all(&dir).expect("the server's directory can be created");
        let mut server = Self {
            binary,
            dir,
            port: 0,
            settings: Vec::new(),
            child: None,
        };
        // Another process may take the free port between its choice and the server's bind:
        // then the server exits, and another port is tried.
        for _ in 0..3 {
            server.port = free_port();
            if server.spawn() {
                return Some(server);
            }
        }
        panic!(
            "redis-server did not start on three free ports:\n{}",
            server.log()
        );
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port, which stays the same across [`stop`](Self::stop) and
    /// [`restart`](Self::restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (as a crash would: no goodbye to its clients) and waits until it has
    /// exited. Its data is gone: it persists nothing.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port.
    ///
    /// # Panics
    ///
    /// When it does not answer within 20 s (the port taken meanwhile, say).
    pub fn restart(&mut self) {
        self.stop();
        assert!(
            self.spawn(),
            "redis-server did not start again on port {}:\n{}",
            self.port,
            self.log()
        );
    }

    /// Starts the server again on the same port with `settings` added to the fixed ones
    /// (`["--requirepass", "secret"]`), as a Redis restarted with another configuration.
    ///
    /// # Panics
    ///
    /// As [`restart`](Self::restart).
    pub fn restart_with(&mut self, settings: &[&str]) {
        self.settings = settings.iter().map(|&setting| setting.to_owned()).collect();
        self.restart();
    }

    /// Stops the server's process without closing its connections (SIGSTOP): a Redis that
    /// hangs. [`resume`](Self::resume) lets it go on.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// Lets a [`pause`](Self::pause)d server go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, name: &str) {
        let Some(child) = &self.child else {
            panic!("the server is not running")
        };
        let status = Command::new("kill")
            .args([format!("-{name}"), child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed: {status}");
    }

    /// Starts the process and waits until it answers `PING`; `false` when it exits first.
    fn spawn(&mut self) -> bool {
        let child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(self.log_path())
            .args(&self.settings)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("{} does not start: {error}", self.binary.display()));
        self.child = Some(child);
        let deadline = Instant::now() + READY_WITHIN;
        while Instant::now() < deadline {
            if answers_ping(self.port) {
                return true;
            }
            if let Some(child) = &mut self.child
                && matches!(child.try_wait(), Ok(Some(_)))
            {
                self.child = None;
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "redis-server did not answer PING on port {} within {READY_WITHIN:?}:\n{}",
            self.port,
            self.log()
        );
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The directory the server runs in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A paused process dies of SIGKILL too; SIGCONT first lets it see nothing else.
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .stderr(Stdio::null())
                .status();
        }
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `FACT_TEST_REDIS_SERVER`, else `redis-server` in a directory of `PATH`.
fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FACT_TEST_REDIS_SERVER") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| candidate.is_file())
}

/// A port free on loopback right now.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

/// Whether a Redis on `port` answers `PING`, with `+PONG` or, when it wants a password,
/// `-NOAUTH`; each step bounded.
fn answers_ping(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let bounded = stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .and_then(|()| stream.set_write_timeout(Some(Duration::from_secs(1))));
    if bounded.is_err() || stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut answer = [0u8; 7];
    stream.read_exact(&mut answer).is_ok() && (&answer == b"+PONG\r\n" || &answer == b"-NOAUTH")
}
