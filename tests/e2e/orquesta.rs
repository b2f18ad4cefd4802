//! Orquesta workflows end to end, written for these tests and run by the real daemon through
//! `st2`/`st2ctl`: sequences with YAQL and Jinja, publish and output, parallel branches joining,
//! with-items over 100 items with concurrency 10, retry, delay, failure paths and the engine
//! commands, pause and resume, cancel as a tree, a restart in the middle of a task, a workflow
//! shaped like StackStorm's `packs.install`, and broken definitions reported with file and line.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use st2d_tests::{Daemon, Home, commit, eventually, pack_yaml, require_git, stdout};

/// Writes an orquesta action `flows.<name>` with its workflow definition.
pub(crate) fn workflow(home: &Home, name: &str, parameters: &str, definition: &str) {
    home.write(
        &format!("packs/flows/actions/{name}.yaml"),
        &format!(
            "---\nname: {name}\nrunner_type: orquesta\nentry_point: workflows/{name}.yaml\nparameters: {parameters}\n"
        ),
    );
    home.write(&format!("packs/flows/actions/workflows/{name}.yaml"), definition);
}

pub(crate) fn flows_pack(home: &Home) {
    home.write("packs/flows/pack.yaml", &pack_yaml("flows", "orquesta workflows"));
}

pub(crate) fn run_json(daemon: &Daemon, args: &[&str]) -> Value {
    let output = daemon.st2(&[&["-j", "run"], args].concat());
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("st2 run printed no JSON ({e}): {}\n{}", stdout(&output), daemon.log()))
}

/// The workflow's task executions by task name, in the order they were requested.
pub(crate) fn children(daemon: &Daemon, id: &str) -> Vec<Value> {
    let tree = daemon.ctl_json(&["execution", "get", id]);
    tree["children"].as_array().cloned().unwrap_or_default()
}

pub(crate) fn task_names(children: &[Value]) -> Vec<String> {
    children.iter().map(|c| c["task"].as_str().unwrap_or_default().to_string()).collect()
}

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .expect("a timestamp")
}

#[test]
fn a_sequence_publishes_renders_yaql_and_jinja_and_outputs() {
    let home = Home::new();
    flows_pack(&home);
    workflow(
        &home,
        "sequence",
        "{name: {type: string, required: true}, count: {type: integer, default: 2}}",
        r#"version: 1.0
description: A sequence of three tasks.
input:
  - name
  - count
  - doubled: <% ctx(count) * 2 %>
vars:
  - greeting: null
  - tags: <% list(a, b) + list(c) %>
tasks:
  greet:
    action: core.echo message="hello <% ctx().name %>"
    next:
      - when: <% succeeded() %>
        publish:
          - greeting: <% result().stdout %>
          - shout: "{{ ctx('greeting') | upper }}"
        do: describe
  describe:
    action: core.local
    input:
      cmd: "echo {{ ctx().greeting }} x{{ ctx('doubled') }} {{ ctx().tags | join('-') }}"
    next:
      - when: <% succeeded() and ctx().count > 1 %>
        publish: said=<% result().stdout %> n=3
        do: last
      - when: <% failed() %>
        do: fail
  last:
    action: core.noop
output:
  - greeting: <% ctx().greeting %>
  - shout: <% ctx(shout) %>
  - said: <% ctx(said) %>
  - n: <% ctx(n) %>
  - tags: <% ctx(tags) %>
  - described: <% task(describe).result.stdout.len() > 0 %>
  - execution: <% ctx(st2).action_execution_id %>
"#,
    );
    let daemon = Daemon::start(&home, &["serve"]);
    let flow = run_json(&daemon, &["flows.sequence", "name=you"]);
    assert_eq!(flow["status"], "succeeded", "{flow:#}\n{}", daemon.log());
    let id = flow["id"].as_str().expect("an id");
    let output = &flow["result"]["output"];
    assert_eq!(output["greeting"], "hello you", "{flow:#}");
    assert_eq!(output["shout"], "HELLO YOU");
    assert_eq!(output["said"], "hello you x4 a-b-c", "{flow:#}");
    assert_eq!(output["execution"], id);
    assert_eq!((output["n"].clone(), output["tags"].clone()), (json!(3), json!(["a", "b", "c"])));
    assert_eq!(output["described"], true);
    assert!(flow["result"].get("errors").is_none(), "{flow:#}");
    let tasks = children(&daemon, id);
    assert_eq!(task_names(&tasks), ["greet", "describe", "last"]);
    let child = daemon.ctl_json(&["execution", "get", tasks[0]["id"].as_str().expect("an id")]);
    assert_eq!(child["context"]["orquesta"]["task_name"], "greet", "{child:#}");
    assert_eq!(child["context"]["parent"]["execution_id"], id);
    let shown = stdout(&daemon.st2(&["execution", "get", id]));
    assert!(shown.contains("| greet ") && shown.contains("| last "), "{shown}");
}

