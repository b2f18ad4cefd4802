//! `webhook`: request bodies with each content type the ingress accepts (JSON and `+json`,
//! forms, plain text, and refused ones) through its body decoding
//! (`st2d::ingress::decode_body`), then the webhook payload check against payload schemas.
//!
//! Input layout: the Content-Type on the first line, the body after it.
//!
//! Owns: this target's seeds and tokens. Must not: reach the journal.

use serde_json::{Map, Value, json};
use st2d::ingress::{Decoded, decode_body};

use crate::engine::{Outcome, Target};
use crate::mutate::Grammar;

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "application/vnd.github+json",
    "application/x-www-form-urlencoded",
    "text/plain; charset=utf-8",
    "",
    "application/xml",
    "APPLICATION/JSON ; q=1",
];

pub static TARGET: Target = Target {
    name: "webhook",
    about: "webhook bodies of each content type through the ingress body decoding and payload checks",
    grammar: Grammar {
        tokens: &[
            "{",
            "}",
            "[",
            "]",
            "\"",
            ":",
            ",",
            "true",
            "null",
            "1e309",
            "-0",
            "\\u0000",
            "\\ud800",
            "\\uDFFF",
            "&",
            "=",
            "+",
            "%",
            "%00",
            "%ZZ",
            "%7B",
            "%F0%9F",
            "a=1&a=2",
            "\n",
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "+json",
            "; charset=latin1",
        ],
        nesting: &[("[", "]"), ("{\"a\":", "}")],
    },
    seeds,
    run,
};

fn seeds() -> Vec<Vec<u8>> {
    let bodies = [
        r#"{"a": [1, 2], "b": {"c": "d"}}"#,
        "  ",
        r#"{"zen": "ok", "hook": {"id": 1}, "n": 1.5e10}"#,
        "payload=%7B%22x%22%3A1%7D&tag=a+b&tag=c&empty=",
        "disk full on web-1",
        "<a/>",
        r#"{"trigger": "core.st2.webhook", "payload": {"x": "ünï"}}"#,
        "[1, 2, 3]",
    ];
    CONTENT_TYPES
        .iter()
        .zip(bodies.iter().cycle())
        .map(|(content_type, body)| format!("{content_type}\n{body}").into_bytes())
        .collect()
}

fn schemas() -> [Value; 3] {
    [
        json!({"type": "object"}),
        json!({"type": "object", "properties": {"headers": {"type": "object"}, "body": {"type": "object",
            "properties": {"a": {"type": "array", "items": {"type": "integer"}}, "zen": {"type": "string", "default": "x"}},
            "additionalProperties": false}}}),
        json!({"type": "object", "required": ["body"], "properties": {"body": {"type": ["string", "object", "null"],
            "enum": ["disk full on web-1", {"a": 1}]}}}),
    ]
}

fn run(input: &[u8]) -> Outcome {
    let (content_type, body) = match input.iter().position(|b| *b == b'\n') {
        Some(at) => (&input[..at], &input[at + 1..]),
        None => (input, &[][..]),
    };
    let content_type = String::from_utf8_lossy(content_type);
    let decoded = match decode_body(&content_type, body) {
        Ok(Decoded::Json(value) | Decoded::Other(value)) => value,
        Err(_) => return Outcome::Rejected,
    };
    for schema in schemas() {
        let mut payload = Map::new();
        payload.insert("headers".to_string(), json!({"Content-Type": content_type}));
        payload.insert("body".to_string(), decoded.clone());
        let _ = st2d::trigger::payload::validate(&mut Value::Object(payload), &schema);
    }
    Outcome::Accepted
}
