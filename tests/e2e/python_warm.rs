//! Python actions forked from a warm interpreter, end to end: the same result, stdout, stderr,
//! config, datastore calls and exit codes as a cold start (`--no-python-warm`); an edited
//! action runs at once; a module global one run changes is not seen by the next; a timeout and
//! a cancel kill the forked child; `kill -9` of the warm interpreter fails only the run in flight;
//! no run, warm or cold, outlives a killed st2d;
//! a pack preloaded (`--python-preload`) imports its action once, keeps runs apart and sees an
//! edit at once.

use serde_json::{Value, json};
use st2d_tests::{Daemon, Home, eventually, pack_yaml};

/// A pack whose action shows what a run sees: its parameters, config, a module global it bumps,
/// the datastore, stdout and stderr, and its ending (`(False, ...)`, an exception, an exit code).
fn probe_pack(home: &Home) {
    home.write("packs/probe/pack.yaml", &pack_yaml("probe", "python actions"));
    home.write("packs/probe/config.schema.yaml", "greeting:\n  type: string\n  default: hello\n");
    home.write(
        "packs/probe/actions/show.yaml",
        "---\nname: show\nrunner_type: python-script\nentry_point: show.py\nparameters:\n  who: {type: string, required: true}\n  ending: {type: string, default: ok}\n",
    );
    home.write(
        "packs/probe/actions/show.py",
        r#"import os
import sys

from st2common.runners.base_action import Action

RUNS = []


class Show(Action):
    def run(self, who, ending):
        RUNS.append(who)
        print("stdout of %s" % who)
        sys.stderr.write("stderr of %s\n" % who)
        self.action_service.set_value("last", who)
        if ending == "false":
            return (False, {"who": who})
        if ending == "raise":
            raise ValueError("refused %s" % who)
        if ending == "exit":
            sys.exit(7)
        return {
            "text": "%s %s" % (self.config["greeting"], who),
            "runs": len(RUNS),
            "last": self.action_service.get_value("last"),
            "cwd": os.getcwd(),
            "path_has_lib": any(p.endswith("actions/lib") for p in sys.path),
        }
"#,
    );
    home.write("packs/probe/actions/lib/.keep", "");
    home.write(
        "packs/probe/actions/nap.yaml",
        "---\nname: nap\nrunner_type: python-script\nentry_point: nap.py\nparameters:\n  marker: {type: string, required: true}\n",
    );
    home.write(
        "packs/probe/actions/nap.py",
        "import subprocess\nimport time\n\nfrom st2common.runners.base_action import Action\n\n\nclass Nap(Action):\n    def run(self, marker):\n        subprocess.Popen(['sh', '-c', 'sleep 300; true', marker])\n        time.sleep(300)\n",
    );
}

fn run(daemon: &Daemon, args: &[&str]) -> Value {
    let output = daemon.st2(&[&["-j", "run"], args].concat());
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("st2 run {args:?} printed no JSON ({e}): {}\n{}", String::from_utf8_lossy(&output.stderr), daemon.log())
    })
}

/// What of an execution must not depend on how its process started.
fn outcome(execution: &Value) -> Value {
    let result = &execution["result"];
    let stderr = result["stderr"].as_str().unwrap_or_default();
    // A traceback names the file and line, not the process.
    json!({
        "status": execution["status"],
        "result": result["result"],
        "stdout": result["stdout"],
        "stderr_lines": stderr.lines().filter(|l| !l.contains(" INFO ") && !l.contains(" DEBUG ")).collect::<Vec<_>>(),
        "exit_code": result["exit_code"],
    })
}

fn warm_state(daemon: &Daemon) -> Value {
    daemon.ctl_json(&["status"])["warm_interpreters"].clone()
}

/// Runs `args` until the warm interpreter is up and has forked a run; returns the executions.
fn until_warm(daemon: &Daemon, args: &[&str]) {
    eventually("the warm interpreter to fork a run", || {
        run(daemon, args);
        warm_state(daemon)[0]["forks"].as_u64().filter(|forks| *forks > 0).map(|_| ())
    });
}

