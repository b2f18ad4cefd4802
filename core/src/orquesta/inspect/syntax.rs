//! Syntax: the definition against Orquesta's JSON schema for native workflows (version 1.0),
//! checked as its validator checks it (jsonschema's Draft 4, as Orquesta pins it): each
//! problem with jsonschema's message (values as Python prints them), the path of the value
//! and the path of the keyword in the schema.
//!
//! Owns: Orquesta's schema and the Draft 4 keywords it uses. Must not: check anything the
//! schema does not say (semantics and expressions are other categories).

use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Map, Value, json};

use super::{At, Category, Problem};
use crate::pyfmt::py_repr;
use crate::schema::matches_type;

/// Checks `document` (a definition as read) against the schema.
pub(super) fn inspect(document: &Map<String, Value>) -> Vec<Problem> {
    let mut instance = document.clone();
    items_shorthand(&mut instance);
    let mut problems = Vec::new();
    let schema = schema().as_object().expect("the schema is a mapping");
    Validator { problems: &mut problems }.check(&Value::Object(instance), schema, &mut Vec::new(), &mut Vec::new());
    problems
}

/// Orquesta reads `with: <text>` as `with: {items: <text>}` before it validates.
fn items_shorthand(document: &mut Map<String, Value>) {
    let Some(Value::Object(tasks)) = document.get_mut("tasks") else { return };
    for task in tasks.values_mut().filter_map(Value::as_object_mut) {
        if let Some(Value::String(items)) = task.get("with") {
            let items = Value::String(items.clone());
            task.insert("with".to_string(), json!({"items": items}));
        }
    }
}

/// Orquesta's schema of a native workflow, its parts as `orquesta.specs.types` names them.
fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let nonempty_string = json!({"type": "string", "minLength": 1});
        let positive_integer = json!({"type": "integer", "minimum": 0});
        let types = ["null", "array", "boolean", "integer", "number", "object", "string"];
        let any_nullable = json!({"anyOf": types.iter().map(|name| json!({"type": name})).collect::<Vec<_>>()});
        let one_key_dict = json!({"type": "object", "minProperties": 1, "maxProperties": 1,
            "patternProperties": {r"^\w+$": any_nullable}});
        let unique_one_key_dict_list =
            json!({"type": "array", "items": one_key_dict, "uniqueItems": true, "minItems": 1});
        let string_or_positive_integer = json!({"oneOf": [nonempty_string, positive_integer]});
        let transition = json!({"type": "object", "properties": {
            "when": nonempty_string,
            "publish": {"oneOf": [nonempty_string, unique_one_key_dict_list]},
            "do": {"oneOf": [nonempty_string,
                {"type": "array", "items": nonempty_string, "uniqueItems": true, "minItems": 1}]},
        }, "additionalProperties": false});
        let task = json!({"type": "object", "properties": {
            "delay": string_or_positive_integer,
            "join": {"oneOf": [{"enum": ["all"]}, positive_integer]},
            "with": {"type": "object", "properties": {
                "items": {"type": "string", "minLength": 1, "pattern": ITEMS_PATTERN},
                "concurrency": string_or_positive_integer,
            }, "additionalProperties": false},
            "action": nonempty_string,
            "input": {"oneOf": [nonempty_string,
                {"type": "object", "minProperties": 1, "patternProperties": {r"^\w+$": any_nullable}}]},
            "retry": {"type": "object", "properties": {
                "when": nonempty_string,
                "count": string_or_positive_integer,
                "delay": string_or_positive_integer,
            }, "required": ["count"], "additionalProperties": false},
            "next": {"type": "array", "items": transition},
        }, "additionalProperties": false});
        json!({"type": "object", "properties": {
            "vars": unique_one_key_dict_list,
            "input": {"type": "array", "items": {"oneOf": [nonempty_string, one_key_dict]},
                "uniqueItems": true, "minItems": 1},
            "output": unique_one_key_dict_list,
            "tasks": {"type": "object", "minProperties": 1, "patternProperties": {r"^\w+$": task}},
            "name": nonempty_string,
            "version": {"anyOf": [nonempty_string, positive_integer, {"type": "number", "minimum": 0.0}],
                "enum": ["1.0", 1.0]},
            "description": nonempty_string,
            "tags": {"type": "array", "items": nonempty_string, "uniqueItems": true, "minItems": 1},
        }, "required": ["tasks"], "additionalProperties": false})
    })
}

