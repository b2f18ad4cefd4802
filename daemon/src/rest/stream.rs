//! `/stream/v1/stream` (StackStorm's st2stream): server-sent events of executions
//! (`st2.execution__create|update`, `st2.liveaction__create|update`), their output
//! (`st2.execution.output__create`) and announcements (`st2.announcement__<route>`, the
//! `announcement` runner's and alias executions' ChatOps results) and, when asked for, alias
//! changes (`st2.actionalias__create|update|delete`, when a reload changes an alias), filtered by `events` (globs; StackStorm's default list
//! when none), `action_refs` and `execution_ids`, and ended by `end_event` +
//! `end_execution_id` once that execution completes. `st2 execution tail` follows it; and
//! `/api/v1/executions/{id}/output`, the output so far as text.
//!
//! A consumer that falls behind is dropped (its connection ends); the daemon never waits for one.
//!
//! Owns: the stream's events, filters and framing. Must not: change an execution, or block the
//! executor or the announcer (it reads their broadcasts and the output buffers only).

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures_util::FutureExt;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::{StreamExt, StreamMap};

use super::query::Params;
use super::{Fault, Rest, views};
use st2d_core::pack::model::Alias;

use crate::announce::Announcement;
use crate::execution::Execution;
use crate::registry::Registry;
use crate::runner::output::OutputLine;
use crate::service::executions;

/// The events a stream carries when the request names none (st2stream's whitelist).
const DEFAULT_EVENTS: &[&str] = &[
    "st2.announcement__*",
    "st2.execution__create",
    "st2.execution__update",
    "st2.execution__delete",
    "st2.liveaction__create",
    "st2.liveaction__update",
    "st2.liveaction__delete",
];

const OUTPUT_EVENT: &str = "st2.execution.output__create";

/// The events of alias changes (not in the default list, as in StackStorm).
const ALIAS_EVENTS: [&str; 3] = ["st2.actionalias__create", "st2.actionalias__update", "st2.actionalias__delete"];

/// How often an idle stream says it is alive (StackStorm's `stream.heartbeat`).
const HEARTBEAT: Duration = Duration::from_secs(25);

/// Frames buffered for one consumer before it counts as too slow and is dropped.
const CONSUMER_BUFFER: usize = 1024;

/// What one stream asks for.
struct Subscription {
    events: Vec<String>,
    action_refs: Vec<String>,
    execution_ids: Vec<String>,
    end_event: String,
    end_execution_id: String,
}

impl Subscription {
    fn from_params(params: &Params) -> Self {
        let events = params.list("events");
        Self {
            events: if events.is_empty() { DEFAULT_EVENTS.iter().map(|e| e.to_string()).collect() } else { events },
            action_refs: params.list("action_refs"),
            execution_ids: params.list("execution_ids"),
            end_event: params.get("end_event").to_string(),
            end_execution_id: params.get("end_execution_id").to_string(),
        }
    }

    fn wants(&self, event: &str) -> bool {
        self.events.iter().any(|pattern| glob_match(pattern, event))
    }

    fn passes(&self, action_ref: &str, execution_id: Option<&str>) -> bool {
        (self.action_refs.is_empty() || self.action_refs.iter().any(|r| r == action_ref))
            && (self.execution_ids.is_empty()
                || execution_id.is_none_or(|id| self.execution_ids.iter().any(|e| e == id)))
    }
}

/// fnmatch's `*` and `?` (the only wildcards StackStorm's event filters use).
fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn frame(event: &str, body: &Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {body}\n\n"))
}

fn output_body(execution: &Execution, line: &OutputLine) -> Value {
    json!({
        "execution_id": execution.id,
        "action_ref": execution.action,
        "runner_ref": execution.runner,
        "timestamp": views::timestamp(&Utc::now()),
        "output_type": line.stream.as_str(),
        "data": format!("{}\n", line.line),
    })
}

fn liveaction_body(execution: &Execution) -> Value {
    json!({
        "id": execution.id,
        "action": execution.action,
        "parameters": execution.parameters,
        "status": execution.status.as_str(),
        "start_timestamp": views::timestamp(&execution.start_timestamp),
        "end_timestamp": execution.end_timestamp.as_ref().map(views::timestamp),
        "result": execution.result,
        "context": execution.context,
        "callback": {},
        "runner_info": {},
    })
}

/// Output of one watched execution: new lines, as a stream.
type Lines = tokio_stream::wrappers::BroadcastStream<OutputLine>;

/// One consumer's stream: its frames go to `frames`; it ends when the consumer goes, falls
/// behind, or the end execution completes.
struct Feed {
    rest: Rest,
    subscription: Subscription,
    frames: mpsc::Sender<Result<Bytes, Infallible>>,
    /// The output of the executions watched, by id.
    lines: StreamMap<String, Lines>,
    watched: HashMap<String, Arc<Execution>>,
    /// The aliases as last seen, by ref, when the consumer asked for alias changes.
    aliases: Option<BTreeMap<String, Arc<Alias>>>,
}

