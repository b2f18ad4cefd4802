//! The shell lines the remote runners send to a host's login shell (ST2-COMPAT.md 2.7): the
//! action's `env` and the ST2_ACTION_* variables exported, `cd` to `cwd`, the command or the
//! uploaded script with its arguments, under `sudo -E -- bash -c` when asked (as the local
//! runners wrap it); the line that ends a command's process group and removes its upload; and
//! sftp's batch that uploads a script and its `lib` directory.
//!
//! Every command line starts by printing the login shell's process id on stderr: sshd makes
//! that shell the leader of a new session, so the id names the process group to end when a
//! timeout or a cancel closes the connection (sshd does not signal a command without a
//! terminal). `announced_pid` finds that line, which is never part of the result.
//!
//! Owns: those texts and their quoting. Must not: run anything or choose ssh's options.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use st2d_core::pyfmt::shell_quote;

use crate::action::shell::args::wrap_sudo;
use crate::process::KILL_GRACE;

/// What the login shell prints first, before its process id.
const PID_ANNOUNCEMENT: &str = "st2d-remote-pid=";

/// How often, in a second, the stop line looks whether the group is gone.
const STOP_POLLS_PER_SECOND: u64 = 10;

/// The parts every command line of one execution shares.
#[derive(Debug, Clone)]
pub struct RemoteShell {
    /// `export K=V ... && `, or nothing.
    exports: String,
    /// `cd <cwd> && `, or nothing.
    cd: String,
    sudo: bool,
    sudo_password: bool,
}

impl RemoteShell {
    /// `env` is the action's environment (its `env` and the ST2_ACTION_* variables); `cwd` the
    /// remote working directory; `sudo_password` whether a password is fed to sudo on stdin.
    pub fn new(env: &BTreeMap<String, OsString>, cwd: Option<&str>, sudo: bool, sudo_password: bool) -> Self {
        let exports = if env.is_empty() {
            String::new()
        } else {
            let pairs: Vec<String> = env
                .iter()
                .map(|(name, value)| format!("{}={}", shell_quote(name), shell_quote(&value.to_string_lossy())))
                .collect();
            format!("export {} && ", pairs.join(" "))
        };
        let cd = cwd.map(|cwd| format!("cd {} && ", shell_quote(cwd))).unwrap_or_default();
        Self { exports, cd, sudo, sudo_password }
    }

    /// The line that runs `cmd` (a shell command, as the action wrote it).
    pub fn command(&self, cmd: &str) -> String {
        let body = format!("{}{}{cmd}", self.exports, self.cd);
        format!("{}; {}", announce_pid(), wrap_sudo(&body, self.sudo, self.sudo_password))
    }

    /// The line that runs the uploaded script at `path` with `arguments` (already quoted, as
    /// `args::script_arguments` gives them).
    pub fn script(&self, path: &str, arguments: &str) -> String {
        let script = shell_quote(path);
        let run = if arguments.is_empty() { script } else { format!("{script} {arguments}") };
        self.command(&run)
    }

    /// The line that ends process group `group` (SIGTERM, up to `KILL_GRACE` for it to go,
    /// then SIGKILL), under sudo when the command ran under it, then removes `upload`.
    pub fn stop(&self, group: u32, upload: Option<&str>) -> String {
        let polls = KILL_GRACE.as_secs() * STOP_POLLS_PER_SECOND;
        let kill = format!(
            "g={group}; if kill -TERM -- -$g 2>/dev/null; then n=0; \
             while [ $n -lt {polls} ] && kill -0 -- -$g 2>/dev/null; do sleep 0.1; n=$((n+1)); done; \
             kill -KILL -- -$g 2>/dev/null; fi; true"
        );
        let kill = wrap_sudo(&kill, self.sudo, self.sudo_password);
        match upload {
            Some(dir) => format!("{kill}; {}", remove(dir)),
            None => kill,
        }
    }
}

/// The line that removes an upload directory.
pub fn remove(dir: &str) -> String {
    format!("rm -rf -- {}", shell_quote(dir))
}

/// `printf` of the announcement and the shell's pid, on stderr.
fn announce_pid() -> String {
    format!("printf '{PID_ANNOUNCEMENT}%s\\n' \"$$\" >&2")
}

/// The process id in an announcement line.
pub fn announced_pid(line: &str) -> Option<u32> {
    line.strip_prefix(PID_ANNOUNCEMENT)?.trim_end_matches('\r').parse().ok()
}

/// A captured stderr split at the announcement: what ssh itself said before it (warnings,
/// why a connection failed), and the command's own stderr after it (`None` when the command
/// never started).
pub fn split_at_announcement(stderr: &[u8]) -> (&[u8], Option<&[u8]>) {
    let mut start = 0;
    while start < stderr.len() {
        let end = stderr[start..].iter().position(|b| *b == b'\n').map_or(stderr.len(), |at| start + at);
        if announced_pid(&String::from_utf8_lossy(&stderr[start..end])).is_some() {
            return (&stderr[..start], Some(stderr.get(end + 1..).unwrap_or_default()));
        }
        start = end + 1;
    }
    (stderr, None)
}

