//! Action aliases end to end with the real `st2client` 3.9.0: a pack with aliases (plain,
//! `{display, representation}`, defaults, a regular expression, `key=value` extras, immutable
//! parameters, ack and result formats) listed, matched and executed by the `st2` CLI and the
//! Python library; what st2d ran is checked through st2ctl. A bot's view: a listener on
//! `/stream/v1/stream?events=st2.announcement__chatops` sees the ChatOps result of an alias
//! execution and the `announcement` runner's messages. `st2ctl alias match|execute`, and bad
//! input answered with StackStorm's status and `faultstring`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use st2d_tests::{Daemon, Home, pack_yaml, stderr, stdout};

use crate::support::rest::{PASSWORD, USER, curl, faultstring, logged_in, st2client, start_with, started};

/// The `chat` pack: actions and the aliases that run them.
fn write_pack(home: &Home) {
    home.write("packs/chat/pack.yaml", &pack_yaml("chat", "aliases for chat"));
    home.write(
        "packs/chat/actions/greet.yaml",
        "---\nname: greet\nrunner_type: local-shell-cmd\nparameters:\n  name: {type: string, required: true}\n  greeting: {type: string, default: hello}\n  count: {type: integer, default: 1}\n  cmd:\n    immutable: true\n    default: 'echo {{ greeting }}, {{ name }} x{{ count }}'\n",
    );
    home.write(
        "packs/chat/actions/deploy.yaml",
        "---\nname: deploy\nrunner_type: local-shell-cmd\nparameters:\n  app: {type: string, required: true}\n  target: {type: string, required: true}\n  version: {type: integer, default: 1}\n  hosts: {type: array, default: []}\n  requester: {type: string}\n  cmd:\n    immutable: true\n    default: 'echo deploying {{ app }} v{{ version }} to {{ target }} on {{ hosts | join(\"+\") }} for {{ requester }}'\n",
    );
    home.write(
        "packs/chat/actions/post_message.yaml",
        "---\nname: post_message\nrunner_type: announcement\nentry_point: ''\nparameters:\n  experimental: {default: true, immutable: true}\n  route: {default: chatops}\n  message: {type: string, required: true}\n  channel: {type: string, required: true}\n",
    );
    home.write(
        "packs/chat/aliases/greet.yaml",
        r#"---
name: greet
pack: chat
description: Greets someone
action_ref: chat.greet
formats:
  - "say {{greeting}} to {{name}}"
  - display: "greet NAME [COUNT]"
    representation:
      - "greet {{name}} {{count=2}}"
ack:
  format: "Greeting {{ execution.parameters.name }} ({{ actionalias.ref }}), execution {{ execution.id }}"
  extra: {color: "{{ execution.status }}"}
result:
  format: "{{ execution.result.stdout }} (status {{ execution.status }})"
  extra: {color: green}
"#,
    );
    home.write(
        "packs/chat/aliases/deploy.yaml",
        r#"---
name: deploy
pack: chat
description: Deploys an app
action_ref: chat.deploy
formats:
  - display: "deploy APP to ENV"
    representation:
      - "deploy (?P<app>[a-z]+) to (?P<target>prod|staging)"
immutable_parameters:
  requester: "{{ api_user }}-via-{{ source_channel }}"
"#,
    );
    home.write(
        "packs/chat/aliases/quiet.yaml",
        "---\nname: quiet\npack: chat\naction_ref: chat.greet\nformats: [\"whisper to {{name}}\"]\nresult: {enabled: false}\n",
    );
    home.write(
        "packs/chat/aliases/hidden.yaml",
        "---\nname: hidden\npack: chat\nenabled: false\naction_ref: chat.greet\nformats: [\"secret {{name}}\"]\n",
    );
    for name in ["ping_a", "ping_b"] {
        home.write(
            &format!("packs/chat/aliases/{name}.yaml"),
            &format!("---\nname: {name}\npack: chat\naction_ref: chat.greet\nformats: [\"ping {{{{name}}}}\"]\n"),
        );
    }
}