fn alias_snapshot(registry: &Registry) -> BTreeMap<String, Arc<Alias>> {
    registry.aliases(None).map(|alias| (alias.ref_.clone(), alias.clone())).collect()
}

impl Feed {
    /// Sends a frame; false when the consumer is gone or too slow.
    fn send(&self, frame: Bytes) -> bool {
        self.frames.try_send(Ok(frame)).is_ok()
    }

    fn wants_output(&self) -> bool {
        self.subscription.wants(OUTPUT_EVENT)
    }

    /// Sends `execution`'s output so far and watches for the next lines; false when the
    /// consumer is gone.
    fn watch(&mut self, execution: Arc<Execution>) -> bool {
        if !self.wants_output() || self.watched.contains_key(&execution.id) {
            return true;
        }
        let Some(output) = self.rest.services.runtime.executor.output(&execution.id) else { return true };
        let (kept, receiver) = output.subscribe();
        self.watched.insert(execution.id.clone(), execution.clone());
        self.lines.insert(execution.id.clone(), Lines::new(receiver));
        kept.iter().all(|line| self.on_line(&execution, line))
    }

    /// Sends the lines `id` printed that are not sent yet (before its completion is).
    fn drain(&mut self, id: &str) -> bool {
        let Some(execution) = self.watched.remove(id) else { return true };
        let Some(mut lines) = self.lines.remove(id) else { return true };
        while let Some(Some(line)) = lines.next().now_or_never() {
            if let Ok(line) = line
                && !self.on_line(&execution, &line)
            {
                return false;
            }
        }
        true
    }

    /// The frames of one execution change; `Some(false)` ends the stream (consumer gone),
    /// `Some(true)` ends it after this change (the end execution completed).
    fn on_execution(&mut self, execution: Arc<Execution>, created: bool) -> Option<bool> {
        let verb = if created { "create" } else { "update" };
        if execution.status == st2d_core::status::ExecutionStatus::Running && !self.watch(execution.clone()) {
            return Some(false);
        }
        // Output printed before the end arrives before the end.
        if execution.status.is_completed() && !self.drain(&execution.id) {
            return Some(false);
        }
        let registry = self.rest.services.published.registry();
        let execution_event = format!("st2.execution__{verb}");
        let liveaction_event = format!("st2.liveaction__{verb}");
        let passes = self.subscription.passes(&execution.action, Some(&execution.id));
        if passes && self.subscription.wants(&execution_event) {
            let children = executions::child_ids(&self.rest.services.runtime, &execution.id);
            let body = views::execution(&registry, &execution, &children, false);
            if !self.send(frame(&execution_event, &body)) {
                return Some(false);
            }
        }
        if self.subscription.passes(&execution.action, None)
            && self.subscription.wants(&liveaction_event)
            && !self.send(frame(&liveaction_event, &liveaction_body(&execution)))
        {
            return Some(false);
        }
        let ends = !self.subscription.end_execution_id.is_empty()
            && execution.id == self.subscription.end_execution_id
            && execution_event == self.subscription.end_event
            && execution.status.is_completed();
        ends.then_some(true)
    }

    /// An announcement's frame; false when the consumer is gone. StackStorm's filters by
    /// action or execution keep no announcement (it has neither).
    fn on_announcement(&self, announcement: &Announcement) -> bool {
        let event = announcement.event();
        if !self.subscription.wants(&event)
            || !self.subscription.action_refs.is_empty()
            || !self.subscription.execution_ids.is_empty()
        {
            return true;
        }
        self.send(frame(&event, &announcement.body()))
    }

    /// The alias changes a new registry brings; false when the consumer is gone.
    fn on_registry(&mut self) -> bool {
        let Some(before) = self.aliases.take() else { return true };
        let now = alias_snapshot(&self.rest.services.published.registry());
        let created_or_updated = now.iter().filter_map(|(ref_, alias)| match before.get(ref_) {
            None => Some(("create", alias)),
            Some(old) if old != alias => Some(("update", alias)),
            Some(_) => None,
        });
        let deleted = before.iter().filter(|(ref_, _)| !now.contains_key(*ref_)).map(|(_, alias)| ("delete", alias));
        let sent = created_or_updated.chain(deleted).all(|(verb, alias)| self.on_alias(verb, alias));
        self.aliases = Some(now);
        sent
    }

    /// An alias change's frame (`ActionAliasAPI`); false when the consumer is gone.
    fn on_alias(&self, verb: &str, alias: &Alias) -> bool {
        let event = format!("st2.actionalias__{verb}");
        if !self.subscription.wants(&event)
            || !self.subscription.action_refs.is_empty()
            || !self.subscription.execution_ids.is_empty()
        {
            return true;
        }
        self.send(frame(&event, &crate::service::aliases::shape(alias)))
    }

