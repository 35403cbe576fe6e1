//! The external services tests run against, found through the environment that
//! `.ci/services.sh` prints.

/// The PostgreSQL database for tests (`FACT_TEST_POSTGRES_URL`), or `None` after printing that
/// the calling test is skipped.
///
/// # Panics
///
/// When `FACT_REQUIRE_SERVICES=1` (as in CI) and the URL is not set: there a missing service
/// is a failure, not a skip.
pub fn postgres_url(test: &str) -> Option<String> {
    configured(test, "FACT_TEST_POSTGRES_URL", ".ci/services.sh")
}

/// The haproxy binary (`FACT_TEST_HAPROXY`), the load balancer of the replica tests, or `None`
/// after printing that the calling test is skipped.
///
/// # Panics
///
/// As [`postgres_url`], when `FACT_REQUIRE_SERVICES=1` and the variable is not set.
pub fn haproxy(test: &str) -> Option<String> {
    configured(test, "FACT_TEST_HAPROXY", ".ci/services.sh")
}

/// The proxy variables a child process must not inherit: its requests go to loopback, and no
/// proxy of the developer's shell may stand between.
pub const PROXY_VARIABLES: [&str; 6] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
];

/// The Python of the venv holding the pinned clients of other projects (arcadepy, mcp)
/// (`FACT_TEST_PYTHON`), or `None` after printing that the calling test is skipped.
///
/// # Panics
///
/// As [`postgres_url`], when `FACT_REQUIRE_SERVICES=1` and the variable is not set.
pub fn test_python(test: &str) -> Option<String> {
    configured(test, "FACT_TEST_PYTHON", ".ci/python-venv.sh")
}

/// The value of `variable`, which `script` prints, or `None` after saying `test` is skipped;
/// a failure instead where CI requires every service (`FACT_REQUIRE_SERVICES=1`).
fn configured(test: &str, variable: &str, script: &str) -> Option<String> {
    if let Ok(value) = std::env::var(variable) {
        return Some(value);
    }
    assert!(
        std::env::var("FACT_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "FACT_REQUIRE_SERVICES=1 but {variable} is not set (run {script})"
    );
    eprintln!("skipped {test}: set {variable} (see {script}) to run it");
    None
}

/// An audit sink on the test PostgreSQL database, or `None` after saying that `test` is skipped
/// (as [`postgres_url`]).
///
/// # Panics
///
/// As [`postgres_url`], and when the database is configured but cannot be reached.
pub async fn postgres_audit_sink(
    test: &str,
) -> Option<std::sync::Arc<fact_runtime::audit::SqlAuditSink>> {
    let url = postgres_url(test)?;
    let sink = fact_runtime::audit::SqlAuditSink::connect(&url)
        .await
        .expect("PostgreSQL reachable");
    Some(std::sync::Arc::new(sink))
}
