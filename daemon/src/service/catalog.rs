//! The registry's resources as the doors offer them: actions and runner types, listed with
//! StackStorm's filters and found by ref, name or id.
//!
//! StackStorm gives every resource a database id; st2d's resources are pack files, so their id
//! is derived from their uid (`action:core:local`): 24 hex digits, stable across reloads and
//! restarts, so a client that reads an id and sends it back finds the same resource.
//!
//! Owns: resource ids and the catalogue's filters. Must not: change the registry (reloads do).

use std::sync::Arc;

use st2d_core::pack::model::Action;
use st2d_core::pack::runners::{self, Runner};

use super::ServiceError;
use crate::registry::Registry;

/// StackStorm's uid of a resource: `<kind>:<pack>:<name>`, or `<kind>:<name>` without a pack.
pub fn uid(kind: &str, pack: Option<&str>, name: &str) -> String {
    match pack {
        Some(pack) => format!("{kind}:{pack}:{name}"),
        None => format!("{kind}:{name}"),
    }
}

/// The id of the resource with `uid`: 24 hex digits (the shape of StackStorm's ids).
pub fn resource_id(uid: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, uid.as_bytes());
    digest.as_ref()[..12].iter().map(|byte| format!("{byte:02x}")).collect()
}

pub fn action_id(action: &Action) -> String {
    resource_id(&uid("action", Some(&action.pack), &action.name))
}

pub fn runner_id(runner: &Runner) -> String {
    resource_id(&uid("runner_type", None, &runner.name))
}

/// Which actions a list asks for; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct ActionFilter {
    pub pack: String,
    pub name: String,
    /// Actions carrying this tag name.
    pub tag: String,
    pub ids: Vec<String>,
}

/// Actions passing `filter`, in ref order.
pub fn actions(registry: &Registry, filter: &ActionFilter) -> Vec<Arc<Action>> {
    let pack = Some(filter.pack.as_str()).filter(|p| !p.is_empty());
    registry
        .actions(pack)
        .filter(|a| filter.name.is_empty() || a.name == filter.name)
        .filter(|a| filter.tag.is_empty() || has_tag(a, &filter.tag))
        .filter(|a| filter.ids.is_empty() || filter.ids.contains(&action_id(a)))
        .cloned()
        .collect()
}

fn has_tag(action: &Action, tag: &str) -> bool {
    action.tags.as_array().into_iter().flatten().any(|t| t.get("name").and_then(|n| n.as_str()) == Some(tag))
}

/// The action whose ref or id is `ref_or_id`.
pub fn action(registry: &Registry, ref_or_id: &str) -> Result<Arc<Action>, ServiceError> {
    let wanted = ref_or_id.trim();
    if wanted.is_empty() {
        return Err(ServiceError::invalid("ref is required"));
    }
    registry
        .action(wanted)
        .or_else(|| registry.actions(None).find(|a| action_id(a) == wanted))
        .cloned()
        .ok_or_else(|| ServiceError::not_found(format!("Resource with a reference or id \"{wanted}\" not found")))
}

/// Runner types, by name; `name` (when not empty) keeps only that one.
pub fn runners(name: &str) -> Vec<&'static Runner> {
    runners::names()
        .into_iter()
        .filter(|n| name.is_empty() || *n == name)
        .filter_map(|n| match runners::resolve(n)? {
            runners::Resolved::Current(runner) | runners::Resolved::Legacy(runner) => Some(runner),
        })
        .collect()
}

/// The runner type whose name or id is `name_or_id`.
pub fn runner(name_or_id: &str) -> Result<&'static Runner, ServiceError> {
    let wanted = name_or_id.trim();
    runners("")
        .into_iter()
        .find(|r| r.name == wanted || runner_id(r) == wanted)
        .ok_or_else(|| ServiceError::not_found(format!("Resource with a name or id \"{wanted}\" not found")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_shaped_like_stackstorms() {
        let id = resource_id("action:core:local");
        assert_eq!(id.len(), 24);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(id, resource_id("action:core:local"));
        assert_ne!(id, resource_id("action:core:remote"));
    }

    #[test]
    fn runners_are_found_by_name_or_id() {
        let local = runner("local-shell-cmd").expect("a runner");
        assert_eq!(runner(&runner_id(local)).expect("by id").name, "local-shell-cmd");
        assert!(matches!(runner("no-such-runner"), Err(ServiceError::NotFound(_))));
        assert_eq!(runners("python-script").len(), 1);
    }
}
