//! The Python environment packs expect from StackStorm: its implicit libraries (six, requests,
//! eventlet, PyYAML, oslo.config, python-dateutil, st2client...) and the st2common API surface
//! packs import, for actions and sensors, with and without a pack virtualenv; the import path
//! in StackStorm's order; the shim's own Python unit tests.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use st2d_tests::pyenv::base_libraries_dir;
use st2d_tests::{Daemon, Home, SENSOR_NO_OP_METHODS, pack_yaml, require_python, stderr, stdout, write_file};

/// What an action or sensor of the test pack reports: every module of the issue imported, and
/// a call into each that does something.
const PROBE: &str = r#"
import json, os, sys

def probe():
    import six, requests, urllib3, yaml, dateutil, jinja2, eventlet
    from oslo_config import cfg
    from st2client.client import Client
    from st2client.models import KeyValuePair
    from st2common.util import isotime, date as st2date, shell, jinja as st2jinja
    from st2common import log as st2log
    from st2common.content import utils as content_utils
    from st2common.runners.utils import get_logger_for_python_runner_action
    from st2common.exceptions.action import InvalidActionReferencedException
    from st2common.constants.action import LIVEACTION_STATUS_SUCCEEDED
    from st2actions.runners.pythonrunner import Action as LegacyAction
    from st2common.runners.base_action import Action
    green = eventlet.spawn(lambda n: n * 2, 21)
    eventlet.sleep(0)
    try:
        import st2common.persistence  # noqa: F401
        refused = "imported"
    except ImportError as error:
        refused = "%s: %s" % (type(error).__name__, error)
    return {
        "six": six.__version__,
        "six_file": six.__file__,
        "parsed": isotime.format(isotime.parse("2016-01-01T10:00:00.000000Z"), offset=False),
        "quoted": shell.quote_unix("it's"),
        "kv": KeyValuePair(name="k", value="v").name,
        "spawned": green.wait(),
        "yaml": yaml.safe_load("a: [1, 2]"),
        "succeeded": LIVEACTION_STATUS_SUCCEEDED,
        "legacy": LegacyAction is Action,
        "logger": st2log.getLogger("probe").name,
        "packs_paths": content_utils.get_packs_base_paths(),
        "client": Client.__name__,
        "green": eventlet.patcher.is_monkey_patched("socket"),
        "refused": refused,
        "sys_path": sys.path,
    }
"#;

const ACTION: &str = r#"
from st2common.runners.base_action import Action
from envprobe import probe


class Imports(Action):
    def run(self):
        return probe()
"#;

const SENSOR: &str = r#"
import json
from st2reactor.sensor.base import Sensor


class Probe(Sensor):
    def setup(self):
        pass

    def run(self):
        try:
            from envprobe import probe
            report = probe()
        except Exception as error:  # noqa: BLE001
            report = {"error": "%s: %s" % (type(error).__name__, error)}
        self.sensor_service.set_value("report", json.dumps(report), local=False)
"#;

/// A sensor that patches with eventlet itself, as some Exchange packs do, and runs green threads.
const SELF_PATCHING_SENSOR: &str = r#"
import eventlet
eventlet.monkey_patch()
from st2reactor.sensor.base import Sensor


class SelfPatch(Sensor):
    def setup(self):
        pass

    def run(self):
        ticks = []

        def tick(n):
            eventlet.sleep(0.01 * (3 - n))
            ticks.append(n)

        for thread in [eventlet.spawn(tick, n) for n in range(3)]:
            thread.wait()
        self.sensor_service.set_value("self_patched", ",".join(str(n) for n in ticks), local=False)
        eventlet.sleep(3600)
"#;

