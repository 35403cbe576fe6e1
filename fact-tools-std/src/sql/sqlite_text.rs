//! The statement text as SQLite's own tokenizer reads it.
//!
//! sqlparser and SQLite do not tokenize every text alike. SQLite reads `$name(...)` and
//! `$name::x` as one parameter token (its Tcl variable syntax) where sqlparser reads a
//! placeholder, a cast and a string literal; and sqlx runs *every* statement of a SQLite text,
//! not only the first. A text could so pass the parser check as one harmless query and run as
//! several statements. This scanner follows SQLite's tokenizer (`tokenize.c`) for what matters
//! here: quotes, comments, parameters and statement separators, so that what SQLite will run
//! is checked as SQLite sees it.

/// What SQLite would see in a statement text that must not be run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SqliteHazard {
    /// Text other than comments after a `;`: a second statement.
    SecondStatement,
    /// A parameter written `$name`, `:name`, `@name` or `#name` (only `?` and `?NNN` are
    /// accepted), holding the text of the token.
    NamedParameter(String),
}

/// The first hazard in `sql` as SQLite tokenizes it, if any.
pub(crate) fn hazard(sql: &str) -> Option<SqliteHazard> {
    let bytes = sql.as_bytes();
    let mut i = 0;
    let mut after_semicolon = false;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\x0c' | b'\r' => {
                i += 1;
                continue;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                // Block comments do not nest; an unterminated one runs to the end.
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i = (i + 2).min(bytes.len());
                continue;
            }
            b';' => {
                after_semicolon = true;
                i += 1;
                continue;
            }
            _ => {}
        }
        if after_semicolon {
            return Some(SqliteHazard::SecondStatement);
        }
        i = match c {
            b'\'' | b'"' | b'`' => quoted(bytes, i, c),
            b'[' => bytes[i..]
                .iter()
                .position(|&b| b == b']')
                .map_or(bytes.len(), |end| i + end + 1),
            b'$' | b'@' | b':' | b'#' => {
                let end = variable(bytes, i);
                if end > i + 1 {
                    return Some(SqliteHazard::NamedParameter(
                        String::from_utf8_lossy(&bytes[start..end]).into_owned(),
                    ));
                }
                end
            }
            _ if is_id_char(c) => {
                let mut end = i + 1;
                while end < bytes.len() && is_id_char(bytes[end]) {
                    end += 1;
                }
                end
            }
            _ => i + 1,
        };
    }
    None
}

/// The end of a quoted token starting at `i`; a doubled quote is part of it.
fn quoted(bytes: &[u8], i: usize, quote: u8) -> usize {
    let mut j = i + 1;
    while j < bytes.len() {
        if bytes[j] == quote {
            if bytes.get(j + 1) == Some(&quote) {
                j += 2;
                continue;
            }
            return j + 1;
        }
        j += 1;
    }
    bytes.len()
}

/// The end of a parameter token (`$`, `@`, `:` or `#` first) as SQLite reads it, Tcl
/// syntax included: identifier characters, `::`, and one `(...)` running to `)` or a space.
fn variable(bytes: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    let mut n = 0;
    while j < bytes.len() {
        let c = bytes[j];
        if is_id_char(c) {
            n += 1;
            j += 1;
        } else if c == b'(' && n > 0 {
            j += 1;
            while j < bytes.len() && !bytes[j].is_ascii_whitespace() && bytes[j] != b')' {
                j += 1;
            }
            if j < bytes.len() && bytes[j] == b')' {
                j += 1;
            }
            return j;
        } else if c == b':' && bytes.get(j + 1) == Some(&b':') {
            j += 2;
        } else {
            break;
        }
    }
    j
}

/// SQLite's identifier characters: letters, digits, `_`, `$`, and every byte of a non-ASCII
/// character.
fn is_id_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_statement_with_trailing_semicolons_and_comments_is_fine() {
        for sql in [
            "SELECT 1",
            "SELECT 1;",
            "SELECT 1; -- done",
            "SELECT 1; /* done */ ;",
            "SELECT ';' AS a, \"x;y\" AS b, [p;q] AS c, `r;s` AS d -- ; DROP\n",
            "SELECT 'it''s; fine'",
            "SELECT * FROM t WHERE a = ? AND b = ?2",
            "SELECT 1 /* unterminated ; DROP TABLE t",
        ] {
            assert_eq!(hazard(sql), None, "{sql}");
        }
    }

    #[test]
    fn a_second_statement_is_seen_wherever_sqlite_sees_it() {
        for sql in [
            "SELECT 1; DROP TABLE t",
            "SELECT 1 -- comment\n; DELETE FROM t",
            "SELECT 1 /* a */; PRAGMA query_only = OFF",
            "SELECT 'a'';'; VACUUM",
        ] {
            assert_eq!(hazard(sql), Some(SqliteHazard::SecondStatement), "{sql}");
        }
    }

    #[test]
    fn tcl_style_parameters_that_swallow_quotes_are_named() {
        let sql = "SELECT 1 AS a, $1::b(') ; SELECT token, 2 FROM secrets ; SELECT 3, $2::d(')";
        assert_eq!(
            hazard(sql),
            Some(SqliteHazard::NamedParameter("$1::b(')".to_owned()))
        );
        for (sql, token) in [
            ("SELECT :name", ":name"),
            ("SELECT @x", "@x"),
            ("SELECT $x", "$x"),
            ("SELECT #x", "#x"),
        ] {
            assert_eq!(
                hazard(sql),
                Some(SqliteHazard::NamedParameter(token.to_owned())),
                "{sql}"
            );
        }
    }

    #[test]
    fn a_dollar_inside_an_identifier_is_part_of_it() {
        assert_eq!(hazard("SELECT a$b FROM t"), None);
    }
}
