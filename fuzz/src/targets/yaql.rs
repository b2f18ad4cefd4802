//! `yaql`: YAQL expressions parsed and evaluated (`st2d_core::yaql`) with `$` bound to a
//! context taken from the input, and as workflow expressions with Orquesta's functions.
//!
//! Owns: this target's seeds and tokens. Must not: judge what an expression evaluates to.

use std::sync::Arc;

use serde_json::{Map, Value};
use st2d_core::template::{NoKeyValues, SYSTEM_USER};
use st2d_core::yaql::{self, EvalError, Host};

use super::{text_and_context, with_contexts};
use crate::engine::{Outcome, Target};
use crate::mutate::Grammar;
use crate::seeds;

pub static TARGET: Target = Target {
    name: "yaql",
    about: "st2d_core::yaql parse and evaluate over a random context, and Orquesta's YAQL",
    grammar: Grammar {
        tokens: &[
            "$",
            "$.",
            "$x",
            "$1",
            "->",
            ".",
            "?.",
            "[",
            "]",
            "(",
            ")",
            ",",
            " => ",
            "+",
            "-",
            "*",
            "/",
            " mod ",
            "=",
            "!=",
            "<",
            ">",
            "<=",
            ">=",
            " in ",
            " and ",
            " or ",
            "not ",
            "=~",
            "!~",
            "'",
            "\"",
            "`",
            "null",
            "true",
            "false",
            "range(",
            "range(0, 100000000000)",
            "range(1e9)",
            ".list()",
            "let(x => 1) -> ",
            "select($ * 2)",
            ".where($ > 1)",
            ".select(",
            ".where(",
            ".len()",
            "len(",
            "dict(",
            "list(",
            "str(",
            "int(",
            "float(",
            "sum(",
            "max(",
            "min(",
            "join(",
            ".join(",
            "concat(",
            "replace(",
            "split(",
            "regex(",
            "matches(",
            "sort(",
            "orderBy(",
            "groupBy(",
            "distinct(",
            "flatten(",
            "zip(",
            "ctx()",
            "ctx(x)",
            "task().result",
            "succeeded()",
            "item()",
            "st2kv('k')",
            "json('{}')",
            "first(",
            "last(",
            "skip(",
            "take(",
            "limit(",
            "aggregate(",
            "sequence(",
            "repeat(",
            "cycle(",
            "format(",
            "toUpper(",
            "toLower(",
            "keys(",
            "values(",
            "items(",
            "set(",
            "switch(",
            "coalesce(",
            "isString(",
            "isList(",
            "indexOf(",
            "any(",
            "all(",
            "#",
            "1e308",
            "9223372036854775807",
            "'a' * 100000000",
            "\\",
        ],
        nesting: &[("(", ")"), ("[", "]"), ("{", "}"), ("list(", ")"), ("not ", ""), ("-", ""), ("$.a.", "")],
    },
    seeds,
    run,
};

fn seeds() -> Vec<Vec<u8>> {
    let mut texts = seeds::literals_where(
        &[
            include_str!("../../../core/src/yaql/tests.rs"),
            include_str!("../../../core/src/yaql/parser.rs"),
            include_str!("../../../core/src/yaql/lexer.rs"),
            include_str!("../../../core/src/orquesta/functions_tests.rs"),
        ],
        |t| !t.is_empty() && t.len() < 400 && !t.contains('\n'),
    );
    texts.extend(
        seeds::literals_where(&[include_str!("../../../core/src/orquesta/inspect/tests.rs")], |t| t.contains("<%"))
            .iter()
            .flat_map(|t| {
                t.split("<%").skip(1).filter_map(|s| s.split("%>").next()).map(str::to_string).collect::<Vec<_>>()
            }),
    );
    with_contexts(&texts)
}

/// The embedding program's functions for the plain evaluation: none.
struct NoHost;

impl Host for NoHost {
    fn call(&self, _: &str, _: &[Value], _: &Map<String, Value>) -> Option<Result<Value, EvalError>> {
        None
    }
}

fn run(input: &[u8]) -> Outcome {
    let (source, context) = text_and_context(input);
    let root = Value::Object(context.clone());
    let outcome = match yaql::parse(&source) {
        Ok(expression) => {
            let _ = expression.functions();
            let _ = expression.evaluate(&root, &NoHost);
            Outcome::Accepted
        }
        Err(_) => Outcome::Rejected,
    };
    let scope = st2d_core::orquesta::functions::Scope::new(context, Arc::new(NoKeyValues), SYSTEM_USER);
    let wrapped = Value::String(format!("<%{source}%>"));
    let _ = st2d_core::orquesta::expr::check(&wrapped);
    let _ = st2d_core::orquesta::expr::evaluate(&wrapped, &scope);
    outcome
}
