//! Workflows end to end: action-chains run their tasks as child executions through the real
//! daemon, publish variables, follow failure paths, show their task tree, cancel as a tree, and
//! resume after st2d is killed in the middle of a task.

use serde_json::{Value, json};
use st2d_tests::{Daemon, Home, eventually, pack_yaml, stdout};

fn write_flows_pack(home: &Home) {
    home.write("packs/flows/pack.yaml", &pack_yaml("flows", "workflows"));
    let chain_action = |name: &str, parameters: &str| {
        home.write(
            &format!("packs/flows/actions/{name}.yaml"),
            &format!(
                "---\nname: {name}\nrunner_type: action-chain\nentry_point: chains/{name}.yaml\nparameters: {parameters}\n"
            ),
        );
    };
    chain_action("greet", "{who: {type: string, default: world}}");
    home.write(
        "packs/flows/actions/chains/greet.yaml",
        r#"---
vars:
  greeting: "hello {{ who }}"
chain:
  - name: first
    ref: core.local
    parameters:
      cmd: "echo {{ greeting }}"
    publish:
      said: "{{ first.stdout }}"
      info: "{{ {'n': 1, 'tags': ['a', 'b']} }}"
    on-success: second
  - name: second
    ref: core.local
    parameters:
      cmd: "echo {{ said }} {{ info.n }} {{ info.tags | join('+') }} in {{ action_context.parent.execution_id }}; exit 3"
    on-failure: recover
    on-success: never
  - name: recover
    ref: core.echo
    parameters:
      message: "recovered from {{ __results.second.return_code }}"
  - name: never
    ref: core.echo
    parameters:
      message: "not reached"
"#,
    );
    chain_action("broken", "{}");
    home.write(
        "packs/flows/actions/chains/broken.yaml",
        "---\nchain:\n  - name: one\n    ref: core.local\n    parameters: {cmd: 'exit 1'}\n    on-success: two\n  - name: two\n    ref: core.noop\n",
    );
    chain_action("undefined", "{}");
    home.write(
        "packs/flows/actions/chains/undefined.yaml",
        "---\nchain:\n  - name: one\n    ref: core.noop\n    on-success: two\n  - name: two\n    ref: core.echo\n    parameters: {message: '{{ nothing_here }}'}\n",
    );
    chain_action("typo", "{}");
    home.write(
        "packs/flows/actions/chains/typo.yaml",
        "---\nchain:\n  - name: one\n    ref: core.noop\n    on-success: tow\n  - name: two\n    ref: core.noop\n",
    );
    chain_action("slow", "{seconds: {type: integer, default: 30}}");
    home.write(
        "packs/flows/actions/chains/slow.yaml",
        "---\nchain:\n  - name: wait\n    ref: core.local\n    parameters: {cmd: 'sleep {{ seconds }}', timeout: 120}\n    on-success: done\n    on-failure: recover\n  - name: done\n    ref: core.echo\n    parameters: {message: done}\n  - name: recover\n    ref: core.echo\n    parameters: {message: 'recovered after {{ __results.wait.error | default(\"\") }}'}\n",
    );
}

fn run_json(daemon: &Daemon, args: &[&str]) -> Value {
    let mut full = vec!["run"];
    full.extend_from_slice(args);
    let output = daemon.st2(&[&["-j"], full.as_slice()].concat());
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("st2 run printed no JSON ({e}): {}\n{}", stdout(&output), daemon.log()))
}

