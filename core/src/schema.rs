//! JSON-schema `type` checks with one answer for trigger payloads, pack configs and action
//! parameters: the answer of StackStorm's validator (jsonschema's Draft 4 type checker), where
//! `3.0` is a number but not an integer and a boolean is neither.
//!
//! Owns: what each type name accepts. Must not: walk schemas or word errors (each caller does,
//! naming its own field).

use serde_json::Value;

/// Whether `value` is of the type named `name`; an unknown name accepts anything.
pub fn is_of_type(value: &Value, name: &str) -> bool {
    match name {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        _ => true,
    }
}

/// Whether `value` matches a schema's `type`: one name or a list of names (any of them).
pub fn matches_type(value: &Value, kind: &Value) -> bool {
    match kind {
        Value::String(name) => is_of_type(value, name),
        Value::Array(names) => names.iter().filter_map(Value::as_str).any(|name| is_of_type(value, name)),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn draft_4_types() {
        assert!(is_of_type(&json!(3), "integer"));
        assert!(!is_of_type(&json!(3.0), "integer"), "Draft 4: a float is not an integer");
        assert!(is_of_type(&json!(3.0), "number"));
        assert!(!is_of_type(&json!(true), "integer"));
        assert!(!is_of_type(&json!(true), "number"));
        assert!(matches_type(&json!(null), &json!(["string", "null"])));
        assert!(!matches_type(&json!(1), &json!(["string", "null"])));
        assert!(matches_type(&json!(1), &json!("anything-else")));
    }
}
