//! The fuzz targets, one per parser or evaluator, and what they share: inputs made of parts
//! separated by NUL bytes (an expression and the context it runs over), and sample contexts.
//!
//! Owns: the list of targets and the input layouts. Must not: catch panics or time inputs
//! (the engine does); a target only feeds the input to the project's code.

mod chain;
mod criteria;
mod grpc;
mod jinja;
mod loader;
mod orquesta;
mod webhook;
mod yaml;
mod yaql;

use serde_json::{Map, Value, json};

use crate::engine::Target;

/// Every target, in the order `all` runs them.
pub static TARGETS: &[&Target] = &[
    &loader::TARGET,
    &yaml::TARGET,
    &jinja::TARGET,
    &yaql::TARGET,
    &criteria::TARGET,
    &orquesta::TARGET,
    &chain::TARGET,
    &webhook::TARGET,
    &grpc::TARGET,
];

/// The target called `name`.
pub fn find(name: &str) -> Option<&'static Target> {
    TARGETS.iter().copied().find(|t| t.name == name)
}

/// The input's text before the first NUL, and the JSON object after it (a sample context
/// when that part is missing or not an object).
pub(crate) fn text_and_context(input: &[u8]) -> (String, Map<String, Value>) {
    let (head, tail) = match input.iter().position(|b| *b == 0) {
        Some(at) => (&input[..at], &input[at + 1..]),
        None => (input, &[][..]),
    };
    let context = match serde_json::from_slice::<Value>(tail) {
        Ok(Value::Object(map)) => map,
        _ => sample_context(tail.first().copied().unwrap_or(0)),
    };
    (String::from_utf8_lossy(head).into_owned(), context)
}

/// `text` and `context` as one input.
pub(crate) fn join(text: &str, context: &Value) -> Vec<u8> {
    let mut out = text.as_bytes().to_vec();
    out.push(0);
    out.extend_from_slice(context.to_string().as_bytes());
    out
}

/// Contexts as rules and workflows see them: a trigger payload, a workflow's variables,
/// nested lists and maps, odd numbers and text.
pub(crate) fn contexts() -> Vec<Value> {
    vec![
        json!({}),
        json!({"trigger": {"body": {"x": 1, "tags": ["a", "b"]}, "headers": {"Content-Type": "application/json"}}}),
        json!({"a": 1, "b": 2.5, "c": "text", "d": [1, 2, 3], "e": {"f": {"g": [{"h": null}]}}, "t": true}),
        json!({"items": (0..50).collect::<Vec<_>>(), "name": "st2", "hosts": ["web-1", "web-2"], "n": -9223372036854775807_i64}),
        json!({"s": "ünïcødé ✓ 🦀", "big": 1.7976931348623157e308, "neg": -0.0, "list": [[[[]]]], "map": {"": {"": ""}}}),
        json!({"trigger": {"payload": {"message": "disk full on web-1", "level": 3, "when": "2026-01-01T00:00:00Z"}}}),
        json!({"__task": "t1", "st2": {"action_execution_id": "1234", "user": "stanley"}, "result": {"stdout": "ok", "return_code": 0}}),
    ]
}

/// One of `contexts()`, chosen by `byte`.
pub(crate) fn sample_context(byte: u8) -> Map<String, Value> {
    let all = contexts();
    match all.get(usize::from(byte) % all.len()) {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    }
}

/// Seeds that pair each of `texts` with a few contexts.
pub(crate) fn with_contexts(texts: &[String]) -> Vec<Vec<u8>> {
    let contexts = contexts();
    texts.iter().enumerate().map(|(i, text)| join(text, &contexts[i % contexts.len()])).collect()
}
