//! `POST /v1/tools/execute` of the calculator over loopback HTTP, under load from `wrk` (a
//! second process), beside a bare axum handler that answers the same JSON without any pipeline:
//! the limit of this stack (hyper, axum, loopback TCP) on this machine. The figure that matters
//! is FACT's throughput as a share of the bare handler's, and its p99 latency.
//!
//! ```text
//! apt-get install -y wrk
//! cargo bench -p fact-tests --bench server
//! ```
//!
//! Targets, measured in alternation, each for `FACT_BENCH_SECONDS` (default 10) with
//! `FACT_BENCH_CONNECTIONS` (default 32) connections, `FACT_BENCH_ROUNDS` (default 3) times:
//! - `bare`: axum, reads the body, returns the precomputed answer;
//! - `json`: axum, parses the body as JSON and writes a `ToolResult` (no pipeline): the cost of
//!   the JSON round trip on this stack;
//! - `executor`: axum, parses the body and answers `execute_tool_call`'s result, with no API
//!   key, middleware or error shapes;
//! - `fact`: the FACT server as `fact serve` runs it (API key, Prometheus metrics, the
//!   windowed collector, one span per call), without the audit log;
//! - `fact+audit`: the same with the audit log writing every call to a SQLite file, behind the
//!   answer (`queued` durability);
//! - `fact+audit-answered`: the same with `answered` durability (`fact serve`'s default): each
//!   call is answered once its record is committed, records group-committed;
//! - `fact-mcp`: the `fact` server again, called through MCP: a `tools/call` of the same
//!   calculator call POSTed to `/mcp` (streamable HTTP, stateless, JSON answer), so that MCP's
//!   share of `fact`'s throughput is measured in the same run on the same server, by a client
//!   of the session-era revision (2025-06-18, no handshake needed);
//! - `fact-mcp-2026`: the same by a client of the current revision (2026-07-28: the standard
//!   headers, and the request's metadata in `_meta`);
//! - `rmcp-bare`: rmcp's streamable HTTP service, configured as FACT's `/mcp` is (stateless,
//!   JSON answers), with a handler that answers a precomputed result: the limit of MCP on this
//!   stack, as `bare` is HTTP's;
//! - `fact-worker`: the `fact` server with a worker secret, called as an Arcade Engine calls a
//!   worker: a `ToolCallRequest` of the same calculator call POSTed to `/worker/tools/invoke`
//!   with the Engine's HS256 JWT;
//! - `arcade-serve`: the peer, what a user would otherwise deploy as an Arcade worker: the same
//!   calculator in Python (`server/arcade_calculator.py`) served by arcade-serve 3.6.0's
//!   FastAPIWorker under uvicorn, one process, called with the same request and token. Started
//!   only when `FACT_TEST_PYTHON` names a Python with arcade-serve (`.ci/python-venv.sh`), else
//!   skipped with a note.
//!
//! `FACT_BENCH_TARGETS=bare,fact` measures only the targets named. Both worker targets answer a
//! failed call with a 200 too, so their wrk script checks every body for `success` and the
//! result 42; the table ends with FACT's multiple of the peer (`fact-worker` over
//! `arcade-serve`) and the p99 of each:
//!
//! ```text
//! eval "$(bash .ci/python-venv.sh)"
//! FACT_BENCH_TARGETS=fact,fact-worker,arcade-serve cargo bench -p fact-tests --bench server
//! ```

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use fact_runtime::audit::{AuditConfig, AuditDurability, AuditLog, SqlAuditSink};
use fact_runtime::server::{ApiKeys, Server, ServerConfig};
use fact_runtime::{ToolCall, ToolExecutor};
use fact_tests::scratch::TempDb;
use fact_tests::thin_router::thin_router;
// Links the calculator.
use fact_examples as _;
use serde_json::{Value, json};

#[path = "server/peer.rs"]
mod peer;
#[path = "server/wrk.rs"]
mod wrk;

use wrk::Run;

