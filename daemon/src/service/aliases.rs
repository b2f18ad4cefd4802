//! Action aliases as the doors offer them (StackStorm's st2api/controllers/v1/actionalias.py
//! and aliasexecution.py): list and read the registry's aliases, match a command, help
//! strings, and alias executions: the command's parameters cast for the action, immutable
//! parameters added, one execution per parameter set through `executions::run`, with the
//! context StackStorm gives it (`action_alias_ref`, `api_user`, `user`, `source_channel`,
//! `notify`) and the `ack` message rendered. When an alias execution that asked for a
//! notification route completes, `result_announcement` is the ChatOps message StackStorm's
//! `chatops.post_result` posts.
//!
//! Owns: what an alias request means, the alias as templates and the API see it, and the ack
//! and result messages. Must not: match formats itself (`st2d_core::alias` does), change an
//! execution (the executor does), or format an answer for a door.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use st2d_core::alias::{self, HelpQuery, HelpString};
use st2d_core::pack::model::{Alias, ContentKind};
use st2d_core::template::{self, Context, TemplateError};

use super::catalog::{resource_id, uid};
use super::executions::{self, RunRequest};
use super::{Runtime, ServiceError};
use crate::announce::Announcement;
use crate::execution::Execution;
use crate::registry::Registry;

/// The route a ChatOps result is announced on (`chatops.post_result`'s default).
pub const CHATOPS_ROUTE: &str = "chatops";

/// How the doors show an execution to templates (`execution` in an ack or result format):
/// StackStorm's `ActionExecutionAPI`.
pub type ExecutionView<'a> = &'a (dyn Fn(&Registry, &Execution) -> Value + Send + Sync);

pub fn alias_id(alias: &Alias) -> String {
    resource_id(&alias_uid(alias))
}

fn alias_uid(alias: &Alias) -> String {
    uid("action_alias", Some(&alias.pack), &alias.name)
}

/// The alias as StackStorm's `ActionAliasAPI` shows it (and as ack and result formats read it).
pub fn shape(alias: &Alias) -> Value {
    let mut view = json!({
        "id": alias_id(alias),
        "uid": alias_uid(alias),
        "ref": alias.ref_,
        "name": alias.name,
        "pack": alias.pack,
        "description": alias.description,
        "enabled": alias.enabled,
        "action_ref": alias.action_ref,
        "formats": alias.formats_raw,
        "metadata_file": alias.metadata_file,
    });
    for (name, value) in [("ack", &alias.ack), ("result", &alias.result), ("extra", &alias.extra)] {
        if !value.is_null() {
            view[name] = value.clone();
        }
    }
    if !alias.immutable_parameters.is_empty() {
        view["immutable_parameters"] = Value::Object(alias.immutable_parameters.clone());
    }
    view
}

/// Which aliases a list asks for; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct AliasFilter {
    pub pack: String,
    pub name: String,
}

/// Aliases passing `filter`, by pack then name (StackStorm's sort).
pub fn list(registry: &Registry, filter: &AliasFilter) -> Vec<Arc<Alias>> {
    let mut found: Vec<Arc<Alias>> = registry
        .aliases(Some(filter.pack.as_str()).filter(|p| !p.is_empty()))
        .filter(|a| filter.name.is_empty() || a.name == filter.name)
        .cloned()
        .collect();
    found.sort_by(|a, b| (&a.pack, &a.name).cmp(&(&b.pack, &b.name)));
    found
}

/// The alias whose ref or id is `ref_or_id`.
pub fn get(registry: &Registry, ref_or_id: &str) -> Result<Arc<Alias>, ServiceError> {
    let wanted = ref_or_id.trim();
    if wanted.is_empty() {
        return Err(ServiceError::invalid("ref is required"));
    }
    registry
        .aliases(None)
        .find(|a| a.ref_ == wanted || alias_id(a) == wanted)
        .cloned()
        .ok_or_else(|| ServiceError::not_found(format!("Resource with a reference or id \"{wanted}\" not found")))
}

/// The format a command matched.
#[derive(Debug, Clone)]
pub struct Matched {
    pub alias: Arc<Alias>,
    pub display: Option<String>,
    pub representation: String,
    pub match_multiple: bool,
}

