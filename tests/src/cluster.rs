//! Several `fact serve` replicas behind a real load balancer (haproxy), sharing one PostgreSQL
//! database: the deployment of docs/ARCHITECTURE.md, "Scaling out", on loopback.
//!
//! Each cluster gets a database of its own in the test PostgreSQL (`FACT_TEST_POSTGRES_URL`),
//! dropped when the cluster is; haproxy runs in the foreground on a free port and is killed
//! with the replicas, on every path.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fact_runtime::audit::{AuditQuery, AuditRecord, SqlAuditSink};
use sqlx::Connection as _;

use crate::serve_process::{ServeProcess, WAIT, send_signal};
use crate::services;

/// A database of its own in the test PostgreSQL, dropped (with any connection left) on drop.
#[derive(Debug)]
pub struct Database {
    admin_url: String,
    name: String,
    /// The URL of this database.
    pub url: String,
}

impl Database {
    /// A new database, or `None` when the test PostgreSQL is not configured (the test is then
    /// skipped, or fails under `FACT_REQUIRE_SERVICES=1`).
    pub fn create(test: &str) -> Option<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let admin_url = services::postgres_url(test)?;
        let name = format!(
            "fact_cluster_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        admin(&admin_url, &format!("CREATE DATABASE {name}"));
        let mut url = url::Url::parse(&admin_url).expect("FACT_TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        Some(Self {
            admin_url,
            name,
            url: url.to_string(),
        })
    }

    /// Every audit record in this database, by time.
    pub fn audit_records(&self) -> Vec<AuditRecord> {
        audit_records(&self.url)
    }
}

/// Every audit record in the database at `url`, by time.
pub fn audit_records(url: &str) -> Vec<AuditRecord> {
    block_on(async {
        let sink = SqlAuditSink::connect(url)
            .await
            .expect("the cluster's database opens");
        let records = sink
            .query(&AuditQuery::new())
            .await
            .expect("the audit log can be queried");
        sink.close().await;
        records
    })
}

impl Drop for Database {
    fn drop(&mut self) {
        admin(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Runs one statement on the test PostgreSQL's own database.
fn admin(url: &str, statement: &str) {
    block_on(async {
        let mut connection = sqlx::PgConnection::connect(url)
            .await
            .expect("the test PostgreSQL is reachable");
        sqlx::raw_sql(statement)
            .execute(&mut connection)
            .await
            .unwrap_or_else(|error| panic!("{statement}: {error}"));
        let _ = connection.close().await;
    });
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the database")
        .block_on(future)
}

/// `replicas` × `fact serve` behind haproxy.
#[derive(Debug)]
pub struct Cluster {
    /// The replicas, in the balancer's order; a killed one stays (its process reaped).
    pub replicas: Vec<ServeProcess>,
    /// Where each replica listens.
    pub addrs: Vec<SocketAddr>,
    /// Where the balancer listens: what clients call.
    pub balancer: SocketAddr,
    haproxy: Child,
}

impl Cluster {
    /// Starts `replicas` servers, each the command `serve` makes (a `fact serve` on a free
    /// loopback port), and haproxy in front of them, its configuration in `dir`; `None` when
    /// haproxy is not installed (skipped, or a failure under `FACT_REQUIRE_SERVICES=1`).
    pub fn start(
        test: &str,
        dir: &Path,
        replicas: usize,
        serve: impl Fn() -> Command,
    ) -> Option<Self> {
        let haproxy = services::haproxy(test)?;
        let mut servers = Vec::with_capacity(replicas);
        let mut addrs = Vec::with_capacity(replicas);
        for _ in 0..replicas {
            let mut server = ServeProcess::start(&mut serve());
            addrs.push(server.addr());
            servers.push(server);
        }
        let (child, balancer) = start_haproxy(&haproxy, dir, &addrs);
        Some(Self {
            replicas: servers,
            addrs,
            balancer,
            haproxy: child,
        })
    }

    /// `kill -9` of replica `index`, as a crashed machine: no shutdown, no flush.
    pub fn kill(&mut self, index: usize) {
        let server = &mut self.replicas[index];
        send_signal(server.child.id(), "KILL");
        let _ = server.child.wait();
    }

    /// SIGTERM to every replica still running, then waits for each to exit (each flushes its
    /// audit log first).
    pub fn stop_replicas(&mut self) {
        for server in &mut self.replicas {
            if matches!(server.child.try_wait(), Ok(None)) {
                server.terminate();
                let status = server.wait_exit();
                assert!(
                    status.success(),
                    "a replica stopped with {status}:\n{}",
                    server.log()
                );
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.haproxy.kill();
        let _ = self.haproxy.wait();
        // The replicas are killed by their own drops.
    }
}

/// haproxy's configuration: round robin over `replicas`, each checked on `/health`; a request
/// whose connection to one replica fails is sent to another (a request already sent is never
/// sent twice: `retry-on conn-failure` only).
fn haproxy_config(port: u16, replicas: &[SocketAddr]) -> String {
    let mut config = format!(
        "global\n    maxconn 4096\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 60s\n    \
         timeout server 60s\n    retries 3\n    option redispatch\n    retry-on conn-failure\n\
         frontend fact\n    bind 127.0.0.1:{port}\n    default_backend replicas\n\
         backend replicas\n    balance roundrobin\n    option httpchk GET /health\n"
    );
    for (index, addr) in replicas.iter().enumerate() {
        config.push_str(&format!(
            "    server replica{index} {addr} check inter 200ms fall 1 rise 1\n"
        ));
    }
    config
}

/// Starts haproxy in the foreground on a free loopback port; tries another port should the one
/// chosen be taken meanwhile.
fn start_haproxy(binary: &str, dir: &Path, replicas: &[SocketAddr]) -> (Child, SocketAddr) {
    let config_path = dir.join("haproxy.cfg");
    for _ in 0..5 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        std::fs::write(&config_path, haproxy_config(port, replicas))
            .expect("the haproxy configuration is written");
        let mut child = Command::new(binary)
            .arg("-db")
            .arg("-f")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy starts");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + WAIT;
        loop {
            if TcpStream::connect(addr).is_ok() {
                return (child, addr);
            }
            if let Ok(Some(_)) = child.try_wait() {
                // Most likely the port was taken: try another.
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("haproxy did not listen on {addr} within {WAIT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("haproxy could not start on any of five free ports");
}
