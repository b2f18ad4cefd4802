//! Live reload: changes to pack files show through st2ctl without a restart.

use st2d_tests::{Daemon, Home, pack_yaml, write_file, write_sample_pack};

#[test]
fn adding_a_pack_shows_its_content() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    assert!(daemon.refs("action", Some("demo")).is_empty());
    write_sample_pack(&home.packs(), "demo", "demo");
    daemon.wait_json("the new pack's action", &["action", "list", "--pack", "demo"], |v| {
        v.as_array().is_some_and(|a| a.len() == 1)
    });
    assert_eq!(daemon.refs("trigger", Some("demo")), ["demo.event"]);
    assert_eq!(daemon.refs("sensor", Some("demo")), ["demo.Watcher"]);
    assert_eq!(daemon.refs("rule", Some("demo")), ["demo.on_event"]);
}

#[test]
fn editing_an_action_shows_the_new_version() {
    let home = Home::new();
    write_sample_pack(&home.packs(), "demo", "demo");
    let daemon = Daemon::start(&home, &[]);
    home.write(
        "packs/demo/actions/hello.yaml",
        "---\nname: hello\nrunner_type: local-shell-cmd\ndescription: says hello, edited\n",
    );
    daemon.wait_json("the edited description", &["action", "get", "demo.hello"], |v| {
        v["description"] == "says hello, edited"
    });
}

#[test]
fn deleting_a_rule_file_removes_the_rule() {
    let home = Home::new();
    write_sample_pack(&home.packs(), "demo", "demo");
    let daemon = Daemon::start(&home, &[]);
    assert_eq!(daemon.refs("rule", Some("demo")), ["demo.on_event"]);
    home.remove("packs/demo/rules/on_event.yaml");
    daemon.wait_json("the rule to go", &["rule", "list", "--pack=demo"], |v| v.as_array().is_some_and(Vec::is_empty));
}

#[test]
fn renaming_a_pack_directory_keeps_the_pack() {
    let home = Home::new();
    write_sample_pack(&home.packs(), "demo", "demo");
    // A pack without `ref` takes its directory's name.
    write_file(
        &home.packs().join("old_name/pack.yaml"),
        "name: Renamed Pack\ndescription: d\nversion: 1.0.0\nauthor: a\n",
    );
    let daemon = Daemon::start(&home, &[]);
    daemon.wait_json("pack old_name", &["pack", "get", "old_name"], |v| v["status"] == "ok");
    std::fs::rename(home.packs().join("demo"), home.packs().join("demo_renamed")).expect("rename");
    std::fs::rename(home.packs().join("old_name"), home.packs().join("new_name")).expect("rename");
    daemon.wait_json("the renamed packs", &["pack", "list"], |v| {
        let paths: Vec<&str> = v.as_array().into_iter().flatten().filter_map(|p| p["path"].as_str()).collect();
        let refs: Vec<&str> = v.as_array().into_iter().flatten().filter_map(|p| p["ref"].as_str()).collect();
        paths.iter().any(|p| p.ends_with("/demo_renamed")) && refs.contains(&"new_name") && !refs.contains(&"old_name")
    });
    assert_eq!(daemon.refs("action", Some("demo")), ["demo.hello"], "the pack keeps its ref from pack.yaml");
}

#[test]
fn replacing_a_pack_wholesale_shows_the_new_content() {
    let home = Home::new();
    write_sample_pack(&home.packs(), "demo", "demo");
    let daemon = Daemon::start(&home, &[]);
    // As `cp -r` of a new version over a removed one.
    home.remove("packs/demo");
    let staging = home.path().join("staging");
    write_file(&staging.join("demo/pack.yaml"), &pack_yaml("demo", "second version"));
    write_file(&staging.join("demo/actions/second.yaml"), "name: second\nrunner_type: noop\n");
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(staging.join("demo"))
        .arg(home.packs())
        .status()
        .expect("cp runs");
    assert!(status.success());
    daemon.wait_json("the copied version", &["action", "list", "--pack", "demo"], |v| {
        v.as_array().is_some_and(|a| a.len() == 1 && a[0]["ref"] == "demo.second")
    });
    // As a `git checkout`-style swap: a complete new directory moved into place.
    write_file(&staging.join("v3/pack.yaml"), &pack_yaml("demo", "third version"));
    for i in 0..20 {
        write_file(&staging.join(format!("v3/actions/a{i}.yaml")), &format!("name: a{i}\nrunner_type: noop\n"));
    }
    std::fs::rename(home.packs().join("demo"), staging.join("old")).expect("move the old version out");
    std::fs::rename(staging.join("v3"), home.packs().join("demo")).expect("move the new version in");
    daemon.wait_json("the moved-in version", &["pack", "get", "demo"], |v| {
        v["description"] == "third version" && v["actions"] == 20
    });
}

