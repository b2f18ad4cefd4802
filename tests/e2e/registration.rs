//! Registration policy: rules of a dropped-in pack wait for `reload --register-rules`, and the
//! choice survives a restart.

use st2d_tests::{Daemon, Home, write_sample_pack};

fn rule_registered(daemon: &Daemon) -> bool {
    let rule = daemon.ctl_json(&["rule", "get", "demo.on_event"]);
    assert_eq!(rule["enabled"], true);
    rule["registered"].as_bool().expect("registered is a boolean")
}

#[test]
fn rules_wait_for_registration_which_survives_a_restart() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    write_sample_pack(&home.packs(), "demo", "demo");
    daemon.wait_json("the dropped-in rule", &["rule", "list", "--pack", "demo"], |v| {
        v.as_array().is_some_and(|a| a.len() == 1)
    });
    assert!(!rule_registered(&daemon), "rules are not registered by default");
    let pack = daemon.ctl_json(&["pack", "get", "demo"]);
    assert!(!pack["registered"].as_array().expect("a list").contains(&"rules".into()));

    let output = daemon.ctl(&["reload", "--register-rules"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(rule_registered(&daemon));

    daemon.signal(15);
    assert!(daemon.wait_exit().success());
    let daemon = Daemon::start(&home, &[]);
    assert!(rule_registered(&daemon), "the registration survives a restart");
    // New rule files of a registered pack are registered live.
    home.write(
        "packs/demo/rules/second.yaml",
        "name: second\ntrigger: {type: demo.event}\naction: {ref: demo.hello}\n",
    );
    let rule = daemon.wait_json("the second rule", &["rule", "get", "demo.second"], |v| v["ref"] == "demo.second");
    assert_eq!(rule["registered"], true);
    assert_eq!(rule["enabled"], false, "a rule without enabled is disabled");
}

#[test]
fn register_rules_by_default_flips_the_default() {
    let home = Home::new();
    write_sample_pack(&home.packs(), "demo", "demo");
    let daemon = Daemon::start(&home, &["serve", "--register-rules-by-default"]);
    assert!(rule_registered(&daemon));
}

#[test]
fn registering_for_one_pack_leaves_the_others() {
    let home = Home::new();
    write_sample_pack(&home.packs(), "demo", "demo");
    write_sample_pack(&home.packs(), "other", "other");
    let daemon = Daemon::start(&home, &[]);
    let output = daemon.ctl(&["reload", "--register-rules", "--pack", "other"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(!rule_registered(&daemon));
    assert_eq!(daemon.ctl_json(&["rule", "get", "other.on_event"])["registered"], true);
    let output = daemon.ctl(&["reload", "--register-rules", "--pack", "nope"]);
    assert!(!output.status.success(), "an unknown pack is an error");
    assert!(String::from_utf8_lossy(&output.stderr).contains("nope"));
}
