//! Concurrency policies: `action.concurrency` (StackStorm's
//! `st2actions/st2actions/policies/concurrency.py`) and `action.concurrency.attr`
//! (`concurrency_by_attr.py`). An execution is admitted while fewer than `threshold` executions
//! of its action (with the same values of `attributes`, for `.attr`) are scheduled or running;
//! otherwise it is delayed or canceled, as `action` says.
//!
//! Owns: the parameters and the verdict. Must not: count executions itself (the caller hands
//! over those past the gate) or change one.

use serde_json::{Map, Value, json};
use st2d_core::pack::model::Policy;

use super::{CONCURRENCY, CONCURRENCY_BY_ATTRIBUTE, Parameters, PolicyError};

/// What happens to an execution over the threshold (`action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverThreshold {
    /// `delay` (the default): `delayed` until a place frees.
    Delay,
    /// `cancel`: canceled at once.
    Cancel,
}

impl OverThreshold {
    pub fn as_str(self) -> &'static str {
        match self {
            OverThreshold::Delay => "delay",
            OverThreshold::Cancel => "cancel",
        }
    }
}

/// One concurrency policy, its parameters checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Concurrency {
    pub policy: String,
    pub policy_type: &'static str,
    pub threshold: i64,
    pub over_threshold: OverThreshold,
    /// `action.concurrency.attr`: the parameters whose values make separate limits; `None`
    /// for `action.concurrency`.
    pub attributes: Option<Vec<String>>,
}

/// What held an execution back, as the execution shows it (`context.policies.concurrency`).
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub policy: String,
    pub policy_type: &'static str,
    pub threshold: i64,
    pub over_threshold: OverThreshold,
    /// Executions counted against the threshold.
    pub count: usize,
    /// `action.concurrency.attr`: the values the count was limited to.
    pub attributes: Option<Map<String, Value>>,
}

/// The decision for one execution.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Admit,
    Delay(Held),
    Cancel(Held),
}

impl Concurrency {
    /// Reads `threshold` (required integer), `action` (`delay` or `cancel`, default `delay`)
    /// and, for `action.concurrency.attr`, `attributes` (default none)
    /// (`st2common/st2common/policies/meta/concurrency.yaml`, `concurrency_by_attr.yaml`).
    pub fn parse(policy: &Policy) -> Result<Self, PolicyError> {
        let parameters = Parameters::of(policy);
        let threshold = parameters.required("threshold", parameters.integer("threshold")?)?;
        let over_threshold = match parameters.choice("action", &["delay", "cancel"], "\"delay\" or \"cancel\"")? {
            Some("cancel") => OverThreshold::Cancel,
            _ => OverThreshold::Delay,
        };
        let (policy_type, attributes) = if policy.policy_type == CONCURRENCY_BY_ATTRIBUTE {
            (CONCURRENCY_BY_ATTRIBUTE, Some(parameters.names("attributes")?.unwrap_or_default()))
        } else {
            (CONCURRENCY, None)
        };
        Ok(Self { policy: policy.ref_.clone(), policy_type, threshold, over_threshold, attributes })
    }

    /// The values an execution with `parameters` is counted by: its values of the policy's
    /// attributes (an attribute it was not given does not narrow the count), none for
    /// `action.concurrency`.
    fn scope(&self, parameters: &Map<String, Value>) -> Option<Map<String, Value>> {
        let attributes = self.attributes.as_ref()?;
        Some(
            parameters
                .iter()
                .filter(|(name, _)| attributes.contains(name))
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect(),
        )
    }

    /// This policy's verdict for an execution with `parameters`, given the parameters of the
    /// executions of the same action past the gate (StackStorm counts those `scheduled` or
    /// `running`; `delayed` ones do not count).
    pub fn judge(&self, parameters: &Map<String, Value>, holders: &[&Map<String, Value>]) -> Verdict {
        let scope = self.scope(parameters);
        let count = holders
            .iter()
            .filter(|held| scope.iter().flatten().all(|(name, value)| held.get(name) == Some(value)))
            .count();
        if i64::try_from(count).unwrap_or(i64::MAX) < self.threshold {
            return Verdict::Admit;
        }
        let held = Held {
            policy: self.policy.clone(),
            policy_type: self.policy_type,
            threshold: self.threshold,
            over_threshold: self.over_threshold,
            count,
            attributes: scope,
        };
        match self.over_threshold {
            OverThreshold::Delay => Verdict::Delay(held),
            OverThreshold::Cancel => Verdict::Cancel(held),
        }
    }
}

/// The verdict of an action's concurrency policies: the first that holds the execution back
/// decides (StackStorm applies them in turn and stops at one that delays; one that cancels
/// leaves nothing for the others to apply to).
pub fn judge(policies: &[Concurrency], parameters: &Map<String, Value>, holders: &[&Map<String, Value>]) -> Verdict {
    policies
        .iter()
        .map(|policy| policy.judge(parameters, holders))
        .find(|v| *v != Verdict::Admit)
        .unwrap_or(Verdict::Admit)
}

