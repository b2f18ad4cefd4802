//! The JSON of StackStorm's API models (st2common/models/api): how a pack, an action, a runner
//! type, a trigger type, a trigger, a trigger instance, a rule (and its view), a rule
//! enforcement (and its view), a sensor, a policy, a policy type, an execution, an inquiry, a
//! key-value pair, a token, a pack config and its schema and a pack index status look to
//! StackStorm's clients.
//!
//! Owns: those shapes. Must not: decide which resources are shown (the service layer does).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use st2d_core::pack::model::{Action, Policy, Rule, Sensor, TriggerType};
use st2d_core::pack::runners::Runner;

use crate::auth::IssuedToken;
use crate::datastore::{Item, Scope};
use crate::execution::enforcement::Enforcement;
use crate::execution::{Execution, mask_secrets};
use crate::packmgmt::index::IndexStatus;
use crate::policy::types::PolicyType;
use crate::registry::{PackEntry, Registry};
use crate::sensor::Standing;
use crate::service::catalog::{
    self, action_id, pack_id, policy_id, policy_type_id, rule_id, runner_id, sensor_id, trigger_id, trigger_type_id,
};
use crate::service::packs::{ConfigSchema, PackConfig};
use crate::trigger::TriggerInstance;
use crate::trigger::triggers::Trigger;