#[test]
fn parallel_branches_join_with_their_contexts_merged_and_a_task_without_join_runs_per_arrival() {
    let home = Home::new();
    flows_pack(&home);
    workflow(
        &home,
        "branches",
        "{}",
        r#"version: 1.0
vars:
  - x: 0
  # Assigned before the split: Orquesta's inspection checks a join's expressions against the
  # variables of the first branch it reaches (orquesta/specs/native/v1/models.py).
  - l: null
  - r: null
tasks:
  start:
    action: core.noop
    next:
      - do: [left, right, third]
  left:
    action: core.local cmd="sleep 0.3; echo left"
    next:
      - publish: l=<% result().stdout %> x=1
        do: [barrier, log]
  right:
    action: core.echo message=right
    next:
      - publish:
          - r: <% result().stdout %>
        do: middle
  middle:
    action: core.noop
    next:
      - publish: x=2
        do: [barrier, log]
  third:
    action: core.noop
    next:
      - do: two_of_three
  barrier:
    join: all
    action: core.echo message="<% ctx(l) %>+<% ctx(r) %>"
    next:
      - publish: joined=<% result().stdout %>
  log:
    action: core.noop
  two_of_three:
    join: 1
    action: core.noop
output:
  - joined: <% ctx(joined) %>
  - x: <% ctx(x) %>
"#,
    );
    workflow(
        &home,
        "half_joined",
        "{}",
        r#"version: 1.0
tasks:
  start:
    action: core.noop
    next:
      - do: [reaches, skips]
  reaches:
    action: core.noop
    next:
      - do: barrier
  skips:
    action: core.noop
    next:
      - when: <% failed() %>
        do: barrier
  barrier:
    join: all
    action: core.noop
"#,
    );
    let daemon = Daemon::start(&home, &["serve"]);
    let flow = run_json(&daemon, &["flows.branches"]);
    assert_eq!(flow["status"], "succeeded", "{flow:#}\n{}", daemon.log());
    assert_eq!(flow["result"]["output"]["joined"], "left+right", "{flow:#}");
    // The branch that reached the barrier last wrote x last.
    assert_eq!(flow["result"]["output"]["x"], 1, "{flow:#}");
    let tasks = children(&daemon, flow["id"].as_str().expect("an id"));
    let count = |name: &str| task_names(&tasks).iter().filter(|t| *t == name).count();
    assert_eq!((count("barrier"), count("log"), count("two_of_three")), (1, 2, 1), "{:?}", task_names(&tasks));
    let barrier = tasks.iter().find(|t| t["task"] == "barrier").expect("the barrier ran");
    let left = tasks.iter().find(|t| t["task"] == "left").expect("left ran");
    assert!(time(&barrier["start_timestamp"]) >= time(&left["end_timestamp"]), "the barrier waited for left");

    // A join that one branch reached and the other never will fails the workflow once nothing
    // runs, as Orquesta's UnreachableJoinError does, instead of succeeding without it.
    let flow = run_json(&daemon, &["flows.half_joined"]);
    assert_eq!(flow["status"], "failed", "{flow:#}");
    assert_eq!(
        errors(&flow["result"]),
        "UnreachableJoinError: The join task|route \"barrier|0\" is partially satisfied but unreachable.",
        "{flow:#}"
    );
    assert_eq!(flow["result"]["errors"][0]["task_id"], "barrier", "{flow:#}");
    let tasks = children(&daemon, flow["id"].as_str().expect("an id"));
    assert!(!task_names(&tasks).contains(&"barrier".to_string()), "{:?}", task_names(&tasks));
}

