//! A pack's files as StackStorm's pack views show them (st2api's `pack_views.py`): the list of
//! a pack directory's files, their text, and one file found by a path relative to the pack,
//! refusing paths that are not normalized or lead out of the pack (`..`, symlinks).
//!
//! Owns: walking and reading inside one pack directory. Must not: write anything, or run on the
//! async runtime (callers use blocking threads).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Files larger than this are left out of the list and refused alone (StackStorm's
/// `MAX_FILE_SIZE`).
pub const MAX_FILE_SIZE: u64 = 500 * 1000;

/// Why a pack file cannot be shown; each names the path.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error(
        "Invalid file path: \"{path}\". File path needs to be relative to the pack directory ({dir}). For example \"my_action.py\"."
    )]
    NotRelative { path: String, dir: PathBuf },
    #[error("File \"{path}\" not found")]
    NotFound { path: String },
    #[error("File {path} exceeds maximum allowed file size ({MAX_FILE_SIZE} bytes)")]
    TooLarge { path: String },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
}

/// A file's text, for the list of a pack's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackFile {
    /// Relative to the pack directory.
    pub path: String,
    pub content: String,
}

/// One file read whole.
#[derive(Debug, Clone)]
pub struct FileRead {
    pub bytes: Vec<u8>,
    pub modified: SystemTime,
    /// StackStorm's guess from the file name (Python's `mimetypes`), or
    /// `application/octet-stream`.
    pub content_type: &'static str,
}

/// The pack's files, relative to `dir`, sorted; `.git/` and `*.pyc` are left out, as are
/// symlinks that lead out of the pack.
pub fn list(dir: &Path) -> Result<Vec<String>, FilesError> {
    let root = dir.canonicalize().map_err(|source| FilesError::Read { path: dir.to_path_buf(), source })?;
    let mut found = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(current) = pending.pop() {
        let entries =
            std::fs::read_dir(&current).map_err(|source| FilesError::Read { path: current.clone(), source })?;
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(relative) = path.strip_prefix(&root).map(|r| r.to_string_lossy().into_owned()) else { continue };
            if relative == ".git" || relative.ends_with(".pyc") {
                continue;
            }
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                pending.push(path);
            } else if inside(&root, &path) && path.is_file() {
                found.push(relative);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The text of each listed file, leaving out those over `MAX_FILE_SIZE` and binary ones (a
/// UTF-8 byte order mark or a NUL byte in the first 1024 bytes), as StackStorm does.
pub fn read_all(dir: &Path) -> Result<Vec<PackFile>, FilesError> {
    let mut files = Vec::new();
    for path in list(dir)? {
        let full = dir.join(&path);
        if std::fs::metadata(&full).map(|m| m.len()).unwrap_or(u64::MAX) > MAX_FILE_SIZE {
            continue;
        }
        let Ok(bytes) = std::fs::read(&full) else { continue };
        let head = &bytes[..bytes.len().min(1024)];
        if head.contains(&0) || head.windows(3).any(|w| w == b"\xEF\xBB\xBF") {
            continue;
        }
        files.push(PackFile { path, content: String::from_utf8_lossy(&bytes).into_owned() });
    }
    Ok(files)
}

/// The file at `path` in the pack: a normalized relative path (as Python's
/// `os.path.normpath` leaves it) to a regular file that is inside the pack, also after
/// following symlinks.
pub fn resolve(dir: &Path, path: &str) -> Result<PathBuf, FilesError> {
    if path.is_empty() || normalized(path) != path {
        return Err(FilesError::NotRelative { path: path.to_string(), dir: dir.to_path_buf() });
    }
    let root = dir.canonicalize().map_err(|source| FilesError::Read { path: dir.to_path_buf(), source })?;
    let full = root.join(path);
    if !inside(&root, &full) || !full.is_file() {
        return Err(FilesError::NotFound { path: path.to_string() });
    }
    Ok(full)
}

/// Reads the file at `path` in the pack (see `resolve`).
pub fn read_one(dir: &Path, path: &str) -> Result<FileRead, FilesError> {
    let full = resolve(dir, path)?;
    let metadata = std::fs::metadata(&full).map_err(|source| FilesError::Read { path: full.clone(), source })?;
    if metadata.len() > MAX_FILE_SIZE {
        return Err(FilesError::TooLarge { path: path.to_string() });
    }
    let bytes = std::fs::read(&full).map_err(|source| FilesError::Read { path: full.clone(), source })?;
    let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    Ok(FileRead { bytes, modified, content_type: content_type(path) })
}

/// `os.path.normpath("/" + path).lstrip("/")`.
fn normalized(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// Whether `path`, with its symlinks followed, is inside `root` (itself canonical).
fn inside(root: &Path, path: &Path) -> bool {
    path.canonicalize().is_ok_and(|real| real.starts_with(root))
}

/// Python's `mimetypes.guess_type` for the files packs hold.
fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match extension.as_str() {
        "py" => "text/x-python",
        "yaml" | "yml" => "application/yaml",
        "json" => "application/json",
        "md" => "text/markdown",
        "txt" | "in" | "cfg" | "ini" => "text/plain",
        "sh" => "application/x-sh",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "html" | "htm" => "text/html",
        "js" => "text/javascript",
        "css" => "text/css",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_out_of_the_pack_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pack = dir.path().join("pack");
        std::fs::create_dir_all(pack.join("actions")).expect("dirs");
        std::fs::write(pack.join("pack.yaml"), "ref: p\n").expect("write");
        std::fs::write(pack.join("actions/a.sh"), "echo\n").expect("write");
        std::fs::write(pack.join("actions/a.pyc"), "x").expect("write");
        std::fs::write(dir.path().join("secret"), "no\n").expect("write");
        std::os::unix::fs::symlink(dir.path().join("secret"), pack.join("leak")).expect("symlink");
        assert_eq!(list(&pack).expect("listed"), ["actions/a.sh", "pack.yaml"]);
        assert!(resolve(&pack, "actions/a.sh").is_ok());
        for bad in ["../secret", "actions/../../secret", "/etc/passwd", "./pack.yaml", "actions//a.sh", ""] {
            assert!(
                matches!(resolve(&pack, bad), Err(FilesError::NotRelative { .. })),
                "{bad} must be refused as not relative"
            );
        }
        assert!(matches!(resolve(&pack, "leak"), Err(FilesError::NotFound { .. })));
        assert!(matches!(resolve(&pack, "actions"), Err(FilesError::NotFound { .. })));
        assert_eq!(read_one(&pack, "pack.yaml").expect("read").content_type, "application/yaml");
    }
}
