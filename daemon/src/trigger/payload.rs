//! Validates a dispatched payload against its trigger type's `payload_schema`, applying
//! defaults, as StackStorm does with `validate_trigger_payload` on (ST2-COMPAT.md 3.3); an
//! inquiry's response is checked against its schema the same way.
//!
//! Owns: the subset of JSON schema payload schemas use: `type`, `properties`, `required`
//! (draft-4 list or draft-3 boolean), `enum`, `additionalProperties: false`, `default`, `items`.
//! Must not: reject keywords it does not know (they are ignored).

use serde_json::{Map, Value};

/// Why a payload does not fit its schema; each names the field (`payload.a.b[2]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("{path} must be of type {kind}")]
    Type { path: String, kind: String },
    #[error("{path} must be one of the types {kinds}")]
    Types { path: String, kinds: Value },
    #[error("{path} must be one of {options}")]
    NotAllowedValue { path: String, options: Value },
    #[error("{path} is required")]
    Missing { path: String },
    #[error("{path} is not allowed")]
    Unexpected { path: String },
}

/// Checks `payload` against `schema`, filling in defaults; the error names the field.
pub fn validate(payload: &mut Value, schema: &Value) -> Result<(), PayloadError> {
    validate_as(payload, schema, "payload")
}

/// As `validate`, for a document the errors call `root` (an inquiry's `response`).
pub fn validate_as(value: &mut Value, schema: &Value, root: &str) -> Result<(), PayloadError> {
    if value.is_null() && schema.get("type").and_then(Value::as_str) == Some("object") {
        *value = Value::Object(Map::new());
    }
    check(value, schema, root)
}

fn check(value: &mut Value, schema: &Value, path: &str) -> Result<(), PayloadError> {
    let Some(schema) = schema.as_object() else {
        return Ok(());
    };
    match schema.get("type") {
        Some(Value::String(kind)) if !st2d_core::schema::is_of_type(value, kind) => {
            return Err(PayloadError::Type { path: path.to_string(), kind: kind.clone() });
        }
        Some(Value::Array(kinds))
            if !kinds.iter().filter_map(Value::as_str).any(|k| st2d_core::schema::is_of_type(value, k)) =>
        {
            return Err(PayloadError::Types { path: path.to_string(), kinds: Value::Array(kinds.clone()) });
        }
        _ => {}
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        return Err(PayloadError::NotAllowedValue { path: path.to_string(), options: Value::Array(options.clone()) });
    }
    if let Value::Array(items) = value
        && let Some(item_schema) = schema.get("items")
    {
        for (index, item) in items.iter_mut().enumerate() {
            check(item, item_schema, &format!("{path}[{index}]"))?;
        }
    }
    let Value::Object(object) = value else {
        return Ok(());
    };
    let properties = schema.get("properties").and_then(Value::as_object);
    let mut required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    if let Some(properties) = properties {
        for (name, property) in properties {
            if property.get("required") == Some(&Value::Bool(true)) {
                required.push(name);
            }
            if !object.contains_key(name)
                && let Some(default) = property.get("default")
            {
                object.insert(name.clone(), default.clone());
            }
            if let Some(child) = object.get_mut(name) {
                check(child, property, &format!("{path}.{name}"))?;
            }
        }
    }
    if let Some(missing) = required.iter().find(|name| !object.contains_key(**name)) {
        return Err(PayloadError::Missing { path: format!("{path}.{missing}") });
    }
    if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
        let known = |key: &str| properties.is_some_and(|p| p.contains_key(key));
        if let Some(extra) = object.keys().find(|key| !known(key)) {
            return Err(PayloadError::Unexpected { path: format!("{path}.{extra}") });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_of_payloads() {
        let schema = json!({"type": "object", "properties": {
            "name": {"type": "string", "required": true},
            "count": {"type": "integer", "default": 1},
            "level": {"enum": ["low", "high"]},
            "tags": {"type": "array", "items": {"type": "string"}}
        }, "additionalProperties": false});
        let cases = [
            (json!({"name": "x"}), Ok(json!({"name": "x", "count": 1}))),
            // Draft 4, as StackStorm's validator: a float is not an integer, even 2.0.
            (json!({"name": "x", "count": 2.0}), Err("payload.count must be of type integer")),
            (json!({}), Err("payload.name is required")),
            (json!({"name": 1}), Err("payload.name must be of type string")),
            (json!({"name": "x", "level": "mid"}), Err("payload.level must be one of [\"low\",\"high\"]")),
            (json!({"name": "x", "tags": ["a", 2]}), Err("payload.tags[1] must be of type string")),
            (json!({"name": "x", "other": 1}), Err("payload.other is not allowed")),
            (json!("text"), Err("payload must be of type object")),
        ];
        for (mut payload, expected) in cases {
            let input = payload.clone();
            let result = validate(&mut payload, &schema).map(|()| payload).map_err(|e| e.to_string());
            assert_eq!(result, expected.map_err(String::from), "{input}");
        }
    }

    #[test]
    fn draft_4_required_lists_and_null_payloads() {
        let schema = json!({"type": "object", "required": ["a"]});
        assert!(validate(&mut json!({"a": 1}), &schema).is_ok());
        assert_eq!(validate(&mut Value::Null, &schema), Err(PayloadError::Missing { path: "payload.a".to_string() }));
        let mut empty = Value::Null;
        assert!(validate(&mut empty, &json!({"type": "object"})).is_ok());
        assert_eq!(empty, json!({}));
        assert!(validate(&mut json!({"x": 1}), &json!({})).is_ok(), "an empty schema accepts anything");
    }
}
