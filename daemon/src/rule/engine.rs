//! The rule index: the active rules of one registry snapshot, grouped by the trigger they
//! listen to, with their criteria compiled; and the two-pass match of StackStorm (standard
//! rules, then backstop rules only when no standard rule matched).
//!
//! Owns: which rules a trigger instance fires. Must not: write anything (the reactor records
//! enforcements) or render action parameters.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::registry::Registry;
use st2d_core::criteria::matcher::{Criteria, PatternRenderer};
use st2d_core::pack::model::{Rule, RuleType};

struct IndexedRule {
    rule: Arc<Rule>,
    /// An error when the criteria cannot be compiled: every evaluation then fails with it.
    criteria: Result<Criteria, RuleError>,
}

/// Why a rule's criteria could not be evaluated; a failed enforcement records it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The criteria do not compile.
    #[error("rule {rule}: {message}")]
    Compile { rule: String, message: String },
    /// An operator could not be applied to the payload.
    #[error("{0}")]
    Evaluate(String),
}

/// What one rule made of one trigger instance.
#[derive(Debug, Clone)]
pub enum Verdict {
    Matched(Arc<Rule>),
    /// The evaluation failed; a failed enforcement records why.
    Failed(Arc<Rule>, RuleError),
}

/// The active rules of one snapshot by trigger ref, standard rules before backstop rules.
#[derive(Default)]
pub struct RuleIndex {
    pub generation: u64,
    by_trigger: HashMap<String, Vec<IndexedRule>>,
}

impl RuleIndex {
    pub fn build(registry: &Registry) -> Self {
        let mut by_trigger: HashMap<String, Vec<IndexedRule>> = HashMap::new();
        for rule in registry.active_rules() {
            let trigger = crate::trigger::triggers::of_rule(rule).ref_;
            let criteria = Criteria::compile(&rule.criteria)
                .map_err(|message| RuleError::Compile { rule: rule.ref_.clone(), message });
            by_trigger.entry(trigger).or_default().push(IndexedRule { rule: rule.clone(), criteria });
        }
        for rules in by_trigger.values_mut() {
            rules.sort_by(|a, b| {
                (a.rule.rule_type == RuleType::Backstop, &a.rule.ref_)
                    .cmp(&(b.rule.rule_type == RuleType::Backstop, &b.rule.ref_))
            });
        }
        Self { generation: registry.generation, by_trigger }
    }

    /// How many rules listen to `trigger`.
    pub fn rules_for(&self, trigger: &str) -> usize {
        self.by_trigger.get(trigger).map_or(0, Vec::len)
    }

    /// The verdicts of the rules listening to `trigger` on `payload`: every matching standard
    /// rule; the backstop rules only when none matched. Rules that do not match give nothing.
    pub fn evaluate(
        &self,
        trigger: &str,
        payload: &Value,
        renderer: &dyn PatternRenderer,
        now: DateTime<Utc>,
    ) -> Vec<Verdict> {
        let Some(rules) = self.by_trigger.get(trigger) else {
            return Vec::new();
        };
        let mut verdicts = Vec::new();
        let mut standard_matched = false;
        for indexed in rules {
            let backstop = indexed.rule.rule_type == RuleType::Backstop;
            if backstop && standard_matched {
                break;
            }
            let outcome = match &indexed.criteria {
                Ok(criteria) => criteria.evaluate(payload, renderer, now).map_err(RuleError::Evaluate),
                Err(error) => Err(error.clone()),
            };
            match outcome {
                Ok(true) => {
                    standard_matched |= !backstop;
                    verdicts.push(Verdict::Matched(indexed.rule.clone()));
                }
                Ok(false) => {}
                Err(reason) => verdicts.push(Verdict::Failed(indexed.rule.clone(), reason)),
            }
        }
        verdicts
    }
}
