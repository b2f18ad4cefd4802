//! Discovery and scanning: which pack directories exist, in precedence order, and their
//! loaded content, reusing the previous load of every directory that did not change.
//!
//! Owns: search-path precedence (built-in packs, then each packs directory in order; the first
//! directory name and the first ref win) and the per-directory load cache.
//! Must not: decide registration policy (the reload actor applies it from the store) or run on
//! an async runtime thread (it walks directories and parses YAML).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::pack::load::{PackLoad, is_pack_dir, load_pack};
use st2d_core::pack::model::{ContentError, PackContent};

/// Which pack directories must be read again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dirty {
    All,
    /// Pack directories (absolute); directories not seen before are always read.
    Dirs(HashSet<PathBuf>),
}

impl Dirty {
    pub fn none() -> Self {
        Dirty::Dirs(HashSet::new())
    }

    /// Widens `self` to cover `other` as well.
    pub fn merge(&mut self, other: Dirty) {
        match (&mut *self, other) {
            (Dirty::All, _) => {}
            (_, Dirty::All) => *self = Dirty::All,
            (Dirty::Dirs(mine), Dirty::Dirs(theirs)) => mine.extend(theirs),
        }
    }

    fn contains(&self, dir: &Path) -> bool {
        match self {
            Dirty::All => true,
            Dirty::Dirs(dirs) => dirs.contains(dir),
        }
    }
}

/// A pack found by a scan, before registration policy is applied.
#[derive(Debug, Clone)]
pub struct ScannedPack {
    pub ref_: String,
    pub dir: PathBuf,
    pub builtin: bool,
    pub content: Option<Arc<PackContent>>,
    pub pack_error: Option<ContentError>,
    pub notes: Vec<String>,
}

/// The result of one scan: packs in precedence order, and problems that belong to no pack.
#[derive(Debug, Default)]
pub struct Scan {
    pub packs: Vec<ScannedPack>,
    pub problems: Vec<String>,
}

/// Scans the packs directories, keeping each directory's last load.
pub struct Scanner {
    builtin_dirs: Vec<PathBuf>,
    roots: Vec<PathBuf>,
    config_dir: PathBuf,
    cache: HashMap<PathBuf, PackLoad>,
}

impl Scanner {
    pub fn new(builtin_dirs: Vec<PathBuf>, roots: Vec<PathBuf>, config_dir: PathBuf) -> Self {
        Self { builtin_dirs, roots, config_dir, cache: HashMap::new() }
    }

    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    /// Discovers the packs and loads the directories that are dirty or new.
    pub fn scan(&mut self, dirty: &Dirty) -> Scan {
        let mut scan = Scan::default();
        let candidates = self.discover(&mut scan.problems);
        let mut cache = HashMap::with_capacity(candidates.len());
        for (dir, builtin) in &candidates {
            let previous = self.cache.remove(dir);
            let load = match previous {
                Some(load) if !dirty.contains(dir) => load,
                previous => {
                    let last_good = previous.as_ref().and_then(last_good);
                    load_pack(dir, &self.config_dir, *builtin, last_good.as_ref())
                }
            };
            cache.insert(dir.clone(), load);
        }
        self.cache = cache;
        let mut by_ref: HashMap<String, usize> = HashMap::new();
        for (dir, builtin) in candidates {
            let Some(load) = self.cache.get(&dir) else {
                continue;
            };
            let pack = scanned(&dir, builtin, load);
            if let Some(&winner) = by_ref.get(&pack.ref_) {
                let winner = &mut scan.packs[winner];
                let note = format!(
                    "{} also holds a pack with ref \"{}\" and is ignored: {} comes first",
                    dir.display(),
                    pack.ref_,
                    if winner.builtin { "the built-in pack".to_string() } else { winner.dir.display().to_string() }
                );
                scan.problems.push(note.clone());
                winner.notes.push(note);
                continue;
            }
            by_ref.insert(pack.ref_.clone(), scan.packs.len());
            scan.packs.push(pack);
        }
        scan
    }

