//! The file watcher: turns notify events under the packs and config directories into reload
//! hints (DESIGN.md 3.3). Events are hints; the rescan they cause is the truth.
//!
//! Owns: the only use of notify. Must not: read pack files or decide what changed inside a pack
//! (a hint names a whole pack directory, which the reload actor reads again).

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use crate::registry::build::Dirty;
use crate::reload::{Published, ReloadHandle};

/// Keeps the watcher alive; dropping it stops watching.
pub struct PackWatcher {
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
}

/// What the watcher watches.
#[derive(Debug, Clone)]
pub struct WatchSet {
    pub roots: Vec<PathBuf>,
    pub config_dir: PathBuf,
}

/// Starts watching; hints go to `reload`. Directories that do not exist are skipped with a
/// warning (SIGHUP and `st2ctl reload` still rescan them).
pub fn start(
    set: WatchSet,
    debounce: Duration,
    reload: ReloadHandle,
    published: Published,
) -> Result<PackWatcher, notify::Error> {
    let mapper = set.clone();
    let mut debouncer = new_debouncer(debounce, None, move |result: DebounceEventResult| {
        let dirty = match result {
            Ok(events) => {
                let registry = published.registry();
                let config_pack_dir = |stem: &str| registry.pack(stem).map(|p| p.dir.clone());
                let mut dirty = Dirty::none();
                for event in &events {
                    // Reading files (ours included) is not a change.
                    if matches!(event.kind, EventKind::Access(_)) {
                        continue;
                    }
                    if event.need_rescan() || event.paths.is_empty() {
                        dirty = Dirty::All;
                        break;
                    }
                    for path in &event.paths {
                        dirty.merge(mapper.dirty_for(path, &config_pack_dir));
                    }
                }
                dirty
            }
            Err(errors) => {
                for error in errors {
                    tracing::warn!(error = %error, "file watcher error; rescanning everything");
                }
                Dirty::All
            }
        };
        if dirty != Dirty::none() {
            reload.hint(dirty);
        }
    })?;
    for root in &set.roots {
        watch_dir(&mut debouncer, root, RecursiveMode::Recursive);
    }
    watch_dir(&mut debouncer, &set.config_dir, RecursiveMode::NonRecursive);
    Ok(PackWatcher { _debouncer: debouncer })
}

fn watch_dir(debouncer: &mut Debouncer<notify::RecommendedWatcher, RecommendedCache>, dir: &Path, mode: RecursiveMode) {
    match debouncer.watch(dir, mode) {
        Ok(()) => tracing::debug!(path = %dir.display(), "watching"),
        Err(error) => tracing::warn!(
            path = %dir.display(),
            error = %error,
            "cannot watch this directory; changes in it are picked up by SIGHUP or st2ctl reload"
        ),
    }
}

impl WatchSet {
    /// The pack directory a changed path belongs to. A change of a root itself rescans all;
    /// a config file `<config-dir>/<ref>.yaml` marks the pack with that ref; `.git` and hidden
    /// entries of a root (the staging directory) are ignored.
    fn dirty_for(&self, path: &Path, pack_dir_of_ref: &dyn Fn(&str) -> Option<PathBuf>) -> Dirty {
        if path.components().any(|c| c == Component::Normal(".git".as_ref())) {
            return Dirty::none();
        }
        for root in &self.roots {
            let Ok(relative) = path.strip_prefix(root) else {
                continue;
            };
            return match relative.components().next() {
                None => Dirty::All,
                // Hidden entries (pack management's staging directory) hold no pack.
                Some(first) if first.as_os_str().to_string_lossy().starts_with('.') => Dirty::none(),
                Some(first) => Dirty::Dirs(HashSet::from([root.join(first)])),
            };
        }
        if path == self.config_dir {
            return Dirty::All;
        }
        if path.parent() == Some(self.config_dir.as_path())
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
            && let Some(dir) = pack_dir_of_ref(stem)
        {
            return Dirty::Dirs(HashSet::from([dir]));
        }
        Dirty::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_the_pack_directory_they_belong_to() {
        let set = WatchSet { roots: vec!["/p1".into(), "/p2".into()], config_dir: "/configs".into() };
        let lookup = |stem: &str| (stem == "demo").then(|| PathBuf::from("/p2/demo_dir"));
        let dirs = |paths: &[&str]| Dirty::Dirs(paths.iter().map(PathBuf::from).collect());
        let cases: &[(&str, Dirty)] = &[
            ("/p1/demo/actions/a.yaml", dirs(&["/p1/demo"])),
            ("/p2/other", dirs(&["/p2/other"])),
            ("/p1/demo/.git/index", Dirty::none()),
            ("/p1/.st2d-staging/1-2/demo/pack.yaml", Dirty::none()),
            ("/p1", Dirty::All),
            ("/configs/demo.yaml", dirs(&["/p2/demo_dir"])),
            ("/configs/unknown.yaml", Dirty::none()),
            ("/configs", Dirty::All),
            ("/elsewhere/x", Dirty::none()),
        ];
        for (path, expected) in cases {
            assert_eq!(&set.dirty_for(Path::new(path), &lookup), expected, "{path}");
        }
    }
}
