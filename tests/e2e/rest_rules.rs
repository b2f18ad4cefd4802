//! StackStorm's REST API for rules and what surrounds them, end to end with the real
//! `st2client` 3.9.0 CLI: `st2 rule create|update|delete` write, change and remove the rule's
//! file in its pack (registering the pack's rules), and the rule fires from its webhook;
//! `st2 rule-enforcement list|get`, `st2 trigger-instance list|get|re-emit` (the re-emitted
//! instance fires the rule again), `st2 trigger list`, `st2 sensor list|get|disable|enable`,
//! `st2 policy list|get` and `st2 policy-type list|get`, each checked against what st2d holds
//! (through st2ctl and the files). Bad rules get 400 with a `faultstring` naming the field, and
//! nothing is written. The first test logs in against a users file; the others use loopback
//! without credentials.

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};
use st2d_tests::{Daemon, Home, eventually, free_port, pack_yaml, stderr, stdout};

use crate::support::rest::{self, PASSWORD, USER, curl, faultstring, st2client};

/// The `st2` CLI of st2client, with the token `curl` sends once logged in.
struct Cli {
    st2: rest::Cli,
    /// The credential `curl` sends, once logged in.
    token: Option<String>,
}

impl Cli {
    fn new(home: &Home, port: u16) -> Self {
        let st2 = rest::Cli { bin: st2client().with_file_name("st2"), home: home.path().join("cli-home"), port };
        std::fs::create_dir_all(&st2.home).expect("cli home");
        Cli { st2, token: None }
    }

    fn run(&self, args: &[&str]) -> Output {
        self.st2.run(args)
    }

    fn json(&self, args: &[&str]) -> Value {
        self.st2.json(args)
    }

    /// Runs `st2 ARGS -j` for a list; "No matching items found" is an empty one.
    fn list(&self, args: &[&str]) -> Vec<Value> {
        let mut full = args.to_vec();
        full.push("-j");
        let output = self.run(&full);
        assert!(output.status.success(), "st2 {args:?} failed: {}\n{}", stderr(&output), stdout(&output));
        if stdout(&output).trim() == "No matching items found" {
            return Vec::new();
        }
        list(&self.json(args)).clone()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.st2.port)
    }

    /// `st2 login`, and a token of the same user for `curl`.
    fn login(&mut self) {
        let login = self.run(&["login", USER, "-p", PASSWORD]);
        assert!(login.status.success(), "{}{}", stdout(&login), stderr(&login));
        let token = self.run(&["auth", USER, "-p", PASSWORD, "-t"]);
        assert!(token.status.success(), "{}{}", stdout(&token), stderr(&token));
        self.token = Some(stdout(&token).trim().to_string());
    }

    /// `curl` of `path` with `args` and the credential; returns (status, body).
    fn curl(&self, path: &str, args: &[&str]) -> (u16, String) {
        let header = self.token.as_ref().map(|token| format!("X-Auth-Token: {token}"));
        let mut full: Vec<&str> = header.iter().flat_map(|h| ["-H", h.as_str()]).collect();
        full.extend_from_slice(args);
        let url = self.url(path);
        full.push(&url);
        curl(&full)
    }

    /// `curl` sending `body` as JSON to `path` with `method`.
    fn send(&self, method: &str, path: &str, body: &Value) -> (u16, String) {
        self.curl(path, &["-X", method, "-H", "Content-Type: application/json", "--data", &body.to_string()])
    }
}

/// st2d on loopback (asking for credentials of a users file with `USER` when `auth`), rules
/// not registered by default.
fn start(home: &Home, auth: bool) -> (Daemon, u16) {
    if auth {
        return rest::start_with(home, &st2client(), &[]);
    }
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    (Daemon::start(home, &["serve", "--http-listen", &listen]), port)
}

fn list(value: &Value) -> &Vec<Value> {
    value.as_array().unwrap_or_else(|| panic!("a list: {value:#}"))
}

