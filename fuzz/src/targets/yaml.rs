//! `yaml`: any text through `st2d_core::yaml` (the reader every pack file goes through) and
//! its line lookups.
//!
//! Owns: this target's seeds and tokens. Must not: interpret the document.

use crate::engine::{Outcome, Target};
use crate::mutate::Grammar;
use crate::seeds;

pub static TARGET: Target = Target {
    name: "yaml",
    about: "st2d_core::yaml: parse, merge keys, key and field lines",
    grammar: Grammar {
        tokens: &[
            ": ",
            "- ",
            "\n",
            "\n  ",
            "&a ",
            "*a",
            "<<: *a",
            "<<: [*a, *a]",
            "? ",
            "|",
            ">",
            "|-",
            "---\n",
            "...\n",
            "!!str ",
            "!!int ",
            "!!map ",
            "!!seq ",
            "!!binary ",
            "!tag ",
            "%YAML 1.2\n",
            "%TAG ! tag:x,2000:\n",
            "{",
            "}",
            "[",
            "]",
            ", ",
            "'",
            "\"",
            "#",
            "~",
            "null",
            "yes",
            "on",
            "0o17",
            "0x1F",
            ".inf",
            ".nan",
            "2001-12-14t21:59:43.10-05:00",
            "\t",
            "\r\n",
            "\u{feff}",
        ],
        nesting: &[("[", "]"), ("{a: ", "}"), ("- ", ""), ("[&x ", "]")],
    },
    seeds,
    run,
};

fn seeds() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = seeds::builtin_files()
        .into_iter()
        .filter(|(path, _)| path.ends_with(".yaml") || path.ends_with(".yml"))
        .map(|(_, text)| text.as_bytes().to_vec())
        .collect();
    out.extend(
        seeds::literals_where(&[include_str!("../../../core/src/yaml.rs")], |t| t.contains(':'))
            .into_iter()
            .map(String::into_bytes),
    );
    out.extend(seeds::corpus_yaml().into_iter().map(|(_, text)| text.into_bytes()));
    out
}

fn run(input: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(input);
    let _ = st2d_core::yaml::key_line(&text, "name");
    let _ = st2d_core::yaml::field_line(&text, "parameters.cmd");
    match st2d_core::yaml::parse(&text) {
        Ok(_) => Outcome::Accepted,
        Err(_) => Outcome::Rejected,
    }
}
