//! Decoding bytes as an [`Encoding`], with std only: whole, or piece by piece
//! ([`StreamDecoder`]) so that a reader keeps only what it will use.

use std::ops::ControlFlow;

use super::encoding::Encoding;

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
        offset: u64,
    },
    /// UTF-16 text of an odd number of bytes.
    #[error("utf-16 text must have an even number of bytes, found {len}")]
    OddLength {
        /// The number of bytes.
        len: u64,
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
    /// Decodes `bytes`. When `truncated` is true the bytes are a prefix of something longer,
    /// so a character cut in half at the very end is dropped (and counted) instead of being an
    /// error; anywhere else, and in a complete input, an invalid sequence is an error.
    pub fn decode(self, bytes: &[u8], truncated: bool) -> Result<Decoded, DecodeError> {
        let mut text = String::with_capacity(bytes.len());
        let fed = StreamDecoder::new(self).feed(bytes, !truncated, |c| {
            text.push(c);
            ControlFlow::Continue(())
        })?;
        Ok(Decoded {
            text,
            incomplete_tail_bytes: bytes.len() - fed.consumed,
        })
    }
}

/// A decoder fed an input piece by piece, which hands each character to a sink that may stop
/// it: so that a caller reads and keeps only as much as it will use, whatever the input's
/// length. Errors are reported only for bytes actually reached.
#[derive(Debug)]
pub(crate) struct StreamDecoder {
    encoding: Encoding,
    /// Bytes of the input consumed so far: the offset of the next byte.
    consumed: u64,
    /// UTF-16's byte order, once the input's first two bytes have been seen.
    big_endian: Option<bool>,
}

/// How far one [`StreamDecoder::feed`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fed {
    /// Bytes at the start of the piece that were decoded. The rest, when the sink did not
    /// stop, begin a character: feed them again, followed by more input.
    pub(crate) consumed: usize,
    /// Whether the sink stopped before a character; the bytes of that character are not
    /// consumed.
    pub(crate) stopped: bool,
}

impl StreamDecoder {
    pub(crate) fn new(encoding: Encoding) -> Self {
        Self {
            encoding,
            consumed: 0,
            big_endian: None,
        }
    }

