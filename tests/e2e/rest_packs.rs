//! StackStorm's REST pack endpoints end to end with the real `st2client` 3.9.0: `st2 pack
//! install` of a git repository on file:// (and of a name from the `--index` file), which
//! POSTs `/packs/install` and follows the execution through the stream; `st2 run packs.install
//! packs=X repo_url=...`; `st2 pack remove`, `register`, `search`, `show` and `get`; configs
//! and config schemas read with and without `show_secrets` and written with a bad value (400
//! naming the field, nothing written) and a good one (reloaded); the pack file views and
//! attempts to read files outside the pack. Each is checked against what st2d holds (st2ctl).

use std::path::{Path, PathBuf};

use serde_json::Value;
use st2d_tests::{Daemon, Home, commit, require_git, stderr, stdout, write_file};

use crate::support::rest::{Cli, PASSWORD, USER, curl, faultstring, logged_in, st2client, start_with};

/// A git repository of the `greeter` pack (one action, one rule, a config schema with a
/// secret) at `dir/greeter`, tagged `v1.2.0`.
fn greeter_repo(dir: &Path) -> PathBuf {
    let repo = dir.join("greeter");
    write_file(
        &repo.join("pack.yaml"),
        "---\nref: greeter\nname: greeter\ndescription: says hello\nversion: 1.2.0\nauthor: st2d tests\nkeywords: [hello, greeting]\n",
    );
    write_file(
        &repo.join("actions/hello.yaml"),
        "---\nname: hello\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {default: echo hello}\n",
    );
    write_file(
        &repo.join("rules/on_webhook.yaml"),
        "---\nname: on_webhook\nenabled: true\ntrigger: {type: core.st2.webhook, parameters: {url: greet}}\naction: {ref: greeter.hello}\n",
    );
    write_file(&repo.join("config.schema.yaml"), SCHEMA);
    commit(&repo, "greeter 1.2.0", Some("v1.2.0"));
    repo
}

const SCHEMA: &str = "---\ngreeting: {type: string, default: hi}\napi_key: {type: string, secret: true, required: true}\nretries: {type: integer, default: 3}\n";

fn installed(daemon: &Daemon) -> Vec<String> {
    daemon.refs("pack", None)
}

fn token(cli: &Cli) -> String {
    let auth = cli.json(&["auth", USER, "-p", PASSWORD]);
    format!("X-Auth-Token: {}", auth["token"].as_str().expect("a token"))
}

