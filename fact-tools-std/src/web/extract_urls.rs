//! `Web.ExtractURLs`: the URLs in a text, found by `linkify` and parsed by `url`.
//!
//! linkify knows where a URL ends in prose (trailing punctuation, brackets, quotes), but takes
//! a host only when it is a dotted IPv4 address or a name whose top-level domain is ASCII:
//! `http://[2001:db8::1]/x` and `http://пример.рф/` would be missed. So linkify scans a copy of
//! the text in which every host after `://` that is an IP literal in brackets or holds
//! non-ASCII characters is written in ASCII letters of the same byte length (see
//! [`masked_for_linkify`]); a link's byte range in the copy is its range in the text, which is
//! what is parsed and returned.

use std::collections::HashSet;

use fact_runtime::{ToolError, tool};
use linkify::{LinkFinder, LinkKind};
use schemars::JsonSchema;
use serde::Serialize;
use url::Url;

/// The longest text the tool scans, in characters.
pub const MAX_TEXT_CHARS: usize = 50_000;

/// One URL found, and what it is made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FoundUrl {
    /// The URL as written in the text (trailing punctuation excluded).
    pub url: String,
    /// Its scheme, in lowercase.
    pub scheme: String,
    /// Its host (lowercase, IDNs in punycode), when it has one.
    pub host: Option<String>,
    /// Its path, normalized (`/` when empty).
    pub path: String,
    /// Whether it has a `?query`.
    pub has_query: bool,
    /// Whether it has a `#fragment`.
    pub has_fragment: bool,
}

/// The answer of `Web.ExtractURLs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ExtractedUrls {
    /// The unique URLs, in order of first appearance, as written.
    pub urls: Vec<String>,
    /// How many unique URLs were found.
    pub count: usize,
    /// The schemes found, in order of first appearance.
    pub schemes: Vec<String>,
    /// Each URL of `urls`, in the same order, taken apart.
    pub details: Vec<FoundUrl>,
}

/// Finds the URLs in a text: unique, in order of first appearance, without trailing
/// punctuation, limited to the given schemes (http and https when absent). Only URLs written
/// with `scheme://` are found; hosts may be names in any script (`http://пример.рф/`) or IP
/// literals (`http://[2001:db8::1]:8080/`). Two spellings of one URL (`HTTP://A.org` and
/// `http://a.org/`) count once, as first written.
///
/// ```
/// use fact_tools_std::web::extract_urls;
///
/// let found = extract_urls("see http://b.org, then https://a.org/x?q=1&r=2.".into(), None)?;
/// assert_eq!(found.urls, ["http://b.org", "https://a.org/x?q=1&r=2"]);
/// assert!(found.details[1].has_query);
/// # Ok::<(), fact_runtime::ToolError>(())
/// ```
#[tool(
    name = "Web.ExtractURLs",
    title = "Extract URLs",
    timeout = 10,
    read_only,
    destructive = false,
    idempotent,
    open_world = false
)]
pub fn extract_urls(
    /// The text to scan (at most 50,000 characters)
    #[schemars(length(max = 50000))]
    text: String,
    /// The schemes to keep, e.g. ["https"] (http and https when absent)
    schemes: Option<Vec<String>>,
) -> Result<ExtractedUrls, ToolError> {
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(ToolError::invalid_input(format!(
            "'text' has {chars} characters, more than the {MAX_TEXT_CHARS} allowed"
        )));
    }
    let wanted = wanted_schemes(schemes)?;

    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkKind::Url]);
    let mut seen = HashSet::new();
    let mut found = ExtractedUrls {
        urls: Vec::new(),
        count: 0,
        schemes: Vec::new(),
        details: Vec::new(),
    };
    let masked = masked_for_linkify(&text);
    for link in finder.links(&masked) {
        // Masking keeps every byte offset, and replaces whole characters by ASCII, so the
        // range is one in `text` too; `get` makes sure rather than trusts.
        let Some(written) = text.get(link.start()..link.end()) else {
            continue;
        };
        // linkify finds what looks like a URL; what `url` cannot parse is not one.
        let Ok(parsed) = Url::parse(written) else {
            continue;
        };
        if !wanted.iter().any(|scheme| scheme == parsed.scheme()) || !seen.insert(parsed.clone()) {
            continue;
        }
        if !found.schemes.iter().any(|s| s == parsed.scheme()) {
            found.schemes.push(parsed.scheme().to_owned());
        }
        found.urls.push(written.to_owned());
        found.details.push(FoundUrl {
            url: written.to_owned(),
            scheme: parsed.scheme().to_owned(),
            host: parsed.host_str().map(str::to_owned),
            path: parsed.path().to_owned(),
            has_query: parsed.query().is_some(),
            has_fragment: parsed.fragment().is_some(),
        });
    }
    found.count = found.urls.len();
    Ok(found)
}

