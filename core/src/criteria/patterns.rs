//! Criteria patterns rendered with Jinja as StackStorm's rules engine renders them: the
//! context is `trigger` (the payload) and `st2kv.system` (ST2-COMPAT.md 5.2).
//!
//! Owns: the context of a criteria pattern. Must not: evaluate criteria (the matcher does).

use std::sync::Arc;

use serde_json::Value;

use super::matcher::PatternRenderer;
use super::operators::EvalError;
use crate::template::{self, Context, KeyValueSource};

/// Renders templated patterns, reading `st2kv` from `kv`.
pub struct TemplatePatterns {
    kv: Arc<dyn KeyValueSource>,
}

impl TemplatePatterns {
    pub fn new(kv: Arc<dyn KeyValueSource>) -> Self {
        Self { kv }
    }
}

impl PatternRenderer for TemplatePatterns {
    fn render(&self, source: &str, payload: &Value) -> Result<Value, EvalError> {
        let context = Context::new(self.kv.clone(), crate::template::SYSTEM_USER).with("trigger", payload.clone());
        template::render_pattern(&Value::String(source.to_string()), &context).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::criteria::matcher::Criteria;
    use crate::template::NoKeyValues;

    #[test]
    fn templated_patterns_compare_typed() {
        let renderer = TemplatePatterns::new(Arc::new(NoKeyValues));
        let criteria = |value: Value| match value {
            Value::Object(map) => Criteria::compile(&map).expect("compiles"),
            _ => Criteria::default(),
        };
        let now = chrono::Utc::now();
        let payload = json!({"count": 5, "limit": 3, "name": "web-1", "prefix": "web"});
        let cases = [
            (json!({"trigger.count": {"type": "gt", "pattern": "{{ trigger.limit }}"}}), true),
            (json!({"trigger.count": {"type": "equals", "pattern": "{{ trigger.count }}"}}), true),
            (json!({"trigger.name": {"type": "startswith", "pattern": "{{ trigger.prefix }}-"}}), true),
            (json!({"trigger.name": {"type": "equals", "pattern": "{{ trigger.prefix }}"}}), false),
        ];
        for (value, expected) in cases {
            assert_eq!(criteria(value.clone()).evaluate(&payload, &renderer, now), Ok(expected), "{value}");
        }
        let broken = criteria(json!({"trigger.count": {"type": "gt", "pattern": "{{ trigger.nope.deeper }}"}}));
        assert!(broken.evaluate(&payload, &renderer, now).is_err(), "a failed render fails the evaluation");
    }
}
