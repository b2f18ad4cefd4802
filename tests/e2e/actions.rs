//! Action runners end to end: core.local and a pack's local-shell-script run as real processes
//! with StackStorm's arguments and results; a timeout and a cancel kill the whole process group;
//! a timer fires a rule whose shell action's stdout is kept on the execution.

use serde_json::{Value, json};
use st2d_proto::v1 as pb;
use st2d_tests::{Client, Daemon, Home, completed_execution, control, pack_yaml, until};

async fn run(client: &Client, action: &str, parameters: Value) -> pb::Execution {
    client
        .clone()
        .run_action(pb::RunActionRequest {
            action: action.into(),
            parameters_json: parameters.to_string(),
            ..Default::default()
        })
        .await
        .expect("the execution is created")
        .into_inner()
}

fn result(execution: &pb::Execution) -> Value {
    serde_json::from_str(&execution.result_json).expect("the result is JSON")
}

fn processes_named(marker: &str) -> String {
    let found = std::process::Command::new("pgrep").arg("-f").arg(marker).output().expect("pgrep runs");
    String::from_utf8_lossy(&found.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_actions_run_with_stackstorm_arguments_and_results() {
    let home = Home::new();
    home.write("packs/shelly/pack.yaml", &pack_yaml("shelly", "shell actions"));
    home.write(
        "packs/shelly/actions/args.yaml",
        "---\nname: args\nrunner_type: local-shell-script\nentry_point: args.sh\nparameters:\n  first: {type: string, position: 0}\n  second: {type: integer, position: 1}\n  flag: {type: boolean, default: true}\n  name: {type: string}\n",
    );
    home.write(
        "packs/shelly/actions/args.sh",
        "#!/bin/sh\nfor a in \"$@\"; do echo \"[$a]\"; done\necho \"pack=$ST2_ACTION_PACK_NAME\" >&2\n",
    );
    let _daemon = tokio::task::block_in_place(|| Daemon::start(&home, &[]));
    let client = control(&home.socket()).await;

    let hi = run(&client, "core.local", json!({"cmd": "echo hi; echo oops >&2"})).await;
    let hi = completed_execution(&client, &hi.id).await;
    assert_eq!(hi.status, "succeeded", "{hi:?}");
    assert_eq!(
        result(&hi),
        json!({"failed": false, "succeeded": true, "return_code": 0, "stdout": "hi", "stderr": "oops"})
    );

    let json_out = run(&client, "core.local", json!({"cmd": "echo '{\"a\": [1, 2]}'; exit 3"})).await;
    let json_out = completed_execution(&client, &json_out.id).await;
    assert_eq!(json_out.status, "failed");
    assert_eq!(result(&json_out)["stdout"], json!({"a": [1, 2]}), "stdout that is JSON is decoded");
    assert_eq!(result(&json_out)["return_code"], 3);

    let script = run(&client, "shelly.args", json!({"first": "one two", "second": 7, "name": "it's"})).await;
    let script = completed_execution(&client, &script.id).await;
    assert_eq!(script.status, "succeeded", "{script:?}");
    assert_eq!(result(&script)["stdout"], "[--flag]\n[--name=it's]\n[one two]\n[7]", "named first, then positional");
    assert_eq!(result(&script)["stderr"], "pack=shelly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_and_a_cancel_kill_the_process_group() {
    let home = Home::new();
    let _daemon = tokio::task::block_in_place(|| Daemon::start(&home, &[]));
    let client = control(&home.socket()).await;
    let marker = format!("st2d-e2e-timeout-{}", std::process::id());
    let slow =
        run(&client, "core.local", json!({"cmd": format!("(exec -a {marker} sleep 60) & sleep 60"), "timeout": 1}))
            .await;
    let slow = completed_execution(&client, &slow.id).await;
    assert_eq!(slow.status, "timeout", "{slow:?}");
    assert_eq!(result(&slow)["error"], "Action failed to complete in 1 seconds");
    assert_eq!(result(&slow)["return_code"], -9);
    assert_eq!(processes_named(&marker), "", "the background child died with the group");

    let marker = format!("st2d-e2e-cancel-{}", std::process::id());
    let long =
        run(&client, "core.local", json!({"cmd": format!("(exec -a {marker} sleep 60) & echo started; wait")})).await;
    let mut watcher = client.clone();
    until("the action to start", || {
        let mut client = watcher.clone();
        let id = long.id.clone();
        async move {
            let execution = client.get_execution(pb::GetRequest { r#ref: id }).await.expect("get").into_inner();
            (execution.status == "running").then_some(())
        }
    })
    .await;
    until("the background child to exist", || {
        let marker = marker.clone();
        async move { (!processes_named(&marker).is_empty()).then_some(()) }
    })
    .await;
    let canceling =
        watcher.cancel_execution(pb::GetRequest { r#ref: long.id.clone() }).await.expect("cancel").into_inner();
    assert!(["canceling", "canceled"].contains(&canceling.status.as_str()), "{canceling:?}");
    let canceled = completed_execution(&client, &long.id).await;
    assert_eq!(canceled.status, "canceled");
    assert_eq!(processes_named(&marker), "", "cancel killed the whole group");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_fires_a_rule_whose_shell_action_output_is_kept() {
    let home = Home::new();
    home.write("packs/ticks/pack.yaml", &pack_yaml("ticks", "timer rules"));
    home.write(
        "packs/ticks/rules/tick.yaml",
        "---\nname: tick\nenabled: true\ntrigger:\n  type: core.st2.IntervalTimer\n  parameters: {unit: seconds, delta: 1}\naction:\n  ref: core.local\n  parameters:\n    cmd: echo tick from the timer\n",
    );
    let daemon = tokio::task::block_in_place(|| Daemon::start(&home, &["serve", "--register-rules-by-default"]));
    let client = control(&home.socket()).await;
    let execution = until("an execution of the timer rule", || {
        let mut client = client.clone();
        async move {
            let request = pb::ListExecutionsRequest { rule: "ticks.tick".into(), limit: 1, ..Default::default() };
            let list = client.list_executions(request).await.expect("list").into_inner().executions;
            list.into_iter().find(|e| !e.end_timestamp.is_empty())
        }
    })
    .await;
    assert_eq!(execution.status, "succeeded", "{execution:?}");
    assert_eq!(execution.action, "core.local");
    assert!(!execution.trigger_instance.is_empty());
    assert_eq!(result(&execution)["stdout"], "tick from the timer");
    let shown = tokio::task::block_in_place(|| daemon.ctl(&["execution", "get", &execution.id]));
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(
        shown.lines().any(|l| l == "  stdout: tick from the timer"),
        "st2ctl execution get shows the stdout:\n{shown}"
    );
    assert!(shown.lines().any(|l| l == "rule.ref: ticks.tick"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_action_written_for_stackstorm_runs_unmodified() {
    st2d_tests::require_python();
    let home = Home::new();
    home.write("packs/pyact/pack.yaml", &pack_yaml("pyact", "python actions"));
    home.write("packs/pyact/config.schema.yaml", "greeting:\n  type: string\n  default: hello\n");
    home.write(
        "packs/pyact/actions/greet.yaml",
        "---\nname: greet\nrunner_type: python-script\nentry_point: greet.py\nparameters:\n  who: {type: string, required: true}\n  fail: {type: boolean, default: false}\n",
    );
    home.write("packs/pyact/actions/lib/words.py", "def loud(text):\n    return text.upper()\n");
    home.write(
        "packs/pyact/actions/greet.py",
        "from st2common.runners.base_action import Action\nfrom words import loud\n\n\nclass Greet(Action):\n    def run(self, who, fail):\n        self.logger.info('greeting %s', who)\n        print('printing on stdout')\n        self.action_service.set_value('last', who)\n        if fail:\n            return (False, {'who': who})\n        return {'text': loud('%s %s' % (self.config['greeting'], who)), 'last': self.action_service.get_value('last')}\n",
    );
    let _daemon = tokio::task::block_in_place(|| Daemon::start(&home, &[]));
    let client = control(&home.socket()).await;
    let ok = run(&client, "pyact.greet", json!({"who": "world"})).await;
    let ok = completed_execution(&client, &ok.id).await;
    assert_eq!(ok.status, "succeeded", "{ok:?}");
    let ok = result(&ok);
    assert_eq!(ok["result"], json!({"text": "HELLO WORLD", "last": "world"}));
    assert_eq!(ok["exit_code"], 0);
    assert_eq!(ok["stdout"], "printing on stdout\n");
    let failed = run(&client, "pyact.greet", json!({"who": "nobody", "fail": true})).await;
    let failed = completed_execution(&client, &failed.id).await;
    assert_eq!(failed.status, "failed", "(False, result) fails the execution: {failed:?}");
    assert_eq!(result(&failed)["result"], json!({"who": "nobody"}));
}