#[test]
fn a_directory_created_with_files_at_once_is_read_whole() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let pack = home.packs().join("burst");
    std::fs::create_dir_all(pack.join("actions")).expect("mkdir");
    for i in 0..50 {
        std::fs::write(pack.join(format!("actions/a{i}.yaml")), format!("name: a{i}\nrunner_type: noop\n"))
            .expect("write");
    }
    std::fs::write(pack.join("pack.yaml"), pack_yaml("burst", "made in a burst")).expect("write");
    daemon.wait_json("all 50 actions", &["action", "list", "--pack", "burst"], |v| {
        v.as_array().is_some_and(|a| a.len() == 50)
    });
}

#[test]
fn a_broken_edit_keeps_the_last_good_version_until_fixed() {
    let home = Home::new();
    write_sample_pack(&home.packs(), "demo", "demo");
    let daemon = Daemon::start(&home, &[]);
    home.write(
        "packs/demo/actions/hello.yaml",
        "---\nname: hello\nrunner_type: local-shell-cmd\nparameters:\n  cmd: [unclosed\n",
    );
    let pack = daemon.wait_json("the error on the pack", &["pack", "get", "demo"], |v| v["status"] == "degraded");
    let error = &pack["errors"][0];
    assert_eq!(error["file"], "actions/hello.yaml");
    assert!(error["line"].as_u64().is_some_and(|l| l >= 5), "{error}");
    assert!(error["message"].as_str().is_some_and(|m| m.contains("invalid YAML")), "{error}");
    assert_eq!(error["kept_last_good"], true);
    let action = daemon.ctl_json(&["action", "get", "demo.hello"]);
    assert_eq!(action["description"], "says hello", "the previous version stays listed");
    // A broken pack.yaml keeps the whole pack.
    home.write("packs/demo/pack.yaml", "name: demo\nversion: [\n");
    daemon.wait_json("the pack.yaml error", &["pack", "get", "demo"], |v| {
        v["errors"].as_array().is_some_and(|e| e.iter().any(|e| e["file"] == "pack.yaml"))
    });
    assert_eq!(daemon.refs("action", Some("demo")), ["demo.hello"]);
    // Fixing both clears the errors.
    write_sample_pack(&home.packs(), "demo", "demo");
    let pack = daemon.wait_json("the errors to clear", &["pack", "get", "demo"], |v| v["status"] == "ok");
    assert_eq!(pack["errors"], serde_json::json!([]));
}

#[test]
fn editing_a_pack_config_shows_the_new_values() {
    let home = Home::new();
    write_sample_pack(&home.packs(), "demo", "demo");
    home.write(
        "packs/demo/config.schema.yaml",
        "region:\n  type: string\n  default: eu\ntoken:\n  type: string\n  secret: true\n",
    );
    let daemon = Daemon::start(&home, &[]);
    daemon.wait_json("the default config", &["pack", "get", "demo"], |v| v["config"]["region"] == "eu");
    home.write("configs/demo.yaml", "region: us\ntoken: hunter2\n");
    let pack = daemon.wait_json("the new config", &["pack", "get", "demo"], |v| v["config"]["region"] == "us");
    assert_eq!(pack["config"]["token"], "********", "secrets are masked");
}

#[test]
fn a_pack_written_while_the_daemon_starts_is_not_missed() {
    let home = Home::new();
    let daemon = Daemon::spawn(&home, &[], &[]);
    write_sample_pack(&home.packs(), "early", "early");
    daemon.wait_json("the pack written during start-up", &["action", "list", "--pack", "early"], |v| {
        v.as_array().is_some_and(|a| a.len() == 1)
    });
}
