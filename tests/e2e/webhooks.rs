//! HTTP ingress end to end: a rule on a webhook url fires its action from a curl POST; the url
//! goes away with the rule file, without a restart; the generic `st2` hook; bad requests
//! (oversized, malformed, wrong key, unknown hook) answered with clear errors; and the
//! Prometheus page counting all of it.

use std::collections::HashMap;
use std::process::Command;

use serde_json::Value;
use st2d_tests::prometheus::{self, sample};
use st2d_tests::{Daemon, Home, free_port, pack_yaml, stderr};

/// `curl` POSTs `body` to `path`; returns (status, response body).
fn post(port: u16, path: &str, body: &str, headers: &[&str]) -> (u16, String) {
    let mut command = Command::new("curl");
    command.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", "POST"]);
    for header in headers {
        command.args(["-H", header]);
    }
    let output = command
        .args(["--data-binary", "@-"])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().expect("piped stdin").write_all(body.as_bytes())?;
            child.wait_with_output()
        })
        .expect("curl runs (apt-get install curl)");
    assert!(output.status.success(), "curl failed: {}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').expect("curl printed the status");
    (status.trim().parse().expect("an HTTP status"), body.to_string())
}

const JSON: &str = "Content-Type: application/json";

/// `curl` GETs `/metrics`; returns each sample (`name{labels}`) with its value.
fn metrics(port: u16, headers: &[&str]) -> (u16, HashMap<String, f64>) {
    let mut command = Command::new("curl");
    command.args(["-s", "-o", "-", "-w", "\n%{http_code}"]);
    for header in headers {
        command.args(["-H", header]);
    }
    let output =
        command.arg(format!("http://127.0.0.1:{port}/metrics")).output().expect("curl runs (apt-get install curl)");
    assert!(output.status.success(), "curl failed: {}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (page, status) = text.rsplit_once('\n').expect("curl printed the status");
    let status: u16 = status.trim().parse().expect("an HTTP status");
    if status != 200 {
        return (status, HashMap::new());
    }
    (status, prometheus::parse(page))
}

/// Polls `/metrics` until `check` holds.
fn wait_metrics(port: u16, what: &str, check: impl Fn(&HashMap<String, f64>) -> bool) -> HashMap<String, f64> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, samples) = metrics(port, &[]);
        assert_eq!(status, 200);
        if check(&samples) {
            return samples;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: {samples:#?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn write_hook_pack(home: &Home) {
    home.write("packs/hooks/pack.yaml", &pack_yaml("hooks", "webhook rules"));
    home.write(
        "packs/hooks/rules/deploy.yaml",
        "---\nname: deploy\nenabled: true\ntrigger:\n  type: core.st2.webhook\n  parameters: {url: deploy/app}\ncriteria:\n  trigger.body.ref: {type: equals, pattern: main}\naction:\n  ref: core.local\n  parameters:\n    cmd: \"echo deploying {{ trigger.body.ref }} for {{ trigger.headers['X-Sender'] }}\"\n",
    );
    home.write(
        "packs/hooks/triggers/build.yaml",
        "---\nname: build\npayload_schema:\n  type: object\n  required: [number]\n  properties:\n    number: {type: integer}\n",
    );
    // A sensor that fails at every start, for the sensor figures of the metrics page.
    home.write("packs/hooks/sensors/flaky.yaml", "---\nclass_name: Flaky\nentry_point: flaky.py\ntrigger_types: []\n");
    home.write(
        "packs/hooks/sensors/flaky.py",
        "from st2reactor.sensor.base import Sensor\n\nclass Flaky(Sensor):\n    def setup(self):\n        raise RuntimeError('no upstream')\n    def run(self):\n        pass\n    def cleanup(self):\n        pass\n    def add_trigger(self, trigger):\n        pass\n    def update_trigger(self, trigger):\n        pass\n    def remove_trigger(self, trigger):\n        pass\n",
    );
}

#[test]
fn a_curl_post_fires_a_webhook_rule_and_the_hook_follows_the_rule_file() {
    let home = Home::new();
    write_hook_pack(&home);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let daemon = Daemon::start(
        &home,
        &["serve", "--register-rules-by-default", "--http-listen", &listen, "--http-max-body", "4096"],
    );

    let hooks = daemon.ctl_json(&["webhook", "list"]);
    assert_eq!(hooks[0]["url"], "deploy/app", "{hooks:#}");
    assert_eq!(hooks[0]["rules"], serde_json::json!(["hooks.deploy"]));

    let (status, body) = post(port, "/api/v1/webhooks/deploy/app", r#"{"ref": "main"}"#, &[JSON, "X-Sender: ci"]);
    assert_eq!(status, 202, "{body}");
    let echoed: serde_json::Value = serde_json::from_str(&body).expect("the 202 echoes JSON");
    assert_eq!(echoed, serde_json::json!({"ref": "main"}));
    let executions = daemon.wait_json("the rule's execution", &["execution", "list"], |list| {
        list.as_array().is_some_and(|l| l.iter().any(|e| e["status"] == "succeeded"))
    });
    let id = executions[0]["id"].as_str().expect("an id").to_string();
    let execution = daemon.ctl_json(&["execution", "get", &id]);
    assert_eq!(execution["result"]["stdout"], "deploying main for ci", "{execution:#}");
    assert_eq!(execution["rule"]["ref"], "hooks.deploy");

    // The generic hook, with the trigger's payload schema checked.
    let (status, _) =
        post(port, "/api/v1/webhooks/st2", r#"{"trigger": "hooks.build", "payload": {"number": 7}}"#, &[JSON]);
    assert_eq!(status, 202);
    let (status, body) =
        post(port, "/api/v1/webhooks/st2", r#"{"trigger": "hooks.build", "payload": {"number": "x"}}"#, &[JSON]);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("number"), "{body}");
    let dropped = r#"st2d_trigger_instances_dropped_total{reason="invalid"}"#;
    let (status, body) = post(port, "/api/v1/webhooks/st2", r#"{"payload": {}}"#, &[JSON]);
    assert_eq!((status, body.contains("Trigger not specified")), (400, true), "{body}");
    let instances = daemon.ctl_json(&["trigger-instance", "list", "--trigger", "hooks.build"]);
    assert_eq!(instances.as_array().map(Vec::len), Some(1), "{instances:#}");

    // Form and plain-text bodies, decoded as StackStorm decodes them.
    let form = "Content-Type: application/x-www-form-urlencoded";
    let (status, body) = post(port, "/api/v1/webhooks/deploy/app", "ref=feature+x&ref=y&empty=", &[form]);
    assert_eq!(status, 202, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).expect("JSON"), serde_json::json!({"ref": ["feature x", "y"]}));
    let (status, body) = post(port, "/api/v1/webhooks/deploy/app", "plain words", &["Content-Type: text/plain"]);
    assert_eq!((status, body.as_str()), (202, "\"plain words\""));
    let (status, body) = post(port, "/api/v1/webhooks/deploy/app", "<a/>", &["Content-Type: application/xml"]);
    assert_eq!((status, body.contains("Unsupported Content-Type")), (415, true), "{body}");

    // Bad requests.
    let (status, body) = post(port, "/api/v1/webhooks/deploy/app", "{\"ref\": ", &[JSON]);
    assert_eq!((status, body.contains("Failed to parse request body")), (400, true), "{body}");
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(5000));
    let (status, _) = post(port, "/api/v1/webhooks/deploy/app", &big, &[JSON]);
    assert_eq!(status, 413);
    let (status, body) = post(port, "/api/v1/webhooks/nothing/here", "{}", &[JSON]);
    assert_eq!((status, body.contains("Webhook nothing/here not registered with st2")), (404, true), "{body}");

    // Removing the rule file takes the url away, live.
    home.remove("packs/hooks/rules/deploy.yaml");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, _) = post(port, "/api/v1/webhooks/deploy/app", "{}", &[JSON]);
        if status == 404 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the hook is still served after its rule was removed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(daemon.ctl_json(&["webhook", "list"]), Value::Array(Vec::new()));

    // The metrics page counted all of it.
    let samples = wait_metrics(port, "the flaky sensor restarted and every instance was processed", |s| {
        s.get(r#"st2d_sensor_restarts_total{sensor="hooks.Flaky"}"#).is_some_and(|r| *r >= 1.0)
            && s.get("st2d_trigger_journal_depth") == Some(&0.0)
            && s.get("st2d_trigger_instances_processed_total") == s.get("st2d_trigger_instances_received_total")
    });
    // The deploy hook, the generic hook and the execution's action trigger.
    assert!(sample(&samples, "st2d_trigger_instances_received_total") >= 3.0, "{samples:#?}");
    assert_eq!(
        sample(&samples, "st2d_trigger_instances_processed_total"),
        sample(&samples, "st2d_trigger_instances_received_total")
    );
    assert_eq!(sample(&samples, dropped), 1.0, "the hooks.build payload with a string number");
    assert_eq!(sample(&samples, "st2d_rules_matched_total"), 1.0);
    assert_eq!(sample(&samples, r#"st2d_executions_total{status="succeeded"}"#), 1.0);
    assert_eq!(sample(&samples, r#"st2d_executions_total{status="requested"}"#), 1.0);
    assert_eq!(sample(&samples, "st2d_action_duration_seconds_count"), 1.0);
    assert_eq!(sample(&samples, r#"st2d_action_duration_seconds_bucket{le="+Inf"}"#), 1.0);
    assert!(sample(&samples, "st2d_action_duration_seconds_sum") > 0.0);
    assert_eq!(sample(&samples, "st2d_executions_in_flight"), 0.0);
    assert!(sample(&samples, r#"st2d_http_requests_total{code="202"}"#) >= 2.0);
    assert_eq!(sample(&samples, r#"st2d_http_requests_total{code="413"}"#), 1.0);
    assert!(sample(&samples, r#"st2d_http_requests_total{code="404"}"#) >= 2.0);
    assert!(sample(&samples, r#"st2d_http_requests_total{code="400"}"#) >= 3.0);
    let starting_or_backoff = sample(&samples, r#"st2d_sensors{state="backoff"}"#)
        + sample(&samples, r#"st2d_sensors{state="starting"}"#)
        + sample(&samples, r#"st2d_sensors{state="running"}"#);
    assert_eq!(starting_or_backoff, 1.0, "{samples:#?}");
    // The start, and the reload that took the rule away.
    assert!(sample(&samples, r#"st2d_reloads_total{outcome="clean"}"#) >= 2.0, "{samples:#?}");
    assert_eq!(sample(&samples, r#"st2d_reloads_total{outcome="failed"}"#), 0.0);
    assert!(sample(&samples, "st2d_registry_generation") >= 2.0);

    // A pack file that does not parse is a reload with problems.
    home.write("packs/hooks/rules/broken.yaml", "name: [unclosed\n");
    wait_metrics(port, "a reload with problems", |s| {
        s.get(r#"st2d_reloads_total{outcome="problems"}"#).is_some_and(|n| *n >= 1.0)
    });
}

#[test]
fn credentials_are_required_when_configured_and_beyond_loopback() {
    let home = Home::new();
    write_hook_pack(&home);
    home.write("keys", "# webhook callers\nk3y-one\n");
    home.write("token", "t0ken\n");
    let keys = home.path().join("keys").display().to_string();
    let token = home.path().join("token").display().to_string();

    // Beyond loopback without credentials: st2d refuses to start, and says why.
    let refused = Daemon::spawn(&home, &["serve", "--http-listen", "0.0.0.0:0"], &[]).wait_exit();
    assert!(!refused.success());
    let logs: String = std::fs::read_dir(home.path())
        .expect("the home")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("st2d-"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    assert!(
        logs.contains(
            "a listener beyond loopback needs --auth-users FILE, --http-api-keys FILE or --http-token-file FILE"
        ),
        "{logs}"
    );

    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let _daemon = Daemon::start(
        &home,
        &[
            "serve",
            "--register-rules-by-default",
            "--http-listen",
            &listen,
            "--http-api-keys",
            &keys,
            "--http-token-file",
            &token,
        ],
    );
    let path = "/api/v1/webhooks/deploy/app";
    assert_eq!(post(port, path, "{}", &[JSON]).0, 401);
    assert_eq!(post(port, path, "{}", &[JSON, "St2-Api-Key: wrong"]).0, 401);
    assert_eq!(post(port, path, "{}", &[JSON, "Authorization: Bearer nope"]).0, 401);
    assert_eq!(post(port, path, "{}", &[JSON, "St2-Api-Key: k3y-one"]).0, 202);
    assert_eq!(post(port, &format!("{path}?st2-api-key=k3y-one"), "{}", &[JSON]).0, 202);
    assert_eq!(post(port, path, "{}", &[JSON, "Authorization: Bearer t0ken"]).0, 202);
    // The metrics page asks for the same credentials (Prometheus sends a bearer token).
    assert_eq!(metrics(port, &[]).0, 401);
    let (status, samples) = metrics(port, &["Authorization: Bearer t0ken"]);
    assert_eq!(status, 200);
    assert_eq!(sample(&samples, r#"st2d_http_requests_total{code="401"}"#), 4.0);
}
