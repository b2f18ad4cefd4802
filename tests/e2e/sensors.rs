//! Sensors written against StackStorm's API run under st2d's supervisor: dispatching, crashing,
//! restarting, printing, using the datastore and the pack config.

use st2d_tests::{Daemon, Home, eventually, pack_yaml, require_python, write_file};

const SENSOR_BOILERPLATE: &str = "    def cleanup(self):\n        pass\n    def add_trigger(self, trigger):\n        pass\n    def update_trigger(self, trigger):\n        pass\n    def remove_trigger(self, trigger):\n        pass\n";

/// Writes a pack `pack` with one sensor class `class` whose `run()` body is `run_body`.
fn write_sensor(home: &Home, pack: &str, class: &str, run_body: &str, extra_yaml: &str) {
    let dir = home.packs().join(pack);
    write_file(&dir.join("pack.yaml"), &pack_yaml(pack, "sensor pack"));
    let file = class.to_lowercase();
    write_file(
        &dir.join(format!("sensors/{file}.yaml")),
        &format!(
            "class_name: {class}\nentry_point: {file}.py\n{extra_yaml}trigger_types:\n  - name: {file}_event\n    payload_schema:\n      type: object\n      properties:\n        n: {{type: integer}}\n"
        ),
    );
    write_file(
        &dir.join(format!("sensors/{file}.py")),
        &format!(
            "import sys, threading, time\nfrom st2reactor.sensor.base import Sensor, PollingSensor\n\nclass {class}(Sensor):\n    def setup(self):\n        self.log = self.sensor_service.get_logger('{file}')\n    def run(self):\n{run_body}\n{SENSOR_BOILERPLATE}"
        ),
    );
}

fn sensor(daemon: &Daemon, ref_: &str) -> serde_json::Value {
    daemon.ctl_json(&["sensor", "get", ref_])
}

fn wait_state(daemon: &Daemon, ref_: &str, state: &str) -> serde_json::Value {
    daemon.wait_json(&format!("{ref_} to be {state}"), &["sensor", "get", ref_], |s| s["state"] == state)
}

