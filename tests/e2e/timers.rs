//! Timers: registered rules on core.st2.IntervalTimer / DateTimer fire trigger instances.

use st2d_tests::{Daemon, Home, pack_yaml};

#[test]
fn an_interval_timer_fires_once_its_rule_is_registered_and_stops_when_removed() {
    let home = Home::new();
    home.write("packs/clock/pack.yaml", &pack_yaml("clock", "timers"));
    home.write(
        "packs/clock/rules/every_second.yaml",
        "name: every_second\nenabled: true\ntrigger:\n  type: core.st2.IntervalTimer\n  parameters:\n    unit: seconds\n    delta: 1\naction:\n  ref: core.noop\n",
    );
    let daemon = Daemon::start(&home, &[]);
    let timer_instances = |v: &serde_json::Value| -> usize {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter(|i| {
                        i["payload"]["executed_at"].is_string()
                            && i["trigger"].as_str().is_some_and(|t| t.starts_with("core."))
                    })
                    .count()
            })
            .unwrap_or(0)
    };
    let before = daemon.ctl_json(&["trigger-instance", "list"]);
    assert_eq!(timer_instances(&before), 0, "an unregistered rule drives no timer");
    assert!(daemon.ctl(&["reload", "--register-rules"]).status.success());
    let fired = daemon.wait_json("two timer firings", &["trigger-instance", "list"], |v| timer_instances(v) >= 2);
    let instance = fired
        .as_array()
        .expect("list")
        .iter()
        .find(|i| i["payload"]["executed_at"].is_string())
        .expect("a timer instance");
    assert!(instance["payload"]["executed_at"].as_str().is_some_and(|t| t.ends_with("+00:00")), "{instance}");
    assert_eq!(instance["payload"]["schedule"], serde_json::Value::Null);
    // A date timer in the past is not scheduled; a bad one is skipped without harm.
    home.write(
        "packs/clock/rules/past.yaml",
        "name: past\nenabled: true\ntrigger:\n  type: core.st2.DateTimer\n  parameters:\n    date: 2020-01-01 00:00:00\naction:\n  ref: core.noop\n",
    );
    home.remove("packs/clock/rules/every_second.yaml");
    daemon.wait_json("the rule removed", &["rule", "list", "--pack", "clock"], |v| {
        v.as_array().is_some_and(|a| a.len() == 1)
    });
    let settled = timer_instances(&daemon.ctl_json(&["trigger-instance", "list", "-n", "1000"]));
    // Poll for a while: the count must stay put once the interval rule is gone.
    let mut stable = true;
    for _ in 0..15 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        stable &= timer_instances(&daemon.ctl_json(&["trigger-instance", "list", "-n", "1000"])) <= settled + 1;
    }
    assert!(stable, "the removed timer kept firing");
}
