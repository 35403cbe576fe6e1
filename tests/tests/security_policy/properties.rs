//! Property: the structural limits admit exactly the arguments within every limit, and a
//! refusal names a limit the arguments break, with the path of a value that breaks it.
//!
//! The oracle below measures arguments as `SecurityPolicy`'s documentation defines each limit
//! (`fact-runtime/src/policy.rs`, docs/ARCHITECTURE.md), without the code under test: strings
//! (object keys included) in characters, arrays in items, objects in keys, depth counting
//! containers with the arguments object as 1, top-level arguments, and the size of the compact
//! JSON as serde_json writes it. A top-level parameter whose schema declares a `maxLength` is
//! bounded by it instead of `max_string_length`.

use fact_runtime::{SecurityPolicy, ToolCall, ToolDefinition, ToolExecutor};
use fact_tests::property;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Map, Value, json};

/// The top-level parameter whose schema declares its own `maxLength`.
const DECLARED: &str = "bounded";

/// The limits of one case: small, so that generated arguments fall on both sides of each.
#[derive(Debug, Clone)]
struct Limits {
    string: usize,
    array: usize,
    keys: usize,
    depth: usize,
    arguments: usize,
    bytes: usize,
    /// The `maxLength` the tool's schema declares for [`DECLARED`].
    declared: usize,
}

impl Limits {
    fn policy(&self) -> SecurityPolicy {
        let mut policy = SecurityPolicy::default();
        policy.max_string_length = self.string;
        policy.max_array_length = self.array;
        policy.max_object_keys = self.keys;
        policy.max_depth = self.depth;
        policy.max_arguments = self.arguments;
        policy.max_argument_bytes = self.bytes;
        policy
    }

    /// The value of the limit named `field`, as the policy sets it.
    fn max(&self, field: &str) -> Option<usize> {
        Some(match field {
            "max_string_length" => self.string,
            "max_array_length" => self.array,
            "max_object_keys" => self.keys,
            "max_depth" => self.depth,
            "max_arguments" => self.arguments,
            "max_argument_bytes" => self.bytes,
            _ => return None,
        })
    }
}

/// Limits each either tight (near the sizes generated below) or out of reach, so that most
/// cases put one or two limits to the test and some none.
fn limits() -> impl Strategy<Value = Limits> {
    fn tight_or(tight: std::ops::Range<usize>, loose: usize) -> BoxedStrategy<usize> {
        prop_oneof![1 => tight, 2 => Just(loose)].boxed()
    }
    (
        tight_or(0..10, 10_000),
        tight_or(0..6, 1_000),
        tight_or(0..6, 100),
        tight_or(0..5, 10),
        tight_or(0..6, 50),
        tight_or(0..300, 1 << 20),
        0usize..14,
    )
        .prop_map(
            |(string, array, keys, depth, arguments, bytes, declared)| Limits {
                string,
                array,
                keys,
                depth,
                arguments,
                bytes,
                declared,
            },
        )
}

/// Limits and arguments; the size limit is sometimes set a few bytes either side of the
/// arguments' size, where an error in counting escapes or numbers shows.
fn cases() -> impl Strategy<Value = (Limits, Map<String, Value>)> {
    let near = prop_oneof![Just(None), (-6i64..=6).prop_map(Some)];
    (limits(), arguments(), near).prop_map(|(mut limits, arguments, near)| {
        if let Some(delta) = near {
            let size = serde_json::to_vec(&arguments).map_or(0, |json| json.len());
            limits.bytes = usize::try_from(size as i64 + delta).unwrap_or(0);
        }
        (limits, arguments)
    })
}

/// Text where characters and bytes differ, with what JSON escapes (quotes, backslashes,
/// control characters) and what a path must quote (spaces, dots, brackets).
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::char::range('a', 'z'),
            1 => proptest::sample::select(vec![
                'é', '✓', '𝄞', '"', '\\', '\'', '\n', '\u{0}', '\u{1f}', ' ', '.', '[', ']', '_',
                '7', 'Z', '\u{7f}', '\u{2028}',
            ]),
        ],
        0..max,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (proptest::num::f64::NORMAL
            | proptest::num::f64::SUBNORMAL
            | proptest::num::f64::ZERO
            | proptest::num::f64::NEGATIVE)
            .prop_map(Value::from),
        text(14).prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(6, 48, 7, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..7).prop_map(Value::Array),
            proptest::collection::vec((text(10), inner), 0..7)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// Top-level arguments: any entries, and sometimes the declared parameter (a string, as its
