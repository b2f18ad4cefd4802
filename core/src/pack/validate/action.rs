//! Action metadata (ST2-COMPAT.md 2.1): fields, parameter schemas, positions, immutables and
//! the runner parameters an action may override; an Orquesta action's definition, read with
//! it (a file that is not a YAML mapping refuses the action; one that reads but fails
//! inspection is kept with its problems, as StackStorm registers it).
//!
//! Owns: what makes an action file valid and its effective parameter schema.
//! Must not: run or render anything.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::{FileCtx, check_pack_field};
use crate::orquesta::spec::WorkflowSpec;
use crate::pack::fields::{FieldError, Fields, type_name};
use crate::pack::model::{Action, ActionParameters, resource_ref};
use crate::pack::runners::{self, Resolved};

const FIELDS: &[&str] = &[
    "name",
    "runner_type",
    "description",
    "enabled",
    "entry_point",
    "pack",
    "parameters",
    "output_schema",
    "tags",
    "notify",
    "metadata_file",
    "ref",
    "uid",
    "id",
];

/// Attributes a parameter may have: draft-4 JSON schema plus StackStorm's own.
const PARAMETER_ATTRIBUTES: &[&str] = &[
    "type",
    "description",
    "default",
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "items",
    "additionalItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "properties",
    "patternProperties",
    "additionalProperties",
    "minProperties",
    "maxProperties",
    "dependencies",
    "anyOf",
    "oneOf",
    "allOf",
    "not",
    "title",
    "definitions",
    "$schema",
    "$ref",
    "id",
    "required",
    "secret",
    "immutable",
    "position",
];

const TYPES: &[&str] = &["array", "boolean", "integer", "null", "number", "object", "string"];

/// Attributes of a runner parameter that an action may change.
const OVERRIDABLE: &[&str] = &["default", "description", "enum", "immutable", "required"];

/// A valid action file: its action, and why its Orquesta definition cannot run when it reads
/// but fails (StackStorm registers such an action all the same; each run of it fails with
/// Orquesta's inspection errors).
#[derive(Debug)]
pub struct ValidAction {
    pub action: Action,
    /// One line per problem, naming the definition file, the line and the field
    /// (`actions/workflows/x.yaml:10: tasks.t1.input: ...`); empty when it can run.
    pub workflow_problems: Vec<String>,
}

/// Validates one action file.
pub fn action(doc: &Value, ctx: &FileCtx<'_>, warnings: &mut Vec<String>) -> Result<ValidAction, FieldError> {
    let fields = Fields::new(doc, "")?;
    fields.reject_unknown(FIELDS)?;
    check_pack_field(&fields, ctx)?;
    let name = fields.required_str("name")?;
    let runner_name = fields.required_str("runner_type")?;
    let runner = match runners::resolve(&runner_name) {
        Some(Resolved::Current(runner)) => runner,
        Some(Resolved::Legacy(runner)) => {
            warnings.push(format!("{}: runner \"{runner_name}\" is a legacy name of \"{}\"", ctx.file, runner.name));
            runner
        }
        None => {
            return Err(FieldError::new(
                "runner_type",
                format!("runner \"{runner_name}\" does not exist (known runners: {})", runners::names().join(", ")),
            ));
        }
    };
    let entry_point = fields.text("entry_point")?;
    if entry_point.starts_with('/') && !std::path::Path::new(&entry_point).starts_with(ctx.pack_dir) {
        return Err(FieldError::new(
            "entry_point",
            format!("entry_point \"{entry_point}\" is outside the pack directory"),
        ));
    }
    let (workflow, workflow_problems) =
        if runner.name == "orquesta" { read_workflow(ctx.pack_dir, &entry_point)? } else { (None, Vec::new()) };
    let declared = fields.mapping("parameters")?;
    check_parameters(&declared)?;
    check_positions(&declared)?;
    let parameters = merge_with_runner(&declared, &runner.parameters)?;
    let action = Action {
        ref_: resource_ref(ctx.pack, &name),
        pack: ctx.pack.to_string(),
        name,
        description: fields.text("description")?,
        runner_type: runner.name.clone(),
        enabled: fields.bool_or("enabled", true)?,
        entry_point,
        parameters: ActionParameters::new(&runner.parameters, &parameters),
        output_schema: fields.get("output_schema").cloned().unwrap_or(Value::Null),
        tags: fields.get("tags").cloned().unwrap_or(Value::Null),
        notify: fields.get("notify").cloned().unwrap_or(Value::Null),
        metadata_file: ctx.file.to_string(),
        workflow,
    };
    Ok(ValidAction { action, workflow_problems })
}

