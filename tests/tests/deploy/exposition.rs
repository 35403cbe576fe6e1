//! The samples of a Prometheus text exposition (what `GET /metrics` answers), read without a
//! client library: names, label sets and values, enough to compare with what the rules read.

use std::collections::BTreeMap;

/// One sample line of the Prometheus text exposition, `name{label="value",...} value`.
#[derive(Debug, PartialEq)]
pub(crate) struct Sample {
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) value: f64,
}

/// The samples of a Prometheus text exposition, in order. Comment lines (`# HELP`, `# TYPE`) and
/// blank lines are skipped; any other line that is not a sample is a panic naming it.
pub(crate) fn samples(exposition: &str) -> Vec<Sample> {
    exposition
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| sample(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect()
}

/// The sample on `line`: a name, an optional label set, a value and an optional timestamp.
fn sample(line: &str) -> Result<Sample, &'static str> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .ok_or("a sample without a value")?;
    let (name, mut rest) = line.split_at(name_end);
    let mut labels = BTreeMap::new();
    if let Some(inside) = rest.strip_prefix('{') {
        (labels, rest) = label_set(inside)?;
    }
    let value = rest
        .split_whitespace()
        .next()
        .ok_or("a sample without a value")?
        .parse()
        .map_err(|_| "a sample value that is not a number")?;
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// The labels of a label set starting just past its `{`, and the text after its `}`. Values are
/// unescaped (`\"`, `\\`, `\n`), so a value may hold quotes, commas and braces.
fn label_set(text: &str) -> Result<(BTreeMap<String, String>, &str), &'static str> {
    let mut labels = BTreeMap::new();
    let mut rest = text.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let (name, after_name) = rest.split_once('=').ok_or("a label without '='")?;
        let quoted = after_name
            .trim_start()
            .strip_prefix('"')
            .ok_or("a label value without quotes")?;
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let close = loop {
            match chars.next() {
                Some((at, '"')) => break at,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, escaped @ ('"' | '\\'))) => value.push(escaped),
                    _ => return Err("a label value with an unknown escape"),
                },
                Some((_, c)) => value.push(c),
                None => return Err("an unterminated label value"),
            }
        };
        if labels.insert(name.trim().to_owned(), value).is_some() {
            return Err("a label set naming a label twice");
        }
        rest = quoted[close + 1..].trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after.trim_start();
        } else if !rest.starts_with('}') {
            return Err("a label value followed by neither ',' nor '}'");
        }
    }
}

#[test]
fn exposition_samples_keep_escaped_quotes_and_commas_inside_label_values() {
    let exposition = r#"# HELP calls_total Calls.
# TYPE calls_total counter
calls_total{tool="say \"a, b\"",path="C:\\tmp",note="x}y"} 3

up 1
latency_bucket{le="+Inf",} 2 1700000000
"#;
    let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    };
    let expected = [
        Sample {
            name: "calls_total".to_owned(),
            labels: labels(&[
                ("tool", r#"say "a, b""#),
                ("path", r"C:\tmp"),
                ("note", "x}y"),
            ]),
            value: 3.0,
        },
        Sample {
            name: "up".to_owned(),
            labels: BTreeMap::new(),
            value: 1.0,
        },
        Sample {
            name: "latency_bucket".to_owned(),
            labels: labels(&[("le", "+Inf")]),
            value: 2.0,
        },
    ];
    assert_eq!(samples(exposition), expected);
}
