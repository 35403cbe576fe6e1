//! [`parse_exact`]: JSON text to a [`Value`] in which no number is lost.
//!
//! JSON puts no bound on numbers, but `serde_json::Value` holds a 64-bit integer or a double:
//! `1e400` and 5,000-digit integers are refused as "number out of range", and a 30-digit
//! integer silently becomes an approximate double. serde_json's `arbitrary_precision` feature
//! would keep them, but it changes `Value` for every crate that links serde_json (cargo unifies
//! features), so this module keeps such numbers as strings holding their exact text instead,
//! and says where they are.
//!
//! serde_json still judges validity (its error names the line and column); this module only
//! builds the value from text serde_json accepted, with the same depth limit serde_json's own
//! `Value` parser has.

use std::fmt::Write as _;

use serde::de::IgnoredAny;
use serde_json::{Map, Number, Value};

/// The deepest nesting serde_json's `Value` parser accepts (its recursion limit is 128, and
/// the 128th level is refused); deeper text is left to serde_json, which says so.
const MAX_DEPTH: usize = 127;

/// A JSON value, and the numbers in it that are strings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExactJson {
    /// The value; each number no `i64`, `u64` or finite `f64` holds exactly (integers) or at
    /// all (others) is a string of its text as written.
    pub(crate) value: Value,
    /// The JSON Pointers (RFC 6901) of those numbers, in document order; `""` is the whole
    /// value.
    pub(crate) numbers_as_text: Vec<String>,
}

/// Parses `text` as JSON, keeping every number; see the [module docs](self).
///
/// # Errors
///
/// serde_json's error when `text` is not valid JSON or nests deeper than serde_json allows.
pub(crate) fn parse_exact(text: &str) -> Result<ExactJson, serde_json::Error> {
    // Validity, with serde_json's messages and positions. Skipping a value checks its syntax
    // without converting its numbers, so huge ones pass here.
    serde_json::from_str::<IgnoredAny>(text)?;
    let mut builder = Builder {
        text,
        pos: 0,
        numbers_as_text: Vec::new(),
    };
    match builder.value(&mut String::new(), 0) {
        Some(value) => Ok(ExactJson {
            value,
            numbers_as_text: builder.numbers_as_text,
        }),
        // What skipping let through but a value cannot hold (too deep, an unpaired surrogate
        // escape): serde_json's own parser says why.
        None => serde_json::from_str::<Value>(text).map(|value| ExactJson {
            value,
            numbers_as_text: Vec::new(),
        }),
    }
}

/// Builds a value from text serde_json has found valid; `None` when it meets what it does not
/// expect, never a panic.
struct Builder<'a> {
    text: &'a str,
    pos: usize,
    numbers_as_text: Vec<String>,
}

