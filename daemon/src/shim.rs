//! The shim socket: where Python processes started by st2d (sensors, python-script actions)
//! connect to dispatch trigger instances, use the datastore and report action results
//! (`daemon/python/PROTOCOL.md`).
//!
//! Owns: the listener, the tokens that tie a connection to the process st2d started, and the
//! per-connection protocol. Must not: start or stop processes (the sensor supervisor does).

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::datastore::{Datastore, Scope};
use crate::reload::Published;
use crate::trigger::journal::{Journal, JournalError};

/// The longest line a pack process may send (a dispatch with its payload, an action's result):
/// a connection that sends a longer one is closed (the shim refuses to send one, naming it).
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// What the daemon knows about a process it started, keyed by the process's token.
#[derive(Clone)]
pub struct Registration {
    /// Who dispatches: the sensor ref.
    pub source: String,
    /// The `welcome` message sent on `hello`.
    pub welcome: Value,
    /// Called when the process has connected and been welcomed.
    pub on_connect: Arc<dyn Fn() + Send + Sync>,
    /// Filled on connect: sends lines (trigger events) to the connected process.
    pub events: Arc<Mutex<Option<mpsc::UnboundedSender<String>>>>,
    /// Called with each `action.result` message (how a python-script action reports its result).
    pub on_result: Option<Arc<dyn Fn(Value) + Send + Sync>>,
}

struct Inner {
    sessions: Mutex<HashMap<String, Registration>>,
    journal: Journal,
    published: Published,
    datastore: Datastore,
    dropped: AtomicU64,
    accepted: AtomicU64,
}

/// The running shim socket; cheap to clone.
#[derive(Clone)]
pub struct ShimServer {
    path: PathBuf,
    inner: Arc<Inner>,
}

/// Removes a token when the process it was made for is gone.
pub struct TokenGuard {
    token: String,
    inner: Arc<Inner>,
}

impl Drop for TokenGuard {
    fn drop(&mut self) {
        if let Ok(mut sessions) = self.inner.sessions.lock() {
            sessions.remove(&self.token);
        }
    }
}

impl ShimServer {
    pub fn start(
        path: &Path,
        journal: Journal,
        published: Published,
        datastore: Datastore,
        shutdown: CancellationToken,
        tracker: &tokio_util::task::TaskTracker,
    ) -> std::io::Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if path.exists() {
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        let inner = Arc::new(Inner {
            sessions: Mutex::new(HashMap::new()),
            journal,
            published,
            datastore,
            dropped: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
        });
        let server = Self { path: path.to_path_buf(), inner };
        let accepting = server.clone();
        let connections = tracker.clone();
        tracker.spawn(async move {
            loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(error) => {
                            tracing::warn!(error = %error, "shim socket accept failed");
                            continue;
                        }
                    },
                    () = shutdown.cancelled() => break,
                };
                let inner = accepting.inner.clone();
                connections.spawn(session(stream, inner, shutdown.clone()));
            }
            let _ = std::fs::remove_file(&accepting.path);
        });
        Ok(server)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes a token for a process about to start.
    pub fn register(&self, registration: Registration) -> (String, TokenGuard) {
        let token = st2d_core::random::token();
        if let Ok(mut sessions) = self.inner.sessions.lock() {
            sessions.insert(token.clone(), registration);
        }
        (token.clone(), TokenGuard { token, inner: self.inner.clone() })
    }

    /// Dispatches accepted and dropped (unknown trigger or invalid payload) since start.
    pub fn dispatch_counts(&self) -> (u64, u64) {
        (self.inner.accepted.load(Ordering::Relaxed), self.inner.dropped.load(Ordering::Relaxed))
    }
}

async fn session(stream: UnixStream, inner: Arc<Inner>, shutdown: CancellationToken) {
    let (read, write) = stream.into_split();
    let mut lines = Lines { reader: BufReader::new(read), buffer: Vec::new() };
    let (out, mut outgoing) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        let mut writer = BufWriter::new(write);
        while let Some(line) = outgoing.recv().await {
            if writer.write_all(line.as_bytes()).await.is_err() {
                return;
            }
            while let Ok(line) = outgoing.try_recv() {
                if writer.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
            }
            if writer.flush().await.is_err() {
                return;
            }
        }
    });
    let Ok(Message::Line(first)) = lines.next().await else {
        return;
    };
    let hello: Value = serde_json::from_str(&first).unwrap_or(Value::Null);
    let token = hello.get("token").and_then(Value::as_str).unwrap_or_default();
    let registration = inner.sessions.lock().ok().and_then(|s| s.get(token).cloned());
    let Some(registration) = registration else {
        tracing::warn!("a process connected to the shim socket with an unknown token");
        return;
    };
    let _ = out.send(line(&registration.welcome));
    (registration.on_connect)();
    if let Ok(mut events) = registration.events.lock() {
        *events = Some(out.clone());
    }
    loop {
        let next = tokio::select! {
            next = lines.next() => next,
            () = shutdown.cancelled() => break,
        };
        let text = match next {
            Ok(Message::Line(text)) => text,
            Ok(Message::End) | Err(_) => break,
            Ok(Message::TooLong) => {
                tracing::warn!(
                    sensor = %registration.source,
                    limit = MAX_MESSAGE_BYTES,
                    "a shim message over the limit; closing the connection (the process ends)"
                );
                break;
            }
        };
        let message: Value = match serde_json::from_str(&text) {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(sensor = %registration.source, error = %error, "unreadable shim message");
                continue;
            }
        };
        handle(&message, &registration, &inner, &out, &shutdown).await;
    }
    // The process is gone (or st2d is stopping): nobody may send to it any more, so the writer
    // can finish once what is queued is written.
    if let Ok(mut events) = registration.events.lock() {
        events.take();
    }
    drop(out);
    let _ = writer.await;
}

