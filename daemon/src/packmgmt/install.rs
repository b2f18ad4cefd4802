//! Install and download: stage every asked-for pack and its dependencies, abort on dependency
//! conflicts, build virtualenvs beside the live ones, swap each pack in atomically, register,
//! and swap back any pack that does not load in place. A failure before a pack's swap leaves
//! its installed version untouched and running.
//!
//! Owns: that sequence. Must not: fetch or check packs itself (staging does), or write
//! registration policy (the reload actor does, on request).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::source::{PackArg, SourceError, parse};
use super::stage::{StageError, StageOptions, StagedPack, StagingDir, stage};
use super::swap::SwapError;
use super::venv::{self, VenvJob};
use super::versions::same_version;
use super::{PackManager, Progress, TaskError, blocking, swap};
use crate::registry::{PackInstall, Registry};
use crate::reload::{Cause, Registration, ReloadStopped};
use st2d_core::pack::model::{ContentKind, PackContent};

/// How many levels of dependencies are followed, as StackStorm's install workflow does.
const DEPENDENCY_LEVELS: usize = 10;

/// Why an install stopped; each names the pack or argument.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(transparent)]
    StagingDir(#[from] StageError),
    #[error("{argument}: {source}")]
    Stage { argument: String, source: StageError },
    #[error("pack {dependent}: dependency \"{text}\": {source}")]
    Dependency { dependent: String, text: String, source: SourceError },
    #[error("Unable to install packs due to conflicts: {}", .0.join("; "))]
    Conflicts(Vec<String>),
    #[error("stopped before every pack was placed")]
    Interrupted,
    #[error(transparent)]
    Swap(#[from] SwapError),
    #[error("cannot remove {path}: {source}")]
    Unplace { path: PathBuf, source: std::io::Error },
    /// Packs that did not load once placed, each with what was done about it.
    #[error("{}", .0.join("; "))]
    NotLive(Vec<String>),
    #[error("the install was canceled: {0}")]
    Canceled(#[source] Box<InstallError>),
    #[error("the install timed out: {0}")]
    TimedOut(#[source] Box<InstallError>),
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error(transparent)]
    Reload(#[from] ReloadStopped),
}

/// What to install and how.
#[derive(Debug, Clone)]
pub struct InstallRequest {
    pub args: Vec<PackArg>,
    /// The older form `packs=a,b repo_url=URL`: the repository, and the names under its
    /// `packs/` directory.
    pub repo: Option<(PackArg, Vec<String>)>,
    /// Kinds to register besides the pack's default set.
    pub register: BTreeSet<ContentKind>,
    pub force: bool,
    pub skip_dependencies: bool,
    /// Build virtualenvs (install); download leaves them alone.
    pub virtualenvs: bool,
    pub env: BTreeMap<String, String>,
    pub verify_ssl: bool,
    pub timeout: Duration,
}

/// One pack the job placed, or tried to.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub ref_: String,
    pub version: String,
    /// The virtualenv could not be built (the pack is installed and marked with it).
    pub setup_error: Option<String>,
    /// What the pack's load tolerated (StackStorm installs such packs too); also on the pack.
    pub warnings: Vec<String>,
}

/// What an install did.
#[derive(Debug, Default)]
pub struct InstallReport {
    pub placed: Vec<Placed>,
    /// Packs left at their previous version, with the reason.
    pub failures: Vec<String>,
}

/// A pack moved into the packs directory.
struct Swapped {
    ref_: String,
    version: String,
    target: PathBuf,
    /// The staged path, which holds the previous version after an exchange.
    staged: PathBuf,
    had_previous: bool,
}

impl PackManager {
    /// Installs (or with `virtualenvs: false`, downloads) the packs of `request`.
    pub async fn install(
        &self,
        request: &InstallRequest,
        progress: &Progress<'_>,
        cancel: &CancellationToken,
    ) -> Result<InstallReport, InstallError> {
        let abort = Arc::new(AtomicBool::new(false));
        let watchdog = {
            let (abort, cancel, timeout) = (abort.clone(), cancel.clone(), request.timeout);
            tokio::spawn(async move {
                tokio::select! {
                    () = cancel.cancelled() => {}
                    () = tokio::time::sleep(timeout) => {}
                }
                abort.store(true, Ordering::Relaxed);
            })
        };
        let staging = Arc::new(StagingDir::create(&self.staging_root())?);
        let result = self.install_staged(request, progress, cancel, &staging, &abort).await;
        watchdog.abort();
        // The staging directory holds the replaced versions: removed off the runtime, after
        // the job has answered.
        drop(tokio::task::spawn_blocking(move || drop(staging)));
        if abort.load(Ordering::Relaxed) && result.is_err() {
            let canceled = cancel.is_cancelled();
            return result.map_err(|error| {
                if canceled { InstallError::Canceled(Box::new(error)) } else { InstallError::TimedOut(Box::new(error)) }
            });
        }
        result
    }

    async fn install_staged(
        &self,
        request: &InstallRequest,
        progress: &Progress<'_>,
        cancel: &CancellationToken,
        staging: &Arc<StagingDir>,
        abort: &Arc<AtomicBool>,
    ) -> Result<InstallReport, InstallError> {
        let mut wanted: Vec<(PackArg, Option<Vec<String>>)> = request.args.iter().map(|a| (a.clone(), None)).collect();
        if let Some((repo, names)) = &request.repo {
            wanted.push((repo.clone(), Some(names.clone())));
        }
        let started = std::time::Instant::now();
        // The stages carry the names of StackStorm's install workflow's tasks.
        progress.stage("download_pack", "packs.download");
        let mut staged = self.stage_all(wanted, request, progress, staging, abort).await?;
        if !request.skip_dependencies {
            progress.stage("get_pack_dependencies", "packs.get_pack_dependencies");
            self.stage_dependencies(&mut staged, request, progress, staging, abort).await?;
        }
        if request.virtualenvs {
            progress.stage("install_pack_requirements", "packs.setup_virtualenv");
        }
        let staged_after = started.elapsed();
        let _guards = self.lock(staged.iter().map(|p| p.ref_.clone())).await;
        let registry = self.published().registry();
        let mut report = InstallReport::default();
        let mut swapped = Vec::new();
        for pack in &staged {
            if cancel.is_cancelled() || abort.load(Ordering::Relaxed) {
                return Err(InstallError::Interrupted);
            }
            let previous = registry.pack(&pack.ref_).and_then(|e| e.content.as_ref()).map(|c| c.meta.version.clone());
            let mut setup_error = None;
            if request.virtualenvs && needs_virtualenv(&pack.content, &pack.dir) {
                let job = VenvJob {
                    python: &self.paths().python,
                    virtualenvs_dir: &self.paths().virtualenvs_dir,
                    pack: &pack.ref_,
                    pack_dir: &pack.dir,
                    update: false,
                    env: request.env.clone(),
                    timeout: request.timeout,
                    cancel,
                    progress: &|line| progress.line(line),
                };
                if let Err(error) = venv::setup(&job).await {
                    let error = error.to_string();
                    progress.line(&error);
                    if let Some(previous) = &previous {
                        let failure = format!(
                            "{} {} was not installed: {error}; {previous} stays installed",
                            pack.ref_, pack.content.meta.version
                        );
                        self.mark_setup_error(&registry, &pack.ref_, &failure);
                        report.failures.push(failure);
                        continue;
                    }
                    setup_error = Some(error);
                }
            }
            let target = target_dir(&registry, &pack.ref_, &self.paths().install_root);
            let had_previous = swap::install_dir(&pack.dir, &target)?;
            progress.line(&format!("Placed {} {} at {}", pack.ref_, pack.content.meta.version, target.display()));
            self.record_install(pack, setup_error.clone());
            if let Some(error) = &setup_error {
                report.failures.push(format!("{}: {error}", pack.ref_));
            }
            report.placed.push(Placed {
                ref_: pack.ref_.clone(),
                version: pack.content.meta.version.clone(),
                setup_error,
                warnings: pack.content.warnings.clone(),
            });
            swapped.push(Swapped {
                ref_: pack.ref_.clone(),
                version: pack.content.meta.version.clone(),
                target,
                staged: pack.dir.clone(),
                had_previous,
            });
        }
        if let Err(error) = self.store().flush_async().await {
            tracing::error!(error = %error, "cannot write install records to the store");
        }
        if swapped.is_empty() {
            // Setup errors marked on installed packs show once the registry is rebuilt.
            let _ = self.reload().refresh().await;
            return Ok(report);
        }
        let registration = Registration {
            kinds: request.register.clone(),
            packs: swapped.iter().map(|s| s.ref_.clone()).collect(),
            ..Registration::default()
        };
        let placed_after = started.elapsed();
        progress.stage("register_pack", "packs.load");
        let reloaded = self.reload().reload(Cause::Packs, Some(registration)).await?;
        tracing::info!(
            packs = ?swapped.iter().map(|s| s.ref_.as_str()).collect::<Vec<_>>(),
            staged_ms = staged_after.as_millis() as u64,
            placed_ms = placed_after.as_millis() as u64,
            registered_ms = started.elapsed().as_millis() as u64,
            "packs placed and registered"
        );
        let registry = self.published().registry();
        let broken: Vec<(&Swapped, String)> =
            swapped.iter().filter_map(|s| not_live(&registry, s).map(|why| (s, why))).collect();
        if broken.is_empty() {
            let kinds: Vec<&str> = registry
                .pack(&swapped[0].ref_)
                .map(|e| e.registered.iter().map(|k| k.as_str()).collect())
                .unwrap_or_default();
            progress.line(&format!(
                "Registered {} (generation {}): {}",
                swapped.iter().map(|s| s.ref_.as_str()).collect::<Vec<_>>().join(", "),
                reloaded.generation,
                kinds.join(", ")
            ));
            return Ok(report);
        }
        let mut errors = Vec::new();
        for (pack, why) in &broken {
            let undone = if pack.had_previous {
                swap::exchange(&pack.staged, &pack.target)
                    .map(|()| "the previous version is back")
                    .map_err(InstallError::Swap)
            } else {
                std::fs::rename(&pack.target, &pack.staged)
                    .map(|()| "it was removed again")
                    .map_err(|source| InstallError::Unplace { path: pack.target.clone(), source })
            };
            errors.push(match undone {
                Ok(what) => format!("pack {} did not load after it was placed ({why}); {what}", pack.ref_),
                Err(error) => format!("pack {} did not load after it was placed ({why}), and {error}", pack.ref_),
            });
        }
        let _ = self.reload().reload(Cause::Packs, None).await;
        Err(InstallError::NotLive(errors))
    }

    async fn stage_all(
        &self,
        wanted: Vec<(PackArg, Option<Vec<String>>)>,
        request: &InstallRequest,
        progress: &Progress<'_>,
        staging: &Arc<StagingDir>,
        abort: &Arc<AtomicBool>,
    ) -> Result<Vec<StagedPack>, InstallError> {
        let (staging, abort) = (staging.clone(), abort.clone());
        let index_files = self.paths().index_files.clone();
        let config_dir = self.paths().config_dir.clone();
        let (verify_ssl, force) = (request.verify_ssl, request.force);
        blocking(progress, move |lines| {
            let options =
                StageOptions { index_files: &index_files, config_dir: &config_dir, verify_ssl, force, abort: &abort };
            let mut staged = Vec::new();
            for (arg, names) in &wanted {
                let packs = stage(arg, names.as_deref(), &staging, &options, lines)
                    .map_err(|source| InstallError::Stage { argument: arg.text.clone(), source })?;
                staged.extend(packs);
            }
            Ok(staged)
        })
        .await?
    }

    /// Follows `dependencies` of the staged packs (ST2-COMPAT.md 6.3): an installed or staged
    /// pack satisfies a dependency unless the pinned version differs, which is a conflict.
    async fn stage_dependencies(
        &self,
        staged: &mut Vec<StagedPack>,
        request: &InstallRequest,
        progress: &Progress<'_>,
        staging: &Arc<StagingDir>,
        abort: &Arc<AtomicBool>,
    ) -> Result<(), InstallError> {
        let registry = self.published().registry();
        let mut conflicts = Vec::new();
        let mut pending: Vec<(String, String)> = dependencies_of(staged);
        for _ in 0..DEPENDENCY_LEVELS {
            let mut fetch: Vec<PackArg> = Vec::new();
            for (dependent, text) in pending {
                let arg = parse(&text).map_err(|source| InstallError::Dependency {
                    dependent: dependent.clone(),
                    text: text.clone(),
                    source,
                })?;
                let name = arg.short_name();
                let pinned = arg.version.as_deref();
                let present = staged
                    .iter()
                    .find(|s| s.ref_ == name)
                    .map(|s| s.content.meta.version.clone())
                    .or_else(|| installed_version(&registry, &name));
                if let Some(version) = present {
                    if let Some(pinned) = pinned.filter(|p| !same_version(p, &version)) {
                        conflicts.push(format!("{dependent} needs {name} {pinned}, but {name} {version} is present"));
                    }
                    continue;
                }
                match fetch.iter().find(|a| a.short_name() == name) {
                    Some(other) if other.version.as_deref() != pinned => conflicts.push(format!(
                        "{name} is needed at {} and at {}",
                        other.version.as_deref().unwrap_or("any version"),
                        pinned.unwrap_or("any version")
                    )),
                    Some(_) => {}
                    None => fetch.push(arg),
                }
            }
            if !conflicts.is_empty() || fetch.is_empty() {
                break;
            }
            progress.line(&format!(
                "Installing dependencies: {}",
                fetch.iter().map(|a| a.text.as_str()).collect::<Vec<_>>().join(", ")
            ));
            let more = self
                .stage_all(fetch.into_iter().map(|a| (a, None)).collect(), request, progress, staging, abort)
                .await?;
            pending = dependencies_of(&more);
            staged.extend(more);
        }
        if conflicts.is_empty() { Ok(()) } else { Err(InstallError::Conflicts(conflicts)) }
    }

    fn record_install(&self, pack: &StagedPack, setup_error: Option<String>) {
        let record = PackInstall {
            source: pack.source.source.clone(),
            requested: pack.source.version.clone(),
            resolved: pack.source.resolved.clone(),
            commit: pack.source.commit.clone(),
            version: pack.content.meta.version.clone(),
            installed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            setup_error,
        };
        self.put_install(&pack.ref_, &record);
    }

    /// Marks the installed pack with a setup error (`pack get` shows it).
    pub(super) fn mark_setup_error(&self, registry: &Registry, pack: &str, error: &str) {
        let mut record = registry.pack(pack).and_then(|e| e.install.clone()).unwrap_or_else(|| PackInstall {
            source: "(not installed by st2d)".to_string(),
            requested: None,
            resolved: None,
            commit: None,
            version: registry
                .pack(pack)
                .and_then(|e| e.content.as_ref())
                .map(|c| c.meta.version.clone())
                .unwrap_or_default(),
            installed_at: String::new(),
            setup_error: None,
        });
        record.setup_error = (!error.is_empty()).then(|| error.to_string());
        self.put_install(pack, &record);
    }

    fn put_install(&self, pack: &str, record: &PackInstall) {
        let stored = serde_json::to_vec(record)
            .map_err(|e| e.to_string())
            .and_then(|bytes| self.store().put_pack_install(pack, &bytes).map_err(|e| e.to_string()));
        if let Err(error) = stored {
            tracing::error!(pack, error = %error, "cannot record the install of a pack");
        }
    }
}

/// (dependent, dependency text) of each staged pack.
fn dependencies_of(packs: &[StagedPack]) -> Vec<(String, String)> {
    packs.iter().flat_map(|p| p.content.meta.dependencies.iter().map(|d| (p.ref_.clone(), d.clone()))).collect()
}

/// The installed version of a pack named `name` (or without its `stackstorm-` prefix).
fn installed_version(registry: &Registry, name: &str) -> Option<String> {
    let found = registry.pack(name).or_else(|| name.strip_prefix("stackstorm-").and_then(|n| registry.pack(n)))?;
    found.content.as_ref().map(|c| c.meta.version.clone())
}

/// Where a pack goes: its current directory when that sits in the install root, else
/// `<install root>/<ref>`.
fn target_dir(registry: &Registry, pack: &str, install_root: &std::path::Path) -> PathBuf {
    registry
        .pack(pack)
        .filter(|e| !e.builtin && e.dir.parent() == Some(install_root))
        .map(|e| e.dir.clone())
        .unwrap_or_else(|| install_root.join(pack))
}

/// Python actions, sensors or a requirements file need a virtualenv.
pub fn needs_virtualenv(content: &PackContent, dir: &std::path::Path) -> bool {
    dir.join("requirements.txt").is_file()
        || !content.sensors.is_empty()
        || content.actions.iter().any(|a| a.runner_type == "python-script")
}

/// Why a placed pack is not live, if it is not.
fn not_live(registry: &Registry, placed: &Swapped) -> Option<String> {
    let Some(entry) = registry.pack(&placed.ref_) else {
        return Some("it is not in the registry".to_string());
    };
    let errors: Vec<String> = entry.errors().iter().map(ToString::to_string).collect();
    if !errors.is_empty() {
        return Some(errors.join("; "));
    }
    match &entry.content {
        Some(content) if content.dir == placed.target && content.meta.version == placed.version => None,
        Some(content) => {
            Some(format!("{} {} from {} is live instead", entry.ref_, content.meta.version, content.dir.display()))
        }
        None => Some("it did not load".to_string()),
    }
}
