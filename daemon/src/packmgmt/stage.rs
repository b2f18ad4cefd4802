//! Staging: a pack argument fetched (git clone, or a copy of a local directory) into a private
//! directory beside the packs directory, renamed to its ref, and checked before anything
//! installed is touched: ref rules, symlinks that leave the pack, `stackstorm_version` and
//! `python_versions`, and a full load with the pack's config. The load refuses what
//! StackStorm's registration refuses (its `ContentError`s); what StackStorm tolerates (the
//! load's warnings) passes, and is reported.
//!
//! Owns: the staging directory and those checks. Must not: touch an installed pack, a
//! virtualenv or the registry (install does), or run on an async runtime thread.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde_json::Value;

use super::git::{self, GitError};
use super::index::{self, IndexError};
use super::source::{Location, PackArg, SourceError, check_installable_ref};
use super::versions::{VersionError, check_python_versions, check_stackstorm_version};
use crate::pack::load::{PackLoad, load_pack};
use st2d_core::pack::model::{ContentError, PackContent};
use st2d_core::yaml::YamlError;

/// Why a pack could not be staged; each names the file, directory or ref.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("cannot create {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot copy {path}: {source}")]
    Copy { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Ref(#[from] SourceError),
    #[error(transparent)]
    Version(#[from] VersionError),
    #[error("{path} is a plain directory, not a git repository: it has no versions")]
    PlainDirectory { path: PathBuf },
    #[error("cannot fetch {location}: no such directory")]
    NoSuchDirectory { location: String },
    #[error("{location} holds its packs under packs/: name the ones to install, as in packs=a,b repo_url={location}")]
    PacksUnderPacksDir { location: String },
    #[error("{location} is not a pack: it has no pack.yaml")]
    NotAPack { location: String },
    #[error("pack \"{name}\" is not in {location} (no packs/{name}/pack.yaml)")]
    NotInRepository { name: String, location: String },
    #[error("cannot read pack.yaml: {0}")]
    ReadPackYaml(#[source] std::io::Error),
    #[error("pack.yaml: {0}")]
    ParsePackYaml(#[source] YamlError),
    #[error("pack.yaml has neither \"ref\" nor \"name\"")]
    NoRef,
    #[error("pack.yaml: {0}")]
    PackYamlRef(#[source] SourceError),
    #[error("two of the packs asked for have the ref \"{ref_}\"")]
    DuplicateRef { ref_: String },
    #[error("cannot stage {ref_}: {source}")]
    Rename { ref_: String, source: std::io::Error },
    #[error("pack {ref_} does not load: {error}")]
    DoesNotLoad { ref_: String, error: ContentError },
    #[error("pack {ref_} does not load: {errors}", errors = .errors.join("; "))]
    ContentErrors { ref_: String, errors: Vec<String> },
    #[error("symlink {link} points outside the pack (to {target}); refusing to install it")]
    SymlinkOutside { link: PathBuf, target: PathBuf },
}

/// A fresh directory for one job's downloads; removed when dropped.
#[derive(Debug)]
pub struct StagingDir {
    path: PathBuf,
}

impl StagingDir {
    /// Creates `<root>/<unique>`; `root` is created 0700 when missing.
    pub fn create(root: &Path) -> Result<Self, StageError> {
        std::fs::create_dir_all(root).map_err(|source| StageError::Create { path: root.to_path_buf(), source })?;
        let path = root.join(st2d_core::random::unique_name());
        std::fs::create_dir(&path).map_err(|source| StageError::Create { path: path.clone(), source })?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), error = %error, "cannot remove a staging directory");
        }
    }
}

/// Where a staged pack came from, kept with the installed pack.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceRecord {
    /// The URL or path fetched.
    pub source: String,
    /// The version asked for, if any.
    pub version: Option<String>,
    /// The ref it resolved to (git only).
    pub resolved: Option<String>,
    /// The commit checked out (git only).
    pub commit: Option<String>,
}

/// A pack fetched, checked and ready to swap in.
#[derive(Debug, Clone)]
pub struct StagedPack {
    pub ref_: String,
    /// `<staging>/<ref>`.
    pub dir: PathBuf,
    pub content: Arc<PackContent>,
    pub source: SourceRecord,
}

/// How to fetch.
pub struct StageOptions<'a> {
    pub index_files: &'a [PathBuf],
    pub config_dir: &'a Path,
    pub verify_ssl: bool,
    /// Skip the version checks (`force`).
    pub force: bool,
    pub abort: &'a AtomicBool,
}