/// A copy of `text` for linkify to scan, the same length byte for byte: non-ASCII whitespace
/// and control characters become ASCII spaces (linkify would read them as letters of a host),
/// and in the authority after each `://` (up to `/`, `?`, `#`, a character no URL has, or
/// closing punctuation, which becomes spaces) an IPv6 literal in brackets and every other
/// non-ASCII character become `x`s.
fn masked_for_linkify(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let mut fill = |at: usize, len: usize, with: u8| bytes[at..at + len].fill(with);
    for (at, c) in text.char_indices() {
        if !c.is_ascii() && (c.is_whitespace() || c.is_control()) {
            fill(at, c.len_utf8(), b' ');
        }
    }
    for (separator, _) in text.match_indices("://") {
        let start = separator + "://".len();
        let mut chars = text[start..].char_indices().map(|(i, c)| (start + i, c));
        while let Some((at, c)) = chars.next() {
            match c {
                '[' => {
                    let Some(len) = ip_literal_len(&text[at..]) else {
                        break;
                    };
                    fill(at, len, b'x');
                    // Skip the literal: its characters are ASCII, one byte each.
                    chars.nth(len - 2);
                }
                '/' | '?' | '#' | '"' | '<' | '>' | '`' | '{' | '}' | '|' | '\\' | '^' => break,
                c if c.is_whitespace() || c.is_control() => break,
                c if ENDS_A_HOST.contains(&c) => {
                    fill(at, c.len_utf8(), b' ');
                    break;
                }
                c if !c.is_ascii() => fill(at, c.len_utf8(), b'x'),
                _ => {}
            }
        }
    }
    // Whole characters were replaced by ASCII bytes, so this is UTF-8; were it not, the
    // unmasked text still finds every ASCII URL.
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_owned())
}

/// Non-ASCII quotation marks and punctuation that end a host in prose (linkify would read
/// them as letters of the host): a host written right before one ends there.
const ENDS_A_HOST: &[char] = &[
    '«', '»', '‹', '›', '“', '”', '„', '‘', '’', '‚', '「', '」', '『', '』', '（', '）', '【',
    '】', '、', '。', '，', '：', '；', '！', '？', '…', '–', '—',
];

/// The length of the IPv6 literal `[...]` at the start of `s` (hex digits, `:` and `.` for an
/// embedded IPv4 address), brackets included. The longest is 47 bytes
/// (`[ffff:...:255.255.255.255]`); looking no further keeps a text full of `[` linear.
fn ip_literal_len(s: &str) -> Option<usize> {
    const LONGEST: usize = 47;
    let close = s.bytes().take(LONGEST).position(|b| b == b']')?;
    let inside = &s[1..close];
    let is_literal = inside.contains(':')
        && inside
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    is_literal.then_some(close + 1)
}