fn processes_with(marker: &str) -> String {
    let found = std::process::Command::new("pgrep").arg("-af").arg(marker).output().expect("pgrep runs");
    String::from_utf8_lossy(&found.stdout).into_owned()
}

#[test]
fn a_warm_run_is_a_cold_run_and_sees_the_pack_as_it_is_now() {
    st2d_tests::require_python();
    let cold_home = Home::new();
    probe_pack(&cold_home);
    let cold = Daemon::start(&cold_home, &["serve", "--no-python-warm"]);
    let home = Home::new();
    probe_pack(&home);
    let warm = Daemon::start(&home, &["serve"]);
    until_warm(&warm, &["probe.show", "who=first"]);
    assert_eq!(warm_state(&cold), json!([]), "no warm interpreter with --no-python-warm");
    let warm_forks = warm_state(&warm)[0]["forks"].as_u64().unwrap_or(0);

    for ending in ["ok", "false", "raise", "exit"] {
        let args = ["probe.show", "who=world", &format!("ending={ending}")];
        let (from_warm, from_cold) = (run(&warm, &args), run(&cold, &args));
        // Each daemon has its own home, which paths (the working directory, a traceback's
        // files) name.
        let warm_seen = outcome(&from_warm).to_string().replace(&home.path().display().to_string(), "HOME");
        let cold_seen = outcome(&from_cold).to_string().replace(&cold_home.path().display().to_string(), "HOME");
        assert_eq!(warm_seen, cold_seen, "{ending}: warm {from_warm:#}\ncold {from_cold:#}");
    }
    let shown = run(&warm, &["probe.show", "who=again"]);
    assert_eq!(shown["result"]["result"]["runs"], 1, "a module global of an earlier run is not seen: {shown:#}");
    assert_eq!(shown["result"]["result"]["last"], "again");
    assert_eq!(shown["result"]["result"]["path_has_lib"], true);
    assert!(warm_state(&warm)[0]["forks"].as_u64().unwrap_or(0) >= warm_forks + 5, "{}", warm_state(&warm));

    // An edited action runs at once.
    home.write(
        "packs/probe/actions/show.py",
        "from st2common.runners.base_action import Action\n\n\nclass Show(Action):\n    def run(self, who, ending):\n        return 'edited %s' % who\n",
    );
    let edited = run(&warm, &["probe.show", "who=x"]);
    assert_eq!(edited["result"]["result"], "edited x", "{edited:#}");
}

#[test]
fn a_forked_run_is_killed_on_timeout_and_cancel_and_a_killed_interpreter_fails_only_its_run() {
    st2d_tests::require_python();
    let home = Home::new();
    probe_pack(&home);
    let daemon = Daemon::start(&home, &["serve"]);
    until_warm(&daemon, &["probe.show", "who=first"]);

    let marker = format!("st2d-warm-timeout-{}", std::process::id());
    let id = daemon.ctl_json(&["run", "probe.nap", &format!("marker={marker}"), "timeout=2", "--async"])["id"]
        .as_str()
        .expect("an id")
        .to_string();
    eventually("the nap to start", || (!processes_with(&marker).is_empty()).then_some(()));
    let timed_out = daemon.wait_json("the timeout", &["execution", "get", &id], |e| e["status"] == "timeout");
    assert_eq!(timed_out["status"], "timeout", "{timed_out:#}");
    eventually("the timed-out run's processes to go", || processes_with(&marker).is_empty().then_some(()));

    let marker = format!("st2d-warm-cancel-{}", std::process::id());
    let id = daemon.ctl_json(&["run", "probe.nap", &format!("marker={marker}"), "--async"])["id"]
        .as_str()
        .expect("an id")
        .to_string();
    eventually("the nap to start", || (!processes_with(&marker).is_empty()).then_some(()));
    daemon.ctl_json(&["execution", "cancel", &id]);
    daemon.wait_json("the cancel", &["execution", "get", &id], |e| e["status"] == "canceled");
    eventually("the canceled run's processes to go", || processes_with(&marker).is_empty().then_some(()));

    // kill -9 of the warm interpreter while a run is in flight: that run fails, the next ones
    // succeed (cold, then warm again).
    let marker = format!("st2d-warm-kill-{}", std::process::id());
    let id = daemon.ctl_json(&["run", "probe.nap", &format!("marker={marker}"), "--async"])["id"]
        .as_str()
        .expect("an id")
        .to_string();
    eventually("the nap to start", || (!processes_with(&marker).is_empty()).then_some(()));
    let pid = warm_state(&daemon)[0]["pid"].as_u64().expect("the warm pid");
    assert!(std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().expect("kill").success());
    let lost = daemon.wait_json("the run in flight to end", &["execution", "get", &id], |e| e["status"] == "failed");
    assert_eq!(lost["result"]["exit_code"], -1, "{lost:#}");
    let next = run(&daemon, &["probe.show", "who=after"]);
    assert_eq!(next["status"], "succeeded", "{next:#}");
    // It comes back on a later run, once its backoff has passed.
    let forks = warm_state(&daemon)[0]["forks"].as_u64().unwrap_or(0);
    eventually("the warm interpreter to come back and fork again", || {
        run(&daemon, &["probe.show", "who=warm-again"]);
        let state = warm_state(&daemon);
        (state[0]["restarts"] == 1 && state[0]["forks"].as_u64().unwrap_or(0) > forks).then_some(())
    });
}

