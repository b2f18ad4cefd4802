//! House rules checked over the source tree: every Rust file opens with a `//!` header saying
//! what it owns, the daemon and core return typed errors, and no compiled Python is committed.

use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the workspace").to_path_buf()
}

/// Files under `dir`, skipping build output and hidden directories.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                files(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

fn source_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for crate_dir in ["alloc", "core", "proto", "daemon", "ctl", "tests", "fuzz"] {
        files(&workspace_root().join(crate_dir), &mut out);
    }
    assert!(out.len() > 50, "the source tree is found ({} files)", out.len());
    out
}

#[test]
fn every_rust_file_opens_with_a_module_header() {
    let missing: Vec<_> = source_files()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter(|p| !std::fs::read_to_string(p).is_ok_and(|text| text.starts_with("//!")))
        .collect();
    assert!(missing.is_empty(), "these files do not start with a `//!` header: {missing:#?}");
}

#[test]
fn no_compiled_python_is_committed() {
    let output = std::process::Command::new("git")
        .args(["ls-files", "*.pyc", "*__pycache__*"])
        .current_dir(workspace_root())
        .output()
        .expect("git runs (apt-get install git)");
    if !output.status.success() {
        // Not a git checkout (a source tarball): nothing is committed.
        return;
    }
    let listed = String::from_utf8_lossy(&output.stdout);
    assert!(listed.trim().is_empty(), "compiled Python is committed:\n{listed}");
}

#[test]
fn the_daemon_and_core_return_typed_errors() {
    // A `Result<_, String>` outside tests: errors are a `thiserror` enum per module (DESIGN.md 4).
    let mut found = Vec::new();
    for path in source_files() {
        let in_scope = ["daemon/src", "core/src"].iter().any(|dir| path.starts_with(workspace_root().join(dir)));
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if !in_scope || !name.ends_with(".rs") || name == "tests.rs" || name.ends_with("_tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (number, line) in code.lines().enumerate() {
            let after_result = line.find("Result<").map(|at| &line[at..]);
            if after_result.is_some_and(|rest| rest.contains(", String>")) {
                found.push(format!("{}:{}: {}", path.display(), number + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "errors passed as strings (make a thiserror enum):\n{}", found.join("\n"));
}
