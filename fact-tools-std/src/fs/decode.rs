//! [`Encoding`]: the text encodings `FileSystem.ReadFile` decodes, with std only.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A text encoding of a file.
///
/// ```
/// use fact_tools_std::fs::Encoding;
///
/// let decoded = Encoding::Latin1.decode(b"caf\xe9", false)?;
/// assert_eq!(decoded.text, "café");
///
/// let err = Encoding::Utf8.decode(b"ok\xff", false).unwrap_err();
/// assert_eq!(err.to_string(), "the bytes are not valid utf-8 at byte offset 2");
/// # Ok::<(), fact_tools_std::fs::DecodeError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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

/// Why bytes could not be decoded; each names the byte offset where decoding failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes are not valid in the encoding at `offset`.
    #[error("the bytes are not valid {encoding} at byte offset {offset}")]
    Invalid {
        /// The encoding's name, as the tool takes it.
        encoding: &'static str,
        /// The offset of the first bad byte.
        offset: usize,
    },
    /// UTF-16 text of an odd number of bytes.
    #[error("utf-16 text must have an even number of bytes, found {len}")]
    OddLength {
        /// The number of bytes.
        len: usize,
    },
}

/// Decoded text, and how many bytes at the end were dropped because they only began a
/// character (possible only when decoding a truncated read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The text.
    pub text: String,
    /// Bytes at the end that were not decoded because a character was cut in half.
    pub incomplete_tail_bytes: usize,
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

    /// Decodes `bytes`. When `truncated` is true the bytes are a prefix of something longer,
    /// so a character cut in half at the very end is dropped (and counted) instead of being an
    /// error; anywhere else, and in a complete input, an invalid sequence is an error.
    pub fn decode(self, bytes: &[u8], truncated: bool) -> Result<Decoded, DecodeError> {
        match self {
            Self::Utf8 => decode_utf8(bytes, truncated),
            Self::Ascii => match bytes.iter().position(|b| !b.is_ascii()) {
                Some(offset) => Err(DecodeError::Invalid {
                    encoding: self.name(),
                    offset,
                }),
                None => Ok(complete(bytes.iter().map(|&b| char::from(b)).collect())),
            },
            Self::Latin1 => Ok(complete(bytes.iter().map(|&b| char::from(b)).collect())),
            Self::Utf16 => decode_utf16(bytes, truncated),
        }
    }
}

fn complete(text: String) -> Decoded {
    Decoded {
        text,
        incomplete_tail_bytes: 0,
    }
}

fn decode_utf8(bytes: &[u8], truncated: bool) -> Result<Decoded, DecodeError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(complete(text.to_owned())),
        // `error_len() == None`: the input ends inside a character.
        Err(e) if truncated && e.error_len().is_none() => {
            let valid = e.valid_up_to();
            let text = String::from_utf8_lossy(&bytes[..valid]).into_owned();
            Ok(Decoded {
                text,
                incomplete_tail_bytes: bytes.len() - valid,
            })
        }
        Err(e) => Err(DecodeError::Invalid {
            encoding: Encoding::Utf8.name(),
            offset: e.valid_up_to(),
        }),
    }
}

