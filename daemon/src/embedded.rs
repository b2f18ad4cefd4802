//! Files embedded in the binary at build time (`build.rs`): the built-in packs and the Python
//! shim, and writing such a tree out to disk.
//!
//! Owns: the generated file tables and writing them out once per binary. Must not: interpret
//! the files.

use std::io;
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// Marks a tree as written by this binary: the digest of its files.
const STAMP: &str = ".st2d-embedded";

/// Writes `files` under `dir`, after removing each top-level entry they name (so files an older
/// binary wrote there do not linger). A tree this binary already wrote is left as it is when it
/// is whole (its stamp is this binary's, each file has its length, and no other file is there):
/// starts do not rewrite it.
pub fn write_tree(dir: &Path, files: &[(&str, &str)]) -> io::Result<()> {
    let stamp = digest(files);
    if std::fs::read_to_string(dir.join(STAMP)).is_ok_and(|text| text == stamp) && is_whole(dir, files) {
        return Ok(());
    }
    let _ = std::fs::remove_file(dir.join(STAMP));
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
    std::fs::write(dir.join(STAMP), stamp)
}

/// Whether exactly `files` are under their top-level entries in `dir`, each of its length.
fn is_whole(dir: &Path, files: &[(&str, &str)]) -> bool {
    let lengths: std::collections::HashMap<std::path::PathBuf, u64> =
        files.iter().map(|(path, content)| (dir.join(path), content.len() as u64)).collect();
    let mut tops: Vec<&str> = files.iter().filter_map(|(path, _)| path.split('/').next()).collect();
    tops.sort_unstable();
    tops.dedup();
    let mut found = 0;
    let mut pending: Vec<std::path::PathBuf> = tops.iter().map(|top| dir.join(top)).collect();
    while let Some(path) = pending.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else { return false };
        if meta.is_dir() {
            let Ok(entries) = std::fs::read_dir(&path) else { return false };
            pending.extend(entries.filter_map(Result::ok).map(|entry| entry.path()));
        } else if lengths.get(&path) == Some(&meta.len()) {
            found += 1;
        } else {
            return false;
        }
    }
    found == lengths.len()
}

/// SHA-256 of every path and content, hex.
fn digest(files: &[(&str, &str)]) -> String {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    for (path, content) in files {
        for part in [path.as_bytes(), &[0], content.as_bytes(), &[0]] {
            context.update(part);
        }
    }
    context.finish().as_ref().iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_is_written_once_and_again_when_damaged_or_changed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = [("pkg/a.py", "A = 1\n"), ("pkg/b.py", "B = 2\n")];
        write_tree(dir.path(), &files).expect("written");
        let a = dir.path().join("pkg/a.py");
        let before = std::fs::metadata(&a).and_then(|m| m.modified()).expect("mtime");
        std::thread::sleep(std::time::Duration::from_millis(20));
        write_tree(dir.path(), &files).expect("left as it is");
        assert_eq!(std::fs::metadata(&a).and_then(|m| m.modified()).expect("mtime"), before, "not rewritten");
        std::fs::write(dir.path().join("pkg/c.py"), "").expect("an extra file");
        write_tree(dir.path(), &files).expect("written again");
        assert!(!dir.path().join("pkg/c.py").exists(), "an extra file is removed");
        std::fs::remove_file(dir.path().join("pkg/b.py")).expect("remove");
        write_tree(dir.path(), &files).expect("written again");
        assert_eq!(std::fs::read_to_string(dir.path().join("pkg/b.py")).expect("b"), "B = 2\n");
        let changed = [("pkg/a.py", "A = 3\n")];
        write_tree(dir.path(), &changed).expect("a new binary's files");
        assert_eq!(std::fs::read_to_string(&a).expect("a"), "A = 3\n");
        assert!(!dir.path().join("pkg/b.py").exists(), "files of an older binary do not linger");
    }
}