/// schema requires, so that only the limits decide).
fn arguments() -> impl Strategy<Value = Map<String, Value>> {
    (
        proptest::collection::vec((text(10), value()), 0..6),
        proptest::option::of(text(18)),
    )
        .prop_map(|(entries, declared)| {
            let mut map: Map<String, Value> = entries.into_iter().collect();
            if let Some(declared) = declared {
                map.insert(DECLARED.to_owned(), Value::String(declared));
            }
            map
        })
}

/// The limits `arguments` break, by field, once for each value that breaks one.
fn breaks(limits: &Limits, arguments: &Map<String, Value>) -> Vec<&'static str> {
    let mut broken = Vec::new();
    if arguments.len() > limits.arguments {
        broken.push("max_arguments");
    }
    if arguments.len() > limits.keys {
        broken.push("max_object_keys");
    }
    if limits.depth < 1 {
        broken.push("max_depth");
    }
    for (key, value) in arguments {
        if key.chars().count() > limits.string {
            broken.push("max_string_length");
        }
        match value {
            Value::String(text) if key == DECLARED => {
                if text.chars().count() > limits.declared {
                    broken.push("max_string_length");
                }
            }
            value => nested_breaks(limits, value, 2, &mut broken),
        }
    }
    let bytes = serde_json::to_vec(arguments).map_or(0, |json| json.len());
    if bytes > limits.bytes {
        broken.push("max_argument_bytes");
    }
    broken
}

fn nested_breaks(limits: &Limits, value: &Value, depth: usize, broken: &mut Vec<&'static str>) {
    match value {
        Value::String(text) if text.chars().count() > limits.string => {
            broken.push("max_string_length");
        }
        Value::Array(items) => {
            if depth > limits.depth {
                broken.push("max_depth");
            }
            if items.len() > limits.array {
                broken.push("max_array_length");
            }
            for item in items {
                nested_breaks(limits, item, depth + 1, broken);
            }
        }
        Value::Object(map) => {
            if depth > limits.depth {
                broken.push("max_depth");
            }
            if map.len() > limits.keys {
                broken.push("max_object_keys");
            }
            for (key, item) in map {
                if key.chars().count() > limits.string {
                    broken.push("max_string_length");
                }
                nested_breaks(limits, item, depth + 1, broken);
            }
        }
        _ => {}
    }
}

/// One step of a refusal's JSON path.
#[derive(Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// Reads a path as the refusals write it: `$`, then `.name`, `[3]` or `['any key']` (with `\\`
/// and `\'` escaped).
fn parse_path(path: &str) -> Option<Vec<Step>> {
    let mut rest = path.strip_prefix('$')?.chars().peekable();
    let mut steps = Vec::new();
    while let Some(c) = rest.next() {
        match c {
            '.' => {
                let mut name = String::new();
                while let Some(&c) = rest.peek() {
                    if c == '.' || c == '[' {
                        break;
                    }
                    name.push(c);
                    rest.next();
                }
                steps.push(Step::Key(name));
            }
            '[' if rest.peek() == Some(&'\'') => {
                rest.next();
                let mut key = String::new();
                loop {
                    match rest.next()? {
                        '\\' => key.push(rest.next()?),
                        '\'' => break,
                        c => key.push(c),
                    }
                }
                (rest.next()? == ']').then_some(())?;
                steps.push(Step::Key(key));
            }
            '[' => {
                let mut digits = String::new();
                loop {
                    match rest.next()? {
                        ']' => break,
                        c => digits.push(c),
                    }
                }
                steps.push(Step::Index(digits.parse().ok()?));
            }
            _ => return None,
        }
    }
    Some(steps)
}

