//! The CLIs against a real daemon: output shapes, `st2` spelling, errors.

use st2d_tests::{Daemon, Home, bins, write_sample_pack};

#[test]
fn no_daemon_is_one_line_and_exit_status_one() {
    let home = Home::new();
    for binary in [&bins().st2ctl, &bins().st2] {
        let output =
            std::process::Command::new(binary).arg("--home").arg(home.path()).arg("status").output().expect("runs");
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("no st2d daemon"), "{stderr}");
    }
}

#[test]
fn json_output_carries_the_documented_fields() {
    let home = Home::new();
    write_sample_pack(&home.packs(), "demo", "demo");
    let daemon = Daemon::start(&home, &[]);
    let actions = daemon.ctl_json(&["action", "list", "--pack", "demo"]);
    let action = &actions[0];
    for field in ["ref", "pack", "description", "runner_type", "enabled"] {
        assert!(action.get(field).is_some(), "action lacks {field}: {action}");
    }
    assert_eq!(action["parameters"]["cmd"]["default"], "echo hello", "parameters are decoded JSON");
    let rule = &daemon.ctl_json(&["rule", "list", "--pack", "demo"])[0];
    for field in ["ref", "pack", "description", "enabled", "registered", "trigger", "action"] {
        assert!(rule.get(field).is_some(), "rule lacks {field}: {rule}");
    }
    assert_eq!(rule["trigger"], "demo.event");
    assert_eq!(rule["action"], "demo.hello");
    let pack = daemon.ctl_json(&["pack", "get", "demo"]);
    for field in ["ref", "pack", "description", "version", "status", "errors"] {
        assert!(pack.get(field).is_some(), "pack lacks {field}: {pack}");
    }
    for kind in ["trigger", "sensor"] {
        let item = &daemon.ctl_json(&[kind, "list", "--pack", "demo"])[0];
        for field in ["ref", "pack", "description"] {
            assert!(item.get(field).is_some(), "{kind} lacks {field}: {item}");
        }
    }
}

#[test]
fn st2_takes_stackstorms_spelling_and_tables_are_default() {
    let home = Home::new();
    write_sample_pack(&home.packs(), "demo", "demo");
    let daemon = Daemon::start(&home, &[]);
    let output = daemon.st2(&["action", "list", "--pack=demo"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("+--") && table.contains("| demo.hello"), "{table}");
    let output = daemon.st2(&["action", "list", "-p", "core"]);
    let table = String::from_utf8_lossy(&output.stdout);
    for builtin in ["core.local", "core.noop", "core.echo", "core.http", "core.local_sudo", "core.inject_trigger"] {
        assert!(table.contains(builtin), "{builtin} missing:\n{table}");
    }
    let packs = daemon.refs("action", Some("packs"));
    assert!(packs.contains(&"packs.install".to_string()), "{packs:?}");
}

#[test]
fn unknown_refs_are_clear_errors() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let output = daemon.ctl(&["action", "get", "nope.nothing"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nope.nothing"));
    assert!(daemon.ctl(&["status"]).status.success(), "the daemon keeps running");
}

#[test]
fn hostile_pack_directories_are_reported_not_loaded() {
    let home = Home::new();
    home.write("packs/Bad-Name/pack.yaml", "name: Also Bad\ndescription: d\nversion: 1.0.0\nauthor: a\n");
    home.write("packs/evil/pack.yaml", "ref: ../../etc\nname: evil\ndescription: d\nversion: 1.0.0\nauthor: a\n");
    home.write("packs/empty/pack.yaml", "");
    let daemon = Daemon::start(&home, &[]);
    let packs = daemon.ctl_json(&["pack", "list"]);
    let failed: Vec<&serde_json::Value> =
        packs.as_array().expect("a list").iter().filter(|p| p["status"] == "failed").collect();
    assert_eq!(failed.len(), 3, "{packs:#}");
    for pack in failed {
        let message = pack["errors"][0]["message"].as_str().expect("an error message");
        assert!(!message.is_empty());
        assert_eq!(pack["errors"][0]["file"], "pack.yaml");
    }
}
