//! `chain`: action-chain definitions read from a file as the conductor reads them
//! (`ChainSpec::load`), and through `ChainSpec::parse` from the project's YAML reader.
//!
//! Owns: this target's seeds and tokens, and the scratch file it writes. Must not: run a chain.

use st2d_core::chain::ChainSpec;

use crate::engine::{Outcome, Target};
use crate::mutate::Grammar;
use crate::seeds;

pub static TARGET: Target = Target {
    name: "chain",
    about: "action-chain definitions: st2d_core::chain load and checks",
    grammar: Grammar {
        tokens: &[
            "chain:\n",
            "  - name: ",
            "    ref: core.local\n",
            "    params:\n",
            "      cmd: ",
            "    on-success: ",
            "    on-failure: ",
            "    publish:\n",
            "      x: ",
            "default: ",
            "vars:\n",
            "  a: ",
            "{{ a }}",
            "{{ st2kv.system.k }}",
            "{{ __results.t1 }}",
            "- ",
            ": ",
            "\n",
            "\n    ",
            "&a ",
            "*a",
            "<<: *a",
            "[",
            "]",
            "{",
            "}",
            "null",
            "~",
        ],
        nesting: &[("[", "]"), ("{a: ", "}")],
    },
    seeds,
    run,
};

fn seeds() -> Vec<Vec<u8>> {
    seeds::documents_containing(
        &[
            include_str!("../../../core/src/chain.rs"),
            include_str!("../../../daemon/src/workflow/chain/mod.rs"),
            include_str!("../../../tests/e2e/workflows.rs"),
        ],
        "chain:",
    )
}

thread_local! {
    static SCRATCH: Option<tempfile::TempDir> = tempfile::tempdir().ok();
}

fn run(input: &[u8]) -> Outcome {
    let loaded = SCRATCH.with(|dir| {
        dir.as_ref().map(|dir| {
            let path = dir.path().join("chain.yaml");
            let _ = std::fs::write(&path, input);
            ChainSpec::load(&path)
        })
    });
    if let Ok(document) = st2d_core::yaml::parse(&String::from_utf8_lossy(input)) {
        let _ = ChainSpec::parse(&document);
    }
    match loaded {
        Some(Ok(_)) => Outcome::Accepted,
        _ => Outcome::Rejected,
    }
}
