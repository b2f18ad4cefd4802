//! StackStorm's implicit Python libraries (`base-requirements.txt`: six, requests, eventlet,
//! PyYAML, oslo.config, python-dateutil, st2client...), which packs import without listing
//! them: installed once per Python version and list into `<python-base-dir>/<X.Y>-<hash>/site`
//! with pip, and put on every pack process's path after the pack's own virtualenv.
//!
//! A build goes into a hidden directory and is renamed into place when complete, so a half
//! built directory is never used; a complete one is found again at the next start and not
//! rebuilt. Two daemons sharing the directory may both build; the first rename wins.
//!
//! Owns: that directory and when it is built. Must not: block start-up (the daemon builds it
//! in the background after READY; `st2d python-base` builds it in the foreground).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::piplog::PipLog;
use crate::process::{Ending, Pipe, ProcessSpec, RunLimits};

/// The pinned list, as pip reads it.
pub const REQUIREMENTS: &str = include_str!("base-requirements.txt");

/// How long one pip run may take.
const PIP_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The marker written last into a complete build.
const COMPLETE: &str = ".complete";

#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    #[error("cannot run {python}: {source}")]
    Start { python: String, source: std::io::Error },
    #[error("{python} does not report its version: {output}")]
    Version { python: String, output: String },
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error(
        "cannot build StackStorm's base Python libraries in {dir}: {reason} (set PIP_INDEX_URL or \
         PIP_FIND_LINKS for a mirror, or build them offline with `st2d python-base`)"
    )]
    Pip { dir: String, reason: String },
    #[error("the base Python libraries were not built: st2d is stopping")]
    Canceled,
}

/// How long a pack process waits at most for the look for a complete build (which runs the
/// interpreter once) before it starts without the base libraries.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the base libraries stand.
#[derive(Debug, Clone, PartialEq)]
enum Readiness {
    /// Looking for a complete build: pack processes wait for the answer.
    Looking,
    /// This `site` directory goes on the path.
    Ready(Arc<PathBuf>),
    /// None yet (being built, or the build failed): pack processes start without them.
    Unavailable,
}

/// The base libraries' directory, and the `site` directory of the current build once ready.
#[derive(Clone, Debug)]
pub struct BaseLibraries {
    root: PathBuf,
    readiness: Arc<watch::Sender<Readiness>>,
}

impl BaseLibraries {
    /// Nothing known yet (`prepare` finds or builds them); builds go under `root`.
    pub fn new(root: PathBuf) -> Self {
        Self { root, readiness: Arc::new(watch::Sender::new(Readiness::Looking)) }
    }

    /// Already at `site` (or never, with `None`): for tests of what uses them.
    pub fn ready_at(site: Option<PathBuf>) -> Self {
        let base = Self::new(PathBuf::new());
        base.set(site.map_or(Readiness::Unavailable, |site| Readiness::Ready(Arc::new(site))));
        base
    }

    /// The `site` directory to put on the path, when ready.
    pub fn site_dir(&self) -> Option<PathBuf> {
        match &*self.readiness.borrow() {
            Readiness::Ready(site) => Some(site.as_ref().clone()),
            Readiness::Looking | Readiness::Unavailable => None,
        }
    }

    /// Waits (up to half a minute) while `prepare` looks for a complete build, so that a pack
    /// process started right after st2d does not miss libraries that are there; never waits
    /// for a build.
    pub async fn settled(&self) {
        let mut readiness = self.readiness.subscribe();
        let settled = readiness.wait_for(|state| *state != Readiness::Looking);
        let _ = tokio::time::timeout(SETTLE_TIMEOUT, settled).await;
    }

    fn set(&self, readiness: Readiness) {
        self.readiness.send_replace(readiness);
    }

