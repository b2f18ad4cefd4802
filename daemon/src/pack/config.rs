//! Pack configs (ST2-COMPAT.md 1.4): `config.schema.yaml`, the values file, validation of
//! static values and schema defaults.
//!
//! Owns: checking config values against the schema and filling defaults. Must not: render
//! dynamic (`{{ st2kv... }}`) values; they stay strings until something resolves them at use.

use serde_json::{Map, Value};

use st2d_core::pack::fields::{FieldError, type_name};

/// Validates a parsed `config.schema.yaml`: a non-empty mapping of key to schema.
pub fn schema(doc: &Value) -> Result<Map<String, Value>, FieldError> {
    match doc {
        Value::Object(map) if !map.is_empty() => {
            for (key, item) in map {
                if !item.is_object() {
                    return Err(FieldError::new(
                        key,
                        format!("schema of config key \"{key}\" must be a mapping, found {}", type_name(item)),
                    ));
                }
            }
            Ok(map.clone())
        }
        Value::Object(_) | Value::Null => Err(FieldError::new("", "config.schema.yaml is empty")),
        other => Err(FieldError::new("", format!("expected a mapping, found {}", type_name(other)))),
    }
}

/// Checks config `values` (from a file) against `schema` and fills in the schema's defaults.
/// With no values file, `values` is `None`: only defaults apply and nothing is required.
pub fn resolve(values: Option<&Value>, schema: Option<&Map<String, Value>>) -> Result<Map<String, Value>, FieldError> {
    let mut resolved = match values {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(other) => {
            return Err(FieldError::new("", format!("a pack config must be a mapping, found {}", type_name(other))));
        }
    };
    if let Some(schema) = schema {
        if values.is_some() {
            check_object(&resolved, schema, "")?;
        }
        apply_defaults(&mut resolved, schema);
    }
    Ok(resolved)
}

fn is_dynamic(value: &Value) -> bool {
    value.as_str().is_some_and(|s| s.contains("{{") || s.contains("{%"))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

fn check_object(values: &Map<String, Value>, schema: &Map<String, Value>, path: &str) -> Result<(), FieldError> {
    for (key, item) in schema {
        let field = join(path, key);
        match values.get(key) {
            None => {
                let required = item.get("required") == Some(&Value::Bool(true));
                if required && item.get("default").is_none() {
                    return Err(FieldError::new(&field, format!("required config key \"{field}\" is missing")));
                }
            }
            Some(value) => check_value(value, item, &field)?,
        }
    }
    Ok(())
}

fn check_value(value: &Value, item: &Value, field: &str) -> Result<(), FieldError> {
    if is_dynamic(value) {
        return Ok(());
    }
    if let Some(kind) = item.get("type")
        && !st2d_core::schema::matches_type(value, kind)
    {
        return Err(FieldError::new(
            field,
            format!("config key \"{field}\" must be of type {kind}, found {}", type_name(value)),
        ));
    }
    if let Some(options) = item.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        return Err(FieldError::new(
            field,
            format!("config key \"{field}\" must be one of {}", Value::Array(options.clone())),
        ));
    }
    if let (Value::Object(values), Some(Value::Object(properties))) = (value, item.get("properties")) {
        check_object(values, properties, field)?;
    }
    Ok(())
}

/// Fills `default`s for absent keys, recursing into objects (given or defaulted).
fn apply_defaults(values: &mut Map<String, Value>, schema: &Map<String, Value>) {
    for (key, item) in schema {
        if !values.contains_key(key) {
            if let Some(default) = item.get("default") {
                values.insert(key.clone(), default.clone());
            } else if item.get("type").and_then(Value::as_str) == Some("object")
                && item
                    .get("properties")
                    .is_some_and(|p| p.as_object().is_some_and(|p| p.values().any(|v| v.get("default").is_some())))
            {
                values.insert(key.clone(), Value::Object(Map::new()));
            }
        }
        if let (Some(Value::Object(child)), Some(Value::Object(properties))) =
            (values.get_mut(key), item.get("properties"))
        {
            apply_defaults(child, properties);
        }
    }
}

/// Replaces the values of `secret: true` keys with `********`, for display.
pub fn mask_secrets(values: &Map<String, Value>, schema: Option<&Map<String, Value>>) -> Map<String, Value> {
    let mut masked = values.clone();
    let Some(schema) = schema else { return masked };
    for (key, item) in schema {
        let Some(value) = masked.get_mut(key) else {
            continue;
        };
        if item.get("secret") == Some(&Value::Bool(true)) {
            *value = Value::String("********".into());
        } else if let (Value::Object(child), Some(Value::Object(properties))) = (&*value, item.get("properties")) {
            *value = Value::Object(mask_secrets(child, Some(properties)));
        }
    }
    masked
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema_of(value: Value) -> Map<String, Value> {
        schema(&value).expect("valid schema")
    }

    #[test]
    fn an_empty_schema_is_an_error() {
        assert!(schema(&Value::Null).is_err());
        assert!(schema(&json!({})).is_err());
        assert_eq!(schema(&json!({"a": 1})).expect_err("not a mapping").field, "a");
    }

    #[test]
    fn defaults_fill_absent_keys_recursively() {
        let schema = schema_of(json!({
            "url": {"type": "string", "default": "http://x"},
            "retries": {"type": "integer", "required": true, "default": 3},
            "auth": {"type": "object", "properties": {"user": {"type": "string", "default": "st2"}}},
        }));
        let resolved = resolve(Some(&json!({"url": "http://y"})), Some(&schema)).expect("valid");
        assert_eq!(Value::Object(resolved), json!({"url": "http://y", "retries": 3, "auth": {"user": "st2"}}));
        let resolved = resolve(None, Some(&schema)).expect("defaults only");
        assert_eq!(resolved["url"], "http://x");
    }

    #[test]
    fn static_values_are_checked_and_dynamic_ones_are_not() {
        let schema = schema_of(json!({
            "token": {"type": "string", "required": true, "secret": true},
            "port": {"type": "integer"},
            "mode": {"type": "string", "enum": ["a", "b"]},
            "nested": {"type": "object", "properties": {"n": {"type": "boolean"}}},
        }));
        let cases = [
            (json!({}), "token"),
            (json!({"token": "t", "port": "80"}), "port"),
            (json!({"token": "t", "mode": "c"}), "mode"),
            (json!({"token": "t", "nested": {"n": 1}}), "nested.n"),
        ];
        for (values, field) in cases {
            assert_eq!(resolve(Some(&values), Some(&schema)).expect_err("invalid").field, field, "{values}");
        }
        let dynamic = json!({"token": "{{ st2kv.system.token }}", "port": 8080});
        assert!(resolve(Some(&dynamic), Some(&schema)).is_ok());
        assert!(resolve(None, Some(&schema)).is_ok(), "without a file nothing is required");
    }

    #[test]
    fn secrets_are_masked_for_display() {
        let schema = schema_of(json!({"token": {"type": "string", "secret": true}, "a": {"type": "object",
            "properties": {"key": {"secret": true}}}}));
        let values = json!({"token": "s3cret", "a": {"key": "k", "other": 1}, "plain": 2});
        let masked = mask_secrets(values.as_object().expect("mapping"), Some(&schema));
        assert_eq!(
            Value::Object(masked),
            json!({"token": "********", "a": {"key": "********", "other": 1}, "plain": 2})
        );
    }
}
