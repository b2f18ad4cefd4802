//! Conversions from domain types to the `st2d.v1` proto messages.
//!
//! Owns: how each resource looks on the wire. Must not: look anything up (callers pass in what
//! a message needs) or be used outside `api`.

use serde_json::Value;
use st2d_proto::v1 as pb;

use crate::pack::config::mask_secrets;
use crate::registry::PackEntry;
use crate::reload::ReloadReport;
use crate::sensor::Standing;
use crate::trigger::TriggerInstance;
use st2d_core::pack::model::{Action, Alias, ContentError, Policy, Rule, Sensor, TriggerType};

/// JSON text of a document; `null` and absent become "".
fn json(value: &Value) -> String {
    if value.is_null() { String::new() } else { value.to_string() }
}

fn json_map(map: &serde_json::Map<String, Value>) -> String {
    Value::Object(map.clone()).to_string()
}

fn uid(kind: &str, pack: &str, name: &str) -> String {
    format!("{kind}:{pack}:{name}")
}

pub fn content_error(error: &ContentError) -> pb::ContentError {
    pb::ContentError {
        file: error.file.clone(),
        line: error.line.unwrap_or(0),
        message: error.message.clone(),
        kept_last_good: error.kept_last_good,
    }
}

pub fn pack(entry: &PackEntry) -> pb::Pack {
    let content = entry.content.as_deref();
    let meta = content.map(|c| &c.meta);
    let text = |f: fn(&st2d_core::pack::model::PackMeta) -> &String| meta.map(f).cloned().unwrap_or_default();
    let count = |f: fn(&st2d_core::pack::model::PackContent) -> usize| content.map(f).unwrap_or(0) as u32;
    let schema = content.and_then(|c| c.config_schema.as_ref()).and_then(Value::as_object);
    let install = entry.install.as_ref();
    pb::Pack {
        r#ref: entry.ref_.clone(),
        name: text(|m| &m.name),
        description: text(|m| &m.description),
        version: text(|m| &m.version),
        author: text(|m| &m.author),
        email: text(|m| &m.email),
        keywords: meta.map(|m| m.keywords.clone()).unwrap_or_default(),
        path: entry.dir.display().to_string(),
        status: entry.status().to_string(),
        errors: entry.errors().into_iter().map(content_error).collect(),
        warnings: entry.warnings().into_iter().map(String::from).collect(),
        registered: entry.registered.iter().map(|k| k.to_string()).collect(),
        builtin: entry.builtin,
        actions: count(|c| c.actions.len()),
        trigger_types: count(|c| c.trigger_types.len()),
        rules: count(|c| c.rules.len()),
        sensors: count(|c| c.sensors.len()),
        aliases: count(|c| c.aliases.len()),
        policies: count(|c| c.policies.len()),
        config_json: content.map(|c| json_map(&mask_secrets(&c.config.values, schema))).unwrap_or_default(),
        config_source: content
            .and_then(|c| c.config.source.as_ref())
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        config_schema_json: content.and_then(|c| c.config_schema.as_ref()).map(json).unwrap_or_default(),
        dependencies: meta.map(|m| m.dependencies.clone()).unwrap_or_default(),
        metadata_json: meta.map(|m| json(&m.raw)).unwrap_or_default(),
        installed_from: install.map(|i| i.source.clone()).unwrap_or_default(),
        installed_version: install.and_then(|i| i.resolved.clone().or_else(|| i.requested.clone())).unwrap_or_default(),
        installed_commit: install.and_then(|i| i.commit.clone()).unwrap_or_default(),
        installed_at: install.map(|i| i.installed_at.clone()).unwrap_or_default(),
        setup_error: install.and_then(|i| i.setup_error.clone()).unwrap_or_default(),
    }
}

