//! Python virtualenvs with packages from PyPI for tests that drive st2d with real Python
//! clients (grpcio, st2client), and StackStorm's base Python libraries built by `st2d python-base`,
//! made once per target directory and reused.
//!
//! Owns: creating and caching the virtualenvs. Must not: pass silently when one cannot be made:
//! the test fails saying what to install.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Serialises the making of virtualenvs within one test run.
static MAKING: Mutex<()> = Mutex::new(());

/// The python of a virtualenv named `name` holding `packages` (pip requirement specifiers),
/// under `<target>/test-venvs/`. It is made when missing; a finished one carries a stamp
/// file with its package list, so a changed list makes it again.
pub fn python_with(name: &str, packages: &[&str]) -> PathBuf {
    let _making = MAKING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = venvs_root().join(name);
    let stamp = dir.join("st2d-tests.stamp");
    let wanted = packages.join("\n");
    let python = dir.join("bin").join("python");
    if std::fs::read_to_string(&stamp).is_ok_and(|text| text == wanted) && python.exists() {
        return python;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let created = Command::new("python3").args(["-m", "venv"]).arg(&dir).output();
    let created = created.unwrap_or_else(|e| panic!("python3 is needed (apt-get install python3 python3-venv): {e}"));
    assert!(
        created.status.success(),
        "cannot make a virtualenv (apt-get install python3-venv): {}",
        String::from_utf8_lossy(&created.stderr)
    );
    let installed = Command::new(&python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "-q"])
        .args(packages)
        .output()
        .expect("pip runs");
    assert!(
        installed.status.success(),
        "cannot install {packages:?} from PyPI into {} (the test needs them; with no network, pre-install them there): {}",
        dir.display(),
        String::from_utf8_lossy(&installed.stderr)
    );
    std::fs::write(&stamp, wanted).expect("stamp file");
    python
}

fn venvs_root() -> PathBuf {
    let bins = crate::bins();
    let target = bins.st2d.parent().and_then(Path::parent).map(Path::to_path_buf);
    target.unwrap_or_else(std::env::temp_dir).join("test-venvs")
}

/// The directory where `st2d python-base` built StackStorm's base Python libraries, shared by
/// every daemon of the test run (`--python-base-dir`): built from PyPI at the first call of a
/// run (a complete build is found again by later runs).
pub fn base_libraries_dir() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = venvs_root().join("python-base");
            let output = Command::new(&crate::bins().st2d)
                .arg("python-base")
                .arg("--python-base-dir")
                .arg(&dir)
                .arg("--data-dir")
                .arg(std::env::temp_dir())
                .output()
                .expect("st2d runs");
            assert!(
                output.status.success(),
                "st2d python-base could not build StackStorm's base Python libraries (it needs python3 \
                 with pip, and PyPI or PIP_INDEX_URL): {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            dir
        })
        .clone()
}
