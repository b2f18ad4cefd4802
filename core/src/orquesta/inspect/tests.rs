//! The inspection against what Orquesta and StackStorm report for the same definitions (each
//! expectation names the upstream test it comes from, or was checked against Orquesta).

use serde_json::{Map, Value, json};

use super::*;

fn document(yaml: &str) -> Map<String, Value> {
    match crate::yaml::parse(yaml).expect("yaml") {
        Value::Object(document) => document,
        other => panic!("not a mapping: {other}"),
    }
}

/// The entries, each as `(type, spec_path, message)`.
fn found(yaml: &str) -> Vec<(String, Option<String>, String)> {
    inspect(&document(yaml)).into_iter().map(|p| (p.category.as_str().to_string(), p.spec_path, p.message)).collect()
}

fn entry(category: &str, spec_path: &str, message: &str) -> (String, Option<String>, String) {
    (category.to_string(), Some(spec_path.to_string()).filter(|p| !p.is_empty()), message.to_string())
}

/// `core.local` as StackStorm registers it (its runner's `cmd` is required), and `core.echo`.
fn catalog(action: &str) -> Option<Map<String, Value>> {
    let parameters = match action {
        "core.local" => {
            json!({"cmd": {"type": "string", "required": true}, "timeout": {"type": "integer", "default": 60}})
        }
        "core.echo" => json!({"message": {"type": "string", "required": true}}),
        "core.noop" => json!({}),
        _ => return None,
    };
    parameters.as_object().cloned()
}

const FAIL_INSPECTION: &str = r#"version: 1.0
description: Steps that fail each kind of inspection.
vars:
  - greeting: hello
tasks:
  first:
    action: core.local cmd=<% ctx().undefined_yet %>
    next:
      - when: <% succeeded() %>
        do:
          - second
  second:
    action: core.local
    input:
        - cmd: echo <% ctx().greeting %>
    next:
      - when: <% <% succeeded() %>
        do: third
  third:
    action: std.noop
"#;

#[test]
fn each_category_is_reported_as_stackstorm_reports_it() {
    // st2tests/integration/orquesta/test_wiring_error_handling.py (test_inspection_error),
    // for contrib/examples/actions/workflows/tests/orquesta-fail-inspection.yaml.
    let expected = json!([
        {
            "type": "content",
            "message": "The action \"std.noop\" is not registered in the database.",
            "schema_path": "properties.tasks.patternProperties.^\\w+$.properties.action",
            "spec_path": "tasks.third.action",
        },
        {
            "type": "context",
            "language": "yaql",
            "expression": "<% ctx().undefined_yet %>",
            "message": "Variable \"undefined_yet\" is referenced before assignment.",
            "schema_path": "properties.tasks.patternProperties.^\\w+$.properties.input",
            "spec_path": "tasks.first.input",
        },
        {
            "type": "expression",
            "language": "yaql",
            "expression": "<% <% succeeded() %>",
            "message": "Parse error: unexpected '<' at position 0 of expression '<% succeeded()'",
            "schema_path": "properties.tasks.patternProperties.^\\w+$.properties.next.items.properties.when",
            "spec_path": "tasks.second.next[0].when",
        },
        {
            "type": "syntax",
            "message": "[{'cmd': 'echo <% ctx().greeting %>'}] is not valid under any of the given schemas",
            "schema_path": "properties.tasks.patternProperties.^\\w+$.properties.input.oneOf",
            "spec_path": "tasks.second.input",
        },
    ]);
    let problems = inspect_with_contents(&document(FAIL_INSPECTION), &catalog);
    assert_eq!(errors(&problems), expected);
    // Without the registered actions, all but the content problem.
    assert_eq!(errors(&inspect(&document(FAIL_INSPECTION))), json!(expected.as_array().expect("a list")[1..]));
}

