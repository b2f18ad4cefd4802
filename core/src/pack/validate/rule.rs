//! Rule files (ST2-COMPAT.md 5.1): fields, trigger, criteria operators, action, rule type.
//!
//! Owns: what makes a rule file valid. Must not: check that the trigger type or the action
//! exists (they may come from another pack, and are resolved when the rule fires).

use serde_json::Value;

use super::{FileCtx, check_pack_field};
use crate::pack::fields::{FieldError, Fields};
use crate::pack::model::{Rule, RuleType, resource_ref};

const FIELDS: &[&str] = &[
    "name",
    "pack",
    "description",
    "enabled",
    "trigger",
    "criteria",
    "action",
    "type",
    "context",
    "tags",
    "metadata_file",
    "ref",
    "uid",
    "id",
];

/// Every criteria operator name StackStorm accepts, aliases included.
pub const OPERATORS: &[&str] = &[
    "equals",
    "eq",
    "nequals",
    "neq",
    "iequals",
    "ieq",
    "contains",
    "ncontains",
    "icontains",
    "incontains",
    "startswith",
    "istartswith",
    "endswith",
    "iendswith",
    "lessthan",
    "lt",
    "greaterthan",
    "gt",
    "matchwildcard",
    "matchregex",
    "regex",
    "iregex",
    "timediff_lt",
    "td_lt",
    "timediff_gt",
    "td_gt",
    "exists",
    "nexists",
    "inside",
    "in",
    "ninside",
    "nin",
    "search",
];

const SEARCH_CONDITIONS: &[&str] = &["any", "all", "any2any", "all2any"];

/// Validates one rule file.
pub fn rule(doc: &Value, ctx: &FileCtx<'_>) -> Result<Rule, FieldError> {
    let fields = Fields::new(doc, "")?;
    fields.reject_unknown(FIELDS)?;
    check_pack_field(&fields, ctx)?;
    let name = fields.required_str("name")?;
    let trigger =
        fields.nested("trigger")?.ok_or_else(|| FieldError::new("trigger", "required field \"trigger\" is missing"))?;
    let trigger_type = trigger.required_str("type")?;
    let action =
        fields.nested("action")?.ok_or_else(|| FieldError::new("action", "required field \"action\" is missing"))?;
    action.reject_unknown(&["ref", "parameters", "description"])?;
    let action_ref = action.required_str("ref")?;
    let criteria = fields.mapping("criteria")?;
    for (key, criterion) in &criteria {
        check_criterion(&format!("criteria.{key}"), criterion)?;
    }
    let rule_type = match fields.nested("type")? {
        None => RuleType::Standard,
        Some(kind) => match kind.optional_str("ref")?.as_deref() {
            None | Some("standard") => RuleType::Standard,
            Some("backstop") => RuleType::Backstop,
            Some(other) => {
                return Err(FieldError::new(
                    "type.ref",
                    format!("rule type \"{other}\" is unknown (standard or backstop)"),
                ));
            }
        },
    };
    Ok(Rule {
        ref_: resource_ref(ctx.pack, &name),
        pack: ctx.pack.to_string(),
        name,
        description: fields.text("description")?,
        enabled: fields.bool_or("enabled", false)?,
        trigger_type,
        trigger_parameters: trigger.mapping("parameters")?,
        criteria,
        action_ref,
        action_parameters: action.mapping("parameters")?,
        rule_type,
        tags: fields.get("tags").cloned().unwrap_or(Value::Null),
        context: fields.get("context").cloned().unwrap_or(Value::Null),
        metadata_file: ctx.file.to_string(),
    })
}

