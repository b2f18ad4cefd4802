//! The one place child processes are built (DESIGN.md 4): own process group, explicit working
//! directory and environment, no stdin, captured output, killed when dropped; and signalling a
//! child's whole process group.
//!
//! Owns: `tokio::process::Command` construction, process-group signals, and running a command
//! to its end with a timeout, a cancel and capped, line-streamed output. Must not: decide when
//! to start or stop anything (the sensor supervisor and the action runners do).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// What to run.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
    /// The complete environment: nothing is inherited implicitly.
    pub env: BTreeMap<String, OsString>,
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
        Self { program: program.into(), args: Vec::new(), cwd: cwd.into(), env }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn env(mut self, key: &str, value: impl Into<OsString>) -> Self {
        self.env.insert(key.to_string(), value.into());
        self
    }

    /// The command: its own process group (so signals reach its children too), stdin closed,
    /// stdout and stderr piped, killed if the handle is dropped.
    pub fn command(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .current_dir(&self.cwd)
            .env_clear()
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        command
    }
}

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pipe {
    Stdout,
    Stderr,
}

/// Bounds on one run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The whole process group is killed (SIGKILL) after this long.
    pub timeout: Option<Duration>,
    /// The most bytes of each stream kept in `Captured` (lines are still streamed past it).
    pub max_output: usize,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Exited(i32),
    /// Killed by this signal from outside.
    Signaled(i32),
    /// Killed by us when the timeout passed.
    TimedOut,
    /// Killed by us on request.
    Canceled,
}

/// A finished run: how it ended and its output (each stream cut at `Limits::max_output`).
#[derive(Debug, Clone, PartialEq)]
pub struct Captured {
    pub ending: Ending,
    pub stdout: String,
    pub stderr: String,
    /// Bytes dropped from stdout and stderr beyond the cap.
    pub dropped: usize,
}

/// The longest line streamed as one; longer ones are cut into pieces.
const MAX_LINE: usize = 64 * 1024;
/// After the process exits, how long its output may still arrive (from children it left in
/// its group) before the rest of the group is killed.
const OUTPUT_GRACE: Duration = Duration::from_secs(1);

/// Runs `spec` to its end: `stdin` is written and closed, every output line is passed to
/// `on_line` as it comes, and the whole process group is killed on timeout or when `cancel`
/// fires. Members of the group still alive when the process exits get `OUTPUT_GRACE` to finish
/// their output and are then killed: nothing an action starts outlives it in its group.
pub async fn run_captured(
    spec: &ProcessSpec,
    stdin: Option<Vec<u8>>,
    limits: Limits,
    cancel: &CancellationToken,
    on_line: impl FnMut(Pipe, &str) + Send,
) -> std::io::Result<Captured> {
    let mut command = spec.command();
    if stdin.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command.spawn()?;
    let pid = child.id().unwrap_or_default();
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        tokio::spawn(async move {
            let _ = pipe.write_all(&data).await;
        });
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(Pipe, String)>(256);
    if let Some(out) = child.stdout.take() {
        tokio::spawn(read_lines(out, Pipe::Stdout, tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(read_lines(err, Pipe::Stderr, tx.clone()));
    }
    drop(tx);
    let mut sink = Sink { on_line, stdout: String::new(), stderr: String::new(), dropped: 0, max: limits.max_output };
    let deadline = limits.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut output_open = true;
    let mut ending = None;
    let status = loop {
        tokio::select! {
            status = child.wait() => break Some(status?),
            line = rx.recv(), if output_open => match line {
                Some((pipe, line)) => sink.take(pipe, line),
                None => output_open = false,
            },
            () = sleep_until(deadline) => {
                ending = Some(Ending::TimedOut);
                break None;
            }
            () = cancel.cancelled() => {
                ending = Some(Ending::Canceled);
                break None;
            }
        }
    };
    signal_or_grace(pid, status.is_some(), &mut rx, &mut sink).await;
    let status = match status {
        Some(status) => status,
        None => child.wait().await?,
    };
    let ending = ending.unwrap_or_else(|| match (status.code(), status.signal()) {
        (Some(code), _) => Ending::Exited(code),
        (None, Some(signal)) => Ending::Signaled(signal),
        (None, None) => Ending::Exited(-1),
    });
    Ok(Captured { ending, stdout: sink.stdout, stderr: sink.stderr, dropped: sink.dropped })
}

/// After the leader exited: the output of what it left behind for a moment, then the group is
/// killed. After a timeout or cancel: the group is killed at once and the output drained.
async fn signal_or_grace(
    pid: u32,
    exited: bool,
    rx: &mut tokio::sync::mpsc::Receiver<(Pipe, String)>,
    sink: &mut Sink<impl FnMut(Pipe, &str)>,
) {
    if exited {
        let grace = tokio::time::sleep(OUTPUT_GRACE);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                line = rx.recv() => match line {
                    Some((pipe, line)) => sink.take(pipe, line),
                    None => return,
                },
                () = &mut grace => break,
            }
        }
    }
    signal_group(pid, libc::SIGKILL);
    // Every writer is dead now, so the channel closes once the pipes are read to the end.
    let drained = tokio::time::timeout(OUTPUT_GRACE, async {
        while let Some((pipe, line)) = rx.recv().await {
            sink.take(pipe, line);
        }
    });
    let _ = drained.await;
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

struct Sink<F> {
    on_line: F,
    stdout: String,
    stderr: String,
    dropped: usize,
    max: usize,
}

impl<F: FnMut(Pipe, &str)> Sink<F> {
    fn take(&mut self, pipe: Pipe, line: String) {
        (self.on_line)(pipe, line.strip_suffix('\n').unwrap_or(&line));
        let kept = match pipe {
            Pipe::Stdout => &mut self.stdout,
            Pipe::Stderr => &mut self.stderr,
        };
        let room = self.max.saturating_sub(kept.len());
        if line.len() <= room {
            kept.push_str(&line);
        } else {
            let mut cut = room;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            kept.push_str(&line[..cut]);
            self.dropped += line.len() - cut;
        }
    }
}

/// Reads a pipe into lines (each with its `\n` when it had one), cutting lines longer than
/// `MAX_LINE`.
async fn read_lines(mut pipe: impl AsyncRead + Unpin, which: Pipe, tx: tokio::sync::mpsc::Sender<(Pipe, String)>) {
    let mut buffer = vec![0u8; 8192];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let read = match pipe.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        pending.extend_from_slice(&buffer[..read]);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if tx.send((which, String::from_utf8_lossy(&line).into_owned())).await.is_err() {
                return;
            }
        }
        if pending.len() >= MAX_LINE {
            let line = std::mem::take(&mut pending);
            if tx.send((which, String::from_utf8_lossy(&line).into_owned())).await.is_err() {
                return;
            }
        }
    }
    if !pending.is_empty() {
        let _ = tx.send((which, String::from_utf8_lossy(&pending).into_owned())).await;
    }
}

