//! `Web.ParseJSON`: JSON text to a value, with a summary of its shape.

use fact_runtime::{ToolError, tool};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::exact_json::parse_exact;

/// The longest JSON text the tool parses, in characters.
pub const MAX_JSON_TEXT_CHARS: usize = 100_000;

/// The JSON type of a value: `object`, `array`, `string`, `number` (integer or float),
/// `boolean` or `null`. The variants carry no doc comments on purpose: that keeps their schema
/// a plain `enum` of strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JsonType {
    Object,
    Array,
    String,
    Number,
    Boolean,
    Null,
}

impl JsonType {
    /// The type of `value`.
    pub fn of(value: &Value) -> Self {
        match value {
            Value::Object(_) => Self::Object,
            Value::Array(_) => Self::Array,
            Value::String(_) => Self::String,
            Value::Number(_) => Self::Number,
            Value::Bool(_) => Self::Boolean,
            Value::Null => Self::Null,
        }
    }
}

/// The answer of `Web.ParseJSON`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ParsedJson {
    /// The parsed value (object keys in their original order). A number that no 64-bit
    /// integer holds exactly (an integer) or no double holds at all (`1e400`) is given as a
    /// string of its exact text, and listed in `numbers_as_text`.
    pub value: Value,
    /// The type of the top-level value (`number` for a number given as text).
    #[serde(rename = "type")]
    pub json_type: JsonType,
    /// Length of the JSON text, in characters.
    pub size: usize,
    /// The keys of an object, in order; absent for other types.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
    /// The number of items of an array; absent for other types.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_count: Option<usize>,
    /// The JSON Pointers (RFC 6901; `""` is the whole value) of the numbers that `value`
    /// gives as strings of their exact text, in document order; absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub numbers_as_text: Vec<String>,
}

