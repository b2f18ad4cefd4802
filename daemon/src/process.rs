//! The one place child processes are built (DESIGN.md 4): own process group, explicit working
//! directory and environment, no stdin unless given, captured output, killed when dropped;
//! signalling a child's whole process group; running one to completion with a timeout and
//! capped capture (`run`); and starting one as another user (`identity`).
//!
//! Owns: `tokio::process::Command` construction and process-group signals. Must not: decide
//! when to start or stop anything (the sensor supervisor and the action runners do), nor who a
//! child runs as (the callers pass the action user).

pub mod identity;
mod run;

pub use identity::{Account, AccountError, RunAs};
pub use run::{Captured, Ending, Exit, KILL_GRACE, Pipe, RunLimits, Started, run, supervise, terminate};

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;

/// What to run.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
    /// The complete environment: nothing is inherited implicitly.
    pub env: BTreeMap<String, OsString>,
    /// Written to the child's stdin, which is then closed; `None` gives it no stdin at all.
    pub stdin: Option<Vec<u8>>,
    /// The account the child runs as; `None`: st2d's own.
    pub user: Option<RunAs>,
}

/// Variables passed through from st2d's own environment when present: the basics, and what
/// packs need to reach their services (proxies, CA bundles).
const INHERITED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TZ",
    "USER",
    "LOGNAME",
    "TMPDIR",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
];

impl ProcessSpec {
    pub fn new(program: impl Into<PathBuf>, cwd: impl Into<PathBuf>) -> Self {
        let env = INHERITED_ENV
            .iter()
            .filter_map(|key| std::env::var_os(key).map(|value| (key.to_string(), value)))
            .collect();
        Self { program: program.into(), args: Vec::new(), cwd: cwd.into(), env, stdin: None, user: None }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn env(mut self, key: &str, value: impl Into<OsString>) -> Self {
        self.env.insert(key.to_string(), value.into());
        self
    }

    /// Every variable of st2d's own environment, for a probe that must see a program as the
    /// operator's shell does (version managers read `PYENV_VERSION` and the like).
    pub fn inherit_environment(mut self) -> Self {
        self.env.extend(std::env::vars_os().filter_map(|(key, value)| key.into_string().ok().map(|key| (key, value))));
        self
    }

    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(data.into());
        self
    }

    /// The child runs as `user` (`None`: as st2d), with `HOME`, `USER` and `LOGNAME` as
    /// `sudo -H -u` sets them (StackStorm's local runner runs commands that way), over any given
    /// before.
    pub fn run_as(mut self, user: Option<&RunAs>) -> Self {
        let Some(user) = user else { return self };
        let account = user.account();
        self.user = Some(user.clone());
        self.env("HOME", &account.home).env("USER", &account.name).env("LOGNAME", &account.name)
    }

    /// The command: its own process group (so signals reach its children too), stdin closed
    /// (piped when `stdin` data is set: the caller writes it), stdout and stderr piped, killed if
    /// the handle is dropped.
    ///
    /// A bare program name is looked up in the child's `PATH` here, so the child is started with
    /// an absolute path: the standard library then uses `posix_spawn` (a vfork) instead of
    /// forking the whole daemon, which costs a millisecond or more per spawn in a large process.
    /// A child that runs as another user is forked (the switch runs between fork and exec),
    /// leads a session of its own (`identity::switch`) and looks a bare program name up itself,
    /// as that user: a directory of st2d's `PATH` the user cannot enter (a version manager's
    /// shims in root's home) is passed over, as it would be for a process the user started.
    #[allow(clippy::disallowed_methods)] // the one place (clippy.toml)
    pub fn command(&self) -> tokio::process::Command {
        let program = if self.user.is_some() { self.program.clone() } else { self.resolved_program() };
        let mut command = tokio::process::Command::new(program);
        command
            .args(&self.args)
            .current_dir(&self.cwd)
            .env_clear()
            .envs(&self.env)
            .stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        match &self.user {
            Some(user) => identity::switch(&mut command, user, &self.cwd),
            None => {
                command.process_group(0);
            }
        }
        command
    }

    /// ` as <user>` when the child runs as another user, for messages about its start.
    pub fn as_whom(&self) -> String {
        self.user.as_ref().map(|user| format!(" as {}", user.name())).unwrap_or_default()
    }
}

impl ProcessSpec {
    /// The program as an absolute path when it is a bare name found on the child's `PATH`;
    /// otherwise as given (a missing program then fails at spawn with the usual error).
    fn resolved_program(&self) -> PathBuf {
        if self.program.components().count() != 1 || self.program.is_absolute() {
            return self.program.clone();
        }
        let Some(path) = self.env.get("PATH") else { return self.program.clone() };
        std::env::split_paths(path)
            .filter(|dir| dir.is_absolute())
            .map(|dir| dir.join(&self.program))
            .find(|candidate| is_executable(candidate))
            .unwrap_or_else(|| self.program.clone())
    }
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A signal to a child's process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSignal {
    Terminate,
    Kill,
}

