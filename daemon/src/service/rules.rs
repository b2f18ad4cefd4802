//! Rules as the doors change them (StackStorm's st2api/controllers/v1/rules.py): enabling and
//! disabling a rule (kept in the store, over its file's `enabled`, applied by a registry
//! refresh so the rules engine sees it at once), and creating, updating and deleting a rule,
//! which writes or removes its file in its pack's `rules/` directory (files are the truth) and
//! has the reload read that pack again.
//!
//! Owns: what a rule request means: the document a body gives, its checks (st2d-core's rule
//! validator, the trigger type and its parameters, the pack), which update is only a toggle,
//! and that a rule created through the API registers its pack's rules. Must not: publish a
//! registry or write registration policy itself (the reload actor does), or write a file
//! before every check has passed.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use st2d_core::pack::fields::FieldError;
use st2d_core::pack::model::{ContentKind, Rule};
use st2d_core::pack::validate::{self, FileCtx};

use super::{ServiceError, Services, catalog};
use crate::packmgmt::rule_files;
use crate::registry::{PackEntry, Registry};
use crate::reload::{Cause, Registration};

/// The pack a rule without one goes to, as in StackStorm.
pub const DEFAULT_PACK: &str = "default";

pub async fn set_enabled(services: &Services, ref_: &str, enabled: bool) -> Result<Arc<Rule>, ServiceError> {
    let ref_ = ref_.trim();
    if ref_.is_empty() {
        return Err(ServiceError::invalid("ref is required"));
    }
    let missing = || ServiceError::not_found(format!("rule \"{ref_}\" not found"));
    if services.published.registry().rule(ref_).is_none() {
        return Err(missing());
    }
    services.runtime.store.set_rule_toggle(ref_, enabled).map_err(ServiceError::internal)?;
    services.reload.refresh().await.map_err(ServiceError::unavailable)?;
    services.published.registry().rule(ref_).cloned().ok_or_else(missing)
}

/// `field: message`, as every refusal of a rule's field reads.
fn field_error(error: FieldError) -> ServiceError {
    if error.field.is_empty() {
        ServiceError::invalid(error.message)
    } else {
        ServiceError::invalid(format!("{}: {}", error.field, error.message))
    }
}

/// The rule document of a request body: what a rule file holds. What StackStorm computes or
/// adds on the way out (`id`, `uid`, `ref`, `metadata_file`, the trigger's `ref`) is dropped.
fn document(mut body: Map<String, Value>) -> Map<String, Value> {
    for computed in ["id", "uid", "ref", "metadata_file"] {
        body.shift_remove(computed);
    }
    if let Some(Value::Object(trigger)) = body.get_mut("trigger") {
        trigger.retain(|key, _| matches!(key.as_str(), "type" | "parameters" | "description"));
    }
    body
}

/// The document of a rule as it stands (`enabled` as the registry applies it), which fields an
/// update does not give keep.
fn document_of(registry: &Registry, rule: &Rule) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert("name".into(), json!(rule.name));
    doc.insert("pack".into(), json!(rule.pack));
    if !rule.description.is_empty() {
        doc.insert("description".into(), json!(rule.description));
    }
    doc.insert("enabled".into(), json!(registry.rule_enabled(rule)));
    let mut trigger = Map::new();
    trigger.insert("type".into(), json!(rule.trigger_type));
    if !rule.trigger_parameters.is_empty() {
        trigger.insert("parameters".into(), Value::Object(rule.trigger_parameters.clone()));
    }
    doc.insert("trigger".into(), Value::Object(trigger));
    if !rule.criteria.is_empty() {
        doc.insert("criteria".into(), Value::Object(rule.criteria.clone()));
    }
    let mut action = Map::new();
    action.insert("ref".into(), json!(rule.action_ref));
    if !rule.action_parameters.is_empty() {
        action.insert("parameters".into(), Value::Object(rule.action_parameters.clone()));
    }
    doc.insert("action".into(), Value::Object(action));
    if rule.rule_type != st2d_core::pack::model::RuleType::Standard {
        doc.insert("type".into(), json!({"ref": rule.rule_type.as_str()}));
    }
    for (field, value) in [("tags", &rule.tags), ("context", &rule.context)] {
        if !value.is_null() {
            doc.insert(field.into(), value.clone());
        }
    }
    doc
}

/// The value of a string field of the document, `None` when absent; the error names it.
fn text_field(doc: &Map<String, Value>, field: &str) -> Result<Option<String>, ServiceError> {
    match doc.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(ServiceError::invalid(format!("{field}: {other} is not of type 'string'"))),
    }
}