/// Parses JSON text and describes the value: its type, size, and keys or item count. Invalid
/// JSON is reported with the line and column of the error. Numbers of any size are valid JSON:
/// those beyond a 64-bit integer or a double come back as strings of their exact text, listed
/// in `numbers_as_text`.
///
/// ```
/// use fact_tools_std::web::parse_json;
///
/// let parsed = parse_json(r#"{"name": "Zoë", "tags": ["a", "b"]}"#.into())?;
/// assert_eq!(parsed.keys, Some(vec!["name".to_owned(), "tags".to_owned()]));
///
/// let parsed = parse_json("[1e400, 2]".into())?;
/// assert_eq!(parsed.value, serde_json::json!(["1e400", 2]));
/// assert_eq!(parsed.numbers_as_text, ["/0"]);
///
/// let err = parse_json("{\"a\": 1,\n \"b\" 2}".into()).unwrap_err();
/// assert_eq!(
///     err.message(),
///     "'json_text' is not valid JSON at line 2, column 6: expected `:`"
/// );
/// # Ok::<(), fact_runtime::ToolError>(())
/// ```
#[tool(
    name = "Web.ParseJSON",
    title = "Parse JSON",
    timeout = 10,
    read_only,
    destructive = false,
    idempotent,
    open_world = false
)]
pub fn parse_json(
    /// The JSON text to parse (at most 100,000 characters)
    #[schemars(length(max = 100000))]
    json_text: String,
) -> Result<ParsedJson, ToolError> {
    let size = json_text.chars().count();
    if size > MAX_JSON_TEXT_CHARS {
        return Err(ToolError::invalid_input(format!(
            "'json_text' has {size} characters, more than the {MAX_JSON_TEXT_CHARS} allowed"
        )));
    }
    let parsed = parse_exact(&json_text).map_err(|err| {
        let (line, column) = (err.line(), err.column());
        // serde_json ends its message with the position; say it once, in our own words.
        let full = err.to_string();
        let what = full
            .strip_suffix(&format!(" at line {line} column {column}"))
            .unwrap_or(&full);
        ToolError::invalid_input(format!(
            "'json_text' is not valid JSON at line {line}, column {column}: {what}"
        ))
        .with_metadata("line", line)
        .with_metadata("column", column)
    })?;
    let value = parsed.value;
    let keys = value
        .as_object()
        .map(|object| object.keys().cloned().collect());
    let item_count = value.as_array().map(Vec::len);
    let whole_is_a_number = parsed.numbers_as_text.iter().any(String::is_empty);
    Ok(ParsedJson {
        json_type: if whole_is_a_number {
            JsonType::Number
        } else {
            JsonType::of(&value)
        },
        value,
        size,
        keys,
        item_count,
        numbers_as_text: parsed.numbers_as_text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_report_their_keys_in_order() -> Result<(), ToolError> {
        let parsed = parse_json(r#"{"b": 1, "a": [true, null]}"#.into())?;
        assert_eq!(parsed.json_type, JsonType::Object);
        assert_eq!(parsed.keys, Some(vec!["b".to_owned(), "a".to_owned()]));
        assert_eq!(parsed.item_count, None);
        assert_eq!(parsed.value, json!({"b": 1, "a": [true, null]}));
        Ok(())
    }

    #[test]
    fn arrays_report_their_item_count() -> Result<(), ToolError> {
        let parsed = parse_json("[1, 2.5, \"x\"]".into())?;
        assert_eq!(parsed.json_type, JsonType::Array);
        assert_eq!(parsed.item_count, Some(3));
        assert_eq!(parsed.keys, None);
        Ok(())
    }

    #[test]
    fn scalars_have_their_type() -> Result<(), ToolError> {
        for (text, json_type) in [
            ("\"s\"", JsonType::String),
            ("-1.5e3", JsonType::Number),
            ("false", JsonType::Boolean),
            (" null ", JsonType::Null),
        ] {
            assert_eq!(parse_json(text.into())?.json_type, json_type, "{text}");
        }
        Ok(())
    }

    #[test]
    fn numbers_beyond_a_double_or_a_64_bit_integer_are_valid_and_kept_as_text()
    -> Result<(), ToolError> {
        let parsed = parse_json("[1e400]".into())?;
        assert_eq!(parsed.value, json!(["1e400"]));
        assert_eq!(parsed.numbers_as_text, ["/0"]);
        assert_eq!(parsed.item_count, Some(1));

        let digits = "1".repeat(5000);
        let parsed = parse_json(digits.clone())?;
        assert_eq!(parsed.json_type, JsonType::Number);
        assert_eq!(parsed.value, Value::String(digits));
        assert_eq!(parsed.numbers_as_text, [""]);
        Ok(())
    }

    #[test]
    fn ordinary_numbers_stay_numbers_and_list_nothing() -> Result<(), ToolError> {
        let parsed = parse_json("[1, -2, 3.5, 1e300, 18446744073709551615]".into())?;
        assert_eq!(
            parsed.value,
            json!([1, -2, 3.5, 1e300, 18_446_744_073_709_551_615_u64])
        );
        assert!(parsed.numbers_as_text.is_empty());
        let answer = serde_json::to_value(&parsed).unwrap_or_default();
        assert!(answer.get("numbers_as_text").is_none(), "{answer}");
        Ok(())
    }

    #[test]
    fn size_counts_characters_not_bytes() -> Result<(), ToolError> {
        assert_eq!(parse_json("\"日本\"".into())?.size, 4);
        Ok(())
    }

    #[test]
    fn invalid_json_is_a_400_with_line_and_column() {
        let err = parse_json("{\n  \"a\": 1,\n  \"b\": }".into()).expect_err("invalid");
        assert_eq!(err.kind().status_code(), 400);
        assert_eq!(
            err.message(),
            "'json_text' is not valid JSON at line 3, column 8: expected value"
        );
        let metadata = err.metadata().cloned().unwrap_or_default();
        assert_eq!(metadata["line"], json!(3));
        assert_eq!(metadata["column"], json!(8));
    }

    #[test]
    fn text_over_the_limit_is_refused() {
        let text = format!("\"{}\"", "x".repeat(MAX_JSON_TEXT_CHARS));
        let err = parse_json(text).expect_err("too long");
        assert_eq!(err.kind().status_code(), 400);
    }
}
