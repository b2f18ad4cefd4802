//! `st2d store export|import|check` through the real binaries: an export from a running daemon
//! imported into a fresh home lists the same keys, rules and executions there; what an import
//! refuses; a locked store, a damaged one, and a start on a damaged store.

use std::path::Path;
use std::process::Output;

use st2d_tests::{Daemon, Home, pack_yaml, stderr, stdout};

/// `st2d --home HOME store ARGS...`.
fn store(home: &Home, args: &[&str]) -> Output {
    st2d_tests::st2d_command().arg("--home").arg(home.path()).arg("store").args(args).output().expect("st2d runs")
}

fn both(output: &Output) -> String {
    format!("{}{}", stdout(output), stderr(output))
}

fn write_pack(home: &Home) {
    home.write("packs/fire/pack.yaml", &pack_yaml("fire", "fired triggers"));
    home.write(
        "packs/fire/triggers/alarm.yaml",
        "---\nname: alarm\ndescription: an alarm\npayload_schema: {type: object}\n",
    );
    for (name, enabled) in [("on_alarm", true), ("also", true), ("quiet", false)] {
        home.write(
            &format!("packs/fire/rules/{name}.yaml"),
            &format!(
                "---\nname: {name}\nenabled: {enabled}\ntrigger: {{type: fire.alarm}}\naction:\n  ref: core.local\n  parameters: {{cmd: 'echo {name}'}}\n"
            ),
        );
    }
}

/// The outputs an import must reproduce.
fn listings(daemon: &Daemon) -> Vec<String> {
    [&["key", "list"][..], &["rule", "list"], &["execution", "list"], &["rule-enforcement", "list"]]
        .iter()
        .map(|args| {
            let output = daemon.st2(args);
            assert!(output.status.success(), "st2 {args:?}: {}", both(&output));
            stdout(&output)
        })
        .collect()
}

fn copy_key(from: &Home, to: &Home) {
    let key = Path::new("data/keys/datastore.key");
    std::fs::create_dir_all(to.path().join("data/keys")).expect("keys dir");
    std::fs::copy(from.path().join(key), to.path().join(key)).expect("copy the key file");
}

#[test]
fn an_export_of_a_running_daemon_imported_into_a_fresh_home_lists_the_same() {
    let source = Home::new();
    write_pack(&source);
    let daemon = Daemon::start(&source, &[]);
    let registered = daemon.ctl(&["reload", "--register-rules"]);
    assert!(registered.status.success(), "{}", both(&registered));
    daemon.wait_json("the rules to register", &["rule", "list", "--pack", "fire"], |rules| {
        rules.as_array().is_some_and(|r| r.len() == 3 && r.iter().all(|rule| rule["registered"] == true))
    });
    daemon.ctl_json(&["rule", "disable", "fire.also"]);
    daemon.ctl_json(&["key", "set", "site", "eu-1"]);
    daemon.ctl_json(&["key", "set", "password", "hunter2", "--encrypt"]);
    daemon.ctl_json(&["key", "set", "mine", "x", "--scope", "user", "--user", "alice"]);
    let ran = daemon.st2(&["run", "core.local", "cmd=echo hi"]);
    assert!(ran.status.success(), "{}", both(&ran));
    let instance = daemon.ctl_json(&["trigger", "fire", "fire.alarm", "{}"]);
    let instance_id = instance["id"].as_str().expect("an id").to_string();
    daemon.wait_json("the rule's execution", &["execution", "list", "--trigger-instance", &instance_id], |l| {
        l.as_array().is_some_and(|l| l.len() == 1 && l[0]["status"] == "succeeded")
    });
    let before = listings(&daemon);

    let file = source.path().join("backup.jsonl");
    let file_arg = file.display().to_string();
    let exported = store(&source, &["export", &file_arg, "--trigger-instances"]);
    assert!(exported.status.success(), "{}", both(&exported));
    assert!(stdout(&exported).contains("from the running st2d"), "{}", both(&exported));
    let text = std::fs::read_to_string(&file).expect("the export");
    let header: serde_json::Value = serde_json::from_str(text.lines().next().expect("a header")).expect("JSON");
    assert_eq!((header["format"].as_str(), header["version"].as_u64()), (Some("st2d-store-export"), Some(1)));
    assert!(!text.contains("hunter2"), "secrets stay encrypted in an export");
    assert!(text.lines().last().is_some_and(|l| l.contains("\"end\":true")), "a trailer ends it");

    // An import into the running daemon's home is refused: it holds the store.
    let refused = store(&source, &["import", &file_arg]);
    assert_eq!(refused.status.code(), Some(3), "{}", both(&refused));
    assert!(stderr(&refused).contains("locked by"), "{}", both(&refused));

    // A fresh home with the same packs but another key: the secrets are refused.
    let target = Home::new();
    write_pack(&target);
    std::fs::create_dir_all(target.path().join("data/keys")).expect("keys dir");
    std::fs::write(target.path().join("data/keys/datastore.key"), format!("{}\n", "ab".repeat(32))).expect("key");
    let other_key = store(&target, &["import", &file_arg]);
    assert_eq!(other_key.status.code(), Some(1), "{}", both(&other_key));
    assert!(
        stderr(&other_key).contains("datastore.key") && stderr(&other_key).contains("--skip-secrets"),
        "{}",
        both(&other_key)
    );
    assert!(!target.path().join("data/store/db").exists(), "nothing written before the checks pass");

    copy_key(&source, &target);
    let imported = store(&target, &["import", &file_arg]);
    assert!(imported.status.success(), "{}", both(&imported));
    assert!(stdout(&imported).contains("imported"), "{}", both(&imported));
    let again = store(&target, &["import", &file_arg]);
    assert_eq!(again.status.code(), Some(1), "{}", both(&again));
    assert!(stderr(&again).contains("--force"), "a second import into a store with history: {}", both(&again));

    let restored = Daemon::start(&target, &[]);
    assert_eq!(listings(&restored), before, "st2 key/rule/execution/rule-enforcement list after the import");
    assert_eq!(restored.ctl_json(&["key", "get", "password", "--decrypt"])["value"], "hunter2");
    assert_eq!(restored.ctl_json(&["trigger-instance", "get", &instance_id])["id"], instance_id.as_str());
    // New ids continue above the imported ones.
    let next = restored.ctl_json(&["run", "core.noop"]);
    let newest = restored.ctl_json(&["execution", "list"]);
    let ids: Vec<&str> = newest.as_array().expect("a list").iter().filter_map(|e| e["id"].as_str()).collect();
    let next_id = next["id"].as_str().expect("an id");
    assert!(ids.iter().all(|id| *id <= next_id), "{next_id} after {ids:?}");
}

