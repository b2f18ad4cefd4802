//! Action policies (`policies/*.yaml`): StackStorm's `action.concurrency`,
//! `action.concurrency.attr` and `action.retry`, read from the published registry at each
//! decision, so a changed policy file governs the next decision without a restart.
//!
//! Owns: which policies govern an action (enabled, of a pack that registers policies, in
//! registry order), their parameters with StackStorm's defaults and limits
//! (`st2common/st2common/policies/meta/*.yaml`), and the decisions as pure functions
//! (`concurrency`: admit, delay or cancel; `retry`: the next attempt or none). Must not: keep
//! state, touch the store, or change an execution (the executor applies the decisions,
//! `executor::policies`).

pub mod concurrency;
pub mod retry;
pub mod types;

use serde_json::{Map, Value};
use st2d_core::pack::model::{ContentKind, Policy};

use crate::registry::Registry;
pub use concurrency::Concurrency;
pub use retry::Retry;

/// `policy_type` of a concurrency limit per action.
pub const CONCURRENCY: &str = "action.concurrency";
/// `policy_type` of a concurrency limit per action and attribute values.
pub const CONCURRENCY_BY_ATTRIBUTE: &str = "action.concurrency.attr";
/// `policy_type` of retries on failure or timeout.
pub const RETRY: &str = "action.retry";

/// Why a policy's parameters are refused (StackStorm's registration refuses them against the
/// policy type's parameter schema); such a policy is not applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy {policy}: parameter \"{parameter}\" is required")]
    Missing { policy: String, parameter: &'static str },
    #[error("policy {policy}: parameter \"{parameter}\" must be {expected}, not {found}")]
    Invalid { policy: String, parameter: &'static str, expected: &'static str, found: String },
}

/// The enabled policies of `action` of packs that register policies, in registry order.
pub fn of_action<'r>(registry: &'r Registry, action: &'r str) -> impl Iterator<Item = &'r Policy> + 'r {
    registry
        .policies(None)
        .filter(move |policy| policy.enabled && policy.resource_ref == action)
        .filter(|policy| registry.pack(&policy.pack).is_some_and(|pack| pack.registers(ContentKind::Policies)))
        .map(|policy| policy.as_ref())
}

/// The concurrency policies (`action.concurrency`, `action.concurrency.attr`) that govern
/// `action` now; one whose parameters are refused is skipped, with a warning.
pub fn concurrency_of(registry: &Registry, action: &str) -> Vec<Concurrency> {
    of_action(registry, action)
        .filter(|policy| policy.policy_type == CONCURRENCY || policy.policy_type == CONCURRENCY_BY_ATTRIBUTE)
        .filter_map(|policy| usable(Concurrency::parse(policy)))
        .collect()
}

/// The retry policies (`action.retry`) that govern `action` now; one whose parameters are
/// refused is skipped, with a warning.
pub fn retries_of(registry: &Registry, action: &str) -> Vec<Retry> {
    of_action(registry, action)
        .filter(|policy| policy.policy_type == RETRY)
        .filter_map(|policy| usable(Retry::parse(policy)))
        .collect()
}

fn usable<T>(parsed: Result<T, PolicyError>) -> Option<T> {
    parsed.map_err(|error| tracing::warn!(error = %error, "policy not applied")).ok()
}

/// Reads a policy's `parameters` with the names of the errors it reports.
struct Parameters<'a> {
    policy: &'a Policy,
    values: Option<&'a Map<String, Value>>,
}

impl<'a> Parameters<'a> {
    fn of(policy: &'a Policy) -> Self {
        Self { policy, values: policy.parameters.as_object() }
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.values.and_then(|values| values.get(name)).filter(|value| !value.is_null())
    }

    fn invalid(&self, parameter: &'static str, expected: &'static str, found: &Value) -> PolicyError {
        PolicyError::Invalid { policy: self.policy.ref_.clone(), parameter, expected, found: found.to_string() }
    }

    fn required<T>(&self, parameter: &'static str, read: Option<T>) -> Result<T, PolicyError> {
        read.ok_or_else(|| PolicyError::Missing { policy: self.policy.ref_.clone(), parameter })
    }

    /// A JSON-schema `integer` (a float is not one, as in Python's jsonschema).
    fn integer(&self, parameter: &'static str) -> Result<Option<i64>, PolicyError> {
        self.get(parameter)
            .map(|value| value.as_i64().ok_or_else(|| self.invalid(parameter, "an integer", value)))
            .transpose()
    }

