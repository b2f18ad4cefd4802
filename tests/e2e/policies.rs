//! Action policies through the real daemon: `action.concurrency` (delay and cancel),
//! `action.concurrency.attr`, `action.retry` (failure, timeout, delay, workflow tasks), files
//! that change while st2d runs, and what a restart keeps. Every expectation names the
//! StackStorm file it comes from.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;
use st2d_tests::{Daemon, Home, pack_yaml, stderr};

/// A `limits` pack: `hold` runs until its flag file `<flags>/<key>` exists; `flaky` fails the
/// first time for each key; `fail` always fails; `slow` always times out; `chain` is a workflow
/// whose only task runs `fail`. Returns the home and the flags directory.
fn limits_home() -> (Home, PathBuf) {
    let home = Home::new();
    let flags = home.path().join("flags");
    std::fs::create_dir_all(&flags).expect("flags dir");
    let flags_text = flags.display().to_string();
    home.write("packs/limits/pack.yaml", &pack_yaml("limits", "actions under policies"));
    let action = |name: &str, cmd: &str, extra: &str| {
        home.write(
            &format!("packs/limits/actions/{name}.yaml"),
            &format!(
                "---\nname: {name}\nrunner_type: local-shell-cmd\nparameters:\n  key: {{type: string, default: k}}\n  host: {{type: string}}\n  cmd:\n    default: \"{cmd}\"\n    immutable: true\n{extra}"
            ),
        );
    };
    action(
        "hold",
        // It also ends when the test's home is gone, so a failed test leaves no process behind.
        &format!(
            "while [ ! -e {flags_text}/{{{{ key }}}} ] && [ -d {flags_text} ]; do sleep 0.05; done; echo released {{{{ key }}}}"
        ),
        "",
    );
    action(
        "flaky",
        &format!(
            "n=$(cat {flags_text}/count-{{{{ key }}}} 2>/dev/null || echo 0); echo $((n+1)) > {flags_text}/count-{{{{ key }}}}; test $n -ge 1"
        ),
        "",
    );
    action("fail", "echo failing; exit 1", "");
    action("broken", "exit 2", "");
    action("slow", "sleep 10", "  timeout:\n    default: 1\n");
    home.write(
        "packs/limits/actions/chain.yaml",
        "---\nname: chain\nrunner_type: action-chain\nentry_point: chains/chain.yaml\n",
    );
    home.write("packs/limits/actions/chains/chain.yaml", "---\nchain:\n  - name: only\n    ref: limits.fail\n");
    (home, flags)
}

fn policy_yaml(name: &str, action: &str, policy_type: &str, parameters: &str) -> String {
    format!("---\nname: {name}\nresource_ref: {action}\npolicy_type: {policy_type}\nparameters: {parameters}\n")
}

fn write_policy(home: &Home, name: &str, action: &str, policy_type: &str, parameters: &str) {
    home.write(&format!("packs/limits/policies/{name}.yaml"), &policy_yaml(name, action, policy_type, parameters));
}

/// `st2ctl run --async`: the new execution's id.
fn run_async(daemon: &Daemon, action: &str, parameters: &[&str]) -> String {
    let mut args = vec!["run", action];
    args.extend_from_slice(parameters);
    args.push("--async");
    let started = daemon.ctl_json(&args);
    started["id"].as_str().expect("an execution id").to_string()
}

fn wait_status(daemon: &Daemon, id: &str, status: &str) -> Value {
    daemon.wait_json(&format!("execution {id} to be {status}"), &["execution", "get", id], |e| e["status"] == status)
}

fn get(daemon: &Daemon, id: &str) -> Value {
    daemon.ctl_json(&["execution", "get", id])
}

/// The statuses of an execution's log, in order.
fn statuses(execution: &Value) -> Vec<String> {
    execution["log"]
        .as_array()
        .map(|log| log.iter().filter_map(|entry| entry["status"].as_str().map(String::from)).collect())
        .unwrap_or_default()
}

/// When the execution's log reached `status` first.
fn reached(execution: &Value, status: &str) -> DateTime<Utc> {
    let entry = execution["log"].as_array().and_then(|log| log.iter().find(|entry| entry["status"] == status));
    let text =
        entry.and_then(|entry| entry["timestamp"].as_str()).unwrap_or_else(|| panic!("no {status} in {execution:#}"));
    DateTime::parse_from_rfc3339(text).expect("an RFC 3339 time").with_timezone(&Utc)
}

