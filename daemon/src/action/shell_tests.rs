//! Tests of the local shell runners with real bash: results, env, arguments, timeout, cancel.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::action::testkit::Kit;
use crate::runner::output::Stream;

const SCRIPT_ACTION: &str = "---
name: script
runner_type: local-shell-script
entry_point: script.sh
parameters:
  first: {type: string, position: 0}
  count: {type: integer, position: 1}
  name: {type: string}
  flag: {type: boolean}
";

const SCRIPT: &str = "#!/usr/bin/env bash
echo \"args:$*\"
echo \"pack:$ST2_ACTION_PACK_NAME id:$ST2_ACTION_EXECUTION_ID debug:$ST2_ACTION_DEBUG mine:$MINE\"
";

async fn kit() -> Kit {
    Kit::new(&[("packs/demo/actions/script.yaml", SCRIPT_ACTION), ("packs/demo/actions/script.sh", SCRIPT)]).await
}

#[tokio::test]
async fn commands_give_stackstorm_results() {
    let kit = kit().await;
    let cases = [
        (
            "echo hello",
            ExecutionStatus::Succeeded,
            json!({"failed": false, "succeeded": true, "return_code": 0, "stdout": "hello", "stderr": ""}),
        ),
        (
            "echo '{\"a\": 1}'; echo 5 >&2",
            ExecutionStatus::Succeeded,
            json!({"failed": false, "succeeded": true, "return_code": 0, "stdout": {"a": 1}, "stderr": 5}),
        ),
        (
            "echo oops >&2; exit 1",
            ExecutionStatus::Failed,
            json!({"failed": true, "succeeded": false, "return_code": 1, "stdout": "", "stderr": "oops"}),
        ),
        (
            "exit 3",
            ExecutionStatus::Failed,
            json!({"failed": true, "succeeded": false, "return_code": 3, "stdout": "", "stderr": ""}),
        ),
        (
            "printf 'a\\n\\n'",
            ExecutionStatus::Succeeded,
            json!({"failed": false, "succeeded": true, "return_code": 0, "stdout": "a\n", "stderr": ""}),
        ),
        (
            "kill -TERM $$",
            ExecutionStatus::Abandoned,
            json!({"failed": true, "succeeded": false, "return_code": -15, "stdout": "", "stderr": ""}),
        ),
    ];
    for (cmd, status, result) in cases {
        let (outcome, _) = kit.run("core.local", json!({"cmd": cmd}), json!({})).await;
        assert_eq!((outcome.status, &outcome.result), (status, &result), "{cmd}");
    }
}

#[tokio::test]
async fn env_cwd_and_the_st2_variables_reach_the_command() {
    let kit = kit().await;
    let cwd = kit.path("packs");
    let runner = json!({"cmd": "echo $MINE $N $ST2_ACTION_PACK_NAME $ST2_ACTION_EXECUTION_ID $ST2_ACTION_DEBUG; pwd", "env": {"MINE": "x y", "N": 3}, "cwd": cwd});
    let (outcome, lines) = kit.run("core.local", runner, json!({})).await;
    let expected = format!("x y 3 core 00000000000000aa False\n{}", cwd.display());
    assert_eq!(outcome.result["stdout"], json!(expected));
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l.stream == Stream::Stdout));
}

#[tokio::test]
async fn scripts_get_named_then_positional_arguments() {
    let kit = kit().await;
    let params = json!({"name": "a b", "flag": true, "first": "one", "count": 0});
    let (outcome, _) = kit.run("demo.script", json!({"env": {"MINE": "m"}, "debug": true}), params).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{}", outcome.result);
    assert_eq!(
        outcome.result["stdout"],
        json!("args:--name=a b --flag one \npack:demo id:00000000000000aa debug:True mine:m")
    );
    let (outcome, _) = kit.run("demo.script", json!({"kwarg_op": "-"}), json!({"name": "z", "count": 2})).await;
    assert_eq!(outcome.result["stdout"].as_str().and_then(|s| s.lines().next()), Some("args:-name=z  2"));
}

#[tokio::test]
async fn a_timeout_kills_the_group_and_says_so() {
    let kit = kit().await;
    let started = Instant::now();
    let cmd = "sleep 100 & echo $!; sleep 100 & echo $!; sleep 100";
    let (outcome, lines) = kit.run("core.local", json!({"cmd": cmd, "timeout": 1}), json!({})).await;
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    assert_eq!(outcome.status, ExecutionStatus::Timeout);
    assert_eq!(outcome.result["return_code"], -9);
    assert_eq!(outcome.result["error"], "Action failed to complete in 1 seconds");
    assert_eq!(outcome.result["failed"], true);
    assert_eq!(lines.len(), 2);
    // SIGKILL is delivered asynchronously: give the kernel a moment to end each process.
    let alive = |pid: &str| std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
    let deadline = Instant::now() + Duration::from_secs(2);
    for line in lines {
        while alive(&line.line) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!alive(&line.line), "background sleep {} survived", line.line);
    }
}

#[tokio::test]
async fn cancel_kills_the_command() {
    let kit = kit().await;
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let (outcome, _) =
        kit.run_cancelled("core.local", json!({"cmd": "echo before; sleep 100"}), json!({}), &cancel).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(outcome.status, ExecutionStatus::Canceled);
    assert_eq!(outcome.result["stdout"], "before");
}

#[tokio::test]
async fn problems_fail_with_a_message() {
    let kit = kit().await;
    let (outcome, _) = kit.run("core.local", json!({}), json!({})).await;
    assert_eq!(outcome.result, json!({"error": "runner parameter \"cmd\" is missing"}));
    let (outcome, _) = kit.run("core.local", json!({"cmd": "true", "cwd": "/no/such/dir"}), json!({})).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert!(outcome.result["error"].as_str().is_some_and(|e| e.contains("/no/such/dir")), "{}", outcome.result);
}

#[test]
fn a_wrong_sudo_password_is_recognised() {
    let stderr = "[sudo] password for stanley: Sorry, try again.\nsudo: 3 incorrect password attempts\n";
    assert_eq!(wrong_sudo_password(stderr).as_deref(), Some("stanley"));
    assert_eq!(wrong_sudo_password("sudo: 1 incorrect password attempts").as_deref(), Some("unknown"));
    // What sudo 1.9.13 prints when its standard input ends after one wrong password.
    let fed = "[sudo] password for jack: Sorry, try again.\n[sudo] password for jack: \nsudo: no password was provided\nsudo: 1 incorrect password attempt\n";
    assert_eq!(wrong_sudo_password(fed).as_deref(), Some("jack"));
    assert_eq!(wrong_sudo_password("all fine"), None);
}
