//! `loader`: whole packs (`pack.yaml`, actions, workflows, rules, sensors, triggers, aliases,
//! policies, a config schema and a config) written into a scratch pack directory and loaded
//! with the daemon's loader (`st2d::pack::load::load_pack`), once fresh and once over the
//! version it loaded (the last-good path).
//!
//! Input layout: files, each introduced by a line `=== <path inside the pack>`; the path
//! `configs/<anything>` is the pack's config file in the config directory.
//!
//! Owns: this target's seeds, tokens and scratch directories. Must not: write outside them.

use std::path::{Component, Path};

use st2d::pack::load::{PackLoad, load_pack};

use crate::engine::{Outcome, Target};
use crate::mutate::Grammar;
use crate::seeds;

/// The pack's directory name (and so its ref when `pack.yaml` names none).
const PACK: &str = "fuzzpack";

pub static TARGET: Target = Target {
    name: "loader",
    about: "whole packs through the daemon's loader (st2d::pack::load)",
    grammar: Grammar {
        tokens: &[
            "\n=== pack.yaml\n",
            "\n=== actions/a.yaml\n",
            "\n=== actions/workflows/w.yaml\n",
            "\n=== rules/r.yaml\n",
            "\n=== sensors/s.yaml\n",
            "\n=== sensors/s.py\n",
            "\n=== config.schema.yaml\n",
            "\n=== configs/c.yaml\n",
            "\n=== triggers/t.yaml\n",
            "\n=== aliases/al.yaml\n",
            "\n=== policies/p.yaml\n",
            "ref: ",
            "name: ",
            "pack: ",
            "version: ",
            "runner_type: ",
            "entry_point: ",
            "parameters:\n",
            "  p:\n",
            "    type: ",
            "string",
            "integer",
            "number",
            "boolean",
            "array",
            "object",
            "null",
            "    default: ",
            "    required: true",
            "    secret: true",
            "    enum: [",
            "    immutable: true",
            "trigger:\n",
            "  type: ",
            "criteria:\n",
            "action:\n",
            "  ref: ",
            "enabled: ",
            "class_name: ",
            "trigger_types:\n",
            "payload_schema:\n",
            "properties:\n",
            "additionalProperties: false",
            "items:\n",
            "formats:\n",
            "policy_type: ",
            "resource_ref: ",
            "{{ trigger.x }}",
            "<% ctx(a) %>",
            "orquesta",
            "action-chain",
            "local-shell-cmd",
            "python-script",
            "core.noop",
            "- ",
            ": ",
            "\n",
            "\n  ",
            "\n    ",
            "&a ",
            "*a",
            "<<: *a",
            "[",
            "]",
            "{",
            "}",
            "~",
        ],
        nesting: &[("[", "]"), ("{a: ", "}"), ("\n  properties:\n    p:\n      type: object", "")],
    },
    seeds,
    run,
};

/// A pack as one input.
fn pack_input(files: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, text) in files {
        out.extend_from_slice(format!("=== {path}\n").as_bytes());
        out.extend_from_slice(text.as_bytes());
        if !text.ends_with('\n') {
            out.push(b'\n');
        }
    }
    out
}

fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for pack in st2d::pack::builtin::BUILTIN_PACKS {
        let prefix = format!("{pack}/");
        let files: Vec<(String, String)> = seeds::builtin_files()
            .into_iter()
            .filter_map(|(path, text)| Some((path.strip_prefix(&prefix)?.to_string(), text.to_string())))
            .collect();
        out.push(pack_input(&files));
    }
    out.push(pack_input(&[
        ("pack.yaml".into(), "ref: fuzzpack\nname: fuzzpack\ndescription: d\nversion: 1.0.0\nauthor: a\n".into()),
        (
            "config.schema.yaml".into(),
            "host:\n  type: string\n  required: true\nport:\n  type: integer\n  default: 22\ntoken:\n  type: string\n  secret: true\nnested:\n  type: object\n  properties:\n    a:\n      type: array\n      items:\n        type: number\n".into(),
        ),
        ("configs/fuzzpack.yaml".into(), "host: \"{{ st2kv.system.h }}\"\nnested:\n  a: [1, 2.5]\n".into()),
        (
            "actions/a.yaml".into(),
            "name: a\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    type: string\n    default: echo {{ x }}\n  x:\n    type: integer\n    enum: [1, 2]\n".into(),
        ),
        ("actions/w.yaml".into(), "name: w\nrunner_type: orquesta\nentry_point: workflows/w.yaml\n".into()),
        (
            "actions/workflows/w.yaml".into(),
            "version: 1.0\ninput:\n  - a\ntasks:\n  t1:\n    action: core.noop\n    next:\n      - when: <% succeeded() %>\n        publish:\n          - x: <% ctx(a) %>\n        do: t2\n  t2:\n    action: core.echo message=<% ctx(x) %>\noutput:\n  - x: <% ctx(x) %>\n".into(),
        ),
        (
            "rules/r.yaml".into(),
            "name: r\npack: fuzzpack\ntrigger:\n  type: core.st2.webhook\n  parameters:\n    url: x\ncriteria:\n  trigger.body.x:\n    type: equals\n    pattern: 1\naction:\n  ref: fuzzpack.a\n  parameters:\n    x: \"{{ trigger.body.x }}\"\n".into(),
        ),
        (
            "sensors/s.yaml".into(),
            "class_name: S\nentry_point: s.py\ntrigger_types:\n  - name: t\n    payload_schema:\n      type: object\n      properties:\n        a:\n          type: string\n".into(),
        ),
        ("sensors/s.py".into(), "class S: pass\n".into()),
        (
            "policies/p.yaml".into(),
            "name: p\nresource_ref: fuzzpack.a\npolicy_type: action.concurrency\nparameters:\n  threshold: 1\n".into(),
        ),
        ("aliases/al.yaml".into(), "name: al\naction_ref: fuzzpack.a\nformats:\n  - \"run {{ x }}\"\n".into()),
    ]));
    let corpus = Path::new(seeds::CORPUS);
    if let Ok(entries) = std::fs::read_dir(corpus) {
        let mut dirs: Vec<_> = entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
        dirs.sort();
        for dir in dirs {
            let files = seeds::files_under(&dir, &|p| {
                p.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "py")
                    && std::fs::metadata(p).is_ok_and(|m| m.len() < 16 * 1024)
            });
            let files: Vec<(String, String)> = files
                .into_iter()
                .filter_map(|(path, text)| Some((path.strip_prefix(&dir).ok()?.to_string_lossy().into_owned(), text)))
                .collect();
            out.push(pack_input(&files));
        }
    }
    out
}

/// The input's files: (relative path, content). Paths that could leave the pack are dropped.
fn files(input: &[u8]) -> Vec<(String, Vec<u8>)> {
    let text = input;
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for chunk in split_files(text) {
        let (header, body) = match chunk.iter().position(|b| *b == b'\n') {
            Some(at) => (&chunk[..at], &chunk[at + 1..]),
            None => (chunk, &[][..]),
        };
        let path = String::from_utf8_lossy(header).trim().to_string();
        let safe = !path.is_empty()
            && Path::new(&path).components().all(|c| matches!(c, Component::Normal(_)))
            && path.split('/').count() <= 4
            && path.len() < 200;
        if safe && out.len() < 32 {
            out.push((path, body.to_vec()));
        }
    }
    out
}

/// The parts after each `=== ` at the start of a line.
fn split_files(text: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 4 <= text.len() {
        if (i == 0 || text[i - 1] == b'\n') && &text[i..i + 4] == b"=== " {
            starts.push(i + 4);
        }
        i += 1;
    }
    let mut out = Vec::new();
    for (n, start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).map(|next| next - 4).unwrap_or(text.len());
        out.push(&text[*start..end.max(*start)]);
    }
    out
}

thread_local! {
    static SCRATCH: Option<tempfile::TempDir> = tempfile::tempdir().ok();
}

fn run(input: &[u8]) -> Outcome {
    SCRATCH.with(|scratch| {
        let Some(scratch) = scratch else { return Outcome::Rejected };
        let pack = scratch.path().join(PACK);
        let configs = scratch.path().join("configs");
        let _ = std::fs::remove_dir_all(&pack);
        let _ = std::fs::remove_dir_all(&configs);
        let _ = std::fs::create_dir_all(&pack);
        let _ = std::fs::create_dir_all(&configs);
        for (path, body) in files(input) {
            let target = match path.strip_prefix("configs/") {
                Some(_) => configs.join(format!("{}.yaml", ref_of(input))),
                None => pack.join(&path),
            };
            if let Some(parent) = target.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let _ = std::fs::write(&target, body);
        }
        match load_pack(&pack, &configs, false, None) {
            PackLoad::Loaded(content) => {
                let _ = load_pack(&pack, &configs, false, Some(&content));
                Outcome::Accepted
            }
            PackLoad::Failed { .. } => Outcome::Rejected,
        }
    })
}

/// The ref `pack.yaml` names (so the config file is the one the loader reads), else the
/// directory's name.
fn ref_of(input: &[u8]) -> String {
    files(input)
        .into_iter()
        .find(|(path, _)| path == "pack.yaml")
        .and_then(|(_, body)| {
            let text = String::from_utf8_lossy(&body).into_owned();
            let doc = st2d_core::yaml::parse(&text).ok()?;
            doc.get("ref").or_else(|| doc.get("name")).and_then(|v| v.as_str()).map(str::to_string)
        })
        .filter(|r| !r.is_empty() && !r.contains('/') && r != "." && r != "..")
        .unwrap_or_else(|| PACK.to_string())
}