/// The one format of the enabled aliases `command` matches (`POST /actionalias/match`).
pub fn matching(registry: &Registry, command: &str) -> Result<Matched, ServiceError> {
    let ordered = registered(registry);
    let found = alias::matching(command, ordered.iter().map(|a| a.as_ref()))?;
    let alias = ordered.iter().find(|a| a.ref_ == found.alias.ref_).map(Arc::clone).ok_or_else(|| {
        ServiceError::internal(format!("alias {} matched but is not in the registry", found.alias.ref_))
    })?;
    Ok(Matched {
        display: found.display.map(str::to_string),
        representation: found.representation.to_string(),
        match_multiple: found.match_multiple,
        alias,
    })
}

/// The aliases of packs that register aliases (the others are listed, but StackStorm would not
/// know them), by pack then name.
fn registered(registry: &Registry) -> Vec<Arc<Alias>> {
    let mut aliases: Vec<Arc<Alias>> = registry
        .aliases(None)
        .filter(|a| registry.pack(&a.pack).is_some_and(|p| p.registers(ContentKind::Aliases)))
        .cloned()
        .collect();
    aliases.sort_by(|a, b| (&a.pack, &a.name).cmp(&(&b.pack, &b.name)));
    aliases
}

/// The parameters `command` gives by the format it matched (for showing a match).
pub fn matched_parameters(matched: &Matched, command: &str) -> Result<Vec<Map<String, Value>>, ServiceError> {
    Ok(alias::parameters(&matched.alias, &matched.representation, command, matched.match_multiple)?)
}

/// Help strings of the enabled aliases (`GET /actionalias/help`) and how many there are.
pub fn help(registry: &Registry, query: &HelpQuery) -> Result<(usize, Vec<HelpString>), ServiceError> {
    let ordered = registered(registry);
    Ok(alias::help(ordered.iter().map(|a| a.as_ref()), query)?)
}

/// An alias execution asked for (StackStorm's `AliasExecutionAPI`).
#[derive(Debug, Clone, Default)]
pub struct AliasRun {
    /// The alias's name (or ref).
    pub name: String,
    /// The format string the command matched; one of the alias's.
    pub format: String,
    pub command: String,
    /// Who asked in the chat (`api_user`).
    pub user: String,
    pub source_channel: String,
    pub source_context: Value,
    pub notification_channel: String,
    pub notification_route: String,
    /// Who the executions run as (the authenticated caller); empty means the system user.
    pub requester: String,
    /// Every occurrence of the format in the command is an execution.
    pub match_multiple: bool,
}

/// A command to match and execute (`AliasMatchAndExecuteInputAPI`).
#[derive(Debug, Clone, Default)]
pub struct MatchAndExecute {
    pub command: String,
    pub user: String,
    pub source_channel: String,
    pub notification_channel: String,
    pub notification_route: String,
    pub requester: String,
}

/// One execution an alias started, and its ack.
#[derive(Debug, Clone)]
pub struct AliasExecution {
    pub alias: Arc<Alias>,
    pub execution: Execution,
    /// The ack's `format` rendered (or why it did not render).
    pub message: Option<String>,
    /// The ack's `extra` rendered (or why it did not render).
    pub extra: Option<Value>,
}

/// `POST /aliasexecution/match_and_execute`: the matching alias's executions.
pub async fn match_and_execute(
    registry: &Registry,
    runtime: &Runtime,
    request: MatchAndExecute,
    view: ExecutionView<'_>,
) -> Result<Vec<AliasExecution>, ServiceError> {
    let matched = matching(registry, &request.command)?;
    let run = AliasRun {
        name: matched.alias.ref_.clone(),
        format: matched.representation,
        command: request.command,
        user: request.user,
        source_channel: request.source_channel,
        source_context: Value::Null,
        notification_channel: request.notification_channel,
        notification_route: request.notification_route,
        requester: request.requester,
        match_multiple: matched.match_multiple,
    };
    execute(registry, runtime, run, view).await
}

