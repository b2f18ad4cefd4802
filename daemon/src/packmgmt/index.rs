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

/// Why a pack name does not resolve; each names the pack or the index file.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(
        "No record of the \"{pack}\" pack in the index: st2d has no index (start it with --index FILE), so give a git URL, owner/repo or a path"
    )]
    NoIndex { pack: String },
    #[error("No record of the \"{pack}\" pack in the index")]
    NotFound { pack: String },
    #[error("{file}: the entry of \"{pack}\" has no repo_url")]
    NoRepoUrl { file: PathBuf, pack: String },
    #[error("cannot read the index {file}: {source}")]
    Read { file: PathBuf, source: std::io::Error },
    #[error("the index {file} is malformed: {source}")]
    Malformed { file: PathBuf, source: serde_json::Error },
    #[error("the index {file} is malformed: it has no \"packs\" object")]
    NoPacks { file: PathBuf },
}

/// Looks `pack` up in `files`, in order.
pub fn lookup(files: &[PathBuf], pack: &str) -> Result<IndexEntry, IndexError> {
    if files.is_empty() {
        return Err(IndexError::NoIndex { pack: pack.to_string() });
    }
    for file in files {
        let index = read(file)?;
        let Some(entry) = index.get("packs").and_then(|packs| packs.get(pack)) else {
            continue;
        };
        let Some(repo_url) = entry.get("repo_url").and_then(Value::as_str).filter(|u| !u.is_empty()) else {
            return Err(IndexError::NoRepoUrl { file: file.clone(), pack: pack.to_string() });
        };
        let version = entry.get("version").and_then(Value::as_str).map(String::from);
        return Ok(IndexEntry { repo_url: repo_url.to_string(), version });
    }
    Err(IndexError::NotFound { pack: pack.to_string() })
}

fn read(file: &Path) -> Result<Value, IndexError> {
    let text = std::fs::read_to_string(file).map_err(|source| IndexError::Read { file: file.to_path_buf(), source })?;
    let index: Value =
        serde_json::from_str(&text).map_err(|source| IndexError::Malformed { file: file.to_path_buf(), source })?;
    if !index.get("packs").is_some_and(Value::is_object) {
        return Err(IndexError::NoPacks { file: file.to_path_buf() });
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
            lookup(&files, "a").expect("found"),
            IndexEntry { repo_url: "file:///one".into(), version: Some("1.0.0".into()) }
        );
        assert_eq!(lookup(&files, "b").expect("found").repo_url, "https://x/b");
        assert!(lookup(&files, "c").expect_err("refused").to_string().contains("No record of the \"c\" pack"));
        assert!(lookup(&[], "c").expect_err("refused").to_string().contains("--index"));
        std::fs::write(&second, "{").expect("write");
        assert!(lookup(&[second], "b").expect_err("refused").to_string().contains("malformed"));
    }
}
