use serde_json::{Value, json};

use super::openai_strict_schema as strict;

/// An object of `properties`, of which `required` are required.
pub(super) fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required})
}

/// The strict form of `schema` as the one property `p`, optional.
pub(super) fn optional(schema: Value) -> Value {
    strict(&object(json!({ "p": schema }), &[]))["properties"]["p"].clone()
}

/// The strict form of `schema` as the one property `p`, required.
pub(super) fn required(schema: Value) -> Value {
    strict(&object(json!({ "p": schema }), &["p"]))["properties"]["p"].clone()
}

#[test]
fn objects_are_closed_at_every_level() {
    let point =
        json!({"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]});
    let schema = json!({
        "type": "object",
        "properties": {
            "nested": {"type": "object", "properties": {"inner": point}, "required": ["inner"]},
            "points": {"type": "array", "items": point},
            "either": {"anyOf": [point, {"type": "string"}]},
            "named": {"$ref": "#/$defs/Named"}
        },
        "required": ["nested", "points", "either", "named"],
        "$defs": {
            "Named": {"type": "object", "properties": {"name": {"type": "string"}}}
        }
    });
    let closed_point = json!({
        "type": "object",
        "properties": {"x": {"type": "integer"}},
        "required": ["x"],
        "additionalProperties": false
    });
    assert_eq!(
        strict(&schema),
        json!({
            "type": "object",
            "properties": {
                "nested": {
                    "type": "object",
                    "properties": {"inner": closed_point},
                    "required": ["inner"],
                    "additionalProperties": false
                },
                "points": {"type": "array", "items": closed_point},
                "either": {"anyOf": [closed_point, {"type": "string"}]},
                "named": {"$ref": "#/$defs/Named"}
            },
            "$defs": {
                "Named": {
                    "type": "object",
                    "properties": {"name": {"type": ["string", "null"]}},
                    "required": ["name"],
                    "additionalProperties": false
                }
            },
            "required": ["nested", "points", "either", "named"],
            "additionalProperties": false
        })
    );
}

#[test]
fn a_ref_stands_alone_and_an_optional_one_becomes_an_any_of_with_null() {
    // A recursive type, as schemars derives it: a description beside the `$ref`.
    let schema = json!({
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/Tree", "description": "The root"}},
        "required": ["root"],
        "$defs": {
            "Tree": {
                "type": "object",
                "properties": {
                    "label": {"type": "string"},
                    "first": {"$ref": "#/$defs/Tree"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Tree"}, "default": []}
                },
                "required": ["label"]
            }
        }
    });
    let strict = strict(&schema);
    assert_eq!(
        strict["properties"]["root"],
        json!({"$ref": "#/$defs/Tree"})
    );
    let tree = &strict["$defs"]["Tree"]["properties"];
    assert_eq!(
        tree["first"],
        json!({"anyOf": [{"$ref": "#/$defs/Tree"}, {"type": "null"}]})
    );
    assert_eq!(
        tree["children"],
        json!({
            "anyOf": [
                {"type": "array", "items": {"$ref": "#/$defs/Tree"}},
                {"type": "null"}
            ]
        })
    );
}

#[test]
fn keywords_strict_mode_does_not_document_are_dropped() {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:demo",
        "title": "Args",
        "type": "object",
        "properties": {
            "name": {
                "type": "string", "minLength": 1, "maxLength": 9, "pattern": "^[a-z]+$",
                "default": "a", "examples": ["b"], "deprecated": true, "title": "Name"
            },
            "email": {"type": "string", "format": "email", "contentEncoding": "base64"},
            "link": {"type": "string", "format": "uri"},
            "size": {
                "type": "integer", "format": "uint64", "minimum": 0, "exclusiveMaximum": 10,
                "multipleOf": 2
            },
            "tags": {
                "type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 4,
                "uniqueItems": true, "contains": {"const": "a"}
            },
            "not_a": {"type": "string", "not": {"const": "a"}}
        },
        "required": ["name", "email", "link", "size", "tags", "not_a"],
        "minProperties": 1,
        "patternProperties": {"^x-": {"type": "string"}},
        "propertyNames": {"maxLength": 9},
        "dependentRequired": {"name": ["email"]},
        "if": {"required": ["name"]},
        "then": {"required": ["email"]},
        "else": {"required": ["link"]},
        "unevaluatedProperties": false
    });
    assert_eq!(
        strict(&schema),
        json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z]+$"},
                "email": {"type": "string", "format": "email"},
                "link": {"type": "string"},
                "size": {"type": "integer", "minimum": 0, "exclusiveMaximum": 10, "multipleOf": 2},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 4},
                "not_a": {"type": "string"}
            },
            "required": ["name", "email", "link", "size", "tags", "not_a"],
            "additionalProperties": false
        })
    );
}

