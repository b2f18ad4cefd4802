//! Inquiries end to end: `core.ask` in Orquesta workflows (alone, twice in a row, in parallel
//! branches, in a subworkflow) and in an action-chain, answered with `st2 inquiry respond` (a
//! JSON response, or key by key on standard input), refused when invalid, from a user not
//! listed, or twice; an inquiry that outlives a restart; one whose TTL passes. Each expectation
//! names the upstream test it follows.

use serde_json::{Value, json};
use st2d_tests::{Daemon, Home, eventually, stderr, stdout};

use crate::orquesta::{children, flows_pack, workflow};

/// A workflow that asks between two echoes (StackStorm's examples.orquesta-ask-basic), with the
/// given extra input of `core.ask`.
fn ask_basic(ask_input: &str) -> String {
    format!(
        r#"version: 1.0
tasks:
  start:
    action: core.echo message="Automation started."
    next:
      - when: <% succeeded() %>
        do: get_approval
  get_approval:
    action: core.ask
    input:
      schema:
        type: object
        properties:
          approved:
            type: boolean
            description: "Continue?"
            required: True
{ask_input}
    next:
      - when: <% succeeded() %>
        publish:
          - approved: <% result().response.approved %>
        do: finish
      - when: <% failed() %>
        do: fail
  finish:
    action: core.echo message="Automation completed."
output:
  - approved: <% ctx().approved %>
"#
    )
}

fn status(daemon: &Daemon, id: &str) -> String {
    daemon.ctl_json(&["execution", "get", id])["status"].as_str().unwrap_or_default().to_string()
}

fn start(daemon: &Daemon, action: &str) -> String {
    daemon.ctl_json(&["run", action, "--async"])["id"].as_str().expect("an execution id").to_string()
}

