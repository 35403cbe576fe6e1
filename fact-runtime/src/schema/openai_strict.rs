//! The input schema of a tool rewritten for OpenAI's strict function calling
//! ([`ToolFormat::OpenAiStrict`](super::ToolFormat::OpenAiStrict)).
//!
//! Strict mode accepts only a subset of JSON Schema, and only closed objects whose every
//! property is required. The subset kept here, and where it was read, is recorded in
//! docs/ARCHITECTURE.md ("Export formats"); a change to one changes the other.

use serde_json::{Map, Value, json};

use self::unions::{nullable, split, types_of};

#[cfg(test)]
mod tests;
mod unions;

/// The keywords a strict schema may hold: every other keyword is dropped. An allow-list, so
/// that a keyword OpenAI has not documented never reaches it.
const KEPT: [&str; 21] = [
    // any schema
    "type",
    "description",
    "enum",
    "const",
    "anyOf",
    "$ref",
    "$defs",
    "definitions",
    // objects
    "properties",
    "required",
    "additionalProperties",
    // strings
    "pattern",
    "format",
    // numbers
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    // arrays
    "items",
    "minItems",
    "maxItems",
];

/// The string formats strict mode knows; a schema's other formats are dropped.
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

/// `schema` (a tool's input schema) as OpenAI's strict function calling accepts it.
///
/// What changes, at every level (root, properties, `items`, `anyOf` branches, `$defs` and
/// `definitions`):
///
/// - every object is closed (`"additionalProperties": false`) and lists every property in
///   `required`; a property that was optional becomes nullable instead: `"type": [T, "null"]`
///   for a string, number, integer or boolean without `enum` or `const`, otherwise
///   `"anyOf": [schema, {"type": "null"}]` (an enum, a `$ref`, an object, an array). A
///   schema that accepts `null` already is left as it is;
/// - `enum` never holds `null`: a nullable enum is `"anyOf": [{"type": T, "enum": [...]},
///   {"type": "null"}]`, and a schema of several types is one `anyOf` branch per type;
/// - only the keywords OpenAI documents for strict mode are kept (`type`, `description`,
///   `enum`, `const`, `anyOf`, `$ref`, `$defs`, `definitions`, `properties`, `required`,
///   `additionalProperties`, `pattern`, `format` of `date-time`, `time`, `date`, `duration`,
///   `email`, `hostname`, `ipv4`, `ipv6` or `uuid`, `multipleOf`, `maximum`,
///   `exclusiveMaximum`, `minimum`, `exclusiveMinimum`, `items`, `minItems`, `maxItems`); all
///   others (`default`, `examples`, `title`, `minLength`, `maxLength`, `uniqueItems`,
///   `patternProperties`, ...) are dropped, as are other `format`s;
/// - `oneOf` becomes `anyOf`; `allOf` is merged into the schema that holds it (its branches'
///   properties and `required` joined, a `$ref` branch read from the document once; where a
///   branch and the schema both set a keyword, the schema's is kept);
/// - a `$ref` stands alone: its sibling keywords (a `description`) are dropped, as OpenAI's
///   own SDK does;
/// - what strict mode cannot say is narrowed: a schema of any value (`true`, `{}`) accepts
///   any string, number, boolean or `null`; an array without `items` (a tuple, whose
///   `prefixItems` are dropped) takes such items; a map (an object whose
///   `additionalProperties` is a schema) becomes an object without properties, so the model
///   can give only `{}` (or `null`, where optional);
/// - the root is `"type": "object"`, never an `anyOf`.
///
/// Dropping and narrowing lose nothing the tool relies on: every call still passes FACT's
/// validation against the tool's full schema, which refuses what the strict schema let
/// through and the tool's does not (a string longer than its `maxLength`). A model that
/// leaves an optional parameter out sends `null` for it: a tool whose schema does not accept
/// `null` there (a `#[serde(default)]` field that is not an `Option`) refuses such a call.
///
/// The result is a valid JSON Schema, and strict already: applying this twice gives what
/// applying it once gave.
///
/// ```
/// use fact_runtime::openai_strict_schema;
/// use serde_json::json;
///
/// let schema = json!({
///     "type": "object",
///     "properties": {
///         "city": {"type": "string", "minLength": 1},
///         "unit": {"type": "string", "enum": ["C", "F"], "default": "C"},
///         "days": {"type": "integer", "format": "uint8", "maximum": 7}
///     },
///     "required": ["city"]
/// });
/// assert_eq!(
///     openai_strict_schema(&schema),
///     json!({
///         "type": "object",
///         "properties": {
///             "city": {"type": "string"},
///             "unit": {"anyOf": [{"type": "string", "enum": ["C", "F"]}, {"type": "null"}]},
///             "days": {"type": ["integer", "null"], "maximum": 7}
///         },
///         "required": ["city", "unit", "days"],
///         "additionalProperties": false
///     })
/// );
/// ```
pub fn openai_strict_schema(schema: &Value) -> Value {
    let Value::Object(node) = schema else {
        return strict_flat(closed_empty_object(Map::new()), schema, &mut Vec::new());
    };
    let mut node = node.clone();
    // A root `$ref` is the object it names, read like a one-branch `allOf`.
    if let Some(reference) = node.remove("$ref") {
        let branch = json!({ "$ref": reference });
        match node.get_mut("allOf") {
            Some(Value::Array(branches)) => branches.insert(0, branch),
            _ => {
                node.insert("allOf".to_owned(), json!([branch]));
            }
        }
    }
    let mut inlined = Vec::new();
    let mut node = flattened(node, schema, &mut inlined);
    // The root must be one object: alternatives and constants of the root are dropped, and
    // a root of another type keeps only its description and definitions.
    for keyword in ["$ref", "anyOf", "enum", "const"] {
        node.remove(keyword);
    }
    match node.get("type") {
        None => {
            node.insert("type".to_owned(), json!("object"));
        }
        Some(Value::String(t)) if t == "object" => {}
        Some(_) => {
            let kept = ["description", "$defs", "definitions"]
                .into_iter()
                .filter_map(|k| node.remove(k).map(|v| (k.to_owned(), v)))
                .collect();
            node = closed_empty_object(kept);
        }
    }
    strict_flat(node, schema, &mut inlined)
}