/// The pack a rule is written to: it must be loaded and not built in.
fn writable_pack<'r>(registry: &'r Registry, pack: &str) -> Result<&'r PackEntry, ServiceError> {
    let entry = registry.pack(pack).ok_or_else(|| {
        ServiceError::invalid(format!(
            "pack: pack \"{pack}\" does not exist; a rule is a file in its pack's rules directory, so its pack must be installed first"
        ))
    })?;
    if entry.builtin {
        return Err(ServiceError::invalid(format!(
            "pack: pack \"{pack}\" is built into st2d; its rules cannot be changed"
        )));
    }
    if entry.unloaded() {
        return Err(ServiceError::conflict(format!(
            "pack: pack \"{pack}\" is unloaded; load it first (st2 run packs.load packs={pack})"
        )));
    }
    Ok(entry)
}

/// Checks the document as the loader will read the file, and what StackStorm's API checks
/// beyond the file: the trigger type exists and its parameters fit its schema.
fn checked(registry: &Registry, doc: &Map<String, Value>, entry: &PackEntry, file: &str) -> Result<Rule, ServiceError> {
    let ctx = FileCtx { pack: &entry.ref_, pack_dir: &entry.dir, file };
    let rule = validate::rule(&Value::Object(doc.clone()), &ctx).map_err(field_error)?;
    let Some(trigger_type) = registry.trigger_type(&rule.trigger_type) else {
        return Err(ServiceError::invalid(format!(
            "trigger.type: Trigger \"{}\" defined in the rule does not exist in system or it's missing required \"parameters\" attribute",
            rule.trigger_type
        )));
    };
    let mut parameters = Value::Object(rule.trigger_parameters.clone());
    crate::trigger::payload::validate_as(&mut parameters, &trigger_type.parameters_schema, "trigger.parameters")
        .map_err(ServiceError::invalid)?;
    Ok(rule)
}

/// Creates a rule from a request body: writes `rules/<name>.yaml` in its pack, registers the
/// pack's rules, and answers with the rule as registered.
pub async fn create(services: &Services, body: Map<String, Value>) -> Result<Arc<Rule>, ServiceError> {
    let registry = services.published.registry();
    let mut doc = document(body);
    let pack = text_field(&doc, "pack")?.unwrap_or_else(|| DEFAULT_PACK.to_string());
    doc.insert("pack".to_string(), json!(pack));
    let name = text_field(&doc, "name")?
        .ok_or_else(|| ServiceError::invalid("name: 'name' is a required property (field \"name\")"))?;
    let file = rule_files::file_for(&name)?;
    let entry = writable_pack(&registry, &pack)?;
    let rule = checked(&registry, &doc, entry, &file)?;
    if let Some(existing) = registry.rule(&rule.ref_) {
        return Err(ServiceError::conflict(format!(
            "rule \"{}\" already exists (defined by {})",
            rule.ref_, existing.metadata_file
        )));
    }
    let dir = entry.dir.clone();
    drop(registry);
    write(dir.clone(), file.clone(), doc, true).await?;
    // A toggle left by a deleted rule of the same ref must not override the new file.
    services.runtime.store.clear_rule_toggle(&rule.ref_).map_err(ServiceError::internal)?;
    let registration =
        Registration { kinds: BTreeSet::from([ContentKind::Rules]), packs: vec![pack], ..Default::default() };
    reloaded(services, dir, Some(registration), &rule.ref_, &file).await
}

