//! Running wrk, a second process, against one target of the server bench, and reading its
//! figures.

use std::net::SocketAddr;
use std::process::Command;

/// One wrk run's figures.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    pub(crate) requests_per_second: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
}

/// Runs wrk against `addr` and reads its figures; every answer must have been a 2xx.
pub(crate) fn run(
    addr: SocketAddr,
    path: &str,
    script: &std::path::Path,
    seconds: u64,
    connections: u64,
) -> Run {
    figures(&output(addr, path, script, seconds, connections))
}

/// What wrk printed, run against `addr`; it must have succeeded and seen only 2xx answers.
pub(crate) fn output(
    addr: SocketAddr,
    path: &str,
    script: &std::path::Path,
    seconds: u64,
    connections: u64,
) -> String {
    let output = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(format!("http://{addr}{path}"))
        .output()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "wrk failed: {text}");
    assert!(
        !text.contains("Non-2xx"),
        "some answers were not 2xx:\n{text}"
    );
    text
}

/// wrk's figures in its output `text`.
pub(crate) fn figures(text: &str) -> Run {
    let field = |prefix: &str| -> Option<&str> {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::trim)
    };
    let requests_per_second = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in:\n{text}"));
    let latency = |percentile: &str| {
        field(percentile)
            .and_then(millis)
            .unwrap_or_else(|| panic!("no {percentile} latency in:\n{text}"))
    };
    Run {
        requests_per_second,
        p50_ms: latency("50%"),
        p99_ms: latency("99%"),
    }
}

/// wrk's `1.23ms`, `456.00us`, `1.01s` in milliseconds.
fn millis(value: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = value.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = value.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}
