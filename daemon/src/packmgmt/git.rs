//! Git through libgit2: clone a pack repository (https, ssh, file://), resolve the requested
//! version as StackStorm does (branch, then tag/commit, then `v`-prefixed tag), and check the
//! chosen commit out into a plain directory without `.git`.
//!
//! Owns: every use of git2 in st2d. Must not: run on an async runtime thread (it blocks on the
//! network and the disk), or place anything in the packs directory (staging does).

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use git2::build::{CheckoutBuilder, RepoBuilder};
use git2::{CertificateCheckStatus, Cred, CredentialType, FetchOptions, ProxyOptions, RemoteCallbacks, Repository};

/// Why a fetch failed; each names the repository (libgit2's own message is shown without its
/// class and code).
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot open {url}: {message}", message = .source.message())]
    Open { url: String, source: git2::Error },
    #[error("cannot clone {url}: {message}", message = .source.message())]
    Clone { url: String, source: git2::Error },
    #[error("the download of {url} was stopped")]
    Stopped { url: String },
    #[error("{url} has no default branch: {message}", message = .source.message())]
    NoDefaultBranch { url: String, source: git2::Error },
    #[error("{url}: {message}", message = .source.message())]
    Head { url: String, source: git2::Error },
    #[error("\"{version}\" is not a valid version, hash, tag or branch in {url}. Available versions are: {available}.")]
    UnknownVersion { version: String, url: String, available: String },
    #[error("\"{resolved}\" in {url} is not a commit: {message}", message = .source.message())]
    NotACommit { resolved: String, url: String, source: git2::Error },
    #[error("cannot create {dir}: {source}")]
    CreateDir { dir: PathBuf, source: std::io::Error },
    #[error("cannot check out {resolved} of {url}: {message}", message = .source.message())]
    Checkout { resolved: String, url: String, source: git2::Error },
}

/// What was checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// The full commit id.
    pub commit: String,
    /// The ref the version resolved to (`origin/main`, `v1.2.0`...), or the default branch.
    pub resolved: String,
}

/// Options of one fetch.
pub struct FetchSpec<'a> {
    pub url: &'a str,
    pub version: Option<&'a str>,
    pub verify_ssl: bool,
    /// Set to abort the transfer (cancel or timeout).
    pub abort: &'a AtomicBool,
}

/// Whether `path` is a git repository (work tree or bare).
pub fn is_repository(path: &Path) -> bool {
    Repository::open(path).is_ok()
}

/// Clones `spec.url` into `repo_dir` (bare; a repository on this machine is read where it is),
/// resolves the version and checks its tree out into `tree_dir`. `progress` receives
/// human-readable lines.
pub fn fetch(
    spec: &FetchSpec<'_>,
    repo_dir: &Path,
    tree_dir: &Path,
    progress: &mut dyn FnMut(String),
) -> Result<Checkout, GitError> {
    // A repository on this machine is read in place: its objects are already here.
    let local = spec.url.strip_prefix("file://").unwrap_or(spec.url);
    let repo = if local.starts_with('/') && is_repository(Path::new(local)) {
        progress(format!("Reading {}", spec.url));
        Repository::open(local).map_err(|source| GitError::Open { url: spec.url.to_string(), source })?
    } else {
        progress(format!("Cloning {}", spec.url));
        clone(spec, repo_dir, progress)?
    };
    let (object, resolved) = resolve_version(&repo, spec.url, spec.version)?;
    let commit = object.peel_to_commit().map_err(|source| GitError::NotACommit {
        resolved: resolved.clone(),
        url: spec.url.to_string(),
        source,
    })?;
    std::fs::create_dir_all(tree_dir).map_err(|source| GitError::CreateDir { dir: tree_dir.to_path_buf(), source })?;
    let mut checkout = CheckoutBuilder::new();
    // Into `tree_dir` only: the repository's own index and work tree are left alone.
    checkout.force().update_index(false).target_dir(tree_dir);
    repo.checkout_tree(commit.as_object(), Some(&mut checkout)).map_err(|source| GitError::Checkout {
        resolved: resolved.clone(),
        url: spec.url.to_string(),
        source,
    })?;
    let id = commit.id().to_string();
    progress(format!("Checked out {resolved} ({})", &id[..id.len().min(12)]));
    Ok(Checkout { commit: id, resolved })
}

fn clone(spec: &FetchSpec<'_>, repo_dir: &Path, progress: &mut dyn FnMut(String)) -> Result<Repository, GitError> {
    let last_step = Cell::new(None::<(bool, usize)>);
    let lines = std::cell::RefCell::new(Vec::new());
    let attempts = Cell::new(0u32);
    let mut callbacks = RemoteCallbacks::new();
    callbacks.transfer_progress(|stats| {
        let (resolving, done, total) = if stats.received_objects() < stats.total_objects() || stats.total_deltas() == 0
        {
            (false, stats.received_objects(), stats.total_objects())
        } else {
            (true, stats.indexed_deltas(), stats.total_deltas())
        };
        // Every quarter of a large transfer; only the end of a small one.
        if total > 0 && (total >= 100 || done == total) {
            let step = done * 4 / total;
            if last_step.get() != Some((resolving, step)) {
                last_step.set(Some((resolving, step)));
                let what = if resolving { "Resolving deltas" } else { "Receiving objects" };
                lines.borrow_mut().push(format!("{what}: {:3}% ({done}/{total})", done * 100 / total));
            }
        }
        !spec.abort.load(Ordering::Relaxed)
    });
    callbacks.credentials(|url, username, allowed| {
        attempts.set(attempts.get() + 1);
        if attempts.get() > 3 {
            return Err(git2::Error::from_str("authentication failed"));
        }
        credentials(url, username, allowed)
    });
    if !spec.verify_ssl {
        callbacks.certificate_check(|_, _| Ok(CertificateCheckStatus::CertificateOk));
    }
    let mut proxy = ProxyOptions::new();
    proxy.auto();
    let mut fetch = FetchOptions::new();
    fetch.remote_callbacks(callbacks).proxy_options(proxy).download_tags(git2::AutotagOption::All);
    let result = RepoBuilder::new().bare(true).fetch_options(fetch).clone(spec.url, repo_dir);
    for line in lines.take() {
        progress(line);
    }
    result.map_err(|source| {
        if spec.abort.load(Ordering::Relaxed) {
            GitError::Stopped { url: spec.url.to_string() }
        } else {
            GitError::Clone { url: spec.url.to_string(), source }
        }
    })
}