#[test]
fn with_items_runs_100_items_at_most_10_at_a_time_in_order() {
    let home = Home::new();
    flows_pack(&home);
    workflow(
        &home,
        "items",
        "{size: {type: integer, default: 100}}",
        r#"version: 1.0
input:
  - size
tasks:
  numbers:
    action: core.noop
    next:
      - publish: numbers=<% range(ctx(size)) %> hosts=<% list(a, b, c) %> ports=<% list(1, 2) %>
        do: each, pairs
  each:
    with:
      items: n in <% ctx(numbers) %>
      concurrency: 10
    action: core.local cmd="sleep 0.05; echo item-<% item(n) %>"
  pairs:
    with: host, port in <% zip(ctx(hosts), ctx(ports)) %>
    action: core.echo message="{{ item('host') }}:{{ item('port') }}"
output:
  - items: <% task(each).result.items.select($.result.stdout) %>
  - pairs: <% task(pairs).result.items.select($.result.stdout) %>
"#,
    );
    let daemon = Daemon::start(&home, &["serve", "--action-concurrency", "32"]);
    let flow = run_json(&daemon, &["flows.items"]);
    assert_eq!(flow["status"], "succeeded", "{:#}\n{}", flow["result"], daemon.log());
    let items = flow["result"]["output"]["items"].as_array().cloned().unwrap_or_default();
    let expected: Vec<Value> = (0..100).map(|n| json!(format!("item-{n}"))).collect();
    assert_eq!(items, expected);
    // zip() runs to the longest list, padding with None (orquesta/expressions/functions/common.py).
    assert_eq!(flow["result"]["output"]["pairs"], json!(["a:1", "b:2", "c:None"]));

    // At no moment did more than 10 items run, and they did run side by side.
    let tasks = children(&daemon, flow["id"].as_str().expect("an id"));
    let each: Vec<&Value> = tasks.iter().filter(|t| t["task"] == "each").collect();
    assert_eq!(each.len(), 100);
    let mut edges: Vec<(DateTime<Utc>, i32)> = Vec::new();
    for task in &each {
        let record = daemon.ctl_json(&["execution", "get", task["id"].as_str().expect("an id")]);
        let log = record["log"].as_array().cloned().unwrap_or_default();
        let at = |status: &str| log.iter().find(|e| e["status"] == status).map(|e| time(&e["timestamp"]));
        edges.push((at("running").expect("it ran"), 1));
        edges.push((at("succeeded").expect("it succeeded"), -1));
    }
    edges.sort();
    let (mut now, mut most) = (0, 0);
    for (_, change) in edges {
        now += change;
        most = most.max(now);
    }
    assert!((2..=10).contains(&most), "at most 10 items ran at once, and more than one: {most}");
}