fn pid_alive(pid: u64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

#[test]
fn a_sensor_dispatches_prints_and_uses_the_datastore_and_config() {
    require_python();
    let home = Home::new();
    write_sensor(
        &home,
        "demo",
        "Emitter",
        "        print('hello on stdout', flush=True)\n        sys.stderr.write('hello on stderr\\n'); sys.stderr.flush()\n        self.sensor_service.set_value('seen', 41)\n        got = self.sensor_service.get_value('seen')\n        self.log.info('datastore gave %s, config region %s', got, self.config.get('region'))\n        for n in range(3):\n            self.sensor_service.dispatch('demo.emitter_event', {'n': n})\n        self.sensor_service.dispatch('demo.emitter_event', {'n': 'not a number'})\n        self.sensor_service.dispatch('demo.no_such_trigger', {})\n        threading.Event().wait()",
        "",
    );
    home.write("packs/demo/config.schema.yaml", "region:\n  type: string\n  default: eu-west-1\n");
    let daemon = Daemon::start(&home, &[]);
    let running = wait_state(&daemon, "demo.Emitter", "running");
    assert!(running["pid"].as_u64().is_some());
    let instances = daemon.wait_json(
        "three journaled instances, processed with no rule to match",
        &["trigger-instance", "list", "--trigger", "demo.emitter_event"],
        |v| v.as_array().is_some_and(|a| a.len() == 3 && a.iter().all(|i| i["status"] == "processed")),
    );
    let mut seen: Vec<i64> =
        instances.as_array().expect("a list").iter().map(|i| i["payload"]["n"].as_i64().expect("n")).collect();
    seen.sort_unstable();
    assert_eq!(seen, [0, 1, 2], "the invalid payload and the unknown trigger are dropped");
    let first = &instances[0];
    let one = daemon.ctl_json(&["trigger-instance", "get", first["id"].as_str().expect("id")]);
    assert_eq!(one["trigger"], "demo.emitter_event");
    let tail = daemon.wait_json("the output tail", &["sensor", "get", "demo.Emitter"], |s| {
        s["stderr_tail"].as_array().is_some_and(|t| {
            t.iter().any(|l| l.as_str().is_some_and(|l| l.contains("datastore gave 41, config region eu-west-1")))
        })
    });
    let lines: Vec<&str> = tail["stderr_tail"].as_array().expect("tail").iter().filter_map(|l| l.as_str()).collect();
    assert!(lines.contains(&"hello on stdout") && lines.contains(&"hello on stderr"), "{lines:?}");
    let status = daemon.ctl_json(&["status"]);
    assert_eq!(status["dispatches_dropped"], 2, "{status}");
    assert_eq!(status["sensors_running"], 1);
}

#[test]
fn a_crashing_sensor_backs_off_and_restarts_on_request_without_affecting_others() {
    require_python();
    let home = Home::new();
    write_sensor(&home, "crashy", "Crasher", "        raise RuntimeError('boom at run')", "");
    write_sensor(&home, "steady", "Steady", "        threading.Event().wait()", "");
    let daemon = Daemon::start(&home, &[]);
    let steady = wait_state(&daemon, "steady.Steady", "running");
    let crashed = daemon.wait_json("the crasher in backoff", &["sensor", "get", "crashy.Crasher"], |s| {
        s["state"] == "backoff" && s["restarts"].as_u64().is_some_and(|r| r >= 1)
    });
    assert_eq!(crashed["last_exit"], "exit 1");
    let last_line = crashed["stderr_tail"]
        .as_array()
        .and_then(|t| t.last())
        .and_then(|l| l.as_str())
        .unwrap_or_default()
        .to_string();
    assert!(last_line.contains("RuntimeError: boom at run"), "{crashed:#}");
    // The backoff grows: the second wait is longer than the first.
    let first_wait = crashed["next_start_in"].as_f64().unwrap_or(0.0);
    let later = daemon.wait_json("a longer backoff", &["sensor", "get", "crashy.Crasher"], |s| {
        s["state"] == "backoff" && s["restarts"].as_u64().is_some_and(|r| r >= 2)
    });
    assert!(later["next_start_in"].as_f64().unwrap_or(0.0) > 1.2, "{later:#} after {first_wait}");
    // `sensor restart` starts it at once, out of backoff.
    let before = later["restarts"].as_u64().expect("restarts");
    assert!(daemon.ctl(&["sensor", "restart", "crashy.Crasher"]).status.success());
    daemon.wait_json("an immediate restart", &["sensor", "get", "crashy.Crasher"], |s| {
        s["restarts"].as_u64().is_some_and(|r| r > before)
    });
    assert_eq!(sensor(&daemon, "steady.Steady")["pid"], steady["pid"], "the other sensor kept its process");
    assert!(daemon.ctl(&["status"]).status.success());
}

#[test]
fn restart_component_gives_every_sensor_a_new_pid_and_the_daemon_keeps_its_own() {
    require_python();
    let home = Home::new();
    write_sensor(&home, "one", "First", "        threading.Event().wait()", "");
    write_sensor(&home, "two", "Second", "        threading.Event().wait()", "");
    let daemon = Daemon::start(&home, &[]);
    let before: Vec<u64> = ["one.First", "two.Second"]
        .iter()
        .map(|r| wait_state(&daemon, r, "running")["pid"].as_u64().expect("pid"))
        .collect();
    let output = daemon.ctl(&["restart-component", "sensor_container"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    for (ref_, old) in ["one.First", "two.Second"].iter().zip(&before) {
        daemon.wait_json("a new pid", &["sensor", "get", ref_], |s| {
            s["state"] == "running" && s["pid"].as_u64().is_some_and(|p| p != *old)
        });
        assert!(!pid_alive(*old), "the old process {old} is gone");
    }
    assert_eq!(daemon.ctl_json(&["status"])["pid"].as_u64(), Some(u64::from(daemon.pid())));
    let output = daemon.ctl(&["restart-component", "no_such_thing"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("sensor_container"), "the valid names are listed");
}

#[test]
fn editing_one_sensor_file_restarts_only_that_sensor() {
    require_python();
    let home = Home::new();
    write_sensor(&home, "one", "First", "        threading.Event().wait()", "");
    write_sensor(&home, "two", "Second", "        threading.Event().wait()", "");
    let daemon = Daemon::start(&home, &[]);
    let first = wait_state(&daemon, "one.First", "running")["pid"].as_u64().expect("pid");
    let second = wait_state(&daemon, "two.Second", "running")["pid"].as_u64().expect("pid");
    write_sensor(&home, "one", "First", "        self.log.info('edited')\n        threading.Event().wait()", "");
    daemon.wait_json("the edited sensor restarted", &["sensor", "get", "one.First"], |s| {
        s["state"] == "running" && s["pid"].as_u64().is_some_and(|p| p != first)
    });
    assert_eq!(sensor(&daemon, "two.Second")["pid"].as_u64(), Some(second), "the other sensor kept its pid");
}

#[test]
fn sigkill_of_st2d_leaves_no_sensor_behind() {
    require_python();
    let home = Home::new();
    write_sensor(&home, "one", "First", "        threading.Event().wait()", "");
    let daemon = Daemon::start(&home, &[]);
    let pid = wait_state(&daemon, "one.First", "running")["pid"].as_u64().expect("pid");
    daemon.signal(9);
    daemon.wait_exit();
    eventually("the sensor process to go", || (!pid_alive(pid)).then_some(()));
}

#[test]
fn a_sensor_that_returns_stays_stopped_and_a_polling_sensor_polls() {
    require_python();
    let home = Home::new();
    write_sensor(&home, "quiet", "Quitter", "        return", "");
    let dir = home.packs().join("poller");
    write_file(&dir.join("pack.yaml"), &pack_yaml("poller", "polling"));
    write_file(
        &dir.join("sensors/poll.yaml"),
        "class_name: Poller\nentry_point: poll.py\npoll_interval: 4\ntrigger_types:\n  - name: polled\n",
    );
    write_file(
        &dir.join("sensors/poll.py"),
        &format!(
            "from st2reactor.sensor.base import PollingSensor\n\nclass Poller(PollingSensor):\n    def setup(self):\n        pass\n    def poll(self):\n        self.sensor_service.dispatch('poller.polled', {{'interval': self.get_poll_interval()}})\n{SENSOR_BOILERPLATE}"
        ),
    );
    let daemon = Daemon::start(&home, &[]);
    let stopped = wait_state(&daemon, "quiet.Quitter", "stopped");
    assert_eq!(stopped["last_exit"], "exit 0");
    let polled = daemon.wait_json("a poll", &["trigger-instance", "list", "--trigger", "poller.polled"], |v| {
        v.as_array().is_some_and(|a| !a.is_empty())
    });
    assert_eq!(polled[0]["payload"]["interval"], 4, "poll_interval comes from the metadata");
}

#[test]
fn a_sensor_that_ignores_sigterm_is_killed_after_the_grace_period() {
    require_python();
    let home = Home::new();
    write_sensor(
        &home,
        "stubborn",
        "Stubborn",
        "        import signal\n        signal.signal(signal.SIGTERM, signal.SIG_IGN)\n        self.log.info('ignoring SIGTERM')\n        threading.Event().wait()",
        "",
    );
    let daemon = Daemon::start(&home, &[]);
    let pid = daemon.wait_json("the handler installed", &["sensor", "get", "stubborn.Stubborn"], |s| {
        s["stderr_tail"]
            .as_array()
            .is_some_and(|t| t.iter().any(|l| l.as_str().is_some_and(|l| l.contains("ignoring SIGTERM"))))
    })["pid"]
        .as_u64()
        .expect("pid");
    assert!(daemon.ctl(&["sensor", "restart", "stubborn.Stubborn"]).status.success());
    let restarted = daemon.wait_json("a new process", &["sensor", "get", "stubborn.Stubborn"], |s| {
        s["state"] == "running" && s["pid"].as_u64().is_some_and(|p| p != pid)
    });
    assert_eq!(restarted["last_exit"], "signal 9", "{restarted:#}");
    assert!(!pid_alive(pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_sensor_stops_it_across_restarts_and_watchers_see_new_instances() {
    use st2d_proto::v1 as pb;
    require_python();
    let home = Home::new();
    write_sensor(
        &home,
        "one",
        "Ticker",
        "        while True:\n            self.sensor_service.dispatch('one.ticker_event', {'n': 1})\n            time.sleep(0.05)",
        "",
    );
    let daemon = tokio::task::block_in_place(|| Daemon::start(&home, &[]));
    tokio::task::block_in_place(|| wait_state(&daemon, "one.Ticker", "running"));
    let mut client = st2d_tests::control(&home.socket()).await;
    let mut watch = client
        .watch_trigger_instances(pb::ListTriggerInstancesRequest { trigger: "one.ticker_event".into(), limit: 0 })
        .await
        .expect("watch")
        .into_inner();
    let seen = watch.message().await.expect("a streamed instance").expect("one");
    assert_eq!(seen.trigger, "one.ticker_event");
    assert!(seen.payload_json.contains("\"n\":1"), "{}", seen.payload_json);

    let disabled = client
        .set_sensor_enabled(pb::SetEnabledRequest { r#ref: "one.Ticker".into(), enabled: false })
        .await
        .expect("disable")
        .into_inner();
    assert!(!disabled.enabled);
    tokio::task::block_in_place(|| wait_state(&daemon, "one.Ticker", "disabled"));
    daemon.signal(15);
    tokio::task::block_in_place(|| assert!(daemon.wait_exit().success()));
    let daemon = tokio::task::block_in_place(|| Daemon::start(&home, &[]));
    let after = tokio::task::block_in_place(|| sensor(&daemon, "one.Ticker"));
    assert_eq!(after["state"], "disabled", "the toggle survives a restart: {after:#}");
    assert_eq!(after["enabled"], false);
    let mut client = st2d_tests::control(&home.socket()).await;
    client
        .set_sensor_enabled(pb::SetEnabledRequest { r#ref: "one.Ticker".into(), enabled: true })
        .await
        .expect("enable");
    tokio::task::block_in_place(|| wait_state(&daemon, "one.Ticker", "running"));
}

#[test]
fn sensor_ref_runs_one_sensor_alone() {
    require_python();
    let home = Home::new();
    write_sensor(&home, "one", "First", "        threading.Event().wait()", "");
    write_sensor(&home, "two", "Second", "        threading.Event().wait()", "");
    let daemon = Daemon::start(&home, &["serve", "--sensor-ref", "two.Second"]);
    wait_state(&daemon, "two.Second", "running");
    assert_eq!(sensor(&daemon, "one.First")["state"], "stopped", "only the named sensor runs");
    assert!(sensor(&daemon, "one.First")["pid"].is_null());
}

#[test]
fn rules_give_a_sensor_triggers_live_without_a_restart() {
    require_python();
    let home = Home::new();
    let dir = home.packs().join("hooks");
    write_file(&dir.join("pack.yaml"), &pack_yaml("hooks", "parameterised triggers"));
    write_file(
        &dir.join("sensors/listener.yaml"),
        "class_name: Listener\nentry_point: listener.py\ntrigger_types:\n  - name: hook\n    parameters_schema:\n      type: object\n      properties:\n        path: {type: string}\n    payload_schema:\n      type: object\n",
    );
    write_file(
        &dir.join("sensors/listener.py"),
        "import threading\nfrom st2reactor.sensor.base import Sensor\n\nclass Listener(Sensor):\n    def setup(self):\n        self.log = self.sensor_service.get_logger('listener')\n    def run(self):\n        threading.Event().wait()\n    def cleanup(self):\n        pass\n    def add_trigger(self, trigger):\n        self.log.info('add %s', trigger['parameters']['path'])\n        self.sensor_service.dispatch(trigger['ref'], {'path': trigger['parameters']['path']})\n    def update_trigger(self, trigger):\n        pass\n    def remove_trigger(self, trigger):\n        self.log.info('remove %s', trigger['parameters']['path'])\n",
    );
    write_file(
        &dir.join("rules/on_a.yaml"),
        "name: on_a\nenabled: true\ntrigger:\n  type: hooks.hook\n  parameters:\n    path: /a\naction:\n  ref: core.noop\n",
    );
    let daemon = Daemon::start(&home, &[]);
    let pid = wait_state(&daemon, "hooks.Listener", "running")["pid"].as_u64().expect("pid");
    let has_line = |s: &serde_json::Value, text: &str| {
        s["stderr_tail"].as_array().is_some_and(|t| t.iter().any(|l| l.as_str().is_some_and(|l| l.ends_with(text))))
    };
    assert!(!has_line(&sensor(&daemon, "hooks.Listener"), "add /a"), "an unregistered rule gives no trigger");
    assert!(daemon.ctl(&["reload", "--register-rules"]).status.success());
    daemon.wait_json("add_trigger for /a", &["sensor", "get", "hooks.Listener"], |s| has_line(s, "add /a"));
    let instances = daemon.wait_json("the dispatch to the trigger", &["trigger-instance", "list"], |v| {
        v.as_array().is_some_and(|a| a.iter().any(|i| i["payload"]["path"] == "/a"))
    });
    let instance = instances.as_array().expect("list").iter().find(|i| i["payload"]["path"] == "/a").expect("instance");
    assert!(instance["trigger"].as_str().is_some_and(|t| t.starts_with("hooks.")), "{instance}");
    home.remove("packs/hooks/rules/on_a.yaml");
    daemon.wait_json("remove_trigger for /a", &["sensor", "get", "hooks.Listener"], |s| has_line(s, "remove /a"));
    assert_eq!(sensor(&daemon, "hooks.Listener")["pid"].as_u64(), Some(pid), "no restart for trigger changes");
}

#[test]
fn crashes_at_start_and_later_both_back_off_with_their_last_line() {
    require_python();
    let home = Home::new();
    let dir = home.packs().join("early");
    write_file(&dir.join("pack.yaml"), &pack_yaml("early", "crashes in setup"));
    write_file(&dir.join("sensors/early.yaml"), "class_name: Early\nentry_point: early.py\n");
    write_file(
        &dir.join("sensors/early.py"),
        &format!(
            "from st2reactor.sensor.base import Sensor\n\nclass Early(Sensor):\n    def setup(self):\n        raise ValueError('cannot set up')\n    def run(self):\n        pass\n{SENSOR_BOILERPLATE}"
        ),
    );
    write_sensor(
        &home,
        "late",
        "Late",
        "        self.sensor_service.dispatch('late.late_event', {'n': 1})\n        time.sleep(0.3)\n        raise KeyError('gone later')",
        "",
    );
    let daemon = Daemon::start(&home, &[]);
    for (ref_, last) in [("early.Early", "ValueError: cannot set up"), ("late.Late", "KeyError: 'gone later'")] {
        let crashed =
            daemon.wait_json(&format!("{ref_} in backoff"), &["sensor", "get", ref_], |s| s["state"] == "backoff");
        assert_eq!(crashed["last_exit"], "exit 1");
        let tail = crashed["stderr_tail"].as_array().expect("tail");
        assert!(tail.last().and_then(|l| l.as_str()).is_some_and(|l| l.contains(last)), "{ref_}: {tail:?}");
    }
    daemon.wait_json(
        "the dispatch before the crash",
        &["trigger-instance", "list", "--trigger", "late.late_event"],
        |v| v.as_array().is_some_and(|a| !a.is_empty()),
    );
}

#[test]
fn editing_the_pack_config_restarts_its_sensor_with_the_new_config() {
    require_python();
    let home = Home::new();
    write_sensor(
        &home,
        "conf",
        "Reader",
        "        self.log.info('region=%s', self.config['region'])\n        threading.Event().wait()",
        "",
    );
    home.write("packs/conf/config.schema.yaml", "region:\n  type: string\n  default: eu\n");
    let daemon = Daemon::start(&home, &[]);
    let has = |s: &serde_json::Value, text: &str| {
        s["stderr_tail"].as_array().is_some_and(|t| t.iter().any(|l| l.as_str().is_some_and(|l| l.ends_with(text))))
    };
    let first = daemon.wait_json("the default config", &["sensor", "get", "conf.Reader"], |s| has(s, "region=eu"));
    home.write("configs/conf.yaml", "region: us\n");
    let second = daemon.wait_json("the new config", &["sensor", "get", "conf.Reader"], |s| has(s, "region=us"));
    assert_ne!(first["pid"], second["pid"], "a config change restarts the sensor");
}

#[test]
fn shutdown_with_running_and_crashed_sensors_is_clean() {
    require_python();
    let home = Home::new();
    write_sensor(&home, "up", "Up", "        threading.Event().wait()", "");
    write_sensor(&home, "down", "Down", "        raise RuntimeError('down')", "");
    let daemon = Daemon::start(&home, &[]);
    let up = wait_state(&daemon, "up.Up", "running")["pid"].as_u64().expect("pid");
    wait_state(&daemon, "down.Down", "backoff");
    daemon.signal(15);
    let log_path = home.path().to_path_buf();
    let status = daemon.wait_exit();
    assert_eq!(status.code(), Some(0));
    assert!(!pid_alive(up), "the running sensor was stopped");
    let logs: String = std::fs::read_dir(&log_path)
        .expect("home")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(!logs.contains("did not stop within the grace period"), "every task stopped promptly:\n{logs}");
}
