//! Atomic directory swaps: `renameat2(RENAME_EXCHANGE)` trades a staged pack and the installed
//! one in a single step, so the packs directory never shows a missing or half-copied pack.
//!
//! Owns: the rename calls. Must not: decide what is swapped.

use std::path::Path;

use rustix::fs::{CWD, RenameFlags, renameat_with};

/// Exchanges two existing paths atomically.
pub fn exchange(a: &Path, b: &Path) -> Result<(), String> {
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE)
        .map_err(|e| format!("cannot exchange {} and {}: {e}", a.display(), b.display()))
}

/// Moves `staged` to `target`. When `target` exists the two are exchanged, so `staged` then
/// holds the previous version (returns true); otherwise it is a plain rename (returns false).
pub fn install_dir(staged: &Path, target: &Path) -> Result<bool, String> {
    if std::fs::symlink_metadata(target).is_ok() {
        exchange(staged, target)?;
        Ok(true)
    } else {
        std::fs::rename(staged, target)
            .map_err(|e| format!("cannot move {} to {}: {e}", staged.display(), target.display()))?;
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
        assert_eq!(install_dir(&staged, &target), Ok(false));
        assert!(!staged.exists());
        std::fs::create_dir(&staged).expect("mkdir");
        std::fs::write(staged.join("v"), "3").expect("write");
        assert_eq!(install_dir(&staged, &target), Ok(true));
        assert_eq!(std::fs::read_to_string(target.join("v")).expect("read"), "3");
        assert_eq!(std::fs::read_to_string(staged.join("v")).expect("read"), "2");
    }
}
