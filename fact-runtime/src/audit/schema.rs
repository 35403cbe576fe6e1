//! The audit table's schema: created when missing, and brought up to date on a table an
//! earlier version created (docs/ARCHITECTURE.md, "Audit log").
//!
//! The same DDL serves both databases: only portable types, `IF NOT EXISTS` everywhere.
//!
//! Two indexes. By time: records arrive in time order, so it grows at its right edge and
//! costs the writer little. Unique by call id: the key that makes a retried batch store
//! nothing twice; call ids are UUID v7, time-ordered, so it too grows at its right edge
//! (BENCHMARKS.md has the figures of random v4 ids). Indexes by user or by tool would be
//! written all over on every batch and cut SQLite's sustained rate by half (BENCHMARKS.md);
//! queries by user or tool scan their time range instead, which is what an audit query is
//! bounded by.

use sqlx::{AnyPool, Row};

use super::AuditError;

const TABLE: &str = "CREATE TABLE IF NOT EXISTS fact_audit_log (
    call_id TEXT NOT NULL,
    timestamp_us BIGINT NOT NULL,
    tool_name TEXT NOT NULL,
    user_id TEXT,
    session_id TEXT,
    status_code INTEGER NOT NULL,
    error_type TEXT,
    duration_ms DOUBLE PRECISION NOT NULL,
    execution_method TEXT NOT NULL,
    arguments_sha256 TEXT NOT NULL,
    arguments_size BIGINT NOT NULL,
    arguments TEXT
)";

const TIME_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS fact_audit_log_time ON fact_audit_log (timestamp_us)";

/// The index that `INSERT ... ON CONFLICT (call_id) DO NOTHING` relies on.
const CALL_ID_INDEX: &str =
    "CREATE UNIQUE INDEX IF NOT EXISTS fact_audit_log_call_id ON fact_audit_log (call_id)";

const HAS_CALL_ID_INDEX_SQLITE: &str = "SELECT COUNT(*) FROM sqlite_master \
     WHERE type = 'index' AND name = 'fact_audit_log_call_id'";
const HAS_CALL_ID_INDEX_POSTGRES: &str = "SELECT COUNT(*) FROM pg_indexes \
     WHERE schemaname = current_schema() AND indexname = 'fact_audit_log_call_id'";

/// Keeps the first row stored of each call id (SQLite's `rowid` tells).
const DEDUPE_SQLITE: &str = "DELETE FROM fact_audit_log WHERE rowid NOT IN \
     (SELECT MIN(rowid) FROM fact_audit_log GROUP BY call_id)";
/// Keeps one row of each call id, the one at the lowest `ctid` (the first stored, unless
/// vacuumed space was reused; rows a retry stored twice are equal anyway).
const DEDUPE_POSTGRES: &str = "DELETE FROM fact_audit_log AS later \
     USING fact_audit_log AS earlier \
     WHERE later.call_id = earlier.call_id AND later.ctid > earlier.ctid";
/// Holds off writers (and any other sink doing the same) from the dedupe to the index.
const LOCK_POSTGRES: &str = "LOCK TABLE fact_audit_log IN SHARE ROW EXCLUSIVE MODE";

/// Creates the table and its indexes when missing. A table of an earlier version, without
/// the unique index, may hold rows stored twice (a batch retried after a lost
/// acknowledgement): in one transaction, every call id but its first row is deleted and the
/// index created; the count removed is logged.
pub(super) async fn create(pool: &AnyPool, sqlite: bool) -> Result<(), AuditError> {
    for statement in [TABLE, TIME_INDEX] {
        // Two processes creating the table at once can make PostgreSQL report a duplicate in
        // its catalog despite `IF NOT EXISTS`; the second attempt then finds the table.
        if sqlx::query(statement).execute(pool).await.is_err() {
            sqlx::query(statement).execute(pool).await?;
        }
    }
    if has_call_id_index(pool, sqlite).await? {
        return Ok(());
    }
    let mut transaction = pool.begin().await?;
    if !sqlite {
        sqlx::query(LOCK_POSTGRES)
            .execute(&mut *transaction)
            .await?;
    }
    let dedupe = if sqlite {
        DEDUPE_SQLITE
    } else {
        DEDUPE_POSTGRES
    };
    let removed = sqlx::query(dedupe)
        .execute(&mut *transaction)
        .await?
        .rows_affected();
    sqlx::query(CALL_ID_INDEX)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    if removed > 0 {
        tracing::warn!(
            removed,
            "fact_audit_log held rows stored twice under one call id (an earlier version \
             retrying a batch); kept the first of each and made call ids unique"
        );
    }
    Ok(())
}

async fn has_call_id_index(pool: &AnyPool, sqlite: bool) -> Result<bool, AuditError> {
    let query = if sqlite {
        HAS_CALL_ID_INDEX_SQLITE
    } else {
        HAS_CALL_ID_INDEX_POSTGRES
    };
    let count: i64 = sqlx::query(query).fetch_one(pool).await?.try_get(0)?;
    Ok(count > 0)
}
