//! One warm interpreter: its life (start on first use, ready, dead, backoff, start again) and
//! the conversation with its `warm_main.py` over a Unix socket: fork requests out, with the two
//! write ends of the child's stdout and stderr pipes attached (SCM_RIGHTS); `started`, `failed`
//! and `exited` back.
//!
//! Owns: that process and socket. Must not: read the child's output (the caller's
//! `process::supervise` does).

use std::collections::HashMap;
use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Setup, WarmStatus};
use crate::process::{GroupSignal, ProcessSpec, Started, signal_group};

/// How long a warm interpreter may take to connect and say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// The same for one that imports a pack's actions first.
const PRELOAD_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a fork may take to be answered before the run starts cold instead.
const FORK_TIMEOUT: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Up this long, an interpreter's next death starts the backoff over.
const HEALTHY: Duration = Duration::from_secs(60);
/// Fork requests waiting for the interpreter.
const QUEUE: usize = 256;

/// What a fork request is answered with: the child's pid and its exit code to come.
type Forked = Result<(u32, oneshot::Receiver<i32>), WarmError>;

/// Why a warm interpreter stopped, or could not fork a run.
#[derive(Debug, thiserror::Error)]
pub(super) enum WarmError {
    #[error("cannot listen on {}: {source}", .path.display())]
    Listen { path: PathBuf, source: std::io::Error },
    #[error("cannot hand its socket {} to {user}: {source}", .path.display())]
    HandOver { path: PathBuf, user: String, source: std::io::Error },
    #[error("cannot start {}{as_whom}: {source}", .program.display())]
    Start { program: PathBuf, as_whom: String, source: std::io::Error },
    #[error("it did not become ready in time")]
    NotReady,
    #[error("it did not say it was ready: {0}")]
    Handshake(String),
    #[error("its socket failed: {0}")]
    Socket(#[from] std::io::Error),
    #[error("it closed its socket")]
    Closed,
    #[error("it exited ({0})")]
    Exited(std::process::ExitStatus),
    #[error("it could not fork: {0}")]
    Fork(String),
    #[error("the pack it preloaded changed on disk")]
    Stale,
}

/// A fork to do: the child's working directory, environment and argv, and the write ends of
/// its stdout and stderr.
struct Fork {
    cwd: PathBuf,
    env: serde_json::Map<String, Value>,
    argv: Vec<String>,
    stdout: OwnedFd,
    stderr: OwnedFd,
    reply: oneshot::Sender<Forked>,
}

enum State {
    /// Never started, or dead with its backoff passed.
    Idle,
    Starting,
    Up(mpsc::Sender<Fork>),
    Down {
        until: Instant,
    },
}

pub(super) struct Interpreter {
    python: PathBuf,
    /// The program as the runs give it (what is started).
    program: PathBuf,
    /// Variables of the warm process beyond the basics.
    env: Vec<(String, std::ffi::OsString)>,
    cwd: PathBuf,
    /// The pack whose actions it preloads; empty when none.
    pub(super) pack: String,
    socket: PathBuf,
    /// The account it runs as; `None`: st2d's.
    user: Option<crate::process::RunAs>,
    /// Serves no new run: its pack changed, or another interpreter preloads the pack now. It
    /// ends when its runs in flight have.
    retired: CancellationToken,
    preloaded: AtomicU32,
    state: Mutex<State>,
    backoff: Mutex<Duration>,
    pid: AtomicU32,
    forks: AtomicU64,
    restarts: AtomicU64,
}

impl Interpreter {
    pub(super) fn new(setup: Setup) -> Self {
        let Setup { python, program, env, cwd, pack, socket, user } = setup;
        Self {
            python,
            program,
            env,
            cwd,
            pack,
            socket,
            user,
            retired: CancellationToken::new(),
            preloaded: AtomicU32::new(0),
            state: Mutex::new(State::Idle),
            backoff: Mutex::new(FIRST_BACKOFF),
            pid: AtomicU32::new(0),
            forks: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
        }
    }

    pub(super) fn status(&self) -> WarmStatus {
        let state = match self.state.lock().as_deref() {
            Ok(State::Up(_)) => "up",
            Ok(State::Starting) => "starting",
            Ok(State::Down { .. }) => "down",
            _ => "idle",
        };
        WarmStatus {
            python: self.python.clone(),
            kind: "",
            state,
            pid: self.pid.load(Ordering::Relaxed),
            forks: self.forks.load(Ordering::Relaxed),
            restarts: self.restarts.load(Ordering::Relaxed),
            pack: self.pack.clone(),
            preloaded: self.preloaded.load(Ordering::Relaxed),
        }
    }