#[test]
fn retry_delay_and_failure_paths_follow_orquesta() {
    let home = Home::new();
    flows_pack(&home);
    let marker = home.path().join("attempted");
    workflow(
        &home,
        "retry",
        "{marker: {type: string, required: true}}",
        r#"version: 1.0
input:
  - marker
tasks:
  flaky:
    action: core.local
    input:
      cmd: "if [ -e <% ctx(marker) %> ]; then echo second; else touch <% ctx(marker) %>; exit 1; fi"
    retry:
      count: 2
      delay: 1
    next:
      - when: <% succeeded() %>
        publish: out=<% result().stdout %>
  hopeless:
    action: core.local cmd="exit 4"
    retry:
      when: <% result().return_code = 4 %>
      count: 2
    next:
      - when: <% failed() %>
        publish: code=<% result().return_code %>
        do: noop
  late:
    delay: 1
    action: core.noop
output:
  - out: <% ctx(out) %>
  - code: <% ctx(code) %>
"#,
    );
    workflow(
        &home,
        "failing",
        "{}",
        r#"version: 1.0
vars:
  - progress: 0
tasks:
  one:
    action: core.noop
    next:
      - publish: progress=25
        do: two
  two:
    action: core.local cmd="echo broken >&2; exit 1"
    next:
      - when: <% succeeded() %>
        publish: progress=50
      - when: <% failed() %>
        publish: stderr=<% result().stderr %>
        do: continue
output:
  - progress: <% ctx(progress) %>
  - stderr: <% ctx(stderr) %>
"#,
    );
    workflow(
        &home,
        "remediated",
        "{}",
        "version: 1.0\ntasks:\n  one:\n    action: core.local cmd='exit 1'\n    next:\n      - when: <% failed() %>\n        do: cleanup\n  cleanup:\n    action: core.echo message=cleaned\n    next:\n      - publish: done=<% result().stdout %>\noutput:\n  - done: <% ctx(done) %>\n",
    );
    workflow(
        &home,
        "manual",
        "{}",
        "version: 1.0\ntasks:\n  one:\n    action: core.noop\n    next:\n      - when: <% succeeded() %>\n        do: [log, fail]\n  log:\n    action: core.noop\n  never:\n    action: core.noop\n",
    );
    let daemon = Daemon::start(&home, &["serve"]);

    let flow = run_json(&daemon, &["flows.retry", &format!("marker={}", marker.display())]);
    assert_eq!(flow["status"], "succeeded", "{:#}\n{}", flow["result"], daemon.log());
    assert_eq!(flow["result"]["output"], json!({"out": "second", "code": 4}));
    let tasks = children(&daemon, flow["id"].as_str().expect("an id"));
    let runs = |name: &str| tasks.iter().filter(|t| t["task"] == name).collect::<Vec<_>>();
    let flaky = runs("flaky");
    assert_eq!(flaky.len(), 2, "one failure, one retry");
    assert!(
        time(&flaky[1]["start_timestamp"]) >= time(&flaky[0]["end_timestamp"]) + chrono::Duration::milliseconds(900)
    );
    assert_eq!(runs("hopeless").len(), 3, "the first run and two retries");
    let late = runs("late");
    assert!(time(&late[0]["start_timestamp"]) >= time(&flow["start_timestamp"]) + chrono::Duration::milliseconds(900));

    // A failure with no remediation fails the workflow; the output is still rendered.
    let failing = run_json(&daemon, &["flows.failing"]);
    assert_eq!(failing["status"], "failed", "{failing:#}");
    assert_eq!(failing["result"]["output"], json!({"progress": 25, "stderr": "broken"}));
    let error = &failing["result"]["errors"][0];
    assert_eq!((error["task_id"].as_str(), error["type"].as_str()), (Some("two"), Some("error")), "{failing:#}");
    assert_eq!(error["result"]["return_code"], 1);

    let remediated = run_json(&daemon, &["flows.remediated"]);
    assert_eq!(remediated["status"], "succeeded", "{remediated:#}");
    assert_eq!(remediated["result"]["output"]["done"], "cleaned");

    let manual = run_json(&daemon, &["flows.manual"]);
    assert_eq!(manual["status"], "failed", "{manual:#}");
    assert_eq!(task_names(&children(&daemon, manual["id"].as_str().expect("an id"))), ["one", "never", "log"]);
}

