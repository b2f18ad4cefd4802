//! `st2 execution re-run`: an action run again with the original's parameters (and given ones
//! over them), and an Orquesta workflow resumed from some tasks of its original run, with-items
//! tasks reset or only their failed items run again. Expectations from StackStorm's
//! `ActionExecutionReRunController` (st2api/controllers/v1/actionexecutions.py), the st2 CLI's
//! `re-run` (st2client/commands/action.py) and Orquesta's `request_workflow_rerun`
//! (orquesta/conducting.py).

use serde_json::{Value, json};
use st2d_tests::{Daemon, Home, stderr};

use crate::orquesta::{children, flows_pack, task_names, workflow};

fn run_json(daemon: &Daemon, args: &[&str]) -> Value {
    let output = daemon.st2(&[&["-j"], args].concat());
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("st2 {args:?} printed no JSON ({e}): {}\n{}", stderr(&output), daemon.log()))
}

#[test]
fn an_action_runs_again_with_its_parameters_and_the_given_ones_over_them() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &["serve"]);
    let first = run_json(&daemon, &["run", "core.local", "cmd=echo $GREETING one", "env={\"GREETING\": \"hi\"}"]);
    assert_eq!(first["result"]["stdout"], "hi one", "{first:#}");
    let id = first["id"].as_str().expect("an id");

    let again = run_json(&daemon, &["execution", "re-run", id]);
    assert_ne!(again["id"], first["id"]);
    assert_eq!(again["result"]["stdout"], "hi one", "{again:#}");
    // The new execution names the original (context `re-run.ref`).
    assert_eq!(again["context"]["re-run"], json!({"ref": id}), "{again:#}");

    let changed = run_json(&daemon, &["execution", "re-run", id, "cmd=echo $GREETING two"]);
    assert_eq!(changed["result"]["stdout"], "hi two", "the given parameter wins, the others stay: {changed:#}");

    // Tasks are for Orquesta workflows only, and parameters do not go with tasks.
    let refused = daemon.st2(&["execution", "re-run", id, "--tasks", "one"]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("Task option is only supported for Orquesta workflows."), "{}", stderr(&refused));
    let refused = daemon.st2(&["execution", "re-run", "00000000ffffffff"]);
    assert!(!refused.status.success() && stderr(&refused).contains("does not exist"), "{}", stderr(&refused));
}

#[test]
fn a_workflow_resumes_from_the_named_tasks_of_its_original_run() {
    let home = Home::new();
    flows_pack(&home);
    let ready = home.path().join("ready");
    workflow(
        &home,
        "resumable",
        "{ready: {type: string, required: true}}",
        r#"version: 1.0
input:
  - ready
tasks:
  first:
    action: core.echo message="from the first run"
    next:
      - when: <% succeeded() %>
        publish: earlier=<% result().stdout %>
        do: flaky
  flaky:
    action: core.local cmd="test -e <% ctx(ready) %> && echo fixed"
    next:
      - when: <% succeeded() %>
        publish: fixed=<% result().stdout %>
        do: last
  last:
    action: core.noop
output:
  - earlier: <% ctx(earlier) %>
  - fixed: <% ctx(fixed) %>
"#,
    );
    workflow(
        &home,
        "items",
        "{ready: {type: string, required: true}}",
        r#"version: 1.0
input:
  - ready
tasks:
  each:
    with: n in <% list(1, 2, 3) %>
    action: core.local cmd="test <% item(n) %> != 2 -o -e <% ctx(ready) %> && echo item-<% item(n) %>"
output:
  - items: <% task(each).result.items.select($.result.stdout) %>
"#,
    );
    let daemon = Daemon::start(&home, &["serve"]);
    let ready_arg = format!("ready={}", ready.display());

    let failed = run_json(&daemon, &["run", "flows.resumable", &ready_arg]);
    assert_eq!(failed["status"], "failed", "{failed:#}");
    let original = failed["id"].as_str().expect("an id").to_string();
    std::fs::write(&ready, "").expect("the marker");

    // Only the named task and what follows it run; what the original run published stays.
    let resumed = run_json(&daemon, &["execution", "re-run", &original, "--tasks", "flaky"]);
    assert_eq!(resumed["status"], "succeeded", "{resumed:#}\n{}", daemon.log());
    assert_eq!(resumed["result"], json!({"output": {"earlier": "from the first run", "fixed": "fixed"}}));
    assert_eq!(resumed["context"]["re-run"], json!({"ref": original, "tasks": ["flaky"], "reset": ["flaky"]}));
    assert_eq!(task_names(&children(&daemon, resumed["id"].as_str().expect("an id"))), ["flaky", "last"]);

    // Parameters do not go with tasks; an unknown task fails the new execution with
    // st2common/services/workflows.py's message.
    let refused = daemon.st2(&["execution", "re-run", &original, "ready=/elsewhere", "--tasks", "flaky"]);
    assert!(stderr(&refused).contains("Parameters override is not supported when re-running task(s) for a workflow."));
    let unknown = run_json(&daemon, &["execution", "re-run", &original, "--tasks", "nope"]);
    assert_eq!(unknown["status"], "failed");
    assert_eq!(
        unknown["result"],
        json!({"output": null, "errors": [{"message": "Unable to rerun workflow because one or more tasks is not found: nope"}]})
    );

    // with-items: `--no-reset` runs only the items that did not succeed; without it, every item.
    std::fs::remove_file(&ready).expect("the marker goes");
    let failed = run_json(&daemon, &["run", "flows.items", &ready_arg]);
    assert_eq!(failed["status"], "failed", "{failed:#}");
    let original = failed["id"].as_str().expect("an id").to_string();
    std::fs::write(&ready, "").expect("the marker");
    let only_failed = run_json(&daemon, &["execution", "re-run", &original, "--tasks", "each", "--no-reset", "each"]);
    assert_eq!(only_failed["status"], "succeeded", "{only_failed:#}");
    assert_eq!(only_failed["result"]["output"]["items"], json!(["item-1", "item-2", "item-3"]));
    assert_eq!(children(&daemon, only_failed["id"].as_str().expect("an id")).len(), 1, "only item 2 ran again");
    let every_item = run_json(&daemon, &["execution", "re-run", &original, "--tasks", "each"]);
    assert_eq!(every_item["status"], "succeeded", "{every_item:#}");
    assert_eq!(children(&daemon, every_item["id"].as_str().expect("an id")).len(), 3, "every item ran again");
}