/// `{"type": "object", "properties": {}, ...}` with `kept` (a description, definitions).
fn closed_empty_object(kept: Map<String, Value>) -> Map<String, Value> {
    let mut object = Map::new();
    object.insert("type".to_owned(), json!("object"));
    object.insert("properties".to_owned(), json!({}));
    object.extend(kept);
    object
}

/// One subschema made strict. `root` is the whole original document, which `$ref`s name;
/// `inlined` the `$ref`s whose definitions are being merged into the schemas above this one.
fn strict(schema: &Value, root: &Value, inlined: &mut Vec<String>) -> Value {
    match schema {
        // Any value: strict mode has no way to say so, so the model may give a scalar.
        Value::Bool(true) => any_scalar(&Map::new()),
        Value::Object(map) => {
            let depth = inlined.len();
            let node = flattened(map.clone(), root, inlined);
            let strict = strict_flat(node, root, inlined);
            inlined.truncate(depth);
            strict
        }
        // `false` (no value) cannot be said in strict mode; it and what is not a schema are
        // left as they are.
        other => other.clone(),
    }
}

/// `node` without `allOf` (its branches merged in) and with `oneOf` read as `anyOf`.
///
/// A `$ref` branch is read from the document, and its name pushed on `inlined` (the caller
/// truncates it once the schema and its subschemas are done). A `$ref` branch naming a
/// definition already being merged is a recursion: the schema becomes that bare `$ref`.
fn flattened(
    mut node: Map<String, Value>,
    root: &Value,
    inlined: &mut Vec<String>,
) -> Map<String, Value> {
    if let Some(one_of) = node.remove("oneOf") {
        // `anyOf` accepts what `oneOf` does (and a value matching two branches too); where
        // both are given, `anyOf` is kept and `oneOf` dropped.
        node.entry("anyOf").or_insert(one_of);
    }
    let Some(Value::Array(branches)) = node.remove("allOf") else {
        return node;
    };
    for branch in branches {
        let Value::Object(mut branch) = branch else {
            // `true` adds nothing; `false` (no value) cannot be said in strict mode.
            continue;
        };
        if let Some(reference) = branch.remove("$ref") {
            let Value::String(reference) = reference else {
                continue;
            };
            if inlined.contains(&reference) {
                let mut recursion = Map::new();
                recursion.insert("$ref".to_owned(), Value::String(reference));
                return recursion;
            }
            // A `$ref` that names nothing in the document is dropped.
            let Some(Value::Object(target)) = resolve(root, &reference) else {
                continue;
            };
            let mut target = target.clone();
            target.extend(branch);
            inlined.push(reference);
            branch = target;
        }
        let branch = flattened(branch, root, inlined);
        if branch.contains_key("$ref") {
            return branch;
        }
        merge(&mut node, branch);
    }
    node
}

