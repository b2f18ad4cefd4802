//! Every function a workflow can call (`functions::FUNCTIONS`: Orquesta's own, StackStorm's
//! `st2kv` and `task`, and the rest its Orquesta runner registers), in YAQL and in Jinja: what
//! a call gives, and the whole error a wrong call fails with. Each expectation names the
//! upstream file it comes from (StackStorm/st2 or StackStorm/orquesta).
//!
//! Owns: tests only. Must not: be compiled outside `cargo test`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::expr::{check, evaluate};
use super::functions::{Current, FUNCTIONS, Scope};
use crate::template::{KeyValueSource, KvError, KvScope, KvValue, NONE_MAGIC};

/// A datastore of three keys; secrets are stored as `enc:<clear text>`.
struct Keys;

impl KeyValueSource for Keys {
    fn get(&self, scope: &KvScope, name: &str) -> Result<Option<KvValue>, KvError> {
        let found = match (scope, name) {
            (KvScope::System, "k") => Some(("v", false)),
            (KvScope::System, "secret") => Some(("enc:s3cret", true)),
            (KvScope::User(user), "mine") if user == "u" => Some(("mine value", false)),
            _ => None,
        };
        Ok(found.map(|(value, secret)| KvValue { value: value.to_string(), secret }))
    }

    fn decrypt(&self, stored: &str) -> Result<String, KvError> {
        stored.strip_prefix("enc:").map(str::to_string).ok_or_else(|| KvError::Decrypt("not encrypted".to_string()))
    }
}

/// A task `t` being evaluated after it failed, in a with-items task over hosts, after task `s`
/// succeeded.
fn scope() -> Scope {
    let ctx = json!({
        "a": 1,
        "none": null,
        "quotes": "foo \"\"\" bar",
        "data": {"foo": {"bar": "foobar"}},
        "json_text": "{\"foo\": {\"bar\": \"foobar\"}}",
        "yaml_text": "foo:\n  bar: foobar\n",
        "list": [{"a": 1, "b": 2}, {"x": 3, "y": 4}],
        "__state": {"internal": true},
    });
    let mut scope = Scope::new(ctx.as_object().cloned().unwrap_or_default(), Arc::new(Keys), "u");
    scope.current = Some(Current { name: "t".into(), status: "failed".into(), result: json!({"x": 2}) });
    scope.item = Some(json!({"host": "h1"}));
    scope.tasks = Arc::new(BTreeMap::from([("s".to_string(), json!({"status": "succeeded", "result": 5}))]));
    scope
}

fn yaql(call: &str, scope: &Scope) -> Result<Value, String> {
    evaluate(&Value::String(format!("<% {call} %>")), scope).map_err(|e| e.to_string())
}

fn jinja(call: &str, scope: &Scope) -> Result<Value, String> {
    evaluate(&Value::String(format!("{{{{ {call} }}}}")), scope).map_err(|e| e.to_string())
}

/// The function a call calls.
fn called(call: &str) -> &str {
    call.split('(').next().unwrap_or(call)
}