/// A criterion is `{type, pattern[, condition]}`; `search` nests criteria in its pattern.
fn check_criterion(path: &str, criterion: &Value) -> Result<(), FieldError> {
    let fields = Fields::new(criterion, path)?;
    let operator = fields.required_str("type")?;
    if !OPERATORS.contains(&operator.as_str()) {
        return Err(FieldError::new(
            format!("{path}.type"),
            format!("criteria operator \"{operator}\" is unknown (known: {})", OPERATORS.join(", ")),
        ));
    }
    if !fields.map().contains_key("pattern") {
        return Err(FieldError::new(format!("{path}.pattern"), "required field \"pattern\" is missing"));
    }
    if operator == "search" {
        let condition = fields.optional_str("condition")?.unwrap_or_default();
        if !SEARCH_CONDITIONS.contains(&condition.as_str()) {
            return Err(FieldError::new(
                format!("{path}.condition"),
                format!("search condition \"{condition}\" must be one of {}", SEARCH_CONDITIONS.join(", ")),
            ));
        }
        let children = fields.nested("pattern")?.ok_or_else(|| {
            FieldError::new(format!("{path}.pattern"), "the pattern of search must be a mapping of criteria")
        })?;
        for (key, child) in children.map() {
            check_criterion(&format!("{path}.pattern.{key}"), child)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn load(doc: Value) -> Result<Rule, FieldError> {
        let ctx = FileCtx { pack: "demo", pack_dir: Path::new("/p"), file: "rules/r.yaml" };
        rule(&doc, &ctx)
    }

    fn base() -> Value {
        json!({"name": "r", "trigger": {"type": "core.st2.webhook", "parameters": {"url": "x"}},
               "action": {"ref": "core.noop"}})
    }

    #[test]
    fn a_rule_without_enabled_is_disabled() {
        let rule = load(base()).expect("valid");
        assert!(!rule.enabled);
        assert_eq!(rule.ref_, "demo.r");
        assert_eq!(rule.trigger_type, "core.st2.webhook");
        assert_eq!(rule.rule_type, RuleType::Standard);
    }

    #[test]
    fn every_operator_and_alias_is_accepted() {
        for operator in OPERATORS {
            let mut doc = base();
            let criterion = if *operator == "search" {
                json!({"type": "search", "condition": "any", "pattern": {"item.x": {"type": "eq", "pattern": 1}}})
            } else {
                json!({"type": operator, "pattern": "x"})
            };
            doc["criteria"] = json!({"trigger.x": criterion});
            assert!(load(doc).is_ok(), "{operator}");
        }
    }

    #[test]
    fn table_of_invalid_rules_and_the_field_each_names() {
        let cases = [
            (json!({"trigger": {"type": "t"}, "action": {"ref": "a.b"}}), "name"),
            (json!({"name": "r", "action": {"ref": "a.b"}}), "trigger"),
            (json!({"name": "r", "trigger": {}, "action": {"ref": "a.b"}}), "trigger.type"),
            (json!({"name": "r", "trigger": {"type": "t"}}), "action"),
            (json!({"name": "r", "trigger": {"type": "t"}, "action": {}}), "action.ref"),
            (json!({"name": "r", "trigger": {"type": "t"}, "action": {"ref": "a.b", "extra": 1}}), "action.extra"),
            (json!({"name": "r", "trigger": {"type": "t"}, "action": {"ref": "a.b"}, "when": 1}), "when"),
            (
                json!({"name": "r", "trigger": {"type": "t"}, "action": {"ref": "a.b"}, "type": {"ref": "sometimes"}}),
                "type.ref",
            ),
        ];
        for (doc, field) in cases {
            assert_eq!(load(doc.clone()).expect_err("invalid").field, field, "{doc}");
        }
        let criteria_cases = [
            (json!({"trigger.x": {"type": "Equals", "pattern": 1}}), "criteria.trigger.x.type"),
            (json!({"trigger.x": {"type": "exists"}}), "criteria.trigger.x.pattern"),
            (json!({"trigger.x": {"pattern": 1}}), "criteria.trigger.x.type"),
            (
                json!({"trigger.x": {"type": "search", "pattern": {}, "condition": "some"}}),
                "criteria.trigger.x.condition",
            ),
            (
                json!({"trigger.x": {"type": "search", "condition": "all", "pattern": {"item.y": {"type": "nope", "pattern": 1}}}}),
                "criteria.trigger.x.pattern.item.y.type",
            ),
        ];
        for (criteria, field) in criteria_cases {
            let mut doc = base();
            doc["criteria"] = criteria.clone();
            assert_eq!(load(doc).expect_err("invalid").field, field, "{criteria}");
        }
    }
}