/// `POST /aliasexecution`: the alias's executions for `run.command` by `run.format`.
pub async fn execute(
    registry: &Registry,
    runtime: &Runtime,
    run: AliasRun,
    view: ExecutionView<'_>,
) -> Result<Vec<AliasExecution>, ServiceError> {
    let name = run.name.trim();
    if name.is_empty() {
        return Err(ServiceError::invalid("Alias execution \"name\" is required"));
    }
    let alias = registered(registry)
        .into_iter()
        .find(|a| a.name == name || a.ref_ == name)
        .ok_or_else(|| ServiceError::not_found(format!("Unable to identify action alias with name \"{name}\".")))?;
    if !alias.enabled {
        return Err(ServiceError::invalid(format!("Action alias with name \"{name}\" is disabled.")));
    }
    let sets = alias::parameters(&alias, &run.format, &run.command, run.match_multiple)?;
    let requester = super::acting_user(&run.requester).to_string();
    let mut context = Map::new();
    context.insert("action_alias_ref".into(), json!({"id": alias_id(&alias), "name": alias.name}));
    context.insert("api_user".into(), json!(run.user));
    context.insert("user".into(), json!(requester));
    context.insert("source_channel".into(), json!(run.source_channel));
    let immutable = immutable_parameters(runtime, &alias, &context, &requester)?;
    let route = Some(run.notification_route.trim())
        .filter(|r| !r.is_empty())
        .or(Some(run.notification_channel.trim()).filter(|c| !c.is_empty()));
    context.insert(
        "notify".into(),
        json!({"on_complete": {
            "routes": [route],
            "data": {"user": run.user, "source_channel": run.source_channel, "source_context": run.source_context},
        }}),
    );
    let action = registry.action(&alias.action_ref).cloned();
    let mut done = Vec::new();
    for mut parameters in sets {
        if let Some(overridden) = overridden(&immutable, &parameters) {
            return Err(ServiceError::invalid(format!("Immutable arguments cannot be overriden: {overridden}")));
        }
        parameters.extend(immutable.clone());
        let parameters = match &action {
            Some(action) => cast(&action.parameters.parse(), parameters)?,
            None => parameters,
        };
        let request = RunRequest {
            action: alias.action_ref.clone(),
            parameters,
            user: requester.clone(),
            trace_tag: None,
            context: context.clone(),
            // Cast above, as StackStorm's alias execution casts them before its API checks
            // them.
            typed: true,
        };
        let execution = executions::run(runtime, request).await?;
        let (message, extra) = ack(runtime, &alias, &view(registry, &execution), &requester);
        done.push(AliasExecution { alias: alias.clone(), execution, message, extra });
    }
    Ok(done)
}

/// The names of `immutable` a command also gave, comma-separated.
fn overridden(immutable: &Map<String, Value>, given: &Map<String, Value>) -> Option<String> {
    let names: Vec<&str> = immutable.keys().filter(|name| given.contains_key(*name)).map(String::as_str).collect();
    (!names.is_empty()).then(|| names.join(","))
}

/// The alias's immutable parameters rendered with the execution's context and `st2kv`.
fn immutable_parameters(
    runtime: &Runtime,
    alias: &Alias,
    context: &Map<String, Value>,
    user: &str,
) -> Result<Map<String, Value>, ServiceError> {
    let mut jinja = Context::new(runtime.executor.kv(), user);
    for (name, value) in context {
        jinja.set(name, value.clone());
    }
    alias
        .immutable_parameters
        .iter()
        .map(|(name, value)| {
            let rendered = template::render_value(value, &jinja).map_err(|error| {
                ServiceError::invalid(format!("immutable parameter \"{name}\" of alias {}: {error}", alias.ref_))
            })?;
            Ok((name.clone(), rendered))
        })
        .collect()
}

/// The parameters cast to the action's declared types as StackStorm's alias executions cast
/// them: an `array` from text is the text split at commas; other types as `util/casts.py`.
fn cast(schema: &Value, parameters: Map<String, Value>) -> Result<Map<String, Value>, ServiceError> {
    parameters
        .into_iter()
        .map(|(name, value)| {
            let declared = schema.get(&name).and_then(|s| s.get("type")).and_then(Value::as_str);
            let cast = match (declared, &value) {
                (Some("array"), Value::String(text)) => {
                    Ok(Value::Array(text.split(',').map(|item| Value::String(item.trim().to_string())).collect()))
                }
                _ => crate::action::params::cast_value(&name, declared, value.clone()),
            };
            let cast = cast.map_err(|error| {
                ServiceError::invalid(format!(
                    "Failed to cast value \"{}\" for parameter \"{name}\" of type \"{}\": {error}. Perhaps the value is of an invalid type?",
                    st2d_core::pyfmt::py_str(&value),
                    declared.unwrap_or_default()
                ))
            })?;
            Ok((name, cast))
        })
        .collect()
}

/// Jinja's message for a template that did not render: `'<name>' is undefined` when it read
/// a name its context lacks, as StackStorm shows it.
fn template_message(source: &str, context: &Context, error: TemplateError) -> String {
    let known: Vec<&str> = context.names().collect();
    let missing = template::variables(source)
        .ok()
        .and_then(|names| names.into_iter().filter(|name| !known.contains(&name.as_str())).min());
    match missing {
        Some(name) => format!("'{name}' is undefined"),
        None => error.to_string(),
    }
}

