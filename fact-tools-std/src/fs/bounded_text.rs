//! [`read_text`]: the start of a file as text, read piece by piece and only as far as the
//! answer has room for, so that neither the answer nor the memory behind it grows with the file.

use std::io::{self, Read};
use std::ops::ControlFlow;

use super::answer_size::json_char_len;
use super::decode::{DecodeError, StreamDecoder};
use super::encoding::Encoding;
use super::read_file::TruncatedBy;

/// How many bytes are read from a file at a time.
const PIECE_BYTES: usize = 64 * 1024;

/// Where [`read_text`] stops.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextLimits {
    /// The bytes the text may take as the characters of a JSON string (escapes counted, the
    /// quotes not).
    pub(crate) json_bytes: usize,
    /// The most lines the text may hold.
    pub(crate) max_lines: Option<u64>,
}

/// The start of a file, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text {
    /// The text.
    pub(crate) content: String,
    /// The bytes of the file behind `content` (a UTF-16 byte-order mark included).
    pub(crate) bytes_read: u64,
    /// How many lines `content` holds (a last line without a newline counts).
    pub(crate) lines: usize,
    /// The limit that stopped the read before the end of the file, if one did.
    pub(crate) stopped_by: Option<TruncatedBy>,
}

/// Why [`read_text`] failed.
#[derive(Debug)]
pub(crate) enum ReadTextError {
    /// Reading the file failed.
    Io(io::Error),
    /// The bytes reached are not valid in the encoding.
    Decode(DecodeError),
}

/// Reads `reader` as `encoding` until its end or a limit, whichever comes first.
///
/// A limit stops the read *before* a character it has no room for, so `stopped_by` is set only
/// when the file has text beyond `content`, and `content` never ends inside a character.
/// Bytes past the stop are never decoded (an invalid sequence there is no error) and at most
/// one piece of them is read. However long the file, memory holds the text, at most
/// `json_bytes` long (no character takes more bytes in UTF-8 than in JSON), and one piece.
pub(crate) fn read_text(
    mut reader: impl Read,
    encoding: Encoding,
    limits: TextLimits,
) -> Result<Text, ReadTextError> {
    let mut decoder = StreamDecoder::new(encoding);
    let mut sink = Sink {
        content: String::new(),
        room: limits.json_bytes,
        max_lines: limits.max_lines,
        newlines: 0,
        stopped_by: None,
    };
    let mut piece = vec![0; PIECE_BYTES];
    // `piece[..filled]`: bytes read and not yet decoded (at most the start of one character
    // once the decoder has had them).
    let mut filled = 0;
    loop {
        let read = read_some(&mut reader, &mut piece[filled..]).map_err(ReadTextError::Io)?;
        let last = read == 0;
        filled += read;
        let fed = decoder
            .feed(&piece[..filled], last, |c| sink.take(c))
            .map_err(ReadTextError::Decode)?;
        if fed.stopped || last {
            break;
        }
        piece.copy_within(fed.consumed..filled, 0);
        filled -= fed.consumed;
    }
    let unfinished_line = !sink.content.is_empty() && !sink.content.ends_with('\n');
    Ok(Text {
        lines: usize::try_from(sink.newlines)
            .unwrap_or(usize::MAX)
            .saturating_add(usize::from(unfinished_line)),
        bytes_read: decoder.consumed(),
        stopped_by: sink.stopped_by,
        content: sink.content,
    })
}