/// Fetches `arg` into `staging` and checks it. With `names` (the older `repo_url` form), the
/// repository's `packs/<name>` directories are taken (or the repository itself when it is the
/// pack of that name); without, the repository must itself be a pack.
pub fn stage(
    arg: &PackArg,
    names: Option<&[String]>,
    staging: &StagingDir,
    options: &StageOptions<'_>,
    progress: &mut dyn FnMut(String),
) -> Result<Vec<StagedPack>, StageError> {
    let started = std::time::Instant::now();
    let work = staging.path().join(format!(".src-{}", st2d_core::random::unique_name()));
    let tree = work.join("tree");
    let (source, version) = match &arg.location {
        Location::Index(name) => {
            let entry = index::lookup(options.index_files, name)?;
            progress(format!("Found \"{name}\" in the index: {}", entry.repo_url));
            (Location::Git(entry.repo_url), arg.version.clone().or(entry.version))
        }
        other => (other.clone(), arg.version.clone()),
    };
    let shown = match &source {
        Location::Git(url) => url.clone(),
        Location::Local(path) => path.display().to_string(),
        Location::Index(name) => name.clone(),
    };
    let mut record = SourceRecord { source: shown, version, resolved: None, commit: None };
    let local = match &source {
        Location::Local(path) => Some(path.clone()),
        Location::Git(url) => url.strip_prefix("file://").map(PathBuf::from),
        Location::Index(_) => None,
    };
    match local {
        Some(path) if path.is_dir() && !git::is_repository(&path) => {
            if record.version.is_some() {
                return Err(StageError::PlainDirectory { path });
            }
            progress(format!("Copying {}", path.display()));
            copy_tree(&path, &tree)?;
        }
        Some(path) if !path.exists() => {
            return Err(StageError::NoSuchDirectory { location: record.source });
        }
        _ => {
            let spec = git::FetchSpec {
                url: &record.source,
                version: record.version.as_deref(),
                verify_ssl: options.verify_ssl,
                abort: options.abort,
            };
            let checkout = git::fetch(&spec, &work.join("repo.git"), &tree, progress)?;
            record.resolved = Some(checkout.resolved);
            record.commit = Some(checkout.commit);
        }
    }
    let fetched_after = started.elapsed();
    let pack_dirs = pick_packs(&tree, &record.source, names)?;
    let mut staged = Vec::new();
    for dir in pack_dirs {
        let ref_ = install_ref(&dir)?;
        let target = staging.path().join(&ref_);
        if target.exists() {
            return Err(StageError::DuplicateRef { ref_ });
        }
        std::fs::rename(&dir, &target).map_err(|source| StageError::Rename { ref_: ref_.clone(), source })?;
        let content = check(&target, &ref_, options)?;
        tracing::debug!(
            pack = %ref_,
            fetched_ms = fetched_after.as_millis() as u64,
            checked_ms = started.elapsed().as_millis() as u64,
            "pack staged"
        );
        progress(format!(
            "Staged {ref_} {}: {} actions, {} sensors, {} rules, {} trigger types",
            content.meta.version,
            content.actions.len(),
            content.sensors.len(),
            content.rules.len(),
            content.trigger_types.len()
        ));
        for warning in &content.warnings {
            progress(format!("warning: {ref_}: {warning}"));
        }
        staged.push(StagedPack { ref_, dir: target, content, source: record.clone() });
    }
    if let Err(error) = std::fs::remove_dir_all(&work) {
        tracing::debug!(path = %work.display(), error = %error, "cannot remove a download directory");
    }
    Ok(staged)
}

