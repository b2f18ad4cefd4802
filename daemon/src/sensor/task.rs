//! One supervised sensor: start the process, keep its output tail, restart it with exponential
//! backoff when it crashes (1 s doubling to 5 min, with jitter; reset after 60 s healthy), stop
//! it with SIGTERM then SIGKILL.
//!
//! Owns: the life of one sensor process and its `SensorStatus`. Must not: decide whether the
//! sensor should run (the supervisor does).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, oneshot};

use super::spec::SensorSpec;
use super::{SensorState, SensorStatus};
use crate::process::{ProcessSpec, Started, terminate};
use crate::pyenv::{PythonEnv, Role};
use crate::shim::{Registration, ShimServer, line};
use crate::trigger::journal::Journal;

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
const HEALTHY_AFTER: Duration = Duration::from_secs(60);
/// SIGTERM, then this long, then SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// What every sensor task shares.
pub struct SensorContext {
    pub shim: ShimServer,
    pub journal: Journal,
    /// The import path and variables of pack processes.
    pub python_env: PythonEnv,
    /// Where sensor processes are forked from, when warm (green interpreters).
    pub warm: crate::warm::WarmPool,
    /// The account sensors run as (`action_user`); `None`: st2d's own.
    pub user: Option<crate::process::RunAs>,
}

pub enum Command {
    /// Start again now (stopping the running process first).
    Restart,
    /// The triggers the sensor hears of changed: tell the running process, and use them from
    /// the next start on.
    Triggers(Vec<Value>),
    /// Stop for good; the reply comes once the process is gone.
    Stop { disabled: bool, done: oneshot::Sender<()> },
}

/// The delay before the next start after `failures` consecutive crashes, with ±10 % jitter.
pub fn backoff(failures: u32) -> Duration {
    let base = FIRST_BACKOFF.saturating_mul(1u32 << failures.saturating_sub(1).min(16)).min(MAX_BACKOFF);
    let jitter = ((st2d_core::random::next_u64() % 2001) as f64 / 1000.0 - 1.0) * 0.1;
    base.mul_f64(1.0 + jitter)
}

fn set(status: &Mutex<SensorStatus>, change: impl FnOnce(&mut SensorStatus)) {
    if let Ok(mut status) = status.lock() {
        change(&mut status);
    }
}

