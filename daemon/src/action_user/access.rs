//! What pack processes need to reach when they run as another user than st2d, made reachable
//! and checked at start.
//!
//! * st2d's umask lets others read and enter what st2d creates from then on (the packs it
//!   installs, virtualenvs, the base libraries), never write to it; what must stay private has
//!   a mode of its own (the store, 0700 here; the datastore key, pack configs, the control and
//!   ssh state keep the modes their owners give them).
//! * st2d's own directories the user uses: `<data-dir>/python` (the shim) readable,
//!   `<data-dir>/run` (the sockets) enterable, `<data-dir>/pycache` (`PYTHONPYCACHEPREFIX`) the
//!   user's own, made again when another user owned it. The sockets in `run` are handed to the
//!   user as they are made (`RunAs::give`).
//! * `--python` given as a bare name is looked up on st2d's `PATH` as the user looks it up
//!   (`interpreter`), so that pack processes, virtualenvs (built as st2d) and the base libraries
//!   all use an interpreter the user can run, not the one of a version manager in root's home.
//! * A probe run as the user (through `process`, as every pack process is) checks each path
//!   pack processes need, through every directory on the way: st2d's working directory (where
//!   actions without `cwd` run), the interpreter, the shim, the sockets' directory, the cache,
//!   the packs, the virtualenvs and the base libraries. Any it cannot reach stops the start,
//!   naming the path, the directory in the way and the user. The probe asks the kernel, so ACLs
//!   and mounts count as they will for pack processes.
//!
//! Owns: those modes and that check. Must not: change what the operator owns (the packs,
//! configs and virtualenvs directories, the data directory itself and every directory above
//! them): for those it names what to fix.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::Paths;
use crate::process::{Account, ProcessSpec, RunAs, RunLimits};

/// How long the probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why pack processes could not have what they need.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("cannot prepare {} for the action user {user}: {source}", .path.display())]
    Prepare { path: PathBuf, user: String, source: io::Error },
    #[error("cannot start a process as the action user {user}: {source}")]
    Probe { user: String, source: io::Error },
    #[error("the check of what the action user {user} can reach failed: {reason}")]
    ProbeFailed { user: String, reason: String },
    #[error(
        "the action user {user} cannot reach what actions and sensors need:\n{}\ngive {user} access to \
         them, start st2d with paths it can reach, or name another --action-user",
        .problems.join("\n")
    )]
    Unreachable { user: String, problems: Vec<String> },
}

/// What the user must be able to do with a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Want {
    /// Pass through it (a directory on the way, the sockets' directory, a working directory).
    Enter,
    /// Read what is in it.
    Read,
    /// Create files in it.
    Write,
    /// Run it (a program).
    Run,
}

impl Want {
    /// The probe's word for it.
    fn word(self) -> &'static str {
        match self {
            Want::Enter | Want::Run => "x",
            Want::Read => "rx",
            Want::Write => "wx",
        }
    }

    fn refused(self) -> &'static str {
        match self {
            Want::Enter => "cannot be entered",
            Want::Read => "cannot be read",
            Want::Write => "cannot be written",
            Want::Run => "cannot be run",
        }
    }
}

/// A path pack processes need, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Need {
    what: &'static str,
    path: PathBuf,
    want: Want,
}

/// Lets others read and enter what st2d creates from now on, never write to it; the umask
/// before and after, when it changed.
pub fn open_umask() -> Option<(u32, u32)> {
    let current = std::fs::read_to_string("/proc/self/status").ok().and_then(|status| {
        status.lines().find_map(|line| line.strip_prefix("Umask:").and_then(|v| u32::from_str_radix(v.trim(), 8).ok()))
    });
    let wanted = (current.unwrap_or(0o022) | 0o002) & !0o005;
    if current == Some(wanted) {
        return None;
    }
    let before = rustix::process::umask(rustix::fs::Mode::from_raw_mode(wanted)).as_raw_mode();
    Some((before, wanted))
}

