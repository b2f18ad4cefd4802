//! The catalogue of policy types st2d enforces, as StackStorm describes them
//! (st2common/st2common/policies/meta/*.yaml): name, resource type, module, description and
//! parameter schema, for the doors that list policy types.
//!
//! Owns: that catalogue. Must not: decide anything about a policy (the rest of `policy` does)
//! or list a type st2d does not enforce.

use serde_json::{Value, json};

use super::{CONCURRENCY, CONCURRENCY_BY_ATTRIBUTE, RETRY};

/// One policy type.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyType {
    /// `<resource_type>.<name>` (`action.retry`).
    pub ref_: &'static str,
    pub resource_type: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// StackStorm's Python module for it (shown as StackStorm shows it).
    pub module: &'static str,
    pub parameters: Value,
}

fn on_threshold() -> Value {
    json!({
        "description": "Which action to perform on the execution once the concurrency threshold has been reached.",
        "type": "string",
        "default": "delay",
        "enum": ["delay", "cancel"],
    })
}

fn threshold() -> Value {
    json!({"description": "Concurrency threshold.", "type": "integer", "required": true})
}

/// Every policy type st2d enforces, in ref order.
pub fn all() -> Vec<PolicyType> {
    vec![
        PolicyType {
            ref_: CONCURRENCY,
            resource_type: "action",
            name: "concurrency",
            description: "Limits the concurrent executions for the action.",
            module: "st2actions.policies.concurrency",
            parameters: json!({"threshold": threshold(), "action": on_threshold()}),
        },
        PolicyType {
            ref_: CONCURRENCY_BY_ATTRIBUTE,
            resource_type: "action",
            name: "concurrency.attr",
            description: "Limits the concurrent executions for the action by attribute(s).",
            module: "st2actions.policies.concurrency_by_attr",
            parameters: json!({
                "threshold": threshold(),
                "action": on_threshold(),
                "attributes": {
                    "description": "List of attributes by which to limit the concurrency.",
                    "type": "array",
                    "uniqueItems": true,
                    "items": {"type": "string", "minLength": 1},
                },
            }),
        },
        PolicyType {
            ref_: RETRY,
            resource_type: "action",
            name: "retry",
            description: "Retry (re-run) failed or timed out action.",
            module: "st2actions.policies.retry",
            parameters: json!({
                "retry_on": {
                    "type": "string",
                    "description": "Condition to retry on.",
                    "required": true,
                    "enum": ["failure", "timeout"],
                },
                "max_retry_count": {
                    "type": "integer",
                    "description": "Maximum number of times to retry before giving up.",
                    "required": true,
                    "minimum": 1,
                    "maximum": 5,
                    "default": 2,
                },
                "delay": {
                    "type": "number",
                    "description": "Number of seconds to wait before retrying the execution.",
                    "required": false,
                    "minimum": 0,
                    "maximum": 120,
                },
            }),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_enforced_type_is_listed_once_with_its_ref() {
        let types = all();
        let refs: Vec<&str> = types.iter().map(|t| t.ref_).collect();
        assert_eq!(refs, st2d_core::pack::model::ENFORCED_POLICY_TYPES);
        for policy_type in &types {
            assert_eq!(policy_type.ref_, format!("{}.{}", policy_type.resource_type, policy_type.name));
        }
    }
}