#[test]
fn one_of_becomes_any_of() {
    assert_eq!(
        required(json!({
            "oneOf": [
                {"type": "string", "const": "file", "description": "A file."},
                {"type": "string", "const": "directory", "description": "A directory."}
            ],
            "description": "What it is"
        })),
        json!({
            "anyOf": [
                {"type": "string", "const": "file", "description": "A file."},
                {"type": "string", "const": "directory", "description": "A directory."}
            ],
            "description": "What it is"
        })
    );
}

#[test]
fn all_of_is_merged_into_the_schema_that_holds_it() {
    assert_eq!(
        required(json!({"allOf": [{"type": "string", "pattern": "^a"}], "description": "d"})),
        json!({"type": "string", "pattern": "^a", "description": "d"})
    );
    let schema = json!({
        "type": "object",
        "properties": {
            "p": {
                "allOf": [
                    {"$ref": "#/$defs/Base"},
                    {"properties": {"extra": {"type": "boolean"}}, "required": ["extra"]}
                ],
                "description": "Both"
            }
        },
        "required": ["p"],
        "$defs": {
            "Base": {
                "type": "object",
                "properties": {"id": {"type": "integer"}},
                "required": ["id"],
                "description": "The base"
            }
        }
    });
    assert_eq!(
        strict(&schema)["properties"]["p"],
        json!({
            "description": "Both",
            "type": "object",
            "properties": {"id": {"type": "integer"}, "extra": {"type": "boolean"}},
            "required": ["id", "extra"],
            "additionalProperties": false
        })
    );
}

#[test]
fn an_all_of_that_includes_its_own_definition_keeps_the_recursion_as_a_ref() {
    let schema = json!({
        "type": "object",
        "properties": {"list": {"allOf": [{"$ref": "#/$defs/List"}]}},
        "required": ["list"],
        "$defs": {
            "List": {
                "type": "object",
                "properties": {"next": {"allOf": [{"$ref": "#/$defs/List"}]}},
                "required": ["next"]
            }
        }
    });
    let strict = strict(&schema);
    assert_eq!(
        strict["properties"]["list"]["properties"]["next"],
        json!({"$ref": "#/$defs/List"})
    );
    assert_eq!(
        strict["$defs"]["List"]["properties"]["next"]["properties"]["next"],
        json!({"$ref": "#/$defs/List"})
    );
}

#[test]
fn a_schema_of_any_value_becomes_any_scalar() {
    let any_scalar =
        json!([{"type": "string"}, {"type": "number"}, {"type": "boolean"}, {"type": "null"}]);
    assert_eq!(
        required(json!({"description": "Anything"})),
        json!({"anyOf": any_scalar, "description": "Anything"})
    );
    assert_eq!(required(json!(true)), json!({ "anyOf": any_scalar }));
    // As schemars derives a `Vec<serde_json::Value>`; the `items` of a tuple too.
    for items in [json!(true), json!(false), json!([{"type": "string"}])] {
        assert_eq!(
            required(json!({"type": "array", "items": items})),
            json!({"type": "array", "items": {"anyOf": any_scalar}})
        );
    }
}

#[test]
fn a_map_becomes_an_object_without_properties() {
    assert_eq!(
        required(json!({"type": "object", "additionalProperties": {"type": "string"}})),
        json!({"type": "object", "properties": {}, "required": [], "additionalProperties": false})
    );
}