fn write_pack(home: &Home) {
    let dir = home.packs().join("envtest");
    write_file(&dir.join("pack.yaml"), &pack_yaml("envtest", "imports what StackStorm provides"));
    write_file(
        &dir.join("actions/imports.yaml"),
        "name: imports\nrunner_type: python-script\nentry_point: imports.py\n",
    );
    write_file(&dir.join("actions/imports.py"), ACTION);
    write_file(&dir.join("actions/lib/envprobe.py"), PROBE);
    write_file(&dir.join("sensors/probe.yaml"), "class_name: Probe\nentry_point: probe.py\n");
    write_file(&dir.join("sensors/probe.py"), &format!("{SENSOR}{SENSOR_NO_OP_METHODS}"));
    write_file(&dir.join("sensors/selfpatch.yaml"), "class_name: SelfPatch\nentry_point: selfpatch.py\n");
    write_file(&dir.join("sensors/selfpatch.py"), &format!("{SELF_PATCHING_SENSOR}{SENSOR_NO_OP_METHODS}"));
    // Sensors find the probe through the pack's common lib directory.
    write_file(&dir.join("lib/envprobe.py"), PROBE);
}

fn run_imports(daemon: &Daemon) -> Value {
    let output = daemon.ctl(&["-j", "run", "envtest.imports"]);
    let execution: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    assert_eq!(execution["status"], "succeeded", "{execution:#}{}\nst2d log:\n{}", stderr(&output), daemon.log());
    execution["result"]["result"].clone()
}

fn sensor_report(daemon: &Daemon) -> Value {
    let key = daemon.wait_json("the sensor's report", &["key", "get", "report"], |v| v["value"].is_string());
    serde_json::from_str(key["value"].as_str().expect("a string")).expect("the report is JSON")
}

fn assert_probe(report: &Value, base: &Path, packs: &Path) {
    assert!(report.get("error").is_none(), "{report:#}");
    assert_eq!(report["parsed"], "2016-01-01T10:00:00.000000Z");
    assert_eq!(report["quoted"], "'it'\"'\"'s'");
    assert_eq!(report["kv"], "k");
    assert_eq!(report["spawned"], 42);
    assert_eq!(report["yaml"], serde_json::json!({"a": [1, 2]}));
    assert_eq!(report["succeeded"], "succeeded");
    assert_eq!(report["legacy"], true);
    assert_eq!(report["logger"], "st2.probe");
    assert_eq!(report["client"], "Client");
    assert_eq!(report["packs_paths"][0], packs.display().to_string());
    let refused = report["refused"].as_str().unwrap_or_default();
    assert!(refused.contains("st2d") && !refused.starts_with("ModuleNotFoundError"), "{refused}");
    let base = base.display().to_string();
    assert!(
        report["sys_path"]
            .as_array()
            .is_some_and(|path| path.iter().any(|p| p.as_str().is_some_and(|p| p.starts_with(&base)))),
        "the base libraries are on the path: {report:#}"
    );
}