impl Held {
    /// Why, in a sentence.
    pub fn reason(&self, action: &str) -> String {
        let executions = if self.count == 1 { "execution" } else { "executions" };
        let with = match &self.attributes {
            Some(values) if !values.is_empty() => {
                let pairs: Vec<String> = values.iter().map(|(name, value)| format!("{name}={value}")).collect();
                format!(" with {}", pairs.join(", "))
            }
            _ => String::new(),
        };
        let is = if self.count == 1 { "is" } else { "are" };
        format!(
            "{count} {executions} of {action}{with} {is} scheduled or running; policy {policy} ({policy_type}) allows {threshold}",
            count = self.count,
            policy = self.policy,
            policy_type = self.policy_type,
            threshold = self.threshold,
        )
    }

    /// `context.policies.concurrency` of the execution held back.
    pub fn context(&self, action: &str) -> Value {
        let mut context = json!({
            "applied_policy": self.policy,
            "policy_type": self.policy_type,
            "threshold": self.threshold,
            "action": self.over_threshold.as_str(),
            "reason": self.reason(action),
        });
        if let Some(values) = &self.attributes {
            context["attributes"] = Value::Object(values.clone());
        }
        context
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::policy;

    fn params(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn parameters_take_stackstorms_defaults_and_refuse_what_its_schema_refuses() {
        // st2common/st2common/policies/meta/concurrency.yaml: threshold required, action
        // defaults to delay, enum [delay, cancel].
        let plain = Concurrency::parse(&policy("demo.limit", CONCURRENCY, json!({"threshold": 2}))).expect("valid");
        assert_eq!((plain.threshold, plain.over_threshold, plain.attributes), (2, OverThreshold::Delay, None));
        let attr = Concurrency::parse(&policy(
            "demo.limit",
            CONCURRENCY_BY_ATTRIBUTE,
            json!({"threshold": 1, "action": "cancel", "attributes": ["host"]}),
        ))
        .expect("valid");
        assert_eq!((attr.over_threshold, attr.attributes), (OverThreshold::Cancel, Some(vec!["host".to_string()])));
        let refused = [
            (json!({}), "policy demo.limit: parameter \"threshold\" is required"),
            (json!({"threshold": "2"}), "policy demo.limit: parameter \"threshold\" must be an integer, not \"2\""),
            (json!({"threshold": 1.5}), "policy demo.limit: parameter \"threshold\" must be an integer, not 1.5"),
            (
                json!({"threshold": 1, "action": "drop"}),
                "policy demo.limit: parameter \"action\" must be \"delay\" or \"cancel\", not \"drop\"",
            ),
        ];
        for (parameters, error) in refused {
            let parsed = Concurrency::parse(&policy("demo.limit", CONCURRENCY, parameters.clone()));
            assert_eq!(parsed.map_err(|e| e.to_string()), Err(error.to_string()), "{parameters}");
        }
        let duplicate =
            policy("demo.limit", CONCURRENCY_BY_ATTRIBUTE, json!({"threshold": 1, "attributes": ["a", "a"]}));
        assert!(Concurrency::parse(&duplicate).is_err(), "attributes are uniqueItems");
    }

    #[test]
    fn the_threshold_counts_executions_past_the_gate_by_attribute_values() {
        // st2actions/tests/unit/policies/test_concurrency.py: `threshold` executions run, the
        // next is delayed (or canceled with action: cancel).
        let limit = Concurrency::parse(&policy("demo.limit", CONCURRENCY, json!({"threshold": 2}))).expect("valid");
        let a = params(json!({"host": "a"}));
        let b = params(json!({"host": "b"}));
        assert_eq!(limit.judge(&a, &[&a]), Verdict::Admit);
        let Verdict::Delay(held) = limit.judge(&a, &[&a, &b]) else { panic!("delayed at the threshold") };
        assert_eq!(held.count, 2);
        assert_eq!(
            held.reason("demo.act"),
            "2 executions of demo.act are scheduled or running; policy demo.limit (action.concurrency) allows 2"
        );
        // test_concurrency_by_attr.py: the same value is over the threshold, another is not; an
        // attribute the execution was not given does not narrow the count
        // (concurrency_by_attr.py `_get_filters` filters on the target's parameters only).
        let per_host = Concurrency::parse(&policy(
            "demo.per_host",
            CONCURRENCY_BY_ATTRIBUTE,
            json!({"threshold": 1, "action": "cancel", "attributes": ["host"]}),
        ))
        .expect("valid");
        let Verdict::Cancel(held) = per_host.judge(&a, &[&a]) else { panic!("canceled") };
        assert_eq!(held.attributes, Some(params(json!({"host": "a"}))));
        assert_eq!(
            held.context("demo.act")["reason"],
            "1 execution of demo.act with host=\"a\" is scheduled or running; policy demo.per_host (action.concurrency.attr) allows 1"
        );
        assert_eq!(per_host.judge(&b, &[&a]), Verdict::Admit);
        let none = params(json!({}));
        assert!(matches!(per_host.judge(&none, &[&a]), Verdict::Cancel(_)));
        // The first policy that holds back decides.
        assert!(matches!(judge(&[limit.clone(), per_host.clone()], &a, &[&a]), Verdict::Cancel(_)));
        assert!(matches!(judge(&[limit, per_host], &a, &[&a, &b]), Verdict::Delay(_)));
    }
}