/// sftp's batch that makes `dir`, puts `script` in it as `name` (mode 744, as StackStorm
/// does) and, when given, the `libs` directory as `dir/lib`.
pub fn upload_batch(script: &Path, dir: &str, name: &str, libs: Option<&Path>) -> String {
    let remote_script = format!("{dir}/{name}");
    let mut batch = format!(
        "mkdir {dir}\nput {local} {script}\nchmod 744 {script}\n",
        dir = sftp_quote(dir),
        local = sftp_quote(&script.to_string_lossy()),
        script = sftp_quote(&remote_script),
    );
    if let Some(libs) = libs {
        batch.push_str(&format!(
            "put -r {} {}\n",
            sftp_quote(&libs.to_string_lossy()),
            sftp_quote(&format!("{dir}/lib"))
        ));
    }
    batch
}

/// A path as sftp's batch reads it: double-quoted, with quotes, backslashes and glob
/// characters escaped.
fn sftp_quote(path: &str) -> String {
    let mut quoted = String::with_capacity(path.len() + 2);
    quoted.push('"');
    for c in path.chars() {
        if "\"\\*?[]".contains(c) {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, OsString> {
        pairs.iter().map(|(k, v)| (k.to_string(), OsString::from(v))).collect()
    }

    #[test]
    fn commands_export_the_environment_and_change_directory_first() {
        let shell = RemoteShell::new(
            &env(&[("ST2_ACTION_PACK_NAME", "core"), ("GREETING", "hi there")]),
            Some("/tmp"),
            false,
            false,
        );
        assert_eq!(
            shell.command("echo $GREETING"),
            "printf 'st2d-remote-pid=%s\\n' \"$$\" >&2; export GREETING='hi there' ST2_ACTION_PACK_NAME=core && cd /tmp && echo $GREETING"
        );
        let bare = RemoteShell::new(&BTreeMap::new(), None, false, false);
        assert_eq!(bare.command("uptime"), "printf 'st2d-remote-pid=%s\\n' \"$$\" >&2; uptime");
        assert_eq!(
            bare.script("/tmp/x 1/run.sh", "--a=1 'b c'"),
            "printf 'st2d-remote-pid=%s\\n' \"$$\" >&2; '/tmp/x 1/run.sh' --a=1 'b c'"
        );
    }

    #[test]
    fn sudo_wraps_everything_after_the_announcement() {
        let shell = RemoteShell::new(&env(&[("A", "1")]), Some("/srv"), true, false);
        assert_eq!(
            shell.command("id -u"),
            "printf 'st2d-remote-pid=%s\\n' \"$$\" >&2; sudo -E -- bash -c 'export A=1 && cd /srv && id -u'"
        );
        let with_password = RemoteShell::new(&BTreeMap::new(), None, true, true);
        assert!(with_password.command("id").ends_with("; sudo -S -E -- bash -c id"), "{}", with_password.command("id"));
        assert!(with_password.stop(42, None).starts_with("sudo -S -E -- bash -c 'g=42; "));
    }

    #[test]
    fn the_stop_line_ends_the_group_then_removes_the_upload() {
        let shell = RemoteShell::new(&BTreeMap::new(), None, false, false);
        let stop = shell.stop(4242, Some("/tmp/00aa-0"));
        assert!(stop.starts_with("g=4242; if kill -TERM -- -$g 2>/dev/null; then"), "{stop}");
        assert!(stop.contains("[ $n -lt 50 ]") && stop.contains("kill -KILL -- -$g"), "{stop}");
        assert!(stop.ends_with("; true; rm -rf -- /tmp/00aa-0"), "{stop}");
    }

    #[test]
    fn the_announcement_splits_ssh_from_the_command() {
        assert_eq!(announced_pid("st2d-remote-pid=123"), Some(123));
        assert_eq!(announced_pid("st2d-remote-pid=12x"), None);
        let (ssh, command) = split_at_announcement(b"Warning: added\nst2d-remote-pid=7\noops\n");
        assert_eq!((ssh, command), (&b"Warning: added\n"[..], Some(&b"oops\n"[..])));
        let (ssh, command) = split_at_announcement(b"st2d-remote-pid=7");
        assert_eq!((ssh, command), (&b""[..], Some(&b""[..])));
        let (ssh, command) = split_at_announcement(b"ssh: connect to host h port 22: Connection refused\n");
        assert_eq!((ssh, command), (&b"ssh: connect to host h port 22: Connection refused\n"[..], None));
    }

    #[test]
    fn uploads_quote_paths_for_sftp() {
        let batch = upload_batch(
            Path::new("/packs/p/actions/run it.sh"),
            "/tmp/00aa-0",
            "run it.sh",
            Some(Path::new("/packs/p/actions/lib")),
        );
        assert_eq!(
            batch,
            "mkdir \"/tmp/00aa-0\"\nput \"/packs/p/actions/run it.sh\" \"/tmp/00aa-0/run it.sh\"\nchmod 744 \"/tmp/00aa-0/run it.sh\"\nput -r \"/packs/p/actions/lib\" \"/tmp/00aa-0/lib\"\n"
        );
        assert_eq!(sftp_quote("a\"b\\c*?[x]"), "\"a\\\"b\\\\c\\*\\?\\[x\\]\"");
    }
}