/// The ack of one alias execution: `ack.format` and `ack.extra` rendered with `execution` and
/// `actionalias`; a template that does not render gives StackStorm's message in its place.
fn ack(runtime: &Runtime, alias: &Alias, execution: &Value, user: &str) -> (Option<String>, Option<Value>) {
    let Some(ack) = alias.ack.as_object().filter(|ack| !ack.is_empty()) else { return (None, None) };
    let context = Context::new(runtime.executor.kv(), user)
        .with("execution", execution.clone())
        .with("actionalias", shape(alias));
    let message = ack.get("format").map(|format| {
        let source = format.as_str().map(str::to_string).unwrap_or_else(|| st2d_core::pyfmt::py_str(format));
        template::render(&source, &context).unwrap_or_else(|error| {
            format!(
                "Cannot render \"format\" in field \"ack\" for alias. {}",
                template_message(&source, &context, error)
            )
        })
    });
    let extra = ack.get("extra").map(|extra| {
        template::render_value(extra, &context).unwrap_or_else(|error| {
            Value::String(format!(
                "Cannot render \"extra\" in field \"ack\" for alias. {}",
                template_message(&extra.to_string(), &context, error)
            ))
        })
    });
    (message, extra)
}

/// What StackStorm's `chatops.format_execution_result` renders when an alias has no
/// `result.format` (its templates/default.j2); `shown` is the part of the result it shows.
const DEFAULT_RESULT: &str = r#"{%- macro serialize(value, prefix='') -%}
{% for key, item in value | items %}
{{ prefix }}{{ key }} : {% if item is mapping %}
{{ serialize(item, prefix + '  ') }}{% else %}{{ item | string | trim }}
{% endif %}
{% endfor %}
{%- endmacro -%}
Action {{ execution.action.ref }} completed.
status : {{ execution.status }}
execution: {{ execution.id }}
{% if execution.elapsed_seconds %}
Took {{ execution.elapsed_seconds | to_human_time_from_seconds }} to complete.
{% endif %}
{% if execution.result %}
result :
--------
{% if shown is mapping %}
{{ serialize(shown) }}
{%- else %}
{{ shown }}
{% endif %}
{% endif %}"#;

/// The part of a result default.j2 shows for `runner`: the keys it names for the runner that
/// have a value (Python's truthiness), per host for remote commands, all of it otherwise.
fn shown_result(runner: &str, result: &Value) -> Value {
    fn keep(value: &Value, keys: &[&str]) -> Value {
        let Some(map) = value.as_object() else { return value.clone() };
        let kept = map.iter().filter(|(key, item)| keys.contains(&key.as_str()) && st2d_core::pyfmt::truthy(item));
        Value::Object(kept.map(|(key, item)| (key.clone(), item.clone())).collect())
    }
    const SHELL: &[&str] = &["stdout", "stderr", "return_code", "error"];
    match runner {
        "python-script" | "windows-cmd" | "windows-script" => {
            keep(result, &["result", "stdout", "stderr", "exit_code"])
        }
        "local-shell-cmd" | "local-shell-script" => keep(result, SHELL),
        "remote-shell-cmd" | "remote-shell-script" => match result.as_object() {
            Some(hosts) => {
                Value::Object(hosts.iter().map(|(host, value)| (host.clone(), keep(value, SHELL))).collect())
            }
            None => result.clone(),
        },
        _ => result.clone(),
    }
}