/// Whether an action can run as far as its definition goes: any action but an Orquesta one,
/// and an Orquesta one whose definition was read and has no problem (the loader keeps such a
/// version when the file's new one fails).
pub fn definition_runs(action: &Action) -> bool {
    action.runner_type != "orquesta"
        || action.workflow.as_deref().is_some_and(|document| WorkflowSpec::problems(document).is_empty())
}

/// An Orquesta action's definition, read with the action: a file that cannot be read or is
/// not a YAML mapping is refused with the action (StackStorm cannot load it either); one that
/// reads but fails is kept with its problems, each a line naming the file, line and field. A
/// definition file that is not there yet is left for the run to report.
fn read_workflow(pack_dir: &Path, entry_point: &str) -> Result<(Option<Arc<Value>>, Vec<String>), FieldError> {
    let path = pack_dir.join("actions").join(entry_point);
    if entry_point.is_empty() || !path.is_file() {
        return Ok((None, Vec::new()));
    }
    let shown = path.display().to_string();
    let relative = path.strip_prefix(pack_dir).map(|p| p.display().to_string()).unwrap_or(shown.clone());
    let (text, document) = WorkflowSpec::read_document(&path)
        .map_err(|error| FieldError::new("entry_point", error.to_string().replacen(&shown, &relative, 1)))?;
    let problems = WorkflowSpec::problems(&document)
        .into_iter()
        .map(|problem| {
            let field = problem.field.as_deref().map(|field| written_field(&document, field));
            match field.and_then(|field| crate::yaml::field_line(&text, &field)) {
                Some(line) => format!("{relative}:{line}: {}", problem.text),
                None => format!("{relative}: {}", problem.text),
            }
        })
        .collect();
    Ok((Some(Arc::new(document)), problems))
}

/// The part of `field` (`tasks.t1.input.x`) the definition writes, to find its line: up to
/// the deepest key it has; a task's input given by its action's shorthand is on `action`.
fn written_field(document: &Value, field: &str) -> String {
    let mut written: Vec<&str> = Vec::new();
    let mut at = document;
    for segment in field.split('.') {
        let mut parts = segment.split('[');
        let key = parts.next().unwrap_or(segment);
        let indexed = at.get(key).and_then(|value| {
            parts.try_fold(value, |value, index| value.get(index.trim_end_matches(']').parse::<usize>().ok()?))
        });
        match indexed {
            Some(value) => {
                written.push(segment);
                at = value;
            }
            None if key == "input" && at.get("action").is_some() => {
                written.push("action");
                break;
            }
            None => break,
        }
    }
    written.join(".")
}

fn is_word(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_')
}

