//! Database values to JSON, and JSON parameters to bound values: the same shapes for SQLite and
//! PostgreSQL.

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use super::pg_time;
use sqlx::postgres::types::PgInterval;
use sqlx::postgres::{PgRow, PgTypeInfo, PgTypeKind, PgValueFormat};
use sqlx::sqlite::SqliteRow;
use sqlx::types::{Json, uuid::Uuid};
use sqlx::{Row as _, TypeInfo as _, ValueRef as _};

/// How a PostgreSQL column is turned into JSON, chosen once per column from its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PgDecoder {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Text,
    Uuid,
    Json,
    Date,
    Time,
    Timestamp,
    Timestamptz,
    Bytes,
    Interval,
    TextArray,
    Int4Array,
    Int8Array,
    Float8Array,
    BoolArray,
}

impl PgDecoder {
    /// The decoder for `ty`, or `None` for a type the SQL tools cannot return as JSON.
    pub(crate) fn for_type(ty: &PgTypeInfo) -> Option<Self> {
        if matches!(ty.kind(), PgTypeKind::Enum(_)) {
            return Some(Self::Text);
        }
        Some(match ty.name() {
            "BOOL" => Self::Bool,
            "INT2" => Self::Int2,
            "INT4" => Self::Int4,
            "INT8" => Self::Int8,
            "FLOAT4" => Self::Float4,
            "FLOAT8" => Self::Float8,
            "NUMERIC" => Self::Numeric,
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "UNKNOWN" => Self::Text,
            "UUID" => Self::Uuid,
            "JSON" | "JSONB" => Self::Json,
            "DATE" => Self::Date,
            "TIME" => Self::Time,
            "TIMESTAMP" => Self::Timestamp,
            "TIMESTAMPTZ" => Self::Timestamptz,
            "BYTEA" => Self::Bytes,
            "INTERVAL" => Self::Interval,
            "TEXT[]" | "VARCHAR[]" | "BPCHAR[]" | "NAME[]" => Self::TextArray,
            "INT4[]" | "INT2[]" => Self::Int4Array,
            "INT8[]" => Self::Int8Array,
            "FLOAT8[]" | "FLOAT4[]" => Self::Float8Array,
            "BOOL[]" => Self::BoolArray,
            _ => return None,
        })
    }

    /// Column `index` of `row` as JSON.
    pub(crate) fn decode(self, row: &PgRow, index: usize) -> Result<Value, sqlx::Error> {
        if row.try_get_raw(index)?.is_null() {
            return Ok(Value::Null);
        }
        Ok(match self {
            Self::Bool => Value::Bool(row.try_get(index)?),
            Self::Int2 => Value::from(row.try_get::<i16, _>(index)?),
            Self::Int4 => Value::from(row.try_get::<i32, _>(index)?),
            Self::Int8 => Value::from(row.try_get::<i64, _>(index)?),
            Self::Float4 => float(f64::from(row.try_get::<f32, _>(index)?)),
            Self::Float8 => float(row.try_get::<f64, _>(index)?),
            Self::Numeric => numeric(&raw_text(row, index, pg_time::numeric)?),
            // Enums arrive as their label; text types as text.
            Self::Text => Value::String(row.try_get_unchecked::<String, _>(index)?),
            Self::Uuid => Value::String(row.try_get::<Uuid, _>(index)?.to_string()),
            Self::Json => row.try_get::<Json<Value>, _>(index)?.0,
            Self::Date => Value::String(raw_text(row, index, pg_time::date)?),
            Self::Time => Value::String(raw_text(row, index, pg_time::time)?),
            Self::Timestamp => Value::String(raw_text(row, index, |bytes| {
                pg_time::timestamp(bytes, false)
            })?),
            Self::Timestamptz => Value::String(raw_text(row, index, |bytes| {
                pg_time::timestamp(bytes, true)
            })?),
            Self::Bytes => bytes(&row.try_get::<Vec<u8>, _>(index)?),
            Self::Interval => interval(&row.try_get::<PgInterval, _>(index)?),
            Self::TextArray => Value::from(row.try_get::<Vec<Option<String>>, _>(index)?),
            Self::Int4Array => Value::from(row.try_get::<Vec<Option<i32>>, _>(index)?),
            Self::Int8Array => Value::from(row.try_get::<Vec<Option<i64>>, _>(index)?),
            Self::Float8Array => Value::Array(
                row.try_get::<Vec<Option<f64>>, _>(index)?
                    .into_iter()
                    .map(|value| value.map_or(Value::Null, float))
                    .collect(),
            ),
            Self::BoolArray => Value::from(row.try_get::<Vec<Option<bool>>, _>(index)?),
        })
    }
}

/// Column `index` of a SQLite row as JSON, by the storage class of the value itself (SQLite
/// columns are not typed).
pub(crate) fn sqlite_value(row: &SqliteRow, index: usize) -> Result<Value, sqlx::Error> {
    let raw = row.try_get_raw(index)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let class = raw.type_info().name().to_owned();
    Ok(match class.as_str() {
        "INTEGER" => Value::from(row.try_get_unchecked::<i64, _>(index)?),
        "REAL" => float(row.try_get_unchecked::<f64, _>(index)?),
        "BLOB" => bytes(&row.try_get_unchecked::<Vec<u8>, _>(index)?),
        _ => Value::String(row.try_get_unchecked::<String, _>(index)?),
    })
}

/// A float as a JSON number; JSON has no NaN or infinity, so those become strings.
fn float(value: f64) -> Value {
    Number::from_f64(value).map_or_else(|| Value::String(value.to_string()), Value::Number)
}

