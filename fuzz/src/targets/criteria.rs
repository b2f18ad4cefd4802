//! `criteria`: rule criteria (YAML, as a rule file holds them) compiled and evaluated against a
//! payload taken from the input, with literal patterns and with patterns rendered as the rules
//! engine renders them.
//!
//! Owns: this target's seeds and tokens. Must not: judge whether a payload matches.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use st2d_core::criteria::matcher::{Criteria, Literal};
use st2d_core::criteria::patterns::TemplatePatterns;
use st2d_core::template::NoKeyValues;

use super::{contexts, join, text_and_context};
use crate::engine::{Outcome, Target};
use crate::mutate::Grammar;
use st2d_core::pack::validate::OPERATORS;

pub static TARGET: Target = Target {
    name: "criteria",
    about: "st2d_core::criteria: compile and evaluate rule criteria over random payloads",
    grammar: Grammar {
        tokens: &[
            "trigger.",
            "trigger.body.x",
            "trigger.body.tags",
            "trigger['a']",
            "trigger.a[0]",
            "#1",
            "#tag",
            "item.",
            "type: ",
            "pattern: ",
            "condition: any",
            "condition: all",
            "condition: any2any",
            "condition: all2any",
            "\n  ",
            "\n    ",
            ": ",
            "- ",
            "{{ trigger.body.x }}",
            "{{ st2kv.system.k }}",
            "(a+)+$",
            ".*",
            "*",
            "?",
            "[",
            "]",
            "\\",
            "^",
            "$",
            "2026-01-01T00:00:00Z",
            "1e308",
            "equals",
            "regex",
            "search",
            "matchwildcard",
            "timediff_lt",
            "inside",
            "exists",
            "lessthan",
        ],
        nesting: &[("[", "]"), ("{", "}"), ("(", ")"), ("trigger.a", "")],
    },
    seeds,
    run,
};

fn seeds() -> Vec<Vec<u8>> {
    let patterns = [
        json!("x"),
        json!(1),
        json!(2.5),
        json!("{{ trigger.body.x }}"),
        json!(["a", "b"]),
        json!("^web-[0-9]+$"),
        json!("*full*"),
        json!(60),
        json!(null),
    ];
    let keys = ["trigger.body.x", "trigger.body.tags", "trigger.payload.message", "trigger.a.b.c", "trigger.n#1"];
    let contexts = contexts();
    let mut out = Vec::new();
    for (i, operator) in OPERATORS.iter().enumerate() {
        let key = keys[i % keys.len()];
        let pattern = &patterns[i % patterns.len()];
        let criteria = if *operator == "search" {
            format!(
                "{key}:\n  type: search\n  condition: any\n  pattern:\n    item.x:\n      type: equals\n      pattern: 1\n"
            )
        } else {
            format!("{key}:\n  type: {operator}\n  pattern: {pattern}\n")
        };
        out.push(join(&criteria, &contexts[i % contexts.len()]));
    }
    out
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default()
}

fn run(input: &[u8]) -> Outcome {
    let (text, context) = text_and_context(input);
    let Ok(Value::Object(criteria)) = st2d_core::yaml::parse(&text) else { return Outcome::Rejected };
    let Ok(compiled) = Criteria::compile(&criteria) else { return Outcome::Rejected };
    let payload = context.get("trigger").cloned().unwrap_or(Value::Object(context));
    let _ = compiled.evaluate(&payload, &Literal, now());
    let _ = compiled.evaluate(&payload, &TemplatePatterns::new(Arc::new(NoKeyValues)), now());
    Outcome::Accepted
}
