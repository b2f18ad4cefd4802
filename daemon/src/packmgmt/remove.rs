//! Unload, delete and uninstall (ST2-COMPAT.md 6.1). Unload takes a pack out of the registry
//! (its sensors stop, its actions and rules go) while its files stay; delete removes the pack
//! directory and its virtualenv and forgets its registration policy; uninstall does both.
//! Built-in packs are refused, and `<config-dir>/<pack>.yaml` is always kept.
//!
//! Owns: those operations. Must not: remove anything outside a packs directory or the
//! virtualenvs directory.

use std::path::PathBuf;

use super::source::{SourceError, check_removable_ref};
use super::venv::{self, VenvError};
use super::{PackManager, Progress, TaskError, blocking, directly_under};
use crate::reload::{Cause, Registration, RegistrationMode, ReloadStopped};

/// Why packs were not unloaded or deleted; each names the pack or directory.
#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    #[error("no packs were given")]
    NoPacks,
    #[error(transparent)]
    Ref(#[from] SourceError),
    #[error("pack \"{pack}\" is not installed")]
    NotInstalled { pack: String },
    #[error("cannot delete {dir}: {source}")]
    Delete { dir: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Venv(#[from] VenvError),
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error(transparent)]
    Reload(#[from] ReloadStopped),
}

impl PackManager {
    /// Unloads installed packs.
    pub async fn unload(&self, packs: &[String], progress: &Progress<'_>) -> Result<(), RemoveError> {
        self.check_installed(packs)?;
        let _guards = self.lock(packs.iter().cloned()).await;
        self.unload_locked(packs, progress).await
    }

    /// Deletes packs (present or not), and their virtualenvs when `delete_env`.
    pub async fn delete(&self, packs: &[String], delete_env: bool, progress: &Progress<'_>) -> Result<(), RemoveError> {
        for pack in packs {
            check_removable_ref(pack)?;
        }
        let _guards = self.lock(packs.iter().cloned()).await;
        self.delete_locked(packs, delete_env, progress).await
    }

    /// Unloads, then deletes, installed packs.
    pub async fn uninstall(&self, packs: &[String], progress: &Progress<'_>) -> Result<(), RemoveError> {
        self.check_installed(packs)?;
        let _guards = self.lock(packs.iter().cloned()).await;
        self.unload_locked(packs, progress).await?;
        self.delete_locked(packs, true, progress).await
    }

    fn check_installed(&self, packs: &[String]) -> Result<(), RemoveError> {
        if packs.is_empty() {
            return Err(RemoveError::NoPacks);
        }
        let registry = self.published().registry();
        for pack in packs {
            check_removable_ref(pack)?;
            if registry.pack(pack).is_none() {
                return Err(RemoveError::NotInstalled { pack: pack.clone() });
            }
        }
        Ok(())
    }

    async fn unload_locked(&self, packs: &[String], progress: &Progress<'_>) -> Result<(), RemoveError> {
        let registration =
            Registration { packs: packs.to_vec(), mode: RegistrationMode::Unload, ..Registration::default() };
        self.reload().reload(Cause::Packs, Some(registration)).await?;
        for pack in packs {
            progress.line(&format!("Unloaded {pack}: its actions, trigger types, rules and sensors are unregistered"));
        }
        Ok(())
    }

    async fn delete_locked(
        &self,
        packs: &[String],
        delete_env: bool,
        progress: &Progress<'_>,
    ) -> Result<(), RemoveError> {
        let registry = self.published().registry();
        let roots = self.paths().packs_dirs.clone();
        let dirs: Vec<(String, PathBuf)> = packs
            .iter()
            .map(|pack| {
                let dir = registry
                    .pack(pack)
                    .filter(|e| !e.builtin && directly_under(&e.dir, &roots))
                    .map(|e| e.dir.clone())
                    .unwrap_or_else(|| self.paths().install_root.join(pack));
                (pack.clone(), dir)
            })
            .collect();
        let staging = self.staging_root();
        let virtualenvs = self.paths().virtualenvs_dir.clone();
        let removed = blocking(progress, move |lines| -> Result<(), RemoveError> {
            for (pack, dir) in dirs {
                if std::fs::symlink_metadata(&dir).is_ok() {
                    remove_tree(&dir, &staging)?;
                    lines(format!("Deleted {}", dir.display()));
                }
                if delete_env && venv::remove(&virtualenvs, &pack)? {
                    lines(format!("Deleted the virtualenv of {pack}"));
                }
            }
            Ok(())
        })
        .await?;
        for pack in packs {
            if let Err(error) = self.store().remove_pack_install(pack) {
                tracing::error!(pack = %pack, error = %error, "cannot drop the install record of a pack");
            }
        }
        let registration =
            Registration { packs: packs.to_vec(), mode: RegistrationMode::Forget, ..Registration::default() };
        self.reload().reload(Cause::Packs, Some(registration)).await?;
        removed
    }
}

/// Removes a pack directory: first renamed into staging, so it disappears from the packs
/// directory at once, then deleted.
fn remove_tree(dir: &std::path::Path, staging: &std::path::Path) -> Result<(), RemoveError> {
    let _ = std::fs::create_dir_all(staging);
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let trash = staging.join(format!("removed-{name}-{}", st2d_core::random::unique_name()));
    let doomed = match std::fs::rename(dir, &trash) {
        Ok(()) => trash,
        // Another filesystem (a later packs directory): deleted in place.
        Err(_) => dir.to_path_buf(),
    };
    std::fs::remove_dir_all(&doomed).map_err(|source| RemoveError::Delete { dir: dir.to_path_buf(), source })
}
