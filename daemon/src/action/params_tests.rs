//! The parameter pipeline against StackStorm's behaviours (ST2-COMPAT.md 2.2).

use std::sync::Arc;

use serde_json::json;

use super::*;
use st2d_core::template::NoKeyValues;

fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// core.local's effective schema plus a few action parameters.
fn schema() -> Map<String, Value> {
    map(json!({
        "cmd": {"type": "string", "required": true},
        "sudo": {"type": "boolean", "default": false, "immutable": true},
        "timeout": {"type": "integer", "default": 60},
        "env": {"type": "object"},
        "message": {"type": "string"},
        "count": {"type": "integer"},
        "ratio": {"type": "number"},
        "flag": {"type": "boolean"},
        "hosts": {"type": "array"},
        "mode": {"type": "string", "enum": ["fast", "slow"], "default": "fast"},
        "greeting": {"type": "string", "default": "say {{ message }}"},
        "loud": {"type": "string", "default": "{{ greeting | upper }}"},
    }))
}

fn runner_names() -> BTreeSet<String> {
    ["cmd", "sudo", "timeout", "env"].into_iter().map(String::from).collect()
}

fn resolve_with(given: Value, trigger: Value) -> Result<Resolved, ParamError> {
    resolve_as(given, trigger, false)
}

fn resolve_as(given: Value, trigger: Value, typed: bool) -> Result<Resolved, ParamError> {
    let schema = schema();
    let names = runner_names();
    let given = map(given);
    let context = Context::new(Arc::new(NoKeyValues), "stanley")
        .with("action_context", json!({"user": "stanley", "pack": "demo"}))
        .with("config_context", json!({"region": "eu"}))
        .with("trigger", trigger);
    resolve(ParamInput { schema: &schema, runner_names: &names, given: &given, typed, context })
}

#[test]
fn defaults_templates_and_the_split() {
    let resolved =
        resolve_with(json!({"cmd": "echo {{ message }} {{ config_context.region }}", "message": "hi"}), json!({}))
            .expect("resolves");
    assert_eq!(resolved.runner, map(json!({"cmd": "echo hi eu", "sudo": false, "timeout": 60, "env": null})));
    assert_eq!(
        resolved.action,
        map(
            json!({"message": "hi", "count": null, "ratio": null, "flag": null, "hosts": null, "mode": "fast", "greeting": "say hi", "loud": "SAY HI"})
        ),
        "defaults refer to other parameters, rendered in dependency order; unset ones are None"
    );
    let unset = resolve_with(json!({"cmd": "true"}), json!({})).expect("resolves");
    assert_eq!(unset.action["greeting"], "say None", "a None parameter prints as Python's None");
}

#[test]
fn typed_values_are_checked_as_given_before_any_cast() {
    // StackStorm's API validates the parameters as sent (services/action.py create_request).
    let refused = resolve_as(json!({"cmd": "true", "count": "5"}), json!({}), true).expect_err("a string count");
    assert_eq!(refused, ParamError::Invalid("parameter \"count\": '5' is not of type 'integer'".into()));
    let refused = resolve_as(json!({"cmd": 5}), json!({}), true).expect_err("a number cmd");
    assert!(matches!(&refused, ParamError::Invalid(m) if m.contains("\"cmd\"")), "{refused:?}");
    let typed = resolve_as(json!({"cmd": "true", "count": 5, "message": "{{ 1 + 1 }}"}), json!({}), true)
        .expect("typed values and templates pass");
    assert_eq!(typed.action["count"], 5);
    assert_eq!(typed.action["message"], "2");
    // The same text from `key=value` arguments is cast.
    assert_eq!(resolve_as(json!({"cmd": "true", "count": "5"}), json!({}), false).expect("cast").action["count"], 5);
}

#[test]
fn values_are_cast_by_declared_type() {
    let cases = [
        (json!({"count": "5"}), "count", json!(5)),
        (json!({"count": 5.7}), "count", json!(5)),
        (json!({"ratio": "0.5"}), "ratio", json!(0.5)),
        (json!({"flag": "True"}), "flag", json!(true)),
        (json!({"flag": "false"}), "flag", json!(false)),
        (json!({"hosts": "[\"a\", \"b\"]"}), "hosts", json!(["a", "b"])),
        (json!({"env": "{\"K\": \"v\"}"}), "env", json!({"K": "v"})),
        (json!({"count": "{{ trigger.n }}"}), "count", json!(7)),
        (json!({"hosts": "{{ trigger.list }}"}), "hosts", json!(["x", "y"])),
        // use_none turns only a null into None (st2common/expressions/functions/data.py).
        (json!({"message": "{{ trigger.nothing | use_none }}"}), "message", Value::Null),
    ];
    for (given, name, expected) in cases {
        let mut given = given;
        given["cmd"] = json!("true");
        let resolved =
            resolve_with(given.clone(), json!({"n": 7, "list": ["x", "y"], "nothing": null})).expect("resolves");
        let value = resolved.action.get(name).or_else(|| resolved.runner.get(name)).cloned();
        assert_eq!(value, Some(expected), "{given}");
    }
}

#[test]
fn invalid_parameters_create_nothing() {
    let cases = [
        (json!({}), "'cmd' is a required property"),
        (json!({"cmd": "x", "sudo": true}), "Override of immutable parameter(s) ['sudo'] is unsupported."),
        (json!({"cmd": "x", "nope": 1}), "Additional properties are not allowed ('nope' was unexpected)"),
        (json!({"cmd": "x", "mode": "medium"}), "parameter \"mode\": 'medium' is not one of ['fast', 'slow']"),
        (json!({"cmd": "x", "hosts": 5}), "parameter \"hosts\": 5 is not of type 'array'"),
        (json!({"cmd": 5}), "parameter \"cmd\": 5 is not a string"),
    ];
    for (given, expected) in cases {
        let error = resolve_with(given.clone(), json!({})).expect_err("invalid");
        let text = error.to_string();
        assert!(text.starts_with(expected), "{given}: {text}");
        if given.get("cmd") != Some(&json!(5)) {
            assert!(matches!(error, ParamError::Invalid(_)), "{given}: {error:?}");
        }
    }
}

#[test]
fn render_failures_fail_the_execution() {
    let cases = [
        (json!({"cmd": "{{ nope }}"}), "Dependency unsatisfied in variable \"nope\""),
        (json!({"cmd": "{{ trigger.missing.deeper }}"}), "Failed to render parameter \"cmd\""),
        (
            json!({"cmd": "x", "message": "{{ greeting }}"}),
            "Cyclic dependency found in the following variables: greeting, loud, message",
        ),
        (json!({"cmd": "x", "count": "many"}), "parameter \"count\": cannot cast 'many' to integer"),
    ];
    for (given, expected) in cases {
        let error = resolve_with(given.clone(), json!({})).expect_err("fails");
        assert!(matches!(error, ParamError::Render(_)), "{given}: {error:?}");
        assert!(error.to_string().starts_with(expected), "{given}: {error}");
    }
}
