//! A PostgreSQL cluster of a test's own, for tests that stop and start the database: created
//! with `initdb` in a temporary directory (trust authentication on loopback only), served on a
//! free port, stopped and started again on the same port and data, stopped and removed on
//! drop. The shared database of `.ci/services.sh` is never disturbed.
//!
//! Binaries come from `FACT_TEST_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`. As root
//! (CI), every PostgreSQL program runs as the `postgres` user through `runuser`, since
//! PostgreSQL refuses to run as root. Every wait is bounded: `pg_ctl` waits at most
//! [`PG_CTL_WAIT_SECONDS`] for a start or stop.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Mutex;

use crate::scratch::unique;

/// The most `pg_ctl` waits for the server to start or stop.
pub const PG_CTL_WAIT_SECONDS: u32 = 60;
/// The superuser `initdb` creates, named in every URL.
const SUPERUSER: &str = "fact";
/// The OS account PostgreSQL runs as when the tests run as root.
const ROOT_RUNS_AS: &str = "postgres";

/// How [`PrivatePostgres::stop`] stops the server (`pg_ctl stop -m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Disconnects every client, then shuts down cleanly.
    Fast,
    /// Kills the server at once, as a crash would; the next start recovers from the WAL.
    Immediate,
}

/// A private PostgreSQL cluster; see the module's documentation.
#[derive(Debug)]
pub struct PrivatePostgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    /// `Some("postgres")` when running as root.
    run_as: Option<&'static str>,
    running: Mutex<bool>,
}

impl PrivatePostgres {
    /// Creates and starts a cluster, or returns `None` after printing that `test` is skipped
    /// because no PostgreSQL binaries are installed.
    ///
    /// # Panics
    ///
    /// When the binaries are missing and `FACT_REQUIRE_SERVICES=1` (as in CI), and when the
    /// cluster cannot be created or started: the message carries the program's output.
    pub fn start(test: &str) -> Option<Self> {
        let Some(bin) = binaries() else {
            assert!(
                std::env::var("FACT_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "FACT_REQUIRE_SERVICES=1 but no PostgreSQL binaries were found (set \
                 FACT_TEST_PG_BIN, or install postgresql: .ci/services.sh does)"
            );
            eprintln!(
                "skipped {test}: no PostgreSQL binaries (set FACT_TEST_PG_BIN or install \
                 postgresql)"
            );
            return None;
        };
        let run_as = is_root().then_some(ROOT_RUNS_AS);
        let dir = std::env::temp_dir().join(unique("fact-private-pg"));
        std::fs::create_dir(&dir).unwrap_or_else(|error| panic!("create {dir:?}: {error}"));
        let cluster = Self {
            dir,
            bin,
            port: free_port(),
            run_as,
            running: Mutex::new(false),
        };
        if let Some(user) = run_as {
            let owned = Command::new("chown")
                .arg(format!("{user}:"))
                .arg(&cluster.dir)
                .output();
            expect_success("chown", owned);
        }
        let initdb = cluster
            .command("initdb")
            .args(["--auth=trust", "--encoding=UTF8", "--no-sync"])
            .arg(format!("--username={SUPERUSER}"))
            .arg("-D")
            .arg(cluster.data())
            .output();
        expect_success("initdb", initdb);
        cluster.start_again();
        Some(cluster)
    }

    /// The cluster's `postgres` database as the superuser, on loopback.
    pub fn url(&self) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/postgres", self.port)
    }

    /// The port it listens on, the same across restarts.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server; returns once it is down (at most [`PG_CTL_WAIT_SECONDS`]).
    ///
    /// # Panics
    ///
    /// When `pg_ctl` fails.
    pub fn stop(&self, mode: StopMode) {
        let mut running = self.lock();
        let mode = match mode {
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        };
        let stopped = self.pg_ctl("stop").args(["-m", mode]).output();
        expect_success("pg_ctl stop", stopped);
        *running = false;
    }

    /// Starts the server on the same port and data directory; returns once it accepts
    /// connections (at most [`PG_CTL_WAIT_SECONDS`]).
    ///
    /// # Panics
    ///
    /// When `pg_ctl` fails (the server log is in the message).
    pub fn start_again(&self) {
        let mut running = self.lock();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=40 \
             -c shared_buffers=16MB",
            self.port,
            self.dir.display()
        );
        let started = self
            .pg_ctl("start")
            .arg("-o")
            .arg(options)
            .arg("-l")
            .arg(self.log_path())
            .output();
        if !matches!(&started, Ok(output) if output.status.success()) {
            let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
            panic!("pg_ctl start failed: {started:?}\nserver log:\n{log}");
        }
        *running = true;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, bool> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// `pg_ctl ACTION -D data -w -t PG_CTL_WAIT_SECONDS`.
    fn pg_ctl(&self, action: &str) -> Command {
        let mut command = self.command("pg_ctl");
        command.arg(action).arg("-D").arg(self.data()).args([
            "-w",
            "-t",
            &PG_CTL_WAIT_SECONDS.to_string(),
        ]);
        command
    }

    /// The PostgreSQL program `program`, run as the cluster's owner.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(path);
                command
            }
            None => Command::new(path),
        };
        // A cluster of its own: nothing of the developer's PostgreSQL environment applies.
        for variable in ["PGDATA", "PGPORT", "PGHOST", "PGUSER", "PGDATABASE"] {
            command.env_remove(variable);
        }
        command
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if *self.lock() {
            // Bounded by pg_ctl's own wait; an immediate stop needs no clean shutdown.
            let _ = self.pg_ctl("stop").args(["-m", "immediate"]).output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `FACT_TEST_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin` that holds `initdb`.
fn binaries() -> Option<PathBuf> {
    if let Ok(bin) = std::env::var("FACT_TEST_PG_BIN") {
        return Some(PathBuf::from(bin));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// A loopback port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|error| panic!("no free loopback port: {error}"))
}

fn expect_success(what: &str, output: std::io::Result<Output>) {
    match output {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "{what} failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(error) => panic!("{what} could not run: {error}"),
    }
}
