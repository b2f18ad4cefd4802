//! House rules checked over the source tree: every Rust file opens with a `//!` header saying
//! what it owns, and no compiled Python is committed.

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
    for crate_dir in ["alloc", "core", "proto", "daemon", "ctl", "tests"] {
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
