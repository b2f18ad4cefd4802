//! Files embedded in the binary at build time (`build.rs`): the built-in packs and the Python
//! shim, and writing such a tree out to disk.
//!
//! Owns: the generated file tables. Must not: interpret the files.

use std::io;
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// Writes `files` under `dir`, after removing each top-level entry they name (so files an older
/// binary wrote there do not linger).
pub fn write_tree(dir: &Path, files: &[(&str, &str)]) -> io::Result<()> {
    let mut tops: Vec<&str> = files.iter().filter_map(|(path, _)| path.split('/').next()).collect();
    tops.sort_unstable();
    tops.dedup();
    for top in tops {
        let path = dir.join(top);
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else if path.exists() {
            std::fs::remove_file(&path)?;
        }
    }
    for (path, content) in files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(target, content)?;
    }
    Ok(())
}
