//! The policy part of the validate stage: structural limits, then custom validators.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use serde_json::{Map, Number, Value};

use crate::call::ToolCall;
use crate::error::ToolError;
use crate::pipeline::validate::CompiledSchema;
use crate::policy::{SecurityPolicy, Validator};
use crate::registry::RegisteredTool;

/// Enforces a [`SecurityPolicy`] and runs the registered [`Validator`]s.
#[derive(Debug, Default)]
pub(crate) struct PolicyCheck {
    limits: SecurityPolicy,
    global: Vec<Arc<dyn Validator>>,
    per_tool: HashMap<String, Vec<Arc<dyn Validator>>>,
}

impl PolicyCheck {
    pub(crate) fn new(
        limits: SecurityPolicy,
        global: Vec<Arc<dyn Validator>>,
        per_tool: HashMap<String, Vec<Arc<dyn Validator>>>,
    ) -> Self {
        Self {
            limits,
            global,
            per_tool,
        }
    }

    /// Checks the structural limits of `arguments` (an object, already normalized). A top-level
    /// string parameter whose schema declares a `maxLength` is bounded by that instead of
    /// `max_string_length`: the tool has said how long it may be (the schema check enforces
    /// it), and the total size limit still applies.
    pub(crate) fn check_limits(
        &self,
        arguments: &Map<String, Value>,
        schema: &CompiledSchema,
    ) -> Result<(), ToolError> {
        let mut walk = Walk {
            limits: &self.limits,
            bytes: 0,
            declared: Some(schema),
        };
        if arguments.len() > self.limits.max_arguments {
            return Err(
                Breach::new(Limit::Arguments, self.limits.max_arguments, arguments.len())
                    .into_error(),
            );
        }
        // The arguments object is itself the first level of nesting.
        walk.container(1)
            .and_then(|()| walk.object(arguments, 1))
            .and_then(|()| walk.total())
            .map_err(Breach::into_error)
    }

    /// Runs the global validators, then the tool's own.
    pub(crate) fn run_validators(
        &self,
        tool: &RegisteredTool,
        call: &ToolCall,
    ) -> Result<(), ToolError> {
        for validator in &self.global {
            validator.validate(&tool.info, call)?;
        }
        if let Some(validators) = self.per_tool.get(&tool.info.name) {
            for validator in validators {
                validator.validate(&tool.info, call)?;
            }
        }
        Ok(())
    }
}

/// One walk over the arguments, counting the bytes of their compact JSON as it goes.
struct Walk<'a> {
    limits: &'a SecurityPolicy,
    bytes: usize,
    /// The tool's schema, for the declared lengths of top-level parameters.
    declared: Option<&'a CompiledSchema>,
}

impl Walk<'_> {
    fn value(&mut self, value: &Value, depth: usize) -> Result<(), Breach> {
        match value {
            Value::Null => self.bytes += 4,
            Value::Bool(b) => self.bytes += if *b { 4 } else { 5 },
            Value::Number(n) => self.bytes += number_len(n),
            Value::String(s) => self.string(s)?,
            Value::Array(items) => {
                self.container(depth)?;
                if items.len() > self.limits.max_array_length {
                    return Err(Breach::new(
                        Limit::ArrayLength,
                        self.limits.max_array_length,
                        items.len(),
                    ));
                }
                self.bytes += 2 + items.len().saturating_sub(1);
                for (index, item) in items.iter().enumerate() {
                    self.value(item, depth + 1)
                        .map_err(|breach| breach.at(Segment::Index(index)))?;
                }
            }
            Value::Object(map) => {
                self.container(depth)?;
                self.object(map, depth)?;
            }
        }
        self.total()
    }

    fn object(&mut self, map: &Map<String, Value>, depth: usize) -> Result<(), Breach> {
        if map.len() > self.limits.max_object_keys {
            return Err(Breach::new(
                Limit::ObjectKeys,
                self.limits.max_object_keys,
                map.len(),
            ));
        }
        // Braces, and per entry a colon and (all but the first) a comma.
        self.bytes += 2 + (2 * map.len()).saturating_sub(1);
        for (key, value) in map {
            let declared = match value {
                Value::String(text) if depth == 1 => self
                    .declared
                    .and_then(|schema| schema.declared_length(key))
                    .map(|length| (text, length)),
                _ => None,
            };
            let checked = match declared {
                Some((text, length)) => self
                    .string(key)
                    .and_then(|()| self.string_within(text, length))
                    .and_then(|()| self.total()),
                None => self.string(key).and_then(|()| self.value(value, depth + 1)),
            };
            checked.map_err(|breach| breach.at(Segment::Key(key.clone())))?;
        }
        Ok(())
    }

    fn container(&self, depth: usize) -> Result<(), Breach> {
        if depth > self.limits.max_depth {
            return Err(Breach::new(Limit::Depth, self.limits.max_depth, depth));
        }
        Ok(())
    }

    fn string(&mut self, s: &str) -> Result<(), Breach> {
        self.string_within(s, self.limits.max_string_length)
    }

    /// Counts `s`, refusing it when longer than `max` characters.
    fn string_within(&mut self, s: &str, max: usize) -> Result<(), Breach> {
        // Bytes bound characters from above: count characters only when it could matter.
        if s.len() > max {
            let chars = s.chars().count();
            if chars > max {
                return Err(Breach::new(Limit::StringLength, max, chars));
            }
        }
        self.bytes += 2 + s.len() + escape_overhead(s);
        Ok(())
    }

    fn total(&self) -> Result<(), Breach> {
        if self.bytes > self.limits.max_argument_bytes {
            // Reported at the root: the size belongs to the arguments as a whole.
            return Err(Breach {
                at_root: true,
                ..Breach::new(
                    Limit::ArgumentBytes,
                    self.limits.max_argument_bytes,
                    self.bytes,
                )
            });
        }
        Ok(())
    }
}

