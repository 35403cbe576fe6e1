//! Running one statement on PostgreSQL: in a `READ ONLY` transaction that is rolled back, a
//! checked query wrapped so that the server sends at most the row cap and no row past the byte
//! cap, every type as JSON or as its text form.

use std::fmt::Write as _;

use futures::TryStreamExt as _;
use serde_json::Value;
use sqlx::pool::PoolConnection;
use sqlx::{
    Column as _, Connection as _, Executor as _, Postgres, Row as _, Statement as _, TypeInfo as _,
};

use super::collect::{Cap, Collected, FetchError, Rows};
use super::database::SqlError;
use super::decode::{PgDecoder, object, unique_names};
use super::params::bind_postgres;

/// A PostgreSQL statement: a checked query's body, which runs wrapped in the caps, or one of
/// ours, which runs as it is.
pub(super) enum PgText {
    Guarded(String),
    Raw(String),
}

pub(super) async fn postgres_fetch(
    mut connection: PoolConnection<Postgres>,
    statement: &PgText,
    params: &[Value],
    cap: Cap,
) -> Result<Rows, FetchError> {
    let mut transaction = connection.begin_with("BEGIN READ ONLY").await?;
    let body = match statement {
        PgText::Guarded(body) => body,
        PgText::Raw(sql) => return postgres_fetch_raw(transaction, sql, params, cap).await,
    };
    // The query's own columns: names and types to report, and how each is read.
    let described = transaction.prepare(body.as_str()).await?;
    let names = unique_names(described.columns().iter().map(|column| column.name()));
    let mut columns = Vec::with_capacity(names.len());
    let mut decoders = Vec::with_capacity(names.len());
    for column in described.columns() {
        let ty = column.type_info();
        // A type without a JSON form of its own is sent as its text form.
        let decoder = PgDecoder::for_type(ty);
        columns.push(decoder.is_some());
        decoders.push(decoder.unwrap_or(PgDecoder::Text));
    }
    let column_types: Vec<String> = described
        .columns()
        .iter()
        .map(|column| column.type_info().name().to_owned())
        .collect();
    let guarded = guarded_query(body, &columns, cap);
    let statement = transaction.prepare(&guarded).await?;
    let kept = read_rows(
        &mut transaction,
        &statement,
        params,
        &names,
        &decoders,
        true,
        cap,
    )
    .await?;
    transaction.rollback().await?;
    Ok(Rows {
        columns: names.into_iter().zip(column_types).collect(),
        rows: kept.rows,
        truncated: kept.truncated,
    })
}

/// Runs `sql` as it is, for statements of ours (the catalog's) and tests of the lower layers:
/// only the row and byte caps apply, and a type without a JSON form is an error.
async fn postgres_fetch_raw(
    mut transaction: sqlx::Transaction<'_, Postgres>,
    sql: &str,
    params: &[Value],
    cap: Cap,
) -> Result<Rows, FetchError> {
    let statement = transaction.prepare(sql).await?;
    let names = unique_names(statement.columns().iter().map(|column| column.name()));
    let mut decoders = Vec::with_capacity(names.len());
    for (column, name) in statement.columns().iter().zip(&names) {
        let ty = column.type_info();
        decoders.push(PgDecoder::for_type(ty).ok_or_else(|| {
            FetchError::Ours(SqlError::Database(format!(
                "column '{name}' has type {}, which has no JSON form",
                ty.name()
            )))
        })?);
    }
    let column_types: Vec<String> = statement
        .columns()
        .iter()
        .map(|column| column.type_info().name().to_owned())
        .collect();
    let kept = read_rows(
        &mut transaction,
        &statement,
        params,
        &names,
        &decoders,
        false,
        cap,
    )
    .await?;
    transaction.rollback().await?;
    Ok(Rows {
        columns: names.into_iter().zip(column_types).collect(),
        rows: kept.rows,
        truncated: kept.truncated,
    })
}

/// Binds `params` to `statement` and reads its rows as JSON objects keyed by `names`, within
/// `cap`. When `sized`, column 0 is each row's size as text ([`guarded_query`]) and the values
/// follow: a first row past the byte cap is refused, a later one ends the result.
async fn read_rows(
    connection: &mut sqlx::PgConnection,
    statement: &sqlx::postgres::PgStatement<'_>,
    params: &[Value],
    names: &[String],
    decoders: &[PgDecoder],
    sized: bool,
    cap: Cap,
) -> Result<Collected, FetchError> {
    let types = match statement.parameters() {
        Some(sqlx::Either::Left(types)) => types.to_vec(),
        _ => Vec::new(),
    };
    let query = bind_postgres(statement.query(), params, &types).map_err(FetchError::Ours)?;
    let first_value = usize::from(sized);
    let mut kept = Collected::new(cap);
    let mut stream = query.fetch(connection);
    while let Some(row) = stream.try_next().await? {
        if !kept.has_room() {
            break;
        }
        if sized {
            let size: i64 = row.try_get(0)?;
            if usize::try_from(size).map_or(true, |size| size > cap.bytes) {
                if kept.rows.is_empty() {
                    return Err(FetchError::Ours(SqlError::TooLarge {
                        what: format!("the result's first row ({size} bytes as text)"),
                        limit: cap.bytes,
                        cap: cap.bytes,
                    }));
                }
                kept.truncated = true;
                break;
            }
        }
        let values = decoders
            .iter()
            .enumerate()
            .map(|(index, decoder)| decoder.decode(&row, first_value + index))
            .collect::<Result<Vec<_>, _>>()?;
        kept.push(object(names, values));
    }
    Ok(kept)
}

/// `body` wrapped so that PostgreSQL sends at most `cap.rows + 1` rows, and no row larger
/// than `cap.bytes`: each row comes with its size as text (column 0), and a row past the cap
/// comes with its values left out, so that nothing that large is read off the connection.
/// `decoded[i]` says whether column `i` is read as its own type; the others are sent as text.
fn guarded_query(body: &str, decoded: &[bool], cap: Cap) -> String {
    let aliases: Vec<String> = (1..=decoded.len()).map(|i| format!("fact_c{i}")).collect();
    let mut size = String::from("0::int8");
    for alias in &aliases {
        let _ = write!(
            size,
            " + coalesce(octet_length(fact_q.{alias}::text)::int8, 0)"
        );
    }
    let mut select = String::from("fact_m.fact_size");
    for (alias, decoded) in aliases.iter().zip(decoded) {
        let bytes = cap.bytes;
        let _ = if *decoded {
            write!(
                select,
                ", CASE WHEN fact_m.fact_size > {bytes} THEN NULL ELSE fact_m.{alias} END"
            )
        } else {
            // format('%s', ...) is the value's text form, by its type's output function (a
            // cast to text may differ: inet's keeps the netmask); num_nulls tells a NULL value
            // from a row of NULLs, which IS NULL does not.
            write!(
                select,
                ", CASE WHEN fact_m.fact_size > {bytes} OR num_nulls(fact_m.{alias}) = 1 \
                 THEN NULL ELSE format('%s', fact_m.{alias}) END"
            )
        };
    }
    let column_list = if aliases.is_empty() {
        String::new()
    } else {
        format!("({})", aliases.join(", "))
    };
    // OFFSET 0 keeps the middle query from being merged into the outer one, which would
    // compute the size once per reference.
    format!(
        "SELECT {select} FROM (SELECT fact_q.*, {size} AS fact_size FROM \
         (SELECT * FROM (\n{body}\n) AS fact_inner LIMIT {rows}) AS fact_q{column_list} \
         OFFSET 0) AS fact_m",
        rows = cap.rows.saturating_add(1),
    )
}
