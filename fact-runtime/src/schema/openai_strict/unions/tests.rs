use serde_json::json;

use crate::schema::openai_strict::openai_strict_schema as strict;
use crate::schema::openai_strict::tests::{object, optional, required};

#[test]
fn every_property_is_required_and_an_optional_scalar_becomes_nullable_by_type() {
    let schema = object(
        json!({
            "text": {"type": "string"},
            "count": {"type": "integer"},
            "ratio": {"type": "number"},
            "loud": {"type": "boolean"},
            "when": {"type": "string", "format": "date-time"}
        }),
        &["text"],
    );
    assert_eq!(
        strict(&schema),
        json!({
            "type": "object",
            "properties": {
                "text": {"type": "string"},
                "count": {"type": ["integer", "null"]},
                "ratio": {"type": ["number", "null"]},
                "loud": {"type": ["boolean", "null"]},
                "when": {"type": ["string", "null"], "format": "date-time"}
            },
            "required": ["text", "count", "ratio", "loud", "when"],
            "additionalProperties": false
        })
    );
}

#[test]
fn an_optional_property_that_accepts_null_already_is_left_as_it_is() {
    assert_eq!(
        optional(json!({"type": ["string", "null"], "description": "A name"})),
        json!({"type": ["string", "null"], "description": "A name"})
    );
}

#[test]
fn an_optional_enum_becomes_an_any_of_with_null() {
    assert_eq!(
        optional(json!({"type": "string", "enum": ["C", "F"], "description": "The unit"})),
        json!({
            "anyOf": [{"type": "string", "enum": ["C", "F"]}, {"type": "null"}],
            "description": "The unit"
        })
    );
    assert_eq!(
        optional(json!({"const": "on"})),
        json!({"anyOf": [{"const": "on"}, {"type": "null"}]})
    );
}

#[test]
fn a_nullable_enum_moves_null_out_of_its_values_into_a_branch() {
    // As schemars derives an `Option` of a unit enum.
    let nullable_enum = json!({
        "type": ["string", "null"],
        "enum": ["GET", "POST", null],
        "description": "The method"
    });
    let expected = json!({
        "anyOf": [{"type": "string", "enum": ["GET", "POST"]}, {"type": "null"}],
        "description": "The method"
    });
    assert_eq!(optional(nullable_enum.clone()), expected);
    assert_eq!(required(nullable_enum), expected);
    assert_eq!(
        required(json!({"enum": ["a", 1, null]})),
        json!({
            "anyOf": [
                {"type": "string", "enum": ["a"]},
                {"type": "integer", "enum": [1]},
                {"type": "null"}
            ]
        })
    );
}

#[test]
fn an_optional_object_or_array_becomes_an_any_of_with_null() {
    assert_eq!(
        optional(json!({"type": "array", "items": {"type": "string"}, "maxItems": 3})),
        json!({
            "anyOf": [
                {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                {"type": "null"}
            ]
        })
    );
    // As schemars derives an `Option<Vec<String>>`.
    assert_eq!(
        optional(
            json!({"type": ["array", "null"], "items": {"type": "string"}, "description": "d"})
        ),
        json!({
            "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
            "description": "d"
        })
    );
    assert_eq!(
        optional(json!({"type": "object", "properties": {"x": {"type": "integer"}}})),
        json!({
            "anyOf": [
                {
                    "type": "object",
                    "properties": {"x": {"type": ["integer", "null"]}},
                    "required": ["x"],
                    "additionalProperties": false
                },
                {"type": "null"}
            ]
        })
    );
}

#[test]
fn a_schema_of_several_types_becomes_one_branch_per_type() {
    assert_eq!(
        required(json!({
            "type": ["string", "integer", "null"],
            "pattern": "^a",
            "maximum": 9,
            "description": "Either"
        })),
        json!({
            "anyOf": [
                {"type": "string", "pattern": "^a"},
                {"type": "integer", "maximum": 9},
                {"type": "null"}
            ],
            "description": "Either"
        })
    );
}
