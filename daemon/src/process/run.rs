//! Runs one child built by `ProcessSpec` to completion: feeds its stdin, reads stdout and stderr
//! line by line (handed to a callback as they come) while keeping a capped copy of each, and
//! ends it on a timeout or a cancel by signalling its whole process group (SIGTERM, a grace
//! period, then SIGKILL).
//!
//! Owns: the wait, the capture and the group termination. Must not: interpret what the child
//! printed or how it ended (the action runners do).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{GroupSignal, ProcessSpec, signal_group};

/// SIGTERM to the group, then this long for it to go, then SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// The longest line handed to the callback; longer ones are handed over in pieces.
const MAX_LINE: usize = 64 * 1024;

/// How long output still pending after the group was killed is read (a process that left the
/// group may keep the pipe open).
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(1);

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pipe {
    Stdout,
    Stderr,
}

/// Bounds of one run.
#[derive(Debug, Clone, Copy)]
pub struct RunLimits {
    /// From spawn; `None` waits forever.
    pub timeout: Option<Duration>,
    /// The most bytes kept of each stream; the rest is read (so the child never blocks on a
    /// full pipe) and dropped.
    pub capture: usize,
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The child exited and both streams reached their end.
    Exited,
    /// The timeout passed first; the group was killed.
    TimedOut,
    /// The cancel token fired first; the group was killed.
    Cancelled,
}

/// What a run left behind.
#[derive(Debug)]
pub struct Captured {
    pub ending: Ending,
    /// The exit code, or `-N` when signal N ended the child (as Python's subprocess reports
    /// it); `None` when it could not be read.
    pub exit_code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Some output was dropped because a stream passed `RunLimits::capture`.
    pub truncated: bool,
}

/// One stream's capped copy and its unfinished line.
struct Capture {
    pipe: Pipe,
    cap: usize,
    kept: Vec<u8>,
    truncated: bool,
    line: Vec<u8>,
    done: bool,
}

impl Capture {
    fn new(pipe: Pipe, cap: usize) -> Self {
        Self { pipe, cap, kept: Vec::new(), truncated: false, line: Vec::new(), done: false }
    }

    fn take(&mut self, bytes: &[u8], on_line: &(dyn Fn(Pipe, &str) + Send + Sync)) {
        let room = self.cap.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.truncated |= bytes.len() > room;
        for &byte in bytes {
            if byte == b'\n' {
                self.emit(on_line);
            } else {
                self.line.push(byte);
                if self.line.len() >= MAX_LINE {
                    self.emit(on_line);
                }
            }
        }
    }

    fn emit(&mut self, on_line: &(dyn Fn(Pipe, &str) + Send + Sync)) {
        on_line(self.pipe, &String::from_utf8_lossy(&self.line));
        self.line.clear();
    }

    /// Reads until the end of the stream (cancel-safe: a dropped read loses nothing).
    async fn drain(
        &mut self,
        stream: &mut Option<Pin<Box<dyn AsyncRead + Send>>>,
        on_line: &(dyn Fn(Pipe, &str) + Send + Sync),
    ) {
        let Some(reader) = stream.as_mut() else {
            self.done = true;
            return;
        };
        let mut buffer = [0u8; 8192];
        while !self.done {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => self.finish(on_line),
                Ok(read) => self.take(&buffer[..read], on_line),
            }
        }
    }

    fn finish(&mut self, on_line: &(dyn Fn(Pipe, &str) + Send + Sync)) {
        if !self.line.is_empty() {
            self.emit(on_line);
        }
        self.done = true;
    }
}

/// A child that runs, however it was started: spawned here, or forked by a warm interpreter,
/// which is not st2d's child and reports its exit itself.
pub struct Started {
    /// The child's pid, which leads its process group.
    pub pid: u32,
    pub stdout: Option<Pin<Box<dyn AsyncRead + Send>>>,
    pub stderr: Option<Pin<Box<dyn AsyncRead + Send>>>,
    pub exit: Exit,
}

/// A child's exit: its exit code, or `-N` for signal N; `None` when it cannot be known.
pub struct Exit {
    future: Option<Pin<Box<dyn Future<Output = Option<i32>> + Send>>>,
    code: Option<Option<i32>>,
}

impl Exit {
    pub fn new(future: impl Future<Output = Option<i32>> + Send + 'static) -> Self {
        Self { future: Some(Box::pin(future)), code: None }
    }

