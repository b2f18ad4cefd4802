//! Executions through the real `st2` and `st2ctl`: `st2 run` with StackStorm's parameter words
//! and output, `execution list|get|tail|cancel`, `trigger fire` into a rule, rule toggles and
//! `rule-enforcement list`.

use serde_json::Value;
use st2d_tests::{Daemon, Home, pack_yaml, stderr, stdout};

#[test]
fn st2_run_prints_the_execution_and_exits_by_its_status() {
    let home = Home::new();
    home.write("packs/typed/pack.yaml", &pack_yaml("typed", "typed parameters"));
    home.write(
        "packs/typed/actions/show.yaml",
        "---\nname: show\nrunner_type: local-shell-script\nentry_point: show.sh\nparameters:\n  count: {type: integer, position: 0}\n  hosts: {type: array, position: 1}\n  verbose: {type: boolean}\n",
    );
    home.write("packs/typed/actions/show.sh", "#!/bin/sh\necho \"$@\"\n");
    home.write("note.txt", "from a file");
    let daemon = Daemon::start(&home, &[]);

    let hi = daemon.st2(&["run", "core.local", "cmd=echo hi"]);
    assert!(hi.status.success(), "{}{}", stdout(&hi), stderr(&hi));
    let text = stdout(&hi);
    for line in
        ["action.ref: core.local", "context.user: stanley", "  cmd: echo hi", "  stdout: hi", "  return_code: 0"]
    {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
    }
    assert!(text.lines().any(|l| l.starts_with("status: succeeded (")), "{text}");

    let failed = daemon.st2(&["run", "core.local", "--", "ls", "/no/such/dir"]);
    assert_eq!(failed.status.code(), Some(1), "a failed execution exits 1: {}", stdout(&failed));
    assert!(stdout(&failed).contains("  cmd: ls /no/such/dir"), "words after -- become cmd");

    let typed = daemon.st2(&["run", "typed.show", "count=3", "hosts=a,b", "hosts=c", "verbose=true", "-j"]);
    assert!(typed.status.success(), "{}{}", stdout(&typed), stderr(&typed));
    let typed: Value = serde_json::from_slice(&typed.stdout).expect("json");
    assert_eq!(typed["parameters"], serde_json::json!({"count": 3, "hosts": ["a", "b", "c"], "verbose": true}));
    assert_eq!(typed["result"]["stdout"], "--verbose 3 a,b,c");

    let file = home.path().join("note.txt");
    let from_file = daemon.ctl_json(&["run", "core.echo", &format!("@message={}", file.display())]);
    assert_eq!(from_file["result"]["stdout"], "from a file", "@key=path reads the file");

    let echo = daemon.ctl_json(&["run", "core.echo", "message=hello there"]);
    assert_eq!(echo["result"]["stdout"], "hello there", "core.echo's cmd default renders its message: {echo}");
    let immutable = daemon.st2(&["run", "core.echo", "message=x", "cmd=rm -rf /"]);
    assert_eq!(immutable.status.code(), Some(1));
    assert!(
        stderr(&immutable).contains("Override of immutable parameter(s) ['cmd'] is unsupported."),
        "{}",
        stderr(&immutable)
    );
    let unknown = daemon.st2(&["run", "core.nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("Action \"core.nope\" cannot be found."), "{}", stderr(&unknown));
    let bad = daemon.st2(&["run", "typed.show", "count=many"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("parameter \"count\": invalid integer \"many\""), "{}", stderr(&bad));
}

#[test]
fn executions_are_listed_followed_and_canceled() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let queued = daemon.ctl_json(&["run", "core.local", "cmd=echo one; sleep 0.5; echo two", "-a"]);
    let id = queued["id"].as_str().expect("an id").to_string();
    let tail = daemon.ctl(&["execution", "tail", &id]);
    let text = stdout(&tail);
    assert!(text.starts_with("one\ntwo\n"), "{text}");
    assert!(text.contains(&format!("Execution {id} has completed (status=succeeded).")), "{text}");

    let got = daemon.ctl_json(&["execution", "get", &id]);
    for field in ["id", "action", "status", "parameters", "result", "start_timestamp", "end_timestamp"] {
        assert!(!got[field].is_null(), "execution get -j lacks {field}: {got}");
    }
    assert_eq!(got["action"]["ref"], "core.local");
    assert_eq!(got["result"]["stdout"], "one\ntwo");
    let listed = daemon.ctl_json(&["execution", "list", "--action", "core.local"]);
    assert!(listed.as_array().is_some_and(|l| l.iter().any(|e| e["id"] == id.as_str())), "{listed}");

    let long = daemon.ctl_json(&["run", "core.local", "cmd=sleep 30", "-a"]);
    let long_id = long["id"].as_str().expect("an id").to_string();
    daemon.wait_json("the long execution to run", &["execution", "get", &long_id], |e| e["status"] == "running");
    let cancel = daemon.ctl(&["execution", "cancel", &long_id]);
    assert!(cancel.status.success(), "{}", stderr(&cancel));
    assert!(stdout(&cancel).contains(&long_id), "{}", stdout(&cancel));
    daemon.wait_json("the execution to be canceled", &["execution", "get", &long_id], |e| e["status"] == "canceled");
    let again = daemon.ctl(&["execution", "cancel", &long_id]);
    assert_eq!(again.status.code(), Some(1), "canceling a completed execution fails");
}

