//! Typed reads of fields from a parsed YAML mapping, with errors that name the field.
//!
//! Owns: the wording of "wrong type", "missing" and "unknown field" errors for every content file.
//! Must not: know which fields a content kind has (the `validate` modules decide that).

use serde_json::{Map, Value};

/// A field of a content file that is missing or of the wrong type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct FieldError {
    /// Dotted path of the field (`parameters.cmd.type`); empty for the document itself.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Describes a value's YAML type for error messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a float",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// A mapping being read, with the dotted path that leads to it.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    /// `value` must be a mapping; `path` is where it sits ("" for a whole document).
    pub fn new(value: &'a Value, path: &str) -> Result<Self, FieldError> {
        match value {
            Value::Object(map) => Ok(Self { map, path: path.to_string() }),
            Value::Null if path.is_empty() => Err(FieldError::new("", "the file is empty")),
            other => Err(FieldError::new(path, format!("expected a mapping, found {}", type_name(other)))),
        }
    }

    pub fn map(&self) -> &'a Map<String, Value> {
        self.map
    }

    /// The dotted path of `key` inside this mapping.
    pub fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_string() } else { format!("{}.{key}", self.path) }
    }

    fn error(&self, key: &str, message: impl Into<String>) -> FieldError {
        FieldError::new(self.path_of(key), message)
    }

    /// The raw value of `key`; an explicit `null` counts as absent.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn required_str(&self, key: &str) -> Result<String, FieldError> {
        self.optional_str(key)?.ok_or_else(|| self.error(key, format!("required field \"{key}\" is missing")))
    }

    pub fn optional_str(&self, key: &str) -> Result<Option<String>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => {
                Err(self.error(key, format!("field \"{key}\" must be a string, found {}", type_name(other))))
            }
        }
    }

    /// A free-text field (descriptions): numbers and booleans are taken as their text.
    pub fn text(&self, key: &str) -> Result<String, FieldError> {
        match self.get(key) {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(scalar @ (Value::Number(_) | Value::Bool(_))) => Ok(scalar.to_string()),
            Some(other) => {
                Err(self.error(key, format!("field \"{key}\" must be a string, found {}", type_name(other))))
            }
        }
    }

    /// A boolean; YAML 1.1 spellings PyYAML reads as booleans (`yes`, `off`...) are accepted.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, FieldError> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "yes" | "on" | "y" | "true" => Ok(true),
                "no" | "off" | "n" | "false" => Ok(false),
                _ => Err(self.error(key, format!("field \"{key}\" must be a boolean, found string \"{s}\""))),
            },
            Some(other) => {
                Err(self.error(key, format!("field \"{key}\" must be a boolean, found {}", type_name(other))))
            }
        }
    }

    pub fn optional_number(&self, key: &str) -> Result<Option<f64>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(other) => {
                Err(self.error(key, format!("field \"{key}\" must be a number, found {}", type_name(other))))
            }
        }
    }

    /// A nested mapping, or an empty one when absent.
    pub fn mapping(&self, key: &str) -> Result<Map<String, Value>, FieldError> {
        match self.get(key) {
            None => Ok(Map::new()),
            Some(Value::Object(map)) => Ok(map.clone()),
            Some(other) => {
                Err(self.error(key, format!("field \"{key}\" must be a mapping, found {}", type_name(other))))
            }
        }
    }

    /// A nested mapping as a `Fields` reader; `None` when absent.
    pub fn nested(&self, key: &str) -> Result<Option<Fields<'a>>, FieldError> {
        self.get(key).map(|value| Fields::new(value, &self.path_of(key))).transpose()
    }

    pub fn string_list(&self, key: &str) -> Result<Vec<String>, FieldError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| match item {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(_) | Value::Bool(_) => Ok(item.to_string()),
                    other => Err(self.error(
                        &format!("{key}[{index}]"),
                        format!("items of \"{key}\" must be strings, found {}", type_name(other)),
                    )),
                })
                .collect(),
            Some(other) => Err(self.error(key, format!("field \"{key}\" must be a list, found {}", type_name(other)))),
        }
    }

    /// Keys present in the mapping but not in `allowed`, sorted as written.
    pub fn unknown_keys(&self, allowed: &[&str]) -> Vec<&'a str> {
        self.map.keys().map(String::as_str).filter(|key| !allowed.contains(key)).collect()
    }

    /// Fails on the first key that is not in `allowed`.
    pub fn reject_unknown(&self, allowed: &[&str]) -> Result<(), FieldError> {
        match self.unknown_keys(allowed).first() {
            None => Ok(()),
            Some(key) => Err(self.error(key, format!("unknown field \"{key}\" (allowed: {})", allowed.join(", ")))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_name_the_field_and_the_types() {
        let doc = json!({"name": 3, "enabled": "maybe", "tags": [1, {"a": 1}], "nested": {"x": []}});
        let fields = Fields::new(&doc, "").expect("a mapping");
        assert_eq!(
            fields.required_str("name").expect_err("number").to_string(),
            "field \"name\" must be a string, found an integer"
        );
        assert_eq!(fields.required_str("missing").expect_err("absent").field, "missing");
        assert!(fields.bool_or("enabled", true).is_err());
        assert_eq!(fields.string_list("tags").expect_err("mapping item").field, "tags[1]");
        let nested = fields.nested("nested").expect("ok").expect("present");
        assert_eq!(nested.mapping("x").expect_err("list").field, "nested.x");
        assert_eq!(fields.reject_unknown(&["name"]).expect_err("unknown").field, "enabled");
    }

    #[test]
    fn booleans_accept_yaml_1_1_spellings() {
        for (text, expected) in [("yes", true), ("Off", false), ("TRUE", true), ("n", false)] {
            let doc = json!({ "b": text });
            let fields = Fields::new(&doc, "").expect("a mapping");
            assert_eq!(fields.bool_or("b", !expected), Ok(expected), "{text}");
        }
    }

    #[test]
    fn an_empty_document_says_so() {
        assert_eq!(Fields::new(&Value::Null, "").err().map(|e| e.message), Some("the file is empty".to_string()));
    }
}