/// (YAQL call, Jinja call, what both give).
fn calls() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        // orquesta tests/unit/expressions/functions/test_common.py (test_ctx_*)
        ("ctx(a)", "ctx('a')", json!(1)),
        ("ctx().a", "ctx().a", json!(1)),
        ("ctx().containsKey('__state')", "'__state' in ctx()", json!(false)),
        // orquesta test_common.py (test_json_*)
        ("json(ctx(json_text))", "json(ctx('json_text'))", json!({"foo": {"bar": "foobar"}})),
        ("json(ctx(data))", "json(ctx('data'))", json!({"foo": {"bar": "foobar"}})),
        // orquesta test_common.py (test_zip_longest, test_zip_longest_pad_value, test_zip_single)
        ("zip([1, 2, 3], [a, b])", "zip([1, 2, 3], ['a', 'b'])", json!([[1, "a"], [2, "b"], [3, null]])),
        ("zip([], [a, b], pad => z)", "zip([], ['a', 'b'], pad='z')", json!([["z", "a"], ["z", "b"]])),
        ("zip([1, 2])", "zip([1, 2])", json!([1, 2])),
        // orquesta tests/unit/expressions/functions/test_task_item.py
        ("item()", "item()", json!({"host": "h1"})),
        ("item(host)", "item('host')", json!("h1")),
        // orquesta tests/unit/expressions/functions/test_workflow.py (test_task_status*, statuses.UNSET)
        ("task_status(s)", "task_status('s')", json!("succeeded")),
        ("task_status(t)", "task_status('t')", json!("failed")),
        ("task_status(nope)", "task_status('nope')", json!("null")),
        // orquesta test_workflow.py (test_succeeded, test_failed, test_completed, test_result)
        ("succeeded()", "succeeded()", json!(false)),
        ("failed()", "failed()", json!(true)),
        ("completed()", "completed()", json!(true)),
        ("result()", "result()", json!({"x": 2})),
        ("result().x", "result().x", json!(2)),
        // st2 contrib/runners/orquesta_runner/tests/unit/test_functions_task.py
        ("task(s).status", "task('s').status", json!("succeeded")),
        ("task().task_id", "task().task_id", json!("t")),
        ("task(s, route => 1).task_id", "task('s', route=1).task_id", json!("s")),
        // st2 contrib/runners/orquesta_runner/tests/unit/test_functions_st2kv.py
        ("st2kv('system.k')", "st2kv('system.k')", json!("v")),
        ("st2kv(mine)", "st2kv('mine')", json!("mine value")),
        ("st2kv('system.secret')", "st2kv('system.secret')", json!("enc:s3cret")),
        ("st2kv('system.secret', decrypt => true)", "st2kv('system.secret', decrypt=true)", json!("s3cret")),
        ("st2kv('system.nope', default => d)", "st2kv('system.nope', default='d')", json!("d")),
        // st2 contrib/runners/orquesta_runner/tests/unit/test_functions_common.py (path) and
        // st2common/tests/unit/test_jinja_render_path_filters.py
        ("basename('/path/to/some/file.txt')", "basename('/path/to/some/file.txt')", json!("file.txt")),
        ("basename('/some/path/to/dir/')", "basename('/some/path/to/dir/')", json!("")),
        ("dirname('/path/to/some/file.txt')", "dirname('/path/to/some/file.txt')", json!("/path/to/some")),
        ("dirname('/some/path/to/dir/')", "dirname('/some/path/to/dir/')", json!("/some/path/to/dir")),
        // st2 test_functions_common.py (test_data_functions_in_yaql / _in_jinja)
        ("from_json_string(ctx(json_text))", "from_json_string(ctx('json_text'))", json!({"foo": {"bar": "foobar"}})),
        ("json_parse(ctx(json_text))", "json_parse(ctx('json_text'))", json!({"foo": {"bar": "foobar"}})),
        ("from_yaml_string(ctx(yaml_text))", "from_yaml_string(ctx('yaml_text'))", json!({"foo": {"bar": "foobar"}})),
        ("yaml_parse(ctx(yaml_text))", "yaml_parse(ctx('yaml_text'))", json!({"foo": {"bar": "foobar"}})),
        ("to_json_string(ctx(data))", "to_json_string(ctx('data'))", json!("{\"foo\": {\"bar\": \"foobar\"}}")),
        ("json_dump(ctx(data))", "json_dump(ctx('data'))", json!("{\"foo\": {\"bar\": \"foobar\"}}")),
        ("to_yaml_string(ctx(data))", "to_yaml_string(ctx('data'))", json!("foo:\n  bar: foobar\n")),
        ("yaml_dump(ctx(list))", "yaml_dump(ctx('list'))", json!("- a: 1\n  b: 2\n- x: 3\n  y: 4\n")),
        ("jsonpath_query(ctx(data), '$.foo.bar')", "jsonpath_query(ctx('data'), '$.foo.bar')", json!(["foobar"])),
        ("use_none(ctx(none))", "use_none(ctx('none'))", json!(NONE_MAGIC)),
        ("use_none(foobar)", "use_none('foobar')", json!("foobar")),
        // st2 st2common/st2common/expressions/functions/data.py: items joined by "," alone
        (
            "to_json_string(ctx(list))",
            "to_json_string(ctx('list'))",
            json!("[{\"a\": 1,\"b\": 2},{\"x\": 3,\"y\": 4}]"),
        ),
        // st2common/tests/unit/test_jinja_render_jsonpath_query_filters.py (no results)
        ("jsonpath_query(ctx(data), nothing)", "jsonpath_query(ctx('data'), 'nothing')", Value::Null),
        // st2common/tests/unit/test_jinja_render_json_escape_filters.py
        ("json_escape(ctx(quotes))", "json_escape(ctx('quotes'))", json!("foo \\\"\\\"\\\" bar")),
        // st2 test_functions_common.py (test_regex_functions_in_yaql / _in_jinja)
        ("regex_match(xyz, x)", "regex_match('xyz', 'x')", json!(true)),
        ("regex_replace(xyz, x, wx)", "regex_replace('xyz', 'x', 'wx')", json!("wxyz")),
        ("regex_search(xyz, y)", "regex_search('xyz', 'y')", json!(true)),
        (
            "regex_substring('I live at 668 Infinite Dr', '([0-9]{3} \\w+ (?:Ave|St|Dr))')",
            "regex_substring('I live at 668 Infinite Dr', '([0-9]{3} \\\\w+ (?:Ave|St|Dr))')",
            json!("668 Infinite Dr"),
        ),
        // st2common/tests/unit/test_jinja_render_regex_filters.py
        ("regex_match(xyz, y)", "regex_match('xyz', 'y')", json!(false)),
        ("regex_search(ABC, abc, ignorecase => true)", "regex_search('ABC', 'abc', ignorecase=true)", json!(true)),
        // st2 test_functions_common.py (test_time_functions_*), test_jinja_render_time_filters.py
        ("to_human_time_from_seconds(12345)", "to_human_time_from_seconds(12345)", json!("3h25m45s")),
        ("to_human_time_from_seconds(0)", "to_human_time_from_seconds(0)", json!("0s")),
        // st2common/st2common/expressions/functions/time.py: the day of the month, no months
        ("to_human_time_from_seconds(3456000)", "to_human_time_from_seconds(3456000)", json!("9d0h0m0s")),
        // st2 test_functions_common.py (test_version_functions_in_yaql / _in_jinja)
        ("version_compare('0.10.0', '0.10.0')", "version_compare('0.10.0', '0.10.0')", json!(0)),
        ("version_compare('0.10.0', '0.10.1')", "version_compare('0.10.0', '0.10.1')", json!(-1)),
        ("version_compare('0.10.1', '0.10.0')", "version_compare('0.10.1', '0.10.0')", json!(1)),
        ("version_equal('0.10.0', '0.10.0')", "version_equal('0.10.0', '0.10.0')", json!(true)),
        ("version_more_than('0.9.0', '0.10.0')", "version_more_than('0.9.0', '0.10.0')", json!(false)),
        ("version_less_than('0.10.0', '0.9.0')", "version_less_than('0.10.0', '0.9.0')", json!(false)),
        ("version_match('0.10.1', '>0.10.0')", "version_match('0.10.1', '>0.10.0')", json!(true)),
        ("version_bump_major('0.10.0')", "version_bump_major('0.10.0')", json!("1.0.0")),
        ("version_bump_minor('0.10.0')", "version_bump_minor('0.10.0')", json!("0.11.0")),
        ("version_bump_patch('0.10.0')", "version_bump_patch('0.10.0')", json!("0.10.1")),
        ("version_strip_patch('0.10.0')", "version_strip_patch('0.10.0')", json!("0.10")),
    ]
}

