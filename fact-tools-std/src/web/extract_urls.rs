//! `Web.ExtractURLs`: the URLs in a text, found by `linkify` and parsed by `url`.

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
/// with `scheme://` are found. Two spellings of one URL (`HTTP://A.org` and `http://a.org/`)
/// count once, as first written.
///
/// ```
/// use fact_tools_std::web::extract_urls;
///
/// let found = extract_urls("see http://b.org, then https://a.org/x?q=1&r=2.".into(), None)?;
/// assert_eq!(found.urls, ["http://b.org", "https://a.org/x?q=1&r=2"]);
/// assert!(found.details[1].has_query);
/// # Ok::<(), fact_runtime::ToolError>(())
/// ```
#[tool(name = "Web.ExtractURLs", timeout = 10)]
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
    for link in finder.links(&text) {
        let written = link.as_str();
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