/// Extra bytes serde_json's compact output spends escaping `s`.
fn escape_overhead(s: &str) -> usize {
    s.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 1,
            0..0x20 => 5,
            _ => 0,
        })
        .sum()
}

fn number_len(n: &Number) -> usize {
    struct Count(usize);
    impl fmt::Write for Count {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing into a counter cannot fail.
    let _ = write!(count, "{n}");
    count.0
}

/// Which limit a call broke.
#[derive(Debug, Clone, Copy)]
enum Limit {
    StringLength,
    ArrayLength,
    ObjectKeys,
    Depth,
    Arguments,
    ArgumentBytes,
}

impl Limit {
    /// The [`SecurityPolicy`] field that sets it.
    fn field(self) -> &'static str {
        match self {
            Self::StringLength => "max_string_length",
            Self::ArrayLength => "max_array_length",
            Self::ObjectKeys => "max_object_keys",
            Self::Depth => "max_depth",
            Self::Arguments => "max_arguments",
            Self::ArgumentBytes => "max_argument_bytes",
        }
    }

    fn describe(self, actual: usize, max: usize) -> String {
        let what = match self {
            Self::StringLength => format!("a string of {actual} characters"),
            Self::ArrayLength => format!("an array of {actual} items"),
            Self::ObjectKeys => format!("an object of {actual} keys"),
            Self::Depth => format!("nesting {actual} deep"),
            Self::Arguments => format!("{actual} arguments"),
            Self::ArgumentBytes => format!("at least {actual} bytes of JSON"),
        };
        format!("{what}, more than the {max} allowed")
    }
}

enum Segment {
    Key(String),
    Index(usize),
}

/// A broken limit, with the path to the offending value gathered while unwinding (so the
/// happy path never builds a path).
struct Breach {
    limit: Limit,
    max: usize,
    actual: usize,
    at_root: bool,
    /// Innermost first.
    path: Vec<Segment>,
}

impl Breach {
    fn new(limit: Limit, max: usize, actual: usize) -> Self {
        Self {
            limit,
            max,
            actual,
            at_root: false,
            path: Vec::new(),
        }
    }

    fn at(mut self, segment: Segment) -> Self {
        if !self.at_root {
            self.path.push(segment);
        }
        self
    }

    fn json_path(&self) -> String {
        let mut path = String::from("$");
        for segment in self.path.iter().rev() {
            match segment {
                Segment::Index(i) => {
                    let _ = write!(path, "[{i}]");
                }
                Segment::Key(key) if is_identifier(key) => {
                    let _ = write!(path, ".{key}");
                }
                Segment::Key(key) => {
                    let quoted = key.replace('\\', "\\\\").replace('\'', "\\'");
                    let _ = write!(path, "['{quoted}']");
                }
            }
        }
        path
    }

    fn into_error(self) -> ToolError {
        let path = self.json_path();
        ToolError::security(format!(
            "Security policy violation at {path} ({}): {}",
            self.limit.field(),
            self.limit.describe(self.actual, self.max)
        ))
        .with_metadata("limit", self.limit.field())
        .with_metadata("path", path)
        .with_metadata("max", self.max)
        .with_metadata("actual", self.actual)
    }
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(policy: SecurityPolicy, arguments: Value) -> Result<(), ToolError> {
        let Value::Object(map) = arguments else {
            panic!("test arguments must be an object");
        };
        let schema = CompiledSchema::compile(&json!({"type": "object"})).expect("compiles");
        PolicyCheck::new(policy, Vec::new(), HashMap::new()).check_limits(&map, &schema)
    }