fn release(flags: &Path, key: &str) {
    std::fs::write(flags.join(key), "").expect("write the flag");
}

/// Executions of `action` (top-level ones), oldest first.
fn executions_of(daemon: &Daemon, action: &str) -> Vec<Value> {
    oldest_first(&daemon.ctl_json(&["execution", "list", "--action", action]))
}

/// A listed JSON array of executions, oldest (lowest id) first.
fn oldest_first(list: &Value) -> Vec<Value> {
    let mut list = list.as_array().cloned().unwrap_or_default();
    list.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    list
}

/// Waits until the executions of `action`, oldest first, satisfy `check`; returns them.
fn wait_executions(daemon: &Daemon, what: &str, action: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let list = daemon.wait_json(what, &["execution", "list", "--action", action], |list| check(&oldest_first(list)));
    oldest_first(&list)
}

/// Waits for the policy list to show `check`.
fn wait_policies(daemon: &Daemon, what: &str, check: impl Fn(&[Value]) -> bool) {
    daemon.wait_json(what, &["policy", "list", "--pack=limits"], |list| list.as_array().is_some_and(|l| check(l)));
}

#[test]
fn a_concurrency_policy_delays_executions_over_its_threshold_until_a_place_frees() {
    let (home, flags) = limits_home();
    write_policy(&home, "one_at_a_time", "limits.hold", "action.concurrency", "{threshold: 1}");
    let daemon = Daemon::start(&home, &[]);

    let first = run_async(&daemon, "limits.hold", &["key=first"]);
    wait_status(&daemon, &first, "running");
    let second = run_async(&daemon, "limits.hold", &["key=second"]);
    let delayed = wait_status(&daemon, &second, "delayed");
    // st2actions/st2actions/policies/concurrency.py: over the threshold with `action: delay` the
    // execution becomes `delayed`; st2d says why on the execution.
    let why = &delayed["context"]["policies"]["concurrency"];
    assert_eq!(why["applied_policy"], "limits.one_at_a_time", "{delayed:#}");
    assert_eq!(why["action"], "delay");
    assert_eq!(
        why["reason"],
        "1 execution of limits.hold is scheduled or running; policy limits.one_at_a_time (action.concurrency) allows 1"
    );
    // concurrency.py counts `scheduled` and `running` executions only: a delayed one does not
    // make room for another, and does not count either.
    let third = run_async(&daemon, "limits.hold", &["key=third"]);
    wait_status(&daemon, &third, "delayed");

    // st2actions/st2actions/scheduler/handler.py: a delayed execution is scheduled again once a
    // place frees; one of the two runs, the other stays delayed.
    release(&flags, "first");
    let first_done = wait_status(&daemon, &first, "succeeded");
    assert_eq!(statuses(&first_done), ["requested", "scheduled", "running", "succeeded"], "{first_done:#}");
    let list = wait_executions(&daemon, "one delayed execution to run", "limits.hold", |l| {
        l.iter().any(|e| e["status"] == "running")
    });
    let running = list.iter().find(|e| e["status"] == "running").and_then(|e| e["id"].as_str()).expect("one runs");
    let (runner, waiter) =
        if running == second { (second.clone(), third.clone()) } else { (third.clone(), second.clone()) };
    assert_eq!(get(&daemon, &waiter)["status"], "delayed", "the threshold still holds");
    release(&flags, "second");
    release(&flags, "third");
    for id in [&runner, &waiter] {
        let done = wait_status(&daemon, id, "succeeded");
        // st2actions/tests/unit/policies/test_concurrency.py test_over_threshold_delay_executions:
        // expected_status_changes requested, delayed, requested, scheduled, running.
        assert_eq!(
            statuses(&done),
            ["requested", "delayed", "requested", "scheduled", "running", "succeeded"],
            "{done:#}"
        );
    }

    // st2common/st2common/services/action.py request_cancellation: a delayed execution is
    // canceled at once (it is not running).
    let blocker = run_async(&daemon, "limits.hold", &["key=blocker"]);
    wait_status(&daemon, &blocker, "running");
    let doomed = run_async(&daemon, "limits.hold", &["key=doomed"]);
    wait_status(&daemon, &doomed, "delayed");
    let cancel = daemon.ctl(&["execution", "cancel", &doomed]);
    assert!(cancel.status.success(), "{}", stderr(&cancel));
    let canceled = wait_status(&daemon, &doomed, "canceled");
    assert_eq!(statuses(&canceled), ["requested", "delayed", "canceled"], "{canceled:#}");
    release(&flags, "blocker");
    wait_status(&daemon, &blocker, "succeeded");
}

