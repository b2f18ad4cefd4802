//! Tests of the python-script runner with real python3 and the embedded shim, and of
//! `core.inject_trigger`.

use std::time::{Duration, Instant};

use serde_json::json;

use super::*;
use crate::action::testkit::Kit;

const ACTION_META: &str = "---
name: greet
runner_type: python-script
entry_point: greet.py
parameters:
  name: {type: string}
  mode: {type: string}
";

const ACTION: &str = r#"import sys
import time

from st2common.runners.base_action import Action
from helper import shout
from packlib import PREFIX


class Greet(Action):
    def run(self, name, mode="plain"):
        print("hello from stdout")
        sys.stderr.write("to stderr\n")
        if mode == "plain":
            return {"greeting": shout(PREFIX + name), "region": self.config["region"]}
        if mode == "tuple_false":
            return (False, {"why": "no"})
        if mode == "tuple_object":
            return (True, object)
        if mode == "bad_status":
            return ("yes", 1)
        if mode == "missing_config":
            return self.config["nope"]
        if mode == "kv":
            self.action_service.set_value("k", "v1")
            shared = self.action_service.get_value("shared", local=False)
            return [self.action_service.get_value("k"), shared, len(self.action_service.list_values())]
        if mode == "sleep":
            time.sleep(100)
        if mode == "exit":
            sys.exit(4)
        raise RuntimeError("boom")
"#;

async fn kit() -> Kit {
    Kit::new(&[
        ("packs/demo/actions/greet.yaml", ACTION_META),
        ("packs/demo/actions/greet.py", ACTION),
        ("packs/demo/actions/lib/helper.py", "def shout(text):\n    return text.upper()\n"),
        ("packs/demo/lib/packlib.py", "PREFIX = 'hi '\n"),
        ("configs/demo.yaml", "region: eu\n"),
    ])
    .await
}

#[tokio::test]
async fn a_python_action_runs_with_config_libs_and_streams() {
    let kit = kit().await;
    let (outcome, lines) = kit.run("demo.greet", json!({}), json!({"name": "ann", "mode": "plain"})).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{}", outcome.result);
    assert_eq!(outcome.result["result"], json!({"greeting": "HI ANN", "region": "eu"}));
    assert_eq!(outcome.result["stdout"], "hello from stdout\n");
    assert_eq!(outcome.result["stderr"], "to stderr\n");
    assert_eq!(outcome.result["exit_code"], 0);
    assert!(lines.iter().any(|l| l.line == "hello from stdout"), "{lines:?}");
}

#[tokio::test]
async fn return_protocol_and_failures() {
    let kit = kit().await;
    let cases = [
        ("tuple_false", ExecutionStatus::Failed, json!({"why": "no"}), 0),
        ("tuple_object", ExecutionStatus::Succeeded, json!("<class 'object'>"), 0),
        ("raise", ExecutionStatus::Failed, json!("None"), 1),
        ("exit", ExecutionStatus::Failed, json!("None"), 4),
    ];
    for (mode, status, result, exit_code) in cases {
        let (outcome, _) = kit.run("demo.greet", json!({}), json!({"name": "x", "mode": mode})).await;
        assert_eq!(outcome.status, status, "{mode}: {}", outcome.result);
        assert_eq!(outcome.result["result"], result, "{mode}");
        assert_eq!(outcome.result["exit_code"], exit_code, "{mode}");
    }
    let (outcome, _) = kit.run("demo.greet", json!({}), json!({"name": "x", "mode": "raise"})).await;
    let stderr = outcome.result["stderr"].as_str().unwrap_or_default();
    assert!(stderr.contains("Traceback") && stderr.contains("RuntimeError: boom"), "{stderr}");
    let (outcome, _) = kit.run("demo.greet", json!({}), json!({"name": "x", "mode": "missing_config"})).await;
    let stderr = outcome.result["stderr"].as_str().unwrap_or_default();
    assert!(stderr.contains("configs/demo.yaml"), "{stderr}");
    let (outcome, _) = kit.run("demo.greet", json!({}), json!({"name": "x", "mode": "bad_status"})).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    let error = outcome.result["error"].as_str().unwrap_or_default();
    assert!(error.contains("must either be True or False"), "{}", outcome.result);
}

#[tokio::test]
async fn the_action_service_reaches_the_datastore() {
    let kit = kit().await;
    kit.datastore.set(&crate::datastore::Scope::System, "shared", "s", false, None).expect("kv set");
    let (outcome, _) = kit.run("demo.greet", json!({}), json!({"name": "x", "mode": "kv"})).await;
    assert_eq!(outcome.result["result"], json!(["v1", "s", 1]), "{}", outcome.result);
    let stored = kit.datastore.get(&crate::datastore::Scope::System, "demo.Greet:k", false).expect("kv get");
    assert_eq!(stored.map(|item| item.value).as_deref(), Some("v1"));
}

#[tokio::test]
async fn a_timeout_kills_the_action() {
    let kit = kit().await;
    let started = Instant::now();
    let (outcome, _) = kit.run("demo.greet", json!({"timeout": 1}), json!({"name": "x", "mode": "sleep"})).await;
    assert!(started.elapsed() < Duration::from_secs(8));
    assert_eq!(outcome.status, ExecutionStatus::Timeout);
    assert_eq!(outcome.result["exit_code"], -9);
    assert_eq!(outcome.result["result"], "None");
    assert_eq!(outcome.result["error"], "Action failed to complete in 1 seconds");
}

#[tokio::test]
async fn inject_trigger_journals_a_checked_instance() {
    let kit = kit().await;
    let mut instances = kit.context.journal.subscribe();
    let params =
        json!({"trigger": "core.st2.webhook", "payload": {"headers": {}, "body": {"a": 1}}, "trace_tag": "t1"});
    let (outcome, _) = kit.run("core.inject_trigger", json!({}), params).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{}", outcome.result);
    assert_eq!(outcome.result["result"]["trigger"], "core.st2.webhook");
    let instance = instances.recv().await.expect("an instance");
    assert_eq!(instance.payload["body"], json!({"a": 1}));
    let (outcome, _) = kit.run("core.inject_trigger", json!({}), json!({"trigger": "demo.nope"})).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(outcome.result["error"], "trigger \"demo.nope\" does not exist");
}
