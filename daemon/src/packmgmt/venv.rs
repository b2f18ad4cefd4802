//! Pack virtualenvs at `<virtualenvs>/<pack>` (ST2-COMPAT.md 1.5): `python -m venv`, then
//! `pip install -U -r requirements.txt` with its output streamed as progress; a failure names
//! the requirement and the line that says why (`piplog`).
//!
//! A new virtualenv is built beside the live one (`<virtualenvs>/.<pack>-<nonce>`) and
//! published by pointing the symlink `<virtualenvs>/<pack>` at it in one rename, so a failed
//! build leaves the working one as it was, and sensors and actions never see a half-built one.
//! `update=true` installs into the live virtualenv instead.
//!
//! Owns: creating, publishing and removing virtualenvs. Must not: decide whether a pack needs
//! one (install does), or block the runtime (children run through `crate::process`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::swap::SwapError;
use crate::process::{Ending, Pipe, ProcessSpec, RunLimits};
use crate::pyenv::piplog::PipLog;

/// Why a virtualenv could not be built, published or removed; each names the pack or path.
#[derive(Debug, thiserror::Error)]
pub enum VenvError {
    #[error("cannot create {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("{what} for pack {pack}: cannot start {program}: {source}")]
    Start { what: &'static str, pack: String, program: PathBuf, source: std::io::Error },
    #[error("{what} for pack {pack} timed out")]
    TimedOut { what: &'static str, pack: String },
    #[error("{what} for pack {pack} was canceled")]
    Canceled { what: &'static str, pack: String },
    /// `detail`: the requirement that failed and the line that says why (`piplog`), else the
    /// last lines of the output.
    #[error("{what} failed for pack {pack} (exit code {exit_code}): {detail}")]
    Failed { what: &'static str, pack: String, exit_code: String, detail: String },
    #[error("a virtualenv directory has a name")]
    Unnamed,
    #[error("cannot publish the virtualenv of {pack} at {live}: {source}")]
    Exchange { pack: String, live: PathBuf, source: SwapError },
    #[error("cannot publish the virtualenv of {pack} at {live}: {source}")]
    Publish { pack: String, live: PathBuf, source: std::io::Error },
    #[error("cannot remove {path}: {source}")]
    Remove { path: PathBuf, source: std::io::Error },
}

/// One virtualenv job.
pub struct VenvJob<'a> {
    pub python: &'a Path,
    pub virtualenvs_dir: &'a Path,
    pub pack: &'a str,
    /// Where `requirements.txt` is read (the staged or installed pack).
    pub pack_dir: &'a Path,
    pub update: bool,
    /// Extra environment (the action's `env` parameter, proxies).
    pub env: BTreeMap<String, String>,
    pub timeout: Duration,
    pub cancel: &'a CancellationToken,
    pub progress: &'a (dyn Fn(&str) + Send + Sync),
}

/// The live virtualenv of `pack`: `<virtualenvs>/<pack>`.
pub fn live_path(virtualenvs_dir: &Path, pack: &str) -> PathBuf {
    virtualenvs_dir.join(pack)
}

fn exists(venv: &Path) -> bool {
    venv.join("bin").join("python").exists()
}

/// Builds (or with `update`, refreshes) the pack's virtualenv and publishes it.
pub async fn setup(job: &VenvJob<'_>) -> Result<PathBuf, VenvError> {
    let live = live_path(job.virtualenvs_dir, job.pack);
    std::fs::create_dir_all(job.virtualenvs_dir)
        .map_err(|source| VenvError::Create { path: job.virtualenvs_dir.to_path_buf(), source })?;
    let deadline = tokio::time::Instant::now() + job.timeout;
    if job.update && exists(&live) {
        (job.progress)(&format!("Updating the virtualenv of {} at {}", job.pack, live.display()));
        install_requirements(job, &live, deadline).await?;
        return Ok(live);
    }
    let fresh = job.virtualenvs_dir.join(format!(".{}-{}", job.pack, st2d_core::random::unique_name()));
    (job.progress)(&format!("Creating the virtualenv of {} with {}", job.pack, job.python.display()));
    let built = async {
        let create = ProcessSpec::new(job.python, job.virtualenvs_dir).arg("-m").arg("venv").arg(&fresh);
        run_step(job, create, "python -m venv", deadline).await?;
        install_requirements(job, &fresh, deadline).await
    }
    .await;
    if let Err(error) = built {
        remove_dir(&fresh);
        return Err(error);
    }
    publish(job.virtualenvs_dir, job.pack, &fresh)?;
    (job.progress)(&format!("The virtualenv of {} is ready at {}", job.pack, live.display()));
    Ok(live)
}

async fn install_requirements(job: &VenvJob<'_>, venv: &Path, deadline: tokio::time::Instant) -> Result<(), VenvError> {
    let requirements = job.pack_dir.join("requirements.txt");
    if !requirements.is_file() {
        return Ok(());
    }
    (job.progress)(&format!("Installing the requirements of {}", job.pack));
    let pip = ProcessSpec::new(venv.join("bin").join("python"), job.pack_dir)
        .arg("-m")
        .arg("pip")
        .arg("install")
        .arg("--disable-pip-version-check")
        .arg("--no-input")
        .arg("-U")
        .arg("-r")
        .arg(&requirements);
    run_step(job, pip, "pip install -r requirements.txt", deadline).await
}

async fn run_step(
    job: &VenvJob<'_>,
    mut spec: ProcessSpec,
    what: &'static str,
    deadline: tokio::time::Instant,
) -> Result<(), VenvError> {
    for (key, value) in &job.env {
        spec = spec.env(key, value);
    }
    let limits = RunLimits {
        timeout: Some(deadline.saturating_duration_since(tokio::time::Instant::now())),
        capture: 64 * 1024,
        grace: crate::process::KILL_GRACE,
    };
    let log = Mutex::new(PipLog::default());
    let on_line = |_: Pipe, line: &str| {
        (job.progress)(line);
        if let Ok(mut log) = log.lock() {
            log.feed(line);
        }
    };
    let captured = crate::process::run(&spec, limits, job.cancel, &on_line).await.map_err(|source| {
        VenvError::Start { what, pack: job.pack.to_string(), program: spec.program.clone(), source }
    })?;
    match (captured.ending, captured.exit_code) {
        (Ending::Exited, Some(0)) => Ok(()),
        (Ending::TimedOut, _) => Err(VenvError::TimedOut { what, pack: job.pack.to_string() }),
        (Ending::Cancelled, _) => Err(VenvError::Canceled { what, pack: job.pack.to_string() }),
        (Ending::Exited, code) => {
            let explained = log.lock().ok().and_then(|log| log.explain());
            let detail = explained.map_or_else(
                || {
                    let stderr = String::from_utf8_lossy(&captured.stderr);
                    let stdout = String::from_utf8_lossy(&captured.stdout);
                    let tail: Vec<&str> = if stderr.trim().is_empty() { stdout.lines() } else { stderr.lines() }
                        .filter(|l| !l.trim().is_empty())
                        .collect();
                    tail[tail.len().saturating_sub(5)..].join("\n")
                },
                |explained| explained.to_string(),
            );
            Err(VenvError::Failed {
                what,
                pack: job.pack.to_string(),
                exit_code: code.map_or_else(|| "unknown".to_string(), |c| c.to_string()),
                detail,
            })
        }
    }
}

/// Points `<virtualenvs>/<pack>` at `fresh` in one rename and removes what it pointed at.
fn publish(virtualenvs_dir: &Path, pack: &str, fresh: &Path) -> Result<(), VenvError> {
    let live = live_path(virtualenvs_dir, pack);
    let name = fresh.file_name().ok_or(VenvError::Unnamed)?;
    let link = virtualenvs_dir.join(format!("{}.link", name.to_string_lossy()));
    std::os::unix::fs::symlink(name, &link).map_err(|source| VenvError::Create { path: link.clone(), source })?;
    let previous = std::fs::symlink_metadata(&live).ok();
    let old_target = std::fs::read_link(&live).ok();
    let swapped = match previous {
        Some(meta) if meta.is_dir() => super::swap::exchange(&link, &live)
            .map(|()| {
                // `link` now names the old, real directory.
                remove_dir(&link);
            })
            .map_err(|source| VenvError::Exchange { pack: pack.to_string(), live: live.clone(), source }),
        _ => std::fs::rename(&link, &live).map_err(|source| VenvError::Publish {
            pack: pack.to_string(),
            live: live.clone(),
            source,
        }),
    };
    if let Err(error) = swapped {
        let _ = std::fs::remove_file(&link);
        return Err(error);
    }
    if let Some(old) = old_target {
        let old = virtualenvs_dir.join(old);
        if old.parent() == Some(virtualenvs_dir) && old != fresh {
            remove_dir(&old);
        }
    }
    Ok(())
}

/// Removes the pack's virtualenv (the symlink and what it points at, or a plain directory).
pub fn remove(virtualenvs_dir: &Path, pack: &str) -> Result<bool, VenvError> {
    let live = live_path(virtualenvs_dir, pack);
    let Ok(meta) = std::fs::symlink_metadata(&live) else {
        return Ok(false);
    };
    if meta.is_symlink() {
        let target = std::fs::read_link(&live).ok().map(|t| virtualenvs_dir.join(t));
        std::fs::remove_file(&live).map_err(|source| VenvError::Remove { path: live.clone(), source })?;
        if let Some(target) = target.filter(|t| t.parent() == Some(virtualenvs_dir)) {
            remove_dir(&target);
        }
    } else {
        std::fs::remove_dir_all(&live).map_err(|source| VenvError::Remove { path: live.clone(), source })?;
    }
    Ok(true)
}

/// Removes virtualenvs left half-built by a crash: hidden directories nothing points at.
pub fn sweep_unpublished(virtualenvs_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(virtualenvs_dir) else {
        return;
    };
    let entries: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    let targets: Vec<PathBuf> =
        entries.iter().filter_map(|path| std::fs::read_link(path).ok().map(|t| virtualenvs_dir.join(t))).collect();
    for path in entries {
        let hidden = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden && !targets.contains(&path) {
            if path.is_symlink() {
                let _ = std::fs::remove_file(&path);
            } else {
                remove_dir(&path);
            }
        }
    }
}

fn remove_dir(dir: &Path) {
    if let Err(error) = std::fs::remove_dir_all(dir)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %dir.display(), error = %error, "cannot remove an old virtualenv");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishing_replaces_a_link_or_a_directory_and_removes_the_old_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let venvs = dir.path();
        let make = |name: &str| {
            let path = venvs.join(name);
            std::fs::create_dir_all(path.join("bin")).expect("mkdir");
            std::fs::write(path.join("bin/python"), name).expect("write");
            path
        };
        // A real directory, as StackStorm or an operator made it.
        make("demo");
        let first = make(".demo-1");
        publish(venvs, "demo", &first).expect("published over a directory");
        assert_eq!(std::fs::read_to_string(venvs.join("demo/bin/python")).expect("read"), ".demo-1");
        let second = make(".demo-2");
        publish(venvs, "demo", &second).expect("published over a link");
        assert_eq!(std::fs::read_to_string(venvs.join("demo/bin/python")).expect("read"), ".demo-2");
        assert!(!first.exists(), "the previous virtualenv is removed");
        make(".demo-3-half-built");
        sweep_unpublished(venvs);
        assert!(second.exists() && !venvs.join(".demo-3-half-built").exists());
        assert!(remove(venvs, "demo").expect("removed"));
        assert!(!second.exists() && std::fs::symlink_metadata(venvs.join("demo")).is_err());
        assert!(!remove(venvs, "demo").expect("nothing to remove"));
    }
}
