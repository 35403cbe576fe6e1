//! The statement's text as the check reads it: positions of tokens as byte offsets,
//! PostgreSQL's `TABLE name` expanded to the `SELECT * FROM name` it means, and `ROWS FROM`
//! read as the `UNNEST` the parser knows, byte for byte in place.

use std::borrow::Cow;

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan};

use super::guard::Refusal;

/// The byte offset of `at` (a token's line and column, in characters) in `sql`.
pub(super) fn offset_of(sql: &str, at: Location) -> Option<usize> {
    let (mut line, mut column) = (1, 1);
    for (offset, ch) in sql.char_indices() {
        if (line, column) == (at.line, at.column) {
            return Some(offset);
        }
        if ch == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    ((line, column) == (at.line, at.column)).then_some(sql.len())
}

/// The byte offset of the first `;` token of `sql`, which `tokens` were read from.
pub(super) fn first_semicolon(sql: &str, tokens: &[TokenWithSpan]) -> Option<usize> {
    let at = tokens
        .iter()
        .find(|token| token.token == Token::SemiColon)?
        .span
        .start;
    offset_of(sql, at).filter(|&offset| sql[offset..].starts_with(';'))
}

/// PostgreSQL's `TABLE name` (a query, wherever one may start) as the `SELECT * FROM name`
/// it is defined to mean, which the parser reads: the rewritten text is what is checked and
/// what runs.
pub(super) fn expand_table_commands<'s>(
    sql: &'s str,
    tokens: &[TokenWithSpan],
) -> Result<Cow<'s, str>, Refusal> {
    let mut starts = Vec::new();
    let mut previous: Option<&Token> = None;
    for token in tokens {
        if matches!(token.token, Token::Whitespace(_)) {
            continue;
        }
        let query_may_start = match previous {
            None | Some(Token::LParen) => true,
            Some(Token::Word(word)) => {
                matches!(
                    word.keyword,
                    Keyword::UNION
                        | Keyword::INTERSECT
                        | Keyword::EXCEPT
                        | Keyword::ALL
                        | Keyword::DISTINCT
                ) && word.quote_style.is_none()
            }
            Some(_) => false,
        };
        if query_may_start
            && let Token::Word(word) = &token.token
            && word.keyword == Keyword::TABLE
            && word.quote_style.is_none()
        {
            let start = offset_of(sql, token.span.start)
                .ok_or_else(|| Refusal::Syntax("the statement could not be read".to_owned()))?;
            starts.push(start);
        }
        previous = Some(&token.token);
    }
    if starts.is_empty() {
        return Ok(Cow::Borrowed(sql));
    }
    let mut expanded = String::with_capacity(sql.len() + starts.len() * 9);
    let mut copied = 0;
    for start in starts {
        expanded.push_str(&sql[copied..start]);
        expanded.push_str("SELECT * FROM");
        copied = start + "TABLE".len();
    }
    expanded.push_str(&sql[copied..]);
    Ok(Cow::Owned(expanded))
}

/// `sql` with each `ROWS FROM` (the words apart by ASCII spaces only) written as `UNNEST`
/// padded to the same bytes, or `None` when it has none. The functions inside are then
/// checked as the arguments of an `UNNEST`, which they are in all but how their rows are
/// zipped.
pub(super) fn rows_from_as_unnest(sql: &str, tokens: &[TokenWithSpan]) -> Option<String> {
    let words: Vec<&TokenWithSpan> = tokens
        .iter()
        .filter(|token| !matches!(token.token, Token::Whitespace(_)))
        .collect();
    let mut text: Option<String> = None;
    for pair in words.windows(3) {
        let [rows, from, paren] = pair else { continue };
        let is = |token: &TokenWithSpan, keyword: Keyword| matches!(&token.token, Token::Word(word) if word.keyword == keyword && word.quote_style.is_none());
        if !(is(rows, Keyword::ROWS) && is(from, Keyword::FROM) && paren.token == Token::LParen) {
            continue;
        }
        let (Some(start), Some(end)) = (
            offset_of(sql, rows.span.start),
            offset_of(sql, from.span.end),
        ) else {
            continue;
        };
        let between = &sql[start + "ROWS".len()..end - "FROM".len()];
        if !between.bytes().all(|byte| byte == b' ' || byte == b'\t') {
            continue;
        }
        let text = text.get_or_insert_with(|| sql.to_owned());
        let padded = format!("{:<width$}", "UNNEST", width = end - start);
        text.replace_range(start..end, &padded);
    }
    text
}