#[test]
fn actions_and_sensors_import_what_stackstorm_provides_with_and_without_a_virtualenv() {
    require_python();
    let base = base_libraries_dir();
    let home = Home::new();
    write_pack(&home);
    let base_arg = base.display().to_string();
    let daemon = Daemon::start(&home, &["--python-base-dir", &base_arg, "--enable-common-libs"]);
    let packs = home.packs();

    let report = run_imports(&daemon);
    assert_probe(&report, &base, &packs);
    assert_eq!(report["six"], "1.17.0", "StackStorm's six without a virtualenv");
    assert_eq!(report["green"], false, "actions are not monkey-patched, as in StackStorm");
    let sensor = sensor_report(&daemon);
    assert_probe(&sensor, &base, &packs);
    assert_eq!(sensor["green"], true, "sensors run monkey-patched by eventlet, as in StackStorm");
    let ticks = daemon.wait_json("the self-patching sensor's green threads", &["key", "get", "self_patched"], |v| {
        v["value"].is_string()
    });
    assert_eq!(ticks["value"], "2,1,0", "green threads ran by their sleeps");
    assert_eq!(daemon.ctl_json(&["sensor", "get", "envtest.SelfPatch"])["state"], "running");

    // The action's own directory comes after every library, as StackStorm's loader appends it.
    let path: Vec<&str> = report["sys_path"].as_array().expect("path").iter().filter_map(Value::as_str).collect();
    let actions_dir = packs.join("envtest/actions").display().to_string();
    let actions_lib = packs.join("envtest/actions/lib").display().to_string();
    let own = path.iter().position(|p| *p == actions_dir).expect("the action's directory is on the path");
    let lib = path.iter().position(|p| *p == actions_lib).expect("actions/lib is on the path");
    let base_position = path.iter().position(|p| p.starts_with(&base_arg)).expect("the base libraries");
    assert!(lib < base_position && base_position < own, "{path:#?}");

    // A pack virtualenv pinning another six: its pin wins, StackStorm's libraries still import.
    let venv = home.path().join("virtualenvs/envtest");
    let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).output().expect("python3 runs");
    assert!(made.status.success(), "python3 -m venv (apt-get install python3-venv): {}", stderr(&made));
    let pinned = Command::new(venv.join("bin/python"))
        .args(["-m", "pip", "install", "--disable-pip-version-check", "-q", "six==1.16.0"])
        .output()
        .expect("pip runs");
    assert!(pinned.status.success(), "pip install six==1.16.0 from PyPI: {}{}", stdout(&pinned), stderr(&pinned));
    let report = run_imports(&daemon);
    assert_probe(&report, &base, &packs);
    assert_eq!(report["six"], "1.16.0", "the pack's own six: {report:#}");
    assert!(report["six_file"].as_str().is_some_and(|f| f.starts_with(&venv.display().to_string())), "{report:#}");
    // The sensor starts again in the virtualenv (its interpreter changed) and gets the pack's six.
    daemon.ctl(&["key", "delete", "report"]);
    daemon.ctl(&["reload"]);
    let sensor = daemon.wait_json("the sensor's report from the virtualenv", &["key", "get", "report"], |v| {
        v["value"].as_str().is_some_and(|text| text.contains("\"six\": \"1.16.0\""))
    });
    let sensor: Value = serde_json::from_str(sensor["value"].as_str().expect("a string")).expect("JSON");
    assert_probe(&sensor, &base, &packs);
}

#[test]
fn without_common_libs_a_pack_lib_is_not_on_the_path() {
    require_python();
    let home = Home::new();
    write_pack(&home);
    // The action finds its probe in actions/lib; the sensor only in lib/, which StackStorm
    // leaves off unless [packs] enable_common_libs is set.
    let daemon = Daemon::start(&home, &["--python-base-dir", &base_libraries_dir().display().to_string()]);
    let report = sensor_report(&daemon);
    let error = report["error"].as_str().unwrap_or_default();
    assert!(error.contains("No module named 'envprobe'"), "{report:#}");
}

#[test]
fn the_shims_python_unit_tests_pass_with_and_without_the_base_libraries() {
    require_python();
    let shim = Path::new(env!("CARGO_MANIFEST_DIR")).join("../daemon/python");
    let site = base_libraries_dir();
    let site = std::fs::read_dir(&site)
        .expect("the base libraries directory")
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("site"))
        .find(|site| site.is_dir())
        .expect("a built site directory");
    for with_base in [false, true] {
        let mut command = Command::new("python3");
        command.args(["-m", "unittest", "discover", "-s", "tests", "-t", "."]).current_dir(&shim);
        command.env("PYTHONDONTWRITEBYTECODE", "1");
        if with_base {
            command.env("PYTHONPATH", &site);
        }
        let output = command.output().expect("python3 runs");
        assert!(
            output.status.success(),
            "the shim's unit tests (base libraries: {with_base}):\n{}{}",
            stdout(&output),
            stderr(&output)
        );
        assert!(stderr(&output).contains("OK"), "unittest reports OK: {}", stderr(&output));
    }
}