#[test]
fn syntax_problems_carry_jsonschemas_messages_and_paths() {
    // orquesta/tests/unit/specs/native/test_workflow_spec_validate.py
    let task = "version: 1.0\ntasks:\n  task1:\n    action: core.noop\n    next:\n";
    let cases = [
        (
            format!("{task}      - when:\n          - foobar\n        do: task2\n  task2:\n    action: core.noop\n"),
            "tasks.task1.next[0].when",
            "properties.tasks.patternProperties.^\\w+$.properties.next.items.properties.when.type",
            "['foobar'] is not of type 'string'",
        ),
        (
            format!("{task}      - publish:\n          - foobar\n        do: task2\n  task2:\n    action: core.noop\n"),
            "tasks.task1.next[0].publish",
            "properties.tasks.patternProperties.^\\w+$.properties.next.items.properties.publish.oneOf",
            "['foobar'] is not valid under any of the given schemas",
        ),
        (
            format!("{task}      - do:\n          task2: foobar\n  task2:\n    action: core.noop\n"),
            "tasks.task1.next[0].do",
            "properties.tasks.patternProperties.^\\w+$.properties.next.items.properties.do.oneOf",
            "{'task2': 'foobar'} is not valid under any of the given schemas",
        ),
        ("version: 1.0\ndescription: no tasks\n".to_string(), "", "required", "'tasks' is a required property"),
        ("version: 1.0\ntasks: {}\n".to_string(), "tasks", "properties.tasks.minProperties", "{} should be non-empty"),
        // Checked against Orquesta: a task has no description, a version is 1.0.
        (
            "version: 1.0\ntasks:\n  a:\n    description: d\n".to_string(),
            "tasks.a",
            "properties.tasks.patternProperties.^\\w+$.additionalProperties",
            "Additional properties are not allowed ('description' was unexpected)",
        ),
        (
            "version: 2.0\ntasks:\n  a: {action: core.noop}\n".to_string(),
            "version",
            "properties.version.enum",
            "2.0 is not one of ['1.0', 1.0]",
        ),
        (
            "version: 1.0\nb: 1\na: 2\ntasks:\n  a: {action: core.noop}\n".to_string(),
            "",
            "additionalProperties",
            "Additional properties are not allowed ('a', 'b' were unexpected)",
        ),
        (
            "tasks:\n  a:\n    with: nope\n    action: core.noop\n".to_string(),
            "tasks.a.with.items",
            "properties.tasks.patternProperties.^\\w+$.properties.with.properties.items.pattern",
            r"'nope' does not match '^(\s+)?({{.*?}}|<%.*?%>)(\s+)?$|^(\s+)?((\w+,\s?|\s+)+)?(\w+)\s+in\s+({{.*?}}|<%.*?%>)(\s+)?$'",
        ),
        (
            "vars:\n  - a: 1\n  - a: 1.0\ntasks:\n  a: {action: core.noop}\n".to_string(),
            "vars",
            "properties.vars.uniqueItems",
            "[{'a': 1}, {'a': 1.0}] has non-unique elements",
        ),
        (
            "tasks:\n  a:\n    action: core.noop\n    retry:\n      delay: -1\n".to_string(),
            "tasks.a.retry",
            "properties.tasks.patternProperties.^\\w+$.properties.retry.required",
            "'count' is a required property",
        ),
    ];
    for (yaml, spec_path, schema_path, message) in cases {
        let problems = inspect(&document(&yaml));
        let syntax: Vec<&Problem> = problems.iter().filter(|p| p.category == Category::Syntax).collect();
        assert!(
            syntax.iter().any(|p| p.message == message
                && p.schema_path == schema_path
                && p.spec_path.as_deref() == Some(spec_path).filter(|p| !p.is_empty())),
            "{yaml}\n{problems:#?}"
        );
    }
}