/// One protocol line.
pub fn line(value: &Value) -> String {
    let mut text = value.to_string();
    text.push('\n');
    text
}

/// What the next read of a connection gave.
enum Message {
    Line(String),
    End,
    TooLong,
}

/// A connection's lines, each at most `MAX_MESSAGE_BYTES`.
struct Lines<R> {
    reader: BufReader<R>,
    buffer: Vec<u8>,
}

impl<R: tokio::io::AsyncRead + Unpin> Lines<R> {
    async fn next(&mut self) -> std::io::Result<Message> {
        self.buffer.clear();
        loop {
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                return Ok(if self.buffer.is_empty() { Message::End } else { self.line() });
            }
            let (taken, ended) = match available.iter().position(|&b| b == b'\n') {
                Some(newline) => (newline, true),
                None => (available.len(), false),
            };
            if self.buffer.len() + taken > MAX_MESSAGE_BYTES {
                return Ok(Message::TooLong);
            }
            self.buffer.extend_from_slice(&available[..taken]);
            self.reader.consume(if ended { taken + 1 } else { taken });
            if ended {
                return Ok(self.line());
            }
        }
    }

    fn line(&mut self) -> Message {
        Message::Line(String::from_utf8_lossy(&self.buffer).into_owned())
    }
}

async fn handle(
    message: &Value,
    registration: &Registration,
    inner: &Arc<Inner>,
    out: &mpsc::UnboundedSender<String>,
    shutdown: &CancellationToken,
) {
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    let op = message.get("op").and_then(Value::as_str).unwrap_or_default();
    let text = |key: &str| message.get(key).and_then(Value::as_str).map(String::from);
    match op {
        "dispatch" => {
            let trigger = text("trigger").unwrap_or_default();
            let mut payload = message.get("payload").cloned().unwrap_or(Value::Null);
            let checked = crate::trigger::validate_dispatch(&inner.published.registry(), &trigger, &mut payload);
            if let Err(error) = checked {
                inner.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(sensor = %registration.source, trigger = %trigger, error = %error, "dispatch dropped");
                let _ = out.send(line(&json!({"op": "ack", "id": id, "accepted": false, "error": error.to_string()})));
                return;
            }
            // Held, not refused, while intake is closed: the ack waits, and the shim holds the
            // sensor back once its window of unacknowledged dispatches is full.
            let admission = inner.journal.admission();
            if admission.refusal().is_some() {
                tokio::select! {
                    () = admission.open() => {}
                    () = shutdown.cancelled() => {}
                }
            }
            let out = out.clone();
            let counter = inner.clone();
            let reply = Box::new(move |result: Result<String, JournalError>| {
                let ack = match result {
                    Ok(instance) => {
                        counter.accepted.fetch_add(1, Ordering::Relaxed);
                        json!({"op": "ack", "id": id, "accepted": true, "instance": instance})
                    }
                    Err(error) => json!({"op": "ack", "id": id, "accepted": false, "error": error.to_string()}),
                };
                let _ = out.send(line(&ack));
            });
            inner.journal.append(trigger, payload, Some(registration.source.clone()), text("trace_tag"), reply).await;
        }
        "kv.get" | "kv.set" | "kv.delete" | "kv.list" => {
            let answer = match datastore_op(&inner.datastore, op, message) {
                Ok(value) => json!({"op": "result", "id": id, "value": value}),
                Err(error) => json!({"op": "result", "id": id, "value": null, "error": error.to_string()}),
            };
            let _ = out.send(line(&answer));
        }
        "action.result" => {
            if let Some(on_result) = &registration.on_result {
                on_result(message.clone());
            }
            let _ = out.send(line(&json!({"op": "result", "id": id, "value": true})));
        }
        other => {
            tracing::warn!(sensor = %registration.source, op = other, "unknown shim message");
            if !id.is_null() {
                let _ = out.send(line(
                    &json!({"op": "result", "id": id, "value": null, "error": format!("unknown op {other}")}),
                ));
            }
        }
    }
}

/// One `kv.*` request of `sensor_service`/`action_service` (names come already prefixed for
/// local keys): get gives the value or null, set true, delete whether it existed, list the
/// items.
fn datastore_op(datastore: &Datastore, op: &str, message: &Value) -> Result<Value, crate::datastore::DatastoreError> {
    let text = |key: &str| message.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let flag = |key: &str| message.get(key).and_then(Value::as_bool).unwrap_or(false);
    let scope = Scope::parse(&text("scope"), st2d_core::template::SYSTEM_USER)?;
    let name = text("name");
    match op {
        "kv.get" => Ok(datastore.get(&scope, &name, flag("decrypt"))?.map_or(Value::Null, |item| json!(item.value))),
        "kv.set" => {
            let ttl = message.get("ttl").and_then(Value::as_u64);
            datastore.set(&scope, &name, &text("value"), flag("encrypt"), ttl)?;
            Ok(json!(true))
        }
        "kv.delete" => Ok(json!(datastore.delete(&scope, &name)?)),
        _ => {
            let offset = message.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;
            let limit = message.get("limit").and_then(Value::as_u64).map_or(usize::MAX, |l| l as usize);
            let items = datastore.list(&scope, &text("prefix"), false)?;
            Ok(Value::Array(items.iter().skip(offset).take(limit).map(|item| item.to_json()).collect()))
        }
    }
}