#[test]
fn fired_triggers_drive_rules_that_can_be_toggled() {
    let home = Home::new();
    home.write("packs/fire/pack.yaml", &pack_yaml("fire", "fired triggers"));
    home.write(
        "packs/fire/triggers/alarm.yaml",
        "---\nname: alarm\ndescription: an alarm\npayload_schema: {type: object}\n",
    );
    home.write(
        "packs/fire/rules/on_alarm.yaml",
        "---\nname: on_alarm\nenabled: true\ntrigger: {type: fire.alarm}\ncriteria:\n  trigger.level: {type: gt, pattern: 1}\naction:\n  ref: core.local\n  parameters: {cmd: 'echo alarm {{ trigger.level }} {{ st2kv.system.site }}'}\n",
    );
    let daemon = Daemon::start(&home, &["serve", "--register-rules-by-default"]);
    let instance = daemon.ctl_json(&["trigger", "fire", "fire.alarm", r#"{"level": 3}"#]);
    let instance_id = instance["id"].as_str().expect("an id").to_string();
    let executions =
        daemon.wait_json("the rule's execution", &["execution", "list", "--trigger-instance", &instance_id], |l| {
            l.as_array().is_some_and(|l| l.len() == 1 && l[0]["status"] == "succeeded")
        });
    let execution = &executions[0];
    assert_eq!(execution["rule"]["ref"], "fire.on_alarm");
    assert_eq!(execution["trigger_instance"]["id"], instance_id.as_str());
    let get = daemon.ctl(&["execution", "get", execution["id"].as_str().expect("id")]);
    assert!(
        stdout(&get).lines().any(|l| l == "  stdout: alarm 3"),
        "the rule renders trigger and st2kv (a missing key is empty): {}",
        stdout(&get)
    );
    assert!(stdout(&get).contains("rule.ref: fire.on_alarm"), "{}", stdout(&get));

    let enforcements = daemon.ctl_json(&["rule-enforcement", "list", "--rule", "fire.on_alarm"]);
    assert_eq!(enforcements[0]["trigger_instance_id"], instance_id.as_str());
    assert_eq!(enforcements[0]["execution_id"], execution["id"]);
    let table = stdout(&daemon.st2(&["rule-enforcement", "list"]));
    assert!(table.contains("fire.on_alarm") && table.contains("succeeded"), "{table}");

    let disabled = daemon.ctl_json(&["rule", "disable", "fire.on_alarm"]);
    assert_eq!(disabled["enabled"], false);
    let ignored = daemon.ctl_json(&["trigger", "fire", "fire.alarm", r#"{"level": 5}"#]);
    let ignored_id = ignored["id"].as_str().expect("id").to_string();
    daemon
        .wait_json("the instance processed", &["trigger-instance", "get", &ignored_id], |i| i["status"] == "processed");
    let none = daemon.ctl_json(&["rule-enforcement", "list", "--trigger-instance", &ignored_id]);
    assert_eq!(none, serde_json::json!([]), "a disabled rule does not fire");
    daemon.ctl_json(&["rule", "enable", "fire.on_alarm"]);
    let again = daemon.ctl_json(&["trigger", "fire", "fire.alarm", r#"{"level": 5}"#]);
    let again_id = again["id"].as_str().expect("id").to_string();
    daemon.wait_json(
        "the re-enabled rule to fire",
        &["rule-enforcement", "list", "--trigger-instance", &again_id],
        |l| l.as_array().is_some_and(|l| l.len() == 1),
    );
    let bad = daemon.ctl(&["trigger", "fire", "fire.alarm", "not json"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("payload"), "{}", stderr(&bad));
}

#[test]
fn the_rule_tester_works_offline_with_stackstorms_banners() {
    let home = Home::new();
    home.write(
        "rule.yaml",
        "---\nname: high\npack: demo\nenabled: true\ntrigger: {type: demo.event}\ncriteria:\n  trigger.level: {type: gt, pattern: '{{ trigger.limit }}'}\naction: {ref: core.noop}\n",
    );
    home.write("hit.json", r#"{"trigger": "demo.event", "payload": {"level": 5, "limit": 3}}"#);
    home.write("miss.yaml", "trigger: demo.event\npayload: {level: 1, limit: 3}\n");
    let tester = |instance: &str| {
        std::process::Command::new(&st2d_tests::bins().st2ctl)
            .args(["rule-tester", "--rule"])
            .arg(home.path().join("rule.yaml"))
            .arg("--trigger-instance")
            .arg(home.path().join(instance))
            .env("ST2D_SOCKET", home.path().join("no-daemon.sock"))
            .output()
            .expect("st2ctl runs")
    };
    let hit = tester("hit.json");
    assert_eq!(hit.status.code(), Some(0), "{}", stderr(&hit));
    assert_eq!(stdout(&hit), "=== RULE MATCHES ===\n");
    let miss = tester("miss.yaml");
    assert_eq!(miss.status.code(), Some(1));
    assert!(stdout(&miss).ends_with("=== RULE DOES NOT MATCH ===\n"), "{}", stdout(&miss));
    let missing = tester("nope.json");
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("nope.json"), "{}", stderr(&missing));
}
