//! `jinja`: templates rendered with StackStorm's filters (`st2d_core::template`: as text,
//! typed, as a parameter value and as a criteria pattern) and as workflow Jinja with Orquesta's
//! functions, over a context taken from the input.
//!
//! Owns: this target's seeds and tokens. Must not: judge what a template renders to.

use std::sync::Arc;

use serde_json::Value;
use st2d_core::template::{self, Context, NoKeyValues};

use super::{text_and_context, with_contexts};
use crate::engine::{Outcome, Target};
use crate::mutate::Grammar;
use crate::seeds;

pub static TARGET: Target = Target {
    name: "jinja",
    about: "st2d_core::template (StackStorm's filters) and Orquesta's Jinja, over a random context",
    grammar: Grammar {
        tokens: &[
            "{{",
            "}}",
            "{%",
            "%}",
            "{#",
            "#}",
            " | ",
            "|",
            ".",
            "[",
            "]",
            "(",
            ")",
            ",",
            "~",
            "+",
            "*",
            "**",
            "//",
            "%",
            " if ",
            " else ",
            " in ",
            " not ",
            " and ",
            " or ",
            " is ",
            "range(",
            "loop.index",
            "{% for x in ",
            "{% endfor %}",
            "{% if ",
            "{% endif %}",
            "{% set x = ",
            "{% macro m() %}",
            "{% endmacro %}",
            "m()",
            "{% raw %}",
            "{% endraw %}",
            "{% filter upper %}",
            "{% endfilter %}",
            "trigger",
            "trigger.body",
            "st2kv.system.k",
            "st2kv.user.k",
            "ctx()",
            "ctx('a')",
            "task('t').result",
            "item()",
            "to_complex",
            "json_escape",
            "to_json_string",
            "to_yaml_string",
            "from_json_string",
            "from_yaml_string",
            "regex_replace('(a+)+$', 'b')",
            "regex_match('.*')",
            "regex_search('x')",
            "regex_substring('.')",
            "jsonpath_query('$..*')",
            "to_human_time_from_seconds",
            "version_compare('1.0.0')",
            "version_bump_major",
            "use_none",
            "basename",
            "dirname",
            "decrypt_kv",
            "tojson",
            "list",
            "join",
            "replace('a', 'aa')",
            "format",
            "wordwrap",
            "center(100000000)",
            "indent(99999)",
            "truncate",
            "sum",
            "batch(3)",
            "slice(3)",
            "sort",
            "unique",
            "map('upper')",
            "dictsort",
            "int",
            "float",
            "abs",
            "round",
            "1e308",
            "9999999999999999999999",
            "'",
            "\"",
            "\\",
            "\u{0}",
        ],
        nesting: &[
            ("(", ")"),
            ("[", "]"),
            ("{{ (", ") }}"),
            ("{% if true %}", "{% endif %}"),
            ("{% for x in [1] %}", "{% endfor %}"),
            ("{{ [", "] }}"),
            ("x|", ""),
        ],
    },
    seeds,
    run,
};

fn seeds() -> Vec<Vec<u8>> {
    let texts = seeds::literals_where(
        &[
            include_str!("../../../core/src/template/tests.rs"),
            include_str!("../../../core/src/template/mod.rs"),
            include_str!("../../../core/src/orquesta/functions_tests.rs"),
            include_str!("../../../core/src/orquesta/expr.rs"),
            include_str!("../../../core/src/criteria/matcher.rs"),
            include_str!("../../../core/src/criteria/patterns.rs"),
            include_str!("../../../daemon/src/action/params_tests.rs"),
            include_str!("../../../daemon/src/workflow/chain/mod.rs"),
            include_str!("../../../tests/e2e/executions.rs"),
            include_str!("../../../tests/e2e/webhooks.rs"),
            include_str!("../../../tests/e2e/datastore.rs"),
        ],
        |t| t.contains("{{") || t.contains("{%"),
    );
    with_contexts(&texts)
}

fn run(input: &[u8]) -> Outcome {
    let (source, values) = text_and_context(input);
    let mut context = Context::new(Arc::new(NoKeyValues), template::SYSTEM_USER).with_legacy_system();
    for (name, value) in &values {
        context.set(name, value.clone());
    }
    let _ = template::variables(&source);
    let rendered = template::render(&source, &context);
    let _ = template::render_typed(&Value::String(source.clone()), &context);
    let _ = template::render_pattern(&Value::String(source.clone()), &context);
    let _ = template::render_value(&Value::Array(vec![Value::String(source.clone())]), &context);
    let scope = st2d_core::orquesta::functions::Scope::new(values, Arc::new(NoKeyValues), template::SYSTEM_USER);
    let _ = st2d_core::orquesta::expr::check(&Value::String(source.clone()));
    let _ = st2d_core::orquesta::expr::evaluate(&Value::String(source), &scope);
    if rendered.is_ok() { Outcome::Accepted } else { Outcome::Rejected }
}
