//! A result in the making: the rows read so far, kept within the row and byte caps, and the
//! failures a fetch can end with before they are told apart.

use serde_json::{Map, Value};

use super::database::SqlError;

/// The rows a query returned, at most `max_rows` of them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rows {
    pub(crate) columns: Vec<(String, String)>,
    pub(crate) rows: Vec<Map<String, Value>>,
    pub(crate) truncated: bool,
}

/// How much of a result is kept: at most `rows` rows, and no more rows once their values
/// reach about `bytes` bytes of JSON.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cap {
    pub(super) rows: usize,
    pub(super) bytes: usize,
}

/// A result in the making, kept within its [`Cap`].
pub(super) struct Collected {
    cap: Cap,
    pub(super) rows: Vec<Map<String, Value>>,
    bytes: usize,
    pub(super) truncated: bool,
}

impl Collected {
    pub(super) fn new(cap: Cap) -> Self {
        Self {
            cap,
            rows: Vec::new(),
            bytes: 0,
            truncated: false,
        }
    }

    /// Whether there is room for another row; when there is not, the result is truncated.
    pub(super) fn has_room(&mut self) -> bool {
        let room = self.rows.len() < self.cap.rows && self.bytes <= self.cap.bytes;
        self.truncated |= !room;
        room
    }

    /// Keeps a row, unless it would take the result past its byte cap.
    pub(super) fn push(&mut self, row: Map<String, Value>) {
        let size: usize = row
            .iter()
            .map(|(name, value)| name.len() + json_size(value))
            .sum();
        if self.bytes + size > self.cap.bytes {
            self.bytes = self.cap.bytes + 1;
            self.truncated = true;
            return;
        }
        self.bytes += size;
        self.rows.push(row);
    }
}

/// About how many bytes `value` takes as JSON.
fn json_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 12,
        Value::String(text) => text.len() + 2,
        Value::Array(items) => items.iter().map(json_size).sum::<usize>() + 2,
        Value::Object(map) => {
            map.iter()
                .map(|(k, v)| k.len() + 3 + json_size(v))
                .sum::<usize>()
                + 2
        }
    }
}

/// A failure inside a fetch, before it is told apart: the database's, or one of ours already
/// told apart.
#[derive(Debug)]
pub(super) enum FetchError {
    Sqlx(sqlx::Error),
    Ours(SqlError),
}

impl From<sqlx::Error> for FetchError {
    fn from(error: sqlx::Error) -> Self {
        Self::Sqlx(error)
    }
}
