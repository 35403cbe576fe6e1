//! The validate stage: do the arguments satisfy the tool's JSON Schema?

use std::fmt::Write as _;

use jsonschema::error::ValidationErrorKind;
use jsonschema::paths::LocationSegment;
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use crate::call::ToolCall;
use crate::error::ToolError;
use crate::pipeline::policy::PolicyCheck;
use crate::registry::RegisteredTool;

/// Prefix of every argument-validation message, as the seed words it.
const PREFIX: &str = "Parameter validation failed: ";

/// At most this many problems are listed in one message.
const MAX_REPORTED: usize = 5;

/// A tool's input schema, compiled once when the registry is built.
pub(crate) struct CompiledSchema {
    validator: Validator,
    /// Top-level string parameters that declare their own `maxLength`: the tool's contract for
    /// them replaces the policy's `max_string_length`.
    declared_lengths: Vec<(String, usize)>,
}

impl std::fmt::Debug for CompiledSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CompiledSchema")
    }
}

impl CompiledSchema {
    /// Compiles `schema` as draft 2020-12 with formats checked and no remote `$ref` retrieval.
    /// The root must describe an object, since arguments are named.
    pub(crate) fn compile(schema: &Value) -> Result<Self, String> {
        match schema.get("type") {
            Some(Value::String(t)) if t == "object" => {}
            other => {
                return Err(format!(
                    "the root must have \"type\": \"object\" (arguments are named), found {}",
                    other.map_or_else(|| "no type".to_owned(), Value::to_string)
                ));
            }
        }
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .offline()
            .build(schema)
            .map_err(|e| e.to_string())?;
        Ok(Self {
            validator,
            declared_lengths: declared_lengths(schema),
        })
    }

    /// The longest string the tool declares for top-level parameter `name`, if it declares one.
    pub(crate) fn declared_length(&self, name: &str) -> Option<usize> {
        self.declared_lengths
            .iter()
            .find(|(parameter, _)| parameter == name)
            .map(|(_, length)| *length)
    }
}

/// The `maxLength` of each top-level property that declares one.
fn declared_lengths(schema: &Value) -> Vec<(String, usize)> {
    let Some(Value::Object(properties)) = schema.get("properties") else {
        return Vec::new();
    };
    properties
        .iter()
        .filter_map(|(name, property)| {
            let length = property.get("maxLength")?.as_u64()?;
            Some((name.clone(), usize::try_from(length).ok()?))
        })
        .collect()
}

/// The validate stage: normalizes the arguments, enforces the security policy's structural
/// limits (first, so an oversized call costs little to refuse), checks the tool's compiled
/// schema, then runs the custom validators.
#[derive(Debug, Default)]
pub(crate) struct ArgumentValidator {
    policy: PolicyCheck,
}

impl ArgumentValidator {
    pub(crate) fn new(policy: PolicyCheck) -> Self {
        Self { policy }
    }

    /// Normalizes `null` to `{}` and refuses anything but an object, then checks in order:
    /// limits, schema, validators.
    pub(crate) fn validate(
        &self,
        tool: &RegisteredTool,
        call: &mut ToolCall,
    ) -> Result<(), ToolError> {
        let arguments = &mut call.arguments;
        if arguments.is_null() {
            *arguments = Value::Object(serde_json::Map::new());
        }
        let Value::Object(map) = &*arguments else {
            return Err(ToolError::invalid_input(format!(
                "{PREFIX}arguments must be a JSON object of named parameters, got {}",
                type_name(arguments)
            )));
        };
        self.policy.check_limits(map, &tool.schema)?;
        check_schema(&tool.schema, arguments)?;
        // JSON Schema calls 10.0 an integer, and the check above agreed: the tool receives
        // the integer it was promised, not a float its own parsing refuses.
        if has_integral_float(arguments) {
            let root = &tool.info.input_schema;
            integers_where_declared(root, root, arguments, 0);
        }
        self.policy.run_validators(tool, call)
    }
}

/// Whether `value` holds a float with no fractional part (`10.0`, `1e3`) anywhere.
fn has_integral_float(value: &Value) -> bool {
    match value {
        Value::Number(number) => {
            !number.is_i64() && !number.is_u64() && number.as_f64().is_some_and(is_integral)
        }
        Value::Array(items) => items.iter().any(has_integral_float),
        Value::Object(map) => map.values().any(has_integral_float),
        _ => false,
    }
}

