//! StackStorm's REST API end to end with the real `st2client` 3.9.0 from PyPI: the `st2` CLI
//! logs in against a users file, lists and reads actions, runs `core.local`, lists and reads
//! executions, and sets, reads, lists and deletes keys (plain and encrypted); lists packs,
//! rules and trigger types, disables a rule, cancels an execution and answers an inquiry; the
//! Python library does the same; each is checked against what st2d holds (through st2ctl).
//! Bad requests get StackStorm's status codes and a `faultstring` naming the cause.

use std::process::Command;

use serde_json::Value;
use st2d_tests::{Home, stderr, stdout};

use crate::support::rest::{Cli, PASSWORD, USER, curl, faultstring, logged_in, st2client, start, started};

#[test]
fn the_st2_cli_logs_in_runs_actions_and_keeps_keys() {
    let python = st2client();
    let home = Home::new();
    let (daemon, port) = start(&home, &python);
    let cli = Cli { bin: python.with_file_name("st2"), home: home.path().join("cli-home"), port };
    std::fs::create_dir_all(&cli.home).expect("cli home");

    // A wrong password is refused, and says so.
    let refused = cli.run(&["login", USER, "-p", "wrong"]);
    assert!(!refused.status.success());
    assert!(
        stdout(&refused).contains("Invalid or missing credentials")
            || stderr(&refused).contains("Invalid or missing credentials"),
        "{}{}",
        stdout(&refused),
        stderr(&refused)
    );
    // Without a login, the API refuses.
    let anonymous = cli.run(&["action", "list"]);
    assert!(!anonymous.status.success(), "{}", stdout(&anonymous));

    let login = cli.run(&["login", USER, "-p", PASSWORD]);
    assert!(login.status.success(), "{}{}", stdout(&login), stderr(&login));
    assert!(stdout(&login).contains(&format!("Logged in as {USER}")), "{}", stdout(&login));

    // Actions, as st2d holds them.
    let actions = cli.json(&["action", "list", "--pack=core"]);
    let refs: Vec<&str> = actions.as_array().expect("a list").iter().filter_map(|a| a["ref"].as_str()).collect();
    let held = daemon.refs("action", Some("core"));
    assert_eq!(refs.len(), held.len(), "{refs:?} vs {held:?}");
    assert!(refs.contains(&"core.local"), "{refs:?}");
    let local = cli.json(&["action", "get", "core.local"]);
    assert_eq!(local["ref"], "core.local");
    assert_eq!(local["runner_type"], "local-shell-cmd");

    // A run, its result, and the same execution through st2ctl.
    let run = cli.json(&["run", "core.local", "cmd=echo hi"]);
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["result"]["stdout"], "hi", "{run:#}");
    let id = run["id"].as_str().expect("an id").to_string();
    let held = daemon.ctl_json(&["execution", "get", &id]);
    assert_eq!(held["status"], "succeeded");
    assert_eq!(held["context"]["user"], USER, "the acting user is the one logged in: {held:#}");
    let listed = cli.json(&["execution", "list"]);
    assert!(listed.as_array().expect("a list").iter().any(|e| e["id"] == id.as_str()), "{listed:#}");
    let got = cli.json(&["execution", "get", &id]);
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["result"]["stdout"], "hi");

    // Keys: plain and encrypted, in the system scope.
    let set = cli.run(&["key", "set", "greeting", "hello"]);
    assert!(set.status.success(), "{}{}", stdout(&set), stderr(&set));
    assert_eq!(cli.json(&["key", "get", "greeting"])["value"], "hello");
    assert!(cli.run(&["key", "set", "password", "s3cret", "--encrypt"]).status.success());
    let hidden = cli.json(&["key", "get", "password"]);
    assert_eq!(hidden["secret"], true);
    assert_ne!(hidden["value"], "s3cret");
    assert_eq!(cli.json(&["key", "get", "password", "--decrypt"])["value"], "s3cret");
    let held = daemon.ctl_json(&["key", "get", "password", "--decrypt"]);
    assert_eq!(held["value"], "s3cret", "{held:#}");
    let names: Vec<String> = cli
        .json(&["key", "list"])
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|k| k["name"].as_str().map(String::from))
        .collect();
    assert!(names.contains(&"greeting".to_string()) && names.contains(&"password".to_string()), "{names:?}");
    assert!(cli.run(&["key", "delete", "greeting"]).status.success());
    let gone = cli.run(&["key", "get", "greeting"]);
    assert!(!gone.status.success() || stdout(&gone).contains("not found"), "{}", stdout(&gone));
    assert!(!daemon.ctl(&["key", "get", "greeting"]).status.success());
}

