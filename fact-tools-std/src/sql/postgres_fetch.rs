//! Running one statement on PostgreSQL: in a `READ ONLY` transaction that is rolled back, a
//! checked query wrapped so that the server sends at most the row cap and no row past the byte
//! cap, every type as JSON or as its text form.

use std::fmt::Write as _;

use futures::TryStreamExt as _;
use serde_json::Value;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgStatement;
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
    match statement {
        PgText::Guarded(body) => {
            // The query's own columns: names and types to report, and how each is read. A
            // type without a JSON form of its own is sent as its text form.
            let columns = Columns::of(&transaction.prepare(body.as_str()).await?);
            let decoded: Vec<bool> = columns.decoders.iter().map(Option::is_some).collect();
            let decoders = columns
                .decoders
                .iter()
                .map(|decoder| decoder.unwrap_or(PgDecoder::Text))
                .collect();
            let text = guarded_query(body, &decoded, cap);
            let guarded = transaction.prepare(text.as_str()).await?;
            read_rows(transaction, &guarded, params, columns, decoders, true, cap).await
        }
        // Statements of ours (the catalog's) and tests of the lower layers run as they are:
        // only the row and byte caps apply, and a type without a JSON form is an error.
        PgText::Raw(sql) => {
            let statement = transaction.prepare(sql.as_str()).await?;
            let columns = Columns::of(&statement);
            let decoders = columns
                .decoders
                .iter()
                .zip(&columns.names)
                .zip(&columns.types)
                .map(|((decoder, name), type_name)| {
                    decoder.ok_or_else(|| {
                        FetchError::Ours(SqlError::Database(format!(
                            "column '{name}' has type {type_name}, which has no JSON form"
                        )))
                    })
                })
                .collect::<Result<_, _>>()?;
            read_rows(
                transaction,
                &statement,
                params,
                columns,
                decoders,
                false,
                cap,
            )
            .await
        }
    }
}

/// A prepared statement's columns: unique names, the database's type names, and the decoder
/// of each type that has a JSON form.
struct Columns {
    names: Vec<String>,
    types: Vec<String>,
    decoders: Vec<Option<PgDecoder>>,
}

impl Columns {
    fn of(statement: &PgStatement<'_>) -> Self {
        let columns = statement.columns();
        Self {
            names: unique_names(columns.iter().map(|column| column.name())),
            types: columns
                .iter()
                .map(|column| column.type_info().name().to_owned())
                .collect(),
            decoders: columns
                .iter()
                .map(|column| PgDecoder::for_type(column.type_info()))
                .collect(),
        }
    }
}

/// Binds `params` to `statement`, reads its rows as JSON objects keyed by the columns' names
/// within `cap` (each with `decoders`), and rolls the transaction back. When `sized`, column 0
/// is each row's size as text ([`guarded_query`]) and the values follow: a first row past the
/// byte cap is refused, a later one ends the result.
async fn read_rows(
    mut transaction: sqlx::Transaction<'_, Postgres>,
    statement: &PgStatement<'_>,
    params: &[Value],
    columns: Columns,
    decoders: Vec<PgDecoder>,
    sized: bool,
    cap: Cap,
) -> Result<Rows, FetchError> {
    let types = match statement.parameters() {
        Some(sqlx::Either::Left(types)) => types.to_vec(),
        _ => Vec::new(),
    };
    let query = bind_postgres(statement.query(), params, &types).map_err(FetchError::Ours)?;
    let first_value = usize::from(sized);
    let mut kept = Collected::new(cap);
    {
        let mut stream = query.fetch(&mut *transaction);
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
            kept.push(object(&columns.names, values));
        }
    }
    transaction.rollback().await?;
    Ok(Rows {
        columns: columns.names.into_iter().zip(columns.types).collect(),
        rows: kept.rows,
        truncated: kept.truncated,
    })
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
