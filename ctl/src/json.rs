//! Proto messages as JSON objects: one conversion per message, used for `-j` output and as the
//! single source of the tables.
//!
//! Owns: field names in JSON output (the proto's snake_case names; `*_json` fields decoded and
//! renamed without the suffix). Must not: format tables.

use serde_json::{Map, Value, json};
use st2d_proto::v1 as pb;

/// A `*_json` field's text as a JSON value; empty text is null.
fn decoded(text: &str) -> Value {
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
    }
}

fn object(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<_, _>>())
}

pub fn pack(p: &pb::Pack) -> Value {
    object(vec![
        ("ref", json!(p.r#ref)),
        ("pack", json!(p.r#ref)),
        ("name", json!(p.name)),
        ("description", json!(p.description)),
        ("version", json!(p.version)),
        ("author", json!(p.author)),
        ("email", json!(p.email)),
        ("keywords", json!(p.keywords)),
        ("path", json!(p.path)),
        ("status", json!(p.status)),
        ("errors", Value::Array(p.errors.iter().map(content_error).collect())),
        ("warnings", json!(p.warnings)),
        ("registered", json!(p.registered)),
        ("builtin", json!(p.builtin)),
        ("actions", json!(p.actions)),
        ("trigger_types", json!(p.trigger_types)),
        ("rules", json!(p.rules)),
        ("sensors", json!(p.sensors)),
        ("aliases", json!(p.aliases)),
        ("policies", json!(p.policies)),
        ("config", decoded(&p.config_json)),
        ("config_source", json!(p.config_source)),
        ("config_schema", decoded(&p.config_schema_json)),
        ("dependencies", json!(p.dependencies)),
        ("metadata", decoded(&p.metadata_json)),
        ("installed_from", json!(p.installed_from)),
        ("installed_version", json!(p.installed_version)),
        ("installed_commit", json!(p.installed_commit)),
        ("installed_at", json!(p.installed_at)),
        ("setup_error", json!(p.setup_error)),
    ])
}

pub fn webhook(w: &pb::Webhook) -> Value {
    object(vec![("url", json!(w.url)), ("trigger", json!(w.trigger)), ("rules", json!(w.rules))])
}

fn content_error(e: &pb::ContentError) -> Value {
    json!({"file": e.file, "line": e.line, "message": e.message, "kept_last_good": e.kept_last_good})
}

pub fn action(a: &pb::Action) -> Value {
    object(vec![
        ("ref", json!(a.r#ref)),
        ("pack", json!(a.pack)),
        ("name", json!(a.name)),
        ("description", json!(a.description)),
        ("runner_type", json!(a.runner_type)),
        ("enabled", json!(a.enabled)),
        ("entry_point", json!(a.entry_point)),
        ("parameters", decoded(&a.parameters_json)),
        ("output_schema", decoded(&a.output_schema_json)),
        ("tags", decoded(&a.tags_json)),
        ("notify", decoded(&a.notify_json)),
        ("metadata_file", json!(a.metadata_file)),
        ("uid", json!(a.uid)),
    ])
}

pub fn trigger_type(t: &pb::TriggerType) -> Value {
    object(vec![
        ("ref", json!(t.r#ref)),
        ("pack", json!(t.pack)),
        ("name", json!(t.name)),
        ("description", json!(t.description)),
        ("payload_schema", decoded(&t.payload_schema_json)),
        ("parameters_schema", decoded(&t.parameters_schema_json)),
        ("tags", decoded(&t.tags_json)),
        ("metadata_file", json!(t.metadata_file)),
        ("uid", json!(t.uid)),
    ])
}

pub fn rule(r: &pb::Rule) -> Value {
    object(vec![
        ("ref", json!(r.r#ref)),
        ("pack", json!(r.pack)),
        ("name", json!(r.name)),
        ("description", json!(r.description)),
        ("enabled", json!(r.enabled)),
        ("registered", json!(r.registered)),
        ("trigger", json!(r.trigger)),
        ("trigger_parameters", decoded(&r.trigger_parameters_json)),
        ("action", json!(r.action)),
        ("action_parameters", decoded(&r.action_parameters_json)),
        ("criteria", decoded(&r.criteria_json)),
        ("type", json!(r.r#type)),
        ("tags", json!(r.tags)),
        ("metadata_file", json!(r.metadata_file)),
        ("uid", json!(r.uid)),
    ])
}

pub fn sensor(s: &pb::Sensor) -> Value {
    object(vec![
        ("ref", json!(s.r#ref)),
        ("pack", json!(s.pack)),
        ("class_name", json!(s.class_name)),
        ("description", json!(s.description)),
        ("enabled", json!(s.enabled)),
        ("entry_point", json!(s.entry_point)),
        ("poll_interval", if s.poll_interval > 0.0 { json!(s.poll_interval) } else { Value::Null }),
        ("trigger_types", json!(s.trigger_types)),
        ("state", json!(s.state)),
        ("pid", if s.pid > 0 { json!(s.pid) } else { Value::Null }),
        ("restarts", json!(s.restarts)),
        ("last_exit", if s.last_exit.is_empty() { Value::Null } else { json!(s.last_exit) }),
        ("uptime_seconds", json!(s.uptime_seconds)),
        ("next_start_in", if s.next_start_in > 0.0 { json!(s.next_start_in) } else { Value::Null }),
        ("stderr_tail", json!(s.stderr_tail)),
        ("metadata_file", json!(s.metadata_file)),
        ("uid", json!(s.uid)),
    ])
}

pub fn trigger_instance(i: &pb::TriggerInstance) -> Value {
    object(vec![
        ("id", json!(i.id)),
        ("trigger", json!(i.trigger)),
        ("payload", decoded(&i.payload_json)),
        ("occurrence_time", json!(i.occurrence_time)),
        ("status", json!(i.status)),
        ("source", if i.source.is_empty() { Value::Null } else { json!(i.source) }),
        ("trace_tag", if i.trace_tag.is_empty() { Value::Null } else { json!(i.trace_tag) }),
    ])
}

pub fn alias(a: &pb::Alias) -> Value {
    object(vec![
        ("ref", json!(a.r#ref)),
        ("pack", json!(a.pack)),
        ("name", json!(a.name)),
        ("description", json!(a.description)),
        ("enabled", json!(a.enabled)),
        ("action_ref", json!(a.action_ref)),
        ("formats", json!(a.formats)),
        ("metadata_file", json!(a.metadata_file)),
    ])
}

pub fn policy(p: &pb::Policy) -> Value {
    object(vec![
        ("ref", json!(p.r#ref)),
        ("pack", json!(p.pack)),
        ("name", json!(p.name)),
        ("description", json!(p.description)),
        ("enabled", json!(p.enabled)),
        ("resource_ref", json!(p.resource_ref)),
        ("policy_type", json!(p.policy_type)),
        ("parameters", decoded(&p.parameters_json)),
        ("metadata_file", json!(p.metadata_file)),
    ])
}

pub fn restart_component(r: &pb::RestartComponentReply) -> Value {
    json!({"component": r.component, "restarted": r.restarted})
}

pub fn reload_report(r: &pb::ReloadReport) -> Value {
    json!({
        "generation": r.generation,
        "finished_at": r.finished_at,
        "duration_micros": r.duration_micros,
        "trigger": r.trigger,
        "packs_loaded": r.packs_loaded,
        "packs_with_errors": r.packs_with_errors,
        "errors": r.errors,
        "actions": r.actions,
        "trigger_types": r.trigger_types,
        "rules": r.rules,
        "sensors": r.sensors,
        "packs_added": r.packs_added,
        "packs_removed": r.packs_removed,
        "packs_changed": r.packs_changed,
        "problems": r.problems,
    })
}

pub fn status(s: &pb::Status) -> Value {
    json!({
        "version": s.version,
        "pid": s.pid,
        "uptime_seconds": s.uptime_seconds,
        "packs_loaded": s.packs_loaded,
        "packs_with_errors": s.packs_with_errors,
        "actions": s.actions,
        "trigger_types": s.trigger_types,
        "rules": s.rules,
        "sensors": s.sensors,
        "sensors_running": s.sensors_running,
        "dispatches_accepted": s.dispatches_accepted,
        "dispatches_dropped": s.dispatches_dropped,
        "packs_dirs": s.packs_dirs,
        "socket": s.socket,
        "action_user": s.action_user,
        "last_reload": s.last_reload.as_ref().map(reload_report),
        "warm_interpreters": s.warm_interpreters.iter().map(|w| json!({
            "python": w.python,
            "kind": w.kind,
            "state": w.state,
            "pid": w.pid,
            "forks": w.forks,
            "restarts": w.restarts,
            "pack": w.pack,
            "preloaded": w.preloaded,
        })).collect::<Vec<_>>(),
    })
}

/// An execution as StackStorm's execution JSON shapes it: `action`, `rule` and
/// `trigger_instance` are objects (`ref`, `ref`, `id`); empty timestamps are null.
pub fn execution(e: &pb::Execution) -> Value {
    let optional = |text: &str| if text.is_empty() { Value::Null } else { json!(text) };
    let context = decoded(&e.context_json);
    let mut pairs = vec![
        ("id", json!(e.id)),
        ("action", json!({"ref": e.action, "runner_type": e.runner})),
        ("runner", json!({"name": e.runner})),
        ("status", json!(e.status)),
        (
            "parameters",
            match decoded(&e.parameters_json) {
                Value::Null => json!({}),
                other => other,
            },
        ),
        ("result", decoded(&e.result_json)),
        ("start_timestamp", optional(&e.start_timestamp)),
        ("end_timestamp", optional(&e.end_timestamp)),
        ("elapsed_seconds", json!(e.elapsed_seconds)),
        ("context", if context.is_null() { json!({"user": e.user}) } else { context }),
        (
            "log",
            match decoded(&e.log_json) {
                Value::Null => json!([]),
                other => other,
            },
        ),
    ];
    if !e.rule.is_empty() {
        pairs.push(("rule", json!({"ref": e.rule})));
    }
    if !e.trigger_instance.is_empty() {
        pairs.push(("trigger_instance", json!({"id": e.trigger_instance})));
    }
    if !e.trace_tag.is_empty() {
        pairs.push(("trace_tag", json!(e.trace_tag)));
    }
    if !e.parent.is_empty() {
        pairs.push(("parent", json!(e.parent)));
        pairs.push(("task", json!(e.task)));
    }
    if !e.children.is_empty() {
        pairs.push(("children", Value::Array(e.children.iter().map(execution).collect())));
    }
    object(pairs)
}

/// A rule enforcement, with StackStorm's field names.
pub fn rule_enforcement(r: &pb::RuleEnforcement) -> Value {
    let optional = |text: &str| if text.is_empty() { Value::Null } else { json!(text) };
    object(vec![
        ("id", json!(r.id)),
        ("rule", json!({"ref": r.rule})),
        ("trigger_instance_id", json!(r.trigger_instance)),
        ("execution_id", optional(&r.execution)),
        ("status", json!(r.status)),
        ("failure_reason", optional(&r.failure_reason)),
        ("enforced_at", json!(r.enforced_at)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_fields_are_decoded_and_renamed() {
        let action = pb::Action {
            r#ref: "demo.a".into(),
            pack: "demo".into(),
            parameters_json: r#"{"cmd":{"type":"string"}}"#.into(),
            ..Default::default()
        };
        let value = super::action(&action);
        assert_eq!(value["parameters"]["cmd"]["type"], "string");
        assert_eq!(value["output_schema"], Value::Null, "empty text is null");
        assert!(value.get("parameters_json").is_none());
    }

    #[test]
    fn packs_carry_their_ref_as_pack() {
        let pack = pb::Pack {
            r#ref: "demo".into(),
            errors: vec![pb::ContentError {
                file: "a.yaml".into(),
                line: 3,
                message: "bad".into(),
                kept_last_good: true,
            }],
            ..Default::default()
        };
        let value = super::pack(&pack);
        assert_eq!(value["pack"], "demo");
        assert_eq!(value["errors"][0]["line"], 3);
    }
}
