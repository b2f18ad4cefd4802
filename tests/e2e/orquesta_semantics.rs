//! Orquesta's semantics as StackStorm runs them, each expectation taken from upstream's own
//! tests (named beside it): what a join receives from its branches, the output rendered from
//! the branches that ended (null when the workflow has none, still rendered when it fails),
//! and the error entries of a workflow's result.

use serde_json::json;
use st2d_tests::{Daemon, Home};

use crate::orquesta::{children, flows_pack, run_json, task_names, workflow};

#[test]
fn a_join_keeps_what_each_branch_published() {
    let home = Home::new();
    flows_pack(&home);
    // Shaped like StackStorm's examples.orquesta-join: every branch carries the initial `first`
    // and `second`; one branch publishes `first` twice, another `second`. A later arrival at the
    // join must not put the initial values back.
    workflow(
        &home,
        "joined",
        "{}",
        r#"version: 1.0
vars:
  - first: initial
  - second: initial
tasks:
  split:
    action: core.noop
    next:
      - do: one_a, two_a, three_a
  one_a:
    action: core.echo message="alpha"
    next:
      - publish: first=<% result().stdout %>
        do: one_b
  one_b:
    action: core.echo message="beta"
    next:
      - publish:
          - first: <% ctx().first %> <% result().stdout %>
        do: meet
  two_a:
    action: core.local cmd="sleep 0.2; echo gamma"
    next:
      - publish: second=<% result().stdout %>
        do: meet
  three_a:
    action: core.local cmd="sleep 0.4"
    next:
      - publish: third="delta"
        do: meet
  meet:
    join: all
    action: core.noop
output:
  - all:
      - <% ctx().first %>
      - <% ctx().second %>
      - <% ctx().third %>
"#,
    );
    let daemon = Daemon::start(&home, &["serve"]);
    let flow = run_json(&daemon, &["flows.joined"]);
    assert_eq!(flow["status"], "succeeded", "{flow:#}\n{}", daemon.log());
    // st2tests/integration/orquesta/test_wiring.py (test_join): each branch's published value
    // reaches the output; orquesta/conducting.py merges a later arrival without the initial context.
    assert_eq!(flow["result"], json!({"output": {"all": ["alpha beta", "gamma", "delta"]}}), "{flow:#}");
}

#[test]
fn the_output_is_null_without_an_output_section_and_rendered_when_the_workflow_fails() {
    let home = Home::new();
    flows_pack(&home);
    workflow(&home, "silent", "{}", "version: 1.0\ntasks:\n  only:\n    action: core.noop\n");
    // Shaped like StackStorm's examples.orquesta-output-on-error.
    workflow(
        &home,
        "progress",
        "{}",
        r#"version: 1.0
vars:
  - progress: 0
output:
  - progress: <% ctx().progress %>
tasks:
  one:
    action: core.noop
    next:
      - when: <% succeeded() %>
        publish:
          - progress: 25
        do: two
  two:
    action: core.local cmd="exit 1"
    next:
      - when: <% succeeded() %>
        publish:
          - progress: 50
        do: three
  three:
    action: core.noop
"#,
    );
    let daemon = Daemon::start(&home, &["serve"]);

    // st2common/services/workflows.py (update_workflow_execution): `{"output": output or None}`.
    let silent = run_json(&daemon, &["flows.silent"]);
    assert_eq!(silent["status"], "succeeded", "{silent:#}");
    assert_eq!(silent["result"], json!({"output": null}), "{silent:#}");

    // st2tests/integration/orquesta/test_wiring.py (test_output_on_error): the whole result.
    let failed = run_json(&daemon, &["flows.progress"]);
    assert_eq!(failed["status"], "failed", "{failed:#}");
    let expected = json!({
        "output": {"progress": 25},
        "errors": [{
            "type": "error",
            "task_id": "two",
            "message": "Execution failed. See result for details.",
            "result": {"failed": true, "return_code": 1, "stderr": "", "stdout": "", "succeeded": false},
        }],
    });
    assert_eq!(failed["result"], expected, "{failed:#}");
}