#[test]
fn the_python_library_talks_to_st2d() {
    let python = st2client();
    let home = Home::new();
    let (daemon, port) = start(&home, &python);
    let script = r#"
import json, sys
from st2client.client import Client
from st2client.models import LiveAction, KeyValuePair
base = sys.argv[1]
token = Client(base_url=base, api_url=base + "/api/v1", auth_url=base + "/auth/v1").tokens.create(
    __import__("st2client.models", fromlist=["Token"]).Token(), auth=(sys.argv[2], sys.argv[3])).token
client = Client(base_url=base, api_url=base + "/api/v1", auth_url=base + "/auth/v1", token=token)
print(json.dumps({"check": "actions", "refs": sorted(a.ref for a in client.actions.get_all(pack="core"))}))
execution = client.executions.create(LiveAction(action="core.local", parameters={"cmd": "echo from-the-library"}))
print(json.dumps({"check": "execution", "id": execution.id, "status": execution.status}))
client.keys.update(KeyValuePair(name="library", value="written"))
print(json.dumps({"check": "key", "value": client.keys.get_by_name("library").value}))
"#;
    let base = format!("http://127.0.0.1:{port}");
    let output = Command::new(&python).args(["-c", script, &base, USER, PASSWORD]).output().expect("python runs");
    assert!(output.status.success(), "{}\n{}", stderr(&output), daemon.log());
    let lines: Vec<Value> = stdout(&output).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let refs: Vec<String> =
        lines[0]["refs"].as_array().expect("refs").iter().filter_map(|r| r.as_str().map(String::from)).collect();
    let mut held = daemon.refs("action", Some("core"));
    held.sort();
    assert_eq!(refs, held);
    let id = lines[1]["id"].as_str().expect("an execution id");
    let done = daemon
        .wait_json("the library's execution to finish", &["execution", "get", id], |e| e["status"] == "succeeded");
    assert_eq!(done["result"]["stdout"], "from-the-library", "{done:#}");
    assert_eq!(done["context"]["user"], USER, "{done:#}");
    assert_eq!(lines[2]["value"], "written");
    assert_eq!(daemon.ctl_json(&["key", "get", "library"])["value"], "written");
}

