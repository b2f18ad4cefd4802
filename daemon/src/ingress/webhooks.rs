//! Webhooks with StackStorm's semantics (ST2-COMPAT.md 4.2): `POST /api/v1/webhooks/<url>`
//! dispatches `core.st2.webhook` with `{headers, headers_lower, body}` to each trigger that an
//! active rule binds to that url, and answers 202 with the body echoed once every instance is
//! journaled; `/api/v1/webhooks/st2` takes `{trigger, payload}`. Hooks come and go with rules.
//!
//! Owns: the hook map (rebuilt when a new registry is published) and the two handlers. Must
//! not: write the store (the journal does).

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

use crate::metrics::{METRICS, Metrics};
use crate::registry::Registry;
use crate::reload::Published;
use crate::trigger::journal::{Journal, JournalError};
use crate::trigger::triggers::{WEBHOOK_TYPE, active_of_types};

/// Headers left out of the payload, as StackStorm leaves them out.
const HIDDEN_HEADERS: &[&str] = &["x-auth-token", "st2-api-key", "cookie", "authorization"];

/// url (without leading and trailing `/`) → the triggers bound to it, for one registry generation.
struct HookMap {
    generation: u64,
    hooks: HashMap<String, Vec<String>>,
    /// The payload schema of `core.st2.webhook` in that generation.
    payload_schema: Value,
}

/// What the handlers share.
pub struct Webhooks {
    published: Published,
    journal: Journal,
    map: ArcSwap<HookMap>,
}

/// An HTTP answer other than the 202: status and JSON body.
pub type Answer = (StatusCode, Value);

pub fn fault(status: StatusCode, message: impl Into<String>) -> Answer {
    (status, json!({"faultstring": message.into()}))
}

impl Webhooks {
    pub fn new(published: Published, journal: Journal) -> Arc<Self> {
        let map =
            ArcSwap::from_pointee(HookMap { generation: u64::MAX, hooks: HashMap::new(), payload_schema: Value::Null });
        Arc::new(Self { published, journal, map })
    }

    /// The hook map of the current registry, rebuilt when a new one was published.
    fn hooks(&self, registry: &Registry) -> Arc<HookMap> {
        let current = self.map.load_full();
        if current.generation == registry.generation {
            return current;
        }
        let mut hooks: HashMap<String, Vec<String>> = HashMap::new();
        for trigger in active_of_types(registry, &[WEBHOOK_TYPE]) {
            if let Some(url) = trigger.parameters.get("url").and_then(Value::as_str) {
                hooks.entry(url.trim_matches('/').to_string()).or_default().push(trigger.ref_.clone());
            }
        }
        let payload_schema =
            registry.trigger_type(WEBHOOK_TYPE).map(|t| t.payload_schema.clone()).unwrap_or(Value::Null);
        let fresh = Arc::new(HookMap { generation: registry.generation, hooks, payload_schema });
        self.map.store(fresh.clone());
        fresh
    }

    /// The urls with a hook, sorted, each with its triggers.
    pub fn list(&self) -> Vec<(String, Vec<String>)> {
        let registry = self.published.registry();
        let mut hooks: Vec<(String, Vec<String>)> =
            self.hooks(&registry).hooks.iter().map(|(u, t)| (u.clone(), t.clone())).collect();
        hooks.sort();
        hooks
    }