    #[test]
    fn a_parameter_declaring_its_own_max_length_is_bounded_by_it() {
        let schema = CompiledSchema::compile(&json!({
            "type": "object",
            "properties": {"text": {"type": "string", "maxLength": 20}}
        }))
        .expect("compiles");
        let policy = SecurityPolicy {
            max_string_length: 5,
            ..SecurityPolicy::default()
        };
        let limits = PolicyCheck::new(policy.clone(), Vec::new(), HashMap::new());
        let arguments = |value: Value| match value {
            Value::Object(map) => map,
            _ => unreachable!("an object"),
        };
        let long = "x".repeat(20);
        assert!(
            limits
                .check_limits(&arguments(json!({"text": long})), &schema)
                .is_ok()
        );
        // Other parameters, and strings nested anywhere, keep the policy's limit.
        let refused = limits
            .check_limits(&arguments(json!({"other": long})), &schema)
            .expect_err("the policy's limit");
        assert_eq!(
            refused.metadata().map(|m| m["limit"].clone()),
            Some(json!("max_string_length"))
        );
        assert!(
            limits
                .check_limits(&arguments(json!({"text": [long]})), &schema)
                .is_err()
        );
        // The total size limit still holds.
        let small_total = SecurityPolicy {
            max_argument_bytes: 10,
            ..policy
        };
        assert!(
            PolicyCheck::new(small_total, Vec::new(), HashMap::new())
                .check_limits(&arguments(json!({"text": long})), &schema)
                .is_err()
        );
    }

    #[test]
    fn byte_count_matches_serde_json_compact_output() {
        let value = json!({
            "s": "quote \" backslash \\ newline \n tab \t bell \u{7} é ✓",
            "n": [1, -2, 3.5, 1e300, 18446744073709551615u64],
            "b": [true, false, null],
            "o": {"k": {}, "a": []},
        });
        let Value::Object(map) = &value else {
            unreachable!()
        };
        let policy = SecurityPolicy::default();
        let mut walk = Walk {
            limits: &policy,
            bytes: 0,
            declared: None,
        };
        assert!(walk.object(map, 1).is_ok());
        let expected = serde_json::to_vec(&value).map(|v| v.len()).unwrap_or(0);
        assert_eq!(walk.bytes, expected);
    }

    #[test]
    fn breach_names_the_limit_and_the_json_path() {
        let policy = SecurityPolicy {
            max_string_length: 5,
            ..SecurityPolicy::default()
        };
        let error = check(
            policy,
            json!({"items": [{}, {}, {}, {"name": "abcdefg"}], "odd key": "x"}),
        )
        .err()
        .map(|e| (e.message().to_owned(), e.metadata().cloned()));
        let (message, metadata) = error.unwrap_or_default();
        assert_eq!(
            message,
            "Security policy violation at $.items[3].name (max_string_length): a string of 7 characters, more than the 5 allowed"
        );
        let metadata = metadata.unwrap_or_default();
        assert_eq!(metadata["path"], "$.items[3].name");
        assert_eq!(metadata["limit"], "max_string_length");
    }

    #[test]
    fn the_arguments_object_is_the_first_level_of_depth() {
        // Found by the limits property (tests/tests/security_policy/properties.rs): the root
        // was never counted, so a depth of 0 admitted every flat call.
        let zero = SecurityPolicy {
            max_depth: 0,
            ..SecurityPolicy::default()
        };
        let refused = check(zero, json!({})).expect_err("depth 1 is past 0");
        let metadata = refused.metadata().cloned().unwrap_or_default();
        assert_eq!(metadata["limit"], "max_depth");
        assert_eq!(metadata["path"], "$");
        assert_eq!(metadata["actual"], 1);
        let one = SecurityPolicy {
            max_depth: 1,
            ..SecurityPolicy::default()
        };
        assert!(check(one.clone(), json!({"flat": 1})).is_ok());
        assert!(check(one, json!({"nested": []})).is_err());
    }

    #[test]
    fn keys_that_are_not_identifiers_are_quoted_in_the_path() {
        let policy = SecurityPolicy {
            max_array_length: 1,
            ..SecurityPolicy::default()
        };
        let error = check(policy, json!({"odd key": [1, 2]})).err();
        assert_eq!(
            error.and_then(|e| e.metadata().map(|m| m["path"].clone())),
            Some(json!("$['odd key']"))
        );
    }
}
