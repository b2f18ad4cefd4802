//! Announcements (StackStorm's `st2.announcement` exchange): messages published on a route,
//! which the REST stream carries to its consumers as `st2.announcement__<route>` events (a
//! ChatOps bot listens on `st2.announcement__chatops`). The `announcement` runner and the
//! ChatOps result of an alias execution publish here.
//!
//! Owns: the broadcast and the shape of one announcement. Must not: wait for a consumer (a
//! consumer that falls behind misses announcements; nobody listening drops them) or decide
//! what is announced.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

/// Announcements a slow consumer may fall behind by before it misses some.
const BUFFERED: usize = 1024;

/// One announcement: its route and what StackStorm's `AnnouncementDispatcher` sends.
#[derive(Debug, Clone, PartialEq)]
pub struct Announcement {
    pub route: String,
    pub payload: Value,
    pub trace_context: Value,
}

impl Announcement {
    /// The stream's event name, `st2.announcement__<route>`.
    pub fn event(&self) -> String {
        format!("st2.announcement__{}", self.route)
    }

    /// The event's body, `{"payload": ..., "trace_context": ...}`.
    pub fn body(&self) -> Value {
        json!({"payload": self.payload, "trace_context": self.trace_context})
    }
}

/// A cheap handle that publishes announcements and subscribes to them.
#[derive(Clone)]
pub struct Announcer {
    sender: broadcast::Sender<Arc<Announcement>>,
}

impl Default for Announcer {
    fn default() -> Self {
        Self { sender: broadcast::channel(BUFFERED).0 }
    }
}

impl Announcer {
    /// Publishes to whoever listens now; with nobody listening the announcement is dropped.
    pub fn publish(&self, announcement: Announcement) {
        tracing::debug!(route = %announcement.route, "announcement");
        let _ = self.sender.send(Arc::new(announcement));
    }

    /// Every announcement from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Announcement>> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_get_what_is_published_after_they_subscribe() {
        let announcer = Announcer::default();
        announcer.publish(Announcement { route: "chatops".into(), payload: json!({}), trace_context: Value::Null });
        let mut receiver = announcer.subscribe();
        let sent =
            Announcement { route: "chatops".into(), payload: json!({"message": "hi"}), trace_context: Value::Null };
        announcer.publish(sent.clone());
        let got = receiver.recv().await.expect("an announcement");
        assert_eq!(*got, sent);
        assert_eq!(got.event(), "st2.announcement__chatops");
        assert_eq!(got.body(), json!({"payload": {"message": "hi"}, "trace_context": null}));
    }
}
