//! The Python environment pack code runs in: the import path of actions and sensors in
//! StackStorm's order, the variables a pack process gets, and StackStorm's implicit libraries
//! (`base`).
//!
//! Owns: what goes on a pack process's `PYTHONPATH` and in which order. Must not: spawn the pack
//! process (the runners and the sensor tasks do, through `process`).

pub mod base;
pub mod piplog;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::process::ProcessSpec;
pub use base::BaseLibraries;

/// What every pack process is started with.
#[derive(Clone, Debug)]
pub struct PythonEnv {
    /// The embedded shim (`st2d_shim`, `st2common`, `st2reactor`, `st2actions`), written out at
    /// start.
    pub shim_dir: PathBuf,
    /// Where Python caches bytecode (`PYTHONPYCACHEPREFIX`): starts stay fast and pack
    /// directories stay untouched.
    pub pycache_dir: PathBuf,
    /// The packs directories, first the install root (`ST2D_PACKS_PATHS`, read by
    /// `st2common.content.utils`).
    pub packs_dirs: Vec<PathBuf>,
    /// `<pack>/lib` on the path of actions and sensors (StackStorm's
    /// `[packs] enable_common_libs`, off by default).
    pub common_libs: bool,
    /// StackStorm's implicit libraries, once built.
    pub base: BaseLibraries,
}

/// Which kind of pack code a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Action,
    Sensor,
}

impl PythonEnv {
    /// The import path, first entry first: the shim, `<pack>/lib` (with common libs), the
    /// pack's virtualenv (`lib/pythonX.Y` and its `site-packages`), `<pack>/actions/lib` (for
    /// actions), the base libraries, then st2d's own `PYTHONPATH`. The action's or sensor's
    /// own directory is appended by the shim when it imports the file, as StackStorm's loader
    /// does.
    ///
    /// StackStorm puts the virtualenv on the path of actions only (a sensor's virtualenv
    /// python finds its site-packages after `PYTHONPATH`, so StackStorm's own libraries shadow a
    /// pack's pins there); st2d puts it first for sensors too, so a pack's pins always win.
    pub fn import_path(&self, role: Role, pack_dir: &Path, virtualenv: Option<&Path>) -> Vec<PathBuf> {
        let mut path = vec![self.shim_dir.clone()];
        if self.common_libs {
            path.push(pack_dir.join("lib"));
        }
        if let Some(lib) = virtualenv.and_then(python_lib_dir) {
            let site_packages = lib.join("site-packages");
            path.extend([lib, site_packages]);
        }
        if role == Role::Action {
            path.push(pack_dir.join("actions").join("lib"));
        }
        path.extend(self.base.site_dir());
        if let Some(existing) = std::env::var_os("PYTHONPATH") {
            path.extend(std::env::split_paths(&existing));
        }
        path
    }

    /// `spec` with the pack process's Python variables: `PYTHONPATH` (`import_path`),
    /// `PYTHONPYCACHEPREFIX` and `ST2D_PACKS_PATHS`.
    pub fn apply(&self, spec: ProcessSpec, role: Role, pack_dir: &Path, virtualenv: Option<&Path>) -> ProcessSpec {
        let path = self.import_path(role, pack_dir, virtualenv);
        spec.env("PYTHONPATH", join(&path))
            .env("PYTHONPYCACHEPREFIX", &self.pycache_dir)
            .env("ST2D_PACKS_PATHS", join(&self.packs_dirs))
    }

    /// The shim's entry point for `role`.
    pub fn entry_point(&self, role: Role) -> PathBuf {
        let file = match role {
            Role::Action => "action_main.py",
            Role::Sensor => "sensor_main.py",
        };
        self.shim_dir.join("st2d_shim").join(file)
    }
}

/// The virtualenv `python` belongs to, when it is `<virtualenv>/bin/python` of one.
pub fn virtualenv_of(python: &Path) -> Option<&Path> {
    let venv = python.parent().filter(|bin| bin.ends_with("bin"))?.parent()?;
    venv.join("pyvenv.cfg").is_file().then_some(venv)
}

/// `<virtualenv>/lib/pythonX.Y`, when the virtualenv has one.
fn python_lib_dir(virtualenv: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(virtualenv.join("lib")).ok()?;
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("python")))
        .min()
}

fn join(paths: &[PathBuf]) -> OsString {
    std::env::join_paths(paths).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(common_libs: bool, base: Option<&Path>) -> PythonEnv {
        PythonEnv {
            shim_dir: PathBuf::from("/data/python"),
            pycache_dir: PathBuf::from("/data/pycache"),
            packs_dirs: vec![PathBuf::from("/packs"), PathBuf::from("/more")],
            common_libs,
            base: BaseLibraries::ready_at(base.map(Path::to_path_buf)),
        }
    }

    #[test]
    fn the_import_path_follows_stackstorm_order() {
        let venv = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(venv.path().join("lib/python3.11/site-packages")).expect("venv lib");
        let lib = venv.path().join("lib/python3.11");
        let pack = Path::new("/packs/demo");
        let base = Path::new("/data/python-base/3.11-abc/site");
        let without_inherited = |path: Vec<PathBuf>| -> Vec<PathBuf> {
            let inherited = std::env::var_os("PYTHONPATH").map(|p| std::env::split_paths(&p).count()).unwrap_or(0);
            path[..path.len() - inherited].to_vec()
        };
        let cases: [(bool, Role, Option<&Path>, Vec<PathBuf>); 4] = [
            (
                true,
                Role::Action,
                Some(venv.path()),
                vec![
                    "/data/python".into(),
                    pack.join("lib"),
                    lib.clone(),
                    lib.join("site-packages"),
                    pack.join("actions/lib"),
                    base.into(),
                ],
            ),
            (false, Role::Action, None, vec!["/data/python".into(), pack.join("actions/lib"), base.into()]),
            (
                true,
                Role::Sensor,
                Some(venv.path()),
                vec!["/data/python".into(), pack.join("lib"), lib.clone(), lib.join("site-packages"), base.into()],
            ),
            (false, Role::Sensor, None, vec!["/data/python".into(), base.into()]),
        ];
        for (common_libs, role, virtualenv, expected) in cases {
            let path = env(common_libs, Some(base)).import_path(role, pack, virtualenv);
            assert_eq!(without_inherited(path), expected, "{role:?}, common libs {common_libs}");
        }
        let unbuilt = env(false, None).import_path(Role::Sensor, pack, None);
        assert_eq!(without_inherited(unbuilt), vec![PathBuf::from("/data/python")], "no base libraries yet");
    }
}