    /// Finds the complete build for `python`, or builds it (pip's output goes to `progress`),
    /// and makes it the one `site_dir` gives.
    pub async fn prepare(
        &self,
        python: &Path,
        progress: &(dyn Fn(&str) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<PathBuf, BaseError> {
        let found = self.find_or_build(python, progress, cancel).await;
        self.set(match &found {
            Ok(site) => Readiness::Ready(Arc::new(site.clone())),
            Err(_) => Readiness::Unavailable,
        });
        found
    }

    async fn find_or_build(
        &self,
        python: &Path,
        progress: &(dyn Fn(&str) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<PathBuf, BaseError> {
        let version = python_version(python, cancel).await?;
        let dir = self.root.join(format!("{version}-{}", list_hash()));
        if !dir.join(COMPLETE).is_file() {
            // Pack processes start without them while they are built.
            self.set(Readiness::Unavailable);
            progress(&format!("building StackStorm's base Python libraries for Python {version} in {}", dir.display()));
            self.build(python, &dir, progress, cancel).await?;
        }
        Ok(dir.join("site"))
    }

    async fn build(
        &self,
        python: &Path,
        dir: &Path,
        progress: &(dyn Fn(&str) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<(), BaseError> {
        let building = self.root.join(format!(".building-{}", st2d_core::random::unique_name()));
        let written = |path: &Path, source| BaseError::Write { path: path.display().to_string(), source };
        std::fs::create_dir_all(&building).map_err(|e| written(&building, e))?;
        let requirements = building.join("requirements.txt");
        std::fs::write(&requirements, REQUIREMENTS).map_err(|e| written(&requirements, e))?;
        let pip = pip_install(python, &building, &requirements);
        let outcome = run_pip(&pip, progress, cancel).await;
        let result = outcome.map_err(|reason| match reason {
            None => BaseError::Canceled,
            Some(reason) => BaseError::Pip { dir: dir.display().to_string(), reason },
        });
        let result = result.and_then(|()| {
            let marker = building.join(COMPLETE);
            std::fs::write(&marker, REQUIREMENTS).map_err(|e| written(&marker, e))
        });
        let result = result.and_then(|()| {
            if dir.exists() && !dir.join(COMPLETE).is_file() {
                // An incomplete directory in the way (written by hand, or half removed).
                let _ = std::fs::remove_dir_all(dir);
            }
            match std::fs::rename(&building, dir) {
                Ok(()) => Ok(()),
                // Another daemon sharing the directory finished first: use its build.
                Err(_) if dir.join(COMPLETE).is_file() => Ok(()),
                Err(source) => Err(written(dir, source)),
            }
        });
        if building.exists() {
            let _ = std::fs::remove_dir_all(&building);
        }
        result
    }
}

/// A short hash of the pinned list: a new list is a new build.
fn list_hash() -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, REQUIREMENTS.as_bytes());
    digest.as_ref()[..6].iter().map(|byte| format!("{byte:02x}")).collect()
}

/// `X.Y` of `python`.
async fn python_version(python: &Path, cancel: &CancellationToken) -> Result<String, BaseError> {
    let spec = ProcessSpec::new(python, "/").arg("-c").arg("import sys; print('%d.%d' % sys.version_info[:2])");
    let limits = RunLimits { timeout: Some(Duration::from_secs(30)), capture: 4096, grace: crate::process::KILL_GRACE };
    let captured = crate::process::run(&spec, limits, cancel, &|_, _| {})
        .await
        .map_err(|source| BaseError::Start { python: python.display().to_string(), source })?;
    let output = String::from_utf8_lossy(&captured.stdout).trim().to_string();
    let valid = output.split('.').count() == 2 && output.split('.').all(|part| part.parse::<u32>().is_ok());
    if captured.exit_code == Some(0) && valid {
        Ok(output)
    } else {
        let stderr = String::from_utf8_lossy(&captured.stderr).trim().to_string();
        Err(BaseError::Version {
            python: python.display().to_string(),
            output: if stderr.is_empty() { output } else { stderr },
        })
    }
}

/// `python -m pip install --target <building>/site -r <requirements>`, with pip's own
/// variables (`PIP_INDEX_URL`, `PIP_FIND_LINKS`, `PIP_NO_INDEX`...) passed through.
fn pip_install(python: &Path, building: &Path, requirements: &Path) -> ProcessSpec {
    let mut spec = ProcessSpec::new(python, building)
        .arg("-m")
        .arg("pip")
        .arg("install")
        .arg("--disable-pip-version-check")
        .arg("--no-input")
        .arg("--no-warn-script-location")
        .arg("--target")
        .arg(building.join("site"))
        .arg("-r")
        .arg(requirements);
    for (key, value) in std::env::vars_os() {
        if let Some(key) = key.to_str().filter(|key| key.starts_with("PIP_")) {
            spec = spec.env(key, value);
        }
    }
    spec
}

/// Runs pip; `Err(None)` when canceled, `Err(Some(reason))` when it failed.
async fn run_pip(
    spec: &ProcessSpec,
    progress: &(dyn Fn(&str) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<(), Option<String>> {
    let limits = RunLimits { timeout: Some(PIP_TIMEOUT), capture: 256 * 1024, grace: crate::process::KILL_GRACE };
    let log = Mutex::new(PipLog::default());
    let on_line = |_: Pipe, line: &str| {
        log.lock().unwrap_or_else(PoisonError::into_inner).feed(line);
        progress(line);
    };
    let captured = crate::process::run(spec, limits, cancel, &on_line)
        .await
        .map_err(|error| Some(format!("cannot run {}: {error}", spec.program.display())))?;
    match (captured.ending, captured.exit_code) {
        (Ending::Exited, Some(0)) => Ok(()),
        (Ending::Cancelled, _) => Err(None),
        (Ending::TimedOut, _) => Err(Some(format!("pip did not finish in {} minutes", PIP_TIMEOUT.as_secs() / 60))),
        (Ending::Exited, code) => Err(Some(failure(&log.lock().unwrap_or_else(PoisonError::into_inner), code))),
    }
}

/// Why pip failed, in one line: the requirement and the line that says why, and whether the
/// package index could not be reached.
fn failure(log: &PipLog, exit_code: Option<i32>) -> String {
    let reason = match log.explain() {
        Some(explanation) => format!("pip failed on {explanation}"),
        None => {
            format!("pip failed (exit code {})", exit_code.map_or_else(|| "unknown".to_string(), |c| c.to_string()))
        }
    };
    if log.index_unreachable() { format!("the package index cannot be reached; {reason}") } else { reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_the_requirement_and_an_unreachable_index() {
        let log = |text: &str| {
            let mut log = PipLog::default();
            text.lines().for_each(|line| log.feed(line));
            log
        };
        let offline = log(
            "WARNING: Retrying (Retry(total=4)) after connection broken by 'NewConnectionError(': Failed to establish a new connection: [Errno 101] Network is unreachable')'\nERROR: Could not find a version that satisfies the requirement six==1.17.0 (from versions: none)\nERROR: No matching distribution found for six==1.17.0\n",
        );
        let text = failure(&offline, Some(1));
        assert!(
            text.starts_with("the package index cannot be reached; pip failed on requirement \"six==1.17.0\""),
            "{text}"
        );
        let missing = log("ERROR: No matching distribution found for eventlet==99\n");
        let text = failure(&missing, Some(1));
        assert!(text.starts_with("pip failed on requirement \"eventlet==99\""), "{text}");
        assert_eq!(failure(&PipLog::default(), Some(2)), "pip failed (exit code 2)");
    }

    #[test]
    fn a_new_list_is_a_new_build() {
        assert_eq!(list_hash().len(), 12);
        assert!(REQUIREMENTS.lines().any(|line| line == "st2client==3.9.0"), "st2client is provided");
    }

    #[tokio::test]
    async fn a_complete_build_is_found_without_pip() {
        let root = tempfile::tempdir().expect("tempdir");
        let cancel = CancellationToken::new();
        let version =
            python_version(Path::new("python3"), &cancel).await.expect("python3 runs (apt-get install python3)");
        let dir = root.path().join(format!("{version}-{}", list_hash()));
        std::fs::create_dir_all(dir.join("site")).expect("site");
        std::fs::write(dir.join(COMPLETE), REQUIREMENTS).expect("marker");
        let base = BaseLibraries::new(root.path().to_path_buf());
        assert_eq!(base.site_dir(), None);
        let lines = std::sync::Mutex::new(Vec::new());
        let record = |line: &str| lines.lock().expect("lines").push(line.to_string());
        let site = base.prepare(Path::new("python3"), &record, &cancel).await.expect("found");
        assert_eq!(site, dir.join("site"));
        assert_eq!(base.site_dir(), Some(dir.join("site")));
        assert!(lines.lock().expect("lines").is_empty(), "nothing was built");
    }
}
