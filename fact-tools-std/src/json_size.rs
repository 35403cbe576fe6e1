//! How many bytes something takes as the compact JSON serde_json writes, counted without
//! building the text: what the tools that bound their answers by JSON size (the file tools,
//! `Web.HTTPRequest`) measure. A NUL byte is one byte read and six bytes of JSON (`\u0000`).

use std::io;

use serde::Serialize;

/// The bytes `c` takes inside a JSON string as serde_json writes it: two for `"`, `\` and the
/// control characters with a short escape (`\b \t \n \f \r`), six for the other control
/// characters (`\u001f`), and its UTF-8 length for every other character (serde_json escapes
/// nothing else, not even U+2028).
pub(crate) fn char_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\u{8}' | '\t' | '\n' | '\u{c}' | '\r' => 2,
        '\0'..='\u{1f}' => 6,
        _ => c.len_utf8(),
    }
}

/// The size of `value` as compact JSON. A value that does not serialize has no size worth
/// sending, and counts as too large (`usize::MAX`).
pub(crate) fn len(value: &impl Serialize) -> usize {
    let mut counter = Counter(0);
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}

/// An `io::Write` that only counts.
struct Counter(usize);

impl io::Write for Counter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0 = self.0.saturating_add(bytes.len());
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The length serde_json gives `c` inside a string.
    fn serde_len(c: char) -> usize {
        serde_json::to_string(&c.to_string()).map_or(0, |text| text.len() - 2)
    }

    #[test]
    fn the_json_length_of_a_character_is_the_one_serde_json_writes() {
        let samples = (0..=0x2FF)
            .chain([
                0x7FF, 0x800, 0x2028, 0x2029, 0x20AC, 0xFEFF, 0xFFFD, 0xFFFF, 0x1_0000, 0x1_D11E,
                0x1_F980, 0x10_FFFF,
            ])
            .filter_map(char::from_u32);
        for c in samples {
            assert_eq!(char_len(c), serde_len(c), "{c:?}");
        }
    }

    #[test]
    fn the_json_length_of_a_value_is_its_compact_text() {
        let value = serde_json::json!({"a": ["\u{0}", "é", 1.5, null], "b\"": true});
        let text = serde_json::to_string(&value).unwrap_or_default();
        assert_eq!(len(&value), text.len());
    }
}