#[test]
fn a_concurrency_policy_with_action_cancel_cancels_executions_over_its_threshold() {
    let (home, flags) = limits_home();
    write_policy(&home, "only_one", "limits.hold", "action.concurrency", "{threshold: 1, action: cancel}");
    let daemon = Daemon::start(&home, &[]);

    let first = run_async(&daemon, "limits.hold", &["key=first"]);
    wait_status(&daemon, &first, "running");
    let second = run_async(&daemon, "limits.hold", &["key=second"]);
    let canceled = wait_status(&daemon, &second, "canceled");
    // st2actions/tests/unit/policies/test_concurrency.py test_over_threshold_cancel_executions:
    // the canceling and canceled states follow requested; nothing ran.
    assert_eq!(statuses(&canceled), ["requested", "canceling", "canceled"], "{canceled:#}");
    assert_eq!(canceled["context"]["policies"]["concurrency"]["action"], "cancel");
    assert_eq!(
        canceled["result"]["error"],
        "1 execution of limits.hold is scheduled or running; policy limits.only_one (action.concurrency) allows 1"
    );
    release(&flags, "first");
    wait_status(&daemon, &first, "succeeded");
    // With the place free again, the next one runs.
    release(&flags, "third");
    let third = run_async(&daemon, "limits.hold", &["key=third"]);
    wait_status(&daemon, &third, "succeeded");
}

#[test]
fn a_concurrency_by_attribute_policy_limits_each_value_on_its_own() {
    let (home, flags) = limits_home();
    write_policy(&home, "per_host", "limits.hold", "action.concurrency.attr", "{threshold: 1, attributes: [host]}");
    let daemon = Daemon::start(&home, &[]);

    let first_a = run_async(&daemon, "limits.hold", &["key=a1", "host=a"]);
    wait_status(&daemon, &first_a, "running");
    // st2actions/tests/unit/policies/test_concurrency_by_attr.py
    // test_over_threshold_delay_executions: the same value is delayed...
    let second_a = run_async(&daemon, "limits.hold", &["key=a2", "host=a"]);
    let delayed = wait_status(&daemon, &second_a, "delayed");
    let why = &delayed["context"]["policies"]["concurrency"];
    assert_eq!(why["policy_type"], "action.concurrency.attr");
    assert_eq!(why["attributes"], serde_json::json!({"host": "a"}), "{delayed:#}");
    // ...another value is not over the threshold and runs.
    let first_b = run_async(&daemon, "limits.hold", &["key=b1", "host=b"]);
    wait_status(&daemon, &first_b, "running");
    assert_eq!(get(&daemon, &second_a)["status"], "delayed");

    // Once capacity freed up, the delayed execution runs (the same test).
    release(&flags, "a1");
    release(&flags, "a2");
    let done = wait_status(&daemon, &second_a, "succeeded");
    assert_eq!(statuses(&done), ["requested", "delayed", "requested", "scheduled", "running", "succeeded"]);
    release(&flags, "b1");
    wait_status(&daemon, &first_b, "succeeded");
}