const KEY: &str = "bench-key-0123456789abcdef";
const BODY: &str =
    r#"{"tool_name":"MyApp.Calculator","input":{"operation":"multiply","a":6,"b":7}}"#;
/// The same call as an MCP `tools/call`.
const MCP_BODY: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"MyApp.Calculator","arguments":{"operation":"multiply","a":6,"b":7}}}"#;
/// The session-era revision, which `/mcp` serves without a handshake.
const MCP_VERSION: &str = "2025-06-18";
/// The same call by a client of the current revision, which carries its metadata.
const MCP_2026_BODY: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"MyApp.Calculator","arguments":{"operation":"multiply","a":6,"b":7},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"wrk","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}}}"#;

/// Whether `target` is measured: every one, unless `FACT_BENCH_TARGETS` names some.
fn selected(target: &str) -> bool {
    std::env::var("FACT_BENCH_TARGETS")
        .map_or(true, |only| only.split(',').any(|t| t.trim() == target))
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("server bench skipped: wrk is not installed (apt-get install -y wrk)");
        return;
    }
    let seconds = env_or("FACT_BENCH_SECONDS", 10);
    let connections = env_or("FACT_BENCH_CONNECTIONS", 32);
    let rounds = env_or("FACT_BENCH_ROUNDS", 3);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(env_or("FACT_BENCH_WORKERS", 2) as usize)
        .enable_all()
        .build()
        .expect("runtime");
    let audit_db = TempDb::new("bench-server-audit");
    let answered_db = TempDb::new("bench-server-audit-answered");
    let mut targets = runtime.block_on(start_targets(&audit_db, &answered_db));
    // Killed when dropped, on every path.
    let arcade_serve = if selected("arcade-serve") {
        runtime.block_on(peer::ArcadeServe::start())
    } else {
        None
    };
    if let Some(worker) = &arcade_serve {
        targets.push(("arcade-serve", worker.addr()));
    }
    // `FACT_BENCH_TARGETS=bare,fact` measures only those (to profile one, say).
    if let Ok(only) = std::env::var("FACT_BENCH_TARGETS") {
        let only: Vec<&str> = only.split(',').map(str::trim).collect();
        targets.retain(|(name, _)| only.contains(name));
    }
    let token = peer::engine_token();
    for (name, addr) in &targets {
        if peer::is_worker(name) {
            runtime.block_on(peer::check_answers(name, *addr, &token));
        }
    }

    let script = std::env::temp_dir().join(format!("fact-bench-{}.lua", std::process::id()));
    let mut file = std::fs::File::create(&script).expect("script");
    write!(
        file,
        "wrk.method = \"POST\"\nwrk.body = '{BODY}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Bearer {KEY}\"\n"
    )
    .expect("script written");
    let mcp_script = wrk_script(
        "mcp",
        MCP_BODY,
        &[
            ("Accept", "application/json, text/event-stream"),
            ("MCP-Protocol-Version", MCP_VERSION),
        ],
    );
    let mcp_2026_script = wrk_script(
        "mcp-2026",
        MCP_2026_BODY,
        &[
            ("Accept", "application/json, text/event-stream"),
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", "MyApp.Calculator"),
        ],
    );
    let worker_script = peer::wrk_script(&token);

    let mut runs: Vec<(&str, Vec<Run>)> = targets
        .iter()
        .map(|(name, _)| (*name, Vec::new()))
        .collect();
    for round in 1..=rounds {
        for (index, (name, addr)) in targets.iter().enumerate() {
            let run = match *name {
                "fact-mcp" | "rmcp-bare" => {
                    wrk::run(*addr, "/mcp", &mcp_script, seconds, connections)
                }
                "fact-mcp-2026" => wrk::run(*addr, "/mcp", &mcp_2026_script, seconds, connections),
                name if peer::is_worker(name) => {
                    let text = wrk::output(
                        *addr,
                        peer::INVOKE_PATH,
                        &worker_script,
                        seconds,
                        connections,
                    );
                    peer::assert_all_expected(name, &text);
                    wrk::figures(&text)
                }
                _ => wrk::run(*addr, "/v1/tools/execute", &script, seconds, connections),
            };
            eprintln!(
                "round {round} {name:>10}: {:>9.0} req/s  p50 {:.3} ms  p99 {:.3} ms",
                run.requests_per_second, run.p50_ms, run.p99_ms
            );
            runs[index].1.push(run);
        }
    }
    let _ = std::fs::remove_file(&script);
    let _ = std::fs::remove_file(&mcp_script);
    let _ = std::fs::remove_file(&mcp_2026_script);
    let _ = std::fs::remove_file(&worker_script);

    let mean =
        |runs: &[Run], f: fn(&Run) -> f64| runs.iter().map(f).sum::<f64>() / runs.len() as f64;
    let bare = runs
        .iter()
        .find(|(name, _)| *name == "bare")
        .map_or(f64::NAN, |(_, runs)| mean(runs, |r| r.requests_per_second));
    println!("\n| target | req/s (mean of {rounds}) | share of bare | p50 ms | p99 ms |");
    println!("| --- | --- | --- | --- | --- |");
    for (name, runs) in &runs {
        let rps = mean(runs, |r| r.requests_per_second);
        println!(
            "| {name} | {rps:.0} | {:.0}% | {:.3} | {:.3} |",
            100.0 * rps / bare,
            mean(runs, |r| r.p50_ms),
            mean(runs, |r| r.p99_ms),
        );
    }
    if let Some(multiple) = peer::multiple(&runs) {
        println!("\n{multiple}");
    }
    println!(
        "\n{seconds} s per run, {connections} connections, wrk -t1, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    drop(runtime);
    drop(arcade_serve);
}

