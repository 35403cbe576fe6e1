//! The audit table as an earlier version left it, for the tests of the schema step that
//! brings it up to date (docs/ARCHITECTURE.md, "Audit log").

use fact_runtime::audit::{AuditQuery, AuditRecord, AuditSink, SqlAuditSink};

/// The table as the version before call ids were unique created it.
const PREVIOUS_TABLE: &str = "CREATE TABLE fact_audit_log (
    call_id TEXT NOT NULL, timestamp_us BIGINT NOT NULL, tool_name TEXT NOT NULL,
    user_id TEXT, session_id TEXT, status_code INTEGER NOT NULL, error_type TEXT,
    duration_ms DOUBLE PRECISION NOT NULL, execution_method TEXT NOT NULL,
    arguments_sha256 TEXT NOT NULL, arguments_size BIGINT NOT NULL, arguments TEXT)";

/// Rows that version could store: `dup` twice (a batch retried after a lost
/// acknowledgement), `thrice` three times, `alone` once; all of user `previous`.
const PREVIOUS_ROWS: &str = "INSERT INTO fact_audit_log VALUES
    ('dup', 1, 'T.t', 'previous', NULL, 200, NULL, 1.0, 'local', 'h', 2, NULL),
    ('alone', 2, 'T.t', 'previous', NULL, 200, NULL, 1.0, 'local', 'h', 2, NULL),
    ('dup', 1, 'T.t', 'previous', NULL, 200, NULL, 1.0, 'local', 'h', 2, NULL),
    ('thrice', 3, 'T.t', 'previous', NULL, 200, NULL, 1.0, 'local', 'h', 2, NULL),
    ('thrice', 3, 'T.t', 'previous', NULL, 200, NULL, 1.0, 'local', 'h', 2, NULL),
    ('thrice', 3, 'T.t', 'previous', NULL, 200, NULL, 1.0, 'local', 'h', 2, NULL)";

fn record(call_id: &str) -> AuditRecord {
    AuditRecord {
        call_id: call_id.into(),
        timestamp: 4.0,
        tool_name: "T.t".into(),
        user_id: Some("previous".into()),
        session_id: None,
        status_code: 200,
        error_type: None,
        duration_ms: 1.0,
        execution_method: AuditRecord::LOCAL.into(),
        arguments_sha256: "h".into(),
        arguments_size: 2,
        arguments: None,
    }
}

/// Creates the previous version's table in the empty database at `url` and fills it with
/// duplicates, then opens a [`SqlAuditSink`] on it and checks that one row of each call id is
/// left, that call ids are unique from then on, and that opening it again changes nothing.
///
/// # Panics
///
/// When any of that does not hold, or the database cannot be reached.
pub async fn previous_table_with_duplicates_is_deduplicated_and_keyed(url: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.expect("database opens");
    sqlx::query(PREVIOUS_TABLE)
        .execute(&pool)
        .await
        .expect("the previous table");
    sqlx::query(PREVIOUS_ROWS)
        .execute(&pool)
        .await
        .expect("the previous rows");
    pool.close().await;

    let previous = AuditQuery::new().user("previous");
    let sink = SqlAuditSink::connect(url)
        .await
        .expect("the schema step succeeds");
    let ids: Vec<String> = sink
        .query(&previous)
        .await
        .expect("query")
        .into_iter()
        .map(|r| r.call_id)
        .collect();
    assert_eq!(ids, ["dup", "alone", "thrice"]);
    sink.write_batch(&[record("dup"), record("new")])
        .await
        .expect("written");
    assert_eq!(sink.count(&previous).await.expect("count"), 4);
    sink.close().await;

    let again = SqlAuditSink::connect(url).await.expect("opens again");
    assert_eq!(again.count(&previous).await.expect("count"), 4);
    again.close().await;
}