/// Runs the sensor until a `Stop` command.
pub async fn run(
    spec: SensorSpec,
    ctx: Arc<SensorContext>,
    status: Arc<Mutex<SensorStatus>>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let sensor_ref = spec.ref_().to_string();
    let mut failures: u32 = 0;
    let mut live = Live { triggers: spec.triggers.clone(), events: Arc::new(Mutex::new(None)) };
    loop {
        set(&status, |s| {
            s.state = SensorState::Starting;
            s.next_start = None;
        });
        let connected = status.clone();
        let on_connect = Arc::new(move || set(&connected, |s| s.state = SensorState::Running));
        live.events = Arc::new(Mutex::new(None));
        let registration = Registration {
            source: sensor_ref.clone(),
            welcome: spec.welcome(&live.triggers),
            on_connect,
            events: live.events.clone(),
            on_result: None,
        };
        let (token, _guard) = ctx.shim.register(registration);
        let process = process_spec(&spec, &ctx, &token);
        let warm = ctx.warm.start(&process).await;
        let started_process = match warm.map(Ok).unwrap_or_else(|| Started::spawn(&process)) {
            Ok(started) => started,
            Err(error) => {
                failures += 1;
                let reason = format!("cannot start {}{}: {error}", spec.python.display(), process.as_whom());
                tracing::error!(sensor = %sensor_ref, error = %reason, "sensor failed to start");
                set(&status, |s| {
                    s.state = SensorState::Failed;
                    s.last_exit = Some(reason);
                });
                match wait_backoff(&status, failures, &mut commands, &mut live).await {
                    Some(stop) => return finish(&status, stop).await,
                    None => continue,
                }
            }
        };
        let Started { pid, stdout, stderr, mut exit } = started_process;
        let started = Instant::now();
        // `Running` once the shim connects (the sensor's module is then being loaded).
        set(&status, |s| {
            s.pid = Some(pid);
            s.started = Some(started);
            s.started_at = Some(SystemTime::now());
        });
        tracing::info!(sensor = %sensor_ref, pid, "sensor started");
        lifecycle(&ctx, "core.st2.sensor.process_spawn", json!({"id": spec.sensor.class_name, "timestamp": epoch(), "pid": pid, "cmd": format!("{} {}", spec.python.display(), ctx.python_env.entry_point(Role::Sensor).display())})).await;
        let output: Vec<_> = [stdout.map(reader), stderr.map(reader)]
            .into_iter()
            .flatten()
            .map(|lines| tokio::spawn(tail(lines, status.clone(), sensor_ref.clone())))
            .collect();
        let outcome = tokio::select! {
            code = exit.wait() => Outcome::Exited(code),
            command = next_command(&mut commands, &mut live) => Outcome::Command(command),
        };
        let exit = match outcome {
            Outcome::Exited(code) => code,
            Outcome::Command(command) => {
                let exit = terminate(&mut exit, pid, STOP_GRACE).await;
                for task in output {
                    let _ = task.await;
                }
                record_exit(&status, exit);
                lifecycle(&ctx, "core.st2.sensor.process_exit", json!({"id": spec.sensor.class_name, "timestamp": epoch(), "exit_code": exit.filter(|code| *code >= 0)})).await;
                match command {
                    Some(Command::Restart) => {
                        set(&status, |s| s.restarts += 1);
                        failures = 0;
                        continue;
                    }
                    stop => return finish(&status, stop).await,
                }
            }
        };
        for task in output {
            let _ = task.await;
        }
        record_exit(&status, exit);
        lifecycle(
            &ctx,
            "core.st2.sensor.process_exit",
            json!({"id": spec.sensor.class_name, "timestamp": epoch(), "exit_code": exit.filter(|code| *code >= 0)}),
        )
        .await;
        if exit == Some(0) {
            tracing::info!(sensor = %sensor_ref, "sensor exited with status 0; it stays stopped until restarted");
            set(&status, |s| s.state = SensorState::Stopped);
            match next_command(&mut commands, &mut live).await {
                Some(Command::Restart) => {
                    set(&status, |s| s.restarts += 1);
                    failures = 0;
                    continue;
                }
                stop => return finish(&status, stop).await,
            }
        }
        failures = if started.elapsed() >= HEALTHY_AFTER { 1 } else { failures + 1 };
        let last = status.lock().ok().and_then(|s| s.tail.back().cloned()).unwrap_or_default();
        tracing::warn!(sensor = %sensor_ref, exit = ?exit, last_line = %last, "sensor crashed; restarting after backoff");
        set(&status, |s| s.state = SensorState::Backoff);
        if let Some(stop) = wait_backoff(&status, failures, &mut commands, &mut live).await {
            return finish(&status, stop).await;
        }
        set(&status, |s| s.restarts += 1);
    }
}

enum Outcome {
    Exited(Option<i32>),
    Command(Option<Command>),
}

/// The triggers a sensor hears of, and the way to tell its running process about changes.
struct Live {
    triggers: Vec<Value>,
    events: Arc<Mutex<Option<mpsc::UnboundedSender<String>>>>,
}

impl Live {
    /// Sends `add_trigger`/`remove_trigger` for the difference, then keeps `triggers`.
    fn apply(&mut self, triggers: Vec<Value>) {
        let refs = |list: &[Value]| list.iter().filter_map(|t| t["ref"].as_str().map(String::from)).collect::<Vec<_>>();
        let (old, new) = (refs(&self.triggers), refs(&triggers));
        let sender = self.events.lock().ok().and_then(|e| e.clone());
        if let Some(sender) = sender {
            for trigger in triggers.iter().filter(|t| t["ref"].as_str().is_some_and(|r| !old.iter().any(|o| o == r))) {
                let _ = sender.send(line(&json!({"op": "add_trigger", "trigger": trigger})));
            }
            for trigger in
                self.triggers.iter().filter(|t| t["ref"].as_str().is_some_and(|r| !new.iter().any(|n| n == r)))
            {
                let _ = sender.send(line(&json!({"op": "remove_trigger", "trigger": trigger})));
            }
        }
        self.triggers = triggers;
    }
}