/// Starts the three servers on loopback and returns their names and addresses, `bare` first.
async fn start_targets(audit_db: &TempDb, answered_db: &TempDb) -> Vec<(&'static str, SocketAddr)> {
    let plain = ToolExecutor::builder().build().expect("registry builds");
    // The bare handler answers exactly what FACT answers (a fresh call id aside).
    let answer = plain
        .execute_tool_call(ToolCall::new(
            "MyApp.Calculator",
            json!({"operation": "multiply", "a": 6, "b": 7}),
        ))
        .await;
    assert_eq!(answer.status_code, 200, "{answer:?}");
    let answer = Bytes::from(serde_json::to_vec(&answer).expect("serializes"));
    let bare = Router::new().route(
        "/v1/tools/execute",
        post(move |_body: Bytes| {
            let answer = answer.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], answer).into_response() }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let bare_addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, bare).await });

    let sink = Arc::new(
        SqlAuditSink::connect(&audit_db.url())
            .await
            .expect("sqlite"),
    );
    let log = AuditLog::start(sink, AuditConfig::default()).expect("audit log");
    let audited = ToolExecutor::builder()
        .audit(log)
        .build()
        .expect("registry builds");
    let sink = Arc::new(
        SqlAuditSink::connect(&answered_db.url())
            .await
            .expect("sqlite"),
    );
    let config = AuditConfig::default().durability(AuditDurability::Answered);
    let log = AuditLog::start(sink, config).expect("audit log");
    let answered = ToolExecutor::builder()
        .audit(log)
        .build()
        .expect("registry builds");

    // What parsing the request and writing a ToolResult cost on this stack, with no pipeline.
    let template = plain
        .execute_tool_call(ToolCall::new(
            "MyApp.Calculator",
            json!({"operation": "multiply", "a": 6, "b": 7}),
        ))
        .await;
    let json_only = Router::new().route(
        "/v1/tools/execute",
        post(move |Json(body): Json<Value>| {
            let mut result = template.clone();
            async move {
                result.tool_name = body["tool_name"].as_str().unwrap_or_default().to_owned();
                Json(result)
            }
        }),
    );
    // The executor behind the thinnest handler: no API key, middleware or error shapes.
    let executor_only = thin_router(plain.clone());
    let mut targets = vec![("bare", bare_addr), ("rmcp-bare", rmcp_bare().await)];
    for (name, router) in [("json", json_only), ("executor", executor_only)] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        targets.push((name, listener.local_addr().expect("address")));
        tokio::spawn(async move { axum::serve(listener, router).await });
    }
    for (name, executor) in [
        ("fact", plain.clone()),
        ("fact-worker", plain),
        ("fact+audit", audited),
        ("fact+audit-answered", answered),
    ] {
        if !selected(name) {
            continue;
        }
        let config = ServerConfig::default()
            .addr("127.0.0.1:0".parse().expect("address"))
            .api_keys(ApiKeys::parse(&format!("{KEY}:bench")).expect("key"));
        // The same server, an Arcade worker too: its own instance, so that `fact` is unchanged.
        let config = if name == "fact-worker" {
            config.arcade_worker_secret(peer::worker_secret())
        } else {
            config
        };
        let bound = Server::new(executor, config)
            .expect("server")
            .bind()
            .await
            .expect("bind");
        let addr = bound.local_addr();
        targets.push((name, addr));
        tokio::spawn(bound.run_until(std::future::pending()));
        if name == "fact" {
            check_mcp_answers(addr, MCP_BODY, &[("mcp-protocol-version", MCP_VERSION)]).await;
            check_mcp_answers(
                addr,
                MCP_2026_BODY,
                &[
                    ("mcp-protocol-version", "2026-07-28"),
                    ("mcp-method", "tools/call"),
                    ("mcp-name", "MyApp.Calculator"),
                ],
            )
            .await;
            targets.push(("fact-mcp", addr));
            targets.push(("fact-mcp-2026", addr));
        }
    }
    targets
}