/// Column `index` as text: as PostgreSQL sent it in text format, or decoded from binary by
/// `decode`.
fn raw_text(
    row: &PgRow,
    index: usize,
    decode: impl Fn(&[u8]) -> Option<String>,
) -> Result<String, sqlx::Error> {
    let raw = row.try_get_raw(index)?;
    let decoded = match raw.format() {
        PgValueFormat::Text => raw.as_str().ok().map(str::to_owned),
        PgValueFormat::Binary => raw.as_bytes().ok().and_then(decode),
    };
    decoded.ok_or_else(|| sqlx::Error::ColumnDecode {
        index: index.to_string(),
        source: "a value PostgreSQL sent in an unexpected form".into(),
    })
}

/// A NUMERIC's exact text as a JSON number when the double nearest to it prints back as the
/// same digits, else as the string itself, so that no digit is silently lost (`NaN` and the
/// infinities stay strings).
fn numeric(text: &str) -> Value {
    let normalized = match text.split_once('.') {
        Some((whole, fraction)) => {
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() {
                whole.to_owned()
            } else {
                format!("{whole}.{fraction}")
            }
        }
        None => text.to_owned(),
    };
    if let Ok(integer) = normalized.parse::<i64>() {
        return Value::from(integer);
    }
    match normalized.parse::<f64>() {
        Ok(double) if double.is_finite() && double.to_string() == normalized => float(double),
        _ => Value::String(text.to_owned()),
    }
}

/// Bytes as standard base64.
fn bytes(value: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(value))
}

/// An interval as an ISO 8601 duration (`P1Y2M3DT4H5M6.5S`).
fn interval(value: &PgInterval) -> Value {
    let (years, months) = (value.months / 12, value.months % 12);
    let micros = value.microseconds;
    let (hours, rest) = (micros / 3_600_000_000, micros % 3_600_000_000);
    let (minutes, rest) = (rest / 60_000_000, rest % 60_000_000);
    let seconds = rest as f64 / 1_000_000.0;
    let mut text = String::from("P");
    for (amount, unit) in [(years, 'Y'), (months, 'M'), (value.days, 'D')] {
        if amount != 0 {
            text.push_str(&format!("{amount}{unit}"));
        }
    }
    if micros != 0 {
        text.push('T');
        for (amount, unit) in [(hours, 'H'), (minutes, 'M')] {
            if amount != 0 {
                text.push_str(&format!("{amount}{unit}"));
            }
        }
        if rest != 0 {
            text.push_str(&format!("{seconds}S"));
        }
    }
    if text == "P" {
        text.push_str("0D");
    }
    Value::String(text)
}

/// Unique names for the columns of a result: a repeated name gains `_2`, `_3`, ... so that
/// every value has its own key in a row object.
pub(crate) fn unique_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut taken = std::collections::HashSet::new();
    let mut unique = Vec::new();
    for name in names {
        let mut candidate = name.to_owned();
        let mut n = 1;
        while !taken.insert(candidate.clone()) {
            n += 1;
            candidate = format!("{name}_{n}");
        }
        unique.push(candidate);
    }
    unique
}

/// One row as a JSON object under `names`.
pub(crate) fn object(names: &[String], values: Vec<Value>) -> Map<String, Value> {
    names.iter().cloned().zip(values).collect()
}

/// Binds JSON parameters in order: null, booleans, integers, floats and strings as themselves,
/// arrays and objects as JSON. An integer beyond `i64` is bound as a float.
macro_rules! bind_json {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for value in $params {
            query = match value {
                serde_json::Value::Null => query.bind(None::<String>),
                serde_json::Value::Bool(flag) => query.bind(*flag),
                serde_json::Value::Number(number) => match number.as_i64() {
                    Some(integer) => query.bind(integer),
                    None => query.bind(number.as_f64().unwrap_or(f64::NAN)),
                },
                serde_json::Value::String(text) => query.bind(text.as_str()),
                other => query.bind(sqlx::types::Json(other)),
            };
        }
        query
    }};
}
pub(crate) use bind_json;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_column_names_gain_a_suffix() {
        assert_eq!(
            unique_names(["a", "b", "a", "a", "a_2"]),
            ["a", "b", "a_2", "a_3", "a_2_2"]
        );
    }

    #[test]
    fn numerics_stay_exact() {
        assert_eq!(numeric("12.50"), Value::from(12.5));
        assert_eq!(numeric("42.000"), Value::from(42));
        assert_eq!(
            numeric("12345678901234567890.123456789"),
            Value::from("12345678901234567890.123456789")
        );
        assert_eq!(numeric("NaN"), Value::from("NaN"));
        assert_eq!(numeric("-0.5"), Value::from(-0.5));
    }

    #[test]
    fn intervals_are_iso_8601_durations() {
        let value = PgInterval {
            months: 14,
            days: 3,
            microseconds: 3_600_000_000 + 5 * 60_000_000 + 6_500_000,
        };
        assert_eq!(interval(&value), Value::from("P1Y2M3DT1H5M6.5S"));
        let zero = PgInterval {
            months: 0,
            days: 0,
            microseconds: 0,
        };
        assert_eq!(interval(&zero), Value::from("P0D"));
    }

    #[test]
    fn non_finite_floats_are_strings() {
        assert_eq!(float(f64::INFINITY), Value::from("inf"));
        assert_eq!(float(1.5), Value::from(1.5));
    }
}