    /// Bytes of the input consumed so far (a UTF-16 byte-order mark included).
    pub(crate) fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Decodes the characters at the start of `piece` (the input from the first byte not yet
    /// consumed) and hands each to `sink`, until the sink breaks or only part of a character is
    /// left. `last` says that nothing follows `piece`: a character left incomplete is then an
    /// error.
    pub(crate) fn feed(
        &mut self,
        piece: &[u8],
        last: bool,
        sink: impl FnMut(char) -> ControlFlow<()>,
    ) -> Result<Fed, DecodeError> {
        let fed = match self.encoding {
            Encoding::Utf8 => self.feed_utf8(piece, last, sink),
            Encoding::Ascii => self.feed_bytes(piece, sink, true),
            Encoding::Latin1 => self.feed_bytes(piece, sink, false),
            Encoding::Utf16 => self.feed_utf16(piece, last, sink),
        }?;
        self.consumed += fed.consumed as u64;
        Ok(fed)
    }

    fn invalid(&self, at: usize) -> DecodeError {
        DecodeError::Invalid {
            encoding: self.encoding.name(),
            offset: self.consumed + at as u64,
        }
    }

    fn feed_utf8(
        &self,
        piece: &[u8],
        last: bool,
        mut sink: impl FnMut(char) -> ControlFlow<()>,
    ) -> Result<Fed, DecodeError> {
        let (valid, bad) = match std::str::from_utf8(piece) {
            Ok(text) => (text, None),
            // The prefix up to `valid_up_to` is valid UTF-8, so the second parse cannot fail.
            Err(e) => (
                std::str::from_utf8(&piece[..e.valid_up_to()]).unwrap_or_default(),
                Some(e.error_len()),
            ),
        };
        let mut consumed = 0;
        for c in valid.chars() {
            if sink(c).is_break() {
                return Ok(Fed {
                    consumed,
                    stopped: true,
                });
            }
            consumed += c.len_utf8();
        }
        match bad {
            None => Ok(Fed {
                consumed,
                stopped: false,
            }),
            // `error_len() == None`: the piece ends inside a character, which more input may
            // complete.
            Some(None) if !last => Ok(Fed {
                consumed,
                stopped: false,
            }),
            Some(_) => Err(self.invalid(consumed)),
        }
    }

    /// ASCII (`ascii_only`, any byte above 0x7F an error) and Latin-1: one byte, one character.
    fn feed_bytes(
        &self,
        piece: &[u8],
        mut sink: impl FnMut(char) -> ControlFlow<()>,
        ascii_only: bool,
    ) -> Result<Fed, DecodeError> {
        for (at, &byte) in piece.iter().enumerate() {
            if ascii_only && !byte.is_ascii() {
                return Err(self.invalid(at));
            }
            if sink(char::from(byte)).is_break() {
                return Ok(Fed {
                    consumed: at,
                    stopped: true,
                });
            }
        }
        Ok(Fed {
            consumed: piece.len(),
            stopped: false,
        })
    }

    fn feed_utf16(
        &mut self,
        piece: &[u8],
        last: bool,
        mut sink: impl FnMut(char) -> ControlFlow<()>,
    ) -> Result<Fed, DecodeError> {
        let mut at = 0;
        let big_endian = match self.big_endian {
            Some(big_endian) => big_endian,
            None if piece.len() < 2 && !last => {
                return Ok(Fed {
                    consumed: 0,
                    stopped: false,
                });
            }
            None => {
                let big_endian = match piece {
                    [0xFE, 0xFF, ..] => {
                        at = 2;
                        true
                    }
                    [0xFF, 0xFE, ..] => {
                        at = 2;
                        false
                    }
                    _ => false,
                };
                self.big_endian = Some(big_endian);
                big_endian
            }
        };
        let unit = |at: usize| {
            let pair = [piece[at], piece[at + 1]];
            if big_endian {
                u16::from_be_bytes(pair)
            } else {
                u16::from_le_bytes(pair)
            }
        };
        while piece.len() - at >= 2 {
            let first = unit(at);
            let (c, len) = if (0xD800..0xDC00).contains(&first) {
                // A high surrogate: its character needs the next unit too.
                if piece.len() - at < 4 {
                    break;
                }
                match char::decode_utf16([first, unit(at + 2)]).next() {
                    Some(Ok(c)) => (c, 4),
                    _ => return Err(self.invalid(at)),
                }
            } else {
                match char::from_u32(u32::from(first)) {
                    Some(c) => (c, 2),
                    // A low surrogate without a high one before it.
                    None => return Err(self.invalid(at)),
                }
            };
            if sink(c).is_break() {
                return Ok(Fed {
                    consumed: at,
                    stopped: true,
                });
            }
            at += len;
        }
        if last && at < piece.len() {
            let len = self.consumed + piece.len() as u64;
            return Err(if len % 2 == 1 {
                DecodeError::OddLength { len }
            } else {
                self.invalid(at)
            });
        }
        Ok(Fed {
            consumed: at,
            stopped: false,
        })
    }
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

    /// Feeds `bytes` to a decoder in pieces of `size` bytes (carrying over what each piece
    /// left), as a reader with a buffer of that size would.
    fn decode_in_pieces(
        encoding: Encoding,
        bytes: &[u8],
        size: usize,
    ) -> Result<String, DecodeError> {
        let mut decoder = StreamDecoder::new(encoding);
        let mut text = String::new();
        let mut pending: Vec<u8> = Vec::new();
        let mut chunks = bytes.chunks(size).peekable();
        loop {
            let next = chunks.next();
            pending.extend_from_slice(next.unwrap_or_default());
            let last = chunks.peek().is_none();
            let fed = decoder.feed(&pending, last, |c| {
                text.push(c);
                ControlFlow::Continue(())
            })?;
            pending.drain(..fed.consumed);
            if last {
                assert!(pending.is_empty(), "bytes left over at the end");
                return Ok(text);
            }
        }
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
        // A high surrogate followed by something else than a low one.
        let mut bytes = utf16("a", false, false);
        bytes.extend(0xD834u16.to_le_bytes());
        bytes.extend(utf16("b", false, false));
        assert_eq!(
            Encoding::Utf16.decode(&bytes, false),
            Err(DecodeError::Invalid {
                encoding: "utf-16",
                offset: 2
            })
        );
    }

    #[test]
    fn decoding_in_pieces_of_any_size_gives_the_whole_text() {
        let text = "a\0é€𝄞\"\\\u{1f}z";
        let inputs = [
            (Encoding::Utf8, text.as_bytes().to_vec()),
            (Encoding::Utf16, utf16(text, true, true)),
            (Encoding::Utf16, utf16(text, false, true)),
            (Encoding::Utf16, utf16(text, false, false)),
            (Encoding::Latin1, (0..=255).collect()),
            (Encoding::Ascii, (0..=127).collect()),
        ];
        for (encoding, bytes) in inputs {
            let whole = encoding.decode(&bytes, false).map(|d| d.text);
            for size in 1..=5 {
                assert_eq!(
                    decode_in_pieces(encoding, &bytes, size),
                    whole,
                    "{encoding:?} in pieces of {size}"
                );
            }
        }
    }

    #[test]
    fn an_error_in_a_later_piece_names_its_offset_in_the_whole_input() {
        assert_eq!(
            decode_in_pieces(Encoding::Utf8, b"abcd\xff", 2),
            Err(DecodeError::Invalid {
                encoding: "utf-8",
                offset: 4
            })
        );
        assert_eq!(
            decode_in_pieces(Encoding::Utf16, &[0x68, 0, 0x69, 0, 0x6A], 2),
            Err(DecodeError::OddLength { len: 5 })
        );
    }

    #[test]
    fn a_sink_that_stops_leaves_the_rest_unconsumed_and_unchecked() {
        let mut decoder = StreamDecoder::new(Encoding::Utf8);
        let mut text = String::new();
        // "aé", then 'b' where the sink stops, then a byte that is not UTF-8.
        let fed = decoder.feed(b"a\xc3\xa9b\xff", true, |c| {
            if c == 'b' {
                return ControlFlow::Break(());
            }
            text.push(c);
            ControlFlow::Continue(())
        });
        assert_eq!(
            fed,
            Ok(Fed {
                consumed: 3,
                stopped: true
            })
        );
        assert_eq!(text, "aé");
        assert_eq!(decoder.consumed(), 3);
    }
}