/// rmcp's own answer to a `tools/call`: a precomputed result, nothing run.
#[derive(Debug, Clone)]
struct Precomputed(rmcp::model::CallToolResult);

impl rmcp::ServerHandler for Precomputed {
    fn get_info(&self) -> rmcp::model::ServerConfig {
        rmcp::model::ServerConfig::new(
            rmcp::model::ServerCapabilities::builder()
                .enable_tools()
                .build(),
        )
    }

    async fn call_tool(
        &self,
        _request: rmcp::model::CallToolRequestParams,
        _context: rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, rmcp::model::ErrorData> {
        Ok(self.0.clone().into())
    }
}

/// `rmcp-bare` on a loopback port of its own.
async fn rmcp_bare() -> SocketAddr {
    use rmcp::transport::StreamableHttpServerConfig;
    use rmcp::transport::streamable_http_server::StreamableHttpService;
    use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
    let mut answer = rmcp::model::CallToolResult::success(vec![rmcp::model::ContentBlock::text(
        r#"{"operation":"multiply","a":6.0,"b":7.0,"result":42.0}"#,
    )]);
    answer.structured_content =
        Some(json!({"operation": "multiply", "a": 6.0, "b": 7.0, "result": 42.0}));
    let handler = Precomputed(answer);
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true);
    let service = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    let router = Router::new().route_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// An MCP target answers the calculator's result, not an error: wrk sees only statuses.
async fn check_mcp_answers(addr: SocketAddr, body: &'static str, headers: &[(&str, &str)]) {
    let mut request = reqwest::Client::new()
        .post(format!("http://{addr}/mcp"))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let answer = request
        .send()
        .await
        .expect("the server answers")
        .bytes()
        .await
        .expect("an answer");
    let answer: Value = serde_json::from_slice(&answer).expect("a JSON-RPC answer");
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    assert_eq!(
        answer["result"]["structuredContent"]["result"], 42.0,
        "{answer}"
    );
}

/// A wrk script POSTing `body` with the API key and `headers`, in a file named for `name`.
fn wrk_script(name: &str, body: &str, headers: &[(&str, &str)]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("fact-bench-{name}-{}.lua", std::process::id()));
    let mut lua = format!(
        "wrk.method = \"POST\"\nwrk.body = '{body}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Bearer {KEY}\"\n"
    );
    for (header, value) in headers {
        lua.push_str(&format!("wrk.headers[\"{header}\"] = \"{value}\"\n"));
    }
    std::fs::write(&path, lua).expect("script written");
    path
}
