//! Embeds the built-in packs (`builtin/`) and the Python shim (`python/`) into the binary:
//! generates `embedded.rs` with one `(relative path, include_str!)` entry per file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files(root: &Path, skip: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if skip.iter().any(|s| *s == name) || name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn table(out: &mut String, name: &str, root: &Path, skip: &[&str]) {
    let _ = writeln!(out, "pub const {name}: &[(&str, &str)] = &[");
    for path in files(root, skip) {
        let relative = path.strip_prefix(root).expect("walked under root").to_string_lossy().replace('\\', "/");
        let _ = writeln!(out, "    ({relative:?}, include_str!({:?})),", path.display().to_string());
    }
    out.push_str("];\n");
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut out = String::new();
    table(&mut out, "BUILTIN_PACK_FILES", &manifest.join("builtin"), &[]);
    table(&mut out, "PYTHON_SHIM_FILES", &manifest.join("python"), &["tests", "__pycache__", "PROTOCOL.md"]);
    let target = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded.rs");
    std::fs::write(target, out).expect("write embedded.rs");
    println!("cargo:rerun-if-changed=builtin");
    println!("cargo:rerun-if-changed=python");
}
