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
    if let Ok(url) = std::env::var("FACT_TEST_POSTGRES_URL") {
        return Some(url);
    }
    assert!(
        std::env::var("FACT_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "FACT_REQUIRE_SERVICES=1 but FACT_TEST_POSTGRES_URL is not set (run .ci/services.sh)"
    );
    eprintln!("skipped {test}: set FACT_TEST_POSTGRES_URL (see .ci/services.sh) to run it");
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