/// `with.items`: `<expression>` or `x, y in <expression>`.
const ITEMS_PATTERN: &str =
    r"^(\s+)?({{.*?}}|<%.*?%>)(\s+)?$|^(\s+)?((\w+,\s?|\s+)+)?(\w+)\s+in\s+({{.*?}}|<%.*?%>)(\s+)?$";

/// Python's `re.search` with one of the schema's patterns (Python's `$` also matches before
/// a final newline).
fn search(pattern: &str, text: &str) -> bool {
    static COMPILED: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    let compiled = COMPILED.get_or_init(|| {
        [
            (r"^\w+$", r"^\w+\n?\z"),
            (
                ITEMS_PATTERN,
                r"^(\s+)?(\{\{.*?\}\}|<%.*?%>)(\s+)?\n?\z|^(\s+)?((\w+,\s?|\s+)+)?(\w+)\s+in\s+(\{\{.*?\}\}|<%.*?%>)(\s+)?\n?\z",
            ),
        ]
        .into_iter()
        .map(|(python, rust)| (python, Regex::new(rust).expect("the schema's patterns compile")))
        .collect()
    });
    compiled.iter().find(|(python, _)| *python == pattern).is_some_and(|(_, regex)| regex.is_match(text))
}

/// A step of a path: a key or an index.
#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Orquesta's way of writing a path: `tasks.t1.next[0].do`.
fn written(path: &[Step]) -> String {
    let mut text = String::new();
    for step in path {
        match step {
            Step::Index(index) => text.push_str(&format!("[{index}]")),
            Step::Key(key) if text.is_empty() => text.push_str(key),
            Step::Key(key) => text.push_str(&format!(".{key}")),
        }
    }
    text
}

struct Validator<'a> {
    problems: &'a mut Vec<Problem>,
}

