//! The rules OpenAI's strict function calling sets for a function's parameters
//! (docs/ARCHITECTURE.md, "Export formats"), checked over a whole schema: the specification
//! `ToolFormat::OpenAiStrict` is tested against, written apart from the code that meets it.

use serde_json::Value;

/// The keywords strict mode documents. Any other is a violation.
const KEYWORDS: [&str; 21] = [
    "type",
    "description",
    "enum",
    "const",
    "anyOf",
    "$ref",
    "$defs",
    "definitions",
    "properties",
    "required",
    "additionalProperties",
    "pattern",
    "format",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "items",
    "minItems",
    "maxItems",
];

/// The string formats strict mode documents.
const FORMATS: [&str; 9] = [
    "date-time",
    "time",
    "date",
    "duration",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uuid",
];

/// Every way `parameters` breaks strict mode's rules, each as `pointer: what is wrong`;
/// empty when it keeps them all.
///
/// The rules: the root is `"type": "object"` and not an `anyOf`; every schema (in
/// `properties`, `items`, `anyOf`, `$defs`, `definitions`) is an object holding only the
/// keywords strict mode documents, and says what it accepts (`type`, `anyOf`, `enum`,
/// `const` or a `$ref`, which stands alone); every object has `"additionalProperties": false`
/// and lists each of its properties in `required`, once; every array has `items`; a `type`
/// list is one string, number, integer or boolean with `"null"`; no `enum` holds `null`; a
/// `format` is one strict mode knows.
pub fn strict_violations(parameters: &Value) -> Vec<String> {
    let mut violations = Vec::new();
    if parameters.get("type") != Some(&Value::String("object".to_owned())) {
        violations.push("(root): the root is not \"type\": \"object\"".to_owned());
    }
    if parameters.get("anyOf").is_some() {
        violations.push("(root): the root is an anyOf".to_owned());
    }
    check(parameters, "", &mut violations);
    violations
}

fn check(schema: &Value, at: &str, violations: &mut Vec<String>) {
    let mut fail = |what: String| violations.push(format!("{}: {what}", at_or_root(at)));
    let Value::Object(node) = schema else {
        fail(format!("a schema must be an object, found {schema}"));
        return;
    };
    for keyword in node.keys() {
        if !KEYWORDS.contains(&keyword.as_str()) {
            fail(format!("'{keyword}' is not a keyword of strict mode"));
        }
    }
    if node.contains_key("$ref") && node.len() > 1 {
        fail("a $ref has sibling keywords".to_owned());
    }
    if !["type", "anyOf", "enum", "const", "$ref"]
        .iter()
        .any(|k| node.contains_key(*k))
    {
        fail("says nothing of what it accepts (no type, anyOf, enum, const or $ref)".to_owned());
    }
    let types: Vec<&str> = match node.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if let Some(Value::Array(ts)) = node.get("type") {
        let scalar_or_null = ts.len() == 2
            && ts.contains(&Value::String("null".to_owned()))
            && ts.iter().any(|t| {
                matches!(
                    t.as_str(),
                    Some("string" | "number" | "integer" | "boolean")
                )
            });
        if !scalar_or_null {
            fail(format!(
                "a type list must be a scalar type and \"null\", found {ts:?}"
            ));
        }
    }
    if let Some(Value::Array(values)) = node.get("enum")
        && values.contains(&Value::Null)
    {
        fail("an enum holds null".to_owned());
    }
    if let Some(format) = node.get("format")
        && !format.as_str().is_some_and(|f| FORMATS.contains(&f))
    {
        fail(format!("format {format} is not one strict mode knows"));
    }
    if let Some(additional) = node.get("additionalProperties")
        && additional != &Value::Bool(false)
    {
        fail(format!("additionalProperties is {additional}, not false"));
    }
    let is_object = types.contains(&"object") || node.contains_key("properties");
    if is_object {
        if node.get("additionalProperties") != Some(&Value::Bool(false)) {
            fail("an object without \"additionalProperties\": false".to_owned());
        }
        let names: Vec<&String> = match node.get("properties") {
            Some(Value::Object(properties)) => properties.keys().collect(),
            _ => {
                fail("an object without properties".to_owned());
                Vec::new()
            }
        };
        let required: Vec<&str> = match node.get("required") {
            Some(Value::Array(required)) => required.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let mut unique = required.clone();
        unique.sort_unstable();
        unique.dedup();
        if unique.len() != required.len()
            || required.len() != names.len()
            || !names.iter().all(|name| required.contains(&name.as_str()))
        {
            fail(format!(
                "required {required:?} is not every property {names:?}, once"
            ));
        }
    }
    if types.contains(&"array") && !node.contains_key("items") {
        fail("an array without items".to_owned());
    }
    for map in ["properties", "$defs", "definitions"] {
        if let Some(Value::Object(schemas)) = node.get(map) {
            for (name, schema) in schemas {
                check(schema, &format!("{at}/{map}/{}", escaped(name)), violations);
            }
        }
    }
    if let Some(items) = node.get("items") {
        check(items, &format!("{at}/items"), violations);
    }
    match node.get("anyOf") {
        Some(Value::Array(branches)) if !branches.is_empty() => {
            for (i, branch) in branches.iter().enumerate() {
                check(branch, &format!("{at}/anyOf/{i}"), violations);
            }
        }
        Some(other) => violations.push(format!(
            "{}: anyOf must be a non-empty list, found {other}",
            at_or_root(at)
        )),
        None => {}
    }
}

fn at_or_root(at: &str) -> &str {
    if at.is_empty() { "(root)" } else { at }
}

/// `name` as a JSON Pointer segment.
fn escaped(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}
