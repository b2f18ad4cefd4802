//! A JSON request body and its typed fields, read as StackStorm's API validates them: a
//! malformed body or a field of the wrong type is a 400 naming the field.
//!
//! Owns: decoding a body and reading its fields. Must not: decide what a field means (the
//! handlers and the service layer do).

use axum::body::Bytes;
use serde_json::{Map, Value};

use super::Fault;

/// A decoded JSON object body.
pub struct JsonBody(Map<String, Value>);

impl JsonBody {
    /// An empty body is `{}`; malformed JSON, or JSON that is not an object, is a 400.
    pub fn parse(body: &Bytes) -> Result<Self, Fault> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Map::new()));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(other) => Err(Fault::bad_request(format!("The request body must be a JSON object, not {other}"))),
            Err(error) => Err(Fault::bad_request(format!("Failed to parse request body: {error}"))),
        }
    }

    /// The whole object.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// The field, `None` when absent or null.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field).filter(|value| !value.is_null())
    }

    fn typed<T>(&self, field: &str, kind: &str, read: impl Fn(&Value) -> Option<T>) -> Result<Option<T>, Fault> {
        match self.get(field) {
            None => Ok(None),
            Some(value) => read(value)
                .map(Some)
                .ok_or_else(|| Fault::bad_request(format!("{value} is not of type '{kind}' (field \"{field}\")"))),
        }
    }

    pub fn text(&self, field: &str) -> Result<Option<String>, Fault> {
        self.typed(field, "string", |v| v.as_str().map(str::to_string))
    }

    pub fn flag(&self, field: &str) -> Result<Option<bool>, Fault> {
        self.typed(field, "boolean", Value::as_bool)
    }

    pub fn count(&self, field: &str) -> Result<Option<u64>, Fault> {
        self.typed(field, "integer", Value::as_u64)
    }

    /// An array of strings.
    pub fn texts(&self, field: &str) -> Result<Option<Vec<String>>, Fault> {
        self.typed(field, "array of strings", |v| {
            v.as_array()?.iter().map(|item| item.as_str().map(str::to_string)).collect::<Option<Vec<_>>>()
        })
    }

    pub fn object(&self, field: &str) -> Result<Option<Map<String, Value>>, Fault> {
        self.typed(field, "object", |v| v.as_object().cloned())
    }

    /// A field that must be there.
    pub fn required<T>(field: &str, value: Option<T>) -> Result<T, Fault> {
        value.ok_or_else(|| Fault::bad_request(format!("'{field}' is a required property (field \"{field}\")")))
    }
}