/// Waits until the workflow `id` is paused, and returns its pending inquiries' ids, in order.
fn paused_with_inquiries(daemon: &Daemon, id: &str, count: usize) -> Vec<String> {
    let tree = daemon.wait_json("the workflow to pause for its inquiries", &["execution", "get", id], |tree| {
        tree["status"] == "paused"
            && tree["children"]
                .as_array()
                .is_some_and(|c| c.iter().filter(|child| child["status"] == "pending").count() == count)
    });
    let children = tree["children"].as_array().cloned().unwrap_or_default();
    children
        .iter()
        .filter(|c| c["status"] == "pending")
        .map(|c| c["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn respond(daemon: &Daemon, id: &str, response: &str) -> std::process::Output {
    daemon.st2(&["inquiry", "respond", id, "-r", response])
}

#[test]
fn an_orquesta_workflow_pauses_for_its_inquiry_and_goes_on_with_the_response() {
    let home = Home::new();
    flows_pack(&home);
    workflow(&home, "ask", "{}", &ask_basic("      route: approvers"));
    let daemon = Daemon::start(&home, &["serve"]);

    // contrib/runners/orquesta_runner/tests/unit/test_inquiries.py (test_inquiry): the asking
    // task is pending and the workflow paused, since nothing else of it runs.
    let id = start(&daemon, "flows.ask");
    let asked = paused_with_inquiries(&daemon, &id, 1);
    let inquiry = &asked[0];
    let listed = daemon.ctl_json(&["inquiry", "list"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed:#}");
    // st2common/st2common/models/api/inquiry.py (InquiryResponseAPI): id, route, ttl, users,
    // roles, schema; the runner's defaults (inquirer_runner/runner.yaml) where the task gave none.
    let shown = daemon.ctl_json(&["inquiry", "get", inquiry]);
    assert_eq!(shown["id"], inquiry.as_str());
    assert_eq!(shown["route"], "approvers");
    assert_eq!(shown["ttl"], 1440);
    assert_eq!(shown["users"], json!([]));
    assert_eq!(shown["roles"], json!([]));
    assert_eq!(shown["schema"]["properties"]["approved"]["type"], "boolean");
    // inquirer_runner.py: core.st2.generic.inquiry is dispatched with {id, route}.
    let announced = daemon.ctl_json(&["trigger-instance", "list", "--trigger", "core.st2.generic.inquiry"]);
    assert_eq!(announced[0]["payload"], json!({"id": inquiry, "route": "approvers"}), "{announced:#}");

    // st2api/tests/unit/controllers/v1/test_inquiries.py: a response that fails the schema is
    // refused with the reason, and changes nothing.
    let invalid = respond(&daemon, inquiry, r#"{"approved": "maybe"}"#);
    assert_eq!(invalid.status.code(), Some(1), "{}", stdout(&invalid));
    assert!(
        stderr(&invalid).contains(&format!(
            "Response for inquiry \"{inquiry}\" did not pass schema validation. response.approved must be of type boolean"
        )),
        "{}",
        stderr(&invalid)
    );
    assert!(stderr(&respond(&daemon, inquiry, "[1]")).contains("must be a JSON object"));
    assert_eq!(status(&daemon, inquiry), "pending");
    assert_eq!(status(&daemon, &id), "paused");

    let accepted = respond(&daemon, inquiry, r#"{"approved": true}"#);
    assert!(accepted.status.success(), "{}", stderr(&accepted));
    assert_eq!(stdout(&accepted), format!("\nResponse accepted for inquiry {inquiry}.\n"));
    let done = daemon.wait_json("the workflow to finish", &["execution", "get", &id], |e| e["status"] == "succeeded");
    assert_eq!(done["result"]["output"], json!({"approved": true}), "{done:#}");
    let answered = daemon.ctl_json(&["execution", "get", inquiry]);
    assert_eq!(answered["status"], "succeeded");
    assert_eq!(answered["result"]["response"], json!({"approved": true}));
    let tasks: Vec<&str> =
        done["children"].as_array().expect("tasks").iter().filter_map(|c| c["task"].as_str()).collect();
    assert_eq!(tasks, ["start", "get_approval", "finish"]);

    // st2common/st2common/exceptions/inquiry.py: InquiryAlreadyResponded.
    let again = respond(&daemon, inquiry, r#"{"approved": true}"#);
    assert!(
        stderr(&again).contains(&format!("Inquiry \"{inquiry}\" has already been responded to.")),
        "{}",
        stderr(&again)
    );
    assert_eq!(daemon.ctl_json(&["inquiry", "list"]), json!([]));
    let not_one = daemon.st2(&["inquiry", "get", &id]);
    assert!(
        stderr(&not_one).contains(&format!("Action execution \"{id}\" is not an inquiry.")),
        "{}",
        stderr(&not_one)
    );
}

#[test]
fn consecutive_parallel_and_nested_inquiries_pause_and_resume_their_workflows() {
    let home = Home::new();
    flows_pack(&home);
    let ask = |name: &str| {
        format!(
            "    action: core.ask\n    input:\n      schema:\n        type: object\n        properties:\n          approved: {{type: boolean, required: true}}\n      users: [{name}]\n"
        )
    };
    // contrib/runners/orquesta_runner/tests/fixtures/packs/orquesta_tests: ask-parallel-approvals.
    workflow(
        &home,
        "parallel",
        "{}",
        &format!(
            "version: 1.0\ntasks:\n  start:\n    action: core.noop\n    next:\n      - do: ask_jack, ask_jill\n  ask_jack:\n{}    next:\n      - do: finish\n  ask_jill:\n{}    next:\n      - do: finish\n  finish:\n    join: all\n    action: core.noop\n",
            ask("jack"),
            ask("jill")
        ),
    );
    // ask-nested-approval: the inquiry is a subworkflow's task.
    workflow(
        &home,
        "subflow",
        "{}",
        &format!(
            "version: 1.0\ntasks:\n  get_approval:\n{}    next:\n      - do: after\n  after:\n    action: core.noop\n",
            ask("jack")
        ),
    );
    workflow(
        &home,
        "nested",
        "{}",
        "version: 1.0\ntasks:\n  start:\n    action: core.noop\n    next:\n      - do: sub\n  sub:\n    action: flows.subflow\n    next:\n      - do: finish\n  finish:\n    action: core.noop\n",
    );
    let daemon = Daemon::start(&home, &["serve"]);

    // test_inquiries.py (test_parallel_inquiries): paused with both pending; after one
    // response the workflow is paused again, waiting for the other; running after the second.
    let id = start(&daemon, "flows.parallel");
    let asked = paused_with_inquiries(&daemon, &id, 2);
    let (jack, jill) = if daemon.ctl_json(&["inquiry", "get", &asked[0]])["users"] == json!(["jack"]) {
        (asked[0].clone(), asked[1].clone())
    } else {
        (asked[1].clone(), asked[0].clone())
    };
    // st2common/st2common/services/inquiry.py (check_permission): only the listed users answer.
    let stranger = daemon.st2(&["inquiry", "respond", &jack, "-r", r#"{"approved": true}"#, "-u", "jill"]);
    assert!(
        stderr(&stranger)
            .contains(&format!("User \"jill\" does not have permission to respond to inquiry \"{jack}\".")),
        "{}",
        stderr(&stranger)
    );
    let by_jack = daemon.st2(&["inquiry", "respond", &jack, "-r", r#"{"approved": true}"#, "-u", "jack"]);
    assert!(by_jack.status.success(), "{}", stderr(&by_jack));
    daemon.wait_json("jack's answer to be taken", &["execution", "get", &jack], |e| e["status"] == "succeeded");
    let again = paused_with_inquiries(&daemon, &id, 1);
    assert_eq!(again, std::slice::from_ref(&jill));
    // Key by key on standard input, as st2's InteractiveForm asks.
    let by_jill = daemon.st2_with_input(&["inquiry", "respond", &jill, "-u", "jill"], "yes\n");
    assert!(by_jill.status.success(), "{}", stderr(&by_jill));
    assert_eq!(daemon.ctl_json(&["execution", "get", &jill])["result"]["response"], json!({"approved": true}));
    daemon.wait_json("the workflow to finish", &["execution", "get", &id], |e| e["status"] == "succeeded");

    // test_inquiries.py (test_nested_inquiry): the subworkflow pauses for its inquiry, and its
    // parent, with nothing else running, pauses too; the response resumes both.
    let id = start(&daemon, "flows.nested");
    let sub = eventually("the subworkflow to pause", || {
        let sub = children(&daemon, &id).into_iter().find(|c| c["task"] == "sub")?;
        (sub["status"] == "paused").then(|| sub["id"].as_str().unwrap_or_default().to_string())
    });
    daemon.wait_json("the parent to pause", &["execution", "get", &id], |e| e["status"] == "paused");
    let inquiry = paused_with_inquiries(&daemon, &sub, 1).remove(0);
    let answered = respond(&daemon, &inquiry, r#"{"approved": true}"#);
    // Not jack: the listed users are the only ones who may answer.
    assert!(!answered.status.success());
    let answered = daemon.st2(&["inquiry", "respond", &inquiry, "-r", r#"{"approved": true}"#, "-u", "jack"]);
    assert!(answered.status.success(), "{}", stderr(&answered));
    daemon.wait_json("the parent to finish", &["execution", "get", &id], |e| e["status"] == "succeeded");
    assert_eq!(status(&daemon, &sub), "succeeded");
}

#[test]
fn a_chain_pauses_for_its_inquiry_and_an_inquiry_outlives_a_restart() {
    let home = Home::new();
    flows_pack(&home);
    // contrib/examples/actions/chains/chain_test_inquiry.yaml.
    home.write(
        "packs/flows/actions/chained.yaml",
        "---\nname: chained\nrunner_type: action-chain\nentry_point: chains/chained.yaml\n",
    );
    home.write(
        "packs/flows/actions/chains/chained.yaml",
        "---\nchain:\n  - name: task1\n    ref: core.ask\n    on-success: task2\n  - name: task2\n    ref: core.local\n    parameters:\n      cmd: echo \"{{ task1.response.continue }}\"\n",
    );
    workflow(&home, "ask", "{}", &ask_basic(""));
    let daemon = Daemon::start(&home, &["serve"]);

    // action_chain_runner.py: "Chain execution (%s) paused because task ... is pending";
    // inquirer_runner.py's post_run pauses the chain, inquiry.py's respond resumes it.
    let chain = start(&daemon, "flows.chained");
    let inquiry = paused_with_inquiries(&daemon, &chain, 1).remove(0);
    // The runner's default schema: {continue: boolean, required}.
    let schema = daemon.ctl_json(&["inquiry", "get", &inquiry])["schema"].clone();
    assert_eq!(schema["properties"]["continue"]["required"], true, "{schema:#}");
    let answered = respond(&daemon, &inquiry, r#"{"continue": true}"#);
    assert!(answered.status.success(), "{}", stderr(&answered));
    let done = daemon.wait_json("the chain to finish", &["execution", "get", &chain], |e| e["status"] == "succeeded");
    let second = done["children"].as_array().and_then(|c| c.iter().find(|t| t["task"] == "task2")).cloned();
    assert_eq!(second.map(|t| t["result"]["stdout"].clone()), Some(Value::from("True")), "{done:#}");

    // A pending inquiry and its paused workflow survive a restart; the response then resumes it.
    let id = start(&daemon, "flows.ask");
    let inquiry = paused_with_inquiries(&daemon, &id, 1).remove(0);
    daemon.signal(15);
    assert!(daemon.wait_exit().success());
    let daemon = Daemon::start(&home, &["serve"]);
    assert_eq!(status(&daemon, &inquiry), "pending");
    assert_eq!(status(&daemon, &id), "paused");
    assert_eq!(daemon.ctl_json(&["inquiry", "list"])[0]["id"], inquiry.as_str());
    let answered = respond(&daemon, &inquiry, r#"{"approved": false}"#);
    assert!(answered.status.success(), "{}", stderr(&answered));
    let done = daemon.wait_json("the workflow to finish", &["execution", "get", &id], |e| e["status"] == "succeeded");
    assert_eq!(done["result"]["output"], json!({"approved": false}));
}

#[test]
fn an_inquiry_nobody_answers_times_out_and_fails_its_task() {
    let home = Home::new();
    flows_pack(&home);
    workflow(&home, "ask", "{}", &ask_basic("      ttl: 1"));
    let daemon = Daemon::start(&home, &["serve"]);
    // st2common/st2common/garbage_collection/inquiries.py (purge_inquiries): past its TTL the
    // inquiry is `timeout` and its workflow resumes, where the failure is handled.
    let id = start(&daemon, "flows.ask");
    let inquiry = paused_with_inquiries(&daemon, &id, 1).remove(0);
    // A TTL is whole minutes: this waits one, past the harness's usual deadline.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(150);
    let failed = loop {
        let tree = daemon.ctl_json(&["execution", "get", &id]);
        if tree["status"] == "failed" {
            break tree;
        }
        assert!(std::time::Instant::now() < deadline, "the inquiry did not time out: {tree:#}\n{}", daemon.log());
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    assert_eq!(status(&daemon, &inquiry), "timeout");
    let tasks: Vec<&str> =
        failed["children"].as_array().expect("tasks").iter().filter_map(|c| c["task"].as_str()).collect();
    assert_eq!(tasks, ["start", "get_approval"], "{failed:#}");
    let late = respond(&daemon, &inquiry, r#"{"approved": true}"#);
    assert!(
        stderr(&late).contains(&format!("Inquiry \"{inquiry}\" timed out and cannot be responded to.")),
        "{}",
        stderr(&late)
    );
}