#[test]
fn the_root_is_always_one_object() {
    let closed = |properties: Value, required: Value| {
        json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false
        })
    };
    assert_eq!(strict(&json!({})), closed(json!({}), json!([])));
    assert_eq!(strict(&json!(true)), closed(json!({}), json!([])));
    assert_eq!(
        strict(&json!({"properties": {"a": {"type": "string"}}})),
        json!({
            "properties": {"a": {"type": ["string", "null"]}},
            "type": "object",
            "required": ["a"],
            "additionalProperties": false
        })
    );
    assert_eq!(
        strict(&json!({"type": "string", "description": "Not named"})),
        json!({
            "type": "object",
            "properties": {},
            "description": "Not named",
            "required": [],
            "additionalProperties": false
        })
    );
    let by_ref = json!({
        "$ref": "#/$defs/Args",
        "$defs": {"Args": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}}
    });
    let strict_by_ref = strict(&by_ref);
    assert_eq!(strict_by_ref["type"], "object");
    assert_eq!(
        strict_by_ref["properties"],
        json!({"a": {"type": "string"}})
    );
    assert!(strict_by_ref.get("$ref").is_none(), "{strict_by_ref}");
    assert!(
        strict(&json!({"type": "object", "anyOf": [{"required": ["a"]}]}))
            .get("anyOf")
            .is_none()
    );
}

/// OpenAI's own examples of strict schemas (docs/ARCHITECTURE.md, "Export formats").
fn already_strict() -> Vec<Value> {
    vec![
        json!({
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The location to get the weather for"},
                "unit": {"type": ["string", "null"], "description": "The unit", "enum": ["F", "C", null]},
                "value": {"type": "number", "minimum": -130, "maximum": 130}
            },
            "additionalProperties": false,
            "required": ["location", "unit", "value"]
        }),
        json!({
            "type": "object",
            "properties": {"linked_list": {"$ref": "#/$defs/linked_list_node"}},
            "$defs": {
                "linked_list_node": {
                    "type": "object",
                    "properties": {
                        "value": {"type": "number"},
                        "next": {"anyOf": [{"$ref": "#/$defs/linked_list_node"}, {"type": "null"}]}
                    },
                    "additionalProperties": false,
                    "required": ["value", "next"]
                }
            },
            "additionalProperties": false,
            "required": ["linked_list"]
        }),
        json!({
            "type": "object",
            "properties": {
                "label": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#"}}
            },
            "required": ["label", "children"],
            "additionalProperties": false
        }),
    ]
}

#[test]
fn an_already_strict_schema_is_unchanged_but_for_null_in_an_enum() {
    let mut examples = already_strict();
    let weather = strict(&examples.remove(0));
    assert_eq!(
        weather["properties"]["unit"],
        json!({
            "anyOf": [{"type": "string", "enum": ["F", "C"]}, {"type": "null"}],
            "description": "The unit"
        })
    );
    for example in examples {
        assert_eq!(strict(&example), example);
    }
}

/// Schemas of every shape the tests above transform.
fn corpus() -> Vec<Value> {
    let mut corpus = already_strict();
    corpus.extend([
        json!({
            "type": "object",
            "properties": {
                "a": {"type": ["string", "integer", "null"], "enum": ["x", 1, null]},
                "b": {"oneOf": [{"type": "string"}, {"type": "object"}]},
                "c": {"allOf": [{"$ref": "#/$defs/C"}], "description": "c"},
                "d": {"type": ["object", "null"], "properties": {"e": {"type": "array"}}},
                "f": {"type": "object", "additionalProperties": true},
                "g": {},
                "h": {"const": null},
                "i": {"type": ["string", "null"], "enum": ["F", "C"]}
            },
            "required": ["a"],
            "$defs": {"C": {"type": "string", "enum": ["p", "q"]}}
        }),
        json!({
            "$ref": "#/definitions/Args",
            "definitions": {
                "Args": {"properties": {"n": {"$ref": "#/definitions/Args"}}}
            }
        }),
    ]);
    corpus
}

#[test]
fn applying_it_twice_gives_what_applying_it_once_gave() {
    for schema in corpus() {
        let once = strict(&schema);
        assert_eq!(strict(&once), once, "{schema}");
    }
}

#[test]
fn the_result_is_a_valid_json_schema_whose_refs_resolve() {
    for schema in corpus() {
        let strict = strict(&schema);
        if let Err(error) = jsonschema::draft202012::meta::validate(&strict) {
            panic!("{strict} is not a JSON Schema: {error}");
        }
        if let Err(error) = jsonschema::draft202012::options().offline().build(&strict) {
            panic!("{strict} does not compile: {error}");
        }
    }
}