/// Updates a rule from a request body holding the whole rule, as `st2 rule update` and
/// `st2 rule enable|disable` send it (a body with none of `name`, `trigger` and `action` is a
/// change of the fields it gives, the others keep their values). A body that differs from the
/// rule only in `enabled` is a toggle (the file stays as it is); any other change rewrites the
/// rule's file.
pub async fn update(services: &Services, ref_or_id: &str, body: Map<String, Value>) -> Result<Arc<Rule>, ServiceError> {
    let registry = services.published.registry();
    let current = catalog::rule(&registry, ref_or_id)?;
    let whole = ["name", "trigger", "action"].iter().any(|field| body.contains_key(*field));
    let mut doc = if whole { Map::new() } else { document_of(&registry, &current) };
    doc.extend(document(body));
    let pack = text_field(&doc, "pack")?.unwrap_or_else(|| current.pack.clone());
    if pack != current.pack {
        return Err(ServiceError::invalid(format!(
            "pack: rule \"{}\" cannot move to pack \"{pack}\"; create it there and delete this one",
            current.ref_
        )));
    }
    doc.insert("pack".to_string(), json!(pack));
    if let Some(name) = text_field(&doc, "name")?
        && name != current.name
    {
        return Err(ServiceError::invalid(format!(
            "name: rule \"{}\" cannot be renamed to \"{name}\"; create the new rule and delete this one",
            current.ref_
        )));
    }
    let entry = registry.pack(&pack).ok_or_else(|| ServiceError::not_found(format!("pack \"{pack}\" not found")))?;
    let ctx = FileCtx { pack: &pack, pack_dir: &entry.dir, file: &current.metadata_file };
    let updated = validate::rule(&Value::Object(doc.clone()), &ctx).map_err(field_error)?;
    if same_but_enabled(&updated, &current) {
        drop(registry);
        return set_enabled(services, &current.ref_, updated.enabled).await;
    }
    let entry = writable_pack(&registry, &pack)?;
    checked(&registry, &doc, entry, &current.metadata_file)?;
    let dir = entry.dir.clone();
    drop(registry);
    write(dir.clone(), current.metadata_file.clone(), doc, false).await?;
    // The file now says whether the rule is enabled.
    services.runtime.store.clear_rule_toggle(&current.ref_).map_err(ServiceError::internal)?;
    reloaded(services, dir, None, &current.ref_, &current.metadata_file).await
}

/// Deletes a rule: removes its file and forgets its toggle.
pub async fn delete(services: &Services, ref_or_id: &str) -> Result<Arc<Rule>, ServiceError> {
    let registry = services.published.registry();
    let current = catalog::rule(&registry, ref_or_id)?;
    let dir = writable_pack(&registry, &current.pack)?.dir.clone();
    drop(registry);
    let file = current.metadata_file.clone();
    let pack_dir = dir.clone();
    tokio::task::spawn_blocking(move || rule_files::remove(&pack_dir, &file))
        .await
        .map_err(ServiceError::internal)??;
    services.runtime.store.clear_rule_toggle(&current.ref_).map_err(ServiceError::internal)?;
    services.reload.rescan(Cause::Rpc, dir, None).await.map_err(ServiceError::unavailable)?;
    Ok(current)
}

/// Whether two versions of a rule differ in nothing but `enabled` (and where they were read).
fn same_but_enabled(a: &Rule, b: &Rule) -> bool {
    let plain = |rule: &Rule| {
        let mut rule = rule.clone();
        rule.enabled = false;
        rule.metadata_file.clear();
        if rule.tags == json!([]) {
            rule.tags = Value::Null;
        }
        if rule.context == json!({}) {
            rule.context = Value::Null;
        }
        rule
    };
    plain(a) == plain(b)
}

async fn write(dir: PathBuf, file: String, doc: Map<String, Value>, create: bool) -> Result<(), ServiceError> {
    tokio::task::spawn_blocking(move || rule_files::write(&dir, &file, &Value::Object(doc), create))
        .await
        .map_err(ServiceError::internal)??;
    Ok(())
}

/// Has the reload read the pack again and answers with the rule it registered, or with why
/// the file written did not load.
async fn reloaded(
    services: &Services,
    dir: PathBuf,
    registration: Option<Registration>,
    ref_: &str,
    file: &str,
) -> Result<Arc<Rule>, ServiceError> {
    services.reload.rescan(Cause::Rpc, dir, registration).await.map_err(ServiceError::unavailable)?;
    let registry = services.published.registry();
    if let Some(rule) = registry.rule(ref_) {
        return Ok(rule.clone());
    }
    let pack = ref_.split_once('.').map_or(ref_, |(pack, _)| pack);
    let why = registry
        .pack(pack)
        .and_then(|entry| entry.errors().into_iter().find(|e| e.file == file).map(|e| e.message.clone()))
        .unwrap_or_else(|| "it is not in the registry after the reload".to_string());
    Err(ServiceError::internal(format!("rule \"{ref_}\" was written to {file} but did not load: {why}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computed_fields_are_not_written() {
        let body = json!({"id": "abc", "uid": "rule:p:r", "ref": "p.r", "name": "r", "metadata_file": "rules/r.yaml",
            "trigger": {"type": "core.st2.webhook", "ref": "core.0123", "parameters": {"url": "x"}}})
        .as_object()
        .cloned()
        .expect("an object");
        let doc = document(body);
        assert_eq!(
            Value::Object(doc),
            json!({"name": "r", "trigger": {"type": "core.st2.webhook", "parameters": {"url": "x"}}})
        );
    }
}