    /// Pack directories in precedence order; a directory name found again in a later root is
    /// ignored, as StackStorm does.
    fn discover(&self, problems: &mut Vec<String>) -> Vec<(PathBuf, bool)> {
        let mut found: Vec<(PathBuf, bool)> = self.builtin_dirs.iter().map(|dir| (dir.clone(), true)).collect();
        let mut names: HashMap<String, PathBuf> = HashMap::new();
        for root in &self.roots {
            for dir in pack_dirs(root) {
                let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if let Some(first) = names.get(&name) {
                    problems.push(format!("{} is ignored: {} comes first", dir.display(), first.display()));
                    continue;
                }
                names.insert(name, dir.clone());
                found.push((dir, false));
            }
        }
        found
    }
}

/// The pack directories directly under `root`, sorted by name.
pub fn pack_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            !name.starts_with('.') && name != "__pycache__"
        })
        .map(|entry| entry.path())
        .filter(|path| is_pack_dir(path))
        .collect();
    dirs.sort_unstable();
    dirs
}

fn last_good(load: &PackLoad) -> Option<Arc<PackContent>> {
    match load {
        PackLoad::Loaded(content) => Some(content.clone()),
        PackLoad::Failed { previous, .. } => previous.clone(),
    }
}

fn scanned(dir: &Path, builtin: bool, load: &PackLoad) -> ScannedPack {
    match load {
        PackLoad::Loaded(content) => ScannedPack {
            ref_: content.meta.ref_.clone(),
            dir: dir.to_path_buf(),
            builtin,
            content: Some(content.clone()),
            pack_error: None,
            notes: Vec::new(),
        },
        PackLoad::Failed { ref_, error, previous, .. } => ScannedPack {
            ref_: ref_.clone(),
            dir: dir.to_path_buf(),
            builtin,
            content: previous.clone(),
            pack_error: Some(error.clone()),
            notes: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    }

    fn pack_yaml(ref_: &str) -> String {
        format!("ref: {ref_}\nname: {ref_}\ndescription: d\nversion: 1.0.0\nauthor: a\n")
    }

    #[test]
    fn the_first_directory_name_and_the_first_ref_win() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        write(&a.join("one/pack.yaml"), &pack_yaml("one"));
        write(&b.join("one/pack.yaml"), &pack_yaml("one_again"));
        write(&b.join("two/pack.yaml"), &pack_yaml("one"));
        write(&b.join("three/pack.yaml"), &pack_yaml("three"));
        fs::create_dir_all(b.join("not_a_pack")).expect("mkdir");
        fs::create_dir_all(b.join(".git")).expect("mkdir");
        let mut scanner = Scanner::new(Vec::new(), vec![a.clone(), b.clone()], tmp.path().join("configs"));
        let scan = scanner.scan(&Dirty::All);
        let refs: Vec<&str> = scan.packs.iter().map(|p| p.ref_.as_str()).collect();
        assert_eq!(refs, ["one", "three"]);
        assert_eq!(scan.packs[0].dir, a.join("one"));
        assert_eq!(scan.problems.len(), 2, "{:?}", scan.problems);
        assert_eq!(scan.packs[0].notes.len(), 1, "the shadowing of ref one is noted on the winner");
    }

    #[test]
    fn only_dirty_directories_are_read_again() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = tmp.path().join("packs");
        write(&root.join("one/pack.yaml"), &pack_yaml("one"));
        write(&root.join("two/pack.yaml"), &pack_yaml("two"));
        let mut scanner = Scanner::new(Vec::new(), vec![root.clone()], tmp.path().join("configs"));
        let first = scanner.scan(&Dirty::All);
        write(&root.join("two/actions/a.yaml"), "name: a\nrunner_type: noop\n");
        let second = scanner.scan(&Dirty::Dirs([root.join("two")].into_iter().collect()));
        let content = |scan: &Scan, i: usize| scan.packs[i].content.clone().expect("loaded");
        assert!(Arc::ptr_eq(&content(&first, 0), &content(&second, 0)), "pack one reused");
        assert_eq!(content(&second, 1).actions.len(), 1, "pack two read again");
        write(&root.join("three/pack.yaml"), &pack_yaml("three"));
        fs::remove_dir_all(root.join("one")).expect("rm");
        let third = scanner.scan(&Dirty::none());
        let refs: Vec<&str> = third.packs.iter().map(|p| p.ref_.as_str()).collect();
        assert_eq!(refs, ["three", "two"], "new directories are read, removed ones dropped");
    }
}