#[test]
fn semantic_problems_follow_the_graph() {
    // orquesta/tests/unit/specs/native/test_workflow_spec_validate.py
    let cases = [
        (
            "version: 1.0\ntasks:\n  task1:\n    action: core.noop\n    next:\n      - do: task2\n",
            vec![entry("semantic", "tasks.task1.next[0].do", "The task \"task2\" is not defined.")],
        ),
        (
            "version: 1.0\ntasks:\n  task1:\n    action: core.noop\n    next:\n      - do: noop\n  noop:\n    action: core.noop\n",
            vec![entry("semantic", "tasks.noop", "The task name \"noop\" is reserved with special function.")],
        ),
        (
            "version: 1.0\ninput:\n  - count: 0\ntasks:\n  task1:\n    action: core.noop\n    next:\n      - when: <% ctx().count < 2 %>\n        publish:\n          - count: <% ctx().count + 1 %>\n        do: task1\n",
            vec![entry(
                "semantic",
                "tasks",
                "Unable to identify any tasks to start the workflow. If the workflow has a loop, please add a task \
                 that serves as an entry point (or lead) into the loop.",
            )],
        ),
        (
            "version: 1.0\ntasks:\n  task1:\n    action: core.noop\n    next:\n      - when: <% succeeded() %>\n        do: task2, task3, task5\n  task2:\n    action: core.noop\n    next:\n      - when: <% succeeded() %>\n        do: task4\n  task3:\n    action: core.noop\n    next:\n      - when: <% succeeded() %>\n        do: task4\n  task4:\n    action: core.noop\n    next:\n      - when: <% succeeded() %>\n        do: task5\n  task5:\n    join: all\n    action: core.noop\n",
            vec![entry(
                "semantic",
                "tasks.task5",
                "The join task \"task5\" is unreachable. A join task is determined to be unreachable if there are \
                 nested forks from multi-referenced tasks that join on the said task. This is ambiguous to the \
                 workflow engine because it does not know at which level should the join occurs.",
            )],
        ),
        // Checked against Orquesta: with-items needs an action; a join of parallel branches is fine.
        (
            "version: 1.0\ntasks:\n  a:\n    with: x in <% ctx(st2) %>\n",
            vec![entry("semantic", "tasks.a", "The action property is required for with items task.")],
        ),
        (
            "version: 1.0\ntasks:\n  a:\n    next:\n      - do: b, c\n  b:\n    next:\n      - do: d\n  c:\n    next:\n      - do: d\n  d:\n    join: all\n",
            vec![],
        ),
    ];
    for (yaml, expected) in cases {
        assert_eq!(found(yaml), expected, "{yaml}");
    }
}

#[test]
fn yaql_parse_errors_read_as_the_yaql_library_words_them() {
    // Checked against yaql 3 as Orquesta calls it (the text between the delimiters, trimmed).
    let cases = [
        ("<% <% succeeded() %>", "Parse error: unexpected '<' at position 0 of expression '<% succeeded()'"),
        ("<% succeeded( %>", "Parse error: unexpected end of statement"),
        ("<% a b %>", "Parse error: unexpected 'b' at position 2 of expression 'a b'"),
        ("<% ctx()) %>", "Parse error: unexpected ')' at position 5 of expression 'ctx())'"),
        ("<% 'abc %>", "Lexical error: illegal character ''' at position 0"),
        ("<% 1 # 2 %>", "Lexical error: illegal character '#' at position 2"),
        ("<% f(1,) %>", "Parse error: unexpected ')' at position 4 of expression 'f(1,)'"),
        ("<% x = = 1 %>", "Parse error: unexpected '=' at position 4 of expression 'x = = 1'"),
        (
            "<% succeeded( and true %>",
            "Parse error: unexpected 'and' at position 11 of expression 'succeeded( and true'",
        ),
        ("<% ctx().__x %>", "Lexical error: illegal character '_' at position 6"),
        ("<% true false %>", "Parse error: unexpected 'False' at position 5 of expression 'true false'"),
        ("<% 1.50 2 %>", "Parse error: unexpected '2' at position 5 of expression '1.50 2'"),
    ];
    for (expression, message) in cases {
        let quoted = expression.replace('\'', "''");
        let yaml = format!("version: 1.0\ntasks:\n  a:\n    action: core.noop\n    next:\n      - when: '{quoted}'\n");
        let expressions: Vec<_> = found(&yaml).into_iter().filter(|(category, ..)| category == "expression").collect();
        assert_eq!(expressions, vec![entry("expression", "tasks.a.next[0].when", message)], "{expression}");
    }
}

#[test]
fn text_mixing_yaql_and_jinja_is_one_problem() {
    let problems =
        inspect(&document("version: 1.0\ntasks:\n  a:\n    action: core.echo message=\"<% 1 %> {{ 2 }}\"\n"));
    assert_eq!(
        errors(&problems),
        json!([{
            "type": "expression",
            "language": null,
            "expression": "<% 1 %> {{ 2 }}",
            "message": "Expression with multiple types is not supported.",
            "spec_path": "tasks.a.input",
            "schema_path": "properties.tasks.patternProperties.^\\w+$.properties.input",
        }])
    );
}