#[test]
fn pause_resume_and_cancel_act_on_the_whole_workflow() {
    let home = Home::new();
    flows_pack(&home);
    workflow(
        &home,
        "slow",
        "{seconds: {type: number, default: 2}}",
        "version: 1.0\ninput:\n  - seconds\ntasks:\n  wait:\n    action: core.local cmd='sleep <% ctx(seconds) %>'\n    next:\n      - when: <% succeeded() %>\n        do: after\n      - when: <% failed() %>\n        do: recover\n  after:\n    action: core.echo message=after\n  recover:\n    action: core.echo message=\"recovered <% result().error %>\"\n",
    );
    let daemon = Daemon::start(&home, &["serve"]);
    let started = daemon.ctl_json(&["run", "flows.slow", "--async"]);
    let id = started["id"].as_str().expect("an id").to_string();
    daemon.wait_json("the first task to run", &["execution", "get", &id], |tree| {
        tree["children"][0]["status"] == "running"
    });
    let paused = daemon.ctl_json(&["execution", "pause", &id]);
    assert_eq!(paused["status"], "pausing", "{paused:#}");
    daemon.wait_json("the workflow to pause once its task is done", &["execution", "get", &id], |flow| {
        flow["status"] == "paused"
    });
    assert_eq!(task_names(&children(&daemon, &id)), ["wait"], "nothing new starts while paused");
    let refused = daemon.ctl(&["execution", "pause", &id]);
    assert!(!refused.status.success() && st2d_tests::stderr(&refused).contains("paused"), "{refused:?}");
    let resumed = daemon.ctl_json(&["execution", "resume", &id]);
    assert_eq!(resumed["status"], "running", "{resumed:#}");
    let flow = daemon.wait_json("the workflow to finish", &["execution", "get", &id], |f| f["status"] == "succeeded");
    assert_eq!(task_names(flow["children"].as_array().expect("children")), ["wait", "after"]);
    let statuses: Vec<&str> =
        flow["log"].as_array().expect("a log").iter().map(|e| e["status"].as_str().unwrap_or_default()).collect();
    assert!(statuses.windows(3).any(|w| w == ["pausing", "paused", "resuming"]), "{statuses:?}");

    // Cancel: the running task is canceled with the workflow, and nothing follows it.
    let started = daemon.ctl_json(&["run", "flows.slow", "seconds=60", "--async"]);
    let id = started["id"].as_str().expect("an id").to_string();
    let tree = daemon.wait_json("the first task to run", &["execution", "get", &id], |tree| {
        tree["children"][0]["status"] == "running"
    });
    let task = tree["children"][0]["id"].as_str().expect("the task").to_string();
    assert!(daemon.ctl(&["execution", "cancel", &id]).status.success());
    daemon.wait_json("the workflow to be canceled", &["execution", "get", &id], |f| f["status"] == "canceled");
    assert_eq!(daemon.ctl_json(&["execution", "get", &task])["status"], "canceled");
    assert_eq!(task_names(&children(&daemon, &id)), ["wait"]);
    let pause_chain = daemon.ctl(&["execution", "pause", &task]);
    assert!(!pause_chain.status.success(), "a finished task cannot pause");
}

#[test]
fn a_workflow_resumes_after_st2d_is_killed_in_the_middle_of_a_task() {
    let home = Home::new();
    flows_pack(&home);
    workflow(
        &home,
        "slow",
        "{}",
        "version: 1.0\ntasks:\n  first:\n    action: core.echo message=first\n    next:\n      - publish: first=<% result().stdout %>\n        do: wait\n  wait:\n    action: core.local cmd='sleep 30'\n    next:\n      - when: <% succeeded() %>\n        do: done\n      - when: <% failed() %>\n        publish: why=<% result().error %>\n        do: recover\n  done:\n    action: core.noop\n  recover:\n    action: core.echo message=\"<% ctx(first) %> then recovered\"\n    next:\n      - publish: said=<% result().stdout %>\noutput:\n  - said: <% ctx(said) %>\n  - why: <% ctx(why) %>\n",
    );
    let daemon = Daemon::start(&home, &["serve"]);
    let started = daemon.ctl_json(&["run", "flows.slow", "--async"]);
    let id = started["id"].as_str().expect("an id").to_string();
    daemon.wait_json("the second task to run", &["execution", "get", &id], |tree| {
        tree["children"][1]["status"] == "running"
    });
    daemon.signal(9);
    daemon.wait_exit();

    // The task that was running is abandoned, and the workflow follows its failure path.
    let daemon = Daemon::start(&home, &["serve"]);
    let flow = daemon.wait_json("the workflow to finish after the restart", &["execution", "get", &id], |flow| {
        flow["status"] == "succeeded"
    });
    assert_eq!(flow["result"]["output"]["said"], "first then recovered", "{flow:#}");
    assert!(flow["result"]["output"]["why"].as_str().unwrap_or_default().contains("st2d stopped"), "{flow:#}");
    let tasks = flow["children"].as_array().cloned().unwrap_or_default();
    assert_eq!(task_names(&tasks), ["first", "wait", "recover"]);
    assert_eq!(tasks[1]["status"], "abandoned");
    assert!(daemon.log().contains("resuming a workflow"), "{}", daemon.log());
}