fn start(home: &Home, python: &Path) -> (Daemon, u16) {
    write_pack(home);
    start_with(home, python, &[])
}

/// A token for `USER`, as the `X-Auth-Token` header.
fn token_header(port: u16) -> String {
    let url = format!("http://127.0.0.1:{port}/auth/v1/tokens");
    let (status, body) = curl(&["-X", "POST", "-u", &format!("{USER}:{PASSWORD}"), &url]);
    assert_eq!(status, 201, "{body}");
    let token: Value = serde_json::from_str(&body).expect("a token");
    format!("X-Auth-Token: {}", token["token"].as_str().expect("a token"))
}

fn succeeded(daemon: &Daemon, id: &str) -> Value {
    daemon.wait_json("the alias's execution to succeed", &["execution", "get", id], |e| e["status"] == "succeeded")
}

/// `curl -N` on the stream, writing what it receives to a file.
struct Listener {
    child: Child,
    file: PathBuf,
}

impl Listener {
    fn start(home: &Home, port: u16, token: &str, events: &str) -> Self {
        let file = home.path().join(format!("stream-{events}.txt"));
        let out = std::fs::File::create(&file).expect("stream file");
        let headers = home.path().join(format!("stream-{events}.headers"));
        let url = format!("http://127.0.0.1:{port}/stream/v1/stream?events={events}");
        let child = Command::new("curl")
            .args(["-s", "-N", "-H", token, "-D"])
            .arg(&headers)
            .arg(&url)
            .stdout(Stdio::from(out))
            .stderr(Stdio::null())
            .spawn()
            .expect("curl runs");
        let listener = Listener { child, file };
        // Subscribed once the stream has answered with its headers.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !std::fs::read_to_string(&headers).is_ok_and(|h| h.contains("text/event-stream")) {
            assert!(Instant::now() < deadline, "the stream did not answer");
            std::thread::sleep(Duration::from_millis(20));
        }
        listener
    }

    /// The bodies of the events named `event` received so far.
    fn events(&self, event: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.file).unwrap_or_default();
        let mut found = Vec::new();
        let mut name = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("event: ") {
                name = rest.trim().to_string();
            } else if let Some(data) = line.strip_prefix("data: ")
                && name == event
            {
                found.push(serde_json::from_str(data).unwrap_or_else(|e| panic!("not JSON ({e}): {data}")));
            }
        }
        found
    }

    /// Waits until `count` events named `event` arrived.
    fn wait(&self, event: &str, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = self.events(event);
            if found.len() >= count {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {count} {event} events; the stream gave:\n{}",
                std::fs::read_to_string(&self.file).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_st2_cli_lists_matches_and_executes_aliases() {
    let python = st2client();
    let home = Home::new();
    let (daemon, port) = start(&home, &python);
    let cli = logged_in(&home, &python, port);

    // Listed and read as StackStorm shows them.
    let listed = cli.json(&["action-alias", "list"]);
    let mut refs: Vec<&str> = listed.as_array().expect("a list").iter().filter_map(|a| a["ref"].as_str()).collect();
    refs.sort();
    assert_eq!(refs, ["chat.deploy", "chat.greet", "chat.hidden", "chat.ping_a", "chat.ping_b", "chat.quiet"]);
    let greet = cli.json(&["action-alias", "get", "chat.greet"]);
    assert_eq!(greet["action_ref"], "chat.greet", "{greet:#}");
    assert_eq!(greet["formats"][1]["representation"], json!(["greet {{name}} {{count=2}}"]), "{greet:#}");
    assert_eq!(greet["result"]["extra"], json!({"color": "green"}), "{greet:#}");
    let by_id = cli.json(&["action-alias", "get", greet["id"].as_str().expect("an id")]);
    assert_eq!(by_id["ref"], "chat.greet");

    // Matched: the alias the command's one format belongs to.
    let matched = cli.json(&["action-alias", "match", "greet bob 3"]);
    assert_eq!(matched[0]["name"], "greet", "{matched:#}");
    assert_eq!(matched[0]["description"], "Greets someone", "{matched:#}");

    // Executed: the action runs with the command's parameters, cast to their types.
    let output = cli.run(&["action-alias", "execute", "greet bob 3"]);
    assert!(stdout(&output).contains("Matching Action-alias: 'chat.greet'"), "{}", stdout(&output));
    let id = started(&output);
    let done = succeeded(&daemon, &id);
    assert_eq!(done["parameters"], json!({"name": "bob", "count": 3}), "{done:#}");
    assert_eq!(done["result"]["stdout"], "hello, bob x3", "{done:#}");
    assert_eq!(done["context"]["action_alias_ref"]["name"], "greet", "{done:#}");
    assert_eq!(done["context"]["source_channel"], "cli", "{done:#}");
    assert_eq!(done["context"]["user"], USER, "{done:#}");
    assert_eq!(done["context"]["api_user"], "", "{done:#}");
    // A default of the format; the other format of the alias.
    let done = succeeded(&daemon, &started(&cli.run(&["action-alias", "execute", "greet carl"])));
    assert_eq!(done["result"]["stdout"], "hello, carl x2", "{done:#}");
    let done = succeeded(&daemon, &started(&cli.run(&["action-alias", "execute", "say \"good morning\" to dana"])));
    assert_eq!(done["result"]["stdout"], "good morning, dana x1", "{done:#}");

    // A regular expression format, extra key=value pairs, immutable parameters rendered with
    // the context, an array from text split at commas.
    let command = "deploy web to prod version=3 hosts=\"a, b\"";
    let done = succeeded(&daemon, &started(&cli.run(&["action-alias", "execute", command])));
    assert_eq!(done["result"]["stdout"], "deploying web v3 to prod on a+b for -via-cli", "{done:#}");
    assert_eq!(done["parameters"]["hosts"], json!(["a", "b"]), "{done:#}");

    // No format matches: StackStorm's message, and nothing runs.
    let before = daemon.ctl_json(&["execution", "list"]).as_array().map(Vec::len);
    let refused = cli.run(&["action-alias", "execute", "secret plans"]);
    assert!(!refused.status.success());
    let said = format!("{}{}", stdout(&refused), stderr(&refused));
    assert!(said.contains("Command 'secret plans' matched no patterns"), "{said}");
    let refused = cli.run(&["action-alias", "match", "ping pong"]);
    let said = format!("{}{}", stdout(&refused), stderr(&refused));
    assert!(said.contains("Command 'ping pong' matched more than 1 pattern"), "{said}");
    assert_eq!(daemon.ctl_json(&["execution", "list"]).as_array().map(Vec::len), before);
}

#[test]
fn the_python_library_matches_and_executes_and_a_bot_hears_the_results() {
    let python = st2client();
    let home = Home::new();
    let (daemon, port) = start(&home, &python);
    let token = token_header(port);
    let listener = Listener::start(&home, port, &token, "st2.announcement__chatops");

    let script = r#"
import json, sys
from st2client.client import Client
from st2client.models import Token
from st2client.models.action_alias import ActionAliasMatch
from st2client.models.core import Resource
base = sys.argv[1]
token = Client(base_url=base, api_url=base + "/api/v1", auth_url=base + "/auth/v1").tokens.create(
    Token(), auth=(sys.argv[2], sys.argv[3])).token
client = Client(base_url=base, api_url=base + "/api/v1", auth_url=base + "/auth/v1", token=token)
aliases = client.managers["ActionAlias"]
print(json.dumps({"refs": sorted(a.ref for a in aliases.get_all())}))
match = ActionAliasMatch()
match.command = "greet ann"
alias, representation = aliases.match(match)
print(json.dumps({"ref": alias.ref, "representation": representation}))
for command in ["whisper to zed", "greet ann"]:
    payload = Resource()
    payload.command = command
    payload.user = "chat-user"
    payload.source_channel = "general"
    payload.notification_route = "hubot"
    done = client.managers["ActionAliasExecution"].match_and_execute(payload)
    print(json.dumps({"execution": done.execution["id"], "message": getattr(done, "message", None),
                      "extra": getattr(done, "extra", None), "alias": done.actionalias["ref"]}))
"#;
    let base = format!("http://127.0.0.1:{port}");
    let output = Command::new(&python).args(["-c", script, &base, USER, PASSWORD]).output().expect("python runs");
    assert!(output.status.success(), "{}\n{}", stderr(&output), daemon.log());
    let lines: Vec<Value> = stdout(&output).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(lines[0]["refs"].as_array().map(Vec::len), Some(6), "{:#}", lines[0]);
    assert_eq!(lines[1], json!({"ref": "chat.greet", "representation": "greet {{name}} {{count=2}}"}));
    let quiet = lines[2]["execution"].as_str().expect("an id");
    assert_eq!(lines[2]["message"], Value::Null, "no ack format: {:#}", lines[2]);
    let id = lines[3]["execution"].as_str().expect("an id");
    assert_eq!(lines[3]["message"], format!("Greeting ann (chat.greet), execution {id}"), "{:#}", lines[3]);
    let color = lines[3]["extra"]["color"].as_str().unwrap_or_default();
    assert!(["requested", "scheduled", "running"].contains(&color), "{:#}", lines[3]);
    succeeded(&daemon, quiet);
    let done = succeeded(&daemon, id);
    assert_eq!(done["context"]["api_user"], "chat-user", "{done:#}");
    assert_eq!(done["context"]["source_channel"], "general", "{done:#}");

    // The bot hears the result of the alias whose result is enabled, and only that one.
    let heard = listener.wait("st2.announcement__chatops", 1);
    let payload = &heard[0]["payload"];
    assert_eq!(payload["message"], "hello, ann x2 (status succeeded)", "{heard:#?}");
    assert_eq!(payload["channel"], "general", "{heard:#?}");
    assert_eq!(payload["user"], "chat-user", "{heard:#?}");
    assert_eq!(payload["whisper"], false, "{heard:#?}");
    assert_eq!(payload["extra"], json!({"color": "green"}), "{heard:#?}");
    assert!(heard[0].get("trace_context").is_some(), "{heard:#?}");

    // An alias without a result format: StackStorm's default message.
    let json_type = "Content-Type: application/json";
    let url = format!("{base}/api/v1/aliasexecution/match_and_execute");
    let body = r#"{"command": "deploy api to staging", "user": "chat-user", "source_channel": "ops", "notification_route": "errbot"}"#;
    let (status, answer) = curl(&["-H", &token, "-H", json_type, "--data", body, &url]);
    assert_eq!(status, 201, "{answer}");
    let answer: Value = serde_json::from_str(&answer).expect("JSON");
    let id = answer["results"][0]["execution"]["id"].as_str().expect("an id");
    assert_eq!(answer["results"][0]["actionalias"]["ref"], "chat.deploy", "{answer:#}");
    succeeded(&daemon, id);
    let heard = listener.wait("st2.announcement__chatops", 2);
    let message = heard[1]["payload"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Action chat.deploy completed."), "{message}");
    assert!(message.contains("status : succeeded"), "{message}");
    assert!(message.contains(&format!("execution: {id}")), "{message}");
    assert!(message.contains("deploying api v1 to staging"), "{message}");
    assert_eq!(heard[1]["payload"]["channel"], "ops", "{heard:#?}");

    // The announcement runner publishes its parameters on its route.
    let run = daemon.ctl_json(&["run", "chat.post_message", "message=deploys are frozen", "channel=ops"]);
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["result"]["output"], json!({"message": "deploys are frozen", "channel": "ops"}), "{run:#}");
    let heard = listener.wait("st2.announcement__chatops", 3);
    assert_eq!(heard[2]["payload"], json!({"message": "deploys are frozen", "channel": "ops"}), "{heard:#?}");
    // StackStorm's `core.announcement`, on a route of its choosing.
    let run = daemon.ctl_json(&["run", "core.announcement", "route=chatops", r#"message={"text": "hi all"}"#]);
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let heard = listener.wait("st2.announcement__chatops", 4);
    assert_eq!(heard[3]["payload"], json!({"message": {"text": "hi all"}}), "{heard:#?}");
}

#[test]
fn st2ctl_matches_and_executes_aliases_and_bad_input_gets_stackstorms_faults() {
    let python = st2client();
    let home = Home::new();
    let (daemon, port) = start(&home, &python);

    let listed = daemon.refs("alias", Some("chat"));
    assert_eq!(listed.len(), 6, "{listed:?}");
    let matched = daemon.ctl_json(&["alias", "match", "greet bob 3"]);
    assert_eq!(matched["alias"]["ref"], "chat.greet", "{matched:#}");
    assert_eq!(matched["display"], "greet NAME [COUNT]", "{matched:#}");
    assert_eq!(matched["representation"], "greet {{name}} {{count=2}}", "{matched:#}");
    assert_eq!(matched["parameters"], json!([{"name": "bob", "count": "3"}]), "{matched:#}");

    let output = daemon.ctl(&["alias", "execute", "greet erin 4", "--user", "frank"]);
    assert!(output.status.success(), "{}{}", stdout(&output), stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("Matching Action-alias: 'chat.greet'"), "{text}");
    let id = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("st2ctl execution get "))
        .unwrap_or_else(|| panic!("no id in {text}"))
        .trim()
        .to_string();
    assert!(text.contains(&format!("Greeting erin (chat.greet), execution {id}")), "{text}");
    let done = succeeded(&daemon, &id);
    assert_eq!(done["result"]["stdout"], "hello, erin x4", "{done:#}");
    assert_eq!(done["context"]["user"], "frank", "{done:#}");
    assert_eq!(done["context"]["source_channel"], "cli", "{done:#}");

    let refused = daemon.ctl(&["alias", "match", "nothing at all"]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("Command 'nothing at all' matched no patterns"), "{}", stderr(&refused));

    // The REST API's refusals.
    let token = token_header(port);
    let json_type = "Content-Type: application/json";
    let url = |path: &str| format!("http://127.0.0.1:{port}/api/v1{path}");
    let post = |path: &str, body: &str| curl(&["-H", &token, "-H", json_type, "--data", body, &url(path)]);
    let (status, body) = post("/actionalias/match", r#"{"command": "hello donny"}"#);
    assert_eq!((status, faultstring(&body).as_str()), (400, "Command 'hello donny' matched no patterns"));
    let (status, body) = post("/actionalias/match", r#"{"command": "ping pong"}"#);
    assert_eq!((status, faultstring(&body).as_str()), (400, "Command 'ping pong' matched more than 1 pattern"));
    let (status, body) = post("/actionalias/match", r#"{}"#);
    assert_eq!(status, 400, "{body}");
    assert!(faultstring(&body).contains("'command' is a required property"), "{body}");
    let (status, body) = post("/actionalias/match", r#"{"command": "greet ann"}"#);
    assert_eq!(status, 200, "{body}");
    let matched: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(matched["actionalias"]["ref"], "chat.greet", "{matched:#}");
    let (status, body) = post(
        "/aliasexecution",
        r#"{"name": "greet", "format": "some invalid not supported string", "command": "greet ann", "source_channel": "t"}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        faultstring(&body),
        "Format string \"some invalid not supported string\" is not available on the alias \"greet\""
    );
    let (status, body) = post("/aliasexecution", r#"{"format": "x", "command": "y", "source_channel": "t"}"#);
    assert_eq!(status, 400, "{body}");
    assert!(faultstring(&body).contains("'name' is a required property"), "{body}");
    let (status, body) =
        post("/aliasexecution", r#"{"name": " ", "format": "x", "command": "y", "source_channel": "t"}"#);
    assert_eq!((status, faultstring(&body).as_str()), (400, "Alias execution \"name\" is required"));
    let (status, body) =
        post("/aliasexecution", r#"{"name": "nope", "format": "x", "command": "y", "source_channel": "t"}"#);
    assert_eq!((status, faultstring(&body).as_str()), (404, "Unable to identify action alias with name \"nope\"."));
    let (status, body) = post(
        "/aliasexecution",
        r#"{"name": "hidden", "format": "secret {{name}}", "command": "secret x", "source_channel": "t"}"#,
    );
    assert_eq!((status, faultstring(&body).as_str()), (400, "Action alias with name \"hidden\" is disabled."));
    let (status, body) = post(
        "/aliasexecution",
        r#"{"name": "greet", "format": "greet {{name}} {{count=2}}", "command": "hello", "source_channel": "t"}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(faultstring(&body), "Command \"hello\" doesn't match format string \"greet {{name}} {{count=2}}\"");
    let (status, body) = post("/aliasexecution/match_and_execute", r#"{"command": "greet ann"}"#);
    assert_eq!(status, 400, "{body}");
    assert!(faultstring(&body).contains("source_channel"), "{body}");
    // One with its format given: 201 and the ack.
    let (status, body) = post(
        "/aliasexecution",
        r#"{"name": "greet", "format": "greet {{name}} {{count=2}}", "command": "greet gina", "user": "u", "source_channel": "t"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let created: Value = serde_json::from_str(&body).expect("JSON");
    let id = created["execution"]["id"].as_str().expect("an id");
    assert_eq!(created["message"], format!("Greeting gina (chat.greet), execution {id}"), "{created:#}");
    assert_eq!(succeeded(&daemon, id)["result"]["stdout"], "hello, gina x2");

    // Help strings.
    let (status, body) = curl(&["-H", &token, &url("/actionalias/help?filter=COUNT")]);
    assert_eq!(status, 200, "{body}");
    let help: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(help["available"], 1, "{help:#}");
    assert_eq!(
        help["helpstrings"][0],
        json!({"pack": "chat", "display": "greet NAME [COUNT]", "description": "Greets someone"})
    );

    // Aliases are files: the API does not change them.
    let (status, body) = curl(&["-X", "DELETE", "-H", &token, &url("/actionalias/chat.greet")]);
    assert_eq!(status, 405, "{body}");
    let (status, body) = post("/actionalias", r#"{"name": "x", "pack": "chat", "action_ref": "chat.greet"}"#);
    assert_eq!(status, 405, "{body}");
    let (status, body) = curl(&["-H", &token, &url("/actionalias/chat.nope")]);
    assert_eq!(status, 404, "{body}");
    assert!(faultstring(&body).contains("chat.nope"), "{body}");

    // A bot that reloads its commands hears aliases come and go.
    let listener = Listener::start(&home, port, &token, "st2.actionalias__*");
    home.write(
        "packs/chat/aliases/wave.yaml",
        "---\nname: wave\npack: chat\naction_ref: chat.greet\nformats: [\"wave at {{name}}\"]\n",
    );
    assert!(daemon.ctl(&["reload"]).status.success());
    let heard = listener.wait("st2.actionalias__create", 1);
    assert_eq!(heard[0]["ref"], "chat.wave", "{heard:#?}");
    assert_eq!(heard[0]["formats"], json!(["wave at {{name}}"]), "{heard:#?}");
    home.remove("packs/chat/aliases/wave.yaml");
    assert!(daemon.ctl(&["reload"]).status.success());
    let heard = listener.wait("st2.actionalias__delete", 1);
    assert_eq!(heard[0]["ref"], "chat.wave", "{heard:#?}");
    assert!(listener.events("st2.actionalias__update").is_empty());
}
