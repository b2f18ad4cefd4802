//! Pack processes as an unprivileged user (`--action-user`), end to end, with st2d started as
//! root: a local command, a python action (forked warm and started cold), the warm
//! interpreters and a sensor run as `nobody`, a `sudo: true` action as root, and st2d's own
//! data stays usable (executions recorded, a reload, a restart on the same home). The start
//! refuses a user that does not exist, a home the user cannot enter, and (st2d not running as
//! root) a user other than its own. Without `--action-user` root runs pack code as `stanley`,
//! or as root with a warning when there is none.
//!
//! These tests need root: only root starts processes as another user.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use st2d_tests::sshd::require_root;
use st2d_tests::{Daemon, Home, eventually, pack_yaml};

/// nobody's uid, as the tests expect it of the processes.
const NOBODY: u64 = 65534;

fn need_root() {
    require_root("to start st2d with --action-user nobody (only root can run actions and sensors as another user)");
}

/// A home `nobody` can enter (a temporary directory is 0700).
fn home_for_nobody() -> Home {
    let home = Home::new();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod home");
    home
}

/// A pack whose actions and sensor say who they run as.
fn who_pack(home: &Home) {
    home.write("packs/who/pack.yaml", &pack_yaml("who", "who runs pack code"));
    home.write(
        "packs/who/actions/shell.yaml",
        "---\nname: shell\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    default: id -un\n",
    );
    home.write(
        "packs/who/actions/root.yaml",
        "---\nname: root\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    default: id -u\n  sudo:\n    default: true\n",
    );
    home.write("packs/who/actions/py.yaml", "---\nname: py\nrunner_type: python-script\nentry_point: py.py\n");
    home.write(
        "packs/who/actions/py.py",
        "import os\n\nfrom st2common.runners.base_action import Action\n\n\nclass Py(Action):\n    def run(self):\n        return {'uid': os.getuid(), 'euid': os.geteuid(), 'gid': os.getgid(), 'home': os.environ.get('HOME'), 'user': os.environ.get('USER')}\n",
    );
    home.write(
        "packs/who/sensors/watch.yaml",
        "class_name: Watch\nentry_point: watch.py\ntrigger_types:\n  - name: seen\n    payload_schema: {type: object}\n",
    );
    home.write(
        "packs/who/sensors/watch.py",
        "import os\nimport threading\n\nfrom st2reactor.sensor.base import Sensor\n\n\nclass Watch(Sensor):\n    def setup(self):\n        pass\n\n    def run(self):\n        self.sensor_service.dispatch(trigger='who.seen', payload={'uid': os.getuid(), 'pid': os.getpid()})\n        threading.Event().wait()\n\n    def cleanup(self):\n        pass\n\n    def add_trigger(self, trigger):\n        pass\n\n    def update_trigger(self, trigger):\n        pass\n\n    def remove_trigger(self, trigger):\n        pass\n",
    );
}

fn run(daemon: &Daemon, action: &str) -> Value {
    let output = daemon.st2(&["-j", "run", action]);
    let execution: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("st2 run {action} printed no JSON ({e}): {}\n{}", String::from_utf8_lossy(&output.stderr), daemon.log())
    });
    assert_eq!(execution["status"], "succeeded", "{action}: {execution:#}\n{}", daemon.log());
    execution
}

/// The real uid of process `pid`.
fn uid_of(pid: u64) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the process is there");
    let line = status.lines().find(|line| line.starts_with("Uid:")).expect("a Uid line");
    line.split_whitespace().nth(1).and_then(|uid| uid.parse().ok()).expect("a uid")
}

fn warm(daemon: &Daemon, kind: &str) -> Vec<Value> {
    let status = daemon.ctl_json(&["status"]);
    let all = status["warm_interpreters"].as_array().cloned().unwrap_or_default();
    all.into_iter().filter(|w| w["kind"] == kind).collect()
}