    fn on_line(&self, execution: &Execution, line: &OutputLine) -> bool {
        if !self.subscription.passes(&execution.action, Some(&execution.id)) {
            return true;
        }
        self.send(frame(OUTPUT_EVENT, &output_body(execution, line)))
    }
}

pub async fn stream(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Response {
    let subscription = Subscription::from_params(&Params::parse(query.as_deref()));
    let (frames, frames_rx) = mpsc::channel(CONSUMER_BUFFER);
    // Subscribe before reading anything, so no change in between is missed.
    let mut updates = rest.services.runtime.executor.subscribe();
    let mut announcements = rest.services.runtime.executor.announcer().subscribe();
    let wants_aliases = ALIAS_EVENTS.iter().any(|event| subscription.wants(event));
    let mut generations = wants_aliases.then(|| rest.services.published.subscribe());
    let aliases = wants_aliases.then(|| alias_snapshot(&rest.services.published.registry()));
    let mut feed = Feed { rest, subscription, frames, lines: StreamMap::new(), watched: HashMap::new(), aliases };
    tokio::spawn(async move {
        // Output of the execution the stream ends with (and its tasks), already running.
        let end = feed.subscription.end_execution_id.clone();
        if !end.is_empty()
            && let Ok(tree) = executions::tree(&feed.rest.services.runtime, &end, executions::TREE_DEPTH)
        {
            if tree.execution.status.is_completed() {
                // Nothing more will come for it.
                let _ = feed.on_execution(Arc::new(tree.execution.clone()), false);
                return;
            }
            for execution in std::iter::once(&tree.execution).chain(tree.descendants()) {
                if !execution.status.is_completed() && !feed.watch(Arc::new(execution.clone())) {
                    return;
                }
            }
        }
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.tick().await;
        loop {
            tokio::select! {
                update = updates.recv() => match update {
                    Ok(announced) => {
                        let created = announced.created;
                        if feed.on_execution(Arc::new(announced.execution.clone()), created).is_some() {
                            return;
                        }
                    }
                    // Too slow to keep up with the executor: dropped.
                    Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
                },
                announced = announcements.recv() => match announced {
                    Ok(announcement) => {
                        if !feed.on_announcement(&announcement) {
                            return;
                        }
                    }
                    // Too slow to keep up with the announcements: dropped.
                    Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
                },
                Some((id, line)) = feed.lines.next() => {
                    let execution = feed.watched.get(&id).cloned();
                    if let (Ok(line), Some(execution)) = (line, execution)
                        && !feed.on_line(&execution, &line)
                    {
                        return;
                    }
                }
                _ = heartbeat.tick() => {
                    if !feed.send(Bytes::from_static(b":\n\n")) {
                        return;
                    }
                }
                changed = async {
                    match generations.as_mut() {
                        Some(generations) => generations.changed().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if changed.is_err() {
                        generations = None;
                    } else if !feed.on_registry() {
                        return;
                    }
                }
                () = feed.frames.closed() => return,
            }
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(frames_rx));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=UTF-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// `GET /api/v1/executions/{id}/output[?output_type=stdout|stderr]`: the output so far, as text.
pub async fn output(
    State(rest): State<Rest>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let wanted = match params.get("output_type") {
        "" | "all" => None,
        kind @ ("stdout" | "stderr") => Some(kind.to_string()),
        other => {
            return Err(Fault::bad_request(format!(
                "'{other}' is not one of ['stdout', 'stderr', 'all'] (query parameter \"output_type\")"
            )));
        }
    };
    let execution = executions::get(&rest.services.runtime, &id)?;
    let mut text = String::new();
    match rest.services.runtime.executor.output(&execution.id) {
        Some(live) => {
            let (kept, _) = live.subscribe();
            for line in kept.iter().filter(|l| wanted.as_deref().is_none_or(|w| w == l.stream.as_str())) {
                text.push_str(&line.line);
                text.push('\n');
            }
        }
        None => {
            for stream in ["stdout", "stderr"] {
                if wanted.as_deref().is_none_or(|w| w == stream)
                    && let Some(Value::String(printed)) = execution.result.as_ref().and_then(|r| r.get(stream))
                    && !printed.is_empty()
                {
                    text.push_str(printed);
                    if !printed.ends_with('\n') {
                        text.push('\n');
                    }
                }
            }
        }
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn event_filters_are_fnmatch_globs() {
        assert!(glob_match("st2.announcement__*", "st2.announcement__chatops"));
        assert!(glob_match("st2.execution__update", "st2.execution__update"));
        assert!(!glob_match("st2.execution__update", "st2.execution__create"));
        assert!(glob_match("st2.*__create", "st2.liveaction__create"));
        assert!(glob_match("*", "anything"));
        assert!(!glob_match("st2.execution.output__*", "st2.execution__update"));
    }
}