    /// Serves no new run from now on.
    pub(super) fn retire(&self) {
        self.retired.cancel();
    }

    pub(super) fn retired(&self) -> bool {
        self.retired.is_cancelled()
    }

    /// Forks `spec` from this interpreter when it is up; otherwise starts it (when its backoff
    /// allows) and answers `None`.
    pub(super) async fn start(
        self: &Arc<Self>,
        spec: &ProcessSpec,
        entry: &Path,
        shutdown: &CancellationToken,
        tracker: &TaskTracker,
    ) -> Option<Started> {
        let sender = self.sender(entry, shutdown, tracker)?;
        let fork = fork_request(spec)?;
        let (stdout_read, stdout_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).ok()?;
        let (stderr_read, stderr_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).ok()?;
        let (reply, answer) = oneshot::channel();
        let (cwd, env, argv) = fork;
        sender.send(Fork { cwd, env, argv, stdout: stdout_write, stderr: stderr_write, reply }).await.ok()?;
        let (pid, exited) = match tokio::time::timeout(FORK_TIMEOUT, answer).await {
            Ok(Ok(Ok(started))) => started,
            Ok(Ok(Err(WarmError::Stale))) => {
                tracing::info!(python = %self.python.display(), pack = %self.pack, "the preloaded pack changed on disk; its warm interpreter is replaced");
                self.retire();
                return None;
            }
            Ok(Ok(Err(error))) => {
                tracing::warn!(python = %self.python.display(), error = %error, "the warm interpreter could not fork; starting cold");
                return None;
            }
            _ => return None,
        };
        self.forks.fetch_add(1, Ordering::Relaxed);
        let reader = |fd: OwnedFd| -> Option<Pin<Box<dyn AsyncRead + Send>>> {
            tokio::net::unix::pipe::Receiver::from_owned_fd(fd)
                .ok()
                .map(|r| Box::pin(r) as Pin<Box<dyn AsyncRead + Send>>)
        };
        Some(Started {
            pid,
            stdout: reader(stdout_read),
            stderr: reader(stderr_read),
            exit: crate::process::Exit::new(async move { exited.await.ok() }),
        })
    }

    /// Starts it when it is not up (and not retired, and its backoff allows).
    pub(super) fn launch(self: &Arc<Self>, entry: &Path, shutdown: &CancellationToken, tracker: &TaskTracker) {
        self.sender(entry, shutdown, tracker);
    }

    /// The way to send it forks when it is up; otherwise starts it (`launch`).
    fn sender(
        self: &Arc<Self>,
        entry: &Path,
        shutdown: &CancellationToken,
        tracker: &TaskTracker,
    ) -> Option<mpsc::Sender<Fork>> {
        if self.retired() {
            return None;
        }
        let mut state = self.state.lock().ok()?;
        match &*state {
            State::Up(sender) => Some(sender.clone()),
            State::Starting => None,
            State::Down { until } if Instant::now() < *until => None,
            State::Idle | State::Down { .. } => {
                if shutdown.is_cancelled() {
                    return None;
                }
                *state = State::Starting;
                let (sender, forks) = mpsc::channel(QUEUE);
                let interpreter = self.clone();
                let (entry, shutdown) = (entry.to_path_buf(), shutdown.clone());
                tracker.spawn(async move { interpreter.live(sender, forks, &entry, &shutdown).await });
                None
            }
        }
    }

    /// One life of the warm process: start it, serve forks until it dies or the daemon stops,
    /// then kill what it left running and wait out the backoff.
    async fn live(
        self: Arc<Self>,
        sender: mpsc::Sender<Fork>,
        forks: mpsc::Receiver<Fork>,
        entry: &Path,
        shutdown: &CancellationToken,
    ) {
        let started = Instant::now();
        let outcome = self.serve(sender, forks, entry, shutdown).await;
        let _ = std::fs::remove_file(&self.socket);
        self.pid.store(0, Ordering::Relaxed);
        if shutdown.is_cancelled() || self.retired() {
            if let Ok(mut state) = self.state.lock() {
                *state = State::Idle;
            }
            return;
        }
        let backoff = {
            let mut backoff = self.backoff.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if started.elapsed() >= HEALTHY {
                *backoff = FIRST_BACKOFF;
            }
            let now = *backoff;
            *backoff = (now * 2).min(MAX_BACKOFF);
            now
        };
        tracing::warn!(python = %self.python.display(), error = %outcome.err().map(|e| e.to_string()).unwrap_or_default(), backoff_ms = backoff.as_millis() as u64, "the warm interpreter stopped; runs start cold until it is back");
        self.restarts.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut state) = self.state.lock() {
            *state = State::Down { until: Instant::now() + backoff };
        }
    }