#[test]
fn a_workflow_shaped_like_packs_install_installs_a_pack() {
    require_git();
    let home = Home::new();
    flows_pack(&home);
    workflow(
        &home,
        "install",
        "{packs: {type: array, required: true}, register: {type: string, default: 'actions,sensors'}}",
        r#"version: 1.0
description: Download, set up virtualenvs, then load, as packs.install does.
input:
  - packs
  - register
vars:
  - packs_list: null
tasks:
  download_pack:
    action: packs.download
    input:
      packs: <% ctx().packs %>
    next:
      - when: <% succeeded() %>
        publish:
          - packs_list: <% task(download_pack).result.result.keys() %>
        do: install_pack_requirements
  install_pack_requirements:
    action: packs.setup_virtualenv
    input:
      packs: <% ctx().packs_list %>
    next:
      - when: <% succeeded() %>
        do: register_pack
  register_pack:
    action: packs.load
    input:
      register: <% ctx().register %>
      packs: <% ctx().packs_list %>
    next:
      - publish:
          - message: Successfully installed packs
output:
  - packs_list: <% ctx().packs_list %>
  - message: <% ctx().message %>
"#,
    );
    let repo = home.path().join("repos/greeter");
    st2d_tests::write_file(&repo.join("pack.yaml"), &pack_yaml("greeter", "says hello"));
    st2d_tests::write_file(
        &repo.join("actions/hello.yaml"),
        "---\nname: hello\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {default: 'echo hello from greeter', immutable: true}\n",
    );
    commit(&repo, "greeter 1.0", Some("v1.0.0"));
    let daemon = Daemon::start(&home, &["serve"]);
    let flow = run_json(&daemon, &["flows.install", &format!("packs=file://{}", repo.display())]);
    assert_eq!(flow["status"], "succeeded", "{:#}\n{}", flow["result"], daemon.log());
    assert_eq!(flow["result"]["output"], json!({"packs_list": ["greeter"], "message": "Successfully installed packs"}));
    let tasks = task_names(&children(&daemon, flow["id"].as_str().expect("an id")));
    assert_eq!(tasks, ["download_pack", "install_pack_requirements", "register_pack"]);
    let hello = run_json(&daemon, &["greeter.hello"]);
    assert_eq!(hello["result"]["stdout"], "hello from greeter", "{hello:#}");
}

/// The messages of the errors a pack's load or a workflow's result lists, one a line.
fn errors(pack: &Value) -> String {
    let errors = pack["errors"].as_array().cloned().unwrap_or_default();
    errors.iter().map(|e| e["message"].as_str().unwrap_or_default().to_string()).collect::<Vec<_>>().join("\n")
}

