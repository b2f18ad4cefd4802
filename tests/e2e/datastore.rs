//! The datastore through `st2ctl key`: scopes, secrets encrypted at rest and shown only when
//! asked, TTL expiry, `key load`, the key_value_pair triggers, and `st2kv` in rule parameters.

use std::os::unix::fs::PermissionsExt;

use st2d_tests::{Daemon, Home, pack_yaml, stdout};

#[test]
fn keys_scopes_secrets_and_expiry() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let set = daemon.ctl_json(&["key", "set", "site", "eu-1"]);
    assert_eq!((set["name"].as_str(), set["scope"].as_str()), (Some("site"), Some("st2kv.system")));
    daemon.ctl_json(&["key", "set", "site", "mine", "--scope", "user", "--user", "alice"]);
    assert_eq!(daemon.ctl_json(&["key", "get", "site"])["value"], "eu-1");
    assert_eq!(daemon.ctl_json(&["key", "get", "site", "--scope", "user", "--user", "alice"])["value"], "mine");

    let secret = daemon.ctl_json(&["key", "set", "password", "hunter2", "--encrypt"]);
    assert_eq!(secret["encrypted"], true);
    assert_ne!(secret["value"], "hunter2");
    let hidden = daemon.ctl_json(&["key", "get", "password"]);
    assert_ne!(hidden["value"], "hunter2", "a secret is not shown without --decrypt");
    let listed = stdout(&daemon.ctl(&["key", "list"]));
    assert!(!listed.contains("hunter2"), "{listed}");
    assert_eq!(daemon.ctl_json(&["key", "get", "password", "--decrypt"])["value"], "hunter2");
    let key_file = home.path().join("data/keys/datastore.key");
    let mode = std::fs::metadata(&key_file).expect("the key file exists").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let store = std::fs::read_dir(home.path().join("data/store")).expect("store dir");
    for entry in store.flatten() {
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&bytes).contains("hunter2"), "the secret is on disk in clear");
    }

    daemon.ctl_json(&["key", "set", "short", "v", "--ttl", "1"]);
    assert_eq!(daemon.ctl_json(&["key", "get", "short"])["value"], "v");
    daemon.wait_json("the key to expire", &["key", "list", "--prefix", "short"], |l| l == &serde_json::json!([]));
    let gone = daemon.ctl(&["key", "get", "short"]);
    assert_eq!(gone.status.code(), Some(1));

    home.write("keys.yaml", "- {name: a, value: one}\n- {name: b, value: {nested: true}}\n");
    let refused = daemon.ctl(&["key", "load", &home.path().join("keys.yaml").display().to_string()]);
    assert_eq!(refused.status.code(), Some(1), "an object value needs --convert");
    let loaded = daemon.ctl_json(&["key", "load", "--convert", &home.path().join("keys.yaml").display().to_string()]);
    assert_eq!(loaded.as_array().map(Vec::len), Some(2));
    assert_eq!(daemon.ctl_json(&["key", "get", "b"])["value"], r#"{"nested":true}"#);
    let deleted = daemon.ctl(&["key", "delete", "a"]);
    assert!(stdout(&deleted).contains("has been successfully deleted"), "{}", stdout(&deleted));
    assert_eq!(daemon.ctl(&["key", "delete", "a"]).status.code(), Some(1));

    let changes = daemon.wait_json(
        "key_value_pair trigger instances",
        &["trigger-instance", "list", "--trigger", "core.st2.key_value_pair.create"],
        |l| l.as_array().is_some_and(|l| l.len() >= 4),
    );
    assert!(changes.as_array().expect("list").iter().any(|i| i["payload"]["object"]["name"] == "site"), "{changes}");
    let deletes = daemon.ctl_json(&["trigger-instance", "list", "--trigger", "core.st2.key_value_pair.delete"]);
    assert_eq!(deletes[0]["payload"]["object"]["name"], "a");
}

#[test]
fn rules_read_the_datastore_in_their_parameters() {
    let home = Home::new();
    home.write("packs/kvrule/pack.yaml", &pack_yaml("kvrule", "datastore in rules"));
    home.write(
        "packs/kvrule/triggers/ping.yaml",
        "---\nname: ping\ndescription: ping\npayload_schema: {type: object}\n",
    );
    home.write(
        "packs/kvrule/rules/greet.yaml",
        "---\nname: greet\nenabled: true\ntrigger: {type: kvrule.ping}\ncriteria:\n  trigger.to: {type: equals, pattern: '{{ st2kv.system.target }}'}\naction:\n  ref: core.local\n  parameters:\n    cmd: 'echo {{ st2kv.system.greeting }} {{ trigger.to }} {{ st2kv.system.token | decrypt_kv }}'\n",
    );
    let daemon = Daemon::start(&home, &["serve", "--register-rules-by-default"]);
    daemon.ctl_json(&["key", "set", "greeting", "hello"]);
    daemon.ctl_json(&["key", "set", "target", "world"]);
    daemon.ctl_json(&["key", "set", "token", "t0k3n", "--encrypt"]);
    let miss = daemon.ctl_json(&["trigger", "fire", "kvrule.ping", r#"{"to": "nobody"}"#]);
    let hit = daemon.ctl_json(&["trigger", "fire", "kvrule.ping", r#"{"to": "world"}"#]);
    let hit_id = hit["id"].as_str().expect("id").to_string();
    let executions =
        daemon.wait_json("the rule's execution", &["execution", "list", "--trigger-instance", &hit_id], |l| {
            l.as_array().is_some_and(|l| l.len() == 1 && l[0]["status"] == "succeeded")
        });
    assert_eq!(executions[0]["result"]["stdout"], "hello world t0k3n");
    let miss_id = miss["id"].as_str().expect("id").to_string();
    let none = daemon.ctl_json(&["execution", "list", "--trigger-instance", &miss_id]);
    assert_eq!(none, serde_json::json!([]), "the criteria pattern read st2kv too");
}