    async fn serve(
        &self,
        sender: mpsc::Sender<Fork>,
        mut forks: mpsc::Receiver<Fork>,
        entry: &Path,
        shutdown: &CancellationToken,
    ) -> Result<(), WarmError> {
        let socket = self.socket.as_path();
        let _ = std::fs::remove_file(socket);
        let listener =
            UnixListener::bind(socket).map_err(|source| WarmError::Listen { path: socket.to_path_buf(), source })?;
        if let Some(user) = &self.user {
            user.give(socket, 0o600).map_err(|source| WarmError::HandOver {
                path: socket.to_path_buf(),
                user: user.name().to_string(),
                source,
            })?;
        }
        let mut spec = ProcessSpec::new(&self.program, &self.cwd).arg("-u").arg(entry).env("ST2D_WARM_SOCKET", socket);
        for (key, value) in &self.env {
            spec = spec.env(key, value.clone());
        }
        let spec = spec.run_as(self.user.as_ref());
        let mut process = spec.command().spawn().map_err(|source| WarmError::Start {
            program: self.program.clone(),
            as_whom: spec.as_whom(),
            source,
        })?;
        let group = process.id().unwrap_or(0);
        for pipe in [
            process.stdout.take().map(|p| Box::pin(p) as Pin<Box<dyn AsyncRead + Send>>),
            process.stderr.take().map(|p| Box::pin(p) as Pin<Box<dyn AsyncRead + Send>>),
        ]
        .into_iter()
        .flatten()
        {
            let python = self.python.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(pipe).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::warn!(python = %python.display(), "warm interpreter: {line}");
                }
            });
        }
        let ready_timeout = if self.pack.is_empty() { READY_TIMEOUT } else { PRELOAD_TIMEOUT };
        let connected = tokio::time::timeout(ready_timeout, async {
            let (stream, _) = listener.accept().await?;
            let (read, write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            let ready = lines.next_line().await?.unwrap_or_default();
            let ready: Value = serde_json::from_str(&ready).map_err(|e| WarmError::Handshake(e.to_string()))?;
            Ok::<_, WarmError>((lines, write, ready))
        })
        .await;
        let (mut lines, mut write, ready) = match connected {
            Ok(Ok(connected)) => connected,
            Ok(Err(error)) => return Err(error),
            Err(_) => {
                signal_group(group, GroupSignal::Kill);
                return Err(WarmError::NotReady);
            }
        };
        drop(listener);
        let _ = std::fs::remove_file(socket);
        let pid = ready["pid"].as_u64().unwrap_or(0);
        let preloaded = ready["preloaded"].as_u64().unwrap_or(0);
        self.pid.store(pid as u32, Ordering::Relaxed);
        self.preloaded.store(preloaded as u32, Ordering::Relaxed);
        if let Ok(mut state) = self.state.lock() {
            *state = State::Up(sender);
        }
        tracing::info!(python = %self.python.display(), pid, pack = %self.pack, preloaded, "warm interpreter ready");
        let mut next_id = 0u64;
        let mut asked: HashMap<u64, oneshot::Sender<Forked>> = HashMap::new();
        let mut running: HashMap<u32, oneshot::Sender<i32>> = HashMap::new();
        let mut retiring = false;
        let ended = loop {
            if retiring && asked.is_empty() && running.is_empty() {
                break Ok(());
            }
            tokio::select! {
                fork = forks.recv() => {
                    let Some(fork) = fork else { break Ok(()) };
                    if retiring {
                        let _ = fork.reply.send(Err(WarmError::Stale));
                        continue;
                    }
                    next_id += 1;
                    let message = json!({"op": "fork", "id": next_id, "cwd": fork.cwd, "env": fork.env, "argv": fork.argv});
                    if let Err(error) = send_with_fds(&mut write, &message, &fork.stdout, &fork.stderr).await {
                        let _ = fork.reply.send(Err(WarmError::Fork(error.to_string())));
                        break Err(error);
                    }
                    asked.insert(next_id, fork.reply);
                }
                line = lines.next_line() => {
                    let line = match line {
                        Ok(Some(line)) => line,
                        Ok(None) => break Err(WarmError::Closed),
                        Err(error) => break Err(WarmError::Socket(error)),
                    };
                    let message: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
                    let id = message["id"].as_u64().unwrap_or(0);
                    match message["op"].as_str() {
                        Some("started") => {
                            let pid = message["pid"].as_u64().unwrap_or(0) as u32;
                            let (exit, exited) = oneshot::channel();
                            running.insert(pid, exit);
                            if let Some(reply) = asked.remove(&id)
                                && reply.send(Ok((pid, exited))).is_err()
                            {
                                // Nobody waits any more (the fork timed out): it must not run unseen.
                                signal_group(pid, GroupSignal::Kill);
                            }
                        }
                        Some("failed") => {
                            let stale = message["stale"] == true;
                            if stale {
                                self.retire();
                            }
                            if let Some(reply) = asked.remove(&id) {
                                let why = message["error"].as_str().unwrap_or("fork failed").to_string();
                                let _ = reply.send(Err(if stale { WarmError::Stale } else { WarmError::Fork(why) }));
                            }
                        }
                        Some("exited") => {
                            let pid = message["pid"].as_u64().unwrap_or(0) as u32;
                            if let Some(exit) = running.remove(&pid) {
                                let _ = exit.send(message["code"].as_i64().unwrap_or(-1) as i32);
                            }
                        }
                        _ => tracing::debug!(line, "unexpected message from a warm interpreter"),
                    }
                }
                status = process.wait() => break Err(match status {
                    Ok(status) => WarmError::Exited(status),
                    Err(error) => WarmError::Socket(error),
                }),
                () = shutdown.cancelled() => break Ok(()),
                () = self.retired.cancelled(), if !retiring => retiring = true,
            }
        };
        if let Ok(mut state) = self.state.lock() {
            *state = State::Starting;
        }
        // Its children can no longer be reaped or told apart: they are killed, and their runs
        // end (the exit is unknown).
        for pid in running.keys() {
            signal_group(*pid, GroupSignal::Kill);
        }
        signal_group(group, GroupSignal::Kill);
        let _ = process.wait().await;
        ended
    }
}

