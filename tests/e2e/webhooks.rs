//! HTTP ingress end to end: a rule on a webhook url fires its action from a curl POST; the url
//! goes away with the rule file, without a restart; the generic `st2` hook; and bad requests
//! (oversized, malformed, wrong key, unknown hook) answered with clear errors.

use std::process::Command;

use serde_json::Value;
use st2d_tests::{Daemon, Home, pack_yaml, stderr};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port()
}

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
    let (status, body) = post(port, "/api/v1/webhooks/st2", r#"{"payload": {}}"#, &[JSON]);
    assert_eq!((status, body.contains("Trigger not specified")), (400, true), "{body}");
    let instances = daemon.ctl_json(&["trigger-instance", "list", "--trigger", "hooks.build"]);
    assert_eq!(instances.as_array().map(Vec::len), Some(1), "{instances:#}");

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
    assert!(logs.contains("a listener beyond loopback needs --http-api-keys FILE or --http-token-file FILE"), "{logs}");

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
}