/// One `read`, retried when a signal interrupted it.
fn read_some(reader: &mut impl Read, into: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(into) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Collects characters while the limits have room for them.
struct Sink {
    content: String,
    /// JSON bytes left.
    room: usize,
    max_lines: Option<u64>,
    newlines: u64,
    stopped_by: Option<TruncatedBy>,
}

impl Sink {
    fn take(&mut self, c: char) -> ControlFlow<()> {
        if self.max_lines.is_some_and(|max| self.newlines >= max) {
            self.stopped_by = Some(TruncatedBy::MaxLines);
            return ControlFlow::Break(());
        }
        let cost = json_char_len(c);
        if cost > self.room {
            self.stopped_by = Some(TruncatedBy::MaxAnswerBytes);
            return ControlFlow::Break(());
        }
        self.room -= cost;
        self.content.push(c);
        if c == '\n' {
            self.newlines += 1;
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(json_bytes: usize, max_lines: Option<u64>) -> TextLimits {
        TextLimits {
            json_bytes,
            max_lines,
        }
    }

    fn read(bytes: &[u8], encoding: Encoding, limits: TextLimits) -> Text {
        match read_text(bytes, encoding, limits) {
            Ok(text) => text,
            Err(e) => panic!("{e:?}"),
        }
    }

    /// A reader that counts the bytes it hands out.
    struct Counted<R> {
        inner: R,
        handed_out: u64,
    }

    impl<R: Read> Read for Counted<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let read = self.inner.read(buf)?;
            self.handed_out += read as u64;
            Ok(read)
        }
    }

    #[test]
    fn text_that_exactly_fills_the_limit_is_whole_and_not_truncated() {
        // Six bytes of JSON: `\u0000`.
        let text = read(b"\0", Encoding::Utf8, limits(6, None));
        assert_eq!(text.content, "\0");
        assert_eq!(text.stopped_by, None);
        let text = read(b"ab\n", Encoding::Utf8, limits(4, None));
        assert_eq!((text.content.as_str(), text.stopped_by), ("ab\n", None));
    }

    #[test]
    fn a_character_with_no_room_left_stops_the_read_before_it() {
        let text = read(b"ab\0cd", Encoding::Utf8, limits(7, None));
        assert_eq!(text.content, "ab");
        assert_eq!(text.bytes_read, 2);
        assert_eq!(text.stopped_by, Some(TruncatedBy::MaxAnswerBytes));
    }

    #[test]
    fn escapes_are_counted_at_their_json_size_in_every_encoding() {
        // 10 NULs are 60 bytes of JSON: 59 have room for 9 of them.
        let nuls = [0_u8; 10];
        for (encoding, bytes, per_char) in [
            (Encoding::Utf8, nuls.to_vec(), 1),
            (Encoding::Ascii, nuls.to_vec(), 1),
            (Encoding::Latin1, nuls.to_vec(), 1),
            (Encoding::Utf16, [0_u8; 20].to_vec(), 2),
        ] {
            let text = read(&bytes, encoding, limits(59, None));
            assert_eq!(text.content, "\0".repeat(9), "{encoding:?}");
            assert_eq!(text.bytes_read, 9 * per_char, "{encoding:?}");
            assert_eq!(text.stopped_by, Some(TruncatedBy::MaxAnswerBytes));
        }
    }

    #[test]
    fn max_lines_stops_before_the_next_line_and_only_if_there_is_one() {
        let text = read(b"a\nb\nc\n", Encoding::Utf8, limits(100, Some(2)));
        assert_eq!(text.content, "a\nb\n");
        assert_eq!((text.lines, text.bytes_read), (2, 4));
        assert_eq!(text.stopped_by, Some(TruncatedBy::MaxLines));
        let text = read(b"a\nb\n", Encoding::Utf8, limits(100, Some(2)));
        assert_eq!((text.lines, text.stopped_by), (2, None));
    }

    #[test]
    fn a_last_line_without_a_newline_counts() {
        assert_eq!(read(b"a\nb", Encoding::Utf8, limits(100, None)).lines, 2);
        assert_eq!(read(b"", Encoding::Utf8, limits(100, None)).lines, 0);
    }

    #[test]
    fn an_endless_input_is_read_only_a_piece_past_the_limit() {
        for (byte, encoding) in [
            (0_u8, Encoding::Utf8),
            (b'a', Encoding::Latin1),
            (0, Encoding::Utf16),
        ] {
            let mut endless = Counted {
                inner: io::repeat(byte),
                handed_out: 0,
            };
            let json_bytes = 1000;
            let text = match read_text(&mut endless, encoding, limits(json_bytes, None)) {
                Ok(text) => text,
                Err(e) => panic!("{e:?}"),
            };
            assert_eq!(text.stopped_by, Some(TruncatedBy::MaxAnswerBytes));
            assert!(text.content.len() <= json_bytes);
            assert!(
                endless.handed_out <= (2 * json_bytes + PIECE_BYTES) as u64,
                "{encoding:?}: {} bytes read for {json_bytes} of JSON",
                endless.handed_out
            );
        }
    }

    #[test]
    fn invalid_bytes_past_the_stop_are_never_reached() {
        let text = read(b"abc\xff", Encoding::Utf8, limits(2, None));
        assert_eq!(text.content, "ab");
        let error = read_text(&b"abc\xff"[..], Encoding::Utf8, limits(100, None));
        assert!(matches!(
            error,
            Err(ReadTextError::Decode(DecodeError::Invalid {
                offset: 3,
                ..
            }))
        ));
    }

    #[test]
    fn a_character_split_between_two_pieces_is_read_whole() {
        // 'é' straddles the end of the first piece.
        let mut bytes = vec![b'a'; PIECE_BYTES - 1];
        bytes.extend("é€".as_bytes());
        let text = read(&bytes, Encoding::Utf8, limits(usize::MAX, None));
        assert!(
            text.content.ends_with("é€"),
            "{:?}",
            &text.content[text.content.len() - 8..]
        );
        assert_eq!(text.bytes_read, bytes.len() as u64);
    }
}