impl Builder<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.pos += 1;
        }
    }

    /// Consumes `byte` after any whitespace, if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_whitespace();
        let next = self.peek() == Some(byte);
        if next {
            self.pos += 1;
        }
        next
    }

    /// The value at the current position; `pointer` is its JSON Pointer.
    fn value(&mut self, pointer: &mut String, depth: usize) -> Option<Value> {
        self.skip_whitespace();
        match self.peek()? {
            b'{' | b'[' if depth >= MAX_DEPTH => None,
            b'{' => self.object(pointer, depth + 1),
            b'[' => self.array(pointer, depth + 1),
            b'"' => self.string().map(Value::String),
            b't' => self.literal("true", Value::Bool(true)),
            b'f' => self.literal("false", Value::Bool(false)),
            b'n' => self.literal("null", Value::Null),
            _ => self.number(pointer),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Option<Value> {
        self.text[self.pos..].starts_with(word).then(|| {
            self.pos += word.len();
            value
        })
    }

    fn array(&mut self, pointer: &mut String, depth: usize) -> Option<Value> {
        self.pos += 1;
        let mut items = Vec::new();
        if self.eat(b']') {
            return Some(Value::Array(items));
        }
        loop {
            let parent = pointer.len();
            let _ = write!(pointer, "/{}", items.len());
            let item = self.value(pointer, depth);
            pointer.truncate(parent);
            items.push(item?);
            if self.eat(b']') {
                return Some(Value::Array(items));
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn object(&mut self, pointer: &mut String, depth: usize) -> Option<Value> {
        self.pos += 1;
        let mut map = Map::new();
        if self.eat(b'}') {
            return Some(Value::Object(map));
        }
        loop {
            self.skip_whitespace();
            let key = self.string()?;
            if !self.eat(b':') {
                return None;
            }
            let parent = pointer.len();
            pointer.push('/');
            pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
            let item = self.value(pointer, depth);
            pointer.truncate(parent);
            // As serde_json's `Value` does: a repeated key keeps its place and takes the
            // last value.
            map.insert(key, item?);
            if self.eat(b'}') {
                return Some(Value::Object(map));
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    /// A string token, decoded by serde_json.
    fn string(&mut self) -> Option<String> {
        let start = self.pos;
        if self.peek()? != b'"' {
            return None;
        }
        self.pos += 1;
        loop {
            match self.peek()? {
                b'\\' => self.pos += 2,
                b'"' => break,
                _ => self.pos += 1,
            }
        }
        self.pos += 1;
        serde_json::from_str(self.text.get(start..self.pos)?).ok()
    }

    /// A number token: a `Number` when one holds it, else its text (and its pointer noted).
    fn number(&mut self, pointer: &str) -> Option<Value> {
        let start = self.pos;
        while matches!(
            self.peek(),
            Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
        ) {
            self.pos += 1;
        }
        let token = &self.text[start..self.pos];
        if token.is_empty() {
            return None;
        }
        // serde_json gives an integer as a double only when no 64-bit integer holds it, and
        // digits are lost; or for `-0`, which a double holds exactly.
        let lost_digits = |number: &Number| {
            number.is_f64()
                && !token.contains(['.', 'e', 'E'])
                && token.trim_start_matches('-') != "0"
        };
        match serde_json::from_str::<Number>(token) {
            Ok(number) if !lost_digits(&number) => Some(Value::Number(number)),
            _ => {
                self.numbers_as_text.push(pointer.to_owned());
                Some(Value::String(token.to_owned()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn exact(text: &str) -> ExactJson {
        parse_exact(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn ordinary_json_parses_exactly_as_serde_json_parses_it() {
        for text in [
            r#"{"b": 1, "a": [true, null, -0, 1.5e3, "é\n\u00e9\ud83e\udd80"], "b": {"c": {}}}"#,
            "[]",
            "  -12  ",
            "18446744073709551615",
            "-9223372036854775808",
            "1e-400",
            "0.1",
            r#""\\/\"""#,
        ] {
            let expected: Value = serde_json::from_str(text).unwrap_or_default();
            let parsed = exact(text);
            assert_eq!(parsed.value, expected, "{text}");
            assert_eq!(parsed.numbers_as_text, [] as [&str; 0], "{text}");
        }
    }

    #[test]
    fn numbers_out_of_range_are_kept_as_their_text() {
        let parsed = exact("[1e400, -1E+400, 2.5e999]");
        assert_eq!(parsed.value, json!(["1e400", "-1E+400", "2.5e999"]));
        assert_eq!(parsed.numbers_as_text, ["/0", "/1", "/2"]);
    }

    #[test]
    fn integers_beyond_64_bits_are_kept_digit_for_digit() {
        let digits = "9".repeat(5000);
        let negative = format!("-{digits}");
        let parsed = exact(&format!("[{digits}, {negative}, 18446744073709551616]"));
        assert_eq!(
            parsed.value,
            json!([digits, negative, "18446744073709551616"])
        );
        assert_eq!(parsed.numbers_as_text, ["/0", "/1", "/2"]);
    }

    #[test]
    fn pointers_escape_keys_and_name_the_whole_value_as_empty() {
        let parsed = exact(r#"{"a/b": {"~x": [0, 1e400]}}"#);
        assert_eq!(parsed.numbers_as_text, ["/a~1b/~0x/1"]);
        assert_eq!(exact(" 1e400 ").numbers_as_text, [""]);
    }

    #[test]
    fn invalid_json_is_placed_where_serde_json_places_it() {
        for text in ["{\"a\" 1}", "[1,,2]", "01", "1e", "\"\\ud800\"", "[1] x"] {
            let ours = parse_exact(text).expect_err(text);
            let theirs = serde_json::from_str::<Value>(text).expect_err(text);
            assert_eq!(
                (ours.line(), ours.column()),
                (theirs.line(), theirs.column()),
                "{text}: {ours} / {theirs}"
            );
        }
    }

    #[test]
    fn a_syntax_error_after_a_huge_number_is_the_error_reported() {
        // serde_json's own parser would stop at the number, "out of range".
        let err = parse_exact("[1e400, ]").expect_err("trailing comma");
        assert_eq!((err.line(), err.column()), (1, 9), "{err}");
        assert!(!err.to_string().contains("out of range"), "{err}");
    }

    #[test]
    fn nesting_deeper_than_serde_json_allows_is_refused_without_recursing() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = parse_exact(&deep).expect_err("too deep");
        assert!(err.to_string().contains("recursion limit"), "{err}");
        let deepest = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(serde_json::from_str::<Value>(&deepest).is_ok());
        assert!(parse_exact(&deepest).is_ok());
        let deeper = format!("[{deepest}]");
        assert!(serde_json::from_str::<Value>(&deeper).is_err());
        assert!(parse_exact(&deeper).is_err());
    }
}
