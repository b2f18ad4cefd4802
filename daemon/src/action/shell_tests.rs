use serde_json::json;

use super::*;

fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[test]
fn script_arguments_follow_stackstorm() {
    // (action params, schema, kwarg_op, expected)
    let cases = [
        (json!({"name": "x"}), json!({"name": {"type": "string"}}), "--", "--name=x"),
        (json!({"name": "two words"}), json!({"name": {"type": "string"}}), "--", "--name='two words'"),
        (json!({"flag": true, "off": false}), json!({}), "--", "--flag "),
        (json!({"gone": null, "empty": ""}), json!({}), "--", ""),
        (json!({"n": 5, "f": 1.5}), json!({}), "-", "-n=5 -f=1.5"),
        (json!({"list": ["a", "b"]}), json!({}), "--", "--list='['\"'\"'a'\"'\"', '\"'\"'b'\"'\"']'"),
        (json!({"obj": {"k": 1}}), json!({}), "--", "--obj='{'\"'\"'k'\"'\"': 1}'"),
        (
            json!({"second": "b", "first": "a", "named": "n"}),
            json!({"first": {"type": "string", "position": 0}, "second": {"type": "string", "position": 1}, "named": {"type": "string"}}),
            "--",
            "--named=n a b",
        ),
        (
            json!({"b": true, "a": ["x", "y"], "o": {"k": "v"}, "i": 0, "j": 7}),
            json!({"b": {"type": "boolean", "position": 0}, "a": {"type": "array", "position": 1}, "o": {"type": "object", "position": 2}, "i": {"type": "integer", "position": 3}, "j": {"type": "integer", "position": 4}}),
            "--",
            "1 x,y '{\"k\":\"v\"}' '' 7",
        ),
        (
            json!({"later": "z"}),
            json!({"missing": {"type": "string", "position": 0}, "later": {"type": "string", "position": 1}}),
            "--",
            "'' z",
        ),
        (json!({"b": false}), json!({"b": {"type": "boolean", "position": 0}}), "--", "0"),
        (json!({"b": null}), json!({"b": {"type": "boolean", "position": 0}}), "--", "''"),
        (json!({"s": 1.5}), json!({"s": {"type": "number", "position": 0}}), "--", "1.5"),
        (json!({"e": []}), json!({"e": {"type": "array", "position": 0}}), "--", "''"),
    ];
    for (params, schema, op, expected) in cases {
        assert_eq!(script_arguments(&map(params.clone()), &map(schema), op), expected, "{params}");
    }
}

#[test]
fn command_lines_and_sudo() {
    assert_eq!(cmd_line(&map(json!({"cmd": "echo hi"}))).as_deref(), Ok("echo hi"));
    assert_eq!(cmd_line(&map(json!({"cmd": "echo hi", "sudo": true}))).as_deref(), Ok("sudo -E -- bash -c 'echo hi'"));
    assert_eq!(
        cmd_line(&map(json!({"cmd": "id", "sudo": true, "sudo_password": "pw"}))).as_deref(),
        Ok("sudo -S -E -- bash -c id")
    );
    assert!(cmd_line(&map(json!({}))).is_err());
    let line = script_line(
        Path::new("/packs/p/actions/my script.sh"),
        &map(json!({"kwarg_op": "-"})),
        &map(json!({"x": 1})),
        &Map::new(),
    );
    assert_eq!(line, "'/packs/p/actions/my script.sh' -x=1");
}

#[test]
fn results_are_decoded_and_statuses_mapped() {
    let run = |ending, stdout: &str, stderr: &str| Captured {
        ending,
        stdout: stdout.to_string(),
        stderr: stderr.to_string(),
        dropped: 0,
    };
    let (status, result) = outcome(&run(Ending::Exited(0), "hi\n", ""), None);
    assert_eq!(status, ExecutionStatus::Succeeded);
    assert_eq!(result, json!({"failed": false, "succeeded": true, "return_code": 0, "stdout": "hi", "stderr": ""}));
    let (status, result) = outcome(&run(Ending::Exited(2), "{\"a\": 1}\n", "5\r\n"), None);
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(result["stdout"], json!({"a": 1}));
    assert_eq!(result["stderr"], json!(5));
    assert_eq!(decoded("two\n\n"), json!("two\n"));
    assert_eq!(decoded("true"), json!(true));
    let (status, result) = outcome(&run(Ending::TimedOut, "", ""), Some(Duration::from_secs(3)));
    assert_eq!(status, ExecutionStatus::Timeout);
    assert_eq!(result["return_code"], -9);
    assert_eq!(result["error"], "Action failed to complete in 3 seconds");
    assert_eq!(outcome(&run(Ending::Signaled(15), "", ""), None).0, ExecutionStatus::Abandoned);
    assert_eq!(outcome(&run(Ending::Signaled(9), "", ""), None).1["return_code"], -9);
    assert_eq!(outcome(&run(Ending::Canceled, "", ""), None).0, ExecutionStatus::Canceled);
}

#[test]
fn timeouts_come_from_the_runner_parameter() {
    assert_eq!(timeout(&map(json!({})), DEFAULT_TIMEOUT), Some(Duration::from_secs(60)));
    assert_eq!(timeout(&map(json!({"timeout": 5})), DEFAULT_TIMEOUT), Some(Duration::from_secs(5)));
    assert_eq!(timeout(&map(json!({"timeout": 0})), DEFAULT_TIMEOUT), None);
}