    /// Resolves once the child has exited, and at once every time after that; a wait dropped
    /// before then loses nothing.
    pub async fn wait(&mut self) -> Option<i32> {
        if let Some(code) = self.code {
            return code;
        }
        let code = match self.future.as_mut() {
            Some(future) => future.await,
            None => None,
        };
        self.code = Some(code);
        self.future = None;
        code
    }
}

impl Started {
    /// Spawns `spec`: its stdin fed (on the side), its streams piped, its exit waited for (and
    /// the child killed if that wait is dropped first).
    pub fn spawn(spec: &ProcessSpec) -> io::Result<Self> {
        let mut child = spec.command().spawn()?;
        let pid = child.id().unwrap_or(0);
        if let (Some(data), Some(mut stdin)) = (spec.stdin.clone(), child.stdin.take()) {
            // A child that never reads its stdin must not hold the run up: written on the side,
            // closed when done.
            tokio::spawn(async move {
                let _ = stdin.write_all(&data).await;
            });
        }
        let stdout = child.stdout.take().map(|pipe| Box::pin(pipe) as Pin<Box<dyn AsyncRead + Send>>);
        let stderr = child.stderr.take().map(|pipe| Box::pin(pipe) as Pin<Box<dyn AsyncRead + Send>>);
        let exit = Exit::new(async move { child.wait().await.ok().and_then(exit_code) });
        Ok(Self { pid, stdout, stderr, exit })
    }
}

/// Runs `spec` until it exits with both streams closed, `limits.timeout` passes or `cancel`
/// fires; on the last two the whole process group is terminated. `on_line` gets every output
/// line (without its `\n`) as it comes. Errors only when the child cannot be started.
pub async fn run(
    spec: &ProcessSpec,
    limits: RunLimits,
    cancel: &CancellationToken,
    on_line: &(dyn Fn(Pipe, &str) + Send + Sync),
) -> io::Result<Captured> {
    Ok(supervise(Started::spawn(spec)?, limits, cancel, on_line).await)
}

/// As `run`, for a child already started.
pub async fn supervise(
    started: Started,
    limits: RunLimits,
    cancel: &CancellationToken,
    on_line: &(dyn Fn(Pipe, &str) + Send + Sync),
) -> Captured {
    let Started { pid, stdout: mut stdout_pipe, stderr: mut stderr_pipe, mut exit } = started;
    let mut stdout = Capture::new(Pipe::Stdout, limits.capture);
    let mut stderr = Capture::new(Pipe::Stderr, limits.capture);
    let deadline = limits.timeout.map(|timeout| Instant::now() + timeout);
    let finished = {
        let work = async {
            let (status, (), ()) = tokio::join!(
                exit.wait(),
                stdout.drain(&mut stdout_pipe, on_line),
                stderr.drain(&mut stderr_pipe, on_line)
            );
            status
        };
        let expired = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            status = work => Ok(status),
            () = expired => Err(Ending::TimedOut),
            () = cancel.cancelled() => Err(Ending::Cancelled),
        }
    };
    let (ending, exit_code) = match finished {
        Ok(status) => (Ending::Exited, status),
        Err(ending) => {
            let status = terminate(&mut exit, pid, limits.grace).await;
            let rest = async {
                tokio::join!(stdout.drain(&mut stdout_pipe, on_line), stderr.drain(&mut stderr_pipe, on_line))
            };
            if tokio::time::timeout(DRAIN_AFTER_KILL, rest).await.is_err() {
                stdout.finish(on_line);
                stderr.finish(on_line);
            }
            (ending, status)
        }
    };
    Captured {
        ending,
        exit_code,
        truncated: stdout.truncated || stderr.truncated,
        stdout: stdout.kept,
        stderr: stderr.kept,
    }
}

/// SIGTERM to the group led by `pid`, up to `grace` for the leader to exit, then SIGKILL to the
/// group (what ignored SIGTERM, or has not finished yet, goes too); the leader's exit code.
pub async fn terminate(exit: &mut Exit, pid: u32, grace: Duration) -> Option<i32> {
    signal_group(pid, GroupSignal::Terminate);
    let status = tokio::time::timeout(grace, exit.wait()).await.ok().flatten();
    signal_group(pid, GroupSignal::Kill);
    match status {
        Some(status) => Some(status),
        None => exit.wait().await,
    }
}

/// The exit code, or minus the signal that ended the process.
fn exit_code(status: std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.code().or_else(|| status.signal().map(|signal| -signal))
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
