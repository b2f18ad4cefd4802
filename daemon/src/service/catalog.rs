//! The registry's resources as the doors offer them: packs, actions, runner types, trigger types,
//! triggers, rules, sensors, policies and policy types, listed with StackStorm's filters and
//! found by ref, name or id.
//!
//! StackStorm gives every resource a database id; st2d's resources are pack files, so their id
//! is derived from their uid (`action:core:local`): 24 hex digits, stable across reloads and
//! restarts, so a client that reads an id and sends it back finds the same resource.
//!
//! Owns: resource ids and the catalogue's filters. Must not: change the registry (reloads do).

use std::sync::Arc;

use st2d_core::pack::model::{Action, Policy, Rule, Sensor, TriggerType};
use st2d_core::pack::runners::{self, Runner};

use super::ServiceError;
use crate::policy::types::PolicyType;
use crate::registry::{PackEntry, Registry};
use crate::trigger::triggers::{self, Trigger};

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
    rule_id_of(&rule.ref_)
}

/// The id of the rule `pack.name`, whether or not it still exists (enforcements outlive rules).
pub fn rule_id_of(ref_: &str) -> String {
    let (pack, name) = ref_.split_once('.').unwrap_or(("", ref_));
    resource_id(&uid("rule", Some(pack), name))
}

pub fn sensor_id(sensor: &Sensor) -> String {
    resource_id(&uid("sensor_type", Some(&sensor.pack), &sensor.class_name))
}

pub fn trigger_id(trigger: &Trigger) -> String {
    resource_id(&trigger.uid())
}

pub fn policy_id(policy: &Policy) -> String {
    resource_id(&uid("policy", Some(&policy.pack), &policy.name))
}

pub fn policy_type_id(policy_type: &PolicyType) -> String {
    resource_id(&uid("policy_type", Some(policy_type.resource_type), policy_type.name))
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

/// Every trigger (the parameterless trigger of each type without parameters, and the trigger
/// of each active rule), in ref order.
pub fn triggers(registry: &Registry) -> Vec<Trigger> {
    triggers::all(registry)
}

/// A webhook url with its trigger and the active rules bound to it.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Without leading and trailing `/`.
    pub url: String,
    pub trigger: Trigger,
    pub rules: Vec<String>,
}

/// The webhooks the active rules bind (of rules in `pack` only, when given), by url.
pub fn webhooks(registry: &Registry, pack: Option<&str>) -> Vec<Webhook> {
    let mut found: Vec<Webhook> = triggers::active_of_types(registry, &[triggers::WEBHOOK_TYPE])
        .into_iter()
        .filter_map(|trigger| {
            let url = trigger.parameters.get("url")?.as_str()?.trim_matches('/').to_string();
            let rules: Vec<String> = registry
                .active_rules()
                .filter(|rule| triggers::of_rule(rule).ref_ == trigger.ref_)
                .filter(|rule| pack.is_none_or(|pack| rule.pack == pack))
                .map(|rule| rule.ref_.clone())
                .collect();
            (!rules.is_empty()).then_some(Webhook { url, trigger, rules })
        })
        .collect();
    found.sort_by(|a, b| (&a.url, &a.trigger.ref_).cmp(&(&b.url, &b.trigger.ref_)));
    found
}

/// The first webhook trigger of `url` (StackStorm's `GET /webhooks/{url}` shows the first).
pub fn webhook(registry: &Registry, url: &str) -> Result<Webhook, ServiceError> {
    let wanted = url.trim().trim_matches('/');
    webhooks(registry, None)
        .into_iter()
        .find(|hook| hook.url == wanted)
        .ok_or_else(|| ServiceError::not_found(format!("Webhook \"{wanted}\" is not registered by any active rule")))
}

/// The trigger whose ref or id is `ref_or_id`.
pub fn trigger(registry: &Registry, ref_or_id: &str) -> Result<Trigger, ServiceError> {
    let wanted = required(ref_or_id)?;
    triggers::all(registry)
        .into_iter()
        .find(|t| t.ref_ == wanted || trigger_id(t) == wanted)
        .ok_or_else(|| not_found(wanted))
}

/// Which sensors a list asks for; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct SensorFilter {
    pub pack: String,
    /// The sensor's name (its class name).
    pub name: String,
    /// Sensors that declare this trigger type.
    pub trigger_type: String,
    /// Enabled (or not) as `is_enabled` says (its toggle, else its file).
    pub enabled: Option<bool>,
}

/// Sensors passing `filter`, in ref order.
pub fn sensors(registry: &Registry, filter: &SensorFilter, is_enabled: impl Fn(&Sensor) -> bool) -> Vec<Arc<Sensor>> {
    registry
        .sensors(Some(filter.pack.as_str()).filter(|p| !p.is_empty()))
        .filter(|s| filter.name.is_empty() || s.class_name == filter.name)
        .filter(|s| filter.trigger_type.is_empty() || s.trigger_types.contains(&filter.trigger_type))
        .filter(|s| filter.enabled.is_none_or(|wanted| is_enabled(s) == wanted))
        .cloned()
        .collect()
}

/// The sensor whose ref or id is `ref_or_id`.
pub fn sensor(registry: &Registry, ref_or_id: &str) -> Result<Arc<Sensor>, ServiceError> {
    let wanted = required(ref_or_id)?;
    registry
        .sensor(wanted)
        .or_else(|| registry.sensors(None).find(|s| sensor_id(s) == wanted))
        .cloned()
        .ok_or_else(|| not_found(wanted))
}

/// Which policies a list asks for; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct PolicyFilter {
    pub pack: String,
    pub resource_ref: String,
    pub policy_type: String,
}

/// Policies passing `filter`, in pack and file order.
pub fn policies(registry: &Registry, filter: &PolicyFilter) -> Vec<Arc<Policy>> {
    registry
        .policies(Some(filter.pack.as_str()).filter(|p| !p.is_empty()))
        .filter(|p| filter.resource_ref.is_empty() || p.resource_ref == filter.resource_ref)
        .filter(|p| filter.policy_type.is_empty() || p.policy_type == filter.policy_type)
        .cloned()
        .collect()
}

/// The policy whose ref or id is `ref_or_id`.
pub fn policy(registry: &Registry, ref_or_id: &str) -> Result<Arc<Policy>, ServiceError> {
    let wanted = required(ref_or_id)?;
    registry
        .policies(None)
        .find(|p| p.ref_ == wanted || policy_id(p) == wanted)
        .cloned()
        .ok_or_else(|| not_found(wanted))
}

/// The policy types st2d enforces; `resource_type` (when not empty) keeps those of it.
pub fn policy_types(resource_type: &str) -> Vec<PolicyType> {
    crate::policy::types::all()
        .into_iter()
        .filter(|t| resource_type.is_empty() || t.resource_type == resource_type)
        .collect()
}

/// The policy type whose ref or id is `ref_or_id`.
pub fn policy_type(ref_or_id: &str) -> Result<PolicyType, ServiceError> {
    let wanted = required(ref_or_id)?;
    policy_types("")
        .into_iter()
        .find(|t| t.ref_ == wanted || policy_type_id(t) == wanted)
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
