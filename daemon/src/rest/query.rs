//! The query parameters StackStorm's list endpoints share (`limit`, `offset`,
//! `include_attributes`, `exclude_attributes`) and the answers they shape: the items, with
//! `X-Total-Count` and `X-Limit` headers, cut down to the attributes asked for.
//!
//! Owns: reading these parameters and shaping list answers. Must not: filter resources (the
//! service layer does).

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::fault::Fault;
use crate::service::Window;

/// The query string as name -> values (a name may repeat).
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse(query: Option<&str>) -> Self {
        let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
        Self { pairs }
    }

    /// The first value of `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or_default()
    }

    /// Every value of `name`, each split at commas.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect::<Vec<_>>())
            .collect()
    }

    /// `name` as a boolean (`true`, `1`, `yes`, case-insensitive); absent is false.
    pub fn flag(&self, name: &str) -> Result<bool, Fault> {
        match self.get(name).to_ascii_lowercase().as_str() {
            "" | "false" | "0" | "no" => Ok(false),
            "true" | "1" | "yes" => Ok(true),
            other => {
                Err(Fault::bad_request(format!("'{other}' is not of type 'boolean' (query parameter \"{name}\")")))
            }
        }
    }

    fn number(&self, name: &str) -> Result<Option<i64>, Fault> {
        match self.get(name) {
            "" => Ok(None),
            text => text.parse().map(Some).map_err(|_| {
                Fault::bad_request(format!("'{text}' is not of type 'integer' (query parameter \"{name}\")"))
            }),
        }
    }

    /// `offset` and `limit`; StackStorm's `limit=-1` (and 0) means no limit.
    pub fn window(&self) -> Result<Window, Fault> {
        let offset = self.number("offset")?.unwrap_or(0);
        if offset < 0 {
            return Err(Fault::bad_request("Offset must be a non-negative integer (query parameter \"offset\")"));
        }
        let limit = match self.number("limit")? {
            None | Some(0) | Some(-1) => None,
            Some(limit) if limit < 0 => {
                return Err(Fault::bad_request(
                    "Limit, \"-1\" specified for \"limit\" means no limit; other negative values are not allowed",
                ));
            }
            Some(limit) => Some(limit as usize),
        };
        Ok(Window { offset: offset as usize, limit })
    }
}

/// Which attributes of each item an answer keeps.
#[derive(Debug, Clone, Default)]
pub struct Attributes {
    include: Vec<String>,
    exclude: Vec<String>,
}

impl Attributes {
    pub fn from_params(params: &Params) -> Result<Self, Fault> {
        let include = params.list("include_attributes");
        let exclude = params.list("exclude_attributes");
        if !include.is_empty() && !exclude.is_empty() {
            return Err(Fault::bad_request(
                "exclude.*_attributes and include.*_attributes arguments are mutually exclusive. You need to provide either one or another, but not both.",
            ));
        }
        Ok(Self { include, exclude })
    }

    /// `item` with only the included attributes (and `id`), or without the excluded ones;
    /// dotted names (`action.ref`) reach into objects.
    pub fn apply(&self, item: Value) -> Value {
        let Value::Object(object) = item else { return item };
        if !self.include.is_empty() {
            let mut kept = Map::new();
            for path in self.include.iter().map(String::as_str).chain(std::iter::once("id")) {
                copy_path(&object, &mut kept, path);
            }
            return Value::Object(kept);
        }
        let mut object = object;
        for path in &self.exclude {
            remove_path(&mut object, path);
        }
        Value::Object(object)
    }
}

fn copy_path(from: &Map<String, Value>, to: &mut Map<String, Value>, path: &str) {
    let (head, rest) = match path.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (path, None),
    };
    let Some(value) = from.get(head) else { return };
    match (rest, value) {
        (None, value) => {
            to.insert(head.to_string(), value.clone());
        }
        (Some(rest), Value::Object(inner)) => {
            let entry = to.entry(head.to_string()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(target) = entry {
                copy_path(inner, target, rest);
            }
        }
        (Some(_), other) => {
            to.insert(head.to_string(), other.clone());
        }
    }
}

fn remove_path(object: &mut Map<String, Value>, path: &str) {
    match path.split_once('.') {
        None => {
            object.shift_remove(path);
        }
        Some((head, rest)) => {
            if let Some(Value::Object(inner)) = object.get_mut(head) {
                remove_path(inner, rest);
            }
        }
    }
}

/// A list answer: the items (shaped by `attributes`) and the count headers.
pub fn list_answer(items: Vec<Value>, total: usize, window: Window, attributes: &Attributes) -> Response {
    let items: Vec<Value> = items.into_iter().map(|item| attributes.apply(item)).collect();
    let mut response = (StatusCode::OK, Json(Value::Array(items))).into_response();
    let headers = response.headers_mut();
    headers.insert(HeaderName::from_static("x-total-count"), HeaderValue::from(total));
    if let Some(limit) = window.limit {
        headers.insert(HeaderName::from_static("x-limit"), HeaderValue::from(limit));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attributes_keep_or_drop_dotted_paths() {
        let item = json!({"id": "1", "status": "succeeded", "action": {"ref": "core.local", "name": "local"}, "result": {"stdout": "hi"}});
        let params = Params::parse(Some("include_attributes=status,action.ref"));
        let kept = Attributes::from_params(&params).expect("valid").apply(item.clone());
        assert_eq!(kept, json!({"status": "succeeded", "action": {"ref": "core.local"}, "id": "1"}));
        let params = Params::parse(Some("exclude_attributes=result&exclude_attributes=action.name"));
        let kept = Attributes::from_params(&params).expect("valid").apply(item);
        assert_eq!(kept, json!({"id": "1", "status": "succeeded", "action": {"ref": "core.local"}}));
        let both = Params::parse(Some("include_attributes=a&exclude_attributes=b"));
        assert!(Attributes::from_params(&both).is_err());
    }

    #[test]
    fn windows_follow_stackstorms_limit_and_offset() {
        let window = |q: &str| Params::parse(Some(q)).window();
        assert_eq!(window("limit=5&offset=10"), Ok(Window { offset: 10, limit: Some(5) }));
        assert_eq!(window("limit=-1"), Ok(Window { offset: 0, limit: None }));
        assert!(window("limit=abc").is_err());
        assert!(window("offset=-3").is_err());
    }
}