#[test]
fn actions_and_sensors_run_as_the_action_user_and_sudo_actions_as_root() {
    need_root();
    st2d_tests::require_python();
    let home = home_for_nobody();
    who_pack(&home);
    let daemon = Daemon::start(&home, &["serve", "--action-user", "nobody"]);
    assert_eq!(daemon.ctl_json(&["status"])["action_user"], "nobody");
    let status = String::from_utf8_lossy(&daemon.ctl(&["status"]).stdout).into_owned();
    assert!(status.contains("actions and sensors run as: nobody"), "{status}");

    let shell = run(&daemon, "who.shell");
    assert_eq!(shell["result"]["stdout"], "nobody", "{shell:#}");
    let root = run(&daemon, "who.root");
    assert_eq!(root["result"]["stdout"], 0, "sudo: true runs as root: {root:#}");

    // A python action forked from the warm interpreter, which runs as nobody itself.
    let python = eventually("a python run forked from the warm interpreter", || {
        let python = run(&daemon, "who.py");
        warm(&daemon, "actions").iter().any(|w| w["forks"].as_u64() > Some(0)).then_some(python)
    });
    let result = &python["result"]["result"];
    assert_eq!((result["uid"].as_u64(), result["euid"].as_u64()), (Some(NOBODY), Some(NOBODY)), "{python:#}");
    assert_eq!((result["user"].as_str(), result["home"].as_str()), (Some("nobody"), Some("/nonexistent")));
    for interpreter in warm(&daemon, "actions") {
        let pid = interpreter["pid"].as_u64().expect("the warm interpreter's pid");
        assert_eq!(uid_of(pid), NOBODY, "the warm interpreter runs as nobody: {interpreter}");
    }

    // The sensor, and the green interpreter it may have been forked from.
    let sensor = daemon.wait_json("who.Watch to run", &["sensor", "get", "who.Watch"], |s| {
        s["state"] == "running" && s["pid"].as_u64().is_some()
    });
    let pid = sensor["pid"].as_u64().expect("the sensor's pid");
    assert_eq!(uid_of(pid), NOBODY, "the sensor's process runs as nobody: {sensor:#}");
    let instance = eventually("the sensor's dispatch", || {
        let list = daemon.ctl_json(&["trigger-instance", "list", "-n", "100"]);
        list.as_array()?.iter().find(|i| i["trigger"] == "who.seen").cloned()
    });
    assert_eq!(instance["payload"]["uid"].as_u64(), Some(NOBODY), "{instance:#}");
    for interpreter in warm(&daemon, "sensors").iter().filter(|w| w["pid"].as_u64() > Some(0)) {
        let pid = interpreter["pid"].as_u64().expect("a pid");
        assert_eq!(uid_of(pid), NOBODY, "the green interpreter runs as nobody: {interpreter}");
    }

    // st2d's own data stays usable: the executions are recorded, a reload works, and so does a
    // start on the same home, with python actions started cold this time.
    let id = shell["id"].as_str().expect("an execution id");
    let recorded = daemon.ctl_json(&["execution", "get", id]);
    assert_eq!(recorded["status"], "succeeded", "{recorded:#}");
    let reload = daemon.ctl(&["reload"]);
    assert!(reload.status.success(), "{}", String::from_utf8_lossy(&reload.stderr));
    daemon.signal(15);
    assert!(daemon.wait_exit().success(), "st2d stops cleanly");
    let daemon = Daemon::start(&home, &["serve", "--action-user", "nobody", "--no-python-warm"]);
    let cold = run(&daemon, "who.py");
    assert_eq!(cold["result"]["result"]["uid"].as_u64(), Some(NOBODY), "a cold python run: {cold:#}");
    assert!(warm(&daemon, "actions").is_empty(), "no warm interpreter with --no-python-warm");
    assert_eq!(run(&daemon, "who.shell")["result"]["stdout"], "nobody");
    let listed = daemon.ctl_json(&["execution", "get", id]);
    assert_eq!(listed["status"], "succeeded", "the first start's executions are still there: {listed:#}");
}

#[test]
fn the_start_refuses_an_unknown_user_and_a_home_the_user_cannot_enter() {
    need_root();
    let home = home_for_nobody();
    let log = stopped(Daemon::spawn(&home, &["serve", "--action-user", "no-such-user-st2d"], &[]));
    assert!(log.contains("--action-user no-such-user-st2d: there is no such user"), "{log}");

    let closed = Home::new();
    std::fs::set_permissions(closed.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod home");
    let log = stopped(Daemon::spawn(&closed, &["serve", "--action-user", "nobody"], &[]));
    assert!(log.contains("the action user nobody cannot reach what actions and sensors need"), "{log}");
    let blocked = format!("{} cannot be entered by nobody (mode 0700, owner root)", closed.path().display());
    assert!(log.contains(&blocked), "the directory in the way is named: {log}");
    assert!(!closed.socket().exists(), "the control socket was never made");
}

/// The log of a daemon that must stop by itself, failing, saying why.
fn stopped(daemon: Daemon) -> String {
    eventually("st2d to say why it stops", || daemon.log().contains("st2d: ").then_some(()));
    let log = daemon.log();
    assert!(!daemon.wait_exit().success(), "st2d refused to start: {log}");
    log
}

#[test]
fn st2d_not_running_as_root_refuses_to_run_pack_code_as_another_user() {
    need_root();
    // A home nobody owns, and st2d started as nobody.
    let home = home_for_nobody();
    std::os::unix::fs::chown(home.path(), Some(NOBODY as u32), Some(NOBODY as u32)).expect("chown home");
    let as_nobody = |action_user: &str| -> Output {
        let mut command = st2d_tests::st2d_command();
        command
            .arg("--home")
            .arg(home.path())
            .args(["serve", "--action-user", action_user])
            .current_dir("/")
            .uid(NOBODY as u32)
            .gid(NOBODY as u32)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = command.spawn().expect("st2d starts");
        ended_within(child, Duration::from_secs(30))
    };
    let refused = as_nobody("root");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("--action-user root: st2d runs as nobody, not as root, so it cannot start actions and sensors as another user"),
        "{stderr}"
    );
    let unknown = as_nobody("no-such-user-st2d");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("there is no such user"));
}

/// The output of `child`, which must end by itself within `limit` (it is killed otherwise).
fn ended_within(mut child: std::process::Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("try_wait works").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("st2d did not stop by itself: {:?}", child.wait_with_output());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("its output")
}

#[test]
fn without_the_flag_root_runs_pack_code_as_stanley_or_as_root_with_a_warning() {
    need_root();
    let home = Home::new();
    // An empty ST2D_ACTION_USER is no choice (the harness names the test user otherwise).
    let daemon = Daemon::start_with(&home, &["serve"], &[("ST2D_ACTION_USER", Path::new(""))]);
    let user = daemon.ctl_json(&["status"])["action_user"].clone();
    let stanley = std::process::Command::new("id").arg("stanley").output().expect("id runs");
    if stanley.status.success() {
        assert_eq!(user, "stanley");
        return;
    }
    assert_eq!(user, "root");
    let log = daemon.log();
    assert!(
        log.contains("st2d runs as root and there is no user \"stanley\": actions and sensors run as root")
            && log.contains("--action-user"),
        "one warning says so and how to change it: {log}"
    );
}
