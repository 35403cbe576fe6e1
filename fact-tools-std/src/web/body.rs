//! [`Body`]: a response body as `Web.HTTPRequest` returns it, decoded by its charset and cut to
//! the policy's cap as measured in the JSON answer.
//!
//! Two sizes matter, and the cap bounds both. The bytes read from the network are capped by
//! [`read_capped`](super::client::read_capped), which bounds memory. The body in the answer is
//! capped on its JSON form, which is what the server sends: a NUL byte read as one byte is
//! written `\u0000`, six bytes, and a byte that a legacy charset maps to `€` is three, so a cap
//! on raw bytes alone would let an answer grow to six times its cap.

use encoding_rs::{CoderResult, Encoding, UTF_8};
use serde_json::Value;

use crate::json_size::{self, char_len};

/// A decoded body and what was done to it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Body {
    /// The parsed JSON value, or the text.
    pub(crate) value: Value,
    /// The encoding the text was decoded from (`UTF-8` for JSON).
    pub(crate) charset: &'static str,
    /// Why the text is not exactly the body's bytes decoded, when it is not.
    pub(crate) decoding_error: Option<String>,
    /// Whether the body was cut, when read or to fit its JSON form in the cap.
    pub(crate) truncated: bool,
}

impl Body {
    /// Decodes `bytes`, of which the rest was cut when `cut`, as the response's
    /// `content_type` says, and keeps what fits in `cap` bytes of JSON.
    ///
    /// A complete JSON body (`application/json`, `+json`) is parsed; when it is not valid
    /// JSON, or its JSON form is larger than `cap`, it is returned as text instead. Text is
    /// decoded by the `charset` of the content type (UTF-8 when there is none; a byte order
    /// mark overrides both, as in browsers); bytes that do not decode become U+FFFD and
    /// `decoding_error` says so. An incomplete character at the end of a cut body is left out
    /// rather than replaced: `truncated` already says the body goes on.
    pub(crate) fn decode(bytes: &[u8], content_type: Option<&str>, cut: bool, cap: usize) -> Self {
        let is_json = content_type.is_some_and(is_json_media_type);
        if is_json
            && !cut
            && let Ok(value) = serde_json::from_slice::<Value>(bytes)
            && json_size::len(&value) <= cap
        {
            return Self {
                value,
                charset: UTF_8.name(),
                decoding_error: None,
                truncated: false,
            };
        }
        let label = content_type.and_then(charset_param);
        let known = label.and_then(|label| Encoding::for_label(label.as_bytes()));
        let (mut text, used, replaced) = decode_text(bytes, known.unwrap_or(UTF_8), !cut);
        let decoding_error = match (label, known) {
            (Some(label), None) => Some(format!(
                "the charset {label:?} of the response is not one this tool knows; the body \
                 was decoded as UTF-8{}",
                if replaced {
                    ", and bytes that are not UTF-8 were replaced by U+FFFD"
                } else {
                    ""
                }
            )),
            _ if replaced => Some(format!(
                "the body is not valid {}: bytes that do not decode were replaced by U+FFFD",
                used.name()
            )),
            _ => None,
        };
        let fitted = fit_json_string(&mut text, cap);
        Self {
            value: Value::String(text),
            charset: used.name(),
            decoding_error,
            truncated: cut || fitted,
        }
    }
}

/// `application/json`, `text/json` or any `+json` type, whatever its parameters.
pub(crate) fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
}

/// The `charset` parameter of a content type, unquoted.
fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"'))
            .filter(|value| !value.is_empty())
    })
}

/// `bytes` decoded from `encoding` (or the encoding its byte order mark names), the encoding
/// used, and whether some bytes were replaced. When not `last`, an incomplete sequence at the
/// end is left out.
fn decode_text(
    bytes: &[u8],
    encoding: &'static Encoding,
    last: bool,
) -> (String, &'static Encoding, bool) {
    let mut decoder = encoding.new_decoder();
    let needed = decoder
        .max_utf8_buffer_length(bytes.len())
        .unwrap_or(bytes.len());
    let mut text = String::with_capacity(needed);
    let mut replaced = false;
    let mut read = 0;
    loop {
        let (result, consumed, had_replacements) =
            decoder.decode_to_string(&bytes[read..], &mut text, last);
        read += consumed;
        replaced |= had_replacements;
        match result {
            CoderResult::InputEmpty => break,
            // Only when the estimate above overflowed: make room and go on.
            CoderResult::OutputFull => text.reserve(bytes.len() - read + 16),
        }
    }
    (text, decoder.encoding(), replaced)
}