/// Sends `signal` to the process group led by `pid` (a child built by `ProcessSpec::command`).
/// Returns false when the group no longer exists.
pub fn signal_group(pid: u32, signal: GroupSignal) -> bool {
    let Some(group) = group_of(pid) else { return false };
    let signal = match signal {
        GroupSignal::Terminate => rustix::process::Signal::TERM,
        GroupSignal::Kill => rustix::process::Signal::KILL,
    };
    rustix::process::kill_process_group(group, signal).is_ok()
}

/// Whether the process group led by `pid` still has a member.
pub fn group_exists(pid: u32) -> bool {
    group_of(pid).is_some_and(|group| rustix::process::test_kill_process_group(group).is_ok())
}

/// The group a child leads; never st2d's own group or init's.
fn group_of(pid: u32) -> Option<rustix::process::Pid> {
    let pid = i32::try_from(pid).ok().filter(|pid| *pid > 1)?;
    rustix::process::Pid::from_raw(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn children_get_only_the_environment_they_are_given() {
        let spec = ProcessSpec::new("env", "/").env("ST2D_TEST_MARKER", "yes");
        let output = spec.command().output().await.expect("env runs");
        let text = String::from_utf8_lossy(&output.stdout);
        let keys: Vec<&str> = text.lines().filter_map(|l| l.split('=').next()).collect();
        assert!(keys.contains(&"ST2D_TEST_MARKER"), "{keys:?}");
        for key in keys {
            assert!(key == "ST2D_TEST_MARKER" || INHERITED_ENV.contains(&key), "{key} leaked into the child");
        }
    }

    #[tokio::test]
    async fn children_lead_their_own_process_group() {
        let spec = ProcessSpec::new("sh", "/").arg("-c").arg("ps -o pgid= -p $$");
        let child = spec.command().spawn().expect("sh runs");
        let pid = child.id().expect("a pid");
        let output = child.wait_with_output().await.expect("output");
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), pid.to_string());
        assert!(!group_exists(pid), "the group is gone once the child exited");
    }

    /// A member of a group that is not its primary one (its supplementary groups then show),
    /// else `nobody`.
    fn user_with_groups() -> RunAs {
        let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
        let member =
            groups.lines().filter_map(|line| line.split(':').nth(3)).flat_map(|m| m.split(',')).find(|m| !m.is_empty());
        let account = member.and_then(|name| Account::by_name(name).ok().flatten());
        let account =
            account.unwrap_or_else(|| Account::by_name("nobody").expect("a lookup").expect("the user nobody"));
        RunAs::new(account)
    }

    /// As root: the child is the user with its groups and home, in a session and group of its
    /// own. Otherwise: the switch is refused (only root can start a process as another user).
    #[tokio::test]
    async fn children_run_as_the_user_they_are_given() {
        let user = user_with_groups();
        let name = user.name().to_string();
        let script = "id -u; id -G; echo \"$HOME $USER $LOGNAME\"; ps -o pgid=,sid= -p $$";
        let spec = ProcessSpec::new("sh", "/").arg("-c").arg(script).run_as(Some(&user));
        assert_eq!(spec.as_whom(), format!(" as {name}"));
        if !rustix::process::geteuid().is_root() {
            let error = spec.command().spawn().expect_err("only root switches users");
            assert_eq!(error.kind(), std::io::ErrorKind::PermissionDenied, "{error}");
            return;
        }
        let child = spec.command().spawn().expect("sh runs");
        let pid = child.id().expect("a pid");
        let output = child.wait_with_output().await.expect("output");
        let text = String::from_utf8_lossy(&output.stdout);
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        let account = user.account();
        let mut groups: Vec<u32> = account.groups.clone();
        groups.sort_unstable();
        groups.dedup();
        let mut seen: Vec<u32> = lines[1].split(' ').filter_map(|g| g.parse().ok()).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(lines[0], account.uid.to_string(), "{text}");
        assert_eq!(seen, groups, "{text}");
        assert_eq!(lines[2], format!("{} {name} {name}", account.home.display()), "{text}");
        let ids: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(ids, [pid.to_string(), pid.to_string()], "its own group and session: {text}");
        // A relative working directory is st2d's, entered once.
        let output = ProcessSpec::new("pwd", "src").run_as(Some(&user)).command().output().await.expect("pwd runs");
        let here = std::env::current_dir().expect("a working directory").join("src");
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), here.display().to_string());
    }
}