/// Gives st2d's own directories the modes and owners pack processes running as `user` need,
/// and makes the store private. Runs after the store is open and the shim is written.
pub fn prepare(paths: &Paths, user: &RunAs) -> Result<(), AccessError> {
    let failed = |path: &Path| {
        let (path, user) = (path.to_path_buf(), user.name().to_string());
        move |source| AccessError::Prepare { path, user, source }
    };
    let store = paths.store_dir();
    set_mode(&store, |mode| mode & !0o077).map_err(failed(&store))?;
    let shim = paths.python_dir();
    readable_tree(&shim).map_err(failed(&shim))?;
    let run = paths.shim_socket().with_file_name("");
    std::fs::create_dir_all(&run).and_then(|()| set_mode(&run, |_| 0o755)).map_err(failed(&run))?;
    let cache = pycache_dir(paths);
    own_cache(&cache, user).map_err(failed(&cache))
}

/// `PYTHONPYCACHEPREFIX`.
pub fn pycache_dir(paths: &Paths) -> PathBuf {
    paths.data_dir.join("pycache")
}

/// `python` (`--python`) as `user` runs it: a bare name looked up on st2d's `PATH` as the
/// user looks it up (`command -v`); a path as it is. `None`: the user finds no such program.
pub async fn interpreter(python: &Path, user: &RunAs) -> Result<Option<PathBuf>, AccessError> {
    if python.components().count() != 1 || python.is_absolute() {
        return Ok(Some(python.to_path_buf()));
    }
    let spec = ProcessSpec::new("sh", "/").arg("-c").arg(r#"command -v "$1" || true"#).arg("st2d-which").arg(python);
    let found = probe(spec.run_as(Some(user)), user).await?;
    let found = PathBuf::from(found.trim());
    Ok(found.is_absolute().then_some(found))
}

/// Checks, as `user`, that pack processes reach what they need; `cwd` is st2d's working
/// directory, `python` the interpreter (`interpreter`).
pub async fn check(paths: &Paths, cwd: &Path, python: &Path, user: &RunAs) -> Result<(), AccessError> {
    let needs: Vec<Need> = needs(paths, cwd, python).into_iter().map(existing).collect();
    let (entries, chains) = probe_entries(&needs);
    let mut spec = ProcessSpec::new("sh", "/").arg("-c").arg(PROBE).arg("st2d-access-probe");
    for (want, path) in &entries {
        spec = spec.arg(want.word()).arg(path);
    }
    let stdout = probe(spec.run_as(Some(user)), user).await?;
    let refused: BTreeSet<usize> = stdout.lines().filter_map(|line| line.trim().parse().ok()).collect();
    let problems = problems(&needs, &entries, &chains, &refused, user.name());
    if problems.is_empty() {
        return Ok(());
    }
    Err(AccessError::Unreachable { user: user.name().to_string(), problems })
}

/// Runs a probe `spec` (as `user`) to its end; its stdout.
async fn probe(spec: ProcessSpec, user: &RunAs) -> Result<String, AccessError> {
    let limits = RunLimits { timeout: Some(PROBE_TIMEOUT), capture: 1024 * 1024, grace: crate::process::KILL_GRACE };
    let captured = crate::process::run(&spec, limits, &CancellationToken::new(), &|_, _| {})
        .await
        .map_err(|source| AccessError::Probe { user: user.name().to_string(), source })?;
    if captured.exit_code != Some(0) {
        let stderr = String::from_utf8_lossy(&captured.stderr);
        let reason = format!("{} (exit {})", stderr.trim(), captured.exit_code.unwrap_or(-1));
        return Err(AccessError::ProbeFailed { user: user.name().to_string(), reason });
    }
    Ok(String::from_utf8_lossy(&captured.stdout).into_owned())
}

/// Prints the index of each `WANT PATH` pair of its arguments that the caller may not have.
const PROBE: &str = r#"i=0
while [ "$#" -ge 2 ]; do
  case $1 in
    x) [ -x "$2" ] ;;
    rx) [ -r "$2" ] && [ -x "$2" ] ;;
    wx) [ -w "$2" ] && [ -x "$2" ] ;;
    *) false ;;
  esac || echo "$i"
  i=$((i + 1))
  shift 2
done
"#;