#[test]
fn policy_files_apply_to_the_next_decision_as_they_change() {
    let (home, flags) = limits_home();
    let daemon = Daemon::start(&home, &[]);
    let first = run_async(&daemon, "limits.hold", &["key=first"]);
    wait_status(&daemon, &first, "running");

    // A policy added while `first` runs counts it (concurrency.py counts what is running,
    // whenever it started).
    write_policy(&home, "limit", "limits.hold", "action.concurrency", "{threshold: 1}");
    wait_policies(&daemon, "the new policy", |l| l.iter().any(|p| p["parameters"]["threshold"] == 1));
    let second = run_async(&daemon, "limits.hold", &["key=second"]);
    wait_status(&daemon, &second, "delayed");

    // A raised threshold admits the delayed execution without anything finishing.
    write_policy(&home, "limit", "limits.hold", "action.concurrency", "{threshold: 2}");
    wait_status(&daemon, &second, "running");

    // A removed policy governs nothing.
    home.remove("packs/limits/policies/limit.yaml");
    wait_policies(&daemon, "the policy to go", <[Value]>::is_empty);
    let third = run_async(&daemon, "limits.hold", &["key=third"]);
    wait_status(&daemon, &third, "running");

    // A retry policy added live applies to the next failure.
    let before = run_async(&daemon, "limits.broken", &[]);
    wait_status(&daemon, &before, "failed");
    write_policy(&home, "again", "limits.broken", "action.retry", "{retry_on: failure, max_retry_count: 1}");
    wait_policies(&daemon, "the retry policy", |l| l.iter().any(|p| p["policy_type"] == "action.retry"));
    assert_eq!(executions_of(&daemon, "limits.broken").len(), 1, "a policy applies to what completes after it");
    let after = run_async(&daemon, "limits.broken", &[]);
    wait_status(&daemon, &after, "failed");
    let list = wait_executions(&daemon, "the retry", "limits.broken", |l| l.len() == 3 && l[2]["status"] == "failed");
    assert_eq!(list[2]["context"]["policies"]["retry"]["retried_liveaction_id"], after.as_str());

    for key in ["first", "second", "third"] {
        release(&flags, key);
    }
    for id in [&first, &second, &third] {
        wait_status(&daemon, id, "succeeded");
    }
}

#[test]
fn a_retry_policy_runs_failed_executions_again_up_to_its_count() {
    let (home, _flags) = limits_home();
    write_policy(&home, "flaky_again", "limits.flaky", "action.retry", "{retry_on: failure, max_retry_count: 2}");
    write_policy(&home, "fail_again", "limits.fail", "action.retry", "{retry_on: failure}");
    write_policy(&home, "broken_on_timeout", "limits.broken", "action.retry", "{retry_on: timeout}");
    let daemon = Daemon::start(&home, &[]);

    // st2actions/tests/unit/policies/test_retry_policy.py
    // test_retry_on_timeout_first_retry_is_successful (here on failure): the original and one
    // retry, which carries retry_count 1, the policy and the original's id, and the same
    // parameters; the successful retry is not retried.
    let flaky = run_async(&daemon, "limits.flaky", &["key=f"]);
    let list = wait_executions(&daemon, "the flaky action's retry to succeed", "limits.flaky", |l| {
        l.len() == 2 && l[1]["status"] == "succeeded"
    });
    assert_eq!(list[0]["id"], flaky.as_str());
    assert_eq!(list[0]["status"], "failed");
    let retry = &list[1]["context"]["policies"]["retry"];
    assert_eq!(retry["retry_count"], 1, "{list:?}");
    assert_eq!(retry["applied_policy"], "limits.flaky_again");
    assert_eq!(retry["retried_liveaction_id"], flaky.as_str());
    assert_eq!(list[1]["parameters"], list[0]["parameters"]);
    assert_eq!(list[1]["context"]["user"], list[0]["context"]["user"]);

    // test_retry_on_timeout_policy_is_retried_twice and test_retry_on_timeout_max_retries_reached
    // (max_retry_count defaults to 2, st2common/st2common/policies/meta/retry.yaml): each retry
    // names the one it retries; after the second, no more.
    let fail = run_async(&daemon, "limits.fail", &[]);
    let list = wait_executions(&daemon, "two retries of the failing action", "limits.fail", |l| {
        l.len() == 3 && l.iter().all(|e| e["status"] == "failed")
    });
    assert_eq!(list[0]["id"], fail.as_str());
    for attempt in 1..3 {
        let retry = &list[attempt]["context"]["policies"]["retry"];
        assert_eq!(retry["retry_count"], attempt, "{list:?}");
        assert_eq!(retry["retried_liveaction_id"], list[attempt - 1]["id"]);
    }

    // retry.py: a status other than `retry_on` names is not retried.
    let broken = run_async(&daemon, "limits.broken", &[]);
    wait_status(&daemon, &broken, "failed");
    assert_eq!(executions_of(&daemon, "limits.broken").len(), 1);

    // test_no_retry_on_workflow_task: a workflow's task is left to the workflow.
    let chain = run_async(&daemon, "limits.chain", &[]);
    let chain = wait_status(&daemon, &chain, "failed");
    assert_eq!(chain["children"].as_array().map(Vec::len), Some(1), "{chain:#}");
    assert_eq!(executions_of(&daemon, "limits.fail").len(), 3, "no top-level retry of the task");
    let all = daemon.ctl_json(&["execution", "list", "--action", "limits.fail", "--showall"]);
    assert_eq!(all.as_array().map(Vec::len), Some(4), "{all:#}");
}