impl Validator<'_> {
    /// Whether `instance` is valid under `schema` (nothing recorded).
    fn valid(instance: &Value, schema: &Value) -> bool {
        let mut problems = Vec::new();
        if let Some(schema) = schema.as_object() {
            Validator { problems: &mut problems }.check(instance, schema, &mut Vec::new(), &mut Vec::new());
        }
        problems.is_empty()
    }

    fn fail(&mut self, path: &[Step], schema_path: &[String], keyword: &str, message: String) {
        let mut keyword_path = schema_path.to_vec();
        keyword_path.push(keyword.to_string());
        let at = At { spec_path: written(path), schema_path: keyword_path.join(".") };
        self.problems.push(at.problem(Category::Syntax, unescape(&message)));
    }

    fn descend(
        &mut self,
        instance: &Value,
        schema: &Value,
        path: &mut Vec<Step>,
        schema_path: &mut Vec<String>,
        step: Step,
        schema_steps: &[&str],
    ) {
        let Some(schema) = schema.as_object() else { return };
        path.push(step);
        let depth = schema_path.len();
        schema_path.extend(schema_steps.iter().map(|s| s.to_string()));
        self.check(instance, schema, path, schema_path);
        schema_path.truncate(depth);
        path.pop();
    }

    fn check(
        &mut self,
        instance: &Value,
        schema: &Map<String, Value>,
        path: &mut Vec<Step>,
        schema_path: &mut Vec<String>,
    ) {
        let repr = || py_repr(instance);
        for (keyword, value) in schema {
            match keyword.as_str() {
                "type" if !matches_type(instance, value) => {
                    let names = match value {
                        Value::Array(names) => names.iter().map(py_repr).collect::<Vec<_>>().join(", "),
                        name => py_repr(name),
                    };
                    self.fail(path, schema_path, keyword, format!("{} is not of type {names}", repr()));
                }
                "properties" => {
                    let (Some(object), Some(properties)) = (instance.as_object(), value.as_object()) else { continue };
                    for (name, subschema) in properties {
                        if let Some(item) = object.get(name) {
                            let step = Step::Key(name.clone());
                            self.descend(item, subschema, path, schema_path, step, &["properties", name]);
                        }
                    }
                }
                "patternProperties" => {
                    let (Some(object), Some(patterns)) = (instance.as_object(), value.as_object()) else { continue };
                    for (pattern, subschema) in patterns {
                        for (name, item) in object.iter().filter(|(name, _)| search(pattern, name)) {
                            let step = Step::Key(name.clone());
                            self.descend(item, subschema, path, schema_path, step, &["patternProperties", pattern]);
                        }
                    }
                }
                "additionalProperties" if value == &Value::Bool(false) => {
                    let Some(object) = instance.as_object() else { continue };
                    let known = schema.get("properties").and_then(Value::as_object);
                    let patterns = schema.get("patternProperties").and_then(Value::as_object);
                    let mut extras: Vec<&String> = object
                        .keys()
                        .filter(|key| !known.is_some_and(|known| known.contains_key(*key)))
                        .filter(|key| !patterns.is_some_and(|p| p.keys().any(|pattern| search(pattern, key))))
                        .collect();
                    if extras.is_empty() {
                        continue;
                    }
                    extras.sort();
                    let names = extras.iter().map(|key| py_repr(&json!(key))).collect::<Vec<_>>().join(", ");
                    let message = match patterns {
                        Some(patterns) => {
                            let verb = if extras.len() == 1 { "does" } else { "do" };
                            let mut regexes: Vec<&String> = patterns.keys().collect();
                            regexes.sort();
                            let regexes = regexes.iter().map(|p| py_repr(&json!(p))).collect::<Vec<_>>().join(", ");
                            format!("{names} {verb} not match any of the regexes: {regexes}")
                        }
                        None => {
                            let verb = if extras.len() == 1 { "was" } else { "were" };
                            format!("Additional properties are not allowed ({names} {verb} unexpected)")
                        }
                    };
                    self.fail(path, schema_path, keyword, message);
                }
                "required" => {
                    let (Some(object), Some(required)) = (instance.as_object(), value.as_array()) else { continue };
                    for name in required.iter().filter_map(Value::as_str).filter(|name| !object.contains_key(*name)) {
                        self.fail(
                            path,
                            schema_path,
                            keyword,
                            format!("{} is a required property", py_repr(&json!(name))),
                        );
                    }
                }
                "minProperties" => {
                    let (Some(object), Some(least)) = (instance.as_object(), value.as_u64()) else { continue };
                    if (object.len() as u64) < least {
                        let says = if least == 1 { "should be non-empty" } else { "does not have enough properties" };
                        self.fail(path, schema_path, keyword, format!("{} {says}", repr()));
                    }
                }
                "maxProperties" => {
                    let (Some(object), Some(most)) = (instance.as_object(), value.as_u64()) else { continue };
                    if object.len() as u64 > most {
                        let says = if most == 0 { "is expected to be empty" } else { "has too many properties" };
                        self.fail(path, schema_path, keyword, format!("{} {says}", repr()));
                    }
                }
                "items" => {
                    let Some(items) = instance.as_array() else { continue };
                    for (index, item) in items.iter().enumerate() {
                        self.descend(item, value, path, schema_path, Step::Index(index), &["items"]);
                    }
                }
                "uniqueItems" if value == &Value::Bool(true) => {
                    let Some(items) = instance.as_array() else { continue };
                    let repeated =
                        items.iter().enumerate().any(|(i, a)| items[i + 1..].iter().any(|b| python_equal(a, b)));
                    if repeated {
                        self.fail(path, schema_path, keyword, format!("{} has non-unique elements", repr()));
                    }
                }
                "minItems" => {
                    let (Some(items), Some(least)) = (instance.as_array(), value.as_u64()) else { continue };
                    if (items.len() as u64) < least {
                        let says = if least == 1 { "should be non-empty" } else { "is too short" };
                        self.fail(path, schema_path, keyword, format!("{} {says}", repr()));
                    }
                }
                "minLength" => {
                    let (Some(text), Some(least)) = (instance.as_str(), value.as_u64()) else { continue };
                    if (text.chars().count() as u64) < least {
                        let says = if least == 1 { "should be non-empty" } else { "is too short" };
                        self.fail(path, schema_path, keyword, format!("{} {says}", repr()));
                    }
                }
                "minimum" => {
                    let (Some(number), Some(least)) =
                        (instance.as_f64().filter(|_| instance.is_number()), value.as_f64())
                    else {
                        continue;
                    };
                    if number < least {
                        let message = format!("{} is less than the minimum of {}", repr(), py_repr(value));
                        self.fail(path, schema_path, keyword, message);
                    }
                }
                "pattern" => {
                    let (Some(text), Some(pattern)) = (instance.as_str(), value.as_str()) else { continue };
                    if !search(pattern, text) {
                        let message = format!("{} does not match {}", repr(), py_repr(value));
                        self.fail(path, schema_path, keyword, message);
                    }
                }
                "enum" => {
                    let Some(allowed) = value.as_array() else { continue };
                    if !allowed.iter().any(|each| python_equal(instance, each)) {
                        self.fail(path, schema_path, keyword, format!("{} is not one of {}", repr(), py_repr(value)));
                    }
                }
                "anyOf" => {
                    let Some(choices) = value.as_array() else { continue };
                    if !choices.iter().any(|choice| Self::valid(instance, choice)) {
                        let message = format!("{} is not valid under any of the given schemas", repr());
                        self.fail(path, schema_path, keyword, message);
                    }
                }
                "oneOf" => {
                    let Some(choices) = value.as_array() else { continue };
                    match choices.iter().position(|choice| Self::valid(instance, choice)) {
                        None => {
                            let message = format!("{} is not valid under any of the given schemas", repr());
                            self.fail(path, schema_path, keyword, message);
                        }
                        Some(first) => {
                            let mut more: Vec<&Value> =
                                choices[first + 1..].iter().filter(|choice| Self::valid(instance, choice)).collect();
                            if !more.is_empty() {
                                more.push(&choices[first]);
                                let each = more.iter().map(|choice| py_repr(choice)).collect::<Vec<_>>().join(", ");
                                self.fail(
                                    path,
                                    schema_path,
                                    keyword,
                                    format!("{} is valid under each of {each}", repr()),
                                );
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// jsonschema's equality: numbers by value (`1 == 1.0`), booleans apart from numbers, lists
/// and mappings item by item.
fn python_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| python_equal(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(key, x)| y.get(key).is_some_and(|y| python_equal(x, y)))
        }
        (a, b) => a == b,
    }
}

/// Orquesta passes each message through Python's `unicode_escape` decoding: backslash escapes
/// are read (`\\` becomes `\`) and every other byte of the UTF-8 text stands for itself (so
/// non-ASCII text comes out as Latin-1 reads its bytes).
fn unescape(message: &str) -> String {
    let bytes = message.as_bytes();
    let mut out = String::new();
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte != b'\\' || at + 1 == bytes.len() {
            out.push(char::from(byte));
            at += 1;
            continue;
        }
        let next = bytes[at + 1];
        let hex = |from: usize, digits: usize| {
            std::str::from_utf8(bytes.get(from..from + digits)?)
                .ok()
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32)
        };
        let (decoded, used) = match next {
            b'\\' => (Some('\\'), 2),
            b'\'' => (Some('\''), 2),
            b'"' => (Some('"'), 2),
            b'a' => (Some('\x07'), 2),
            b'b' => (Some('\x08'), 2),
            b'f' => (Some('\x0c'), 2),
            b'n' => (Some('\n'), 2),
            b'r' => (Some('\r'), 2),
            b't' => (Some('\t'), 2),
            b'v' => (Some('\x0b'), 2),
            b'x' => (hex(at + 2, 2), 4),
            b'u' => (hex(at + 2, 4), 6),
            b'U' => (hex(at + 2, 8), 10),
            _ => (None, 1),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                at += used;
            }
            None => {
                out.push('\\');
                at += 1;
            }
        }
    }
    out
}
