//! `orquesta`: workflow definitions read from a file as the loader and the conductor read them
//! (`WorkflowSpec::read_document`), then through st2d's own reading, Orquesta's inspection and
//! the compile check of every expression in them.
//!
//! Owns: this target's seeds and tokens, and the scratch file it writes. Must not: run a
//! workflow.

use serde_json::Value;
use st2d_core::orquesta::spec::WorkflowSpec;

use crate::engine::{Outcome, Target};
use crate::mutate::Grammar;
use crate::seeds;

pub static TARGET: Target = Target {
    name: "orquesta",
    about: "Orquesta definitions: st2d_core::orquesta spec, inspection and expression checks",
    grammar: Grammar {
        tokens: &[
            "version: 1.0\n",
            "tasks:\n",
            "  t1:\n",
            "    action: core.noop\n",
            "    next:\n",
            "      - when: ",
            "        do: t2\n",
            "        publish:\n",
            "          - x: ",
            "    join: all\n",
            "    join: 2\n",
            "    with:\n",
            "      items: ",
            "      concurrency: ",
            "    retry:\n",
            "      count: ",
            "      delay: ",
            "input:\n",
            "  - a\n",
            "vars:\n",
            "output:\n",
            "<% ctx(a) %>",
            "<% succeeded() %>",
            "<% result() %>",
            "{{ ctx('a') }}",
            "{{ succeeded() }}",
            "<% task(t1).result %>",
            "do: ",
            "noop",
            "fail",
            "retry",
            "- ",
            ": ",
            "\n",
            "\n  ",
            "x in <% ctx(xs) %>",
            "x, y in <% zip(ctx(a), ctx(b)) %>",
            "a=1 b=<% 2 %>",
            "&a ",
            "*a",
            "<<: *a",
            "[",
            "]",
            "{",
            "}",
        ],
        nesting: &[("[", "]"), ("{a: ", "}"), ("<% (", ") %>"), ("{{ (", ") }}")],
    },
    seeds,
    run,
};

fn seeds() -> Vec<Vec<u8>> {
    seeds::documents_containing(
        &[
            include_str!("../../../core/src/orquesta/inspect/tests.rs"),
            include_str!("../../../core/src/orquesta/spec.rs"),
            include_str!("../../../tests/e2e/orquesta.rs"),
            include_str!("../../../tests/e2e/orquesta_inspection.rs"),
            include_str!("../../../tests/e2e/orquesta_semantics.rs"),
            include_str!("../../../tests/e2e/rerun.rs"),
        ],
        "tasks:",
    )
}

thread_local! {
    static SCRATCH: Option<tempfile::TempDir> = tempfile::tempdir().ok();
}

fn run(input: &[u8]) -> Outcome {
    let Some(Ok((_, document))) = SCRATCH.with(|dir| {
        dir.as_ref().map(|dir| {
            let path = dir.path().join("workflow.yaml");
            let _ = std::fs::write(&path, input);
            WorkflowSpec::read_document(&path)
        })
    }) else {
        return Outcome::Rejected;
    };
    let _ = WorkflowSpec::problems(&document);
    let parsed = WorkflowSpec::parse(&document);
    let _ = st2d_core::orquesta::expr::check(&document);
    if let Value::Object(tasks) = &document["tasks"] {
        for task in tasks.values() {
            if let Some(Value::String(items)) = task.pointer("/with/items").or_else(|| task.get("with")) {
                let _ = st2d_core::orquesta::inline::pairs(items);
            }
        }
    }
    if parsed.is_ok() { Outcome::Accepted } else { Outcome::Rejected }
}