/// The fork request of a run: its working directory, environment (text only: a run with a
/// variable that is not UTF-8 starts cold) and argv (the script and its arguments, without the
/// interpreter's options).
fn fork_request(spec: &ProcessSpec) -> Option<(PathBuf, serde_json::Map<String, Value>, Vec<String>)> {
    let mut env = serde_json::Map::new();
    for (key, value) in &spec.env {
        env.insert(key.clone(), Value::String(value.to_str()?.to_string()));
    }
    let argv: Vec<String> = spec
        .args
        .iter()
        .map(|arg| arg.to_str().map(String::from))
        .collect::<Option<Vec<_>>>()?
        .into_iter()
        .skip_while(|arg| arg.starts_with('-'))
        .collect();
    if argv.is_empty() || spec.stdin.is_some() {
        return None;
    }
    Some((spec.cwd.clone(), env, argv))
}

/// Writes `message` as one line, with the two descriptors attached to its first bytes.
async fn send_with_fds(
    write: &mut OwnedWriteHalf,
    message: &Value,
    first: &OwnedFd,
    second: &OwnedFd,
) -> Result<(), WarmError> {
    let line = format!("{message}\n").into_bytes();
    let stream: &UnixStream = write.as_ref();
    let sent = loop {
        stream.writable().await?;
        let attempt = stream.try_io(tokio::io::Interest::WRITABLE, || {
            let fds = [first.as_fd(), second.as_fd()];
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
            let mut control = rustix::net::SendAncillaryBuffer::new(&mut space);
            control.push(rustix::net::SendAncillaryMessage::ScmRights(&fds));
            rustix::net::sendmsg(stream, &[IoSlice::new(&line)], &mut control, rustix::net::SendFlags::empty())
                .map_err(std::io::Error::from)
        });
        match attempt {
            Ok(sent) => break sent,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(error) => return Err(WarmError::Socket(error)),
        }
    };
    write.write_all(&line[sent..]).await.map_err(WarmError::Socket)
}
