//! Orquesta's inspection at run time, as StackStorm runs it: a workflow whose definition
//! reads but fails inspection registers as an action (its problems listed on the pack as
//! warnings) and each run of it fails at once with Orquesta's errors (syntax, expression,
//! context, and StackStorm's content check against the registered actions); a live edit that
//! breaks a good workflow keeps the last good version.

use serde_json::{Value, json};
use st2d_tests::{Daemon, Home};

use crate::orquesta::{children, flows_pack, run_json, workflow};

/// Shaped like StackStorm's examples.orquesta-fail-inspection: one problem of each kind.
const FAILS_INSPECTION: &str = r#"version: 1.0

description: Steps that each fail a kind of Orquesta's inspection.

vars:
  - salutation: hi

tasks:
  greet:
    action: core.local cmd=<% ctx().who %>
    next:
      - when: <% succeeded() %>
        do:
          - shout
  shout:
    action: core.local
    input:
        - cmd: echo <% ctx().salutation %>
    next:
      - when: <% <% succeeded() %>
        do: wave
  wave:
    action: nothing.here
"#;

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(|i| i.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

#[test]
fn a_workflow_that_fails_inspection_registers_and_each_run_fails_with_orquestas_errors() {
    let home = Home::new();
    flows_pack(&home);
    workflow(&home, "fails_inspection", "{}", FAILS_INSPECTION);
    let daemon = Daemon::start(&home, &["serve"]);

    // Registered, as StackStorm registers it (its registrar does not inspect definitions),
    // with each problem of the definition listed on the pack as a warning.
    let action = daemon.ctl_json(&["action", "get", "flows.fails_inspection"]);
    assert_eq!(action["ref"], "flows.fails_inspection", "{action:#}");
    let pack = daemon.ctl_json(&["pack", "get", "flows"]);
    assert_eq!(pack["errors"], json!([]), "{pack:#}");
    let file = "actions/workflows/fails_inspection.yaml";
    assert_eq!(
        strings(&pack["warnings"]),
        [
            // st2d's own reading of the definition: what its conductor cannot run.
            format!("{file}:17: tasks.shout.input: must be a mapping of parameters (or one expression)"),
            format!(
                "{file}:10: tasks.greet.input: context error in \"<% ctx().who %>\": Variable \"who\" is referenced \
                 before assignment."
            ),
            format!(
                "{file}:20: tasks.shout.next[0].when: expression error in \"<% <% succeeded() %>\": Parse error: \
                 unexpected '<' at position 0 of expression '<% succeeded()'"
            ),
            format!(
                "{file}:17: tasks.shout.input: syntax error: [{{'cmd': 'echo <% ctx().salutation %>'}}] is not \
                 valid under any of the given schemas"
            ),
        ],
        "{pack:#}"
    );

    // Each run fails at once with the errors, sorted by type then schema path.
    let expected = json!([
        // st2tests/integration/orquesta/test_wiring_error_handling.py (test_inspection_error):
        // the action of a task is not registered.
        {
            "type": "content",
            "message": "The action \"nothing.here\" is not registered in the database.",
            "schema_path": "properties.tasks.patternProperties.^\\w+$.properties.action",
            "spec_path": "tasks.wave.action",
        },
        // test_wiring_error_handling.py (test_inspection_error): a variable read before it is
        // assigned, in the input the action's shorthand gives.
        {
            "type": "context",
            "language": "yaql",
            "expression": "<% ctx().who %>",
            "message": "Variable \"who\" is referenced before assignment.",
            "schema_path": "properties.tasks.patternProperties.^\\w+$.properties.input",
            "spec_path": "tasks.greet.input",
        },
        // test_wiring_error_handling.py (test_inspection_error): a YAQL expression that does
        // not parse, with yaql's own message.
        {
            "type": "expression",
            "language": "yaql",
            "expression": "<% <% succeeded() %>",
            "message": "Parse error: unexpected '<' at position 0 of expression '<% succeeded()'",
            "schema_path": "properties.tasks.patternProperties.^\\w+$.properties.next.items.properties.when",
            "spec_path": "tasks.shout.next[0].when",
        },
        // test_wiring_error_handling.py (test_inspection_error): input that is a list, against
        // Orquesta's schema.
        {
            "type": "syntax",
            "message": "[{'cmd': 'echo <% ctx().salutation %>'}] is not valid under any of the given schemas",
            "schema_path": "properties.tasks.patternProperties.^\\w+$.properties.input.oneOf",
            "spec_path": "tasks.shout.input",
        },
    ]);
    for _ in 0..2 {
        let run = run_json(&daemon, &["flows.fails_inspection"]);
        assert_eq!(run["status"], "failed", "{run:#}");
        // contrib/runners/orquesta_runner/orquesta_runner/orquesta_runner.py: a
        // WorkflowInspectionError fails the run with `{"errors": ..., "output": None}`.
        assert_eq!(run["result"], json!({"errors": expected, "output": null}), "{run:#}");
        let id = run["id"].as_str().expect("an id");
        assert!(children(&daemon, id).is_empty(), "no task ran: {run:#}");
    }
}

#[test]
fn contents_are_checked_at_run_time_and_the_last_good_version_wins_on_reload() {
    let home = Home::new();
    flows_pack(&home);
    let good = "version: 1.0\ntasks:\n  one:\n    action: core.echo message=good\n    next:\n      - publish: said=<% result().stdout %>\noutput:\n  - said: <% ctx(said) %>\n";
    workflow(&home, "edited", "{}", good);
    // Reads and passes the inspection that needs nothing but the definition; only the run
    // checks the tasks' input against the registered actions.
    workflow(&home, "miscalls", "{}", "version: 1.0\ntasks:\n  one:\n    action: core.local colour=blue\n");
    let daemon = Daemon::start(&home, &["serve"]);
    let pack = daemon.ctl_json(&["pack", "get", "flows"]);
    assert_eq!((&pack["errors"], &pack["warnings"]), (&json!([]), &json!([])), "{pack:#}");
    let miscalls = run_json(&daemon, &["flows.miscalls"]);
    assert_eq!(miscalls["status"], "failed", "{miscalls:#}");
    // st2common/st2common/services/workflows.py (inspect_task_contents): a required parameter
    // without a default that the input does not give, and input the action does not take.
    let input = "properties.tasks.patternProperties.^\\w+$.properties.input";
    assert_eq!(
        miscalls["result"],
        json!({"errors": [
            {
                "type": "content",
                "message": "Action \"core.local\" is missing required input \"cmd\".",
                "schema_path": input,
                "spec_path": "tasks.one.input",
            },
            {
                "type": "content",
                "message": "Action \"core.local\" has unexpected input \"colour\".",
                "schema_path": format!("{input}.patternProperties.^\\w+$"),
                "spec_path": "tasks.one.input.colour",
            },
        ], "output": null}),
        "{miscalls:#}"
    );

    // A live edit that fails inspection: the last good version stays and runs, the problem is
    // the file's error.
    assert_eq!(run_json(&daemon, &["flows.edited"])["result"]["output"]["said"], "good");
    home.write(
        "packs/flows/actions/workflows/edited.yaml",
        "version: 1.0\ntasks:\n  one:\n    action: core.echo message=<% ctx().nobody %>\n",
    );
    let pack = daemon.wait_json("the failing edit to be reported", &["pack", "get", "flows"], |pack| {
        pack["errors"].as_array().is_some_and(|errors| !errors.is_empty())
    });
    let error = &pack["errors"][0];
    assert_eq!(error["file"], "actions/edited.yaml", "{pack:#}");
    assert_eq!(error["kept_last_good"], true, "{pack:#}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message
            .starts_with("actions/workflows/edited.yaml:4: tasks.one.input: context error in \"<% ctx().nobody %>\""),
        "{pack:#}"
    );
    assert_eq!(run_json(&daemon, &["flows.edited"])["result"]["output"]["said"], "good");

    // A new workflow that fails inspection registers at once, with its warning.
    workflow(&home, "fresh", "{}", "version: 1.0\ntasks:\n  one:\n    action: core.echo message=<% ctx().nobody %>\n");
    let pack = daemon.wait_json("the new workflow to register", &["pack", "get", "flows"], |pack| {
        strings(&pack["warnings"]).iter().any(|w| w.starts_with("actions/workflows/fresh.yaml:4: tasks.one.input"))
    });
    assert_eq!(pack["errors"].as_array().map(Vec::len), Some(1), "{pack:#}");
    let fresh = run_json(&daemon, &["flows.fresh"]);
    assert_eq!(fresh["result"]["errors"][0]["message"], "Variable \"nobody\" is referenced before assignment.");

    // Fixed: the edit loads, nothing is reported.
    home.write("packs/flows/actions/workflows/edited.yaml", good.replace("good", "fixed").as_str());
    home.write("packs/flows/actions/workflows/fresh.yaml", good);
    daemon.wait_json("the fixes to load", &["pack", "get", "flows"], |pack| {
        pack["errors"] == json!([]) && pack["warnings"] == json!([])
    });
    assert_eq!(run_json(&daemon, &["flows.edited"])["result"]["output"]["said"], "fixed");
}