/// The files of a pack's `rules/` directory, by name.
fn rule_files(pack: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(pack.join("rules"))
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// Posts a webhook body to `url` (the rule's `url` parameter); 202 when journaled.
fn webhook(cli: &Cli, url: &str, body: &Value) {
    let (status, answer) = cli.send("POST", &format!("/api/v1/webhooks/{url}"), body);
    assert_eq!(status, 202, "{answer}");
}

/// Waits until `rule` has `count` enforcements (`st2 rule-enforcement list`), newest first.
fn enforcements(cli: &Cli, rule: &str, count: usize) -> Vec<Value> {
    let mut all = eventually(&format!("{count} enforcements of {rule}"), || {
        let all = cli.list(&["rule-enforcement", "list", "--rule", rule]);
        (all.len() == count && all.iter().all(|e| e["execution_id"].is_string())).then_some(all)
    });
    all.sort_by(|a, b| b["enforced_at"].as_str().cmp(&a["enforced_at"].as_str()));
    all
}

/// The stdout of the execution `id` once it succeeded (`st2 execution get`).
fn succeeded_stdout(cli: &Cli, id: &str) -> String {
    eventually(&format!("execution {id} to succeed"), || {
        let execution = cli.json(&["execution", "get", id]);
        match execution["status"].as_str() {
            Some("succeeded") => Some(execution["result"]["stdout"].as_str().unwrap_or_default().to_string()),
            Some("failed") | Some("timeout") => panic!("execution {id} did not succeed: {execution:#}"),
            _ => None,
        }
    })
}

const DEPLOY_RULE: &str = "---
name: on_deploy
pack: hooks
description: made through the API
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: deploy
criteria:
  trigger.body.env:
    type: equals
    pattern: prod
action:
  ref: core.local
  parameters:
    cmd: echo deployed {{ trigger.body.version }}
";

#[test]
fn rules_made_through_the_api_are_pack_files_that_fire_and_re_fire() {
    let home = Home::new();
    home.write("packs/hooks/pack.yaml", &pack_yaml("hooks", "webhook rules"));
    let (daemon, port) = start(&home, true);
    let mut cli = Cli::new(&home, port);
    assert!(!cli.run(&["rule", "list"]).status.success(), "credentials are asked for");
    cli.login();
    let pack = home.packs().join("hooks");
    assert!(rule_files(&pack).is_empty());

    // Create: the file appears in the pack, the pack now registers rules, and both doors list it.
    home.write("on_deploy.yaml", DEPLOY_RULE);
    let file = home.path().join("on_deploy.yaml").display().to_string();
    let created = cli.json(&["rule", "create", &file]);
    assert_eq!(created["ref"], "hooks.on_deploy", "{created:#}");
    assert_eq!(created["enabled"], true);
    assert_eq!(rule_files(&pack), ["on_deploy.yaml"]);
    let written = std::fs::read_to_string(pack.join("rules/on_deploy.yaml")).expect("the rule file");
    assert!(written.contains("echo deployed {{ trigger.body.version }}"), "{written}");
    let held = daemon.ctl_json(&["rule", "get", "hooks.on_deploy"]);
    assert_eq!(held["registered"], true, "creating a rule registers its pack's rules: {held:#}");
    assert_eq!(held["enabled"], true);
    assert!(daemon.refs("rule", Some("hooks")).contains(&"hooks.on_deploy".to_string()));
    assert_eq!(cli.list(&["rule", "list", "--pack=hooks"]).len(), 1);
    let trigger = created["trigger"]["ref"].as_str().expect("the rule's trigger").to_string();

    // It fires from its webhook; the enforcement, the instance and the execution agree.
    webhook(&cli, "deploy", &json!({"env": "prod", "version": "1.2"}));
    let first = enforcements(&cli, "hooks.on_deploy", 1).remove(0);
    let execution = first["execution_id"].as_str().expect("an execution").to_string();
    assert_eq!(succeeded_stdout(&cli, &execution), "deployed 1.2");
    let got = cli.json(&["rule-enforcement", "get", first["id"].as_str().expect("an id")]);
    assert_eq!(got["rule"]["ref"], "hooks.on_deploy", "{got:#}");
    assert_eq!(got["execution_id"], execution.as_str());
    let instance_id = got["trigger_instance_id"].as_str().expect("an instance").to_string();
    let instances = cli.json(&["trigger-instance", "list", "--trigger", &trigger]);
    assert!(list(&instances).iter().any(|i| i["id"] == instance_id.as_str()), "{instances:#}");
    let instance = cli.json(&["trigger-instance", "get", &instance_id]);
    assert_eq!(instance["payload"]["body"]["version"], "1.2", "{instance:#}");
    assert_eq!(instance["trigger"], trigger.as_str());
    let held = daemon.ctl_json(&["trigger-instance", "get", &instance_id]);
    assert_eq!(held["trigger"], trigger.as_str(), "{held:#}");

    // The views embed the instance and the execution, and the rule's action and trigger.
    let (status, body) = cli.curl("/api/v1/ruleenforcements/views?rule_ref=hooks.on_deploy", &[]);
    assert_eq!(status, 200, "{body}");
    let views: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(views[0]["trigger_instance"]["id"], instance_id.as_str(), "{views:#}");
    assert_eq!(views[0]["execution"]["status"], "succeeded", "{views:#}");
    let (status, body) = cli.curl("/api/v1/rules/views/hooks.on_deploy", &[]);
    assert_eq!(status, 200, "{body}");
    let view: Value = serde_json::from_str(&body).expect("JSON");
    let local = cli.json(&["action", "get", "core.local"]);
    assert_eq!(view["action"]["description"], local["description"], "{view:#}");
    assert_eq!(view["trigger"]["type"], "core.st2.webhook");

    // Re-emit: the same payload again, naming the original; the rule fires again.
    let resent = cli.run(&["trigger-instance", "re-emit", &instance_id]);
    assert!(resent.status.success(), "{}{}", stdout(&resent), stderr(&resent));
    assert!(
        stdout(&resent).contains(&format!("Trigger instance {instance_id} succesfully re-sent.")),
        "{}",
        stdout(&resent)
    );
    let both = enforcements(&cli, "hooks.on_deploy", 2);
    let again = both[0]["execution_id"].as_str().expect("an execution").to_string();
    assert_ne!(again, execution);
    assert_eq!(succeeded_stdout(&cli, &again), "deployed 1.2");
    let re_emitted = cli.json(&["trigger-instance", "get", both[0]["trigger_instance_id"].as_str().expect("id")]);
    assert_eq!(re_emitted["payload"]["__context"]["original_id"], instance_id.as_str(), "{re_emitted:#}");
    assert_eq!(re_emitted["payload"]["body"]["version"], "1.2");

    // Update: the file changes, and the rule fires with what it says now.
    home.write("on_deploy.yaml", &DEPLOY_RULE.replace("echo deployed", "echo updated"));
    let updated = cli.json(&["rule", "update", "hooks.on_deploy", &file]);
    assert_eq!(updated["action"]["parameters"]["cmd"], "echo updated {{ trigger.body.version }}", "{updated:#}");
    let written = std::fs::read_to_string(pack.join("rules/on_deploy.yaml")).expect("the rule file");
    assert!(written.contains("echo updated"), "{written}");
    assert_eq!(
        daemon.ctl_json(&["rule", "get", "hooks.on_deploy"])["action_parameters"]["cmd"],
        "echo updated {{ trigger.body.version }}"
    );
    webhook(&cli, "deploy", &json!({"env": "prod", "version": "1.3"}));
    let three = enforcements(&cli, "hooks.on_deploy", 3);
    assert_eq!(succeeded_stdout(&cli, three[0]["execution_id"].as_str().expect("id")), "updated 1.3");

    // Disable and enable are toggles: the file stays as it is.
    let disabled = cli.run(&["rule", "disable", "hooks.on_deploy"]);
    assert!(disabled.status.success(), "{}{}", stdout(&disabled), stderr(&disabled));
    assert_eq!(daemon.ctl_json(&["rule", "get", "hooks.on_deploy"])["enabled"], false);
    assert_eq!(std::fs::read_to_string(pack.join("rules/on_deploy.yaml")).expect("file"), written);
    let enabled = cli.run(&["rule", "enable", "hooks.on_deploy"]);
    assert!(enabled.status.success(), "{}{}", stdout(&enabled), stderr(&enabled));
    assert_eq!(cli.json(&["rule", "get", "hooks.on_deploy"])["enabled"], true);

    // Delete: the file goes, and so does the rule.
    let deleted = cli.run(&["rule", "delete", "hooks.on_deploy"]);
    assert!(deleted.status.success(), "{}{}", stdout(&deleted), stderr(&deleted));
    assert!(rule_files(&pack).is_empty(), "{:?}", rule_files(&pack));
    assert!(!daemon.ctl(&["rule", "get", "hooks.on_deploy"]).status.success());
    assert!(!cli.run(&["rule", "get", "hooks.on_deploy"]).status.success());
    assert!(cli.list(&["rule", "list", "--pack=hooks"]).is_empty());
    // Its history stays.
    assert_eq!(cli.list(&["rule-enforcement", "list", "--rule", "hooks.on_deploy"]).len(), 3);
}

#[test]
fn bad_rules_are_refused_naming_the_field_and_nothing_is_written() {
    let home = Home::new();
    home.write("packs/hooks/pack.yaml", &pack_yaml("hooks", "webhook rules"));
    let (daemon, port) = start(&home, false);
    let cli = Cli::new(&home, port);
    let pack = home.packs().join("hooks");
    let rules = "/api/v1/rules";
    let good = json!({
        "name": "alert", "pack": "hooks", "enabled": true,
        "trigger": {"type": "core.st2.webhook", "parameters": {"url": "alert"}},
        "action": {"ref": "core.noop"},
    });
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };

    // An unknown trigger type, through the CLI: refused, naming it.
    home.write("bad.yaml", "---\nname: bad\npack: hooks\ntrigger:\n  type: nope.missing\naction:\n  ref: core.noop\n");
    let refused = cli.run(&["rule", "create", &home.path().join("bad.yaml").display().to_string()]);
    assert!(!refused.status.success(), "{}", stdout(&refused));
    let said = format!("{}{}", stdout(&refused), stderr(&refused));
    assert!(said.contains("trigger.type") && said.contains("nope.missing"), "{said}");

    // Each refusal is a 400 whose faultstring names the field.
    let cases = [
        (with("trigger", json!({"type": "nope.missing"})), "trigger.type"),
        (with("criteria", json!("oops")), "criteria"),
        (with("action", json!("core.noop")), "action"),
        (with("enabled", json!([1])), "enabled"),
        (with("name", json!("../x")), "name"),
        (with("name", json!("a/b")), "name"),
        (with("name", json!(7)), "name"),
        (with("pack", json!("nosuchpack")), "pack"),
        (with("pack", json!("core")), "pack"),
        (with("trigger", json!({"type": "core.st2.webhook"})), "trigger.parameters.url"),
        (with("criteria", json!({"trigger.body.x": {"type": "bogus", "pattern": 1}})), "criteria.trigger.body.x.type"),
        (with("surprise", json!(1)), "surprise"),
    ];
    for (body, field) in &cases {
        let (status, answer) = cli.send("POST", rules, body);
        assert_eq!(status, 400, "{body} -> {answer}");
        let fault = faultstring(&answer);
        assert!(fault.contains(field), "{body}: the faultstring names {field}: {fault}");
    }
    let (status, answer) =
        cli.curl(rules, &["-X", "POST", "-H", "Content-Type: application/json", "--data", "{\"name\": "]);
    assert_eq!(status, 400, "{answer}");
    assert!(rule_files(&pack).is_empty(), "nothing was written: {:?}", rule_files(&pack));
    assert!(!home.packs().join("x.yaml").exists() && !pack.join("x.yaml").exists());
    assert!(cli.list(&["rule", "list", "--pack=hooks"]).is_empty());

    // A good one is created once; the same again is a conflict.
    let (status, answer) = cli.send("POST", rules, &good);
    assert_eq!(status, 201, "{answer}");
    assert_eq!(rule_files(&pack), ["alert.yaml"]);
    let (status, answer) = cli.send("POST", rules, &good);
    assert_eq!(status, 409, "{answer}");
    assert!(faultstring(&answer).contains("hooks.alert"), "{answer}");

    // An update may not rename or move the rule, nor break it; the file stays.
    let before = std::fs::read_to_string(pack.join("rules/alert.yaml")).expect("file");
    let one = "/api/v1/rules/hooks.alert";
    for (body, field) in [
        (with("name", json!("renamed")), "name"),
        (with("criteria", json!(["x"])), "criteria"),
        (with("trigger", json!({"type": "nope.missing"})), "trigger.type"),
    ] {
        let (status, answer) = cli.send("PUT", one, &body);
        assert_eq!(status, 400, "{body} -> {answer}");
        assert!(faultstring(&answer).contains(field), "{answer}");
    }
    assert_eq!(std::fs::read_to_string(pack.join("rules/alert.yaml")).expect("file"), before);
    // Only `enabled` in a body is a toggle.
    let (status, answer) = cli.send("PUT", one, &json!({"enabled": false}));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(daemon.ctl_json(&["rule", "get", "hooks.alert"])["enabled"], false);
    assert_eq!(std::fs::read_to_string(pack.join("rules/alert.yaml")).expect("file"), before);
    // A whole rule replaces the rule: what it leaves out is gone.
    let criteria = json!({"trigger.body.level": {"type": "equals", "pattern": "high"}});
    let (status, answer) = cli.send("PUT", one, &with("criteria", criteria.clone()));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(daemon.ctl_json(&["rule", "get", "hooks.alert"])["criteria"], criteria);
    let (status, answer) = cli.send("PUT", one, &good);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(daemon.ctl_json(&["rule", "get", "hooks.alert"])["criteria"], json!({}));
    assert_eq!(daemon.ctl_json(&["rule", "get", "hooks.alert"])["enabled"], true);
    let (status, _) = cli.curl("/api/v1/rules/hooks.nothing", &["-X", "DELETE"]);
    assert_eq!(status, 404);
    for missing in ["/api/v1/ruleenforcements/00000000000000ff", "/api/v1/triggerinstances/00000000000000ff"] {
        let (status, answer) = cli.curl(missing, &[]);
        assert_eq!(status, 404, "{missing}: {answer}");
    }
    let (status, answer) = cli.curl("/api/v1/triggerinstances/00000000000000ff/re_emit", &["-X", "POST"]);
    assert_eq!(status, 404, "{answer}");
    let (status, answer) = cli.curl("/api/v1/ruleenforcements?enforced_at_gt=yesterday", &[]);
    assert_eq!(status, 400, "{answer}");
    assert!(faultstring(&answer).contains("enforced_at_gt"), "{answer}");

    // Policies are files: the API says so.
    let (status, answer) = cli.send("POST", "/api/v1/policies", &json!({"name": "p"}));
    assert_eq!(status, 405, "{answer}");
    assert!(faultstring(&answer).contains("policies directory"), "{answer}");
}

