//! Binding a call's JSON parameters to a prepared PostgreSQL statement, by the type PostgreSQL
//! inferred for each placeholder: `10` binds to an `int4` column as an `int4`, `"2024-02-29"`
//! to a `date` column as a date. (SQLite has no parameter types; its values bind as they are.)

use std::str::FromStr;

use serde_json::Value;
use sqlx::postgres::{PgArguments, PgTypeInfo};
use sqlx::query::Query;
use sqlx::types::{Decimal, Json, chrono, uuid::Uuid};
use sqlx::{Postgres, TypeInfo as _};

use super::database::SqlError;

/// A prepared statement's query with `params` bound by the types in `types`.
pub(crate) fn bind_postgres<'q>(
    mut query: Query<'q, Postgres, PgArguments>,
    params: &'q [Value],
    types: &[PgTypeInfo],
) -> Result<Query<'q, Postgres, PgArguments>, SqlError> {
    if params.len() != types.len() {
        return Err(SqlError::Parameter(format!(
            "the statement has {} placeholder(s) but {} parameter(s) were given",
            types.len(),
            params.len()
        )));
    }
    for (index, (value, ty)) in params.iter().zip(types).enumerate() {
        let wrong = |expected: &str| {
            SqlError::Parameter(format!(
                "parameter {} is used as {} but is {value}; expected {expected}",
                index + 1,
                ty.name()
            ))
        };
        if value.is_null() {
            query = query.bind(None::<String>);
            continue;
        }
        query = match ty.name() {
            "BOOL" => query.bind(value.as_bool().ok_or_else(|| wrong("true or false"))?),
            "INT2" => {
                query.bind(integer::<i16>(value).ok_or_else(|| wrong("an integer of 16 bits"))?)
            }
            "INT4" => {
                query.bind(integer::<i32>(value).ok_or_else(|| wrong("an integer of 32 bits"))?)
            }
            "INT8" => {
                query.bind(integer::<i64>(value).ok_or_else(|| wrong("an integer of 64 bits"))?)
            }
            #[allow(clippy::cast_possible_truncation)]
            "FLOAT4" => query.bind(value.as_f64().ok_or_else(|| wrong("a number"))? as f32),
            "FLOAT8" => query.bind(value.as_f64().ok_or_else(|| wrong("a number"))?),
            "NUMERIC" => query.bind(decimal(value).ok_or_else(|| wrong("a decimal number"))?),
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "UNKNOWN" => query.bind(match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            }),
            "JSON" | "JSONB" => query.bind(Json(value)),
            "UUID" => query.bind(parsed::<Uuid>(value).ok_or_else(|| wrong("a UUID string"))?),
            "DATE" => query.bind(
                parsed::<chrono::NaiveDate>(value).ok_or_else(|| wrong("a date, 2024-02-29"))?,
            ),
            "TIMESTAMP" => query
                .bind(timestamp(value).ok_or_else(|| wrong("a timestamp, 2024-02-29T12:30:00"))?),
            "TIMESTAMPTZ" => query.bind(
                value
                    .as_str()
                    .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
                    .ok_or_else(|| wrong("an RFC 3339 timestamp, 2024-02-29T12:30:00Z"))?,
            ),
            other => {
                return Err(SqlError::Parameter(format!(
                    "parameter {} is used as {other}, which SQL.Query cannot bind; cast it in \
                     the query (${}::text)",
                    index + 1,
                    index + 1
                )));
            }
        };
    }
    Ok(query)
}

/// An integer of type `T`, from a JSON integer or a string holding one.
fn integer<T: TryFrom<i64> + FromStr>(value: &Value) -> Option<T> {
    match value {
        Value::Number(number) => number.as_i64().and_then(|n| T::try_from(n).ok()),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// A decimal from a JSON number (its exact text) or a string.
fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::Number(number) => {
            let text = number.to_string();
            Decimal::from_str(&text)
                .or_else(|_| Decimal::from_scientific(&text))
                .ok()
        }
        Value::String(text) => Decimal::from_str(text.trim()).ok(),
        _ => None,
    }
}

fn parsed<T: FromStr>(value: &Value) -> Option<T> {
    value.as_str().and_then(|text| text.trim().parse().ok())
}

/// A timestamp written with `T` or a space between date and time.
fn timestamp(value: &Value) -> Option<chrono::NaiveDateTime> {
    let text = value.as_str()?.trim();
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_are_range_checked() {
        assert_eq!(integer::<i32>(&json!(10)), Some(10));
        assert_eq!(integer::<i32>(&json!("10")), Some(10));
        assert_eq!(integer::<i16>(&json!(40_000)), None);
        assert_eq!(integer::<i64>(&json!(1.5)), None);
    }

    #[test]
    fn decimals_keep_their_digits() {
        assert_eq!(
            decimal(&json!("12.50")).map(|d| d.to_string()),
            Some("12.50".to_owned())
        );
        assert_eq!(
            decimal(&json!(0.1)).map(|d| d.to_string()),
            Some("0.1".to_owned())
        );
        assert_eq!(decimal(&json!(true)), None);
    }

    #[test]
    fn timestamps_take_either_separator() {
        assert!(timestamp(&json!("2024-02-29T12:30:00")).is_some());
        assert!(timestamp(&json!("2024-02-29 12:30:00.5")).is_some());
        assert!(timestamp(&json!("yesterday")).is_none());
    }
}