#[test]
fn a_retry_policy_on_timeout_waits_its_delay_as_a_delayed_execution() {
    let (home, _flags) = limits_home();
    write_policy(
        &home,
        "slow_again",
        "limits.slow",
        "action.retry",
        "{retry_on: timeout, max_retry_count: 1, delay: 1}",
    );
    let daemon = Daemon::start(&home, &[]);
    let original = run_async(&daemon, "limits.slow", &[]);
    let original = wait_status(&daemon, &original, "timeout");
    let list = wait_executions(&daemon, "the retry to time out too", "limits.slow", |l| {
        l.len() == 2 && l[1]["status"] == "timeout"
    });
    let retry = &list[1];
    // contrib/hello_st2/policies/retry_core_http_on_timeout.yaml, retry.py: retried on timeout
    // after `delay` seconds; st2d keeps the wait on the new execution (`delayed`, until
    // `delayed_until`), so a restart does not lose it.
    assert_eq!(statuses(retry), ["requested", "delayed", "requested", "scheduled", "running", "timeout"], "{retry:#}");
    let until = retry["context"]["policies"]["retry"]["delayed_until"].as_str().expect("delayed_until");
    let until = DateTime::parse_from_rfc3339(until).expect("a time").with_timezone(&Utc);
    assert!(until >= reached(&original, "timeout") + chrono::Duration::milliseconds(900), "{retry:#}");
    assert!(reached(retry, "running") >= until, "ran before its delay: {retry:#}");
    assert_eq!(retry["context"]["policies"]["retry"]["retry_count"], 1);
}

#[test]
fn delayed_executions_and_pending_retries_survive_a_restart() {
    let (home, flags) = limits_home();
    write_policy(&home, "one_at_a_time", "limits.hold", "action.concurrency", "{threshold: 1}");
    write_policy(
        &home,
        "fail_later",
        "limits.fail",
        "action.retry",
        "{retry_on: failure, max_retry_count: 1, delay: 5}",
    );
    let daemon = Daemon::start(&home, &[]);

    let failed = run_async(&daemon, "limits.fail", &[]);
    wait_status(&daemon, &failed, "failed");
    let retry = wait_executions(&daemon, "the retry", "limits.fail", |l| l.len() == 2)[1].clone();
    assert_eq!(retry["status"], "delayed", "{retry:#}");
    let retry_id = retry["id"].as_str().expect("an id").to_string();

    // Each request below is flushed to disk with everything written before it.
    let first = run_async(&daemon, "limits.hold", &["key=first"]);
    wait_status(&daemon, &first, "running");
    let second = run_async(&daemon, "limits.hold", &["key=second"]);
    wait_status(&daemon, &second, "delayed");
    let third = run_async(&daemon, "limits.hold", &["key=third"]);
    wait_status(&daemon, &third, "delayed");
    daemon.signal(9);
    daemon.wait_exit();

    let daemon = Daemon::start(&home, &[]);
    // The running one was abandoned; of the delayed ones one runs and the policy holds the other.
    wait_status(&daemon, &first, "abandoned");
    wait_executions(&daemon, "one delayed execution to run and the other to wait", "limits.hold", |l| {
        let now: Vec<&str> = l.iter().filter_map(|e| e["status"].as_str()).collect();
        now == ["abandoned", "running", "delayed"] || now == ["abandoned", "delayed", "running"]
    });
    release(&flags, "first");
    release(&flags, "second");
    release(&flags, "third");
    for id in [&second, &third] {
        wait_status(&daemon, id, "succeeded");
    }

    // The retry ran after its delay, not before, and was not retried again (max_retry_count 1).
    let retried = wait_status(&daemon, &retry_id, "failed");
    let until = retried["context"]["policies"]["retry"]["delayed_until"].as_str().expect("delayed_until");
    let until = DateTime::parse_from_rfc3339(until).expect("a time").with_timezone(&Utc);
    assert!(reached(&retried, "running") >= until, "{retried:#}");
    assert_eq!(executions_of(&daemon, "limits.fail").len(), 2);
}