/// What pack processes reach, in the order problems are reported.
fn needs(paths: &Paths, cwd: &Path, python: &Path) -> Vec<Need> {
    let need = |what, path: &Path, want| Need { what, path: path.to_path_buf(), want };
    let mut needs = vec![need("st2d's working directory (where actions without a cwd run)", cwd, Want::Enter)];
    if python.is_absolute() {
        needs.push(need("the Python interpreter (--python)", python, Want::Run));
    }
    needs.extend([
        need("the Python shim", &paths.python_dir(), Want::Read),
        need("the directory of the shim's sockets", &paths.shim_socket().with_file_name(""), Want::Enter),
        need("the Python bytecode cache", &pycache_dir(paths), Want::Write),
    ]);
    needs.extend(paths.packs_dirs.iter().map(|dir| need("the packs directory", dir, Want::Read)));
    needs.push(need("the virtualenvs directory", &paths.virtualenvs_dir, Want::Read));
    needs.push(need("the base Python libraries directory", &paths.python_base_dir, Want::Read));
    needs
}

/// A path that is not there yet is made later by st2d: the user must then get through the
/// nearest directory above it that is.
fn existing(need: Need) -> Need {
    if need.path.exists() {
        return need;
    }
    let above = need.path.ancestors().skip(1).find(|dir| dir.exists()).unwrap_or(Path::new("/"));
    Need { path: above.to_path_buf(), want: Want::Enter, ..need }
}

/// Every (want, path) the probe asks once, and for each need the indexes of its chain: each
/// directory from `/` down, entered, then the path itself.
fn probe_entries(needs: &[Need]) -> (Vec<(Want, PathBuf)>, Vec<Vec<usize>>) {
    let mut entries: Vec<(Want, PathBuf)> = Vec::new();
    let mut index: HashMap<(Want, PathBuf), usize> = HashMap::new();
    let chains = needs
        .iter()
        .map(|need| {
            let mut steps: Vec<(Want, PathBuf)> =
                need.path.ancestors().skip(1).map(|dir| (Want::Enter, dir.to_path_buf())).collect();
            steps.reverse();
            steps.push((need.want, need.path.clone()));
            steps
                .into_iter()
                .map(|step| {
                    *index.entry(step.clone()).or_insert_with(|| {
                        entries.push(step);
                        entries.len() - 1
                    })
                })
                .collect()
        })
        .collect();
    (entries, chains)
}

/// One line per need the user cannot have: the path, the first step of its chain refused, and
/// that step's mode and owner.
fn problems(
    needs: &[Need],
    entries: &[(Want, PathBuf)],
    chains: &[Vec<usize>],
    refused: &BTreeSet<usize>,
    user: &str,
) -> Vec<String> {
    needs
        .iter()
        .zip(chains)
        .filter_map(|(need, chain)| {
            let step = chain.iter().find(|i| refused.contains(i))?;
            let (want, path) = &entries[*step];
            Some(format!(
                "  {} {}: {} {} by {user}{}",
                need.what,
                need.path.display(),
                path.display(),
                want.refused(),
                describe(path)
            ))
        })
        .collect()
}

/// ` (mode 0700, owner root)`, or nothing when the path cannot be read.
fn describe(path: &Path) -> String {
    let Ok(meta) = std::fs::metadata(path) else { return String::new() };
    let owner = Account::by_uid(meta.uid()).ok().flatten().map(|a| a.name).unwrap_or_else(|| meta.uid().to_string());
    format!(" (mode {:04o}, owner {owner})", meta.mode() & 0o7777)
}

/// Changes the mode of `path` (when it is there) to what `change` makes of it.
fn set_mode(path: &Path, change: impl Fn(u32) -> u32) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => meta,
        Ok(_) => return Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    let mode = meta.mode() & 0o7777;
    let wanted = change(mode);
    if wanted == mode {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted))
}

/// Lets others read every file and enter every directory under `dir` (never write).
fn readable_tree(dir: &Path) -> io::Result<()> {
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.mode() & 0o7777;
        let wanted = if meta.is_dir() { (mode | 0o005) & !0o002 } else { (mode | 0o004) & !0o002 };
        if wanted != mode {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(wanted))?;
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                pending.push(entry?.path());
            }
        }
    }
    Ok(())
}

/// The bytecode cache, `user`'s own (0700): one another user owns (a start as another action
/// user, or as root) is removed and made again, as it is only a cache.
fn own_cache(dir: &Path, user: &RunAs) -> io::Result<()> {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() && meta.uid() == user.account().uid => return set_mode(dir, |_| 0o700),
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(dir)?,
        Ok(_) => std::fs::remove_file(dir)?,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    std::fs::create_dir(dir)?;
    user.give(dir, 0o700)
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
