//! Running one statement on SQLite: a deadline checked by the progress handler, `query_only`
//! asserted again, the parameter count checked, and no value or row larger than its share of
//! the result cap ever built (`SQLITE_LIMIT_LENGTH`).

use std::time::{Duration, Instant};

use futures::TryStreamExt as _;
use serde_json::Value;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::LockedSqliteHandle;
use sqlx::{Column as _, Executor as _, Sqlite, Statement as _, TypeInfo as _};
use tokio_util::sync::CancellationToken;

use super::collect::{Cap, Collected, FetchError, Rows};
use super::database::SqlError;
use super::decode::{bind_json, object, sqlite_value, unique_names};

/// The smallest size one SQLite value may reach however many columns share the result cap,
/// so that a wide result can still hold ordinary text.
const MIN_VALUE_BYTES: usize = 64 * 1024;

/// How often (in SQLite virtual-machine steps) a running SQLite statement checks its deadline.
const SQLITE_PROGRESS_STEPS: i32 = 1_000;

pub(super) async fn sqlite_fetch(
    mut connection: PoolConnection<Sqlite>,
    sql: &str,
    params: &[Value],
    cap: Cap,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<Rows, FetchError> {
    let deadline = Instant::now() + timeout;
    let cancel = cancel.clone();
    {
        // Set afresh before every statement, so a handler left by an abandoned call never
        // stops the next one.
        let mut handle = connection.lock_handle().await?;
        handle.set_progress_handler(SQLITE_PROGRESS_STEPS, move || {
            Instant::now() < deadline && !cancel.is_cancelled()
        });
        // SQLite's own maximum until the statement is prepared and its columns known.
        limit_value_length(&mut handle, usize::MAX);
    }
    // The connection was opened with query_only; it is asserted again before every
    // statement, so that no earlier statement can have left it off.
    sqlx::query("PRAGMA query_only = ON")
        .execute(&mut *connection)
        .await?;
    let statement = connection.prepare(sql).await?;
    if let Some(sqlx::Either::Right(placeholders)) = statement.parameters()
        && placeholders != params.len()
    {
        return Err(FetchError::Ours(SqlError::Parameter(format!(
            "the statement has {placeholders} placeholder(s) but {} parameter(s) were given",
            params.len()
        ))));
    }
    let declared: Vec<String> = statement
        .columns()
        .iter()
        .map(|column| column.type_info().name().to_owned())
        .collect();
    let names = unique_names(statement.columns().iter().map(|column| column.name()));
    // No value (nor row the statement sorts or groups) may grow past the columns' share of
    // the result cap: SQLite refuses it (SQLITE_TOOBIG) before allocating it.
    let value_limit = value_limit(cap.bytes, names.len());
    limit_value_length(&mut connection.lock_handle().await?, value_limit);
    let too_big = |error: sqlx::Error| match &error {
        sqlx::Error::Database(database) if database.code().as_deref() == Some("18") => {
            FetchError::Ours(SqlError::TooLarge {
                what: "a value of the result, or a row the statement sorts or groups,".to_owned(),
                limit: value_limit,
                cap: cap.bytes,
            })
        }
        _ => FetchError::Sqlx(error),
    };
    let mut kept = Collected::new(cap);
    {
        let mut stream = bind_json!(statement.query(), params).fetch(&mut *connection);
        while let Some(row) = stream.try_next().await.map_err(too_big)? {
            if !kept.has_room() {
                break;
            }
            let values = (0..names.len())
                .map(|index| sqlite_value(&row, index))
                .collect::<Result<Vec<_>, _>>()?;
            kept.push(object(&names, values));
        }
    }
    Ok(Rows {
        columns: names.into_iter().zip(declared).collect(),
        rows: kept.rows,
        truncated: kept.truncated,
    })
}

/// The most bytes one value of a result of `columns` columns may take: an equal share of the
/// result cap, but at least [`MIN_VALUE_BYTES`] (and never more than the cap).
fn value_limit(cap: usize, columns: usize) -> usize {
    (cap / columns.max(1)).max(MIN_VALUE_BYTES).min(cap.max(1))
}

/// Sets SQLite's `SQLITE_LIMIT_LENGTH` on the locked connection: the largest string, blob or
/// row it will build, checked before the memory is allocated. sqlx has no safe way to reach
/// `sqlite3_limit`, hence this one call through the raw handle.
#[allow(unsafe_code)]
fn limit_value_length(handle: &mut LockedSqliteHandle<'_>, bytes: usize) {
    let bytes = i32::try_from(bytes).unwrap_or(i32::MAX);
    // SAFETY: `as_raw_handle` is the live connection that `handle` keeps locked for as long as
    // it is borrowed here, so no other thread uses it; `sqlite3_limit` only reads and writes
    // that connection's limit array, with a valid limit id, and cannot fail.
    unsafe {
        libsqlite3_sys::sqlite3_limit(
            handle.as_raw_handle().as_ptr(),
            libsqlite3_sys::SQLITE_LIMIT_LENGTH,
            bytes,
        );
    }
}
