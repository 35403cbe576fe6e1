//! The metric names a PromQL expression reads, found without a PromQL parser: enough for the
//! alert rules to be checked against the series the runtime exports.

use std::collections::BTreeSet;

/// The series a PromQL expression reads: every metric name, whether followed by a range or
/// instant selector (`name[5m]`, `name{tool="x"}`) or standing alone (`up == 0`).
///
/// Left out: functions (any identifier followed by `(`), aggregation operators, keywords and
/// the `Inf`/`NaN` literals; label names inside `{...}` and grouping lists (`by (le)`,
/// `on (tool)`, `group_left (x)`); durations, numbers and string literals. A metric named only
/// through `{__name__="..."}` is not seen.
pub(crate) fn metric_names(expr: &str) -> BTreeSet<String> {
    /// Identifiers that are never series: aggregation operators (which may stand before `by`
    /// rather than `(`), binary and set operators, modifiers and literals.
    const NOT_SERIES: &[&str] = &[
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
        "and",
        "or",
        "unless",
        "atan2",
        "bool",
        "offset",
        "inf",
        "nan",
    ];
    /// Keywords followed by a parenthesised list of label names.
    const GROUPING: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];

    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut label_list_next = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, '"' | '\'' | '`') {
            i = skip_string(&chars, i);
        } else if c == '{' {
            i = skip_enclosed(&chars, i, '}');
        } else if c == '[' {
            i = skip_enclosed(&chars, i, ']');
        } else if c == '(' && label_list_next {
            label_list_next = false;
            i = skip_enclosed(&chars, i, ')');
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            // A number or duration: 0.95, 30, 1e3, 5m, 0x1F.
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '.' | '_'))
            {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || matches!(c, '_' | ':') {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | ':'))
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            // PromQL keywords are case-insensitive; metric names are not.
            let keyword = word.to_ascii_lowercase();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            if GROUPING.contains(&keyword.as_str()) {
                label_list_next = true;
            } else if next != Some(&'(') && !NOT_SERIES.contains(&keyword.as_str()) {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// The index just past the string literal opening at `open`; backslash escapes are honoured
/// except in backtick strings, which have none.
fn skip_string(chars: &[char], open: usize) -> usize {
    let quote = chars[open];
    let mut i = open + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if quote != '`' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// The index just past the `close` that ends the bracket opening at `open`, stepping over
/// string literals (a label value may hold `}`).
fn skip_enclosed(chars: &[char], open: usize, close: char) -> usize {
    let mut i = open + 1;
    while i < chars.len() {
        match chars[i] {
            '"' | '\'' | '`' => i = skip_string(chars, i),
            c if c == close => return i + 1,
            _ => i += 1,
        }
    }
    i
}

#[test]
fn metric_names_leaves_out_functions_labels_grouping_keywords_and_literals() {
    let expr = r#"sum by (le, tool) (rate(a_bucket{tool="x}y", status!~"5.."}[5m:1m] offset 1h))
        / on (tool) group_left (error_type) b:recorded * 1e3 > bool Inf
        or up unless count without (job) (c) and absent(d{job='e'}) > 0.5"#;
    let expected: BTreeSet<String> = ["a_bucket", "b:recorded", "up", "c", "d"]
        .map(String::from)
        .into();
    assert_eq!(metric_names(expr), expected);
}