fn pick_packs(tree: &Path, source: &str, names: Option<&[String]>) -> Result<Vec<PathBuf>, StageError> {
    let root_is_pack = tree.join("pack.yaml").is_file();
    let Some(names) = names else {
        if root_is_pack {
            return Ok(vec![tree.to_path_buf()]);
        }
        if tree.join("packs").is_dir() {
            return Err(StageError::PacksUnderPacksDir { location: source.to_string() });
        }
        return Err(StageError::NotAPack { location: source.to_string() });
    };
    let mut dirs = Vec::new();
    for name in names {
        check_installable_ref(name)?;
        let sub = tree.join("packs").join(name);
        if sub.join("pack.yaml").is_file() {
            dirs.push(sub);
        } else if root_is_pack && install_ref(tree).is_ok_and(|r| &r == name) {
            dirs.push(tree.to_path_buf());
        } else {
            return Err(StageError::NotInRepository { name: name.clone(), location: source.to_string() });
        }
    }
    Ok(dirs)
}

/// The ref a pack installs under: `ref`, else `name` (StackStorm's install ignores the
/// directory name).
fn install_ref(dir: &Path) -> Result<String, StageError> {
    let text = std::fs::read_to_string(dir.join("pack.yaml")).map_err(StageError::ReadPackYaml)?;
    let doc = st2d_core::yaml::parse(&text).map_err(StageError::ParsePackYaml)?;
    let field = |name: &str| doc.get(name).and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty());
    let Some(ref_) = field("ref").or_else(|| field("name")) else {
        return Err(StageError::NoRef);
    };
    check_installable_ref(ref_).map_err(StageError::PackYamlRef)?;
    Ok(ref_.to_string())
}

/// The checks a staged pack must pass before it may replace anything. A content error
/// refuses the pack, as StackStorm's `packs.load` (`fail_on_failure`) fails the install on the
/// first resource that does not register; warnings do not.
fn check(dir: &Path, ref_: &str, options: &StageOptions<'_>) -> Result<Arc<PackContent>, StageError> {
    check_symlinks(dir)?;
    let content = match load_pack(dir, options.config_dir, false, None) {
        PackLoad::Loaded(content) => content,
        PackLoad::Failed { error, .. } => return Err(StageError::DoesNotLoad { ref_: ref_.to_string(), error }),
    };
    if !content.errors.is_empty() {
        let errors: Vec<String> = content.errors.iter().map(ToString::to_string).collect();
        return Err(StageError::ContentErrors { ref_: ref_.to_string(), errors });
    }
    if !options.force {
        let raw = &content.meta.raw;
        if let Some(required) = raw.get("stackstorm_version").and_then(Value::as_str) {
            check_stackstorm_version(ref_, required)?;
        }
        check_python_versions(ref_, raw.get("python_versions"))?;
    }
    Ok(content)
}

/// Refuses a pack with a symlink whose target lies outside the pack.
pub fn check_symlinks(pack_dir: &Path) -> Result<(), StageError> {
    let root = pack_dir.canonicalize().map_err(|source| StageError::Read { path: pack_dir.to_path_buf(), source })?;
    let mut pending = vec![pack_dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| StageError::Read { path: dir.clone(), source })?;
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_symlink() {
                let target =
                    std::fs::read_link(&path).map_err(|source| StageError::Read { path: path.clone(), source })?;
                let relative = path.strip_prefix(pack_dir).unwrap_or(&path);
                let link_dir = root.join(relative.parent().unwrap_or(Path::new("")));
                let joined = link_dir.join(&target);
                let inside = match joined.canonicalize() {
                    Ok(real) => real.starts_with(&root),
                    // Dangling: judged by where it would point.
                    Err(_) => normalize(&joined).starts_with(&root),
                };
                if !inside {
                    return Err(StageError::SymlinkOutside { link: relative.to_path_buf(), target });
                }
            }
        }
    }
    Ok(())
}