fn check_parameters(declared: &Map<String, Value>) -> Result<(), FieldError> {
    for (name, schema) in declared {
        let path = format!("parameters.{name}");
        if !is_word(name) {
            return Err(FieldError::new(
                path,
                format!("parameter name \"{name}\" is invalid: only letters, digits and underscores are allowed"),
            ));
        }
        let param = Fields::new(schema, &path)?;
        if let Some(attribute) = param.unknown_keys(PARAMETER_ATTRIBUTES).first() {
            return Err(FieldError::new(
                format!("{path}.{attribute}"),
                format!("parameter \"{name}\" has an unknown attribute \"{attribute}\""),
            ));
        }
        if let Some(kind) = param.get("type") {
            let valid = match kind {
                Value::String(t) => TYPES.contains(&t.as_str()),
                Value::Array(ts) => ts.iter().all(|t| t.as_str().is_some_and(|t| TYPES.contains(&t))),
                _ => false,
            };
            if !valid {
                return Err(FieldError::new(
                    format!("{path}.type"),
                    format!("parameter \"{name}\" has type {kind}, which is not one of {}", TYPES.join(", ")),
                ));
            }
        }
        for flag in ["required", "secret", "immutable"] {
            if let Some(value) = param.get(flag).filter(|v| !v.is_boolean()) {
                return Err(FieldError::new(
                    format!("{path}.{flag}"),
                    format!(
                        "attribute \"{flag}\" of parameter \"{name}\" must be a boolean, found {}",
                        type_name(value)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Positions must be whole numbers, unique, and without gaps.
fn check_positions(declared: &Map<String, Value>) -> Result<(), FieldError> {
    let mut positions: Vec<(u64, &str)> = Vec::new();
    for (name, schema) in declared {
        let Some(position) = schema.get("position").filter(|v| !v.is_null()) else {
            continue;
        };
        let whole =
            position.as_u64().or_else(|| position.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64));
        match whole {
            Some(p) => positions.push((p, name)),
            None => {
                return Err(FieldError::new(
                    format!("parameters.{name}.position"),
                    format!("position of parameter \"{name}\" must be a whole number >= 0, found {position}"),
                ));
            }
        }
    }
    positions.sort_unstable();
    for pair in positions.windows(2) {
        let ((a, a_name), (b, b_name)) = (pair[0], pair[1]);
        if a == b {
            return Err(FieldError::new(
                format!("parameters.{b_name}.position"),
                format!("parameters \"{a_name}\" and \"{b_name}\" have the same position {a}"),
            ));
        }
        if b != a + 1 {
            return Err(FieldError::new(
                format!("parameters.{b_name}.position"),
                format!("positions are not contiguous: {a} (\"{a_name}\") is followed by {b} (\"{b_name}\")"),
            ));
        }
    }
    Ok(())
}

/// The effective parameters: the runner's, deep-merged with the action's (which may only change
/// the overridable attributes of a runner parameter).
fn merge_with_runner(
    declared: &Map<String, Value>,
    runner: &Map<String, Value>,
) -> Result<Map<String, Value>, FieldError> {
    let mut merged = runner.clone();
    for (name, schema) in declared {
        let path = format!("parameters.{name}");
        let Some(runner_schema) = runner.get(name) else {
            check_immutable_has_default(name, schema, None)?;
            merged.insert(name.clone(), schema.clone());
            continue;
        };
        let (Some(action_attrs), Some(runner_attrs)) = (schema.as_object(), runner_schema.as_object()) else {
            continue;
        };
        for (attribute, value) in action_attrs {
            if OVERRIDABLE.contains(&attribute.as_str()) {
                continue;
            }
            if runner_attrs.get(attribute) != Some(value) {
                return Err(FieldError::new(
                    format!("{path}.{attribute}"),
                    format!(
                        "attribute \"{attribute}\" of runner parameter \"{name}\" cannot be overridden (only {} can)",
                        OVERRIDABLE.join(", ")
                    ),
                ));
            }
        }
        if runner_attrs.get("immutable") == Some(&Value::Bool(true)) && action_attrs.contains_key("immutable") {
            return Err(FieldError::new(
                format!("{path}.immutable"),
                format!("runner parameter \"{name}\" is immutable; the action cannot re-declare \"immutable\""),
            ));
        }
        check_immutable_has_default(name, schema, Some(runner_schema))?;
        let mut combined = runner_attrs.clone();
        for (attribute, value) in action_attrs {
            combined.insert(attribute.clone(), value.clone());
        }
        merged.insert(name.clone(), Value::Object(combined));
    }
    Ok(merged)
}

fn check_immutable_has_default(name: &str, schema: &Value, runner: Option<&Value>) -> Result<(), FieldError> {
    let immutable = schema.get("immutable") == Some(&Value::Bool(true));
    let has_default = |s: Option<&Value>| s.and_then(|s| s.get("default")).is_some();
    if immutable && !has_default(Some(schema)) && !has_default(runner) {
        return Err(FieldError::new(
            format!("parameters.{name}.immutable"),
            format!("parameter \"{name}\" is immutable but has no default"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn load(doc: Value) -> Result<Action, FieldError> {
        let ctx = FileCtx { pack: "demo", pack_dir: Path::new("/packs/demo"), file: "actions/a.yaml" };
        action(&doc, &ctx, &mut Vec::new()).map(|valid| valid.action)
    }

    fn with_params(params: Value) -> Value {
        json!({"name": "a", "runner_type": "local-shell-cmd", "parameters": params})
    }

    #[test]
    fn table_of_invalid_actions_and_the_field_each_names() {
        let cases = [
            (json!({"runner_type": "noop"}), "name"),
            (json!({"name": "a"}), "runner_type"),
            (json!({"name": "a", "runner_type": "nope"}), "runner_type"),
            (json!({"name": "a", "runner_type": "noop", "colour": 1}), "colour"),
            (json!({"name": "a", "runner_type": "noop", "pack": "other"}), "pack"),
            (json!({"name": "a", "runner_type": "noop", "enabled": "sometimes"}), "enabled"),
            (json!({"name": "a", "runner_type": "noop", "entry_point": "/etc/passwd"}), "entry_point"),
            (with_params(json!({"bad-name": {"type": "string"}})), "parameters.bad-name"),
            (with_params(json!({"x": {"type": "string", "example": 1}})), "parameters.x.example"),
            (with_params(json!({"x": {"type": "text"}})), "parameters.x.type"),
            (with_params(json!({"x": {"required": "yes"}})), "parameters.x.required"),
            (with_params(json!({"x": {"position": 0}, "y": {"position": 0}})), "parameters.y.position"),
            (with_params(json!({"x": {"position": 0}, "y": {"position": 2}})), "parameters.y.position"),
            (with_params(json!({"x": {"position": -1}})), "parameters.x.position"),
            (with_params(json!({"x": {"type": "string", "immutable": true}})), "parameters.x.immutable"),
            (with_params(json!({"timeout": {"type": "string"}})), "parameters.timeout.type"),
            (with_params(json!({"timeout": {"position": 0}})), "parameters.timeout.position"),
            (with_params(json!("not a mapping")), "parameters"),
        ];
        for (doc, field) in cases {
            let error = load(doc.clone()).expect_err(&format!("{doc} must fail"));
            assert_eq!(error.field, field, "{doc}: {error}");
        }
    }

    #[test]
    fn runner_parameters_merge_under_the_action() {
        let action = load(with_params(json!({
            "cmd": {"default": "echo hi", "immutable": true},
            "timeout": {"default": 5, "description": "short"},
            "message": {"type": "string", "position": 1},
            "count": {"type": "integer", "position": 2},
        })))
        .expect("valid");
        let parameters = action.parameters.parse();
        assert_eq!(action.ref_, "demo.a");
        assert!(action.enabled, "enabled defaults to true");
        assert_eq!(parameters["cmd"]["type"], "string");
        assert_eq!(parameters["cmd"]["default"], "echo hi");
        assert_eq!(parameters["timeout"]["default"], 5);
        assert_eq!(parameters["timeout"]["type"], "integer");
        assert_eq!(parameters["kwarg_op"]["default"], "--");
        assert_eq!(parameters["message"]["position"], 1);
    }

    #[test]
    fn legacy_runner_names_load_with_a_warning() {
        let ctx = FileCtx { pack: "demo", pack_dir: Path::new("/p"), file: "actions/a.yaml" };
        let mut warnings = Vec::new();
        let doc = json!({"name": "a", "runner_type": "run-python", "entry_point": "a.py"});
        let action = action(&doc, &ctx, &mut warnings).expect("loads").action;
        assert_eq!(action.runner_type, "python-script");
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn an_immutable_runner_parameter_cannot_be_redeclared_immutable() {
        let doc = json!({"name": "a", "runner_type": "remote-shell-cmd",
            "parameters": {"dir": {"immutable": true, "default": "/x"}}});
        assert_eq!(load(doc).expect_err("redeclared").field, "parameters.dir.immutable");
    }
}