pub fn action(action: &Action) -> pb::Action {
    pb::Action {
        r#ref: action.ref_.clone(),
        pack: action.pack.clone(),
        name: action.name.clone(),
        description: action.description.clone(),
        runner_type: action.runner_type.clone(),
        enabled: action.enabled,
        entry_point: action.entry_point.clone(),
        parameters_json: action.parameters.to_json_text(),
        output_schema_json: json(&action.output_schema),
        tags_json: json(&action.tags),
        notify_json: json(&action.notify),
        metadata_file: action.metadata_file.clone(),
        uid: uid("action", &action.pack, &action.name),
    }
}

pub fn trigger_type(trigger_type: &TriggerType) -> pb::TriggerType {
    pb::TriggerType {
        r#ref: trigger_type.ref_.clone(),
        pack: trigger_type.pack.clone(),
        name: trigger_type.name.clone(),
        description: trigger_type.description.clone(),
        payload_schema_json: json(&trigger_type.payload_schema),
        parameters_schema_json: json(&trigger_type.parameters_schema),
        tags_json: json(&trigger_type.tags),
        metadata_file: trigger_type.metadata_file.clone(),
        uid: uid("trigger_type", &trigger_type.pack, &trigger_type.name),
    }
}

pub fn rule(rule: &Rule, registry: &crate::registry::Registry) -> pb::Rule {
    pb::Rule {
        r#ref: rule.ref_.clone(),
        pack: rule.pack.clone(),
        name: rule.name.clone(),
        description: rule.description.clone(),
        enabled: registry.rule_enabled(rule),
        registered: registry.rule_registered(rule),
        trigger: rule.trigger_type.clone(),
        trigger_parameters_json: json_map(&rule.trigger_parameters),
        action: rule.action_ref.clone(),
        action_parameters_json: json_map(&rule.action_parameters),
        criteria_json: json_map(&rule.criteria),
        r#type: rule.rule_type.as_str().to_string(),
        metadata_file: rule.metadata_file.clone(),
        uid: uid("rule", &rule.pack, &rule.name),
        tags: tag_names(&rule.tags),
    }
}

/// Tags are `[{name, value}]` in StackStorm; shown as `name` or `name=value`.
fn tag_names(tags: &Value) -> Vec<String> {
    tags.as_array()
        .into_iter()
        .flatten()
        .filter_map(|tag| match tag {
            Value::String(s) => Some(s.clone()),
            Value::Object(map) => {
                let name = map.get("name").and_then(Value::as_str)?;
                Some(match map.get("value").and_then(Value::as_str) {
                    Some(value) => format!("{name}={value}"),
                    None => name.to_string(),
                })
            }
            _ => None,
        })
        .collect()
}

/// A sensor with where it stands (runtime status, effective `enabled`, registration).
pub fn sensor(sensor: &Sensor, standing: &Standing) -> pb::Sensor {
    let status = standing.status.as_ref();
    pb::Sensor {
        r#ref: sensor.ref_.clone(),
        pack: sensor.pack.clone(),
        class_name: sensor.class_name.clone(),
        description: sensor.description.clone(),
        enabled: standing.enabled,
        entry_point: sensor.entry_point.clone(),
        poll_interval: sensor.poll_interval.unwrap_or(0.0),
        trigger_types: sensor.trigger_types.clone(),
        metadata_file: sensor.metadata_file.clone(),
        uid: uid("sensor_type", &sensor.pack, &sensor.class_name),
        state: standing.state().to_string(),
        pid: status.and_then(|s| s.pid).unwrap_or(0),
        restarts: status.map_or(0, |s| s.restarts),
        last_exit: status.and_then(|s| s.last_exit.clone()).unwrap_or_default(),
        stderr_tail: status.map(|s| s.tail.iter().cloned().collect()).unwrap_or_default(),
        uptime_seconds: status
            .filter(|s| s.pid.is_some())
            .and_then(|s| s.started)
            .map_or(0, |started| started.elapsed().as_secs()),
        next_start_in: status
            .and_then(|s| s.next_start)
            .map_or(0.0, |at| at.saturating_duration_since(std::time::Instant::now()).as_secs_f64()),
    }
}