/// `a/b/../c` → `a/c`, without touching the disk.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Copies a directory tree, keeping symlinks as symlinks and file modes; `.git` is left out.
pub fn copy_tree(from: &Path, to: &Path) -> Result<(), StageError> {
    std::fs::create_dir_all(to).map_err(|source| StageError::Create { path: to.to_path_buf(), source })?;
    let entries = std::fs::read_dir(from).map_err(|source| StageError::Read { path: from.to_path_buf(), source })?;
    for entry in entries {
        let entry = entry.map_err(|source| StageError::Read { path: from.to_path_buf(), source })?;
        let name = entry.file_name();
        if name == ".git" {
            continue;
        }
        let (source, target) = (entry.path(), to.join(&name));
        let kind = entry.file_type().map_err(|error| StageError::Read { path: source.clone(), source: error })?;
        let copied = if kind.is_symlink() {
            std::fs::read_link(&source).and_then(|link| std::os::unix::fs::symlink(link, &target))
        } else if kind.is_dir() {
            copy_tree(&source, &target)?;
            Ok(())
        } else {
            std::fs::copy(&source, &target).map(|_| ())
        };
        copied.map_err(|error| StageError::Copy { path: source, source: error })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(dir: &Path, yaml: &str) {
        std::fs::create_dir_all(dir.join("actions")).expect("mkdir");
        std::fs::write(dir.join("pack.yaml"), yaml).expect("write");
    }

    #[test]
    fn symlinks_inside_the_pack_pass_and_escaping_ones_are_refused() {
        let home = tempfile::tempdir().expect("temp dir");
        let dir = home.path().join("demo");
        pack(&dir, "name: demo\n");
        std::fs::write(dir.join("actions/run.sh"), "echo\n").expect("write");
        std::os::unix::fs::symlink("run.sh", dir.join("actions/alias.sh")).expect("symlink");
        std::os::unix::fs::symlink("../actions", dir.join("actions/self")).expect("symlink");
        check_symlinks(&dir).expect("links inside the pack pass");
        for (name, target) in [("passwd", "/etc/passwd"), ("up", "../../outside"), ("dangling", "../../../nowhere/x")] {
            let link = dir.join("actions").join(name);
            std::os::unix::fs::symlink(target, &link).expect("symlink");
            let error = check_symlinks(&dir).expect_err(name).to_string();
            assert!(error.contains(&format!("symlink actions/{name}")) && error.contains("outside"), "{error}");
            std::fs::remove_file(link).expect("remove");
        }
    }

    #[test]
    fn the_install_ref_is_ref_then_name_and_reserved_refs_are_refused() {
        let home = tempfile::tempdir().expect("temp dir");
        let cases = [
            ("ref: docker\nname: Docker\n", Ok("docker")),
            ("name: sensu\n", Ok("sensu")),
            ("name: stackstorm-x\n", Err("invalid")),
            ("ref: core\nname: c\n", Err("reserved")),
            ("ref: ../x\nname: c\n", Err("not a valid pack ref")),
        ];
        for (yaml, expected) in cases {
            let dir = home.path().join("p");
            pack(&dir, yaml);
            match (install_ref(&dir), expected) {
                (Ok(found), Ok(want)) => assert_eq!(found, want),
                (Err(error), Err(reason)) => {
                    assert!(error.to_string().contains(reason) || reason == "invalid", "{yaml}: {error}")
                }
                (found, want) => panic!("{yaml}: {found:?} vs {want:?}"),
            }
        }
    }

    #[test]
    fn copies_keep_modes_and_symlinks_and_leave_git_out() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().expect("temp dir");
        let from = home.path().join("from");
        pack(&from, "name: demo\n");
        std::fs::create_dir_all(from.join(".git")).expect("mkdir");
        std::fs::write(from.join("actions/run.sh"), "echo\n").expect("write");
        std::fs::set_permissions(from.join("actions/run.sh"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::os::unix::fs::symlink("run.sh", from.join("actions/alias.sh")).expect("symlink");
        let to = home.path().join("to");
        copy_tree(&from, &to).expect("copied");
        assert!(!to.join(".git").exists());
        let mode = std::fs::metadata(to.join("actions/run.sh")).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(std::fs::read_link(to.join("actions/alias.sh")).expect("link"), PathBuf::from("run.sh"));
    }
}