#[test]
fn st2_pack_install_remove_register_and_search_go_through_the_packs_executions() {
    require_git();
    let python = st2client();
    let home = Home::new();
    let repo = greeter_repo(home.path());
    let url = format!("file://{}", repo.display());
    let index = home.path().join("index.json");
    write_file(
        &index,
        &serde_json::json!({"metadata": {}, "packs": {"greeter": {
            "ref": "greeter", "name": "greeter", "description": "says hello", "keywords": ["hello", "greeting"],
            "version": "1.2.0", "author": "st2d tests", "email": "tests@example.com", "repo_url": url,
            "content": {"actions": {"count": 1, "resources": ["hello"]}, "rules": {"count": 1, "resources": ["on_webhook"]}}
        }}})
        .to_string(),
    );
    let (daemon, port) = start_with(&home, &python, &["--index", &index.display().to_string()]);
    let cli = logged_in(&home, &python, port);

    // `st2 pack install URL`: the execution is followed to its end, then the pack is shown.
    let install = cli.run(&["pack", "install", &url]);
    assert!(install.status.success(), "{}{}\n{}", stdout(&install), stderr(&install), daemon.log());
    let printed = stdout(&install);
    for shown in ["greeter", "says hello", "1.2.0", "st2d tests"] {
        assert!(printed.contains(shown), "{shown} missing from:\n{printed}");
    }
    // The install's stages, printed as they finish (StackStorm's install workflow's task names).
    let plain = without_colours(&printed);
    for stage in ["download_pack", "get_pack_dependencies", "install_pack_requirements", "register_pack"] {
        assert!(plain.contains(&format!("[ succeeded ] {stage}")), "stage {stage} missing from:\n{plain}");
    }
    assert!(installed(&daemon).contains(&"greeter".to_string()));
    let runs = daemon.ctl_json(&["execution", "list"]);
    let run =
        runs.as_array().expect("a list").iter().find(|e| e["action"]["ref"] == "packs.install").expect("an install");
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["context"]["user"], USER, "the install acts as the caller: {run:#}");
    assert_eq!(run["parameters"]["packs"], serde_json::json!([url]), "{run:#}");
    assert_eq!(cli.json(&["pack", "get", "greeter"])["version"], "1.2.0");

    // `st2 pack remove`: gone from st2d, and the removed pack is shown.
    let remove = cli.run(&["pack", "remove", "greeter"]);
    assert!(remove.status.success(), "{}{}", stdout(&remove), stderr(&remove));
    assert!(stdout(&remove).contains("greeter"), "{}", stdout(&remove));
    assert!(!installed(&daemon).contains(&"greeter".to_string()));
    assert!(!home.packs().join("greeter").exists());

    // The older form, `st2 run packs.install packs=X repo_url=URL`.
    let run = cli.json(&["run", "packs.install", "packs=greeter", &format!("repo_url={url}")]);
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["result"]["output"]["packs_list"], serde_json::json!(["greeter"]), "{run:#}");
    assert!(run["result"]["stdout"].as_str().is_some_and(|s| s.contains("Placed greeter 1.2.0")), "{run:#}");
    assert!(installed(&daemon).contains(&"greeter".to_string()));

    // By name, through the index: the content counts from the index are printed first.
    let remove = cli.run(&["pack", "remove", "greeter"]);
    assert!(remove.status.success(), "{}{}", stdout(&remove), stderr(&remove));
    let install = cli.run(&["pack", "install", "greeter"]);
    assert!(install.status.success(), "{}{}\n{}", stdout(&install), stderr(&install), daemon.log());
    let printed = stdout(&install);
    assert!(printed.contains("For the \"greeter\" pack, the following content will be registered"), "{printed}");
    assert!(printed.contains("actions   |  1") && printed.contains("rules     |  1"), "{printed}");
    let held = daemon.ctl_json(&["pack", "get", "greeter"]);
    assert_eq!(held["version"], "1.2.0");
    assert!(!held["registered"].as_array().expect("kinds").contains(&Value::from("rules")), "{held:#}");

    // A failed install: the execution's error is printed and the exit code is 1.
    let failed = cli.run(&["pack", "install", &format!("file://{}/missing", home.path().display())]);
    assert_eq!(failed.status.code(), Some(1), "{}{}", stdout(&failed), stderr(&failed));
    assert!(stdout(&failed).contains("failed") && stdout(&failed).contains("missing"), "{}", stdout(&failed));

    // `st2 pack register`: StackStorm's counts; asking for rules registers the pack's rule.
    let counts = cli.json(&["pack", "register", "greeter", "--types", "rule"]);
    assert_eq!(counts["rules"], 1, "{counts:#}");
    assert_eq!(counts["rule_types"], 2, "{counts:#}");
    assert!(counts.get("actions").is_none(), "only what was asked: {counts:#}");
    let held = daemon.ctl_json(&["pack", "get", "greeter"]);
    assert!(held["registered"].as_array().expect("kinds").contains(&Value::from("rules")), "{held:#}");
    assert!(daemon.refs("rule", Some("greeter")).contains(&"greeter.on_webhook".to_string()));
    let counts = cli.json(&["pack", "register"]);
    assert_eq!(counts["actions"], 1, "{counts:#}");
    assert!(counts["runners"].as_u64().is_some_and(|n| n > 0), "{counts:#}");
    let unknown = cli.run(&["pack", "register", "nope"]);
    assert!(!unknown.status.success());
    assert!(stdout(&unknown).contains("nope"), "{}{}", stdout(&unknown), stderr(&unknown));

    // The index: search, show, health.
    let found = cli.json(&["pack", "search", "GREET"]);
    assert_eq!(found[0]["name"], "greeter", "{found:#}");
    let nothing = cli.run(&["pack", "search", "nothing-like-it"]);
    assert!(stdout(&nothing).contains("No matching items found"), "{}{}", stdout(&nothing), stderr(&nothing));
    let shown = cli.json(&["pack", "show", "greeter"]);
    assert_eq!(shown["repo_url"], url.as_str(), "{shown:#}");
    let api = |path: &str| format!("http://127.0.0.1:{port}/api/v1{path}");
    let header = token(&cli);
    let (status, body) = curl(&["-H", &header, &api("/packs/index/health")]);
    assert_eq!(status, 200, "{body}");
    let health: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!((health["indexes"]["valid"].as_u64(), health["packs"]["count"].as_u64()), (Some(1), Some(1)), "{body}");

    // The raw API: 202 with the execution's id, for install and uninstall.
    let json = "Content-Type: application/json";
    let (status, body) =
        curl(&["-H", &header, "-H", json, "--data", r#"{"packs": ["greeter"]}"#, &api("/packs/uninstall")]);
    assert_eq!(status, 202, "{body}");
    let id = serde_json::from_str::<Value>(&body).expect("JSON")["execution_id"].as_str().expect("an id").to_string();
    daemon.wait_json("the uninstall", &["execution", "get", &id], |e| e["status"] == "succeeded");
    assert!(!installed(&daemon).contains(&"greeter".to_string()));
    let (status, body) = curl(&[
        "-H",
        &header,
        "-H",
        json,
        "--data",
        &format!(r#"{{"packs": ["{url}"], "force": true, "python3": true}}"#),
        &api("/packs/install"),
    ]);
    assert_eq!(status, 202, "{body}");
    let id = serde_json::from_str::<Value>(&body).expect("JSON")["execution_id"].as_str().expect("an id").to_string();
    let done = daemon.wait_json("the install", &["execution", "get", &id], |e| e["status"] == "succeeded");
    assert_eq!(done["parameters"]["force"], true, "{done:#}");
    assert!(installed(&daemon).contains(&"greeter".to_string()));
    let (status, body) =
        curl(&["-H", &header, "-H", json, "--data", r#"{"packs": "greeter"}"#, &api("/packs/install")]);
    assert_eq!(status, 400, "{body}");
    assert!(faultstring(&body).contains("field \"packs\""), "{body}");
}

#[test]
fn configs_schemas_and_pack_files_through_the_api() {
    let python = st2client();
    let home = Home::new();
    home.write(
        "packs/greeter/pack.yaml",
        "---\nref: greeter\nname: greeter\ndescription: says hello\nversion: 1.2.0\nauthor: st2d tests\n",
    );
    home.write("packs/greeter/config.schema.yaml", SCHEMA);
    home.write(
        "packs/greeter/actions/hello.yaml",
        "---\nname: hello\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {default: echo hello}\n",
    );
    home.write("packs/greeter/actions/hello.pyc", "compiled");
    home.write("packs/plain/pack.yaml", &st2d_tests::pack_yaml("plain", "no config"));
    home.write("configs/greeter.yaml", "---\napi_key: s3cret\n");
    home.write("outside.txt", "not for the API\n");
    std::os::unix::fs::symlink(home.path().join("outside.txt"), home.packs().join("greeter/leak.txt"))
        .expect("symlink");
    let (daemon, port) = start_with(&home, &python, &[]);
    let cli = logged_in(&home, &python, port);
    let header = token(&cli);
    let api = |path: &str| format!("http://127.0.0.1:{port}/api/v1{path}");
    let get = |path: &str| -> (u16, Value) {
        let (status, body) = curl(&["-H", &header, &api(path)]);
        (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {body}")))
    };

    // Schemas.
    let (status, schemas) = get("/config_schemas");
    assert_eq!(status, 200);
    let packs: Vec<&str> = schemas.as_array().expect("a list").iter().filter_map(|s| s["pack"].as_str()).collect();
    assert!(packs.contains(&"greeter") && !packs.contains(&"plain"), "{schemas:#}");
    let (status, schema) = get("/config_schemas/greeter");
    assert_eq!(status, 200);
    assert_eq!(schema["attributes"]["api_key"]["secret"], true, "{schema:#}");
    assert_eq!(get("/config_schemas/plain").0, 404);
    assert_eq!(get("/config_schemas/nope").0, 404);

    // Configs: the secret masked as StackStorm masks it, unless asked.
    let (status, config) = get("/configs/greeter");
    assert_eq!(status, 200);
    assert_eq!(config["values"]["api_key"], "********", "{config:#}");
    assert_eq!(config["values"]["retries"], 3, "defaults are filled: {config:#}");
    assert_eq!(get("/configs/greeter?show_secrets=true").1["values"]["api_key"], "s3cret");
    let (_, configs) = get("/configs");
    assert_eq!(configs.as_array().map(Vec::len), Some(1), "{configs:#}");
    assert_eq!(configs[0]["values"]["api_key"], "********");
    assert_eq!(get("/configs?show_secrets=true").1[0]["values"]["api_key"], "s3cret");
    assert_eq!(get("/configs/plain").0, 404);

    // A bad value: 400 naming the field, and the file is left alone.
    let file = home.path().join("configs/greeter.yaml");
    let before = std::fs::read_to_string(&file).expect("the config");
    let put = |values: &str| {
        curl(&[
            "-X",
            "PUT",
            "-H",
            &header,
            "-H",
            "Content-Type: application/json",
            "--data",
            values,
            &api("/configs/greeter"),
        ])
    };
    let (status, body) = put(r#"{"api_key": "n3w", "retries": "many"}"#);
    assert_eq!(status, 400, "{body}");
    assert!(faultstring(&body).contains("retries"), "{body}");
    assert_eq!(std::fs::read_to_string(&file).expect("the config"), before);
    let (status, body) = put(r#"{"retries": 5}"#);
    assert_eq!(status, 400, "the required key is missing: {body}");
    assert!(faultstring(&body).contains("api_key"), "{body}");
    assert_eq!(std::fs::read_to_string(&file).expect("the config"), before);

    // A good one: written, reloaded, masked in the answer.
    let (status, body) = put(r#"{"api_key": "n3w", "retries": 5}"#);
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        (answer["values"]["api_key"].as_str(), answer["values"]["retries"].as_u64()),
        (Some("********"), Some(5))
    );
    assert!(std::fs::read_to_string(&file).expect("the config").contains("retries: 5"));
    let held = daemon.ctl_json(&["pack", "get", "greeter"]);
    assert_eq!(held["config"]["retries"], 5, "{held:#}");
    assert_eq!(get("/configs/greeter?show_secrets=true").1["values"]["api_key"], "n3w");

    // The files of a pack, and one file.
    let (status, files) = get("/packs/views/files/greeter");
    assert_eq!(status, 200);
    let paths: Vec<&str> = files.as_array().expect("a list").iter().filter_map(|f| f["file_path"].as_str()).collect();
    assert_eq!(paths, ["actions/hello.yaml", "config.schema.yaml", "pack.yaml"], "{files:#}");
    assert!(files[2]["content"].as_str().is_some_and(|c| c.contains("says hello")));
    let (status, body) = curl(&["-H", &header, &api("/packs/views/file/greeter/actions/hello.yaml")]);
    assert_eq!(status, 200);
    assert!(body.contains("runner_type: local-shell-cmd"), "{body}");
    let headers = std::process::Command::new("curl")
        .args(["-s", "-D", "-", "-o", "/dev/null", "-H", &header, &api("/packs/views/file/greeter/pack.yaml")])
        .output()
        .expect("curl runs");
    let headers = stdout(&headers);
    let etag = headers
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("etag: ").map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("no ETag in {headers}"));
    let (status, _) =
        curl(&["-H", &header, "-H", &format!("If-None-Match: {etag}"), &api("/packs/views/file/greeter/pack.yaml")]);
    assert_eq!(status, 304);

    // Out of the pack: refused, and nothing of the file outside is sent.
    for path in ["../../outside.txt", "%2e%2e/%2e%2e/outside.txt", "actions/../../../outside.txt", "/etc/passwd"] {
        let (status, body) = curl(&["--path-as-is", "-H", &header, &api(&format!("/packs/views/file/greeter/{path}"))]);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(faultstring(&body).contains("Invalid file path"), "{path}: {body}");
    }
    let (status, body) = curl(&["-H", &header, &api("/packs/views/file/greeter/leak.txt")]);
    assert_eq!(status, 404, "a symlink out of the pack: {body}");
    assert!(!body.contains("not for the API"));
    assert_eq!(curl(&["-H", &header, &api("/packs/views/file/greeter/nope.yaml")]).0, 404);
    assert_eq!(curl(&["-H", &header, &api("/packs/views/files/nope")]).0, 404);

    // Without an index, StackStorm's answers for an index that yields nothing.
    let (status, body) = curl(&[
        "-H",
        &header,
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"query": "hello"}"#,
        &api("/packs/index/search"),
    ]);
    assert_eq!(status, 400, "{body}");
    assert!(faultstring(&body).starts_with("No results from the indexes"), "{body}");
    let (status, health) = get("/packs/index/health");
    assert_eq!((status, health["indexes"]["count"].as_u64()), (200, Some(0)), "{health:#}");
}

/// `text` without the terminal's colour sequences (`ESC [ ... m`).
fn without_colours(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for skipped in chars.by_ref() {
                if skipped == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}