pub fn trigger_instance(instance: &TriggerInstance) -> pb::TriggerInstance {
    pb::TriggerInstance {
        id: instance.id.clone(),
        trigger: instance.trigger.clone(),
        payload_json: json(&instance.payload),
        occurrence_time: instance.occurrence_time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        status: instance.status.clone(),
        source: instance.source.clone().unwrap_or_default(),
        trace_tag: instance.trace_tag.clone().unwrap_or_default(),
    }
}

pub fn alias(alias: &Alias) -> pb::Alias {
    pb::Alias {
        r#ref: alias.ref_.clone(),
        pack: alias.pack.clone(),
        name: alias.name.clone(),
        description: alias.description.clone(),
        enabled: alias.enabled,
        action_ref: alias.action_ref.clone(),
        formats: alias.format_strings(),
        metadata_file: alias.metadata_file.clone(),
    }
}

pub fn policy(policy: &Policy) -> pb::Policy {
    pb::Policy {
        r#ref: policy.ref_.clone(),
        pack: policy.pack.clone(),
        name: policy.name.clone(),
        description: policy.description.clone(),
        enabled: policy.enabled,
        resource_ref: policy.resource_ref.clone(),
        policy_type: policy.policy_type.clone(),
        parameters_json: json(&policy.parameters),
        metadata_file: policy.metadata_file.clone(),
    }
}

pub fn reload_report(report: &ReloadReport) -> pb::ReloadReport {
    let counts = &report.counts;
    pb::ReloadReport {
        generation: report.generation,
        finished_at: report.finished_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        duration_micros: report.duration.as_micros() as u64,
        trigger: report.cause.to_string(),
        packs_loaded: counts.packs as u32,
        packs_with_errors: counts.packs_with_errors as u32,
        errors: counts.errors as u32,
        actions: counts.actions as u32,
        trigger_types: counts.trigger_types as u32,
        rules: counts.rules as u32,
        sensors: counts.sensors as u32,
        packs_added: report.diff.packs_added.clone(),
        packs_removed: report.diff.packs_removed.clone(),
        packs_changed: report.diff.packs_changed.clone(),
        problems: report.problems.clone(),
    }
}

fn timestamp(time: &chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// An execution; `schema` (the action's parameters) masks secret parameters.
pub fn execution(execution: &crate::execution::Execution, schema: &Value) -> pb::Execution {
    pb::Execution {
        id: execution.id.clone(),
        action: execution.action.clone(),
        runner: execution.runner.clone(),
        status: execution.status.as_str().to_string(),
        parameters_json: json_map(&crate::execution::mask_secrets(&execution.parameters, schema)),
        result_json: execution.result.as_ref().map(|r| r.to_string()).unwrap_or_default(),
        start_timestamp: timestamp(&execution.start_timestamp),
        end_timestamp: execution.end_timestamp.as_ref().map(timestamp).unwrap_or_default(),
        rule: execution.rule.clone().unwrap_or_default(),
        trigger_instance: execution.trigger_instance.clone().unwrap_or_default(),
        user: execution.user.clone(),
        elapsed_seconds: execution.elapsed_seconds(),
        trace_tag: execution.trace_tag.clone().unwrap_or_default(),
        log_json: serde_json::to_string(&execution.log).unwrap_or_default(),
        context_json: json(&execution.context),
        parent: execution.parent.clone().unwrap_or_default(),
        task: execution.task.clone().unwrap_or_default(),
        children: Vec::new(),
    }
}

pub fn enforcement(enforcement: &crate::execution::enforcement::Enforcement) -> pb::RuleEnforcement {
    pb::RuleEnforcement {
        id: enforcement.id.clone(),
        rule: enforcement.rule.clone(),
        trigger_instance: enforcement.trigger_instance.clone(),
        execution: enforcement.execution.clone().unwrap_or_default(),
        status: enforcement.status.clone(),
        failure_reason: enforcement.failure_reason.clone().unwrap_or_default(),
        enforced_at: timestamp(&enforcement.enforced_at),
    }
}