#[test]
fn bad_requests_get_stackstorms_codes_and_a_faultstring() {
    let python = st2client();
    let home = Home::new();
    let (daemon, port) = start(&home, &python);
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");

    // Credentials: none, a wrong password, an unknown token.
    let (status, body) = curl(&[&url("/api/v1/actions")]);
    assert_eq!((status, faultstring(&body).as_str()), (401, "Unauthorized - One of Token or API key required."));
    let (status, body) = curl(&["-X", "POST", "-u", &format!("{USER}:nope"), &url("/auth/v1/tokens")]);
    assert_eq!((status, faultstring(&body).as_str()), (401, "Invalid or missing credentials"));
    let (status, body) = curl(&["-H", "X-Auth-Token: 0123456789abcdef0123456789abcdef", &url("/api/v1/actions")]);
    assert_eq!(status, 401, "{body}");
    assert!(faultstring(&body).starts_with("Unauthorized - "), "{body}");
    // A TTL beyond the configured one.
    let (status, body) = curl(&[
        "-X",
        "POST",
        "-u",
        &format!("{USER}:{PASSWORD}"),
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"ttl": 999999999}"#,
        &url("/auth/v1/tokens"),
    ]);
    assert_eq!(status, 400, "{body}");
    assert!(faultstring(&body).contains("greater than max allowed 86400"), "{body}");

    let (status, body) = curl(&["-X", "POST", "-u", &format!("{USER}:{PASSWORD}"), &url("/auth/v1/tokens")]);
    assert_eq!(status, 201, "{body}");
    let token: Value = serde_json::from_str(&body).expect("a token");
    let token = format!("X-Auth-Token: {}", token["token"].as_str().expect("a token"));
    let json = "Content-Type: application/json";

    let run = |body: &str| curl(&["-H", &token, "-H", json, "--data", body, &url("/api/v1/executions")]);
    let (status, body) = curl(&["-H", &token, &url("/api/v1/actions/nope.missing")]);
    assert_eq!(status, 404, "{body}");
    assert!(faultstring(&body).contains("nope.missing"), "{body}");
    let (status, body) = run("{\"action\": ");
    assert_eq!(status, 400, "{body}");
    assert!(faultstring(&body).starts_with("Failed to parse request body"), "{body}");
    let (status, body) = run(r#"{"action": "nope.missing"}"#);
    assert_eq!(status, 404, "{body}");
    assert!(faultstring(&body).contains("nope.missing"), "{body}");
    let (status, body) = run(r#"{"action": "core.local", "parameters": {"cwd": "/tmp"}}"#);
    assert_eq!(status, 400, "{body}");
    assert!(faultstring(&body).contains("cmd"), "{body}");
    // A value of the wrong type is refused as given, before any cast (StackStorm's API
    // validates the parameters as sent).
    let (status, body) = run(r#"{"action": "core.local", "parameters": {"cmd": "true", "timeout": "60"}}"#);
    assert_eq!(status, 400, "{body}");
    assert!(faultstring(&body).contains("parameter \"timeout\""), "{body}");
    let (status, body) = run(r#"{"action": ["core.local"]}"#);
    assert_eq!(status, 400, "{body}");
    assert!(faultstring(&body).contains("field \"action\""), "{body}");
    let (status, body) = curl(&["-H", &token, &url("/api/v1/executions?limit=abc")]);
    assert_eq!(status, 400, "{body}");
    assert!(faultstring(&body).contains("limit"), "{body}");
    let (status, body) = curl(&[
        "-X",
        "PUT",
        "-H",
        &token,
        "-H",
        json,
        "--data",
        r#"{"name": "k", "value": 7}"#,
        &url("/api/v1/keys/k"),
    ]);
    assert_eq!(status, 400, "{body}");
    assert!(faultstring(&body).contains("field \"value\""), "{body}");
    let (status, body) = curl(&["-X", "DELETE", "-H", &token, &url("/api/v1/actions/core.local")]);
    assert_eq!(status, 405, "{body}");
    // Nothing was created by any of them.
    let executions = daemon.ctl_json(&["execution", "list"]);
    assert_eq!(executions.as_array().map(Vec::len), Some(0), "{executions:#}");
    assert!(!daemon.ctl(&["key", "get", "k"]).status.success());
}

#[test]
fn the_st2_cli_reads_packs_rules_and_triggers_disables_a_rule_cancels_and_answers_an_inquiry() {
    let python = st2client();
    let home = Home::new();
    home.write("packs/hooks/pack.yaml", &st2d_tests::pack_yaml("hooks", "webhook rules"));
    home.write(
        "packs/hooks/rules/alert.yaml",
        "---\nname: alert\nenabled: true\ntrigger: {type: core.st2.webhook, parameters: {url: alert}}\naction: {ref: core.noop}\n",
    );
    home.write(
        "packs/hooks/triggers/deployed.yaml",
        "---\nname: deployed\ndescription: an app was deployed\npayload_schema: {type: object, properties: {app: {type: string}}}\n",
    );
    let (daemon, port) = start(&home, &python);
    let cli = logged_in(&home, &python, port);

    let packs = cli.json(&["pack", "list"]);
    let refs: Vec<&str> = packs.as_array().expect("a list").iter().filter_map(|p| p["ref"].as_str()).collect();
    assert!(refs.contains(&"core") && refs.contains(&"hooks"), "{refs:?}");
    let triggers = cli.json(&["trigger", "list", "--pack=hooks"]);
    let refs: Vec<&str> = triggers.as_array().expect("a list").iter().filter_map(|t| t["ref"].as_str()).collect();
    assert_eq!(refs, ["hooks.deployed"]);

    // The webhooks the active rules bind; posting to one still reaches the ingress.
    let hooks = cli.json(&["webhook", "list"]);
    let urls: Vec<&str> = hooks.as_array().expect("a list").iter().filter_map(|h| h["url"].as_str()).collect();
    assert_eq!(urls, ["alert"], "{hooks:#}");
    assert_eq!(cli.json(&["webhook", "get", "alert"])["type"], "core.st2.webhook");
    assert!(!cli.run(&["webhook", "get", "nope"]).status.success());

    let rules = cli.json(&["rule", "list", "--pack=hooks"]);
    assert_eq!(rules[0]["ref"], "hooks.alert", "{rules:#}");
    assert_eq!(rules[0]["enabled"], true);
    let disabled = cli.run(&["rule", "disable", "hooks.alert"]);
    assert!(disabled.status.success(), "{}{}", stdout(&disabled), stderr(&disabled));
    assert_eq!(daemon.ctl_json(&["rule", "get", "hooks.alert"])["enabled"], false);
    assert_eq!(cli.json(&["rule", "get", "hooks.alert"])["enabled"], false);

    // Cancel a running execution.
    let id = started(&cli.run(&["run", "core.local", "cmd=sleep 30", "-a"]));
    daemon.wait_json("the sleep to run", &["execution", "get", &id], |e| e["status"] == "running");
    let canceled = cli.run(&["execution", "cancel", &id]);
    assert!(canceled.status.success(), "{}{}", stdout(&canceled), stderr(&canceled));
    assert!(stdout(&canceled).contains(&format!("with id {id} canceled")), "{}", stdout(&canceled));
    daemon.wait_json("the sleep to be canceled", &["execution", "get", &id], |e| e["status"] == "canceled");

    // An inquiry, answered through the API as the logged-in user.
    let id = started(&cli.run(&["run", "core.ask", "-a"]));
    daemon.wait_json("the inquiry to wait", &["execution", "get", &id], |e| e["status"] == "pending");
    let inquiries = cli.json(&["inquiry", "list"]);
    assert!(inquiries.as_array().expect("a list").iter().any(|i| i["id"] == id.as_str()), "{inquiries:#}");
    let answered = cli.run(&["inquiry", "respond", &id, "-r", r#"{"continue": true}"#]);
    assert!(answered.status.success(), "{}{}", stdout(&answered), stderr(&answered));
    assert!(stdout(&answered).contains(&format!("Response accepted for inquiry {id}")), "{}", stdout(&answered));
    let done = daemon.wait_json("the inquiry to succeed", &["execution", "get", &id], |e| e["status"] == "succeeded");
    assert_eq!(done["result"]["response"]["continue"], true, "{done:#}");
    // Answered once: a second answer is refused with StackStorm's message.
    let again = cli.run(&["inquiry", "respond", &id, "-r", r#"{"continue": true}"#]);
    assert!(!again.status.success());
}

#[test]
fn api_keys_made_with_the_cli_admit_their_user_until_disabled_or_deleted() {
    let python = st2client();
    let home = Home::new();
    let (daemon, port) = start(&home, &python);
    let cli = logged_in(&home, &python, port);
    let created = cli.run(&["apikey", "create", "-k", "-m", r#"{"used_by": "ci"}"#]);
    assert!(created.status.success(), "{}{}", stdout(&created), stderr(&created));
    let key = stdout(&created).trim().to_string();
    assert!(key.len() >= 32 && !key.contains(' '), "{key}");
    let keys = cli.json(&["apikey", "list"]);
    let listed = keys.as_array().expect("a list").first().cloned().expect("one key");
    assert_eq!(listed["user"], USER);
    assert_eq!(listed["metadata"]["used_by"], "ci");
    let id = listed["id"].as_str().expect("an id").to_string();
    let (status, body) =
        curl(&["-H", &format!("St2-Api-Key: {key}"), &format!("http://127.0.0.1:{port}/api/v1/apikeys/{id}")]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("a key")["key_hash"],
        "********",
        "the hash is masked: {body}"
    );

    // The key admits its user; a run made with it is theirs.
    let url = format!("http://127.0.0.1:{port}/api/v1/executions");
    let header = format!("St2-Api-Key: {key}");
    let (status, body) =
        curl(&["-H", &header, "-H", "Content-Type: application/json", "--data", r#"{"action": "core.noop"}"#, &url]);
    assert_eq!(status, 201, "{body}");
    let execution: Value = serde_json::from_str(&body).expect("an execution");
    let run = daemon.wait_json("the key's run", &["execution", "get", execution["id"].as_str().expect("an id")], |e| {
        e["status"] == "succeeded"
    });
    assert_eq!(run["context"]["user"], USER);
    let (status, _) = curl(&[&format!("http://127.0.0.1:{port}/api/v1/actions?st2-api-key={key}")]);
    assert_eq!(status, 200);

    let disabled = cli.run(&["apikey", "disable", &id]);
    assert!(disabled.status.success(), "{}{}", stdout(&disabled), stderr(&disabled));
    let (status, body) = curl(&["-H", &header, &format!("http://127.0.0.1:{port}/api/v1/actions")]);
    assert_eq!((status, faultstring(&body).as_str()), (401, "Unauthorized - API key is disabled."));
    assert!(cli.run(&["apikey", "enable", &id]).status.success());
    assert_eq!(curl(&["-H", &header, &format!("http://127.0.0.1:{port}/api/v1/actions")]).0, 200);
    let deleted = cli.run(&["apikey", "delete", &id]);
    assert!(deleted.status.success(), "{}{}", stdout(&deleted), stderr(&deleted));
    let (status, body) = curl(&["-H", &header, &format!("http://127.0.0.1:{port}/api/v1/actions")]);
    assert_eq!((status, faultstring(&body).as_str()), (401, "Unauthorized - API key is not found."));
    // The store keeps no key in clear.
    let store = std::fs::read_dir(home.path().join("data")).expect("the store").filter_map(Result::ok);
    for entry in store {
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&bytes).contains(&key), "{} holds the key", entry.path().display());
    }
}

#[test]
fn st2_execution_tail_follows_output_and_the_end_through_the_stream() {
    let python = st2client();
    let home = Home::new();
    let (daemon, port) = start(&home, &python);
    let cli = logged_in(&home, &python, port);
    let id = started(&cli.run(&[
        "run",
        "core.local",
        "cmd=sleep 1; for i in 1 2 3; do echo line-$i; sleep 0.5; done; echo oops >&2",
        "-a",
    ]));
    daemon.wait_json("the loop to run", &["execution", "get", &id], |e| e["status"] == "running");
    let tail = cli.run(&["execution", "tail", &id]);
    assert!(tail.status.success(), "{}{}", stdout(&tail), stderr(&tail));
    let printed = stdout(&tail);
    for line in ["line-1", "line-2", "line-3", "oops", &format!("Execution {id} has completed (status=succeeded).")] {
        assert!(printed.contains(line), "{line} missing from the tail:\n{printed}");
    }
    // A completed execution's tail is its output, from /executions/{id}/output.
    let again = cli.run(&["execution", "tail", &id]);
    assert!(stdout(&again).contains("line-3"), "{}", stdout(&again));
    assert!(
        stdout(&again).contains(&format!("Execution {id} has completed (status=succeeded).")),
        "{}",
        stdout(&again)
    );

    // The raw stream: StackStorm's framing and event names, filtered by `events`.
    let token = cli.json(&["auth", USER, "-p", PASSWORD])["token"].as_str().expect("a token").to_string();
    let url = format!("http://127.0.0.1:{port}/stream/v1/stream?events=st2.execution__create&x-auth-token={token}");
    let mut curl = Command::new("curl")
        .args(["-s", "-N", "--max-time", "20", &url])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("curl runs");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let run = cli.json(&["run", "core.noop"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = curl.kill();
    let output = curl.wait_with_output().expect("curl ends");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let frame = "event: st2.execution__create\ndata: ";
    assert!(text.contains(frame), "{text}");
    assert!(text.contains(run["id"].as_str().expect("an id")), "{text}");
    assert!(!text.contains("st2.execution__update"), "only the events asked for: {text}");
}

#[test]
fn actions_reach_the_api_with_their_executions_token() {
    let python = st2client();
    let home = Home::new();
    home.write("packs/selfie/pack.yaml", &st2d_tests::pack_yaml("selfie", "actions that call the API"));
    home.write(
        "packs/selfie/actions/whoami.yaml",
        "---\nname: whoami\nrunner_type: python-script\nentry_point: whoami.py\n",
    );
    home.write(
        "packs/selfie/actions/whoami.py",
        r#"import os
from st2client.client import Client
from st2client.models import KeyValuePair
from st2common.runners.base_action import Action


class WhoAmI(Action):
    def run(self):
        url = os.environ["ST2_ACTION_API_URL"]
        client = Client(api_url=url, token=os.environ["ST2_ACTION_AUTH_TOKEN"])
        me = client.executions.get_by_id(os.environ["ST2_ACTION_EXECUTION_ID"])
        client.keys.update(KeyValuePair(name="written_by_action", value=me.context["user"]))
        return {"url": url, "status": me.status, "core_actions": len(client.actions.get_all(pack="core"))}
"#,
    );
    home.write("packs/selfie/actions/token.yaml", "---\nname: token\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {default: 'echo $ST2_ACTION_AUTH_TOKEN', immutable: true}\n");
    let (daemon, port) = start(&home, &python);
    let cli = logged_in(&home, &python, port);
    let run = cli.json(&["run", "selfie.whoami"]);
    assert_eq!(run["status"], "succeeded", "{run:#}\n{}", daemon.log());
    assert_eq!(run["result"]["result"]["url"], format!("http://127.0.0.1:{port}/api/v1"));
    assert_eq!(run["result"]["result"]["status"], "running");
    assert_eq!(run["result"]["result"]["core_actions"], json_len(&cli.json(&["action", "list", "--pack=core"])));
    assert_eq!(daemon.ctl_json(&["key", "get", "written_by_action"])["value"], USER);
    // The token ends with its execution.
    let shown = cli.json(&["run", "selfie.token"]);
    let token = shown["result"]["stdout"].as_str().expect("the token").to_string();
    assert_eq!(token.len(), 32, "{shown:#}");
    let (status, _) =
        curl(&["-H", &format!("X-Auth-Token: {token}"), &format!("http://127.0.0.1:{port}/api/v1/actions")]);
    assert_eq!(status, 401);
}

fn json_len(value: &Value) -> usize {
    value.as_array().map(Vec::len).unwrap_or_default()
}