fn decode_utf16(bytes: &[u8], truncated: bool) -> Result<Decoded, DecodeError> {
    let (big_endian, start) = match bytes {
        [0xFE, 0xFF, ..] => (true, 2),
        [0xFF, 0xFE, ..] => (false, 2),
        _ => (false, 0),
    };
    let body = &bytes[start..];
    let mut dropped = body.len() % 2;
    if dropped == 1 && !truncated {
        return Err(DecodeError::OddLength { len: bytes.len() });
    }
    let units: Vec<u16> = body
        .chunks_exact(2)
        .map(|pair| {
            let pair = [pair[0], pair[1]];
            if big_endian {
                u16::from_be_bytes(pair)
            } else {
                u16::from_le_bytes(pair)
            }
        })
        .collect();
    let mut units = units.as_slice();
    // A high surrogate as the last unit of a truncated read is half of a cut character.
    if truncated && units.last().is_some_and(|u| (0xD800..0xDC00).contains(u)) {
        units = &units[..units.len() - 1];
        dropped += 2;
    }
    let mut text = String::with_capacity(units.len());
    let mut position = 0;
    for unit in char::decode_utf16(units.iter().copied()) {
        let c = unit.map_err(|_| DecodeError::Invalid {
            encoding: Encoding::Utf16.name(),
            offset: start + 2 * position,
        })?;
        position += c.len_utf16();
        text.push(c);
    }
    Ok(Decoded {
        text,
        incomplete_tail_bytes: dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let units = bom.then_some(0xFEFF).into_iter().chain(text.encode_utf16());
        for unit in units {
            if big_endian {
                out.extend(unit.to_be_bytes());
            } else {
                out.extend(unit.to_le_bytes());
            }
        }
        out
    }

    #[test]
    fn invalid_utf8_names_the_offset_of_the_first_bad_byte() {
        let err = Encoding::Utf8.decode(b"abc\xffdef", false);
        assert_eq!(
            err,
            Err(DecodeError::Invalid {
                encoding: "utf-8",
                offset: 3
            })
        );
    }

    #[test]
    fn a_utf8_character_cut_by_truncation_is_dropped_and_counted() {
        let bytes = "a€".as_bytes(); // '€' is 3 bytes
        let decoded = Encoding::Utf8.decode(&bytes[..3], true);
        assert_eq!(
            decoded,
            Ok(Decoded {
                text: "a".into(),
                incomplete_tail_bytes: 2
            })
        );
    }

    #[test]
    fn a_utf8_character_cut_at_the_end_of_a_whole_file_is_an_error() {
        let bytes = "a€".as_bytes();
        assert!(Encoding::Utf8.decode(&bytes[..3], false).is_err());
    }

    #[test]
    fn ascii_refuses_bytes_above_0x7f_at_their_offset() {
        let err = Encoding::Ascii.decode("hé".as_bytes(), false);
        assert_eq!(
            err,
            Err(DecodeError::Invalid {
                encoding: "ascii",
                offset: 1
            })
        );
    }

    #[test]
    fn latin1_maps_every_byte_to_the_same_code_point() {
        let all: Vec<u8> = (0..=255).collect();
        let decoded = Encoding::Latin1.decode(&all, false).map(|d| d.text);
        let expected: String = (0..=255u8).map(char::from).collect();
        assert_eq!(decoded, Ok(expected));
        // 0x80 is U+0080 in ISO-8859-1, not '€' as in windows-1252.
        let euro = Encoding::Latin1.decode(b"\x80", false).map(|d| d.text);
        assert_eq!(euro, Ok("\u{80}".to_owned()));
    }

    #[test]
    fn utf16_follows_a_big_or_little_endian_bom_and_drops_it() {
        for big_endian in [true, false] {
            let bytes = utf16("héllo 𝄞", big_endian, true);
            let decoded = Encoding::Utf16.decode(&bytes, false).map(|d| d.text);
            assert_eq!(
                decoded,
                Ok("héllo 𝄞".to_owned()),
                "big endian: {big_endian}"
            );
        }
    }

    #[test]
    fn utf16_without_a_bom_is_little_endian() {
        let bytes = utf16("hi", false, false);
        let decoded = Encoding::Utf16.decode(&bytes, false).map(|d| d.text);
        assert_eq!(decoded, Ok("hi".to_owned()));
    }

    #[test]
    fn utf16_of_odd_length_is_an_error_unless_truncated() {
        let mut bytes = utf16("hi", false, false);
        bytes.push(b'x');
        assert_eq!(
            Encoding::Utf16.decode(&bytes, false),
            Err(DecodeError::OddLength { len: 5 })
        );
        let decoded = Encoding::Utf16.decode(&bytes, true);
        assert_eq!(
            decoded,
            Ok(Decoded {
                text: "hi".into(),
                incomplete_tail_bytes: 1
            })
        );
    }

    #[test]
    fn a_surrogate_pair_cut_by_truncation_is_dropped() {
        let bytes = utf16("a𝄞", false, false); // 'a' then a surrogate pair
        let decoded = Encoding::Utf16.decode(&bytes[..4], true);
        assert_eq!(
            decoded,
            Ok(Decoded {
                text: "a".into(),
                incomplete_tail_bytes: 2
            })
        );
    }

    #[test]
    fn an_unpaired_utf16_surrogate_names_its_byte_offset() {
        let mut bytes = utf16("ab", false, true);
        bytes.extend(0xDC00u16.to_le_bytes());
        bytes.extend(utf16("c", false, false));
        // BOM (2) + "ab" (4): the lone low surrogate starts at byte 6.
        assert_eq!(
            Encoding::Utf16.decode(&bytes, false),
            Err(DecodeError::Invalid {
                encoding: "utf-16",
                offset: 6
            })
        );
    }
}
