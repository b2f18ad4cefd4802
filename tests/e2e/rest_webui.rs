//! What StackStorm's web UI and the `st2` CLI's execution commands call, end to end: st2web's
//! static build served from `--webui-dir`, the action views (merged parameters, entry point
//! source), the history's filter values, the session cookie a browser's `EventSource` sends,
//! CORS preflights, `st2 execution pause|resume|re-run`, `timestamp_gt`, the raw result and one
//! attribute of an execution, and `ctx(st2).api_url` naming the API in a workflow.

use std::process::Command;

use serde_json::Value;
use st2d_tests::{Daemon, Home, stdout};

use crate::support::rest::{Cli, PASSWORD, USER, logged_in, st2client, start_with, started};

const UI_ORIGIN: &str = "http://ui.example";

/// A request with curl: (status, headers, body).
fn http(args: &[&str]) -> (u16, String, String) {
    let output = Command::new("curl")
        .args(["-s", "-i", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs (apt-get install curl)");
    let text = stdout(&output);
    let (response, status) = text.rsplit_once('\n').expect("curl printed the status");
    let (headers, body) = response.split_once("\r\n\r\n").unwrap_or((response, ""));
    (status.trim().parse().expect("an HTTP status"), headers.to_ascii_lowercase(), body.to_string())
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

struct Setup {
    _home: Home,
    daemon: Daemon,
    port: u16,
    token: String,
    cli: Cli,
}

impl Setup {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn get(&self, path: &str) -> (u16, String, String) {
        http(&["-H", &format!("X-Auth-Token: {}", self.token), &self.url(path)])
    }
}

fn start() -> Setup {
    let python = st2client();
    let home = Home::new();
    home.write("webui/index.html", "<!doctype html><title>st2web</title>\n");
    home.write("webui/config.js", "window.st2constants = {st2Config: {hosts: [{name: 'st2d', url: '/api', auth: '/auth', stream: '/stream'}]}};\n");
    home.write("packs/flows/pack.yaml", &st2d_tests::pack_yaml("flows", "workflows for the web UI"));
    home.write(
        "packs/flows/actions/hello.yaml",
        "---\nname: hello\nrunner_type: python-script\nentry_point: hello.py\nparameters:\n  name: {type: string, default: world}\n",
    );
    home.write(
        "packs/flows/actions/hello.py",
        "from st2common.runners.base_action import Action\n\n\nclass Hello(Action):\n    def run(self, name):\n        return 'hello ' + name\n",
    );
    home.write(
        "packs/flows/actions/slow.yaml",
        "---\nname: slow\nrunner_type: orquesta\nentry_point: workflows/slow.yaml\n",
    );
    home.write(
        "packs/flows/actions/workflows/slow.yaml",
        "version: 1.0\ntasks:\n  first:\n    action: core.local cmd=\"sleep 2\"\n    next:\n      - when: <% succeeded() %>\n        do: second\n  second:\n    action: core.noop\noutput:\n  - api_url: <% ctx(st2).api_url %>\n",
    );
    let webui = home.path().join("webui").display().to_string();
    let (daemon, port) = start_with(&home, &python, &["--webui-dir", &webui, "--http-allow-origin", UI_ORIGIN]);
    let login_url = format!("http://127.0.0.1:{port}/auth/v1/tokens");
    let (status, _, body) = http(&["-X", "POST", "-u", &format!("{USER}:{PASSWORD}"), &login_url]);
    assert_eq!(status, 201, "{body}");
    let token = json(&body)["token"].as_str().expect("a token").to_string();
    let cli = logged_in(&home, &python, port);
    Setup { _home: home, daemon, port, token, cli }
}

#[test]
fn the_web_ui_is_served_with_its_views_a_session_cookie_and_cors() {
    let setup = start();

    // st2web's build, without credentials (as behind StackStorm's nginx).
    let (status, headers, body) = http(&[&setup.url("/")]);
    assert_eq!(status, 200, "{headers}{body}");
    assert!(body.contains("<title>st2web</title>"), "{body}");
    assert!(headers.contains("content-type: text/html"), "{headers}");
    let (status, _, body) = http(&[&setup.url("/config.js")]);
    assert_eq!(status, 200);
    assert!(body.contains("st2Config"), "{body}");
    let (status, _, _) = http(&[&setup.url("/no-such-file.js")]);
    assert_eq!(status, 404);
    // The API behind it still needs credentials.
    let (status, _, body) = http(&[&setup.url("/api/v1/actions/views/overview")]);
    assert_eq!(status, 401, "{body}");

    // The action views: the runner's parameters merged with the action's, and its source.
    let (status, headers, body) = setup.get("/api/v1/actions/views/overview/core.local");
    assert_eq!(status, 200, "{body}");
    let local = json(&body);
    assert_eq!(local["ref"], "core.local");
    let parameters = local["parameters"].as_object().expect("parameters");
    for name in ["cmd", "sudo", "timeout", "cwd", "env"] {
        assert!(parameters.contains_key(name), "{name} from the runner: {parameters:?}");
    }
    assert_eq!(local["parameters"]["cmd"]["required"], true, "{local:#}");
    // A token sent in a header comes back as the session cookie.
    let cookie_line = headers
        .lines()
        .find(|l| l.starts_with("set-cookie: auth-token="))
        .unwrap_or_else(|| panic!("a session cookie: {headers}"));
    assert!(cookie_line.contains("httponly") && cookie_line.contains("max-age="), "{cookie_line}");
    let (status, _, body) = setup.get("/api/v1/actions/views/overview?pack=flows");
    assert_eq!(status, 200, "{body}");
    let refs: Vec<String> =
        json(&body).as_array().expect("a list").iter().filter_map(|a| a["ref"].as_str().map(String::from)).collect();
    assert_eq!(refs, ["flows.hello", "flows.slow"]);
    let (status, _, body) = setup.get("/api/v1/actions/views/parameters/flows.hello");
    assert_eq!(status, 200, "{body}");
    let merged = json(&body);
    assert_eq!(merged["parameters"]["name"]["default"], "world", "{merged:#}");
    assert!(merged["parameters"]["timeout"].is_object(), "the runner's timeout: {merged:#}");
    let (status, headers, body) = setup.get("/api/v1/actions/views/entry_point/flows.hello");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("class Hello(Action):"), "{body}");
    assert!(headers.contains("content-type: text/x-python"), "{headers}");
    let (status, _, body) = setup.get("/api/v1/actions/views/entry_point/core.noop");
    assert_eq!(status, 404, "no entry point: {body}");
    let (status, _, body) = setup.get("/api/v1/actions/views/overview/flows.nothing");
    assert_eq!(status, 404, "{body}");

    // The cookie alone admits a request (what a browser's EventSource sends); a forged one not.
    let run = setup.cli.json(&["run", "core.local", "cmd=echo cookie"]);
    let id = run["id"].as_str().expect("an id");
    let cookie = format!("Cookie: auth-token={}", setup.token);
    let (status, _, body) = http(&["-H", &cookie, &setup.url(&format!("/api/v1/executions/{id}"))]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["result"]["stdout"], "cookie");
    let (status, _, body) = http(&["-H", "Cookie: auth-token=forged", &setup.url("/api/v1/executions")]);
    assert_eq!(status, 401, "{body}");

    // The history's filter values.
    let (status, _, body) = setup.get("/api/v1/executions/views/filters");
    assert_eq!(status, 200, "{body}");
    let filters = json(&body);
    assert!(filters["action"].as_array().expect("actions").contains(&Value::from("core.local")), "{filters:#}");
    assert!(filters["user"].as_array().expect("users").contains(&Value::from(USER)), "{filters:#}");
    assert_eq!(filters["status"], serde_json::json!(["succeeded"]), "{filters:#}");
    let (status, _, body) = setup.get("/api/v1/executions/views/filters?types=runner");
    assert_eq!(json(&body), serde_json::json!({"runner": ["local-shell-cmd"]}), "{status} {body}");
    let (status, _, body) = setup.get("/api/v1/executions/views/filters?types=colour");
    assert_eq!(status, 400, "{body}");
    assert!(json(&body)["faultstring"].as_str().expect("a faultstring").contains("colour"), "{body}");

    // CORS: a preflight answers before the gate; an origin not admitted gets the admitted one.
    let preflight = |origin: &str| {
        http(&[
            "-X",
            "OPTIONS",
            "-H",
            &format!("Origin: {origin}"),
            "-H",
            "Access-Control-Request-Method: GET",
            &setup.url("/api/v1/executions"),
        ])
    };
    let (status, headers, _) = preflight(UI_ORIGIN);
    assert_eq!(status, 200, "{headers}");
    assert!(headers.contains(&format!("access-control-allow-origin: {UI_ORIGIN}")), "{headers}");
    assert!(headers.contains("access-control-allow-headers: content-type,authorization,x-auth-token"), "{headers}");
    assert!(headers.contains("access-control-expose-headers: content-type,x-limit,x-total-count"), "{headers}");
    let (_, headers, _) = preflight("http://evil.example");
    assert!(headers.contains(&format!("access-control-allow-origin: {UI_ORIGIN}")), "{headers}");
    let (status, headers, _) =
        http(&["-H", &format!("Origin: {UI_ORIGIN}"), "-H", &cookie, &setup.url("/api/v1/executions?limit=1")]);
    assert_eq!(status, 200);
    assert!(headers.contains(&format!("access-control-allow-origin: {UI_ORIGIN}")), "{headers}");
    assert!(headers.contains("access-control-allow-credentials: true"), "{headers}");
}

#[test]
fn the_st2_cli_pauses_resumes_and_re_runs_and_a_workflow_knows_the_api_url() {
    let setup = start();
    let cli = &setup.cli;
    let daemon = &setup.daemon;

    // Pause and resume a workflow (PUT /executions/{id} with a status).
    let id = started(&cli.run(&["run", "flows.slow", "-a"]));
    daemon.wait_json("the workflow to run", &["execution", "get", &id], |e| e["status"] == "running");
    let paused = cli.json(&["execution", "pause", &id]);
    assert!(paused["status"] == "pausing" || paused["status"] == "paused", "{paused:#}");
    daemon.wait_json("the workflow to pause", &["execution", "get", &id], |e| e["status"] == "paused");
    let resumed = cli.json(&["execution", "resume", &id]);
    assert!(resumed["status"] == "resuming" || resumed["status"] == "running", "{resumed:#}");
    let done = daemon.wait_json("the workflow to finish", &["execution", "get", &id], |e| e["status"] == "succeeded");
    let api_url = format!("http://127.0.0.1:{}/api/v1", setup.port);
    assert_eq!(done["result"]["output"]["api_url"], api_url.as_str(), "{done:#}");

    // A completed execution's status cannot be changed; an unknown status is refused by name.
    let put = |status: &str| {
        http(&[
            "-X",
            "PUT",
            "-H",
            &format!("X-Auth-Token: {}", setup.token),
            "-H",
            "Content-Type: application/json",
            "-d",
            &format!("{{\"status\": \"{status}\"}}"),
            &setup.url(&format!("/api/v1/executions/{id}")),
        ])
    };
    let (status, _, body) = put("pausing");
    assert_eq!(status, 400, "{body}");
    assert_eq!(json(&body)["faultstring"], "Execution is already in completed state.");

    // Re-run with a parameter changed.
    let first = cli.json(&["run", "core.local", "cmd=echo one"]);
    let first_id = first["id"].as_str().expect("an id");
    let again = cli.json(&["execution", "re-run", first_id, "cmd=echo two"]);
    let again_id = again["id"].as_str().expect("an id").to_string();
    assert_ne!(again_id, first_id);
    let again =
        daemon.wait_json("the re-run to finish", &["execution", "get", &again_id], |e| e["status"] == "succeeded");
    assert_eq!(again["result"]["stdout"], "two", "{again:#}");
    assert_eq!(again["context"]["re-run"]["ref"], first_id, "{again:#}");
    let (status, _, _) = http(&[
        "-X",
        "POST",
        "-H",
        &format!("X-Auth-Token: {}", setup.token),
        "-d",
        r#"{"tasks": "first"}"#,
        &setup.url(&format!("/api/v1/executions/{id}/re_run")),
    ]);
    assert_eq!(status, 400, "tasks must be a list");

    // `timestamp_gt`: only what started after the first run.
    let started = first["start_timestamp"].as_str().expect("a start time");
    let (status, _, body) = setup.get(&format!("/api/v1/executions?timestamp_gt={started}"));
    assert_eq!(status, 200, "{body}");
    let listed = json(&body);
    let listed_ids: Vec<&str> = listed.as_array().expect("a list").iter().filter_map(|e| e["id"].as_str()).collect();
    assert!(listed_ids.contains(&again_id.as_str()) && !listed_ids.contains(&first_id), "{listed_ids:?}");
    let (status, _, body) = setup.get("/api/v1/executions?timestamp_lt=yesterday");
    assert_eq!(status, 400, "{body}");
    assert!(json(&body)["faultstring"].as_str().expect("a faultstring").contains("timestamp_lt"), "{body}");

    // The raw result and one attribute.
    let (status, _, body) = setup.get(&format!("/api/v1/executions/{again_id}/result"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["stdout"], "two");
    let (status, _, body) = setup.get(&format!("/api/v1/executions/{again_id}/attribute/status"));
    assert_eq!((status, json(&body)), (200, Value::from("succeeded")));
    let (status, _, body) = setup.get(&format!("/api/v1/executions/{again_id}/attribute/colour"));
    assert_eq!(status, 400, "{body}");
}