/// Sends `signal` to the process group led by `pid` (a child built by `ProcessSpec::command`).
/// Returns false when the group no longer exists.
#[allow(unsafe_code)]
pub fn signal_group(pid: u32, signal: i32) -> bool {
    let Ok(pgid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pgid <= 1 {
        return false;
    }
    // SAFETY: kill(2) takes plain integers and has no memory effects; a negative pid addresses
    // the process group our child leads (it was started with process_group(0)).
    let result = unsafe { libc::kill(-pgid, signal) };
    result == 0
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

    fn limits(timeout_ms: u64) -> Limits {
        Limits { timeout: Some(Duration::from_millis(timeout_ms)), max_output: 16 }
    }

    #[tokio::test]
    async fn a_run_streams_lines_and_keeps_capped_output() {
        let spec = ProcessSpec::new("sh", "/").arg("-c").arg("echo one; echo two >&2; printf 'three'; exit 3");
        let mut lines = Vec::new();
        let run = run_captured(&spec, None, limits(10_000), &CancellationToken::new(), |pipe, line| {
            lines.push((pipe, line.to_string()))
        })
        .await
        .expect("sh runs");
        assert_eq!(run.ending, Ending::Exited(3));
        assert_eq!(run.stdout, "one\nthree");
        assert_eq!(run.stderr, "two\n");
        assert!(lines.contains(&(Pipe::Stdout, "three".to_string())), "{lines:?}");
        let long = ProcessSpec::new("sh", "/").arg("-c").arg("echo 0123456789abcdefXYZ");
        let run = run_captured(&long, None, limits(10_000), &CancellationToken::new(), |_, _| {}).await.expect("runs");
        assert_eq!((run.stdout.as_str(), run.dropped), ("0123456789abcdef", 4));
    }

    #[tokio::test]
    async fn a_timeout_kills_the_whole_group() {
        let marker = format!("st2d-timeout-test-{}", std::process::id());
        let script = format!("(exec -a {marker} sleep 100) & sleep 100");
        let spec = ProcessSpec::new("bash", "/").arg("-c").arg(script);
        let run = run_captured(&spec, None, limits(300), &CancellationToken::new(), |_, _| {}).await.expect("runs");
        assert_eq!(run.ending, Ending::TimedOut);
        let survivors = std::process::Command::new("pgrep").arg("-f").arg(&marker).output().expect("pgrep runs");
        assert!(survivors.stdout.is_empty(), "survivors: {}", String::from_utf8_lossy(&survivors.stdout));
    }

    #[tokio::test]
    async fn stdin_is_given_and_cancel_kills() {
        let spec = ProcessSpec::new("sh", "/").arg("-c").arg("read secret; echo got $secret");
        let run = run_captured(&spec, Some(b"pw\n".to_vec()), limits(10_000), &CancellationToken::new(), |_, _| {})
            .await
            .expect("runs");
        assert_eq!(run.stdout, "got pw\n");
        let cancel = CancellationToken::new();
        cancel.cancel();
        let spec = ProcessSpec::new("sleep", "/").arg("100");
        let run = run_captured(&spec, None, limits(10_000), &cancel, |_, _| {}).await.expect("runs");
        assert_eq!(run.ending, Ending::Canceled);
    }

    #[tokio::test]
    async fn children_lead_their_own_process_group() {
        let spec = ProcessSpec::new("sh", "/").arg("-c").arg("ps -o pgid= -p $$");
        let child = spec.command().spawn().expect("sh runs");
        let pid = child.id().expect("a pid");
        let output = child.wait_with_output().await.expect("output");
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), pid.to_string());
        assert!(!signal_group(pid, 0), "the group is gone once the child exited");
    }
}
