//! Tests of the remote runners that need no SSH server: what the parameters refuse, a host
//! nobody listens on, and the execution's status from its hosts'. `tests/e2e/remote.rs` runs
//! them against a real sshd.

use serde_json::json;

use super::*;
use crate::action::testkit::Kit;

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("an address").port()
}

async fn kit() -> Kit {
    Kit::new(&[
        ("packs/demo/actions/cmd.yaml", "---\nname: cmd\nrunner_type: remote-shell-cmd\n"),
        (
            "packs/demo/actions/script.yaml",
            "---\nname: script\nrunner_type: remote-shell-script\nentry_point: run.sh\n",
        ),
        (
            "packs/demo/actions/gone.yaml",
            "---\nname: gone\nrunner_type: remote-shell-script\nentry_point: missing.sh\n",
        ),
        ("packs/demo/actions/run.sh", "#!/bin/sh\necho hi\n"),
    ])
    .await
}

#[tokio::test]
async fn parameters_that_name_nothing_to_run_fail_the_execution() {
    let kit = kit().await;
    let cases = [
        ("demo.cmd", json!({"hosts": " , ", "cmd": "true"}), "runner parameter \"hosts\" names no host"),
        ("demo.cmd", json!({"hosts": "web1:ssh", "cmd": "true"}), "host \"web1:ssh\": invalid port \"ssh\""),
        (
            "demo.cmd",
            json!({"hosts": "web1", "cmd": "true", "port": 70000}),
            "runner parameter \"port\": \"70000\" is not a TCP port",
        ),
        ("demo.cmd", json!({"hosts": "web1"}), "runner parameter \"cmd\" is missing"),
        (
            "demo.cmd",
            json!({"hosts": "-oProxyCommand=sh", "cmd": "true"}),
            "host \"-oProxyCommand=sh\": a host name cannot start with \"-\"",
        ),
    ];
    for (action, runner, error) in cases {
        let (outcome, _) = kit.run(action, runner.clone(), json!({})).await;
        assert_eq!(outcome, Outcome::failed(error), "{runner}");
    }
    let (outcome, _) = kit.run("demo.gone", json!({"hosts": "web1"}), json!({})).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert!(
        outcome.result["error"].as_str().is_some_and(|e| e.ends_with("missing.sh\" does not exist")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_host_nobody_listens_on_is_that_hosts_error() {
    let kit = kit().await;
    let port = closed_port();
    for action in ["demo.cmd", "demo.script"] {
        let runner = json!({"hosts": format!("127.0.0.1:{port}"), "cmd": "true", "timeout": 30});
        let (outcome, lines) = kit.run(action, runner, json!({})).await;
        assert_eq!(outcome.status, ExecutionStatus::Failed, "{action}: {outcome:?}");
        let entry = &outcome.result["127.0.0.1"];
        assert_eq!(entry["return_code"], 255, "{action}: {entry}");
        assert_eq!(entry["succeeded"], false);
        let error = entry["error"].as_str().unwrap_or_default();
        assert!(
            error.starts_with("Failed connecting to host 127.0.0.1: ") && error.contains("Connection refused"),
            "{action}: {error}"
        );
        if action == "demo.cmd" {
            assert!(lines.iter().any(|l| l.line.starts_with("127.0.0.1: ") && l.line.contains("refused")), "{lines:?}");
        }
    }
}

#[test]
fn the_execution_succeeds_only_when_every_host_did() {
    let ok = HostOutcome { entry: json!({"succeeded": true}), ending: HostEnding::Succeeded };
    let failed = HostOutcome { entry: json!({"succeeded": false}), ending: HostEnding::Failed };
    let slow = HostOutcome { entry: json!({"timeout": true}), ending: HostEnding::TimedOut };
    let keys = |n: usize| (0..n).map(|i| format!("h{i}")).collect::<Vec<_>>();
    let cases = [
        (vec![ok.clone(), ok.clone()], ExecutionStatus::Succeeded),
        (vec![ok.clone(), failed.clone()], ExecutionStatus::Failed),
        (vec![slow.clone(), slow.clone()], ExecutionStatus::Timeout),
        (vec![slow.clone(), ok.clone()], ExecutionStatus::Failed),
        (vec![ok.clone(), HostOutcome::not_run()], ExecutionStatus::Canceled),
    ];
    for (outcomes, status) in cases {
        let n = outcomes.len();
        let outcome = overall(keys(n), outcomes);
        assert_eq!(outcome.status, status);
        assert_eq!(outcome.result.as_object().map(|o| o.len()), Some(n), "one entry per host");
    }
    assert_eq!(overall(keys(1), vec![ok]).result, json!({"h0": {"succeeded": true}}));
}