#[test]
fn failures_are_errors_of_the_result_only_when_the_workflow_fails() {
    let home = Home::new();
    flows_pack(&home);
    // Shaped like StackStorm's examples.orquesta-error-handling-fail-manually, -noop and -continue.
    for (name, remedy) in [("manual", "cleanup, fail"), ("noop", "noop"), ("onward", "continue")] {
        workflow(
            &home,
            name,
            "{}",
            &format!(
                r#"version: 1.0
vars:
  - message: null
tasks:
  one:
    action: core.local cmd="exit 1"
    next:
      - when: <% succeeded() %>
        do: never
      - when: <% failed() %>
        publish:
          - message: "$%#&@#$!!!"
        do: {remedy}
  never:
    action: core.noop
  cleanup:
    action: core.noop
output:
  - message: <% ctx().message %>
"#
            ),
        );
    }
    workflow(
        &home,
        "broken_transition",
        "{}",
        r#"version: 1.0
vars:
  - present: 1
tasks:
  one:
    action: core.noop
    next:
      - when: <% ctx().present.deeper %>
        do: two, three
  two:
    action: core.noop
  three:
    action: core.noop
"#,
    );
    let daemon = Daemon::start(&home, &["serve"]);
    let failed_one = json!({
        "type": "error",
        "task_id": "one",
        "message": "Execution failed. See result for details.",
        "result": {"failed": true, "return_code": 1, "stderr": "", "stdout": "", "succeeded": false},
    });
    let output = json!({"message": "$%#&@#$!!!"});

    // st2tests/integration/orquesta/test_wiring_error_handling.py (test_fail_manually): the task's
    // failure and the fail command, logged as a task "fail" without a result.
    let manual = run_json(&daemon, &["flows.manual"]);
    assert_eq!(manual["status"], "failed", "{manual:#}");
    let fail = json!({"type": "error", "task_id": "fail", "message": "Execution failed. See result for details."});
    assert_eq!(manual["result"], json!({"errors": [failed_one, fail], "output": output}), "{manual:#}");
    assert!(task_names(&children(&daemon, manual["id"].as_str().expect("an id"))).contains(&"cleanup".to_string()));

    // test_fail_noop: remediated, so the workflow succeeds and its result has no errors.
    let noop = run_json(&daemon, &["flows.noop"]);
    assert_eq!(noop["status"], "succeeded", "{noop:#}");
    assert_eq!(noop["result"], json!({"output": output}), "{noop:#}");

    // test_fail_continue: `continue` does not remediate.
    let onward = run_json(&daemon, &["flows.onward"]);
    assert_eq!(onward["status"], "failed", "{onward:#}");
    assert_eq!(onward["result"], json!({"errors": [failed_one], "output": output}), "{onward:#}");

    // orquesta/tests/unit/conducting/test_workflow_conductor_error_handling.py: an error in a
    // transition is logged once per task it leads to, with the route and `<task>__t<n>`.
    let broken = run_json(&daemon, &["flows.broken_transition"]);
    assert_eq!(broken["status"], "failed", "{broken:#}");
    let errors = broken["result"]["errors"].as_array().cloned().unwrap_or_default();
    let ids: Vec<(&str, &str, i64)> = errors
        .iter()
        .map(|e| {
            (
                e["task_id"].as_str().unwrap_or_default(),
                e["task_transition_id"].as_str().unwrap_or_default(),
                e["route"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(ids, [("one", "two__t0", 0), ("one", "three__t0", 0)], "{broken:#}");
    assert_eq!(broken["result"]["output"], json!(null), "{broken:#}");
}

#[test]
fn canceling_a_task_or_a_subworkflow_cancels_its_workflow() {
    let home = Home::new();
    flows_pack(&home);
    workflow(&home, "napping", "{}", "version: 1.0\ntasks:\n  nap:\n    action: core.local cmd='sleep 60'\n");
    workflow(
        &home,
        "parent",
        "{}",
        r#"version: 1.0
tasks:
  sub:
    action: flows.napping
    next:
      - when: <% completed() %>
        do: after
  side:
    action: core.local cmd="sleep 60"
  after:
    action: core.noop
"#,
    );
    let daemon = Daemon::start(&home, &["serve"]);
    let running = |id: &str, task: &str| {
        let tree = daemon.ctl_json(&["execution", "get", id]);
        tree["children"]
            .as_array()
            .and_then(|c| c.iter().find(|t| t["task"] == task && t["status"] == "running"))
            .cloned()
    };

    // contrib/runners/orquesta_runner/tests/unit/test_cancel.py
    // (test_cancel_subworkflow_cascade_up_to_workflow_with_other_subworkflows): canceling a
    // subworkflow cancels the workflow above it and the workflow's other running tasks.
    let id = daemon.ctl_json(&["run", "flows.parent", "--async"])["id"].as_str().expect("an id").to_string();
    let sub = st2d_tests::eventually("the subworkflow and the side task to run", || {
        let sub = running(&id, "sub")?;
        running(&id, "side")?;
        running(sub["id"].as_str()?, "nap")?;
        Some(sub["id"].as_str()?.to_string())
    });
    assert!(daemon.ctl(&["execution", "cancel", &sub]).status.success());
    let flow =
        daemon.wait_json("the workflow to be canceled", &["execution", "get", &id], |f| f["status"] == "canceled");
    let statuses: Vec<(String, String)> = flow["children"]
        .as_array()
        .expect("children")
        .iter()
        .map(|t| (t["task"].as_str().unwrap_or_default().into(), t["status"].as_str().unwrap_or_default().into()))
        .collect();
    assert_eq!(
        statuses,
        [("sub".to_string(), "canceled".to_string()), ("side".to_string(), "canceled".to_string())],
        "nothing follows a canceled task: {flow:#}"
    );
    let log: Vec<&str> =
        flow["log"].as_array().expect("a log").iter().map(|e| e["status"].as_str().unwrap_or_default()).collect();
    assert!(log.windows(2).any(|w| w == ["canceling", "canceled"]), "{log:?}");
    assert_eq!(flow["result"], json!({"output": null}), "{flow:#}");

    // An action task canceled on its own cancels its workflow as well (orquesta's workflow
    // state machine: a canceled task moves the workflow to canceling).
    let id = daemon.ctl_json(&["run", "flows.parent", "--async"])["id"].as_str().expect("an id").to_string();
    let side =
        st2d_tests::eventually("the side task to run", || Some(running(&id, "side")?["id"].as_str()?.to_string()));
    assert!(daemon.ctl(&["execution", "cancel", &side]).status.success());
    let flow =
        daemon.wait_json("the workflow to be canceled", &["execution", "get", &id], |f| f["status"] == "canceled");
    let sub = flow["children"].as_array().and_then(|c| c.iter().find(|t| t["task"] == "sub")).cloned();
    let sub = sub.expect("the subworkflow was requested");
    assert_eq!(sub["status"], "canceled", "{flow:#}");
    assert_eq!(
        daemon.ctl_json(&["execution", "get", sub["id"].as_str().expect("an id")])["children"][0]["status"],
        "canceled"
    );
}

#[test]
fn pausing_cascades_down_to_subworkflows_and_a_chain_pauses_between_tasks() {
    let home = Home::new();
    flows_pack(&home);
    workflow(
        &home,
        "inner",
        "{}",
        "version: 1.0\ntasks:\n  nap:\n    action: core.local cmd='sleep 1.5'\n    next:\n      - do: after\n  after:\n    action: core.noop\n",
    );
    workflow(&home, "outer", "{}", "version: 1.0\ntasks:\n  sub:\n    action: flows.inner\n");
    home.write(
        "packs/flows/actions/chained.yaml",
        "---\nname: chained\nrunner_type: action-chain\nentry_point: chains/chained.yaml\n",
    );
    home.write(
        "packs/flows/actions/chains/chained.yaml",
        "---\nchain:\n  - name: first\n    ref: core.local\n    parameters:\n      cmd: sleep 1.5\n    on-success: second\n  - name: second\n    ref: core.echo\n    parameters:\n      message: done\n",
    );
    let daemon = Daemon::start(&home, &["serve"]);
    let status =
        |id: &str| daemon.ctl_json(&["execution", "get", id])["status"].as_str().unwrap_or_default().to_string();

    // contrib/runners/orquesta_runner/tests/unit/test_pause_and_resume.py
    // (test_pause_workflow_cascade_down_to_subworkflow, test_resume_cascade_to_subworkflow): the
    // subworkflow pauses with its parent, which is paused once the subworkflow is.
    let id = daemon.ctl_json(&["run", "flows.outer", "--async"])["id"].as_str().expect("an id").to_string();
    let sub = st2d_tests::eventually("the subworkflow's task to run", || {
        let tree = daemon.ctl_json(&["execution", "get", &id]);
        let sub = tree["children"][0]["id"].as_str()?.to_string();
        (daemon.ctl_json(&["execution", "get", &sub])["children"][0]["status"] == "running").then_some(sub)
    });
    assert_eq!(daemon.ctl_json(&["execution", "pause", &id])["status"], "pausing");
    daemon.wait_json("the workflow to pause", &["execution", "get", &id], |f| f["status"] == "paused");
    assert_eq!(status(&sub), "paused");
    let inner = daemon.ctl_json(&["execution", "get", &sub]);
    assert_eq!(task_names(inner["children"].as_array().expect("children")), ["nap"], "nothing new starts: {inner:#}");
    assert_eq!(daemon.ctl_json(&["execution", "resume", &id])["status"], "running");
    daemon.wait_json("the workflow to finish", &["execution", "get", &id], |f| f["status"] == "succeeded");
    assert_eq!(status(&sub), "succeeded");

    // contrib/runners/action_chain_runner/tests/unit/test_actionchain_pause_resume.py
    // (test_chain_pause_resume): pausing while a task runs, paused once it is done, and resumed
    // with the next task.
    let id = daemon.ctl_json(&["run", "flows.chained", "--async"])["id"].as_str().expect("an id").to_string();
    st2d_tests::eventually("the chain's first task to run", || {
        (daemon.ctl_json(&["execution", "get", &id])["children"][0]["status"] == "running").then_some(())
    });
    assert_eq!(daemon.ctl_json(&["execution", "pause", &id])["status"], "pausing");
    let paused = daemon.wait_json("the chain to pause", &["execution", "get", &id], |f| f["status"] == "paused");
    assert_eq!(task_names(paused["children"].as_array().expect("children")), ["first"], "{paused:#}");
    assert_eq!(daemon.ctl_json(&["execution", "resume", &id])["status"], "running");
    let done = daemon.wait_json("the chain to finish", &["execution", "get", &id], |f| f["status"] == "succeeded");
    assert_eq!(done["result"]["tasks"].as_array().map(Vec::len), Some(2), "{done:#}");
}

#[test]
fn a_paused_subworkflow_pauses_its_parent_once_nothing_else_runs_and_resuming_it_resumes_both() {
    let home = Home::new();
    flows_pack(&home);
    workflow(
        &home,
        "napping",
        "{}",
        "version: 1.0\ntasks:\n  nap:\n    action: core.local cmd='sleep 1'\n    next:\n      - do: after\n  after:\n    action: core.noop\n",
    );
    workflow(&home, "busy", "{}", "version: 1.0\ntasks:\n  work:\n    action: core.local cmd='sleep 3'\n");
    workflow(
        &home,
        "parent",
        "{}",
        "version: 1.0\ntasks:\n  start:\n    action: core.noop\n    next:\n      - do: one, two\n  one:\n    action: flows.napping\n    next:\n      - do: last\n  two:\n    action: flows.busy\n    next:\n      - do: last\n  last:\n    join: all\n    action: core.noop\n",
    );
    let daemon = Daemon::start(&home, &["serve"]);
    let status =
        |id: &str| daemon.ctl_json(&["execution", "get", id])["status"].as_str().unwrap_or_default().to_string();
    let id = daemon.ctl_json(&["run", "flows.parent", "--async"])["id"].as_str().expect("an id").to_string();
    let sub = st2d_tests::eventually("the subworkflow's nap to run", || {
        let one = children(&daemon, &id).into_iter().find(|c| c["task"] == "one")?;
        let sub = one["id"].as_str()?.to_string();
        (children(&daemon, &sub).first()?["status"] == "running").then_some(sub)
    });
    // contrib/runners/orquesta_runner/tests/unit/test_pause_and_resume.py
    // (test_resume_from_subworkflow_when_parent_is_paused): a subworkflow paused on its own
    // leaves its parent running while another task runs ...
    assert_eq!(daemon.ctl_json(&["execution", "pause", &sub])["status"], "pausing");
    daemon.wait_json("the subworkflow to pause", &["execution", "get", &sub], |e| e["status"] == "paused");
    assert_eq!(status(&id), "running");
    // ... and the parent is paused once that task is done and nothing else of it runs.
    daemon.wait_json("the parent to pause", &["execution", "get", &id], |e| e["status"] == "paused");
    let two = children(&daemon, &id).into_iter().find(|c| c["task"] == "two").expect("task two");
    assert_eq!(two["status"], "succeeded");
    // Resuming the subworkflow resumes its parent.
    assert_eq!(daemon.ctl_json(&["execution", "resume", &sub])["status"], "running");
    let parent = status(&id);
    assert!(parent == "running" || parent == "succeeded", "the parent resumed with it: {parent}");
    let done = daemon.wait_json("the parent to finish", &["execution", "get", &id], |e| e["status"] == "succeeded");
    assert_eq!(task_names(done["children"].as_array().expect("tasks")), ["start", "one", "two", "last"]);
}

#[test]
fn the_workflow_context_has_stackstorms_keys() {
    let home = Home::new();
    flows_pack(&home);
    workflow(
        &home,
        "contexts",
        "{}",
        "version: 1.0\ntasks:\n  only:\n    action: core.noop\noutput:\n  - st2: <% ctx(st2) %>\n  - parent_user: <% ctx(parent).user %>\n",
    );
    let daemon = Daemon::start(&home, &["serve"]);
    let done = run_json(&daemon, &["flows.contexts"]);
    let id = done["id"].as_str().expect("an id");
    // contrib/runners/orquesta_runner/orquesta_runner/orquesta_runner.py (_construct_st2_context,
    // _construct_context) and st2common/st2common/services/workflows.py (request: the
    // workflow_execution_id; request_action_execution: each task's `orquesta` context).
    assert_eq!(
        done["result"]["output"]["st2"],
        json!({
            "action_execution_id": id,
            "api_url": "",
            "user": done["context"]["user"],
            "pack": "flows",
            "action": "flows.contexts",
            "runner": "orquesta",
            "workflow_execution_id": id,
        }),
        "{done:#}"
    );
    assert_eq!(done["result"]["output"]["parent_user"], done["context"]["user"]);
    assert_eq!(done["context"]["workflow_execution"], id);
    let task = &children(&daemon, id)[0];
    assert_eq!(
        task["context"]["orquesta"],
        json!({"workflow_execution_id": id, "task_name": "only", "task_id": "only", "task_route": 0})
    );
    assert_eq!(task["context"]["parent"]["execution_id"], id);
}
