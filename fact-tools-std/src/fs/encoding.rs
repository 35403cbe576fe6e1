//! [`Encoding`]: the text encodings `FileSystem.ReadFile` decodes, and the labels each is
//! known by.

use std::borrow::Cow;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize};

/// A text encoding of a file.
///
/// It is reported by its name (`utf-8`, `ascii`, `latin-1`, `utf-16`) and parsed from any of
/// its common labels, in any case, with or without `-` and `_`: `UTF8`, `us-ascii`,
/// `ISO-8859-1`, `latin1`, `utf_16`.
///
/// ```
/// use fact_tools_std::fs::Encoding;
///
/// let decoded = Encoding::Latin1.decode(b"caf\xe9", false)?;
/// assert_eq!(decoded.text, "café");
///
/// let err = Encoding::Utf8.decode(b"ok\xff", false).unwrap_err();
/// assert_eq!(err.to_string(), "the bytes are not valid utf-8 at byte offset 2");
///
/// assert_eq!("ISO-8859-1".parse(), Ok(Encoding::Latin1));
/// assert_eq!("UTF8".parse(), Ok(Encoding::Utf8));
/// # Ok::<(), fact_tools_std::fs::DecodeError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub enum Encoding {
    /// UTF-8, the default. A leading byte-order mark is kept as U+FEFF.
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    /// 7-bit ASCII: any byte above 0x7F is an error.
    #[serde(rename = "ascii")]
    Ascii,
    /// ISO-8859-1: every byte is the code point of the same value (not windows-1252).
    #[serde(rename = "latin-1")]
    Latin1,
    /// UTF-16: big- or little-endian as a byte-order mark says (the mark is dropped), else
    /// little-endian.
    #[serde(rename = "utf-16")]
    Utf16,
}

impl Encoding {
    /// The name the tool takes and reports (`utf-8`, `ascii`, `latin-1`, `utf-16`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Utf8 => "utf-8",
            Self::Ascii => "ascii",
            Self::Latin1 => "latin-1",
            Self::Utf16 => "utf-16",
        }
    }
}

/// Every label an encoding is parsed from, as [`label_key`] writes it: lowercase, without
/// `-` and `_`. The names come first; the rest are the usual aliases (IANA's, and Python's
/// codec names). `latin1` and `iso-8859-1` mean ISO-8859-1 here, as in codec libraries (a
/// browser reads them as windows-1252). `utf-16le` and `utf-16be` are left out: they promise
/// a byte order that a byte-order mark would override here.
const LABELS: &[(&str, Encoding)] = &[
    ("utf8", Encoding::Utf8),
    ("ascii", Encoding::Ascii),
    ("latin1", Encoding::Latin1),
    ("utf16", Encoding::Utf16),
    ("usascii", Encoding::Ascii),
    ("ansix3.41968", Encoding::Ascii),
    ("iso646us", Encoding::Ascii),
    ("csascii", Encoding::Ascii),
    ("iso88591", Encoding::Latin1),
    ("iso88591:1987", Encoding::Latin1),
    ("l1", Encoding::Latin1),
    ("cp819", Encoding::Latin1),
    ("ibm819", Encoding::Latin1),
    ("csisolatin1", Encoding::Latin1),
];

/// The longest label worth comparing; anything longer is unknown without further work.
const MAX_LABEL_CHARS: usize = 32;

/// `label` as [`LABELS`] holds it: trimmed, lowercase, without `-` and `_`.
fn label_key(label: &str) -> String {
    label
        .trim()
        .chars()
        .filter(|c| !matches!(c, '-' | '_'))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A label that names none of the [`Encoding`]s; its message lists the ones that exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown encoding {label:?}: expected one of 'utf-8', 'ascii', 'latin-1', 'utf-16' \
     (in any case, with or without '-'; common labels such as 'utf8', 'us-ascii', \
     'iso-8859-1' and 'latin1' work too)"
)]
pub struct UnknownEncoding {
    /// The label as given, cut to a length worth showing.
    label: String,
}

impl FromStr for Encoding {
    type Err = UnknownEncoding;

    fn from_str(label: &str) -> Result<Self, Self::Err> {
        let known = (label.chars().count() <= MAX_LABEL_CHARS)
            .then(|| label_key(label))
            .and_then(|key| LABELS.iter().find(|(known, _)| *known == key))
            .map(|&(_, encoding)| encoding);
        known.ok_or_else(|| UnknownEncoding {
            label: label.chars().take(MAX_LABEL_CHARS).collect(),
        })
    }
}

/// Parsed with [`FromStr`], so that every label of an encoding is accepted and an unknown one
/// is refused with the list of those that exist.
impl<'de> Deserialize<'de> for Encoding {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let label = String::deserialize(deserializer)?;
        label.parse().map_err(serde::de::Error::custom)
    }
}

/// The JSON Schema of an encoding as a caller writes it: any string, with the names as
/// `examples`. An `enum` of the names would be checked before the tool runs, and refuse every
/// other label the tool accepts.
#[derive(Debug)]
pub(crate) struct EncodingLabel;

impl JsonSchema for EncodingLabel {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("EncodingLabel")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "examples": ["utf-8", "ascii", "latin-1", "utf-16"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_of_an_encoding_parses_in_any_case_with_or_without_separators() {
        let cases = [
            (Encoding::Utf8, ["utf-8", "UTF-8", "utf8", "Utf_8"]),
            (Encoding::Ascii, ["ascii", "ASCII", "us-ascii", "US_ASCII"]),
            (
                Encoding::Latin1,
                ["latin-1", "Latin1", "ISO-8859-1", "iso_8859-1"],
            ),
            (Encoding::Utf16, ["utf-16", "UTF16", "utf_16", " utf-16 "]),
        ];
        for (encoding, labels) in cases {
            assert_eq!(encoding.name().parse(), Ok(encoding));
            for label in labels {
                assert_eq!(label.parse(), Ok(encoding), "{label:?}");
            }
        }
        for &(label, encoding) in LABELS {
            assert_eq!(label.parse(), Ok(encoding), "{label:?}");
        }
    }

    #[test]
    fn an_unknown_label_is_refused_with_the_names_that_exist() {
        for label in ["windows-1252", "utf-7", "", "latin-2", "utf-8-bom"] {
            let message = label
                .parse::<Encoding>()
                .map_err(|e| e.to_string())
                .expect_err("an unknown label is refused");
            assert!(message.contains(&format!("{label:?}")), "{message}");
            for name in ["'utf-8'", "'ascii'", "'latin-1'", "'utf-16'"] {
                assert!(message.contains(name), "{message}");
            }
        }
    }

    #[test]
    fn an_unknown_label_is_shown_cut_to_a_readable_length() {
        let long = "x".repeat(10_000);
        let message = long.parse::<Encoding>().map_err(|e| e.to_string());
        let message = message.expect_err("refused");
        assert!(message.len() < 300, "{message}");
    }

    #[test]
    fn an_encoding_deserializes_from_any_label_and_serializes_as_its_name() {
        let parsed: Result<Encoding, _> = serde_json::from_value(serde_json::json!("ISO_8859-1"));
        assert_eq!(parsed.ok(), Some(Encoding::Latin1));
        assert_eq!(
            serde_json::to_value(Encoding::Latin1).ok(),
            Some(serde_json::json!("latin-1"))
        );
        let refused: Result<Encoding, _> = serde_json::from_value(serde_json::json!("ebcdic"));
        let message = refused.map_err(|e| e.to_string()).expect_err("refused");
        assert!(message.contains("'utf-16'"), "{message}");
    }
}
