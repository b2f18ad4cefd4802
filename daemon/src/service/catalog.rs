//! The registry's resources as the doors offer them: packs, actions, runner types, trigger types
//! and rules, listed with StackStorm's filters and found by ref, name or id.
//!
//! StackStorm gives every resource a database id; st2d's resources are pack files, so their id
//! is derived from their uid (`action:core:local`): 24 hex digits, stable across reloads and
//! restarts, so a client that reads an id and sends it back finds the same resource.
//!
//! Owns: resource ids and the catalogue's filters. Must not: change the registry (reloads do).

use std::sync::Arc;

use st2d_core::pack::model::{Action, Rule, TriggerType};
use st2d_core::pack::runners::{self, Runner};

use super::ServiceError;
use crate::registry::{PackEntry, Registry};

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

pub fn pack_id(pack: &PackEntry) -> String {
    resource_id(&uid("pack", None, &pack.ref_))
}

pub fn trigger_type_id(trigger_type: &TriggerType) -> String {
    resource_id(&uid("trigger_type", Some(&trigger_type.pack), &trigger_type.name))
}

pub fn rule_id(rule: &Rule) -> String {
    resource_id(&uid("rule", Some(&rule.pack), &rule.name))
}

fn not_found(wanted: &str) -> ServiceError {
    ServiceError::not_found(format!("Resource with a reference or id \"{wanted}\" not found"))
}

fn required(ref_or_id: &str) -> Result<&str, ServiceError> {
    let wanted = ref_or_id.trim();
    if wanted.is_empty() { Err(ServiceError::invalid("ref is required")) } else { Ok(wanted) }
}

/// Packs, in ref order; `name` (when not empty) keeps the pack with that ref or name.
pub fn packs<'a>(registry: &'a Registry, name: &'a str) -> Vec<&'a PackEntry> {
    registry
        .packs()
        .filter(|p| name.is_empty() || p.ref_ == name || p.content.as_ref().is_some_and(|c| c.meta.name == name))
        .collect()
}

/// The pack whose ref or id is `ref_or_id`.
pub fn pack<'a>(registry: &'a Registry, ref_or_id: &str) -> Result<&'a PackEntry, ServiceError> {
    let wanted = required(ref_or_id)?;
    registry.pack(wanted).or_else(|| registry.packs().find(|p| pack_id(p) == wanted)).ok_or_else(|| not_found(wanted))
}

/// Trigger types of `pack` (all when empty), in ref order.
pub fn trigger_types(registry: &Registry, pack: &str) -> Vec<Arc<TriggerType>> {
    registry.trigger_types(Some(pack).filter(|p| !p.is_empty())).cloned().collect()
}

pub fn trigger_type(registry: &Registry, ref_or_id: &str) -> Result<Arc<TriggerType>, ServiceError> {
    let wanted = required(ref_or_id)?;
    registry
        .trigger_type(wanted)
        .or_else(|| registry.trigger_types(None).find(|t| trigger_type_id(t) == wanted))
        .cloned()
        .ok_or_else(|| not_found(wanted))
}

/// Which rules a list asks for; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct RuleFilter {
    pub pack: String,
    pub name: String,
    pub action: String,
    pub trigger_type: String,
    pub enabled: Option<bool>,
}

pub fn rules(registry: &Registry, filter: &RuleFilter) -> Vec<Arc<Rule>> {
    registry
        .rules(Some(filter.pack.as_str()).filter(|p| !p.is_empty()))
        .filter(|r| filter.name.is_empty() || r.name == filter.name)
        .filter(|r| filter.action.is_empty() || r.action_ref == filter.action)
        .filter(|r| filter.trigger_type.is_empty() || r.trigger_type == filter.trigger_type)
        .filter(|r| filter.enabled.is_none_or(|enabled| registry.rule_enabled(r) == enabled))
        .cloned()
        .collect()
}

pub fn rule(registry: &Registry, ref_or_id: &str) -> Result<Arc<Rule>, ServiceError> {
    let wanted = required(ref_or_id)?;
    registry
        .rule(wanted)
        .or_else(|| registry.rules(None).find(|r| rule_id(r) == wanted))
        .cloned()
        .ok_or_else(|| not_found(wanted))
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
    let wanted = required(ref_or_id)?;
    registry
        .action(wanted)
        .or_else(|| registry.actions(None).find(|a| action_id(a) == wanted))
        .cloned()
        .ok_or_else(|| not_found(wanted))
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