#[test]
fn a_broken_workflow_is_reported_with_its_file_and_line_and_the_last_good_version_stays() {
    let home = Home::new();
    flows_pack(&home);
    let good = "version: 1.0\ntasks:\n  one:\n    action: core.echo message=good\n    next:\n      - publish: said=<% result().stdout %>\noutput:\n  - said: <% ctx(said) %>\n";
    workflow(&home, "edited", "{}", good);
    let daemon = Daemon::start(&home, &["serve"]);
    assert_eq!(run_json(&daemon, &["flows.edited"])["result"]["output"]["said"], "good");

    // A YAQL syntax error, written live: the pack reports it and the last good version runs.
    home.write(
        "packs/flows/actions/workflows/edited.yaml",
        "version: 1.0\ntasks:\n  one:\n    action: core.echo message=bad\n    next:\n      - when: <% succeeded( %>\n        publish: said=<% result().stdout %>\n",
    );
    let pack = daemon.wait_json("the broken workflow to be reported", &["pack", "get", "flows"], |pack| {
        errors(pack).contains("workflows/edited.yaml")
    });
    let text = errors(&pack);
    assert!(text.contains("actions/workflows/edited.yaml:6: tasks.one.next[0].when: YAQL"), "{pack:#}");
    assert_eq!(run_json(&daemon, &["flows.edited"])["result"]["output"]["said"], "good");

    // An unknown function (in the shorthand or in input) and an unknown task are load errors too.
    for (broken, expected) in [
        ("version: 1.0\ntasks:\n  one:\n    action: core.echo message=<% nosuch(1) %>\n", "tasks.one.action: YAQL"),
        ("version: 1.0\ntasks:\n  one:\n    input: {m: <% nosuch(1) %>}\n", "unknown function \"nosuch\""),
        ("version: 1.0\ntasks:\n  one:\n    next:\n      - do: two\n", "task \"two\" does not exist"),
    ] {
        home.write("packs/flows/actions/workflows/edited.yaml", broken);
        daemon.wait_json("the error to be reported", &["pack", "get", "flows"], |pack| errors(pack).contains(expected));
    }
    home.write("packs/flows/actions/workflows/edited.yaml", good);
    daemon.wait_json("the fixed workflow to load", &["pack", "get", "flows"], |pack| errors(pack).is_empty());
    eventually("the daemon still answers", || daemon.ctl(&["status"]).status.success().then_some(()));
}

#[test]
fn workflow_functions_read_the_datastore_json_and_completion() {
    let home = Home::new();
    flows_pack(&home);
    workflow(
        &home,
        "functions",
        "{key_name: {type: string, required: true}, decrypt: {type: boolean, default: false}}",
        r#"version: 1.0
input:
  - key_name
  - decrypt
  - default: null
tasks:
  parse:
    action: core.local cmd="exit 3"
    next:
      - when: <% completed() and not succeeded() %>
        publish:
          - parsed: '<% json(''{"k": [1, 2, 3]}'') %>'
          - code: <% result().return_code %>
        do: noop
output:
  - value_from_yaql: <% st2kv(ctx().key_name, decrypt => ctx().decrypt, default => ctx().default) %>
  - value_from_jinja: "{{ st2kv(ctx().key_name, decrypt=ctx().decrypt, default=ctx().default) }}"
  - missing: <% st2kv('system.nothing', default => 'fallback') %>
  - user_key: <% st2kv('mine') %>
  - sum: <% ctx(parsed).k.sum() %>
  - code: <% ctx(code) %>
  - status: <% task_status(parse) %>
"#,
    );
    let daemon = Daemon::start(&home, &["serve"]);
    assert!(daemon.ctl(&["key", "set", "greeting", "hey"]).status.success());
    assert!(daemon.ctl(&["key", "set", "token", "s3cret", "--encrypt"]).status.success());
    assert!(daemon.ctl(&["key", "set", "mine", "user value", "--scope", "user", "--user", "stanley"]).status.success());

    let flow = run_json(&daemon, &["flows.functions", "key_name=system.greeting"]);
    assert_eq!(flow["status"], "succeeded", "{:#}\n{}", flow["result"], daemon.log());
    let output = &flow["result"]["output"];
    assert_eq!(
        output,
        &json!({"value_from_yaql": "hey", "value_from_jinja": "hey", "missing": "fallback", "user_key": "user value", "sum": 6, "code": 3, "status": "failed"}),
        "{flow:#}"
    );

    // A secret reads as stored unless decrypted; a missing key gives the default (null here).
    let secret = run_json(&daemon, &["flows.functions", "key_name=system.token", "decrypt=true"]);
    assert_eq!(secret["result"]["output"]["value_from_yaql"], "s3cret", "{secret:#}");
    let stored = run_json(&daemon, &["flows.functions", "key_name=system.token"]);
    assert_ne!(stored["result"]["output"]["value_from_yaql"], "s3cret", "{stored:#}");
    let missing = run_json(&daemon, &["flows.functions", "key_name=system.absent"]);
    assert_eq!(missing["result"]["output"]["value_from_yaql"], Value::Null, "{missing:#}");
}