/// The next command that concerns the process; trigger changes are applied on the way.
async fn next_command(commands: &mut mpsc::UnboundedReceiver<Command>, live: &mut Live) -> Option<Command> {
    loop {
        match commands.recv().await {
            Some(Command::Triggers(triggers)) => live.apply(triggers),
            other => return other,
        }
    }
}

/// Waits out the backoff; `Some` when a stop (or the end of commands) came first.
async fn wait_backoff(
    status: &Mutex<SensorStatus>,
    failures: u32,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    live: &mut Live,
) -> Option<Option<Command>> {
    let delay = backoff(failures);
    set(status, |s| s.next_start = Some(Instant::now() + delay));
    tokio::select! {
        () = tokio::time::sleep(delay) => None,
        command = next_command(commands, live) => match command {
            Some(Command::Restart) => None,
            other => Some(other),
        },
    }
}

async fn finish(status: &Mutex<SensorStatus>, stop: Option<Command>) {
    let disabled = matches!(stop, Some(Command::Stop { disabled: true, .. }));
    set(status, |s| {
        s.state = if disabled { SensorState::Disabled } else { SensorState::Stopped };
        s.pid = None;
        s.next_start = None;
    });
    if let Some(Command::Stop { done, .. }) = stop {
        let _ = done.send(());
    }
}

fn record_exit(status: &Mutex<SensorStatus>, exit: Option<i32>) {
    let text = match exit {
        Some(code) if code >= 0 => format!("exit {code}"),
        Some(signal) => format!("signal {}", -signal),
        None => "unknown".to_string(),
    };
    set(status, |s| {
        s.last_exit = Some(text);
        s.pid = None;
    });
}

fn process_spec(spec: &SensorSpec, ctx: &SensorContext, token: &str) -> ProcessSpec {
    let env = &ctx.python_env;
    let program = ProcessSpec::new(&spec.python, &spec.pack_dir).arg("-u").arg(env.entry_point(Role::Sensor));
    env.apply(program, Role::Sensor, &spec.pack_dir, crate::pyenv::virtualenv_of(&spec.python))
        .env("ST2D_SHIM_SOCKET", ctx.shim.path())
        .env("ST2D_SHIM_TOKEN", token)
        .env("ST2D_SENSOR_REF", spec.ref_())
        .run_as(ctx.user.as_ref())
}

type Lines = tokio::io::Lines<BufReader<Box<dyn AsyncRead + Send + Unpin>>>;

fn reader(stream: impl AsyncRead + Send + Unpin + 'static) -> Lines {
    BufReader::new(Box::new(stream) as Box<dyn AsyncRead + Send + Unpin>).lines()
}

async fn tail(mut lines: Lines, status: Arc<Mutex<SensorStatus>>, sensor: String) {
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::debug!(sensor = %sensor, "{line}");
        set(&status, |s| s.push_line(line));
    }
}

fn epoch() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Journals a lifecycle trigger instance (no payload validation, as in StackStorm).
async fn lifecycle(ctx: &SensorContext, trigger: &str, payload: serde_json::Value) {
    ctx.journal.append(trigger.to_string(), payload, None, None, Box::new(|_| {})).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_to_five_minutes() {
        let expected = [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 256.0), (10, 300.0), (40, 300.0)];
        for (failures, seconds) in expected {
            let delay = backoff(failures).as_secs_f64();
            assert!(delay >= seconds * 0.9 && delay <= seconds * 1.1, "{failures} failures: {delay}s");
        }
    }
}
