//! The pack index: bare pack names resolve to a repository and a default version through files
//! in StackStorm's `index.json` format (`{"metadata": ..., "packs": {"<ref>": {"repo_url",
//! "version", ...}}}`), given to the daemon with `--index FILE` (repeatable; the first file
//! that names a pack wins, as the first-listed StackStorm index does).
//!
//! Owns: reading index files (on every lookup, so edits need no restart). Must not: fetch
//! anything.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// One index entry, as far as installing needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub repo_url: String,
    pub version: Option<String>,
}

/// Looks `pack` up in `files`, in order.
pub fn lookup(files: &[PathBuf], pack: &str) -> Result<IndexEntry, String> {
    if files.is_empty() {
        return Err(format!(
            "No record of the \"{pack}\" pack in the index: st2d has no index (start it with --index FILE), so give a git URL, owner/repo or a path"
        ));
    }
    for file in files {
        let index = read(file)?;
        let Some(entry) = index.get("packs").and_then(|packs| packs.get(pack)) else {
            continue;
        };
        let Some(repo_url) = entry.get("repo_url").and_then(Value::as_str).filter(|u| !u.is_empty()) else {
            return Err(format!("{}: the entry of \"{pack}\" has no repo_url", file.display()));
        };
        let version = entry.get("version").and_then(Value::as_str).map(String::from);
        return Ok(IndexEntry { repo_url: repo_url.to_string(), version });
    }
    Err(format!("No record of the \"{pack}\" pack in the index"))
}

fn read(file: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read the index {}: {e}", file.display()))?;
    let index: Value =
        serde_json::from_str(&text).map_err(|e| format!("the index {} is malformed: {e}", file.display()))?;
    if !index.get("packs").is_some_and(Value::is_object) {
        return Err(format!("the index {} is malformed: it has no \"packs\" object", file.display()));
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_index_that_names_a_pack_wins() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = dir.path().join("first.json");
        let second = dir.path().join("second.json");
        std::fs::write(&first, r#"{"metadata": {}, "packs": {"a": {"repo_url": "file:///one", "version": "1.0.0"}}}"#)
            .expect("write");
        std::fs::write(
            &second,
            r#"{"packs": {"a": {"repo_url": "file:///two"}, "b": {"repo_url": "https://x/b", "version": "2.0.0"}}}"#,
        )
        .expect("write");
        let files = [first, second.clone()];
        assert_eq!(
            lookup(&files, "a"),
            Ok(IndexEntry { repo_url: "file:///one".into(), version: Some("1.0.0".into()) })
        );
        assert_eq!(lookup(&files, "b").map(|e| e.repo_url), Ok("https://x/b".into()));
        assert!(lookup(&files, "c").expect_err("refused").contains("No record of the \"c\" pack"));
        assert!(lookup(&[], "c").expect_err("refused").contains("--index"));
        std::fs::write(&second, "{").expect("write");
        assert!(lookup(&[second], "b").expect_err("refused").contains("malformed"));
    }
}
