//! The offline rule tester (`st2-rule-tester --rule FILE --trigger-instance FILE`): does a rule
//! file match a trigger instance file? No daemon is needed; patterns render with Jinja, without
//! a datastore.
//!
//! Owns: reading the two files and the verdict. Must not: touch the store or a registry.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use st2d_core::criteria::matcher::Criteria;
use st2d_core::criteria::patterns::TemplatePatterns;
use st2d_core::pack::validate::{FileCtx, rule as validate_rule};
use st2d_core::template::NoKeyValues;

/// What the tester found.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Matches,
    /// Why not: another trigger, a false criterion, or one that could not be evaluated.
    DoesNotMatch(String),
}

/// Tests the rule in `rule_file` against the trigger instance in `instance_file` (JSON or YAML
/// with `trigger` and `payload`, as `st2ctl trigger-instance get -j` prints one). Errors name
/// the file and what is wrong with it.
pub fn test_files(rule_file: &Path, instance_file: &Path) -> Result<Verdict, String> {
    let rule_doc = read(rule_file)?;
    let pack = rule_doc.get("pack").and_then(Value::as_str).unwrap_or("default").to_string();
    let dir = rule_file.parent().unwrap_or(Path::new("."));
    let file = rule_file.to_string_lossy();
    let ctx = FileCtx { pack: &pack, pack_dir: dir, file: &file };
    let rule = validate_rule(&rule_doc, &ctx).map_err(|e| {
        let field = if e.field.is_empty() { String::new() } else { format!(" (field {})", e.field) };
        format!("{}: {}{field}", rule_file.display(), e.message)
    })?;
    let instance = read(instance_file)?;
    let trigger = match instance.get("trigger") {
        Some(Value::String(trigger)) => trigger.clone(),
        Some(Value::Object(trigger)) => {
            trigger.get("ref").or_else(|| trigger.get("type")).and_then(Value::as_str).unwrap_or_default().to_string()
        }
        _ => return Err(format!("{}: field \"trigger\" (the trigger's ref) is missing", instance_file.display())),
    };
    let payload = instance.get("payload").cloned().unwrap_or(Value::Object(Default::default()));
    if trigger != rule.trigger_type {
        return Ok(Verdict::DoesNotMatch(format!(
            "the instance is of trigger {trigger}, the rule is on {}",
            rule.trigger_type
        )));
    }
    let criteria = Criteria::compile(&rule.criteria).map_err(|e| format!("{}: {e}", rule_file.display()))?;
    let renderer = TemplatePatterns::new(Arc::new(NoKeyValues));
    match criteria.evaluate(&payload, &renderer, chrono::Utc::now()) {
        Ok(true) => Ok(Verdict::Matches),
        Ok(false) => Ok(Verdict::DoesNotMatch("a criterion is false".to_string())),
        Err(error) => Ok(Verdict::DoesNotMatch(format!("the criteria could not be evaluated: {error}"))),
    }
}

fn read(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    st2d_core::yaml::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    #[test]
    fn verdicts() {
        let dir = tempfile::tempdir().expect("temp dir");
        let rule = write(
            dir.path(),
            "rule.yaml",
            "---\nname: high\npack: demo\nenabled: true\ntrigger: {type: demo.event}\ncriteria:\n  trigger.level: {type: gt, pattern: '{{ trigger.limit }}'}\naction: {ref: core.noop}\n",
        );
        let hit = write(dir.path(), "hit.json", r#"{"trigger": "demo.event", "payload": {"level": 5, "limit": 3}}"#);
        let miss = write(dir.path(), "miss.yaml", "trigger: demo.event\npayload: {level: 1, limit: 3}\n");
        let other = write(dir.path(), "other.json", r#"{"trigger": "demo.other", "payload": {}}"#);
        let bad = write(dir.path(), "bad.json", r#"{"trigger": "demo.event", "payload": {"level": "x", "limit": 3}}"#);
        assert_eq!(test_files(&rule, &hit), Ok(Verdict::Matches));
        assert!(matches!(test_files(&rule, &miss), Ok(Verdict::DoesNotMatch(_))));
        assert!(matches!(test_files(&rule, &other), Ok(Verdict::DoesNotMatch(r)) if r.contains("demo.other")));
        assert!(
            matches!(test_files(&rule, &bad), Ok(Verdict::DoesNotMatch(r)) if r.contains("could not be evaluated"))
        );
        let broken = write(dir.path(), "broken.yaml", "---\nname: x\ntrigger: {}\naction: {ref: core.noop}\n");
        let error = test_files(&broken, &hit).expect_err("invalid rule");
        assert!(error.contains("broken.yaml") && error.contains("type"), "{error}");
        assert!(test_files(&dir.path().join("nope.yaml"), &hit).expect_err("missing").contains("cannot read"));
    }
}
