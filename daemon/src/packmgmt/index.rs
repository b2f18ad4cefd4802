//! The pack index: bare pack names resolve to a repository and a default version through files
//! in StackStorm's `index.json` format (`{"metadata": ..., "packs": {"<ref>": {"repo_url",
//! "version", ...}}}`), given to the daemon with `--index FILE` (repeatable; the first file
//! that names a pack wins, as the first-listed StackStorm index does).
//!
//! The REST API's `/packs/index` views read the same files: the compiled index (`compile`,
//! with StackStorm's per-index status) and the search (`search`, StackStorm's
//! `search_pack_index`).
//!
//! Owns: reading index files (on every lookup, so edits need no restart) and searching them.
//! Must not: fetch anything.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

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

/// How one index file read, as StackStorm reports each index URL: `error` is `malformed`,
/// `empty` or `unresponsive` (cannot be read), `message` says why (or `Success.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexStatus {
    pub url: String,
    pub packs: usize,
    pub message: Option<String>,
    pub error: Option<&'static str>,
}

/// Every pack of `files` (the first file that names a pack wins) and the status of each file.
pub fn compile(files: &[PathBuf]) -> (Map<String, Value>, Vec<IndexStatus>) {
    let mut index = Map::new();
    let mut statuses = Vec::with_capacity(files.len());
    for file in files {
        let url = format!("file://{}", file.display());
        let read = std::fs::read_to_string(file)
            .map_err(|e| ("unresponsive", e.to_string()))
            .and_then(|text| serde_json::from_str::<Value>(&text).map_err(|e| ("malformed", e.to_string())));
        let packs = match read {
            Err((error, message)) => Err((error, message)),
            Ok(Value::Object(map)) if map.is_empty() => {
                Err(("empty", "The index URL returned an empty object.".to_string()))
            }
            Ok(Value::Array(_)) => Err(("malformed", "Expected an index object, got a list instead.".to_string())),
            Ok(Value::Object(mut map)) => match map.remove("packs") {
                Some(Value::Object(packs)) => Ok(packs),
                _ => Err(("malformed", "Index object is missing \"packs\" attribute.".to_string())),
            },
            Ok(_) => Err(("malformed", "Expected an index object.".to_string())),
        };
        match packs {
            Ok(packs) => {
                statuses.push(IndexStatus {
                    url,
                    packs: packs.len(),
                    message: Some("Success.".to_string()),
                    error: None,
                });
                for (name, entry) in packs {
                    index.entry(name).or_insert(entry);
                }
            }
            Err((error, message)) => {
                statuses.push(IndexStatus { url, packs: 0, message: Some(message), error: Some(error) })
            }
        }
    }
    (index, statuses)
}

/// Fields a search never matches (StackStorm's `EXCLUDE_FIELDS`).
const SEARCH_EXCLUDED: &[&str] = &["repo_url", "email"];

/// Fields whose matches come first, in this order (StackStorm's `SEARCH_PRIORITY`).
const SEARCH_PRIORITY: &[&str] = &["name", "keywords"];

/// The index's packs matching `query`, case-insensitively, as StackStorm's `search_pack_index`
/// matches them: a pack matches on its first field (in the entry's order) whose lowercased value
/// holds the query (a substring of a text, an item of a list, a key of a mapping); packs that
/// matched on `name` come first, then on `keywords`, then the others.
pub fn search(index: &Map<String, Value>, query: &str) -> Vec<Value> {
    let query = query.to_lowercase();
    let mut buckets: Vec<Vec<Value>> = vec![Vec::new(); SEARCH_PRIORITY.len() + 1];
    for pack in index.values() {
        let Some(fields) = pack.as_object() else { continue };
        let matched =
            fields.iter().find(|(key, value)| !SEARCH_EXCLUDED.contains(&key.as_str()) && holds(value, &query));
        if let Some((key, _)) = matched {
            let bucket = SEARCH_PRIORITY.iter().position(|p| p == key).unwrap_or(SEARCH_PRIORITY.len());
            buckets[bucket].push(pack.clone());
        }
    }
    buckets.into_iter().flatten().collect()
}

/// Python's `str(value)` of a JSON scalar, lowercased, as `lowercase_value` makes it.
fn python_text(value: &Value) -> String {
    st2d_core::pyfmt::py_str(value).to_lowercase()
}

fn holds(value: &Value, query: &str) -> bool {
    match value {
        Value::String(text) => text.to_lowercase().contains(query),
        Value::Array(items) => items.iter().any(|item| python_text(item) == query),
        Value::Object(map) => map.keys().any(|key| key.to_lowercase() == query),
        other => python_text(other).contains(query),
    }
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

    #[test]
    fn a_search_ranks_names_then_keywords_then_the_rest() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("index.json");
        std::fs::write(
            &file,
            r#"{"packs": {
                "aws": {"name": "aws", "description": "Amazon", "keywords": ["cloud"], "repo_url": "https://x/cloud"},
                "cloudy": {"name": "cloudy", "description": "skies", "keywords": []},
                "gcp": {"name": "gcp", "description": "Google CLOUD platform", "keywords": ["google"]}
            }}"#,
        )
        .expect("write");
        let missing = dir.path().join("missing.json");
        let (index, statuses) = compile(&[file, missing]);
        assert_eq!(index.len(), 3);
        assert_eq!((statuses[0].packs, statuses[0].error), (3, None));
        assert_eq!((statuses[1].packs, statuses[1].error), (0, Some("unresponsive")));
        let names = |query: &str| -> Vec<String> {
            search(&index, query).iter().map(|p| p["name"].as_str().unwrap_or_default().to_string()).collect()
        };
        assert_eq!(names("Cloud"), ["cloudy", "aws", "gcp"]);
        assert_eq!(names("clou"), ["cloudy", "gcp"], "a keyword matches whole, a text by substring");
        assert_eq!(names("https"), Vec::<String>::new(), "repo_url is never searched");
    }
}