#[test]
fn an_action_chain_runs_its_tasks_publishes_and_follows_the_failure_path() {
    let home = Home::new();
    write_flows_pack(&home);
    let daemon = Daemon::start(&home, &["serve"]);

    let chain = run_json(&daemon, &["flows.greet", "who=you"]);
    assert_eq!(chain["status"], "succeeded", "{chain:#}");
    let id = chain["id"].as_str().expect("an id").to_string();
    let tasks = chain["result"]["tasks"].as_array().expect("tasks");
    let names: Vec<&str> = tasks.iter().map(|t| t["name"].as_str().unwrap_or_default()).collect();
    assert_eq!(names, ["first", "second", "recover"], "{chain:#}");
    assert_eq!(tasks[0]["state"], "succeeded");
    assert_eq!(tasks[1]["state"], "failed");
    assert_eq!(tasks[1]["result"]["stdout"], format!("hello you 1 a+b in {id}"));
    assert_eq!(tasks[2]["result"]["stdout"], "recovered from 3");
    assert_eq!(chain["result"]["published"], json!({"said": "hello you", "info": {"n": 1, "tags": ["a", "b"]}}));

    // Each task is an execution of its own, with its parent and task name.
    let child_id = tasks[1]["execution_id"].as_str().expect("the task's execution").to_string();
    let child = daemon.ctl_json(&["execution", "get", &child_id]);
    assert_eq!((child["parent"].as_str(), child["task"].as_str()), (Some(id.as_str()), Some("second")));
    assert_eq!(child["context"]["parent"]["execution_id"], id.as_str());
    assert_eq!(child["context"]["chain"]["name"], "second");

    // The tree: `execution get` lists the tasks; `execution list` hides them unless asked.
    let tree = daemon.ctl_json(&["execution", "get", &id]);
    let children: Vec<&str> =
        tree["children"].as_array().expect("children").iter().map(|c| c["task"].as_str().unwrap_or("")).collect();
    assert_eq!(children, ["first", "second", "recover"]);
    let shown = stdout(&daemon.st2(&["execution", "get", &id]));
    assert!(shown.contains("| task ") && shown.contains("| recover "), "{shown}");
    assert!(!shown.contains("result:"), "{shown}");
    let top = daemon.ctl_json(&["execution", "list"]);
    assert_eq!(top.as_array().map(Vec::len), Some(1), "{top:#}");
    let all = daemon.ctl_json(&["execution", "list", "--showall"]);
    assert_eq!(all.as_array().map(Vec::len), Some(4), "{all:#}");

    // A failed task without on-failure fails the chain; its next task never runs.
    let broken = run_json(&daemon, &["flows.broken"]);
    assert_eq!(broken["status"], "failed", "{broken:#}");
    assert_eq!(broken["result"]["tasks"].as_array().map(Vec::len), Some(1));

    // A parameter that does not render stops the chain, saying where.
    let undefined = run_json(&daemon, &["flows.undefined"]);
    assert_eq!(undefined["status"], "failed");
    let error = undefined["result"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("task \"two\"") && error.contains("nothing_here"), "{undefined:#}");
    assert_eq!(undefined["result"]["tasks"].as_array().map(Vec::len), Some(1));

    // A transition to an unknown task is refused before anything runs.
    let typo = run_json(&daemon, &["flows.typo"]);
    assert_eq!(typo["status"], "failed");
    let error = typo["result"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("typo.yaml") && error.contains("\"tow\"") && error.contains("on-success"), "{typo:#}");
}

#[test]
fn cancelling_a_chain_cancels_the_task_it_waits_for() {
    let home = Home::new();
    write_flows_pack(&home);
    let daemon = Daemon::start(&home, &["serve"]);
    let started = daemon.ctl_json(&["run", "flows.slow", "--async"]);
    let id = started["id"].as_str().expect("an id").to_string();
    let tree = daemon.wait_json("the chain's first task to run", &["execution", "get", &id], |tree| {
        tree["children"][0]["status"] == "running"
    });
    let child = tree["children"][0]["id"].as_str().expect("the task").to_string();
    assert!(daemon.ctl(&["execution", "cancel", &id]).status.success());
    let chain =
        daemon.wait_json("the chain to be canceled", &["execution", "get", &id], |chain| chain["status"] == "canceled");
    assert_eq!(chain["children"].as_array().map(Vec::len), Some(1), "{chain:#}");
    let task = daemon.ctl_json(&["execution", "get", &child]);
    assert_eq!(task["status"], "canceled", "{task:#}");
}

#[test]
fn a_chain_resumes_after_st2d_is_killed_in_the_middle_of_a_task() {
    let home = Home::new();
    write_flows_pack(&home);
    let daemon = Daemon::start(&home, &["serve"]);
    let started = daemon.ctl_json(&["run", "flows.slow", "seconds=20", "--async"]);
    let id = started["id"].as_str().expect("an id").to_string();
    daemon.wait_json("the chain's first task to run", &["execution", "get", &id], |tree| {
        tree["children"][0]["status"] == "running"
    });
    daemon.signal(9);
    daemon.wait_exit();

    // The task that was running is abandoned; the chain follows its failure path and ends.
    let daemon = Daemon::start(&home, &["serve"]);
    let chain = daemon.wait_json("the chain to finish after the restart", &["execution", "get", &id], |chain| {
        chain["status"] == "succeeded"
    });
    let tasks = chain["result"]["tasks"].as_array().expect("tasks");
    let states: Vec<(&str, &str)> =
        tasks.iter().map(|t| (t["name"].as_str().unwrap_or(""), t["state"].as_str().unwrap_or(""))).collect();
    assert_eq!(states, [("wait", "abandoned"), ("recover", "succeeded")], "{chain:#}");
    assert!(tasks[1]["result"]["stdout"].as_str().unwrap_or_default().contains("st2d stopped"), "{chain:#}");
    assert!(daemon.log().contains("resuming a workflow"), "{}", daemon.log());
    eventually("nothing left running", || {
        let running = daemon.ctl_json(&["execution", "list", "--showall", "--status", "running"]);
        running.as_array().is_some_and(Vec::is_empty).then_some(())
    });
}
