//! The built-in `core` and `packs` packs (DESIGN.md 3.10), embedded in the binary and written
//! out to the data directory at start, so they load through the same loader as any pack.
//!
//! Owns: the list of embedded files and writing them out. Must not: special-case their content
//! anywhere else; to the registry they are packs like the others, flagged `builtin`.

use std::io;
use std::path::{Path, PathBuf};

/// Refs of the built-in packs. A directory in a packs dir with one of these refs is ignored.
pub const BUILTIN_PACKS: &[&str] = &["core", "packs"];

macro_rules! embedded {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../builtin/", $path)))),*]
    };
}

/// `(path relative to the built-in packs dir, content)`.
const FILES: &[(&str, &str)] = embedded![
    "core/actions/echo.yaml",
    "core/actions/http.yaml",
    "core/actions/inject_trigger.yaml",
    "core/actions/local.yaml",
    "core/actions/local_sudo.yaml",
    "core/actions/noop.yaml",
    "core/pack.yaml",
    "core/triggers/actiontrigger.yaml",
    "core/triggers/cron_timer.yaml",
    "core/triggers/date_timer.yaml",
    "core/triggers/file_written.yaml",
    "core/triggers/inquiry.yaml",
    "core/triggers/interval_timer.yaml",
    "core/triggers/kv_create.yaml",
    "core/triggers/kv_delete.yaml",
    "core/triggers/kv_update.yaml",
    "core/triggers/kv_value_change.yaml",
    "core/triggers/notifytrigger.yaml",
    "core/triggers/process_exit.yaml",
    "core/triggers/process_spawn.yaml",
    "core/triggers/webhook.yaml",
    "packs/actions/delete.yaml",
    "packs/actions/download.yaml",
    "packs/actions/get.yaml",
    "packs/actions/install.yaml",
    "packs/actions/list.yaml",
    "packs/actions/load.yaml",
    "packs/actions/restart_component.yaml",
    "packs/actions/setup_virtualenv.yaml",
    "packs/actions/uninstall.yaml",
    "packs/actions/unload.yaml",
    "packs/config.schema.yaml",
    "packs/pack.yaml",
];

/// Writes the built-in packs under `dir` (replacing what an older binary wrote there) and
/// returns the directory of each, in `BUILTIN_PACKS` order.
pub fn write_out(dir: &Path) -> io::Result<Vec<PathBuf>> {
    for pack in BUILTIN_PACKS {
        let pack_dir = dir.join(pack);
        if pack_dir.exists() {
            std::fs::remove_dir_all(&pack_dir)?;
        }
    }
    for (path, content) in FILES {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(target, content)?;
    }
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
            assert!(
                actions.contains(&expected.to_string()),
                "{expected} missing from {actions:?}"
            );
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