/// `branch` of an `allOf` merged into `node`: properties and `required` joined, any other
/// keyword taken only where `node` does not set it.
fn merge(node: &mut Map<String, Value>, branch: Map<String, Value>) {
    for (keyword, value) in branch {
        match (keyword.as_str(), node.get_mut(&keyword), value) {
            ("properties", Some(Value::Object(mine)), Value::Object(theirs)) => {
                for (name, schema) in theirs {
                    mine.entry(name).or_insert(schema);
                }
            }
            ("required", Some(Value::Array(mine)), Value::Array(theirs)) => {
                for name in theirs {
                    if !mine.contains(&name) {
                        mine.push(name);
                    }
                }
            }
            (_, Some(_), _) => {}
            (_, None, value) => {
                node.insert(keyword, value);
            }
        }
    }
}

/// The subschema `reference` (`#`, `#/$defs/Name`, ...) names in `root`.
fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    root.pointer(reference.strip_prefix('#')?)
}

/// `node` (flattened) made strict: keywords filtered, subschemas made strict, objects closed,
/// nullable enums and schemas of several types split into `anyOf`.
fn strict_flat(node: Map<String, Value>, root: &Value, inlined: &mut Vec<String>) -> Value {
    if let Some(reference) = node.get("$ref") {
        return json!({ "$ref": reference });
    }
    let was_required: Vec<String> = match node.get("required") {
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let mut out = Map::new();
    for (keyword, value) in node {
        if !KEPT.contains(&keyword.as_str()) {
            continue;
        }
        let kept = match keyword.as_str() {
            "properties" => value.as_object().map(|properties| {
                let properties = properties.iter().map(|(name, property)| {
                    let property = strict(property, root, inlined);
                    let property = if was_required.contains(name) {
                        property
                    } else {
                        nullable(property)
                    };
                    (name.clone(), property)
                });
                Value::Object(properties.collect())
            }),
            "$defs" | "definitions" => value.as_object().map(|definitions| {
                let definitions = definitions
                    .iter()
                    .map(|(name, schema)| (name.clone(), strict(schema, root, inlined)));
                Value::Object(definitions.collect())
            }),
            "anyOf" => value
                .as_array()
                .filter(|branches| !branches.is_empty())
                .map(|branches| {
                    let branches = branches.iter().map(|b| strict(b, root, inlined));
                    Value::Array(branches.collect())
                }),
            // A tuple's `items` (`false` after `prefixItems`, or a list of schemas in older
            // drafts) is dropped with `prefixItems`: the array then takes any scalars, below.
            "items" => (value.is_object() || value == Value::Bool(true))
                .then(|| strict(&value, root, inlined)),
            "format" => value
                .as_str()
                .is_some_and(|format| FORMATS.contains(&format))
                .then_some(value),
            "description" | "pattern" => value.is_string().then_some(value),
            "type" => (value.is_string() || value.is_array()).then_some(value),
            "enum" => value.is_array().then_some(value),
            "const" => Some(value),
            "multipleOf" | "maximum" | "exclusiveMaximum" | "minimum" | "exclusiveMinimum"
            | "minItems" | "maxItems" => value.is_number().then_some(value),
            // `required` and `additionalProperties`, written anew for objects below.
            _ => None,
        };
        if let Some(kept) = kept {
            out.insert(keyword, kept);
        }
    }
    let types = types_of(&out);
    if types.iter().any(|t| t == "object") || (types.is_empty() && out.contains_key("properties")) {
        close(&mut out);
    } else {
        // Properties of what cannot be an object constrain nothing.
        out.remove("properties");
    }
    if types.iter().any(|t| t == "array") && !out.contains_key("items") {
        out.insert("items".to_owned(), any_scalar(&Map::new()));
    }
    if !["type", "anyOf", "enum", "const"]
        .iter()
        .any(|k| out.contains_key(*k))
    {
        // A schema of any value (`{}`, a bare description).
        return any_scalar(&out);
    }
    split(out)
}

/// Closes the object `node`: `type` (where it had none), `properties` (empty where it had
/// none), `required` listing every property, `additionalProperties: false`. The properties
/// themselves were made nullable where they were optional.
fn close(node: &mut Map<String, Value>) {
    node.entry("type").or_insert_with(|| json!("object"));
    let names: Vec<Value> = match node.entry("properties").or_insert_with(|| json!({})) {
        Value::Object(properties) => properties.keys().map(|k| json!(k)).collect(),
        _ => Vec::new(),
    };
    node.insert("required".to_owned(), Value::Array(names));
    node.insert("additionalProperties".to_owned(), json!(false));
}

/// Any string, number, boolean or `null`, with the description of `node`.
fn any_scalar(node: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    out.insert(
        "anyOf".to_owned(),
        json!([{"type": "string"}, {"type": "number"}, {"type": "boolean"}, {"type": "null"}]),
    );
    if let Some(description) = node.get("description") {
        out.insert("description".to_owned(), description.clone());
    }
    Value::Object(out)
}