#[test]
fn variables_must_be_assigned_before_they_are_read() {
    // orquesta/tests/unit/specs/native/test_workflow_spec_validate_vars.py covers each source of
    // assignment; these were checked against Orquesta.
    let yaml = r#"version: 1.0
input:
  - a
  - b: <% ctx().c %>
vars:
  - c: "{{ ctx('a') }} {{ ctx().d }}"
  - __e: 1
  - f: <% ctx().__e %>
tasks:
  t1:
    action: core.noop
    next:
      - publish:
          - u: <% ctx().v %>
          - v: <% ctx(st2).user %>
        do: t2, t3
  t2:
    action: core.echo message=<% ctx().u %>
    next:
      - do: t4
  t3:
    action: core.noop
    next:
      - do: t4
        publish: w=<% ctx().u %>
  t4:
    join: all
    action: core.echo message=<% ctx().w %>
output:
  - x: <% ctx().w %>
  - y: <% ctx().x %> <% ctx().z %>
"#;
    let unassigned = |name: &str| format!("Variable \"{name}\" is referenced before assignment.");
    assert_eq!(
        found(yaml),
        vec![
            entry("context", "input[1]", &unassigned("c")),
            entry("context", "output[1]", &unassigned("z")),
            // The transition is inspected once for each task it leads to.
            entry("context", "tasks.t1.next[0].publish[0]", &unassigned("v")),
            entry("context", "tasks.t1.next[0].publish[0]", &unassigned("v")),
            entry("context", "vars[0]", &unassigned("d")),
            entry(
                "context",
                "vars[2]",
                "Variable \"__e\" that is prefixed with double underscores is considered a private variable and \
                 cannot be referenced.",
            ),
            entry("expression", "vars", "Lexical error: illegal character '_' at position 6"),
        ]
    );
}

#[test]
fn contents_are_checked_against_the_registered_actions() {
    let yaml = r#"version: 1.0
tasks:
  zeta:
    action: nosuch.action
    next:
      - do: alpha, local, echo, dynamic, listed
  alpha:
    action: noop
  local:
    action: core.local timeout=5
  echo:
    action: core.echo
    input:
      message: hi
      extra: 1
      another: 2
  dynamic:
    action: <% ctx(st2).action %>
  listed:
    action: core.local
    input: <% ctx(st2) %>
"#;
    // An action given by an expression, and input given by one, are not checked.
    let problems = inspect_with_contents(&document(yaml), &catalog);
    let found: Vec<(Option<String>, String, String)> =
        problems.into_iter().map(|p| (p.spec_path, p.schema_path, p.message)).collect();
    let tasks = "properties.tasks.patternProperties.^\\w+$";
    assert_eq!(
        found,
        vec![
            // Content problems keep the order of the tasks for one schema path.
            (
                Some("tasks.zeta.action".into()),
                format!("{tasks}.properties.action"),
                "The action \"nosuch.action\" is not registered in the database.".into()
            ),
            (
                Some("tasks.alpha.action".into()),
                format!("{tasks}.properties.action"),
                "The action reference \"noop\" is not formatted correctly.".into()
            ),
            (
                Some("tasks.local.input".into()),
                format!("{tasks}.properties.input"),
                "Action \"core.local\" is missing required input \"cmd\".".into()
            ),
            (
                Some("tasks.echo.input.another".into()),
                format!("{tasks}.properties.input.patternProperties.^\\w+$"),
                "Action \"core.echo\" has unexpected input \"another\".".into()
            ),
            (
                Some("tasks.echo.input.extra".into()),
                format!("{tasks}.properties.input.patternProperties.^\\w+$"),
                "Action \"core.echo\" has unexpected input \"extra\".".into()
            ),
        ]
    );
}

#[test]
fn a_sound_definition_has_no_problem_and_a_problem_reads_as_one_line() {
    assert_eq!(found("version: 1.0\ninput: [n]\ntasks:\n  a:\n    action: core.echo message=<% ctx(n) %>\n"), vec![]);
    let problems = inspect(&document(FAIL_INSPECTION));
    let lines: Vec<String> = problems.iter().map(Problem::to_string).collect();
    assert_eq!(
        lines[0],
        "tasks.first.input: context error in \"<% ctx().undefined_yet %>\": Variable \"undefined_yet\" is referenced \
         before assignment."
    );
    assert_eq!(
        lines[2],
        "tasks.second.input: syntax error: [{'cmd': 'echo <% ctx().greeting %>'}] is not valid under any of the \
         given schemas"
    );
}