/// The schemes to keep, lowercased; 400 for an empty list or a name that is not a scheme.
fn wanted_schemes(schemes: Option<Vec<String>>) -> Result<Vec<String>, ToolError> {
    let Some(schemes) = schemes else {
        return Ok(vec!["http".to_owned(), "https".to_owned()]);
    };
    if schemes.is_empty() {
        return Err(ToolError::invalid_input(
            "'schemes' must name at least one scheme, e.g. [\"https\"]",
        ));
    }
    schemes
        .into_iter()
        .map(|scheme| {
            let valid = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
            if valid {
                Ok(scheme.to_ascii_lowercase())
            } else {
                Err(ToolError::invalid_input(format!(
                    "'schemes' entry {scheme:?} is not a URL scheme (a letter, then letters, digits, '+', '-' or '.')"
                )))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_punctuation_is_not_part_of_the_url() -> Result<(), ToolError> {
        let found = extract_urls(
            "see http://b.org, then (http://c.org/x). Or 'https://d.org/y?'!".into(),
            None,
        )?;
        assert_eq!(
            found.urls,
            ["http://b.org", "http://c.org/x", "https://d.org/y"]
        );
        Ok(())
    }

    #[test]
    fn duplicates_count_once_in_order_of_first_appearance() -> Result<(), ToolError> {
        let found = extract_urls(
            "https://z.org/ then http://a.org and HTTPS://Z.org again".into(),
            None,
        )?;
        assert_eq!(found.urls, ["https://z.org/", "http://a.org"]);
        assert_eq!(found.count, 2);
        assert_eq!(found.schemes, ["https", "http"]);
        Ok(())
    }

    #[test]
    fn schemes_filter_the_urls_kept() -> Result<(), ToolError> {
        let text = "http://a.org https://b.org ftp://files.example/f";
        let found = extract_urls(text.into(), Some(vec!["FTP".into(), "https".into()]))?;
        assert_eq!(found.urls, ["https://b.org", "ftp://files.example/f"]);
        assert_eq!(found.schemes, ["https", "ftp"]);
        Ok(())
    }

    #[test]
    fn details_take_each_url_apart() -> Result<(), ToolError> {
        let found = extract_urls("go to https://Example.com/a/b?x=1&y=2#top".into(), None)?;
        assert_eq!(
            found.details,
            [FoundUrl {
                url: "https://Example.com/a/b?x=1&y=2#top".into(),
                scheme: "https".into(),
                host: Some("example.com".into()),
                path: "/a/b".into(),
                has_query: true,
                has_fragment: true,
            }]
        );
        Ok(())
    }

    #[test]
    fn ipv6_literals_are_found_with_and_without_port() -> Result<(), ToolError> {
        let text = "see http://[2001:db8::1]/x, https://[2001:db8::2]:8443/a?b=1. \
                    Also (http://[::1]) and http://[::ffff:192.0.2.1]:80/p!";
        let found = extract_urls(text.into(), None)?;
        assert_eq!(
            found.urls,
            [
                "http://[2001:db8::1]/x",
                "https://[2001:db8::2]:8443/a?b=1",
                "http://[::1]",
                "http://[::ffff:192.0.2.1]:80/p",
            ]
        );
        let hosts: Vec<_> = found.details.iter().map(|d| d.host.clone()).collect();
        assert_eq!(
            hosts,
            [
                Some("[2001:db8::1]".to_owned()),
                Some("[2001:db8::2]".to_owned()),
                Some("[::1]".to_owned()),
                Some("[::ffff:c000:201]".to_owned()),
            ]
        );
        Ok(())
    }

    #[test]
    fn hosts_in_any_script_are_found_with_their_paths() -> Result<(), ToolError> {
        let text = "Сайт http://пример.рф/, страница https://пример.рф/путь/к?q=1. \
                    Voir (http://bücher.de/x) et https://例子.测试/a, «http://παράδειγμα.δοκιμή»";
        let found = extract_urls(text.into(), None)?;
        assert_eq!(
            found.urls,
            [
                "http://пример.рф/",
                "https://пример.рф/путь/к?q=1",
                "http://bücher.de/x",
                "https://例子.测试/a",
                "http://παράδειγμα.δοκιμή",
            ]
        );
        assert_eq!(
            found.details[0].host.as_deref(),
            Some("xn--e1afmkfd.xn--p1ai")
        );
        assert_eq!(found.details[1].path, "/%D0%BF%D1%83%D1%82%D1%8C/%D0%BA");
        Ok(())
    }

    #[test]
    fn urls_in_text_without_spaces_keep_their_scheme_and_stop_at_punctuation()
    -> Result<(), ToolError> {
        let found = extract_urls(
            "詳細はhttp://example.com/a を参照、http://例子.测试/\u{3000}です。「https://пример.рф」".into(),
            None,
        )?;
        assert_eq!(
            found.urls,
            [
                "http://example.com/a",
                "http://例子.测试/",
                "https://пример.рф"
            ]
        );
        Ok(())
    }

    #[test]
    fn masking_keeps_every_byte_offset_and_replaces_whole_characters() {
        for text in [
            "http://[2001:db8::1]:8080/путь «http://пример.рф»\u{3000}x",
            "://[://[://[", // unclosed literals
            "http://[::1",
            "h://日本\u{85}語 https://a.b/c\u{2028}",
        ] {
            let masked = masked_for_linkify(text);
            assert_eq!(masked.len(), text.len(), "{text:?}");
            for (at, c) in text.char_indices() {
                let range = at..at + c.len_utf8();
                let now = &masked[range];
                assert!(
                    now == c.to_string() || now.is_ascii(),
                    "{text:?}: {c:?} at {at} became {now:?}"
                );
            }
        }
    }

    #[test]
    fn emails_and_bare_domains_are_not_urls() -> Result<(), ToolError> {
        let found = extract_urls("mail ada@example.com or visit example.org".into(), None)?;
        assert_eq!(found.count, 0);
        Ok(())
    }

    #[test]
    fn an_empty_or_malformed_scheme_list_is_a_400() {
        for schemes in [vec![], vec!["ht tp".to_owned()], vec!["1http".to_owned()]] {
            let err = extract_urls("http://a.org".into(), Some(schemes)).expect_err("refused");
            assert_eq!(err.kind().status_code(), 400);
        }
    }
}