/// Whether the value at `steps` (with the key that leads to it) breaks the limit `field`.
fn offends(
    limits: &Limits,
    arguments: &Map<String, Value>,
    field: &str,
    steps: &[Step],
) -> Result<bool, String> {
    let root = Value::Object(arguments.clone());
    let mut at = &root;
    let mut key = None;
    for step in steps {
        at = match (step, at) {
            (Step::Key(name), Value::Object(map)) => {
                key = Some(name.as_str());
                map.get(name)
                    .ok_or(format!("no key {name:?} on the path"))?
            }
            (Step::Index(index), Value::Array(items)) => {
                key = None;
                items
                    .get(*index)
                    .ok_or(format!("no item {index} on the path"))?
            }
            (step, _) => return Err(format!("{step:?} does not apply on the path")),
        };
    }
    let depth = steps.len() + 1;
    let top_declared = steps.len() == 1 && key == Some(DECLARED) && at.is_string();
    let too_long = |text: &str, max: usize| text.chars().count() > max;
    Ok(match field {
        "max_string_length" => {
            key.is_some_and(|key| too_long(key, limits.string))
                || match at {
                    Value::String(text) if top_declared => too_long(text, limits.declared),
                    Value::String(text) => too_long(text, limits.string),
                    _ => false,
                }
        }
        "max_array_length" => at.as_array().is_some_and(|a| a.len() > limits.array),
        "max_object_keys" => at.as_object().is_some_and(|o| o.len() > limits.keys),
        "max_depth" => (at.is_array() || at.is_object()) && depth > limits.depth,
        "max_arguments" => steps.is_empty() && arguments.len() > limits.arguments,
        "max_argument_bytes" => {
            steps.is_empty()
                && serde_json::to_vec(arguments).map_or(0, |json| json.len()) > limits.bytes
        }
        _ => false,
    })
}

#[test]
fn the_limits_admit_exactly_the_arguments_within_every_limit_and_name_the_one_broken() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    property::check("structural limits", 256, cases(), |(limits, arguments)| {
        let tool = ToolDefinition::new(
            "Property.Limits",
            "accepts any object",
            json!({
                "type": "object",
                "properties": {DECLARED: {"type": "string", "maxLength": limits.declared}}
            }),
            |_ctx, _args| async { Ok(json!("admitted")) },
        );
        let executor = ToolExecutor::builder()
            .security_policy(limits.policy())
            .register(tool)
            .build()
            .map_err(|e| TestCaseError::fail(format!("the executor builds: {e}")))?;
        let call = ToolCall::new("Property.Limits", Value::Object(arguments.clone()));
        let result = runtime.block_on(executor.execute_tool_call(call));
        let broken = breaks(&limits, &arguments);
        if broken.is_empty() {
            prop_assert_eq!(
                result.status_code,
                200,
                "refused within every limit: {:?}",
                result
            );
            return Ok(());
        }
        prop_assert_eq!(
            result.status_code,
            403,
            "admitted past {:?}: {:?}",
            broken,
            result
        );
        let extra = &result.metadata.extra;
        let field = extra["limit"].as_str().unwrap_or_default();
        let path = extra["path"].as_str().unwrap_or_default();
        prop_assert!(
            broken.contains(&field),
            "the refusal names {:?}, but the arguments break {:?}: {:?}",
            field,
            broken,
            result
        );
        let steps = parse_path(path)
            .ok_or_else(|| TestCaseError::fail(format!("'{path}' is not a JSON path")))?;
        let max = extra["max"]
            .as_u64()
            .and_then(|max| usize::try_from(max).ok());
        let offends = offends(&limits, &arguments, field, &steps).map_err(TestCaseError::fail)?;
        prop_assert!(
            offends,
            "the value at {} does not break {}: {:?}",
            path,
            field,
            result
        );
        // The declared parameter's own text is bounded by its schema's maxLength; its key,
        // like every other string, by the policy.
        let declared_text = matches!(&steps[..], [Step::Key(key)] if key == DECLARED)
            && arguments[DECLARED].as_str().is_some_and(|text| {
                text.chars().count() > limits.declared && DECLARED.chars().count() <= limits.string
            });
        let expected = if field == "max_string_length" && declared_text {
            Some(limits.declared)
        } else {
            limits.max(field)
        };
        prop_assert_eq!(max, expected, "the refusal's max: {:?}", result);
        let message = result.error.as_deref().unwrap_or_default();
        prop_assert!(
            message.contains(field) && message.contains(path),
            "the message names the limit and the path: {}",
            message
        );
        if field == "max_argument_bytes" {
            // "at least N bytes": a count of what was read before stopping, never more
            // than the whole.
            let whole = serde_json::to_vec(&arguments).map_or(0, |json| json.len());
            let actual = extra["actual"].as_u64().unwrap_or(u64::MAX);
            prop_assert!(
                actual <= whole as u64,
                "counted {} bytes of {}",
                actual,
                whole
            );
        }
        Ok(())
    });
}