/// The ChatOps announcement StackStorm posts when alias execution `execution` completes
/// (the notify trigger, the `chatops.notify` rule and `chatops.post_result`): the alias's
/// `result.format` (or the default) rendered with `execution` and `alias`, to the chat user
/// and channel the command came from. `None` when the execution is not an alias execution
/// with a notification route, or its alias has `result.enabled: false`.
pub fn result_announcement(
    registry: &Registry,
    runtime: &Runtime,
    execution: &Execution,
    view: ExecutionView<'_>,
) -> Option<Announcement> {
    if !execution.status.is_completed() {
        return None;
    }
    let context = &execution.context;
    let on_complete = context.get("notify")?.get("on_complete")?;
    let routed = on_complete.get("routes")?.as_array()?.iter().any(|r| r.as_str().is_some_and(|r| !r.is_empty()));
    if !routed {
        return None;
    }
    let alias_id_wanted = context.get("action_alias_ref")?.get("id")?.as_str()?;
    let alias = registry.aliases(None).find(|a| alias_id(a) == alias_id_wanted)?;
    let result = alias.result.as_object();
    if result.and_then(|r| r.get("enabled")).and_then(Value::as_bool) == Some(false) {
        return None;
    }
    let mut shown = view(registry, execution);
    if let Some(map) = shown.as_object_mut() {
        for hidden in ["trigger", "trigger_type", "trigger_instance", "liveaction"] {
            map.remove(hidden);
        }
    }
    let mut jinja =
        Context::new(runtime.executor.kv(), &execution.user).with("execution", shown).with("alias", shape(alias));
    let source = match result.and_then(|r| r.get("format")).and_then(Value::as_str) {
        Some(format) => format.to_string(),
        None => {
            let result = execution.result.clone().unwrap_or(Value::Null);
            jinja.set("shown", shown_result(&execution.runner, &result));
            DEFAULT_RESULT.to_string()
        }
    };
    let message = template::render(&source, &jinja).unwrap_or_else(|error| {
        format!("Cannot render \"format\" in field \"result\" for alias. {}", template_message(&source, &jinja, error))
    });
    let extra = match result.and_then(|r| r.get("extra")) {
        Some(extra) => template::render_value(extra, &jinja).unwrap_or_else(|error| Value::String(error.to_string())),
        None => json!({}),
    };
    let data = on_complete.get("data").cloned().unwrap_or(Value::Null);
    let field = |name: &str| data.get(name).cloned().unwrap_or(Value::Null);
    let payload = json!({
        "user": field("user"),
        "whisper": false,
        "message": message,
        "channel": field("source_channel"),
        "context": field("source_context"),
        "extra": extra,
    });
    let trace_context = context.get("trace_context").cloned().unwrap_or(Value::Null);
    Some(Announcement { route: CHATOPS_ROUTE.to_string(), payload, trace_context })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn params(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn parameters_are_cast_as_alias_executions_cast_them() {
        let schema = json!({"hosts": {"type": "array"}, "count": {"type": "integer"}, "name": {"type": "string"}});
        let done = cast(&schema, params(json!({"hosts": "a, b ,c", "count": "3", "name": "x", "other": "7"})));
        assert_eq!(
            Value::Object(done.expect("cast")),
            json!({"hosts": ["a", "b", "c"], "count": 3, "name": "x", "other": "7"})
        );
        let already = cast(&schema, params(json!({"hosts": ["one"]}))).expect("a list stays");
        assert_eq!(already["hosts"], json!(["one"]));
        let error = cast(&schema, params(json!({"count": "many"}))).expect_err("not a number");
        assert!(
            error.to_string().starts_with("Failed to cast value \"many\" for parameter \"count\" of type \"integer\"")
        );
    }

    #[test]
    fn immutable_parameters_cannot_be_given() {
        let immutable = params(json!({"env": "dev", "region": "eu"}));
        assert_eq!(overridden(&immutable, &params(json!({"a": 1}))), None);
        assert_eq!(overridden(&immutable, &params(json!({"region": 1, "env": 2}))).as_deref(), Some("env,region"));
    }

    #[test]
    fn the_default_result_shows_what_stackstorms_template_shows() {
        let local = json!({"stdout": "hi", "stderr": "", "return_code": 0, "succeeded": true});
        assert_eq!(shown_result("local-shell-cmd", &local), json!({"stdout": "hi"}));
        let python = json!({"result": {"a": 1}, "stdout": "", "exit_code": 1});
        assert_eq!(shown_result("python-script", &python), json!({"result": {"a": 1}, "exit_code": 1}));
        let remote = json!({"h1": {"stdout": "up", "stderr": "", "return_code": 0, "succeeded": true}});
        assert_eq!(shown_result("remote-shell-cmd", &remote), json!({"h1": {"stdout": "up"}}));
        let http = json!({"status_code": 200, "body": ""});
        assert_eq!(shown_result("http-request", &http), http);
    }

    #[test]
    fn undefined_names_read_as_jinja_says_them() {
        let context =
            Context::new(std::sync::Arc::new(st2d_core::template::NoKeyValues), "u").with("execution", json!({}));
        let source = "Ran command *{{cmd}}* on hosts.";
        let error = template::render(source, &context).expect_err("cmd is undefined");
        assert_eq!(template_message(source, &context, error), "'cmd' is undefined");
    }
}
