//! The rule files that rules created, updated or deleted through the API write: files are the
//! truth for pack content, so a rule made by a client is a YAML file in its pack's `rules/`
//! directory, written atomically (a temporary file renamed into place) and read back by the
//! reload like any other.
//!
//! Owns: which file a rule's name gives (`rules/<name>.yaml`, names that could leave the
//! directory refused), writing and removing rule files. Must not: validate a rule (callers do,
//! with `st2d_core`'s validator, before anything is written), touch the registry or the store,
//! or run on an async runtime thread (callers use `spawn_blocking`).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

/// The directory of a pack that holds its rules.
const RULES_DIR: &str = "rules";

/// The longest rule name that names a file.
const MAX_NAME: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum RuleFileError {
    #[error(
        "field \"name\": rule name \"{name}\" cannot name a file in the pack's rules directory (use letters, digits, '_', '-' and '.', not starting with '.', at most {MAX_NAME} characters)"
    )]
    BadName { name: String },
    #[error("rule file \"{file}\" is not in the pack's rules directory")]
    OutsideRules { file: String },
    #[error("the rules directory {path} leads out of its pack directory")]
    Escapes { path: PathBuf },
    #[error("a rule file {path} already exists")]
    Exists { path: PathBuf },
    #[error("cannot write the rule as YAML: {0}")]
    Yaml(#[source] serde_yaml::Error),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot remove {path}: {source}")]
    Remove { path: PathBuf, source: std::io::Error },
}

/// The file, relative to the pack directory, that a new rule called `name` is written to.
pub fn file_for(name: &str) -> Result<String, RuleFileError> {
    let safe = !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !safe {
        return Err(RuleFileError::BadName { name: name.to_string() });
    }
    Ok(format!("{RULES_DIR}/{name}.yaml"))
}

/// The absolute path of `file` (relative to `pack_dir`), which must be a file right inside
/// the pack's `rules/` directory, and that directory must not lead out of the pack (a symlink).
fn resolve(pack_dir: &Path, file: &str) -> Result<PathBuf, RuleFileError> {
    let relative = Path::new(file);
    let components: Vec<Component<'_>> = relative.components().collect();
    let inside = matches!(components.as_slice(), [Component::Normal(dir), Component::Normal(_)] if *dir == RULES_DIR);
    if !inside {
        return Err(RuleFileError::OutsideRules { file: file.to_string() });
    }
    let rules = pack_dir.join(RULES_DIR);
    std::fs::create_dir_all(&rules).map_err(|source| RuleFileError::Write { path: rules.clone(), source })?;
    let canonical =
        |path: &Path| path.canonicalize().map_err(|source| RuleFileError::Write { path: path.to_path_buf(), source });
    if !canonical(&rules)?.starts_with(canonical(pack_dir)?) {
        return Err(RuleFileError::Escapes { path: rules });
    }
    Ok(pack_dir.join(relative))
}

/// Writes `doc` as YAML to `file` of the pack in `pack_dir`; with `create`, refuses to
/// replace a file that is there (also one that appears meanwhile: the new file is linked into
/// place, which never replaces). Returns the path written.
pub fn write(pack_dir: &Path, file: &str, doc: &Value, create: bool) -> Result<PathBuf, RuleFileError> {
    let path = resolve(pack_dir, file)?;
    if create && path.symlink_metadata().is_ok() {
        return Err(RuleFileError::Exists { path });
    }
    let text = format!("---\n{}", serde_yaml::to_string(doc).map_err(RuleFileError::Yaml)?);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.tmp"));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&temp)
        .and_then(|mut out| out.write_all(text.as_bytes()).and_then(|()| out.sync_all()));
    if let Err(source) = written {
        // The temporary file is ours; a leftover would only be a hidden file.
        let _ = std::fs::remove_file(&temp);
        return Err(RuleFileError::Write { path: temp, source });
    }
    let placed = if create {
        let linked = std::fs::hard_link(&temp, &path);
        // The temporary name goes either way; the link (if made) is the file.
        let _ = std::fs::remove_file(&temp);
        linked.map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => RuleFileError::Exists { path: path.clone() },
            _ => RuleFileError::Write { path: path.clone(), source },
        })
    } else {
        std::fs::rename(&temp, &path).map_err(|source| RuleFileError::Write { path: path.clone(), source })
    };
    placed.map(|()| path)
}

/// Removes `file` of the pack in `pack_dir`; a file already gone is no error.
pub fn remove(pack_dir: &Path, file: &str) -> Result<PathBuf, RuleFileError> {
    let path = resolve(pack_dir, file)?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(path),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(path),
        Err(source) => Err(RuleFileError::Remove { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_that_leave_the_rules_directory_are_refused() {
        assert_eq!(file_for("notify_me").expect("safe"), "rules/notify_me.yaml");
        assert_eq!(file_for("v1.2-alert").expect("safe"), "rules/v1.2-alert.yaml");
        for name in ["../x", "a/b", "", ".hidden", "..", "a b", "x\0y", "é"] {
            assert!(matches!(file_for(name), Err(RuleFileError::BadName { .. })), "{name:?}");
        }
    }

    #[test]
    fn files_are_written_replaced_and_removed_inside_rules_only() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let pack = tmp.path().join("demo");
        std::fs::create_dir_all(&pack).expect("pack dir");
        let doc = json!({"name": "r", "pack": "demo", "trigger": {"type": "core.st2.webhook"}});
        let path = write(&pack, "rules/r.yaml", &doc, true).expect("written");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(st2d_core::yaml::parse(&text).expect("YAML"), doc);
        assert!(matches!(write(&pack, "rules/r.yaml", &doc, true), Err(RuleFileError::Exists { .. })));
        write(&pack, "rules/r.yaml", &json!({"name": "r"}), false).expect("replaced");
        for outside in ["../r.yaml", "rules/../../r.yaml", "/etc/r.yaml", "actions/r.yaml", "rules/a/r.yaml"] {
            assert!(matches!(write(&pack, outside, &doc, false), Err(RuleFileError::OutsideRules { .. })), "{outside}");
        }
        remove(&pack, "rules/r.yaml").expect("removed");
        assert!(!path.exists());
        remove(&pack, "rules/r.yaml").expect("already gone is fine");
    }

    #[test]
    fn a_rules_directory_that_is_a_symlink_out_of_the_pack_is_refused() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let pack = tmp.path().join("demo");
        std::fs::create_dir_all(&pack).expect("pack dir");
        std::fs::create_dir_all(tmp.path().join("elsewhere")).expect("dir");
        std::os::unix::fs::symlink(tmp.path().join("elsewhere"), pack.join("rules")).expect("symlink");
        let written = write(&pack, "rules/r.yaml", &json!({"name": "r"}), true);
        assert!(matches!(written, Err(RuleFileError::Escapes { .. })), "{written:?}");
    }
}
