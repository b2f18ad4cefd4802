//! The built-in `core` and `packs` packs (DESIGN.md 3.10), embedded in the binary and written
//! out to the data directory at start, so they load through the same loader as any pack.
//!
//! Owns: the list of embedded files and writing them out. Must not: special-case their content
//! anywhere else; to the registry they are packs like the others, flagged `builtin`.

use std::io;
use std::path::{Path, PathBuf};

/// Refs of the built-in packs. A directory in a packs dir with one of these refs is ignored.
pub const BUILTIN_PACKS: &[&str] = &["core", "packs"];

/// Writes the built-in packs under `dir` (replacing what an older binary wrote there) and
/// returns the directory of each, in `BUILTIN_PACKS` order.
pub fn write_out(dir: &Path) -> io::Result<Vec<PathBuf>> {
    crate::embedded::write_tree(dir, crate::embedded::BUILTIN_PACK_FILES)?;
    Ok(BUILTIN_PACKS.iter().map(|pack| dir.join(pack)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::load::{PackLoad, load_pack};

    #[test]
    fn the_built_in_packs_load_without_errors() {
        let dir = tempfile::tempdir().expect("temp dir");
        let packs = write_out(dir.path()).expect("written");
        let mut actions = Vec::new();
        for pack_dir in packs {
            match load_pack(&pack_dir, dir.path(), true, None) {
                PackLoad::Loaded(pack) => {
                    assert!(pack.errors.is_empty(), "{:?}", pack.errors);
                    assert!(pack.warnings.is_empty(), "{:?}", pack.warnings);
                    actions.extend(pack.actions.iter().map(|a| a.ref_.clone()));
                }
                PackLoad::Failed { error, .. } => panic!("{error}"),
            }
        }
        for expected in [
            "core.local",
            "core.local_sudo",
            "core.noop",
            "core.echo",
            "core.http",
            "core.inject_trigger",
            "core.ask",
            "core.announcement",
            "packs.install",
            "packs.download",
            "packs.load",
            "packs.unload",
            "packs.delete",
            "packs.uninstall",
            "packs.setup_virtualenv",
            "packs.restart_component",
            "packs.get",
            "packs.list",
        ] {
            assert!(actions.contains(&expected.to_string()), "{expected} missing from {actions:?}");
        }
    }

    #[test]
    fn writing_out_twice_replaces_stale_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        write_out(dir.path()).expect("written");
        std::fs::write(dir.path().join("core/actions/stale.yaml"), "name: stale\n").expect("write");
        write_out(dir.path()).expect("written again");
        assert!(!dir.path().join("core/actions/stale.yaml").exists());
    }
}
