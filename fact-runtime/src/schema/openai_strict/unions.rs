//! How a strict schema says "or `null`" and "one of several types": `"type": [T, "null"]` for
//! a string, number, integer or boolean, the form OpenAI documents for an optional parameter;
//! otherwise an `anyOf` of one branch per type, which OpenAI's own SDK sends (an enum of
//! strings or `null` is `{"anyOf": [{"type": "string", "enum": [...]}, {"type": "null"}]}`,
//! never an `enum` holding `null`).

use serde_json::{Map, Value, json};

#[cfg(test)]
mod tests;

/// Keywords that constrain one JSON type only: when a schema of several types is split into
/// one `anyOf` branch per type, each branch takes the keywords of its type.
const STRING_KEYWORDS: [&str; 2] = ["pattern", "format"];
const NUMBER_KEYWORDS: [&str; 5] = [
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
];
const ARRAY_KEYWORDS: [&str; 3] = ["items", "minItems", "maxItems"];
const OBJECT_KEYWORDS: [&str; 3] = ["properties", "required", "additionalProperties"];

/// The `type` of `node` as a list (empty when it has none).
pub(super) fn types_of(node: &Map<String, Value>) -> Vec<String> {
    match node.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether a schema of `types` (with `node`'s `enum` and `const`) keeps its `type` whole:
/// one type, or a string, number, integer or boolean with `null` and no `enum` or `const`
/// (the form OpenAI documents for an optional parameter). Otherwise it is [`split`].
fn keeps_its_type(node: &Map<String, Value>, types: &[String]) -> bool {
    let enumerated = node.contains_key("enum") || node.contains_key("const");
    match types {
        [] | [_] => true,
        [first, second] => {
            let other = match (first.as_str(), second.as_str()) {
                ("null", other) | (other, "null") => other,
                _ => return false,
            };
            !enumerated && matches!(other, "string" | "number" | "integer" | "boolean")
        }
        _ => false,
    }
}

/// `node` as one `anyOf` branch per type, unless [`keeps_its_type`]: each branch takes the
/// keywords and the `enum` values of its type, `null` is the branch `{"type": "null"}`, and
/// the description stays outside. An `enum` never holds `null` after this.
pub(super) fn split(node: Map<String, Value>) -> Value {
    let enum_values = node.get("enum").and_then(Value::as_array);
    let enum_has_null = enum_values.is_some_and(|values| values.contains(&Value::Null));
    let mut types = types_of(&node);
    if types.is_empty() {
        match enum_values {
            // An enum without a type: its types are those of its values.
            Some(values) if enum_has_null => {
                for value in values {
                    let t = json_type(value).to_owned();
                    if !types.contains(&t) {
                        types.push(t);
                    }
                }
            }
            _ => return Value::Object(node),
        }
    }
    if keeps_its_type(&node, &types) && !enum_has_null {
        return Value::Object(node);
    }
    let mut branches = Vec::new();
    for t in types.iter().filter(|t| *t != "null") {
        let mut branch = Map::new();
        branch.insert("type".to_owned(), json!(t));
        let own: &[&str] = match t.as_str() {
            "string" => &STRING_KEYWORDS,
            "number" | "integer" => &NUMBER_KEYWORDS,
            "array" => &ARRAY_KEYWORDS,
            "object" => &OBJECT_KEYWORDS,
            _ => &[],
        };
        for keyword in own {
            if let Some(value) = node.get(*keyword) {
                branch.insert((*keyword).to_owned(), value.clone());
            }
        }
        if let Some(values) = enum_values {
            let values: Vec<Value> = values
                .iter()
                .filter(|v| is_of_type(v, t))
                .cloned()
                .collect();
            if values.is_empty() {
                continue;
            }
            branch.insert("enum".to_owned(), Value::Array(values));
        }
        if let Some(value) = node.get("const") {
            if !is_of_type(value, t) {
                continue;
            }
            branch.insert("const".to_owned(), value.clone());
        }
        branches.push(Value::Object(branch));
    }
    let null_allowed = types.iter().any(|t| t == "null")
        && enum_values.is_none_or(|_| enum_has_null)
        && node.get("const").is_none_or(Value::is_null);
    if null_allowed {
        branches.push(json!({"type": "null"}));
    }
    let mut out = match <[Value; 1]>::try_from(branches) {
        // `null` was in a type but not among the values: one branch is left.
        Ok([Value::Object(only)]) => only,
        Ok([only]) => return only,
        // No value of any of its types: a schema that accepts nothing, left as it was.
        Err(branches) if branches.is_empty() => return Value::Object(node),
        Err(branches) => {
            let mut out = Map::new();
            out.insert("anyOf".to_owned(), Value::Array(branches));
            out
        }
    };
    if let Some(description) = node.get("description") {
        out.insert("description".to_owned(), description.clone());
    }
    Value::Object(out)
}

/// `schema` (strict already) accepting `null` too, for a property that was optional.
pub(super) fn nullable(schema: Value) -> Value {
    if accepts_null(&schema) {
        return schema;
    }
    let Value::Object(mut node) = schema else {
        return json!({"anyOf": [schema, {"type": "null"}]});
    };
    let bare_any_of = !["$ref", "type", "enum", "const"]
        .iter()
        .any(|k| node.contains_key(*k));
    if let (true, Some(Value::Array(branches))) = (bare_any_of, node.get_mut("anyOf")) {
        branches.push(json!({"type": "null"}));
        return Value::Object(node);
    }
    let mut types = types_of(&node);
    types.push("null".to_owned());
    if node.contains_key("type") && !node.contains_key("anyOf") && keeps_its_type(&node, &types) {
        node.insert("type".to_owned(), json!(types));
        return Value::Object(node);
    }
    let description = node.remove("description");
    let mut out = Map::new();
    out.insert(
        "anyOf".to_owned(),
        json!([Value::Object(node), {"type": "null"}]),
    );
    if let Some(description) = description {
        out.insert("description".to_owned(), description);
    }
    Value::Object(out)
}

/// Whether the strict `schema` accepts `null` as it stands.
fn accepts_null(schema: &Value) -> bool {
    let Value::Object(node) = schema else {
        return schema == &Value::Bool(true);
    };
    let types = types_of(node);
    !node.contains_key("$ref")
        && node
            .get("anyOf")
            .and_then(Value::as_array)
            .is_none_or(|branches| branches.iter().any(accepts_null))
        && (types.is_empty() || types.iter().any(|t| t == "null"))
        && node
            .get("enum")
            .and_then(Value::as_array)
            .is_none_or(|values| values.contains(&Value::Null))
        && node.get("const").is_none_or(Value::is_null)
}

/// The JSON Schema type name of `value` (`integer` for a number without a fraction).
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Whether `value` is an instance of the JSON Schema type `t` (an integer is a number too).
fn is_of_type(value: &Value, t: &str) -> bool {
    let own = json_type(value);
    own == t || (t == "number" && own == "integer")
}