    /// Handles `POST /api/v1/webhooks/<hook>` with a parsed JSON `body`; `Ok` once every
    /// instance is journaled (the caller answers 202 with the body echoed).
    pub async fn post(&self, hook: &str, headers: &HeaderMap, body: Value) -> Result<(), Answer> {
        let hook = hook.trim_matches('/');
        let trace_tag = headers
            .get("st2-trace-tag")
            .and_then(|v| v.to_str().ok())
            .map(String::from)
            .unwrap_or_else(|| format!("webhook-{hook}-{}", st2d_core::random::unique_name()));
        let registry = self.published.registry();
        if hook == "st2" {
            return self.generic(&registry, body, trace_tag).await;
        }
        let map = self.hooks(&registry);
        let Some(triggers) = map.hooks.get(hook) else {
            return Err(fault(StatusCode::NOT_FOUND, format!("Webhook {hook} not registered with st2")));
        };
        let (shown, lower) = header_maps(headers);
        let mut payload = Map::with_capacity(3);
        payload.insert("headers".to_string(), Value::Object(shown));
        payload.insert("headers_lower".to_string(), Value::Object(lower));
        payload.insert("body".to_string(), body);
        let mut payload = Value::Object(payload);
        // Every trigger of a url has the one type, so the payload is checked once.
        if let Err(error) = crate::trigger::payload::validate(&mut payload, &map.payload_schema) {
            Metrics::add(&METRICS.trigger_instances_invalid, 1);
            return Err(fault(StatusCode::BAD_REQUEST, format!("the webhook payload is not valid: {error}")));
        }
        let mut dispatches = Vec::with_capacity(triggers.len());
        for trigger in &triggers[1..] {
            dispatches.push((trigger.clone(), payload.clone()));
        }
        dispatches.push((triggers[0].clone(), payload));
        self.journal_all(dispatches, &trace_tag).await
    }

    /// The generic hook: `{trigger, payload}`.
    async fn generic(&self, registry: &Registry, body: Value, trace_tag: String) -> Result<(), Answer> {
        let Value::Object(mut object) = body else {
            return Err(fault(StatusCode::BAD_REQUEST, "the body of the st2 webhook must be a JSON object"));
        };
        let Some(trigger) = object.get("trigger").and_then(Value::as_str).filter(|t| !t.is_empty()).map(String::from)
        else {
            return Err(fault(StatusCode::BAD_REQUEST, "Trigger not specified."));
        };
        let mut payload = match object.remove("payload") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(payload @ Value::Object(_)) => payload,
            Some(_) => return Err(fault(StatusCode::BAD_REQUEST, "\"payload\" must be a JSON object")),
        };
        if let Err(error) = crate::trigger::validate_dispatch(registry, &trigger, &mut payload) {
            return Err(fault(StatusCode::BAD_REQUEST, error.to_string()));
        }
        self.journal_all(vec![(trigger, payload)], &trace_tag).await
    }

    /// Journals every dispatch and waits until each is on disk; a 503 when one is not.
    async fn journal_all(&self, dispatches: Vec<(String, Value)>, trace_tag: &str) -> Result<(), Answer> {
        let mut waits = Vec::with_capacity(dispatches.len());
        for (trigger, payload) in dispatches {
            let (done, written) = oneshot::channel();
            let reply = Box::new(move |result: Result<String, JournalError>| {
                let _ = done.send(result);
            });
            let source = Some("webhook".to_string());
            self.journal.append(trigger, payload, source, Some(trace_tag.to_string()), reply).await;
            waits.push(written);
        }
        for written in waits {
            written
                .await
                .unwrap_or(Err(JournalError::Stopped))
                .map_err(|error| fault(StatusCode::SERVICE_UNAVAILABLE, error.to_string()))?;
        }
        Ok(())
    }
}

/// The request headers as WSGI names them (`Content-Type`), and lower-cased, without the
/// credentials; repeated headers are joined with ", ".
fn header_maps(headers: &HeaderMap) -> (Map<String, Value>, Map<String, Value>) {
    let mut lower: Map<String, Value> = Map::new();
    for (name, value) in headers {
        if HIDDEN_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match lower.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                lower.insert(name.as_str().to_string(), Value::String(value));
            }
        }
    }
    let shown = lower.iter().map(|(name, value)| (title_case(name), value.clone())).collect();
    (shown, lower)
}

fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_shown_as_wsgi_names_them_without_credentials() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().expect("header"));
        headers.insert("st2-api-key", "secret".parse().expect("header"));
        headers.insert("x-github-event", "push".parse().expect("header"));
        headers.append("x-multi", "a".parse().expect("header"));
        headers.append("x-multi", "b".parse().expect("header"));
        let (shown, lower) = header_maps(&headers);
        assert_eq!(
            Value::Object(shown),
            json!({"Content-Type": "application/json", "X-Github-Event": "push", "X-Multi": "a, b"})
        );
        assert_eq!(lower["x-github-event"], "push");
        assert!(!lower.contains_key("st2-api-key"));
    }
}