/// YAQL's error for a call whose arguments fit no signature of `name`.
fn no_match(name: &str) -> String {
    format!("NoMatchingFunctionException: No function \"{name}\" matches supplied arguments")
}

/// (YAQL call, the exception it fails with, Jinja call, the exception it fails with): the text
/// after "Unable to evaluate expression '...'. ".
fn wrong_calls() -> Vec<(&'static str, String, &'static str, String)> {
    let same =
        |yaql: &'static str, jinja: &'static str, error: &str| (yaql, error.to_string(), jinja, error.to_string());
    let arity = |yaql: &'static str, jinja: &'static str, error: &str| {
        (yaql, no_match(called(yaql)), jinja, format!("TypeError: {error}"))
    };
    let semver_operators = "match_expr parameter should be in format <op><ver>, where <op> is one of ['<', '>', \
                            '==', '<=', '>=', '!=']. You provided: '~1.0.0";
    vec![
        // orquesta orquesta/expressions/functions/common.py, orquesta/exceptions.py; YAQL's
        // NoMatchingFunctionException is openstack/yaql yaql/language/exceptions.py
        arity("ctx(a, b)", "ctx('a', 'b')", "ctx_() takes from 1 to 2 positional arguments but 3 were given"),
        same("ctx(nope)", "ctx('nope')", "VariableUndefinedError: The variable \"nope\" is undefined."),
        // orquesta tests/unit/conducting/test_workflow_conductor_context.py
        same(
            "ctx('__state')",
            "ctx('__state')",
            "VariableInaccessibleError: The variable \"__state\" is for internal use and inaccessible.",
        ),
        // orquesta test_common.py (json_ of a non-string raises TypeError)
        same("json(1)", "json(1)", "TypeError: Given object is not typeof string."),
        // Python's json.loads (JSONDecodeError)
        same(
            "json('{')",
            "json('{')",
            "JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        // Python's itertools.zip_longest
        same("zip(1, [2])", "zip(1, [2])", "TypeError: zip_longest argument #1 must support iteration"),
        // orquesta tests/unit/conducting/native/test_task_rendering_for_with_items.py
        same("item(port)", "item('port')", "ExpressionEvaluationException: Item does not have key \"port\"."),
        arity("item(a, b)", "item('a', 'b')", "item_() takes from 1 to 2 positional arguments but 3 were given"),
        // orquesta orquesta/expressions/functions/workflow.py
        arity("task_status()", "task_status()", "task_status_() missing 1 required positional argument: 'task_id'"),
        arity("succeeded(1)", "succeeded(1)", "succeeded_() takes 1 positional argument but 2 were given"),
        arity("failed(1)", "failed(1)", "failed_() takes 1 positional argument but 2 were given"),
        arity("completed(1)", "completed(1)", "completed_() takes 1 positional argument but 2 were given"),
        arity("result(1)", "result(1)", "result_() takes 1 positional argument but 2 were given"),
        // st2 contrib/runners/orquesta_runner/tests/unit/test_functions_task.py (test_task_nonexistent_*)
        same(
            "task(nope)",
            "task('nope')",
            "ExpressionEvaluationException: Unable to find task execution for \"nope\".",
        ),
        arity("task(a, 0, 1)", "task('a', 0, 1)", "task() takes from 1 to 3 positional arguments but 4 were given"),
        // st2 contrib/runners/orquesta_runner/orquesta_functions/st2kv.py, test_functions_st2kv.py,
        // st2common/st2common/persistence/keyvalue.py (the not-found message, user keys as user:key)
        same("st2kv(1)", "st2kv(1)", "TypeError: Given key is not typeof string."),
        same(
            "st2kv('system.k', decrypt => 1)",
            "st2kv('system.k', decrypt=1)",
            "TypeError: Decrypt parameter is not typeof bool.",
        ),
        same(
            "st2kv(missing)",
            "st2kv('missing')",
            "ExpressionEvaluationException: The key \"u:missing\" does not exist in the StackStorm datastore.",
        ),
        arity("st2kv()", "st2kv()", "st2kv_() missing 1 required positional argument: 'key'"),
        // st2 st2common/st2common/expressions/functions/path.py (Python's os.path)
        same("basename(1)", "basename(1)", "TypeError: expected str, bytes or os.PathLike object, not int"),
        arity("basename(a, b)", "basename('a', 'b')", "basename() takes 1 positional argument but 2 were given"),
        arity("dirname()", "dirname()", "dirname() missing 1 required positional argument: 'path'"),
        // st2 st2common/st2common/expressions/functions/data.py
        same(
            "from_json_string('{')",
            "from_json_string('{')",
            "JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        arity("json_parse()", "json_parse()", "from_json_string() missing 1 required positional argument: 'value'"),
        // (PyYAML words its errors its own way; the text after the class is st2d's YAML reader's)
        same(
            "from_yaml_string('a: [')",
            "from_yaml_string('a: [')",
            "YAMLError: did not find expected node content (line 2)",
        ),
        arity(
            "yaml_parse(a, b)",
            "yaml_parse('a', 'b')",
            "from_yaml_string() takes 1 positional argument but 2 were given",
        ),
        // YAQL strips the quotes around a TypeError's message (orquesta/expressions/yql.py)
        (
            "to_json_string(1, indent => 1.5)",
            "TypeError: can't multiply sequence by non-int of type 'float".to_string(),
            "to_json_string(1, indent=1.5)",
            "TypeError: can't multiply sequence by non-int of type 'float'".to_string(),
        ),
        arity("json_dump()", "json_dump()", "to_json_string() missing 1 required positional argument: 'value'"),
        arity(
            "to_yaml_string(1, 2, 3, 4)",
            "to_yaml_string(1, 2, 3, 4)",
            "to_yaml_string() takes from 1 to 3 positional arguments but 4 were given",
        ),
        arity(
            "yaml_dump(1, flow => 1)",
            "yaml_dump(1, flow=1)",
            "to_yaml_string() got an unexpected keyword argument 'flow'",
        ),
        arity("json_escape()", "json_escape()", "json_escape() missing 1 required positional argument: 'value'"),
        // jsonpath-rw 1.4 jsonpath_rw/parser.py (p_error)
        same(
            "jsonpath_query(ctx(data), 'a..]')",
            "jsonpath_query(ctx('data'), 'a..]')",
            "Exception: Parse error at 1:3 near token ] (])",
        ),
        arity("use_none()", "use_none()", "use_none() missing 1 required positional argument: 'value'"),
        // st2 st2common/st2common/expressions/functions/regex.py (Python's re)
        arity("regex_match(x)", "regex_match('x')", "regex_match() missing 1 required positional argument: 'pattern'"),
        same(
            "regex_search(x, 1)",
            "regex_search('x', 1)",
            "TypeError: first argument must be string or compiled pattern",
        ),
        same("regex_replace(x, x, '\\q')", "regex_replace('x', 'x', '\\\\q')", "error: bad escape \\q at position 0"),
        // st2common/tests/unit/test_jinja_render_regex_filters.py (no match is an IndexError)
        same(
            "regex_substring('My address is 986 Somewhere Ave', '([0-3]{3} \\w+ (?:Ave|St|Dr))')",
            "regex_substring('My address is 986 Somewhere Ave', '([0-3]{3} \\\\w+ (?:Ave|St|Dr))')",
            "IndexError: list index out of range",
        ),
        // st2common/tests/unit/test_jinja_render_time_filters.py (an AssertionError)
        same("to_human_time_from_seconds(stuff)", "to_human_time_from_seconds('stuff')", "AssertionError: "),
        // st2 st2common/st2common/expressions/functions/version.py (python-semver 3.0.4)
        same(
            "version_compare('1.0', '1.0.0')",
            "version_compare('1.0', '1.0.0')",
            "ValueError: 1.0 is not valid SemVer string",
        ),
        same(
            "version_equal('1.0.0', 1)",
            "version_equal('1.0.0', 1)",
            "TypeError: Expected str, bytes, dict, tuple, list, or Version instance, but got <class 'int'>",
        ),
        arity(
            "version_more_than('1.0.0')",
            "version_more_than('1.0.0')",
            "version_more_than() missing 1 required positional argument: 'pattern'",
        ),
        arity(
            "version_less_than()",
            "version_less_than()",
            "version_less_than() missing 2 required positional arguments: 'value' and 'pattern'",
        ),
        (
            "version_match('1.0.0', '~1.0.0')",
            format!("ValueError: {semver_operators}"),
            "version_match('1.0.0', '~1.0.0')",
            format!("ValueError: {semver_operators}'"),
        ),
        same("version_bump_major(x)", "version_bump_major('x')", "ValueError: x is not valid SemVer string"),
        arity(
            "version_bump_minor()",
            "version_bump_minor()",
            "version_bump_minor() missing 1 required positional argument: 'value'",
        ),
        (
            "version_bump_patch(1)",
            "TypeError: not expecting type '<class 'int'>".to_string(),
            "version_bump_patch(1)",
            "TypeError: not expecting type '<class 'int'>'".to_string(),
        ),
        arity(
            "version_strip_patch(a, b)",
            "version_strip_patch('a', 'b')",
            "version_strip_patch() takes 1 positional argument but 2 were given",
        ),
    ]
}

#[test]
fn every_function_answers_in_both_languages() {
    let scope = scope();
    for (yaql_call, jinja_call, expected) in calls() {
        assert_eq!(check(&Value::String(format!("<% {yaql_call} %>"))), Ok(()), "{yaql_call}");
        assert_eq!(yaql(yaql_call, &scope).as_ref(), Ok(&expected), "{yaql_call}");
        assert_eq!(jinja(jinja_call, &scope).as_ref(), Ok(&expected), "{jinja_call}");
    }
}

#[test]
fn every_function_fails_a_wrong_call_with_upstreams_message() {
    let scope = scope();
    for (yaql_call, yaql_error, jinja_call, jinja_error) in wrong_calls() {
        let yaql_expected =
            format!("YaqlEvaluationException: Unable to evaluate expression '<% {yaql_call} %>'. {yaql_error}");
        assert_eq!(yaql(yaql_call, &scope), Err(yaql_expected), "{yaql_call}");
        // StackStorm's Orquesta runner, test_functions_task.py (test_task_nonexistent_in_jinja)
        let jinja_expected =
            format!("JinjaEvaluationException: Unable to evaluate expression '{{{{ {jinja_call} }}}}'. {jinja_error}");
        assert_eq!(jinja(jinja_call, &scope), Err(jinja_expected), "{jinja_call}");
    }
}

#[test]
fn the_tables_cover_every_function() {
    let calls = calls();
    let wrong = wrong_calls();
    for name in FUNCTIONS {
        assert!(calls.iter().any(|(y, j, _)| called(y) == name && called(j) == name), "no call of {name}");
        assert!(wrong.iter().any(|(y, _, j, _)| called(y) == name && called(j) == name), "no wrong call of {name}");
    }
}

#[test]
fn outside_a_task_and_its_items_the_functions_say_so() {
    let mut scope = scope();
    scope.current = None;
    scope.item = None;
    // orquesta tests/unit/conducting/test_workflow_conductor_context.py
    let unset = "ExpressionEvaluationException: The current task is not set in the context.";
    for call in ["result()", "succeeded()", "failed()", "completed()"] {
        let expected = format!("YaqlEvaluationException: Unable to evaluate expression '<% {call} %>'. {unset}");
        assert_eq!(yaql(call, &scope), Err(expected));
        let expected = format!("JinjaEvaluationException: Unable to evaluate expression '{{{{ {call} }}}}'. {unset}");
        assert_eq!(jinja(call, &scope), Err(expected));
    }
    // orquesta test_task_item.py (test_item_is_null, test_item_is_not_dict)
    assert_eq!(yaql("item()", &scope), Ok(Value::Null));
    assert_eq!(
        jinja("item('x')", &scope),
        Err("JinjaEvaluationException: Unable to evaluate expression '{{ item('x') }}'. ExpressionEvaluationException: \
             Item is not type of collections.abc.Mapping."
            .to_string())
    );
    // st2 orquesta_functions/runtime.py: the current task's id is a KeyError, which Orquesta's
    // YAQL evaluator reports apart (orquesta/expressions/yql.py)
    assert_eq!(
        yaql("task()", &scope),
        Err("YaqlEvaluationException: Unable to resolve key 'id' in expression '<% task() %>' from context."
            .to_string())
    );
    assert_eq!(
        jinja("task()", &scope),
        Err("JinjaEvaluationException: Unable to evaluate expression '{{ task() }}'. KeyError: 'id'".to_string())
    );
}

#[test]
fn jinja_takes_the_functions_as_filters_too() {
    let scope = scope();
    // st2 test_functions_common.py (data_pipe_str_1 of jinja-data-functions)
    let pipe = "ctx('json_text') | from_json_string() | to_yaml_string() | from_yaml_string() | to_json_string()";
    assert_eq!(jinja(pipe, &scope), Ok(json!("{\"foo\": {\"bar\": \"foobar\"}}")));
    // orquesta orquesta/expressions/jinja.py registers every function as a filter
    let cases = [
        ("ctx('data') | json_dump", json!("{\"foo\": {\"bar\": \"foobar\"}}")),
        ("'/a/b' | basename", json!("b")),
        ("ctx('json_text') | json", json!({"foo": {"bar": "foobar"}})),
        ("[1, 2] | zip(['a'])", json!([[1, "a"], [2, null]])),
        ("'0.10.0' | version_bump_minor", json!("0.11.0")),
    ];
    for (expression, expected) in cases {
        assert_eq!(jinja(expression, &scope), Ok(expected), "{expression}");
    }
}

#[test]
fn a_key_error_reads_as_orquesta_reports_it() {
    let scope = scope();
    // jsonpath-rw jsonpath_rw/jsonpath.py (Index of a dict is a KeyError); Orquesta's YAQL
    // evaluator reports a KeyError apart (orquesta/expressions/yql.py)
    let call = "jsonpath_query(ctx(data), 'foo[0]')";
    assert_eq!(
        yaql(call, &scope),
        Err(format!("YaqlEvaluationException: Unable to resolve key '0' in expression '<% {call} %>' from context."))
    );
    let call = "jsonpath_query(ctx('data'), 'foo[0]')";
    assert_eq!(
        jinja(call, &scope),
        Err(format!("JinjaEvaluationException: Unable to evaluate expression '{{{{ {call} }}}}'. KeyError: 0"))
    );
}
