//! Tests of what the action user must reach: the probe's steps and the problems it reports
//! (pure), and, against real directories, the probe run as `nobody` and the directories st2d
//! prepares (as root; without root, the switch is refused and the tests check that).

use super::*;
use crate::process::Account;

fn need(what: &'static str, path: &str, want: Want) -> Need {
    Need { what, path: PathBuf::from(path), want }
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn nobody() -> RunAs {
    RunAs::new(Account::by_name("nobody").expect("a lookup").expect("the user nobody"))
}

fn paths_under(home: &Path) -> Paths {
    Paths::resolve(&crate::cli::PathArgs {
        home: Some(home.to_path_buf()),
        python_base_dir: Some(home.join("base")),
        ..crate::cli::PathArgs::default()
    })
}

#[test]
fn each_directory_on_the_way_is_probed_once() {
    let needs = [need("packs", "/a/b/c", Want::Read), need("cache", "/a/d", Want::Write)];
    let (entries, chains) = probe_entries(&needs);
    let words: Vec<String> = entries.iter().map(|(want, path)| format!("{} {}", want.word(), path.display())).collect();
    assert_eq!(words, ["x /", "x /a", "x /a/b", "rx /a/b/c", "wx /a/d"]);
    assert_eq!(chains, [vec![0, 1, 2, 3], vec![0, 1, 4]]);
}

#[test]
fn a_problem_names_the_first_step_refused() {
    let needs = [need("the packs directory", "/a/b/c", Want::Read), need("the cache", "/a/d", Want::Write)];
    let (entries, chains) = probe_entries(&needs);
    let only_the_cache = problems(&needs, &entries, &chains, &BTreeSet::from([4]), "nobody");
    assert_eq!(only_the_cache, ["  the cache /a/d: /a/d cannot be written by nobody"]);
    let both = problems(&needs, &entries, &chains, &BTreeSet::from([1, 3, 4]), "nobody");
    assert_eq!(
        both,
        [
            "  the packs directory /a/b/c: /a cannot be entered by nobody",
            "  the cache /a/d: /a cannot be entered by nobody"
        ]
    );
    assert!(problems(&needs, &entries, &chains, &BTreeSet::new(), "nobody").is_empty());
}

#[test]
fn a_path_not_made_yet_is_checked_at_the_directory_above_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = need("the virtualenvs directory", &dir.path().join("a/b").to_string_lossy(), Want::Read);
    assert_eq!(existing(missing), need("the virtualenvs directory", &dir.path().to_string_lossy(), Want::Enter));
    let there = need("the packs directory", &dir.path().to_string_lossy(), Want::Read);
    assert_eq!(existing(there.clone()), there);
}

#[tokio::test]
async fn the_probe_names_what_the_user_cannot_reach() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let paths = paths_under(&dir.path().join("home"));
    std::fs::create_dir_all(&paths.packs_dirs[0]).expect("packs dir");
    let outcome = check(&paths, Path::new("/"), Path::new("/bin/sh"), &nobody()).await;
    if !is_root() {
        assert!(matches!(outcome, Err(AccessError::Probe { .. })), "only root starts a process as nobody: {outcome:?}");
        return;
    }
    let error = outcome.expect_err("a 0700 directory on the way").to_string();
    let blocked = format!("{} cannot be entered by nobody (mode 0700, owner root)", dir.path().display());
    assert!(error.starts_with("the action user nobody cannot reach what actions and sensors need:"), "{error}");
    let packs = format!("the packs directory {}: {blocked}", paths.packs_dirs[0].display());
    assert!(error.contains(&packs), "{error}");
    assert!(error.contains("name another --action-user"), "{error}");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    check(&paths, Path::new("/"), Path::new("/bin/sh"), &nobody()).await.expect("everything reachable");
    std::fs::set_permissions(&paths.packs_dirs[0], std::fs::Permissions::from_mode(0o711)).expect("chmod");
    let error = check(&paths, Path::new("/"), Path::new("/bin/sh"), &nobody())
        .await
        .expect_err("a packs directory it cannot list");
    assert!(
        error.to_string().contains(&format!("{} cannot be read by nobody", paths.packs_dirs[0].display())),
        "{error}"
    );
}

#[test]
fn st2d_prepares_its_own_directories_for_the_user() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = paths_under(dir.path());
    let user = if is_root() {
        nobody()
    } else {
        let uid = rustix::process::geteuid().as_raw();
        RunAs::new(Account::by_uid(uid).expect("a lookup").expect("st2d's own account"))
    };
    std::fs::create_dir_all(paths.store_dir()).expect("store");
    std::fs::set_permissions(paths.store_dir(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::create_dir_all(paths.python_dir().join("st2d_shim")).expect("shim");
    let module = paths.python_dir().join("st2d_shim/__init__.py");
    std::fs::write(&module, "").expect("module");
    std::fs::set_permissions(&module, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    // A cache left by another user (here st2d's own, then root's when st2d runs as root).
    let cache = pycache_dir(&paths);
    std::fs::create_dir_all(cache.join("left")).expect("cache");
    prepare(&paths, &user).expect("prepared");
    let mode = |path: &Path| std::fs::metadata(path).expect("metadata").mode() & 0o7777;
    assert_eq!(mode(&paths.store_dir()), 0o700, "the store is st2d's alone");
    assert_eq!(mode(&module) & 0o004, 0o004, "the shim is readable");
    assert_eq!(mode(&paths.shim_socket().with_file_name("")), 0o755);
    let meta = std::fs::metadata(&cache).expect("the cache");
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (user.account().uid, 0o700), "the cache is the user's");
    if is_root() {
        assert!(!cache.join("left").exists(), "a cache another user owned is made again");
    }
    prepare(&paths, &user).expect("prepared again");
}