#[test]
fn sensors_triggers_and_policies_through_the_cli() {
    let home = Home::new();
    home.write("packs/watch/pack.yaml", &pack_yaml("watch", "a sensor and a policy"));
    home.write(
        "packs/watch/sensors/watcher.yaml",
        "---\nclass_name: Watcher\nentry_point: watcher.py\ndescription: watches\nenabled: true\ntrigger_types:\n  - name: event\n    description: something happened\n    payload_schema: {type: object}\n",
    );
    home.write(
        "packs/watch/sensors/watcher.py",
        "import time\nfrom st2reactor.sensor.base import Sensor\n\nclass Watcher(Sensor):\n    def setup(self):\n        pass\n\n    def run(self):\n        while True:\n            time.sleep(1)\n\n    def cleanup(self):\n        pass\n\n    def add_trigger(self, trigger):\n        pass\n\n    def update_trigger(self, trigger):\n        pass\n\n    def remove_trigger(self, trigger):\n        pass\n",
    );
    home.write(
        "packs/watch/policies/limit.yaml",
        "---\nname: limit\nresource_ref: core.local\npolicy_type: action.concurrency\nparameters:\n  threshold: 2\n",
    );
    let (daemon, port) = start(&home, false);
    let cli = Cli::new(&home, port);

    // Trigger types and triggers.
    let types = cli.json(&["trigger", "list", "--pack=watch"]);
    let refs: Vec<&str> = list(&types).iter().filter_map(|t| t["ref"].as_str()).collect();
    assert_eq!(refs, ["watch.event"], "{types:#}");
    let (status, body) = cli.curl("/api/v1/triggers", &[]);
    assert_eq!(status, 200, "{body}");
    let triggers: Value = serde_json::from_str(&body).expect("JSON");
    let event = list(&triggers).iter().find(|t| t["ref"] == "watch.event").expect("the type's own trigger");
    assert_eq!(event["type"], "watch.event");
    let (status, body) = cli.curl(&format!("/api/v1/triggers/{}", event["id"].as_str().expect("id")), &[]);
    assert_eq!(status, 200, "{body}");

    // Sensors: listed, read, disabled and enabled, as st2ctl sees them.
    let sensors = cli.json(&["sensor", "list", "--pack=watch"]);
    assert_eq!(list(&sensors).len(), 1, "{sensors:#}");
    assert_eq!(sensors[0]["ref"], "watch.Watcher");
    assert_eq!(sensors[0]["enabled"], true);
    let sensor = cli.json(&["sensor", "get", "watch.Watcher"]);
    assert_eq!(sensor["trigger_types"], json!(["watch.event"]), "{sensor:#}");
    let disabled = cli.run(&["sensor", "disable", "watch.Watcher"]);
    assert!(disabled.status.success(), "{}{}", stdout(&disabled), stderr(&disabled));
    daemon.wait_json("the sensor disabled", &["sensor", "get", "watch.Watcher"], |s| {
        s["enabled"] == false && s["state"] == "disabled"
    });
    assert_eq!(cli.json(&["sensor", "get", "watch.Watcher"])["enabled"], false);
    let enabled = cli.run(&["sensor", "enable", "watch.Watcher"]);
    assert!(enabled.status.success(), "{}{}", stdout(&enabled), stderr(&enabled));
    daemon.wait_json("the sensor enabled", &["sensor", "get", "watch.Watcher"], |s| s["enabled"] == true);
    assert_eq!(cli.json(&["sensor", "list", "--pack=watch"])[0]["enabled"], true);

    // Policies and policy types.
    let policies = cli.json(&["policy", "list", "--pack=watch"]);
    assert_eq!(list(&policies).len(), 1, "{policies:#}");
    assert_eq!(policies[0]["ref"], "watch.limit");
    assert_eq!(policies[0]["policy_type"], "action.concurrency");
    let policy = cli.json(&["policy", "get", "watch.limit"]);
    assert_eq!(policy["parameters"]["threshold"], 2, "{policy:#}");
    assert_eq!(policy["resource_ref"], "core.local");
    let policy_types = cli.json(&["policy-type", "list"]);
    let names: Vec<&str> = list(&policy_types).iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["concurrency", "concurrency.attr", "retry"], "{policy_types:#}");
    assert!(list(&policy_types).iter().all(|t| t["resource_type"] == "action"), "{policy_types:#}");
    let retry = cli.json(&["policy-type", "get", "action.retry"]);
    assert_eq!(retry["resource_type"], "action", "{retry:#}");
    assert!(retry["parameters"]["max_retry_count"].is_object(), "{retry:#}");
}