#[test]
fn no_python_action_outlives_a_killed_st2d_warm_or_cold() {
    st2d_tests::require_python();
    for (label, args) in [("warm", &["serve"][..]), ("cold", &["serve", "--no-python-warm"][..])] {
        let home = Home::new();
        probe_pack(&home);
        let daemon = Daemon::start(&home, args);
        if label == "warm" {
            until_warm(&daemon, &["probe.show", "who=first"]);
        }
        let marker = format!("st2d-outlive-{label}-{}", std::process::id());
        daemon.ctl_json(&["run", "probe.nap", &format!("marker={marker}"), "--async"]);
        eventually("the nap and its subprocess to start", || {
            (processes_with(&marker).lines().count() >= 1).then_some(())
        });
        // The action asks nothing of st2d while it naps: only st2d's end can stop it.
        daemon.signal(9);
        let _killed = daemon.wait_exit();
        eventually(&format!("the {label} run's processes to go with st2d"), || {
            processes_with(&marker).is_empty().then_some(())
        });
    }
}

#[test]
fn sensors_start_warm_and_green_and_restart_as_before() {
    st2d_tests::require_python();
    let home = Home::new();
    home.write("packs/green/pack.yaml", &pack_yaml("green", "sensors"));
    for n in 0..3 {
        home.write(
            &format!("packs/green/sensors/s{n}.yaml"),
            &format!(
                "class_name: S{n}\nentry_point: s{n}.py\ntrigger_types:\n  - name: seen{n}\n    payload_schema: {{type: object}}\n"
            ),
        );
        home.write(
            &format!("packs/green/sensors/s{n}.py"),
            &format!(
                "import os\nimport socket\nimport threading\n\nfrom st2reactor.sensor.base import Sensor\n\n\nclass S{n}(Sensor):\n    def setup(self):\n        pass\n\n    def run(self):\n        self.sensor_service.dispatch(trigger='green.seen{n}', payload={{'pid': os.getpid(), 'green': 'eventlet' in type(socket.socket()).__module__}})\n        threading.Event().wait()\n\n    def cleanup(self):\n        pass\n\n    def add_trigger(self, trigger):\n        pass\n\n    def update_trigger(self, trigger):\n        pass\n\n    def remove_trigger(self, trigger):\n        pass\n"
            ),
        );
    }
    let daemon = Daemon::start(&home, &["serve"]);
    // One green interpreter per import path: one more comes up when the base libraries are
    // found after the start.
    let sensors_warm =
        || warm_state(&daemon).as_array().cloned().unwrap_or_default().into_iter().filter(|w| w["kind"] == "sensors");
    let forks = || sensors_warm().filter_map(|w| w["forks"].as_u64()).sum::<u64>();
    // The first start may be cold (the green interpreter comes up with it); a restart forks.
    eventually("a green interpreter to come up", || sensors_warm().any(|w| w["state"] == "up").then_some(()));
    let before = forks();
    let output = daemon.ctl(&["restart-component", "sensor_container"]);
    assert!(output.status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let seen = loop {
        let found = (|| {
            let forks = forks() - before;
            let instances = daemon.ctl_json(&["trigger-instance", "list", "-n", "100"]);
            let sensors = daemon.ctl_json(&["sensor", "list"]);
            let pids: Vec<u64> = sensors.as_array()?.iter().filter_map(|s| s["pid"].as_u64()).collect();
            // What the sensors running now (started after the restart) dispatched.
            let list: Vec<Value> = instances
                .as_array()?
                .iter()
                .filter(|i| i["trigger"].as_str().is_some_and(|t| t.starts_with("green.seen")))
                .filter(|i| i["payload"]["pid"].as_u64().is_some_and(|pid| pids.contains(&pid)))
                .cloned()
                .collect();
            (forks >= 3 && list.len() == 3).then_some(list)
        })();
        if let Some(list) = found {
            break list;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "every sensor to dispatch after the restart, forked warm: {}\n{}\n{}",
            warm_state(&daemon),
            daemon.ctl_json(&["trigger-instance", "list", "-n", "100"]),
            daemon.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    for instance in &seen {
        assert_eq!(instance["payload"]["green"], true, "sensors run monkey-patched, warm or cold: {instance:#}");
    }
    let running = daemon.ctl_json(&["status"])["sensors_running"].clone();
    assert_eq!(running, 3);
}

/// A pack whose action module counts its imports in a file, keeps a module global, and imports
/// a module of its `actions/lib`.
fn preload_pack(home: &Home) {
    home.write("packs/pre/pack.yaml", &pack_yaml("pre", "preloaded python actions"));
    home.write("packs/pre/config.schema.yaml", "greeting:\n  type: string\n  default: hello\n");
    home.write(
        "packs/pre/actions/count.yaml",
        "---\nname: count\nrunner_type: python-script\nentry_point: count.py\nparameters:\n  who: {type: string, required: true}\n",
    );
    home.write("packs/pre/actions/lib/helper.py", "def shout(text):\n    return text.upper()\n");
    let imports = home.path().join("imports.log");
    home.write(
        "packs/pre/actions/count.py",
        &format!(
            r#"import os
import sys

from helper import shout
from st2common.runners.base_action import Action

with open({imports:?}, "a") as log:
    log.write("%d\n" % os.getpid())

RUNS = []


class Count(Action):
    def run(self, who):
        RUNS.append(who)
        print("stdout of %s" % who)
        sys.stderr.write("stderr of %s\n" % who)
        self.action_service.set_value("last", who)
        return {{"text": shout("%s %s" % (self.config["greeting"], who)), "runs": len(RUNS),
                "last": self.action_service.get_value("last"), "pid": os.getpid()}}
"#
        ),
    );
}

/// The warm interpreter that preloads `pack`.
fn preloading(daemon: &Daemon, pack: &str) -> Value {
    warm_state(daemon)
        .as_array()
        .and_then(|list| list.iter().find(|w| w["pack"] == pack).cloned())
        .unwrap_or(Value::Null)
}

fn import_pids(home: &Home) -> Vec<u64> {
    std::fs::read_to_string(home.path().join("imports.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect()
}

#[test]
fn a_preloaded_pack_runs_as_cold_imports_once_and_sees_an_edit_at_once() {
    st2d_tests::require_python();
    let home = Home::new();
    preload_pack(&home);
    let daemon = Daemon::start(&home, &["serve", "--python-preload", "pre"]);
    eventually("the preloading interpreter to fork a run", || {
        run(&daemon, &["pre.count", "who=first"]);
        let warm = preloading(&daemon, "pre");
        (warm["forks"].as_u64().unwrap_or(0) > 0).then_some(())
    });
    let warm = preloading(&daemon, "pre");
    assert_eq!(warm["kind"], "actions");
    assert_eq!(warm["preloaded"], 1, "{warm}");
    let warm_pid = warm["pid"].as_u64().expect("a pid");
    let imports_before = import_pids(&home);
    assert!(imports_before.contains(&warm_pid), "the warm interpreter imported the module: {imports_before:?}");

    let first = run(&daemon, &["pre.count", "who=world"]);
    let second = run(&daemon, &["pre.count", "who=again"]);
    for (shown, who) in [(&first, "world"), (&second, "again")] {
        assert_eq!(shown["status"], "succeeded", "{shown:#}");
        let result = &shown["result"];
        assert_eq!(result["result"]["text"], format!("HELLO {}", who.to_uppercase()), "{shown:#}");
        assert_eq!(result["result"]["runs"], 1, "a module global of an earlier run is not seen: {shown:#}");
        assert_eq!(result["result"]["last"], who);
        assert_eq!(result["stdout"], format!("stdout of {who}\n"));
        assert!(result["stderr"].as_str().unwrap_or_default().contains(&format!("stderr of {who}\n")), "{shown:#}");
        assert_eq!(result["exit_code"], 0);
        assert_ne!(result["result"]["pid"].as_u64(), Some(warm_pid));
    }
    assert_eq!(import_pids(&home), imports_before, "a forked run does not import the preloaded module again");
    assert_eq!(preloading(&daemon, "pre")["pid"].as_u64(), Some(warm_pid));

    // An edited action runs at once, and its pack's interpreter is replaced by one that has
    // imported the new file.
    home.write(
        "packs/pre/actions/count.py",
        "from helper import shout\nfrom st2common.runners.base_action import Action\n\n\nclass Count(Action):\n    def run(self, who):\n        return shout('edited %s' % who)\n",
    );
    let edited = run(&daemon, &["pre.count", "who=x"]);
    assert_eq!(edited["result"]["result"], "EDITED X", "{edited:#}");
    // So does an edited module of the pack's lib.
    home.write("packs/pre/actions/lib/helper.py", "def shout(text):\n    return '<%s>' % text\n");
    let edited = run(&daemon, &["pre.count", "who=y"]);
    assert_eq!(edited["result"]["result"], "<edited y>", "{edited:#}");
    eventually("a new preloading interpreter to fork the edited action", || {
        let shown = run(&daemon, &["pre.count", "who=z"]);
        assert_eq!(shown["result"]["result"], "<edited z>", "{shown:#}");
        let warm = preloading(&daemon, "pre");
        (warm["pid"].as_u64().is_some_and(|pid| pid != warm_pid) && warm["forks"].as_u64().unwrap_or(0) > 0)
            .then_some(())
    });
    let status = daemon.ctl(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("preloads pack pre: 1 action module"), "{text}");
}

#[test]
fn a_preloaded_run_is_a_cold_run() {
    st2d_tests::require_python();
    let cold_home = Home::new();
    probe_pack(&cold_home);
    let cold = Daemon::start(&cold_home, &["serve", "--no-python-warm"]);
    let home = Home::new();
    probe_pack(&home);
    let preloaded = Daemon::start(&home, &["serve", "--python-preload", "probe"]);
    eventually("the preloading interpreter to fork a run", || {
        run(&preloaded, &["probe.show", "who=first"]);
        (preloading(&preloaded, "probe")["forks"].as_u64().unwrap_or(0) > 0).then_some(())
    });
    assert_eq!(preloading(&preloaded, "probe")["preloaded"], 2, "{}", warm_state(&preloaded));
    for ending in ["ok", "false", "raise", "exit"] {
        let args = ["probe.show", "who=world", &format!("ending={ending}")];
        let (from_warm, from_cold) = (run(&preloaded, &args), run(&cold, &args));
        let warm_seen = outcome(&from_warm).to_string().replace(&home.path().display().to_string(), "HOME");
        let cold_seen = outcome(&from_cold).to_string().replace(&cold_home.path().display().to_string(), "HOME");
        assert_eq!(warm_seen, cold_seen, "{ending}: preloaded {from_warm:#}\ncold {from_cold:#}");
    }
}
