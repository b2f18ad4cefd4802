//! Atomic directory swaps: `renameat2(RENAME_EXCHANGE)` trades a staged pack and the installed
//! one in a single step, so the packs directory never shows a missing or half-copied pack.
//!
//! Owns: the rename calls. Must not: decide what is swapped.

use std::path::{Path, PathBuf};

use rustix::fs::{CWD, RenameFlags, renameat_with};

/// Why a swap or move did not happen; each names both paths.
#[derive(Debug, thiserror::Error)]
pub enum SwapError {
    #[error("cannot exchange {a} and {b}: {source}")]
    Exchange { a: PathBuf, b: PathBuf, source: rustix::io::Errno },
    #[error("cannot move {from} to {to}: {source}")]
    Move { from: PathBuf, to: PathBuf, source: std::io::Error },
}

/// Exchanges two existing paths atomically.
pub fn exchange(a: &Path, b: &Path) -> Result<(), SwapError> {
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(|source| SwapError::Exchange {
        a: a.to_path_buf(),
        b: b.to_path_buf(),
        source,
    })
}

/// Moves `staged` to `target`. When `target` exists the two are exchanged, so `staged` then
/// holds the previous version (returns true); otherwise it is a plain rename (returns false).
pub fn install_dir(staged: &Path, target: &Path) -> Result<bool, SwapError> {
    if std::fs::symlink_metadata(target).is_ok() {
        exchange(staged, target)?;
        Ok(true)
    } else {
        std::fs::rename(staged, target).map_err(|source| SwapError::Move {
            from: staged.to_path_buf(),
            to: target.to_path_buf(),
            source,
        })?;
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installing_over_a_directory_exchanges_them() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (staged, target) = (dir.path().join("staged"), dir.path().join("target"));
        std::fs::create_dir(&staged).expect("mkdir");
        std::fs::write(staged.join("v"), "2").expect("write");
        assert!(!install_dir(&staged, &target).expect("moved"));
        assert!(!staged.exists());
        std::fs::create_dir(&staged).expect("mkdir");
        std::fs::write(staged.join("v"), "3").expect("write");
        assert!(install_dir(&staged, &target).expect("exchanged"));
        assert_eq!(std::fs::read_to_string(target.join("v")).expect("read"), "3");
        assert_eq!(std::fs::read_to_string(staged.join("v")).expect("read"), "2");
    }
}