/// Cuts `text` to its longest prefix whose JSON string form (without the quotes) is at most
/// `cap` bytes; `true` when it cut.
fn fit_json_string(text: &mut String, cap: usize) -> bool {
    let mut size = 0;
    for (at, c) in text.char_indices() {
        size += char_len(c);
        if size > cap {
            text.truncate(at);
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(body: &Body) -> &str {
        body.value
            .as_str()
            .unwrap_or_else(|| panic!("not text: {body:?}"))
    }

    /// The body's size in the answer: its JSON form without the quotes of a string.
    fn answer_len(body: &Body) -> usize {
        let json = serde_json::to_string(&body.value).unwrap_or_default();
        if body.value.is_string() {
            json.len() - 2
        } else {
            json.len()
        }
    }

    #[test]
    fn a_latin1_body_is_decoded_by_its_charset() {
        let body = Body::decode(
            b"caf\xe9",
            Some("text/plain; charset=ISO-8859-1"),
            false,
            100,
        );
        assert_eq!(text(&body), "café");
        // The WHATWG Encoding Standard reads the ISO-8859-1 label as windows-1252.
        assert_eq!(body.charset, "windows-1252");
        assert_eq!(body.decoding_error, None);
        assert!(!body.truncated);
    }

    #[test]
    fn charset_labels_are_read_whatever_their_case_and_quotes() {
        for content_type in [
            "text/plain;charset=utf-8",
            "text/plain; CHARSET=\"UTF-8\"",
            "text/html; q=1; charset=utf8",
        ] {
            let body = Body::decode("é".as_bytes(), Some(content_type), false, 100);
            assert_eq!(text(&body), "é", "{content_type}");
            assert_eq!(body.decoding_error, None, "{content_type}");
        }
        let body = Body::decode(
            b"\x82\xa0",
            Some("text/plain; charset=Shift_JIS"),
            false,
            100,
        );
        assert_eq!(text(&body), "あ");
    }

    #[test]
    fn bytes_that_do_not_decode_are_replaced_and_said_so() {
        let body = Body::decode(b"caf\xe9", Some("text/plain"), false, 100);
        assert_eq!(text(&body), "caf\u{fffd}");
        assert_eq!(
            body.decoding_error.as_deref(),
            Some("the body is not valid UTF-8: bytes that do not decode were replaced by U+FFFD")
        );
        let body = Body::decode(b"caf\xe9", None, false, 100);
        assert_eq!(text(&body), "caf\u{fffd}");
        assert!(body.decoding_error.is_some());
    }

    #[test]
    fn an_unknown_charset_is_named_in_the_decoding_error() {
        let body = Body::decode(b"plain", Some("text/plain; charset=klingon"), false, 100);
        assert_eq!(text(&body), "plain");
        assert_eq!(body.charset, "UTF-8");
        assert_eq!(
            body.decoding_error.as_deref(),
            Some(
                "the charset \"klingon\" of the response is not one this tool knows; the body \
                 was decoded as UTF-8"
            )
        );
    }

    #[test]
    fn a_byte_order_mark_overrides_the_charset() {
        let body = Body::decode(
            b"\xff\xfeh\0i\0",
            Some("text/plain; charset=utf-8"),
            false,
            100,
        );
        assert_eq!(text(&body), "hi");
        assert_eq!(body.charset, "UTF-16LE");
    }

    #[test]
    fn a_character_cut_by_the_read_cap_is_left_out_not_replaced() {
        let mut bytes = "héllo".as_bytes().to_vec();
        bytes.extend_from_slice(&"é".as_bytes()[..1]);
        let body = Body::decode(&bytes, Some("text/plain"), true, 100);
        assert_eq!(text(&body), "héllo");
        assert_eq!(body.decoding_error, None);
        assert!(body.truncated);
    }

    #[test]
    fn a_complete_json_body_is_parsed_and_an_invalid_one_is_text() {
        let body = Body::decode(br#"{"a":1}"#, Some("application/json"), false, 100);
        assert_eq!(body.value, serde_json::json!({"a": 1}));
        let body = Body::decode(b"{nope", Some("application/problem+json"), false, 100);
        assert_eq!(body.value, Value::from("{nope"));
        let body = Body::decode(br#"{"a":1}"#, Some("application/json"), true, 100);
        assert_eq!(body.value, Value::from(r#"{"a":1}"#));
    }

    #[test]
    fn json_media_types_are_recognized_with_parameters() {
        assert!(is_json_media_type("application/json; charset=utf-8"));
        assert!(is_json_media_type("application/problem+json"));
        assert!(is_json_media_type("Application/JSON"));
        assert!(!is_json_media_type("text/html"));
        assert!(!is_json_media_type("application/jsonl"));
    }

    #[test]
    fn the_cap_bounds_the_body_as_written_in_json_for_every_kind_of_byte() {
        let cap = 600;
        let cases: [(&str, Vec<u8>, &str); 6] = [
            ("NUL bytes", vec![0; cap], "text/plain"),
            (
                "control bytes",
                (1..0x20).cycle().take(cap).collect(),
                "text/plain",
            ),
            (
                "quotes and backslashes",
                b"\"\\".repeat(cap / 2),
                "text/plain",
            ),
            ("invalid UTF-8", vec![0xff; cap], "text/plain"),
            (
                "windows-1252 euro",
                vec![0x80; cap],
                "text/plain; charset=windows-1252",
            ),
            (
                "latin1 letters",
                vec![0xe9; cap],
                "text/plain; charset=iso-8859-1",
            ),
        ];
        for (what, bytes, content_type) in cases {
            let body = Body::decode(&bytes, Some(content_type), false, cap);
            assert!(answer_len(&body) <= cap, "{what}: {}", answer_len(&body));
            assert!(answer_len(&body) > cap - 6, "{what}: cut too short");
            assert!(body.truncated, "{what}");
        }
    }

    #[test]
    fn a_json_body_whose_json_form_outgrows_the_cap_is_cut_text() {
        // `9e9` is three bytes and serializes as `9000000000.0`, twelve.
        let source = format!("[{}]", vec!["9e9"; 100].join(","));
        let cap = source.len();
        let body = Body::decode(source.as_bytes(), Some("application/json"), false, cap);
        assert!(body.value.is_string(), "{body:?}");
        assert!(answer_len(&body) <= cap);
        assert!(!body.truncated, "the source itself fits");
        let body = Body::decode(source.as_bytes(), Some("application/json"), false, cap - 1);
        assert!(body.truncated);
    }

    #[test]
    fn a_body_within_the_cap_is_whole() {
        let body = Body::decode(&[0; 10], Some("text/plain"), false, 60);
        assert_eq!(text(&body), "\0".repeat(10));
        assert!(!body.truncated);
    }
}