#[test]
fn store_check_tells_a_locked_store_from_a_damaged_one_and_a_damaged_store_stops_the_start() {
    let home = Home::new();
    let absent = store(&home, &["check"]);
    assert_eq!(absent.status.code(), Some(1), "{}", both(&absent));

    let daemon = Daemon::start(&home, &[]);
    daemon.ctl_json(&["key", "set", "site", "eu-1"]);
    let locked = store(&home, &["check"]);
    assert_eq!(locked.status.code(), Some(3), "{}", both(&locked));
    let pid = daemon.pid().to_string();
    assert!(stderr(&locked).contains("locked by st2d (pid ") && stderr(&locked).contains(&pid), "{}", both(&locked));
    daemon.signal(15);
    assert!(daemon.wait_exit().success());

    let healthy = store(&home, &["check"]);
    assert!(healthy.status.success(), "{}", both(&healthy));
    assert!(stdout(&healthy).contains(": healthy"), "{}", both(&healthy));
    assert!(
        stdout(&healthy).lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["kv", "1"]),
        "{}",
        both(&healthy)
    );
    let offline = home.path().join("offline.jsonl");
    let exported = store(&home, &["export", &offline.display().to_string()]);
    assert!(exported.status.success(), "{}", both(&exported));
    assert!(stdout(&exported).contains("from the store at"), "a stopped home exports itself: {}", both(&exported));

    let data = home.path().join("data/store/db");
    let length = std::fs::metadata(&data).expect("sled's data file").len() as usize;
    std::fs::write(&data, vec![0xA5u8; length]).expect("overwrite the data file");
    let damaged = store(&home, &["check"]);
    assert_eq!(damaged.status.code(), Some(4), "{}", both(&damaged));
    assert!(stderr(&damaged).contains("is damaged"), "{}", both(&damaged));

    let start = st2d_tests::st2d_command().arg("--home").arg(home.path()).output().expect("st2d runs");
    assert!(!start.status.success(), "a damaged store stops the start");
    let store_dir = home.path().join("data/store").display().to_string();
    assert!(
        stderr(&start).contains(&format!("cannot open the store at {store_dir}: it is damaged")),
        "{}",
        both(&start)
    );
    assert!(!stderr(&start).contains("panicked"), "{}", both(&start));
}