/// StackStorm's timestamps: microseconds, UTC, `Z`.
pub fn timestamp(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn action(action: &Action) -> Value {
    json!({
        "id": action_id(action),
        "uid": catalog::uid("action", Some(&action.pack), &action.name),
        "ref": action.ref_,
        "name": action.name,
        "pack": action.pack,
        "description": action.description,
        "enabled": action.enabled,
        "entry_point": action.entry_point,
        "runner_type": action.runner_type,
        "parameters": action.parameters.own(),
        "output_schema": action.output_schema,
        "tags": if action.tags.is_null() { json!([]) } else { action.tags.clone() },
        "notify": if action.notify.is_null() { json!({}) } else { action.notify.clone() },
        "metadata_file": action.metadata_file,
    })
}

pub fn pack(pack: &PackEntry) -> Value {
    let meta = pack.content.as_ref().map(|c| &c.meta);
    let raw = meta.map(|m| &m.raw);
    let field = |name: &str| raw.and_then(|r| r.get(name)).cloned();
    json!({
        "id": pack_id(pack),
        "uid": catalog::uid("pack", None, &pack.ref_),
        "ref": pack.ref_,
        "name": meta.map(|m| m.name.as_str()).unwrap_or(&pack.ref_),
        "description": meta.map(|m| m.description.as_str()).unwrap_or_default(),
        "keywords": meta.map(|m| m.keywords.clone()).unwrap_or_default(),
        "version": meta.map(|m| m.version.as_str()).unwrap_or_default(),
        "author": meta.map(|m| m.author.as_str()).unwrap_or_default(),
        "email": meta.map(|m| m.email.as_str()).unwrap_or_default(),
        "contributors": field("contributors").unwrap_or_else(|| json!([])),
        "dependencies": meta.map(|m| m.dependencies.clone()).unwrap_or_default(),
        "stackstorm_version": field("stackstorm_version").unwrap_or(Value::Null),
        "python_versions": field("python_versions").unwrap_or_else(|| json!([])),
        "system": {},
        "path": pack.dir.display().to_string(),
    })
}

/// A pack's config schema as `ConfigSchemaAPI` shows it.
pub fn config_schema(schema: &ConfigSchema) -> Value {
    json!({
        "id": catalog::resource_id(&catalog::uid("config_schema", None, &schema.pack)),
        "pack": schema.pack,
        "attributes": schema.attributes,
    })
}

/// A pack's config as `ConfigAPI` shows it.
pub fn pack_config(config: &PackConfig) -> Value {
    json!({
        "id": catalog::resource_id(&catalog::uid("config", None, &config.pack)),
        "pack": config.pack,
        "values": config.values,
    })
}

/// How one index read, as StackStorm's `fetch_pack_index` reports it.
pub fn index_status(status: &IndexStatus) -> Value {
    json!({"url": status.url, "packs": status.packs, "message": status.message, "error": status.error})
}

pub fn trigger_type(trigger_type: &TriggerType) -> Value {
    json!({
        "id": trigger_type_id(trigger_type),
        "uid": catalog::uid("trigger_type", Some(&trigger_type.pack), &trigger_type.name),
        "ref": trigger_type.ref_,
        "name": trigger_type.name,
        "pack": trigger_type.pack,
        "description": trigger_type.description,
        "payload_schema": trigger_type.payload_schema,
        "parameters_schema": trigger_type.parameters_schema,
        "tags": if trigger_type.tags.is_null() { json!([]) } else { trigger_type.tags.clone() },
        "metadata_file": trigger_type.metadata_file,
    })
}

pub fn rule(registry: &Registry, rule: &Rule) -> Value {
    let trigger = crate::trigger::triggers::of_rule(rule);
    json!({
        "id": rule_id(rule),
        "uid": catalog::uid("rule", Some(&rule.pack), &rule.name),
        "ref": rule.ref_,
        "name": rule.name,
        "pack": rule.pack,
        "description": rule.description,
        "enabled": registry.rule_enabled(rule),
        "trigger": {"type": rule.trigger_type, "ref": trigger.ref_, "parameters": rule.trigger_parameters},
        "criteria": rule.criteria,
        "action": {"ref": rule.action_ref, "parameters": rule.action_parameters},
        "type": {"ref": rule.rule_type.as_str(), "parameters": {}},
        "tags": if rule.tags.is_null() { json!([]) } else { rule.tags.clone() },
        "context": if rule.context.is_null() { json!({}) } else { rule.context.clone() },
        "metadata_file": rule.metadata_file,
    })
}

/// A rule as `/rules/views` shows it: the action's and the trigger's descriptions added (the
/// trigger's is its type's, as st2d's triggers have none of their own).
pub fn rule_view(registry: &Registry, rule: &Rule) -> Value {
    let mut view = self::rule(registry, rule);
    let action = registry.action(&rule.action_ref).map(|a| a.description.clone()).unwrap_or_default();
    let trigger = registry.trigger_type(&rule.trigger_type).map(|t| t.description.clone()).unwrap_or_default();
    view["action"]["description"] = json!(action);
    view["trigger"]["description"] = json!(trigger);
    view
}

/// A trigger as `TriggerAPI` shows it.
pub fn trigger(trigger: &Trigger) -> Value {
    let (pack, name) = trigger.pack_and_name();
    json!({
        "id": trigger_id(trigger),
        "uid": trigger.uid(),
        "ref": trigger.ref_,
        "name": name,
        "pack": pack,
        "type": trigger.type_ref,
        "parameters": trigger.parameters,
        "description": "",
    })
}

/// A trigger instance as `TriggerInstanceAPI` shows it.
pub fn trigger_instance(instance: &TriggerInstance) -> Value {
    json!({
        "id": instance.id,
        "trigger": instance.trigger,
        "occurrence_time": timestamp(&instance.occurrence_time),
        "payload": instance.payload,
        "status": instance.status,
    })
}

/// A rule enforcement as `RuleEnforcementAPI` shows it.
pub fn enforcement(enforcement: &Enforcement) -> Value {
    let (pack, name) = enforcement.rule.split_once('.').unwrap_or(("", &enforcement.rule));
    let mut view = json!({
        "id": enforcement.id,
        "rule": {
            "ref": enforcement.rule,
            "id": catalog::rule_id_of(&enforcement.rule),
            "uid": catalog::uid("rule", Some(pack), name),
        },
        "trigger_instance_id": enforcement.trigger_instance,
        "failure_reason": enforcement.failure_reason.clone().unwrap_or_default(),
        "enforced_at": timestamp(&enforcement.enforced_at),
        "status": enforcement.status,
    });
    if let Some(execution) = &enforcement.execution {
        view["execution_id"] = json!(execution);
    }
    view
}

/// A rule enforcement as `/ruleenforcements/views` shows it: its trigger instance and a part of
/// its execution (`{}` when there is none) embedded.
pub fn enforcement_view(
    enforcement: &Enforcement,
    instance: Option<&TriggerInstance>,
    execution: Option<&Execution>,
) -> Value {
    let mut view = self::enforcement(enforcement);
    view["trigger_instance"] = instance.map(trigger_instance).unwrap_or_else(|| json!({}));
    view["execution"] = execution
        .map(|e| {
            let runner = catalog::runner(&e.runner).map(|r| r.parameters.clone()).unwrap_or_default();
            json!({
                "id": e.id,
                "action": {"ref": e.action, "parameters": e.parameters},
                "runner": {"name": e.runner, "runner_parameters": runner},
                "parameters": e.parameters,
                "status": e.status.as_str(),
            })
        })
        .unwrap_or_else(|| json!({}));
    view
}

/// A sensor as `SensorTypeAPI` shows it, with whether it is enabled as the supervisor sees it.
pub fn sensor(sensor: &Sensor, standing: &Standing) -> Value {
    json!({
        "id": sensor_id(sensor),
        "uid": catalog::uid("sensor_type", Some(&sensor.pack), &sensor.class_name),
        "ref": sensor.ref_,
        "name": sensor.class_name,
        "class_name": sensor.class_name,
        "pack": sensor.pack,
        "description": sensor.description,
        "artifact_uri": format!("file://{}", sensor.entry_point_path.display()),
        "entry_point": sensor.entry_point,
        "enabled": standing.enabled,
        "trigger_types": sensor.trigger_types,
        "poll_interval": sensor.poll_interval,
        "metadata_file": sensor.metadata_file,
    })
}

/// A policy as `PolicyAPI` shows it.
pub fn policy(policy: &Policy) -> Value {
    json!({
        "id": policy_id(policy),
        "uid": catalog::uid("policy", Some(&policy.pack), &policy.name),
        "ref": policy.ref_,
        "name": policy.name,
        "pack": policy.pack,
        "description": policy.description,
        "enabled": policy.enabled,
        "resource_ref": policy.resource_ref,
        "policy_type": policy.policy_type,
        "parameters": if policy.parameters.is_null() { json!({}) } else { policy.parameters.clone() },
        "metadata_file": policy.metadata_file,
    })
}

/// A policy type as `PolicyTypeAPI` shows it.
pub fn policy_type(policy_type: &PolicyType) -> Value {
    json!({
        "id": policy_type_id(policy_type),
        "uid": catalog::uid("policy_type", Some(policy_type.resource_type), policy_type.name),
        "ref": policy_type.ref_,
        "name": policy_type.name,
        "resource_type": policy_type.resource_type,
        "description": policy_type.description,
        "enabled": true,
        "module": policy_type.module,
        "parameters": policy_type.parameters,
    })
}

/// An inquiry as `InquiryResponseAPI` shows it: its id, route, schema, users, roles, TTL.
pub fn inquiry(execution: &Execution) -> Value {
    let view = crate::action::inquiry::view(execution);
    json!({
        "id": execution.id,
        "route": view["route"],
        "ttl": view["ttl"],
        "users": view["users"],
        "roles": view["roles"],
        "schema": view["schema"],
        "parent": execution.parent,
    })
}

pub fn runner(runner: &Runner) -> Value {
    json!({
        "id": runner_id(runner),
        "uid": catalog::uid("runner_type", None, &runner.name),
        "name": runner.name,
        "description": "",
        "enabled": true,
        "runner_package": runner.name.replace('-', "_"),
        "runner_module": runner.name.replace('-', "_"),
        "runner_parameters": runner.parameters,
        "output_key": "",
        "output_schema": {},
    })
}

/// An execution as `ActionExecutionAPI` shows it: the action and runner embedded, secret
/// parameters masked unless `show_secrets`, `children` as ids.
pub fn execution(registry: &Registry, execution: &Execution, children: &[String], show_secrets: bool) -> Value {
    let action = registry.action(&execution.action);
    let schema = action.map(|a| a.parameters.parse()).unwrap_or(Value::Null);
    let parameters =
        if show_secrets { execution.parameters.clone() } else { mask_secrets(&execution.parameters, &schema) };
    let action_view = match action {
        Some(action) => self::action(action),
        None => {
            let (pack, name) = execution.action.split_once('.').unwrap_or(("", &execution.action));
            json!({"ref": execution.action, "pack": pack, "name": name, "runner_type": execution.runner})
        }
    };
    let runner_view =
        catalog::runner(&execution.runner).map(runner).unwrap_or_else(|_| json!({"name": execution.runner}));
    let mut view = Map::new();
    view.insert("id".into(), json!(execution.id));
    view.insert("action".into(), action_view);
    view.insert("runner".into(), runner_view);
    view.insert(
        "liveaction".into(),
        json!({
            "id": execution.id,
            "action": execution.action,
            "parameters": parameters,
            "status": execution.status.as_str(),
            "context": execution.context,
            "runner_info": {},
            "callback": {},
            "action_is_workflow": matches!(execution.runner.as_str(), "orquesta" | "action-chain"),
        }),
    );
    view.insert("status".into(), json!(execution.status.as_str()));
    view.insert("parameters".into(), Value::Object(parameters));
    view.insert("context".into(), context(execution));
    view.insert("start_timestamp".into(), json!(timestamp(&execution.start_timestamp)));
    if let Some(end) = &execution.end_timestamp {
        view.insert("end_timestamp".into(), json!(timestamp(end)));
    }
    view.insert("elapsed_seconds".into(), json!(execution.elapsed_seconds()));
    if let Some(result) = &execution.result {
        view.insert("result".into(), result.clone());
    }
    let log: Vec<Value> = execution
        .log
        .iter()
        .map(|entry| json!({"status": entry.status.as_str(), "timestamp": timestamp(&entry.timestamp)}))
        .collect();
    view.insert("log".into(), Value::Array(log));
    if let Some(parent) = &execution.parent {
        view.insert("parent".into(), json!(parent));
    }
    view.insert("children".into(), json!(children));
    if let Some(rule) = &execution.rule {
        view.insert("rule".into(), json!({"ref": rule}));
    }
    if let Some(instance) = &execution.trigger_instance {
        view.insert("trigger_instance".into(), json!({"id": instance}));
    }
    Value::Object(view)
}

/// The context with the user StackStorm always puts there.
fn context(execution: &Execution) -> Value {
    let mut context = match &execution.context {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    context.entry("user").or_insert_with(|| json!(execution.user));
    Value::Object(context)
}

pub fn key(item: &Item) -> Value {
    let mut view = json!({
        "id": format!("{}:{}", item.scope.name(), item.name),
        "uid": format!("key_value_pair:{}:{}", item.scope.name(), item.name),
        "name": item.name,
        "value": item.value,
        "secret": item.secret,
        "encrypted": item.encrypted,
        "scope": item.scope.name(),
    });
    if let Some(expire) = &item.expire_timestamp {
        view["expire_timestamp"] = json!(timestamp(expire));
    }
    if let Scope::User(user) = &item.scope {
        view["user"] = json!(user);
    }
    view
}

pub fn token(issued: &IssuedToken) -> Value {
    json!({
        "id": issued.record.id,
        "user": issued.record.user,
        "token": issued.token,
        "expiry": timestamp(&issued.record.expiry),
        "metadata": if issued.record.metadata.is_null() { json!({}) } else { issued.record.metadata.clone() },
    })
}