fn is_integral(float: f64) -> bool {
    float.is_finite() && float.fract() == 0.0
}

/// How deep the schema walk follows `$ref`s and nesting: schemas of recursive types are
/// walked only as deep as the value, and never past this.
const MAX_SCHEMA_DEPTH: usize = 64;

/// Turns each integral float of `value` into an integer where `schema` (any branch of it)
/// says `"type": "integer"`, following local `$ref`s into `root`. Other values are untouched.
fn integers_where_declared(root: &Value, schema: &Value, value: &mut Value, depth: usize) {
    if depth > MAX_SCHEMA_DEPTH {
        return;
    }
    let Value::Object(keywords) = schema else {
        return;
    };
    if let Some(Value::String(reference)) = keywords.get("$ref")
        && let Some(target) = reference
            .strip_prefix('#')
            .and_then(|pointer| root.pointer(pointer))
    {
        integers_where_declared(root, target, value, depth + 1);
    }
    for combinator in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = keywords.get(combinator) {
            for branch in branches {
                integers_where_declared(root, branch, value, depth + 1);
            }
        }
    }
    match value {
        Value::Number(number) if declares_integer(keywords.get("type")) => {
            if let Some(float) = number.as_f64().filter(|f| is_integral(*f))
                && !number.is_i64()
                && !number.is_u64()
            {
                // Within ±2^63 the float is exactly an i64; past it the value stays a float.
                #[allow(clippy::cast_possible_truncation)]
                if float.abs() < 9.223_372_036_854_776e18 {
                    *value = Value::from(float as i64);
                } else if (0.0..1.844_674_407_370_955_2e19).contains(&float) {
                    #[allow(clippy::cast_sign_loss)]
                    {
                        *value = Value::from(float as u64);
                    }
                }
            }
        }
        Value::Object(map) => {
            let properties = keywords.get("properties").and_then(Value::as_object);
            let additional = keywords.get("additionalProperties");
            for (name, field) in map.iter_mut() {
                if let Some(property) = properties.and_then(|p| p.get(name)) {
                    integers_where_declared(root, property, field, depth + 1);
                } else if let Some(additional) = additional {
                    integers_where_declared(root, additional, field, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            let prefix = keywords.get("prefixItems").and_then(Value::as_array);
            for (index, item) in items.iter_mut().enumerate() {
                match prefix.and_then(|p| p.get(index)) {
                    Some(positional) => integers_where_declared(root, positional, item, depth + 1),
                    None => {
                        if let Some(rest) = keywords.get("items") {
                            integers_where_declared(root, rest, item, depth + 1);
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// Whether a `type` keyword allows integers but not all numbers.
fn declares_integer(ty: Option<&Value>) -> bool {
    match ty {
        Some(Value::String(ty)) => ty == "integer",
        Some(Value::Array(types)) => {
            types.iter().any(|t| t == "integer") && !types.iter().any(|t| t == "number")
        }
        _ => false,
    }
}

/// Validates against the schema. The fast `is_valid` runs first; errors are collected and
/// worded only for invalid input.
fn check_schema(schema: &CompiledSchema, arguments: &Value) -> Result<(), ToolError> {
    if schema.validator.is_valid(arguments) {
        return Ok(());
    }
    let mut problems: Vec<String> = Vec::new();
    for error in schema.validator.iter_errors(arguments) {
        let problem = describe(&error);
        if !problems.contains(&problem) {
            problems.push(problem);
        }
    }
    let shown = problems.len().min(MAX_REPORTED);
    let mut message = format!("{PREFIX}{}", problems[..shown].join("; "));
    if problems.len() > shown {
        let _ = write!(message, "; and {} more", problems.len() - shown);
    }
    Err(ToolError::invalid_input(message))
}

/// Words one schema violation so that it names the parameter and the rule.
fn describe(error: &ValidationError<'_>) -> String {
    let at = parameter_path(error);
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let property = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_owned);
            match at {
                Some(parent) => format!("missing required field '{property}' in '{parent}'"),
                None => format!("missing required parameter '{property}'"),
            }
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            let names = quoted_list(unexpected.iter().map(String::as_str));
            let noun = match (unexpected.len(), &at) {
                (1, None) => "unknown parameter",
                (_, None) => "unknown parameters",
                (1, Some(_)) => "unknown field",
                (_, Some(_)) => "unknown fields",
            };
            match at {
                Some(parent) => format!("{noun} {names} in '{parent}'"),
                None => format!("{noun} {names}"),
            }
        }
        ValidationErrorKind::Enum { options } => {
            format!(
                "{} must be one of {}",
                subject(at),
                python_list(options.as_array())
            )
        }
        ValidationErrorKind::Constant { expected_value } => {
            format!("{} must be {}", subject(at), literal(expected_value))
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            // A Rust enum with documented variants becomes `oneOf` of `const`s: say which values
            // are allowed rather than that no branch matched.
            let constants: Option<Vec<Value>> = context
                .iter()
                .map(|branch| match branch.as_slice() {
                    [only] => match only.kind() {
                        ValidationErrorKind::Constant { expected_value } => {
                            Some((**expected_value).clone())
                        }
                        ValidationErrorKind::Enum { options } => Some((**options).clone()),
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            match constants {
                Some(values) if !values.is_empty() => {
                    let flat: Vec<Value> = values
                        .into_iter()
                        .flat_map(|v| match v {
                            Value::Array(items) => items,
                            other => vec![other],
                        })
                        .collect();
                    format!(
                        "{} must be one of {}",
                        subject(at),
                        python_list(Some(&flat))
                    )
                }
                _ => format!("{} does not match any of the allowed forms", subject(at)),
            }
        }
        ValidationErrorKind::Type { kind } => format!(
            "{} must be of type {}, got {}",
            subject(at),
            type_kind(kind),
            type_name(error.instance())
        ),
        ValidationErrorKind::Minimum { limit } => {
            format!("{} must be at least {limit}", subject(at))
        }
        ValidationErrorKind::Maximum { limit } => {
            format!("{} must be at most {limit}", subject(at))
        }
        ValidationErrorKind::ExclusiveMinimum { limit } => {
            format!("{} must be greater than {limit}", subject(at))
        }
        ValidationErrorKind::ExclusiveMaximum { limit } => {
            format!("{} must be less than {limit}", subject(at))
        }
        ValidationErrorKind::MinLength { limit } => {
            format!("{} must be at least {limit} characters long", subject(at))
        }
        ValidationErrorKind::MaxLength { limit } => {
            format!("{} must be at most {limit} characters long", subject(at))
        }
        ValidationErrorKind::MinItems { limit } => {
            format!("{} must have at least {limit} items", subject(at))
        }
        ValidationErrorKind::MaxItems { limit } => {
            format!("{} must have at most {limit} items", subject(at))
        }
        ValidationErrorKind::Pattern { pattern } => {
            format!("{} must match the pattern '{pattern}'", subject(at))
        }
        ValidationErrorKind::Format { format } => {
            format!("{} must be a valid {format}", subject(at))
        }
        ValidationErrorKind::UniqueItems => format!("{} must not repeat items", subject(at)),
        _ => format!("{}: {error}", subject(at)),
    }
}

/// The failing value's place in the arguments as `name`, `items[3].name`; `None` at the root.
fn parameter_path(error: &ValidationError<'_>) -> Option<String> {
    let mut path = String::new();
    for segment in error.instance_path().segments() {
        match segment {
            LocationSegment::Property(name) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&name);
            }
            LocationSegment::Index(index) => {
                let _ = write!(path, "[{index}]");
            }
        }
    }
    (!path.is_empty()).then_some(path)
}

fn subject(at: Option<String>) -> String {
    at.map_or_else(|| "arguments".to_owned(), |path| format!("'{path}'"))
}

fn quoted_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `['add', 'subtract']`, the seed's wording for allowed values.
fn python_list(values: Option<&Vec<Value>>) -> String {
    let items: Vec<String> = values.into_iter().flatten().map(literal).collect();
    format!("[{}]", items.join(", "))
}

fn literal(value: &Value) -> String {
    match value {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

fn type_kind(kind: &jsonschema::error::TypeKind) -> String {
    match kind {
        jsonschema::error::TypeKind::Single(t) => t.to_string(),
        jsonschema::error::TypeKind::Multiple(set) => set
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
