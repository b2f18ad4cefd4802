//! Table-driven tests of script argument building (ST2-COMPAT.md 2.4's cases) and sudo wrapping.

use serde_json::json;

use super::*;

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn positional_values_follow_the_declared_type() {
    let cases = [
        (Some("string"), json!("a b"), "a b"),
        (Some("string"), json!(null), ""),
        (Some("number"), json!(1.5), "1.5"),
        (Some("number"), json!(0), "0"),
        (Some("boolean"), json!(true), "1"),
        (Some("boolean"), json!(false), "0"),
        (Some("boolean"), json!(null), ""),
        (Some("array"), json!(["a", "b", "c"]), "a,b,c"),
        (Some("array"), json!([]), ""),
        (Some("array"), json!(null), ""),
        (Some("object"), json!({"a": 1, "b": [1, 2]}), "{\"a\": 1, \"b\": [1, 2]}"),
        (Some("object"), json!({}), ""),
        (Some("integer"), json!(5), "5"),
        (Some("integer"), json!(0), ""),
        (Some("integer"), json!(null), ""),
        (None, json!("x"), "x"),
        (None, json!(true), "True"),
    ];
    for (param_type, value, expected) in cases {
        assert_eq!(positional_value(param_type, &value), expected, "{param_type:?} {value}");
    }
}

#[test]
fn script_arguments_named_before_positional() {
    let schema = object(json!({
        "first": {"type": "string", "position": 0},
        "second": {"type": "integer", "position": 1},
        "third": {"type": "boolean", "position": 2},
        "name": {"type": "string"},
        "flag": {"type": "boolean"},
        "off": {"type": "boolean"},
        "empty": {"type": "string"},
        "none": {"type": "string"},
        "list": {"type": "array"},
        "count": {"type": "integer"},
        "timeout": {"type": "integer"},
    }));
    let cases = [
        (json!({"first": "a b", "second": 3, "third": true}), "--", "'a b' 3 1"),
        (json!({"second": 0}), "--", "'' '' ''"),
        (json!({"name": "it's", "first": "x"}), "--", "--name='it'\"'\"'s' x '' ''"),
        (json!({"flag": true, "off": false, "empty": "", "none": null}), "--", "--flag '' '' ''"),
        (
            json!({"list": ["a", "b"], "count": 0}),
            "--",
            "--list='['\"'\"'a'\"'\"', '\"'\"'b'\"'\"']' --count=0 '' '' ''",
        ),
        (json!({"name": "v", "flag": true}), "-", "-name=v -flag '' '' ''"),
        (json!({"name": "$HOME"}), "--", "--name='$HOME' '' '' ''"),
    ];
    for (params, kwarg_op, expected) in cases {
        assert_eq!(script_arguments(&schema, &object(params.clone()), kwarg_op), expected, "{params}");
    }
}

#[test]
fn named_arguments_keep_the_parameter_order() {
    let schema = object(json!({"a": {"type": "string"}, "b": {"type": "string"}}));
    assert_eq!(script_arguments(&schema, &object(json!({"b": "2", "a": "1"})), "--"), "--b=2 --a=1");
    assert_eq!(script_arguments(&schema, &Map::new(), "--"), "");
}

#[test]
fn sudo_wraps_the_line_in_bash() {
    let cases = [
        (("echo hi", false, false), "echo hi"),
        (("echo hi", true, false), "sudo -E -- bash -c 'echo hi'"),
        (("echo 'x'", true, true), "sudo -S -E -- bash -c 'echo '\"'\"'x'\"'\"''"),
    ];
    for ((command, sudo, password), expected) in cases {
        assert_eq!(wrap_sudo(command, sudo, password), expected, "{command}");
    }
    assert_eq!(script_line("/p/a b.sh", "--x=1", false, false), "'/p/a b.sh' --x=1");
    assert_eq!(script_line("/p/s.sh", "", false, false), "/p/s.sh");
    assert_eq!(script_line("/p/s.sh", "'a b'", true, false), "sudo -E -- bash -c '/p/s.sh '\"'\"'a b'\"'\"''");
}
