//! Concrete triggers: a trigger type plus the parameters a rule gives it (ST2-COMPAT.md 4.1).
//! Rules with identical type and parameters share one trigger, whose ref is stable across
//! reloads and restarts (StackStorm names them with random uuids; a stable name lets live reload
//! converge).
//!
//! Owns: trigger identity. Must not: decide which rules are active (the registry does).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::registry::Registry;
use st2d_core::pack::model::{Rule, TriggerType};

/// A trigger type with parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    /// `<type pack>.<16 hex digits>`, or the type ref itself when there are no parameters.
    pub ref_: String,
    pub type_ref: String,
    pub parameters: Map<String, Value>,
}

/// The trigger a rule listens to.
pub fn of_rule(rule: &Rule) -> Trigger {
    let type_ref = rule.trigger_type.clone();
    if rule.trigger_parameters.is_empty() {
        return Trigger { ref_: type_ref.clone(), type_ref, parameters: Map::new() };
    }
    let pack = type_ref.split('.').next().unwrap_or_default();
    let digest = fnv1a(canonical(&Value::Object(rule.trigger_parameters.clone())).as_bytes());
    Trigger { ref_: format!("{pack}.{digest:016x}"), type_ref, parameters: rule.trigger_parameters.clone() }
}

/// The trigger type of webhooks.
pub const WEBHOOK_TYPE: &str = "core.st2.webhook";

/// The distinct triggers of the registry's active rules (registered and enabled) whose type is
/// one of `types`, in ref order.
pub fn active_of_types(registry: &Registry, types: &[&str]) -> Vec<Trigger> {
    let mut found = BTreeMap::new();
    for rule in registry.active_rules().filter(|r| types.contains(&r.trigger_type.as_str())) {
        let trigger = of_rule(rule);
        found.entry(trigger.ref_.clone()).or_insert(trigger);
    }
    found.into_values().collect()
}

/// Every trigger there is: the parameterless ("shadow") trigger of each type without
/// parameters, and the trigger of each active rule, in ref order.
pub fn all(registry: &Registry) -> Vec<Trigger> {
    let mut found = BTreeMap::new();
    for trigger_type in registry.trigger_types(None).filter(|t| without_parameters(t)) {
        let ref_ = trigger_type.ref_.clone();
        found.insert(ref_.clone(), Trigger { ref_: ref_.clone(), type_ref: ref_, parameters: Map::new() });
    }
    for rule in registry.active_rules() {
        let trigger = of_rule(rule);
        found.entry(trigger.ref_.clone()).or_insert(trigger);
    }
    found.into_values().collect()
}

fn without_parameters(trigger_type: &TriggerType) -> bool {
    trigger_type.parameters_schema.get("properties").and_then(Value::as_object).is_none_or(|p| p.is_empty())
}

impl Trigger {
    /// `(pack, name)` of the trigger's ref.
    pub fn pack_and_name(&self) -> (&str, &str) {
        self.ref_.split_once('.').unwrap_or(("", &self.ref_))
    }

    /// StackStorm's uid of a trigger: `trigger:<pack>:<name>:<digest of the parameters>`.
    pub fn uid(&self) -> String {
        let (pack, name) = self.pack_and_name();
        let digest = fnv1a(canonical(&Value::Object(self.parameters.clone())).as_bytes());
        format!("trigger:{pack}:{name}:{digest:016x}")
    }

    /// The dict StackStorm hands to a sensor's `add_trigger` (ST2-COMPAT.md 3.2).
    pub fn sensor_dict(&self) -> Value {
        let (pack, name) = self.pack_and_name();
        serde_json::json!({
            "id": self.ref_,
            "name": name,
            "pack": pack,
            "type": self.type_ref,
            "parameters": self.parameters,
            "ref": self.ref_,
            "uid": self.uid(),
        })
    }
}

/// The triggers a sensor that declares `types` hears of: the parameterless ("shadow") trigger of
/// each type without parameters, and every active trigger with parameters of those types.
pub fn for_sensor(registry: &Registry, types: &[String]) -> Vec<Value> {
    let type_refs: Vec<&str> = types.iter().map(String::as_str).collect();
    let mut dicts: Vec<Value> = types
        .iter()
        .filter_map(|t| registry.trigger_type(t))
        .filter(|t| without_parameters(t))
        .map(|t| Trigger { ref_: t.ref_.clone(), type_ref: t.ref_.clone(), parameters: Map::new() }.sensor_dict())
        .collect();
    dicts.extend(
        active_of_types(registry, &type_refs).into_iter().filter(|t| !t.parameters.is_empty()).map(|t| t.sensor_dict()),
    );
    dicts
}

/// The active trigger with this ref, if a registered and enabled rule uses it.
pub fn find(registry: &Registry, ref_: &str) -> Option<Trigger> {
    registry.active_rules().map(|rule| of_rule(rule)).find(|trigger| trigger.ref_ == ref_)
}

/// JSON with object keys sorted, so equal documents hash equally.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, String> = map.iter().map(|(k, v)| (k, canonical(v))).collect();
            let fields: Vec<String> =
                sorted.iter().map(|(k, v)| format!("{}:{v}", Value::String((*k).clone()))).collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use st2d_core::pack::model::RuleType;

    fn rule(parameters: Value) -> Rule {
        Rule {
            ref_: "demo.r".into(),
            pack: "demo".into(),
            name: "r".into(),
            description: String::new(),
            enabled: true,
            trigger_type: "core.st2.IntervalTimer".into(),
            trigger_parameters: parameters.as_object().cloned().unwrap_or_default(),
            criteria: Map::new(),
            action_ref: "core.noop".into(),
            action_parameters: Map::new(),
            rule_type: RuleType::Standard,
            tags: Value::Null,
            context: Value::Null,
            metadata_file: "rules/r.yaml".into(),
        }
    }

    #[test]
    fn equal_parameters_share_a_trigger_whatever_their_order() {
        let a = of_rule(&rule(json!({"unit": "seconds", "delta": 5})));
        let b = of_rule(&rule(json!({"delta": 5, "unit": "seconds"})));
        let c = of_rule(&rule(json!({"delta": 6, "unit": "seconds"})));
        assert_eq!(a.ref_, b.ref_);
        assert_ne!(a.ref_, c.ref_);
        assert!(a.ref_.starts_with("core.") && a.ref_.len() == "core.".len() + 16, "{}", a.ref_);
        assert_eq!(of_rule(&rule(json!({}))).ref_, "core.st2.IntervalTimer", "no parameters: the type itself");
    }
}