/// ssh: the agent, then the default keys; https: git's credential helpers.
fn credentials(url: &str, username: Option<&str>, allowed: CredentialType) -> Result<Cred, git2::Error> {
    let user = username.unwrap_or("git");
    if allowed.contains(CredentialType::SSH_KEY) {
        if let Ok(cred) = Cred::ssh_key_from_agent(user) {
            return Ok(cred);
        }
        if let Some(home) = std::env::var_os("HOME") {
            for key in ["id_ed25519", "id_ecdsa", "id_rsa"] {
                let private = Path::new(&home).join(".ssh").join(key);
                if private.is_file() {
                    return Cred::ssh_key(user, None, &private, None);
                }
            }
        }
    }
    if allowed.contains(CredentialType::USER_PASS_PLAINTEXT)
        && let Ok(config) = git2::Config::open_default()
        && let Ok(cred) = Cred::credential_helper(&config, url, username)
    {
        return Ok(cred);
    }
    if allowed.contains(CredentialType::USERNAME) {
        return Cred::username(user);
    }
    Cred::default()
}

/// StackStorm's order: `origin/<v>` (a branch), `<v>` (a tag, commit or other ref), then
/// `v<v>` when `<v>` is semver; none given means the default branch.
fn resolve_version<'r>(
    repo: &'r Repository,
    url: &str,
    version: Option<&str>,
) -> Result<(git2::Object<'r>, String), GitError> {
    let Some(version) = version else {
        let head = repo.head().map_err(|source| GitError::NoDefaultBranch { url: url.to_string(), source })?;
        let name = head.shorthand().unwrap_or("HEAD").to_string();
        let object =
            head.peel(git2::ObjectType::Commit).map_err(|source| GitError::Head { url: url.to_string(), source })?;
        return Ok((object, name));
    };
    let mut candidates = vec![
        format!("refs/remotes/origin/{version}"),
        format!("refs/heads/{version}"),
        format!("refs/tags/{version}"),
        version.to_string(),
    ];
    if is_semver(version) {
        candidates.push(format!("refs/tags/v{version}"));
    }
    for candidate in candidates {
        if let Ok(object) = repo.revparse_single(&candidate) {
            let label = candidate
                .trim_start_matches("refs/remotes/")
                .trim_start_matches("refs/heads/")
                .trim_start_matches("refs/tags/")
                .to_string();
            return Ok((object, label));
        }
    }
    let mut versions = available_versions(repo);
    versions.sort_by_key(|v| semver_key(v));
    Err(GitError::UnknownVersion {
        version: version.to_string(),
        url: url.to_string(),
        available: if versions.is_empty() { "none".to_string() } else { versions.join(", ") },
    })
}

/// Semver tags, without their `v`.
fn available_versions(repo: &Repository) -> Vec<String> {
    let Ok(tags) = repo.tag_names(None) else {
        return Vec::new();
    };
    tags.iter()
        .flatten()
        .flatten()
        .map(|tag| tag.strip_prefix('v').unwrap_or(tag).to_string())
        .filter(|t| is_semver(t))
        .collect()
}

fn is_semver(text: &str) -> bool {
    let core = text.split(['-', '+']).next().unwrap_or(text);
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn semver_key(text: &str) -> Vec<u64> {
    text.split(['-', '+']).next().unwrap_or(text).split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_and_ssh_transports_are_built_in() {
        // Nothing listens on port 1: the error must be the connection's, not a missing
        // transport's ("unsupported URL protocol").
        let abort = AtomicBool::new(false);
        for url in ["https://127.0.0.1:1/pack.git", "ssh://git@127.0.0.1:1/pack.git", "git@127.0.0.1:pack.git"] {
            let dir = tempfile::tempdir().expect("temp dir");
            let spec = FetchSpec { url, version: None, verify_ssl: true, abort: &abort };
            let error = fetch(&spec, &dir.path().join("repo"), &dir.path().join("tree"), &mut |_| {})
                .expect_err("nothing listens there")
                .to_string();
            assert!(error.starts_with(&format!("cannot clone {url}: ")), "{error}");
            assert!(!error.to_lowercase().contains("unsupported"), "{url}: {error}");
        }
    }

    #[test]
    fn semver_is_three_numbers_with_optional_suffixes() {
        for good in ["1.0.0", "0.12.3", "1.0.0-rc.1", "2.0.0+build"] {
            assert!(is_semver(good), "{good}");
        }
        for bad in ["1.0", "v1.0.0", "main", "1.0.x", ""] {
            assert!(!is_semver(bad), "{bad}");
        }
        assert!(semver_key("0.10.0") > semver_key("0.9.1"));
    }
}