    /// A JSON-schema `number` within `min..=max`.
    fn number(
        &self,
        parameter: &'static str,
        min: f64,
        max: f64,
        expected: &'static str,
    ) -> Result<Option<f64>, PolicyError> {
        self.get(parameter)
            .map(|value| {
                value
                    .as_f64()
                    .filter(|n| (min..=max).contains(n))
                    .ok_or_else(|| self.invalid(parameter, expected, value))
            })
            .transpose()
    }

    /// A string of `allowed`.
    fn choice(
        &self,
        parameter: &'static str,
        allowed: &[&'static str],
        expected: &'static str,
    ) -> Result<Option<&'static str>, PolicyError> {
        self.get(parameter)
            .map(|value| {
                value
                    .as_str()
                    .and_then(|text| allowed.iter().copied().find(|choice| *choice == text))
                    .ok_or_else(|| self.invalid(parameter, expected, value))
            })
            .transpose()
    }

    /// An array of distinct non-empty strings.
    fn names(&self, parameter: &'static str) -> Result<Option<Vec<String>>, PolicyError> {
        let Some(value) = self.get(parameter) else { return Ok(None) };
        let expected = "a list of distinct non-empty strings";
        let names: Option<Vec<String>> = value.as_array().and_then(|items| {
            items.iter().map(|item| item.as_str().filter(|s| !s.is_empty()).map(String::from)).collect()
        });
        match names {
            Some(names) if names.iter().enumerate().all(|(i, name)| !names[..i].contains(name)) => Ok(Some(names)),
            _ => Err(self.invalid(parameter, expected, value)),
        }
    }
}

#[cfg(test)]
pub(crate) fn policy(ref_: &str, policy_type: &str, parameters: Value) -> Policy {
    let (pack, name) = ref_.split_once('.').unwrap_or(("demo", ref_));
    Policy {
        ref_: ref_.to_string(),
        pack: pack.to_string(),
        name: name.to_string(),
        description: String::new(),
        enabled: true,
        resource_ref: "demo.act".to_string(),
        policy_type: policy_type.to_string(),
        parameters,
        metadata_file: format!("policies/{name}.yaml"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::testkit::Kit;

    #[tokio::test]
    async fn an_action_is_governed_by_its_enabled_policies_with_valid_parameters() {
        let limit = |name: &str, extra: &str| {
            format!("---\nname: {name}\nresource_ref: demo.act\npolicy_type: action.concurrency\n{extra}")
        };
        let kit = Kit::new(&[
            ("packs/demo/actions/act.yaml", "---\nname: act\nrunner_type: noop\n"),
            ("packs/demo/policies/a.yaml", &limit("a", "parameters: {threshold: 1}\n")),
            ("packs/demo/policies/b.yaml", &limit("b", "enabled: false\nparameters: {threshold: 2}\n")),
            ("packs/demo/policies/c.yaml", &limit("c", "parameters: {threshold: many}\n")),
            (
                "packs/demo/policies/d.yaml",
                "---\nname: d\nresource_ref: demo.act\npolicy_type: action.retry\nparameters: {retry_on: failure}\n",
            ),
            (
                "packs/demo/policies/e.yaml",
                "---\nname: e\nresource_ref: core.local\npolicy_type: action.concurrency\nparameters: {threshold: 3}\n",
            ),
        ])
        .await;
        let concurrency: Vec<String> =
            concurrency_of(&kit.registry, "demo.act").into_iter().map(|c| c.policy).collect();
        assert_eq!(concurrency, ["demo.a"], "disabled (b) and refused (c) policies do not apply");
        let retries: Vec<String> = retries_of(&kit.registry, "demo.act").into_iter().map(|r| r.policy).collect();
        assert_eq!(retries, ["demo.d"]);
        assert_eq!(concurrency_of(&kit.registry, "core.local").len(), 1);
        assert!(concurrency_of(&kit.registry, "core.noop").is_empty());
    }

    #[test]
    fn the_types_enforced_here_are_those_the_loader_does_not_warn_about() {
        assert_eq!([CONCURRENCY, CONCURRENCY_BY_ATTRIBUTE, RETRY], st2d_core::pack::model::ENFORCED_POLICY_TYPES);
    }
}
