//! Pack management end to end: the commands of StackStorm's pack documentation, run verbatim
//! through `st2` against git repositories on file:// (a monorepo with `packs/` and one-pack
//! repositories with tags), with a real virtualenv and pip; and the failures that must leave
//! the installed version in place.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use st2d_tests::{Daemon, Home, commit, require_git, require_python, stderr, stdout, write_file};

/// A program of git's own (`git --exec-path`), such as git-daemon.
fn git_tool(name: &str) -> PathBuf {
    let exec_path = Command::new("git").arg("--exec-path").output().expect("git runs");
    Path::new(String::from_utf8_lossy(&exec_path.stdout).trim()).join(name)
}

/// `git daemon` serving `base` on a loopback port, so packs are cloned over a network protocol;
/// stopped when dropped.
struct GitDaemon {
    child: std::process::Child,
    port: u16,
}

impl GitDaemon {
    fn start(base: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
        // git-daemon itself, not `git daemon`, which would leave it behind when killed.
        let child = Command::new(git_tool("git-daemon"))
            .args(["--reuseaddr", "--export-all", "--listen=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("git-daemon starts (it comes with git)");
        st2d_tests::eventually("git daemon to listen", || std::net::TcpStream::connect(("127.0.0.1", port)).ok());
        Self { child, port }
    }

    fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pack_yaml(ref_: &str, version: &str, extra: &str) -> String {
    format!(
        "---\nref: {ref_}\nname: {ref_}\ndescription: the {ref_} pack\nversion: {version}\nauthor: st2d tests\n{extra}"
    )
}

/// A wheel with one module, `st2d_e2e_dep`, whose `GREETING` the docker sensor imports: it
/// loads only from the pack's virtualenv.
fn build_wheel(dir: &Path) -> PathBuf {
    let wheel = dir.join("st2d_e2e_dep-1.0-py3-none-any.whl");
    let script = r#"
import base64, hashlib, sys, zipfile
files = {
    "st2d_e2e_dep/__init__.py": "GREETING = 'hello from the virtualenv'\n",
    "st2d_e2e_dep-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: st2d_e2e_dep\nVersion: 1.0\n",
    "st2d_e2e_dep-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: st2d-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for name, text in files.items():
        data = text.encode()
        z.writestr(name, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("st2d_e2e_dep-1.0.dist-info/RECORD,,")
    z.writestr("st2d_e2e_dep-1.0.dist-info/RECORD", "\n".join(record) + "\n")
"#;
    let output = Command::new("python3").arg("-c").arg(script).arg(&wheel).output().expect("python3 runs");
    assert!(output.status.success(), "building the wheel failed: {}", stderr(&output));
    wheel
}

/// The docker pack: a shell action, a python action, a sensor that needs the wheel, a rule.
fn write_docker(dir: &Path, version: &str, wheel: &Path) {
    write_file(&dir.join("pack.yaml"), &pack_yaml("docker", version, ""));
    write_file(&dir.join("requirements.txt"), &format!("{}\n", wheel.display()));
    write_file(
        &dir.join("actions/ps.yaml"),
        "---\nname: ps\nrunner_type: local-shell-cmd\ndescription: lists containers\nparameters:\n  cmd: {default: echo no containers}\n",
    );
    write_file(
        &dir.join("actions/greet.yaml"),
        "---\nname: greet\nrunner_type: python-script\nentry_point: greet.py\ndescription: greets from the venv\n",
    );
    write_file(
        &dir.join("actions/greet.py"),
        "from st2common.runners.base_action import Action\nimport st2d_e2e_dep\n\nclass Greet(Action):\n    def run(self):\n        return st2d_e2e_dep.GREETING\n",
    );
    write_file(
        &dir.join("sensors/watcher.yaml"),
        "---\nclass_name: Watcher\nentry_point: watcher.py\ndescription: watches containers\ntrigger_types:\n  - name: container_event\n    payload_schema: {type: object}\n",
    );
    write_file(
        &dir.join("sensors/watcher.py"),
        "import time\nimport st2d_e2e_dep\nfrom st2reactor.sensor.base import Sensor\n\nclass Watcher(Sensor):\n    def setup(self):\n        pass\n    def run(self):\n        while True:\n            time.sleep(1)\n    def cleanup(self):\n        pass\n    def add_trigger(self, trigger):\n        pass\n    def update_trigger(self, trigger):\n        pass\n    def remove_trigger(self, trigger):\n        pass\n",
    );
    write_file(
        &dir.join("rules/on_container.yaml"),
        "---\nname: on_container\nenabled: true\ntrigger: {type: docker.container_event}\naction: {ref: docker.ps}\n",
    );
}

fn write_sensu(dir: &Path) {
    write_file(&dir.join("pack.yaml"), &pack_yaml("sensu", "0.3.0", ""));
    write_file(
        &dir.join("actions/silence.yaml"),
        "---\nname: silence\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {default: echo silenced}\n",
    );
    write_file(
        &dir.join("rules/on_alert.yaml"),
        "---\nname: on_alert\nenabled: true\ntrigger: {type: core.st2.webhook, parameters: {url: sensu}}\naction: {ref: sensu.silence}\n",
    );
}

/// `st2 -j ARGS...`, parsed.
fn st2_json(daemon: &Daemon, args: &[&str]) -> (Output, Value) {
    let mut full = vec!["-j"];
    full.extend_from_slice(args);
    let output = daemon.st2(&full);
    let value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "st2 {args:?} printed no JSON ({e}): {}\n{}\nst2d log:\n{}",
            stdout(&output),
            stderr(&output),
            daemon.log()
        )
    });
    (output, value)
}

/// Runs `st2 run ARGS...`; the execution must succeed.
fn run_ok(daemon: &Daemon, args: &[&str]) -> Value {
    let mut full = vec!["run"];
    full.extend_from_slice(args);
    let (output, execution) = st2_json(daemon, &full);
    assert!(
        output.status.success() && execution["status"] == "succeeded",
        "st2 run {args:?}: {execution:#}\nst2d log:\n{}",
        daemon.log()
    );
    execution
}

/// Runs `st2 run ARGS...`; the execution must fail (exit 1) with an error containing `reason`.
fn run_fails(daemon: &Daemon, args: &[&str], reason: &str) -> Value {
    let mut full = vec!["run"];
    full.extend_from_slice(args);
    let (output, execution) = st2_json(daemon, &full);
    assert_eq!(output.status.code(), Some(1), "st2 run {args:?} should fail: {execution:#}");
    assert_eq!(execution["status"], "failed", "{execution:#}");
    let error = execution["result"]["error"].as_str().unwrap_or_default();
    assert!(error.contains(reason), "st2 run {args:?}: expected {reason:?} in the error, got: {error}");
    execution
}

fn rule_registered(daemon: &Daemon, rule: &str) -> bool {
    daemon.ctl_json(&["rule", "get", rule])["registered"] == true
}

#[test]
fn the_documented_pack_commands_install_load_and_uninstall_packs() {
    require_git();
    require_python();
    let home = Home::new();
    let repos = home.path().join("repos");
    let wheel = build_wheel(home.path());
    // StackStorm's old layout: one repository with packs/<name> directories.
    let monorepo = repos.join("st2contrib");
    write_docker(&monorepo.join("packs/docker"), "1.0.0", &wheel);
    write_sensu(&monorepo.join("packs/sensu"));
    write_file(&monorepo.join("README.md"), "contrib\n");
    commit(&monorepo, "docker and sensu", None);
    // Today's layout: one repository per pack, versions as v-tags, listed in an index.
    let docker = repos.join("stackstorm-docker");
    write_docker(&docker, "1.0.0", &wheel);
    commit(&docker, "1.0.0", Some("v1.0.0"));
    write_docker(&docker, "1.1.0", &wheel);
    write_file(
        &docker.join("actions/prune.yaml"),
        "---\nname: prune\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {default: echo pruned}\n",
    );
    commit(&docker, "1.1.0", Some("v1.1.0"));
    write_docker(&docker, "2.0.0-dev", &wheel);
    commit(&docker, "unreleased", None);
    // The index points at the repository served over git://, so it is really cloned.
    let git_daemon = GitDaemon::start(&repos);
    let docker_url = git_daemon.url("stackstorm-docker");
    let index = home.path().join("index.json");
    write_file(
        &index,
        &format!(
            r#"{{"metadata": {{}}, "packs": {{"docker": {{"name": "docker", "version": "1.1.0", "repo_url": "{docker_url}"}}}}}}"#
        ),
    );
    home.write("configs/docker.yaml", "---\nhost: unix:///var/run/docker.sock\n");
    let index_arg = index.display().to_string();
    let daemon = Daemon::start(&home, &["serve", "--index", &index_arg]);
    let repo_url = format!("file://{}", monorepo.display());

    // st2 run packs.install packs=docker,sensu repo_url=...
    let installed = run_ok(&daemon, &["packs.install", "packs=docker,sensu", &format!("repo_url={repo_url}")]);
    assert_eq!(installed["result"]["output"]["packs_list"], serde_json::json!(["docker", "sensu"]), "{installed:#}");
    let progress = installed["result"]["stdout"].as_str().unwrap_or_default();
    assert!(progress.contains(&format!("Reading {repo_url}")), "{progress}");
    assert!(progress.contains("Installing the requirements of docker"), "{progress}");
    assert!(home.path().join("virtualenvs/docker/bin/python").exists(), "docker has a virtualenv");
    assert!(!home.path().join("virtualenvs/sensu").exists(), "sensu has no Python, so no virtualenv");
    // Rules are not loaded by default; sensors run, in the pack's virtualenv.
    assert!(!rule_registered(&daemon, "docker.on_container"));
    assert!(!rule_registered(&daemon, "sensu.on_alert"));
    daemon.wait_json("the docker sensor to run", &["sensor", "get", "docker.Watcher"], |s| s["state"] == "running");
    let greet = run_ok(&daemon, &["docker.greet"]);
    assert_eq!(greet["result"]["result"], "hello from the virtualenv", "{greet:#}");

    // st2 run packs.download packs=docker: the index names the repository and version 1.1.0.
    let downloaded = run_ok(&daemon, &["packs.download", "packs=docker"]);
    assert_eq!(downloaded["result"]["result"], serde_json::json!({"docker": "Success."}), "{downloaded:#}");
    let progress = downloaded["result"]["stdout"].as_str().unwrap_or_default();
    assert!(progress.contains(&format!("Cloning {docker_url}")), "{progress}");
    assert!(progress.contains("Receiving objects: 100%"), "{progress}");
    assert!(progress.contains("Checked out v1.1.0"), "{progress}");
    let pack = daemon.ctl_json(&["pack", "get", "docker"]);
    assert_eq!(pack["version"], "1.1.0");
    assert_eq!(pack["installed_version"], "v1.1.0");
    assert_eq!(pack["installed_from"], docker_url);
    assert!(daemon.refs("action", Some("docker")).contains(&"docker.prune".to_string()));
    assert_eq!(
        std::fs::read_to_string(home.path().join("configs/docker.yaml")).expect("the config is kept"),
        "---\nhost: unix:///var/run/docker.sock\n"
    );

    // update=true reuses the virtualenv; the default recreates it beside the live one.
    let venv_target = || std::fs::read_link(home.path().join("virtualenvs/docker")).expect("the virtualenv is a link");
    let before = venv_target();
    let updated = run_ok(&daemon, &["packs.setup_virtualenv", "packs=docker", "update=true"]);
    assert!(updated["result"]["stdout"].as_str().unwrap_or_default().contains("Updating the virtualenv of docker"));
    assert_eq!(venv_target(), before);
    run_ok(&daemon, &["packs.setup_virtualenv", "packs=docker"]);
    assert_ne!(venv_target(), before);
    assert!(!home.path().join("virtualenvs").join(&before).exists(), "the replaced virtualenv is removed");
    let greet = run_ok(&daemon, &["docker.greet"]);
    assert_eq!(greet["result"]["result"], "hello from the virtualenv");

    // st2 run packs.load: the default set, still without rules.
    let loaded = run_ok(&daemon, &["packs.load"]);
    assert_eq!(loaded["result"]["result"]["rules"], 0, "{loaded:#}");
    assert!(!rule_registered(&daemon, "docker.on_container"));

    // st2 run packs.load register=rules
    let loaded = run_ok(&daemon, &["packs.load", "register=rules"]);
    assert_eq!(loaded["result"]["result"]["rules"], 2, "{loaded:#}");
    assert!(rule_registered(&daemon, "docker.on_container") && rule_registered(&daemon, "sensu.on_alert"));

    // st2 run packs.restart_component servicename=sensor_container
    let before = daemon.ctl_json(&["sensor", "get", "docker.Watcher"]);
    let restarted = run_ok(&daemon, &["packs.restart_component", "servicename=sensor_container"]);
    assert!(restarted["result"]["result"]["restarted"].as_u64().unwrap_or(0) >= 1, "{restarted:#}");
    daemon.wait_json("the docker sensor to come back", &["sensor", "get", "docker.Watcher"], |s| {
        s["state"] == "running" && s["pid"] != before["pid"]
    });

    // st2 action list --pack=docker; st2 trigger list --pack=docker
    let actions = daemon.st2(&["action", "list", "--pack=docker"]);
    assert!(actions.status.success(), "{}", stderr(&actions));
    for action in ["docker.ps", "docker.greet", "docker.prune"] {
        assert!(stdout(&actions).contains(action), "{action} missing from:\n{}", stdout(&actions));
    }
    assert!(!stdout(&actions).contains("sensu."), "{}", stdout(&actions));
    let triggers = daemon.st2(&["trigger", "list", "--pack=docker"]);
    assert!(stdout(&triggers).contains("docker.container_event"), "{}", stdout(&triggers));

    // st2 run packs.uninstall packs=docker,sensu
    run_ok(&daemon, &["packs.uninstall", "packs=docker,sensu"]);
    assert!(daemon.refs("action", Some("docker")).is_empty());
    assert!(daemon.refs("action", Some("sensu")).is_empty());
    assert!(!home.packs().join("docker").exists() && !home.packs().join("sensu").exists());
    assert!(std::fs::symlink_metadata(home.path().join("virtualenvs/docker")).is_err(), "the virtualenv is gone");
    assert!(home.path().join("configs/docker.yaml").exists(), "configs are kept");
    let sensors = daemon.ctl_json(&["sensor", "list"]);
    assert!(!sensors.to_string().contains("docker.Watcher"), "{sensors}");
    run_fails(&daemon, &["packs.uninstall", "packs=core"], "built-in pack");
}

#[test]
fn a_failed_install_leaves_the_installed_version_in_place() {
    require_git();
    require_python();
    let home = Home::new();
    let repo = home.path().join("repos/demo");
    write_file(&repo.join("pack.yaml"), &pack_yaml("demo", "1.0.0", ""));
    write_file(
        &repo.join("actions/hello.yaml"),
        "---\nname: hello\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {default: echo v1}\n",
    );
    write_file(
        &repo.join("sensors/beat.yaml"),
        "---\nclass_name: Beat\nentry_point: beat.py\ntrigger_types:\n  - name: beat\n    payload_schema: {type: object}\n",
    );
    write_file(
        &repo.join("sensors/beat.py"),
        "import time\nfrom st2reactor.sensor.base import Sensor\n\nclass Beat(Sensor):\n    def setup(self):\n        pass\n    def run(self):\n        while True:\n            time.sleep(1)\n    def cleanup(self):\n        pass\n    def add_trigger(self, t):\n        pass\n    def update_trigger(self, t):\n        pass\n    def remove_trigger(self, t):\n        pass\n",
    );
    commit(&repo, "1.0.0", Some("v1.0.0"));
    // 2.0.0 does not load: an action with a wrong type.
    write_file(&repo.join("pack.yaml"), &pack_yaml("demo", "2.0.0", ""));
    write_file(
        &repo.join("actions/broken.yaml"),
        "---\nname: broken\nrunner_type: local-shell-cmd\nenabled: sometimes\n",
    );
    commit(&repo, "2.0.0", Some("v2.0.0"));
    // 3.0.0 needs a wheel that is not there.
    std::fs::remove_file(repo.join("actions/broken.yaml")).expect("remove");
    write_file(&repo.join("pack.yaml"), &pack_yaml("demo", "3.0.0", ""));
    write_file(&repo.join("requirements.txt"), "/nonexistent/st2d_missing-1.0-py3-none-any.whl\n");
    commit(&repo, "3.0.0", Some("v3.0.0"));
    // 4.0.0 carries a symlink to a file outside the pack.
    std::fs::remove_file(repo.join("requirements.txt")).expect("remove");
    write_file(&repo.join("pack.yaml"), &pack_yaml("demo", "4.0.0", ""));
    std::os::unix::fs::symlink("/etc/passwd", repo.join("actions/passwd")).expect("symlink");
    commit(&repo, "4.0.0", Some("v4.0.0"));
    // 5.0.0 tries to take a hostile ref.
    std::fs::remove_file(repo.join("actions/passwd")).expect("remove");
    write_file(&repo.join("pack.yaml"), "---\nref: ../evil\nname: evil\ndescription: d\nversion: 5.0.0\nauthor: a\n");
    commit(&repo, "5.0.0", Some("v5.0.0"));

    let daemon = Daemon::start(&home, &[]);
    let url = format!("file://{}", repo.display());
    run_ok(&daemon, &["packs.install", &format!("packs={url}=1.0.0")]);
    let sensor =
        daemon.wait_json("the demo sensor to run", &["sensor", "get", "demo.Beat"], |s| s["state"] == "running");
    let intact = |daemon: &Daemon| {
        let running = daemon.ctl_json(&["sensor", "get", "demo.Beat"]);
        assert_eq!(
            (&running["state"], &running["pid"]),
            (&sensor["state"], &sensor["pid"]),
            "the sensor runs on, untouched"
        );
        let pack = daemon.ctl_json(&["pack", "get", "demo"]);
        assert_eq!(pack["version"], "1.0.0", "{pack:#}");
        assert_eq!(daemon.refs("action", Some("demo")), ["demo.hello"]);
        let hello = run_ok(daemon, &["demo.hello"]);
        assert_eq!(hello["result"]["stdout"], "v1");
        pack
    };
    intact(&daemon);

    let cases: &[(String, &str)] = &[
        ("packs=https://127.0.0.1:1/nowhere/demo.git".to_string(), "cannot clone https://127.0.0.1:1/nowhere/demo.git"),
        (format!("packs={url}=9.9.9"), "Available versions are: 1.0.0, 2.0.0, 3.0.0, 4.0.0, 5.0.0."),
        (format!("packs={url}=2.0.0"), "pack demo does not load: actions/broken.yaml"),
        (format!("packs={url}=4.0.0"), "symlink actions/passwd points outside the pack"),
        (format!("packs={url}=5.0.0"), "\"../evil\" is not a valid pack ref"),
        ("packs=../demo".to_string(), "\"../demo\" is not a pack name"),
        ("packs=demo/../../etc".to_string(), "is not a pack name"),
    ];
    for (argument, reason) in cases {
        run_fails(&daemon, &["packs.install", argument], reason);
        intact(&daemon);
    }
    run_fails(&daemon, &["packs.uninstall", "packs=../demo"], "not a valid pack ref");
    run_fails(&daemon, &["packs.uninstall", "packs=a/b"], "not a valid pack ref");
    intact(&daemon);

    // pip fails: the previous version stays, and the pack is marked with the error.
    run_fails(&daemon, &["packs.install", &format!("packs={url}=3.0.0")], "pip install -r requirements.txt failed");
    let pack = intact(&daemon);
    assert!(pack["setup_error"].as_str().unwrap_or_default().contains("demo 3.0.0 was not installed"), "{pack:#}");
    assert_eq!(pack["status"], "degraded");
    let staging = home.path().join("data/staging");
    assert!(!staging.read_dir().is_ok_and(|mut d| d.next().is_some()), "staging is cleaned up");
}

fn ctl_ok(daemon: &Daemon, args: &[&str]) -> String {
    let output = daemon.ctl(args);
    assert!(
        output.status.success(),
        "st2ctl {args:?} failed:\n{}\n{}\nst2d log:\n{}",
        stdout(&output),
        stderr(&output),
        daemon.log()
    );
    stdout(&output)
}

fn ctl_fails(daemon: &Daemon, args: &[&str], reason: &str) {
    let output = daemon.ctl(args);
    assert_eq!(output.status.code(), Some(1), "st2ctl {args:?} should fail:\n{}", stdout(&output));
    assert!(stderr(&output).contains(reason), "st2ctl {args:?}: expected {reason:?} in:\n{}", stderr(&output));
}

#[test]
fn st2ctl_pack_verbs_follow_dependencies_configs_and_one_install_at_a_time() {
    require_git();
    let home = Home::new();
    let repos = home.path().join("repos");
    let base = repos.join("base");
    write_file(&base.join("pack.yaml"), &pack_yaml("base", "1.0.0", ""));
    write_file(
        &base.join("actions/ping.yaml"),
        "---\nname: ping\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {default: echo pong}\n",
    );
    commit(&base, "1.0.0", Some("v1.0.0"));
    let base_url = format!("file://{}", base.display());
    let app = repos.join("app");
    write_file(&app.join("pack.yaml"), &pack_yaml("app", "0.1.0", &format!("dependencies:\n  - {base_url}=1.0.0\n")));
    write_file(
        &app.join("config.schema.yaml"),
        "---\nurl: {type: string, required: true}\nretries: {type: integer, default: 3}\n",
    );
    write_file(
        &app.join("actions/go.yaml"),
        "---\nname: go\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {default: 'echo {{ config_context.url }}'}\n",
    );
    write_file(
        &app.join("rules/on_hook.yaml"),
        "---\nname: on_hook\nenabled: true\ntrigger: {type: core.st2.webhook, parameters: {url: app}}\naction: {ref: app.go}\n",
    );
    commit(&app, "0.1.0", Some("v0.1.0"));
    write_file(&app.join("pack.yaml"), &pack_yaml("app", "0.2.0", &format!("dependencies:\n  - {base_url}=1.0.0\n")));
    commit(&app, "0.2.0", Some("v0.2.0"));
    let clash = repos.join("clash");
    write_file(
        &clash.join("pack.yaml"),
        &pack_yaml("clash", "1.0.0", &format!("dependencies:\n  - {base_url}=2.0.0\n")),
    );
    commit(&clash, "1.0.0", None);
    let future = repos.join("future");
    write_file(&future.join("pack.yaml"), &pack_yaml("future", "1.0.0", "stackstorm_version: \">=9.0.0\"\n"));
    commit(&future, "1.0.0", None);
    let daemon = Daemon::start(&home, &[]);
    let app_url = format!("file://{}", app.display());

    // The dependency comes along; progress and the installed packs are printed.
    let printed = ctl_ok(&daemon, &["pack", "install", &format!("{app_url}=0.1.0")]);
    assert!(printed.contains(&format!("Installing dependencies: {base_url}=1.0.0")), "{printed}");
    assert!(printed.contains("| version ") && printed.contains("0.1.0"), "{printed}");
    assert_eq!(daemon.ctl_json(&["pack", "get", "base"])["version"], "1.0.0");

    // A conflicting dependency aborts before anything is placed.
    ctl_fails(
        &daemon,
        &["pack", "install", &format!("file://{}", clash.display())],
        "Unable to install packs due to conflicts: clash needs base 2.0.0, but base 1.0.0 is present",
    );
    assert!(!home.packs().join("clash").exists());
    ctl_ok(&daemon, &["pack", "install", "--skip-dependencies", &format!("file://{}", clash.display())]);

    // stackstorm_version is checked unless forced.
    let future_url = format!("file://{}", future.display());
    ctl_fails(&daemon, &["pack", "install", &future_url], "requires StackStorm \">=9.0.0\"");
    ctl_ok(&daemon, &["pack", "install", "--force", &future_url]);

    // Registering rules; then the config, checked against the schema.
    assert_eq!(daemon.ctl_json(&["rule", "get", "app.on_hook"])["registered"], false);
    ctl_ok(&daemon, &["pack", "register", "app", "--types", "rules"]);

    // Unload takes a pack out of the registry, its files stay; load brings it back.
    run_ok(&daemon, &["packs.unload", "packs=base"]);
    assert_eq!(daemon.ctl_json(&["pack", "get", "base"])["status"], "unloaded");
    assert!(daemon.refs("action", Some("base")).is_empty() && home.packs().join("base/pack.yaml").exists());
    run_ok(&daemon, &["packs.load", "packs=base"]);
    assert_eq!(daemon.refs("action", Some("base")), ["base.ping"]);
    assert_eq!(daemon.ctl_json(&["rule", "get", "app.on_hook"])["registered"], true);
    ctl_fails(&daemon, &["pack", "config", "app", "retries=many"], "retries");
    ctl_fails(&daemon, &["pack", "config", "app", "retries"], "\"retries\" is not key=value");
    assert!(!home.path().join("configs/app.yaml").exists(), "nothing is written for a bad value");
    ctl_ok(&daemon, &["pack", "config", "app", "url=http://example.test", "retries=5"]);
    let pack = daemon.ctl_json(&["pack", "get", "app"]);
    assert_eq!(pack["config"], serde_json::json!({"url": "http://example.test", "retries": 5}), "{pack:#}");
    let go = run_ok(&daemon, &["app.go"]);
    assert_eq!(go["result"]["stdout"], "http://example.test");

    // Two installs of one pack run one after the other; the pack ends whole at one version.
    let first = std::thread::spawn({
        let (home, url) = (home.path().to_path_buf(), format!("{app_url}=0.2.0"));
        move || {
            Command::new(&st2d_tests::bins().st2ctl).arg("--home").arg(home).args(["pack", "install", &url]).output()
        }
    });
    let second = daemon.ctl(&["pack", "install", &format!("{app_url}=0.1.0")]);
    let first = first.join().expect("joined").expect("st2ctl runs");
    assert!(first.status.success() && second.status.success(), "{}\n{}", stderr(&first), stderr(&second));
    let pack = daemon.ctl_json(&["pack", "get", "app"]);
    assert!(pack["version"] == "0.1.0" || pack["version"] == "0.2.0", "{pack:#}");
    assert_eq!((pack["status"].as_str(), pack["actions"].as_u64()), (Some("ok"), Some(1)), "{pack:#}");
    assert_eq!(pack["config"]["url"], "http://example.test", "the config survives upgrades");

    // A plain directory is copied.
    let plain = home.path().join("plain");
    write_file(&plain.join("pack.yaml"), &pack_yaml("plain", "1.0.0", ""));
    write_file(
        &plain.join("actions/hi.yaml"),
        "---\nname: hi\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {default: echo hi}\n",
    );
    let plain_path = plain.display().to_string();
    ctl_ok(&daemon, &["pack", "download", &plain_path]);
    assert_eq!(daemon.ctl_json(&["pack", "get", "plain"])["installed_from"], plain_path);
    assert!(plain.join("pack.yaml").exists() && home.packs().join("plain/actions/hi.yaml").exists());

    ctl_ok(&daemon, &["pack", "remove", "app", "base", "clash", "future", "plain"]);
    let left: Vec<String> = daemon
        .ctl_json(&["pack", "list"])
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| p["ref"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(left, ["core", "packs"]);
    assert!(home.path().join("configs/app.yaml").exists(), "configs are kept");
}

/// A git smart-HTTP server over TLS on loopback, with a certificate made for 127.0.0.1;
/// stopped when dropped.
struct HttpsGitServer {
    child: std::process::Child,
    port: u16,
    /// The CA that signed the server's certificate.
    ca: PathBuf,
}

impl HttpsGitServer {
    /// Serves `repos` with a certificate for 127.0.0.1 from a new CA made in `dir`; `cert` is
    /// that CA.
    fn start(dir: &Path, repos: &Path) -> Self {
        let pki = st2d_tests::pki::make(dir);
        let (cert, key) = (pki.server_cert, pki.server_key);
        let backend = git_tool("git-http-backend");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/support/https_git_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(repos)
            .arg(&cert)
            .arg(&key)
            .arg(backend)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the https git server starts");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().expect("piped stdout")),
            &mut line,
        )
        .expect("the server prints its port");
        let port = line.trim().parse().unwrap_or_else(|_| panic!("the server printed {line:?}, not a port"));
        Self { child, port, ca: pki.ca }
    }

    fn url(&self, repo: &str) -> String {
        format!("https://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for HttpsGitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn packs_install_over_https_with_the_certificate_checked() {
    require_git();
    require_python();
    let home = Home::new();
    let repos = home.path().join("repos");
    let work = home.path().join("work/secure");
    write_file(&work.join("pack.yaml"), &pack_yaml("secure", "1.0.0", ""));
    write_file(
        &work.join("actions/hi.yaml"),
        "---\nname: hi\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {default: echo hi}\n",
    );
    commit(&work, "1.0.0", Some("v1.0.0"));
    std::fs::create_dir_all(&repos).expect("mkdir");
    let cloned = Command::new("git").args(["clone", "-q", "--bare"]).arg(&work).arg(repos.join("secure.git")).output();
    assert!(cloned.is_ok_and(|o| o.status.success()), "a bare copy of the repository");
    let trusted = HttpsGitServer::start(&home.path().join("trusted"), &repos);
    let untrusted = HttpsGitServer::start(&home.path().join("untrusted"), &repos);
    // The daemon trusts the first server's certificate through OpenSSL's usual SSL_CERT_FILE.
    let daemon = Daemon::start_with(&home, &[], &[("SSL_CERT_FILE", trusted.ca.as_path())]);

    let installed = run_ok(&daemon, &["packs.install", &format!("packs={}=1.0.0", trusted.url("secure.git"))]);
    let progress = installed["result"]["stdout"].as_str().unwrap_or_default();
    assert!(progress.contains("Receiving objects: 100%") && progress.contains("Checked out v1.0.0"), "{progress}");
    assert_eq!(daemon.refs("action", Some("secure")), ["secure.hi"]);

    // The other server's certificate is not trusted: refused unless verifyssl=false.
    let other = untrusted.url("secure.git");
    run_fails(&daemon, &["packs.download", &format!("packs={other}")], "the SSL certificate is invalid");
    run_ok(&daemon, &["packs.download", &format!("packs={other}"), "verifyssl=false"]);
    assert_eq!(daemon.ctl_json(&["pack", "get", "secure"])["installed_from"], other);
}

/// A sensor class that idles until it is stopped.
fn idle_sensor(class: &str) -> String {
    format!(
        "import time\nfrom st2reactor.sensor.base import Sensor\n\nclass {class}(Sensor):\n    def setup(self):\n        pass\n    def run(self):\n        while True:\n            time.sleep(1)\n    def cleanup(self):\n        pass\n    def add_trigger(self, t):\n        pass\n    def update_trigger(self, t):\n        pass\n    def remove_trigger(self, t):\n        pass\n"
    )
}

/// The strings of a JSON list.
fn strings(value: &Value) -> Vec<String> {
    value.as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from).collect()
}

#[test]
fn what_stackstorm_tolerates_installs_with_warnings_and_what_it_refuses_does_not() {
    require_git();
    require_python();
    let home = Home::new();
    let repos = home.path().join("repos");
    let repo = repos.join("kube");
    // As the Exchange's kubernetes pack: two sensor files declare one trigger type. Besides, an
    // action defined twice, an unknown pack.yaml key, an action alias and a policy.
    write_file(&repo.join("pack.yaml"), &pack_yaml("kube", "1.0.0", "homepage: https://example.test/kube\n"));
    write_file(
        &repo.join("actions/list_pods.yaml"),
        "---\nname: list_pods\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {default: echo no pods}\n",
    );
    write_file(
        &repo.join("actions/list_pods_again.yaml"),
        "---\nname: list_pods\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {default: echo the other one}\n",
    );
    for (file, class) in [("deployments", "DeploymentSensor"), ("pods", "PodSensor")] {
        write_file(
            &repo.join(format!("sensors/{file}.yaml")),
            &format!(
                "---\nclass_name: {class}\nentry_point: {file}.py\ntrigger_types:\n  - name: k8s_event\n    payload_schema: {{type: object}}\n"
            ),
        );
        write_file(&repo.join(format!("sensors/{file}.py")), &idle_sensor(class));
    }
    write_file(
        &repo.join("aliases/list_pods.yaml"),
        "---\nname: list_pods\naction_ref: kube.list_pods\nformats: [\"list pods\"]\n",
    );
    write_file(
        &repo.join("policies/retry.yaml"),
        "---\nname: retry\nresource_ref: kube.list_pods\npolicy_type: action.retry\nparameters: {retry_on: timeout, max_retry_count: 2}\n",
    );
    commit(&repo, "1.0.0", Some("v1.0.0"));
    // 2.0.0: pack.yaml lacks its author, which StackStorm's pack schema requires.
    write_file(&repo.join("pack.yaml"), "---\nref: kube\nname: kube\ndescription: the kube pack\nversion: 2.0.0\n");
    commit(&repo, "2.0.0", Some("v2.0.0"));
    // 3.0.0: an action whose runner does not exist, which StackStorm's registration refuses.
    write_file(&repo.join("pack.yaml"), &pack_yaml("kube", "3.0.0", ""));
    write_file(&repo.join("actions/scale.yaml"), "---\nname: scale\nrunner_type: kubectl-runner\n");
    commit(&repo, "3.0.0", Some("v3.0.0"));
    let git_daemon = GitDaemon::start(&repos);
    let url = git_daemon.url("kube");
    let daemon = Daemon::start(&home, &[]);

    let installed = run_ok(&daemon, &["packs.install", &format!("packs={url}=1.0.0")]);
    let output = &installed["result"]["output"];
    assert_eq!(output["packs_list"], serde_json::json!(["kube"]), "{installed:#}");
    let expected = [
        "pack.yaml: unknown fields ignored: homepage",
        "actions/list_pods_again.yaml: action kube.list_pods is already defined in actions/list_pods.yaml; this definition is ignored",
        "sensors/pods.yaml: trigger type kube.k8s_event is already defined in sensors/deployments.yaml; this definition is ignored",
    ];
    let warnings = strings(&output["warnings"]["kube"]);
    let warning_list = strings(&output["warning_list"]);
    let progress = installed["result"]["stdout"].as_str().unwrap_or_default();
    for warning in expected {
        assert!(warnings.iter().any(|w| w == warning), "{warning:?} not in the result's warnings: {warnings:#?}");
        assert!(
            warning_list.contains(&format!("kube: {warning}")),
            "{warning:?} not in warning_list: {warning_list:#?}"
        );
        assert!(
            progress.contains(&format!("warning: kube: {warning}")),
            "{warning:?} not in the progress:\n{progress}"
        );
    }
    // The pack is live, with its warnings on it and no errors.
    let pack = daemon.ctl_json(&["pack", "get", "kube"]);
    assert_eq!((pack["status"].as_str(), pack["version"].as_str()), (Some("ok"), Some("1.0.0")), "{pack:#}");
    assert_eq!(pack["errors"], serde_json::json!([]), "{pack:#}");
    let on_pack = strings(&pack["warnings"]);
    for warning in expected {
        assert!(on_pack.iter().any(|w| w == warning), "{warning:?} not on the pack: {on_pack:#?}");
    }
    assert_eq!((pack["aliases"].as_u64(), pack["policies"].as_u64()), (Some(1), Some(1)), "{pack:#}");
    assert_eq!(daemon.refs("action", Some("kube")), ["kube.list_pods"]);
    assert_eq!(daemon.refs("trigger", Some("kube")), ["kube.k8s_event"]);
    for sensor in ["kube.DeploymentSensor", "kube.PodSensor"] {
        daemon.wait_json("the kube sensors to run", &["sensor", "get", sensor], |s| s["state"] == "running");
    }
    let listed = run_ok(&daemon, &["kube.list_pods"]);
    assert_eq!(listed["result"]["stdout"], "no pods", "the first definition is the live one");

    // What StackStorm refuses is still refused, naming the file; 1.0.0 stays.
    let cases = [
        (format!("packs={url}=2.0.0"), "pack kube does not load: pack.yaml", "required field \"author\" is missing"),
        (
            format!("packs={url}=3.0.0"),
            "pack kube does not load: actions/scale.yaml",
            "runner \"kubectl-runner\" does not exist",
        ),
    ];
    for (argument, names, why) in &cases {
        let failed = run_fails(&daemon, &["packs.install", argument], names);
        let error = failed["result"]["error"].as_str().unwrap_or_default();
        assert!(error.contains(why), "{argument}: expected {why:?} in: {error}");
        let pack = daemon.ctl_json(&["pack", "get", "kube"]);
        assert_eq!((pack["status"].as_str(), pack["version"].as_str()), (Some("ok"), Some("1.0.0")), "{pack:#}");
    }
}

/// A local source project whose wheel build fails the way an old lxml pin does on a host
/// without libxml2-dev (its in-tree build backend needs nothing from an index).
fn write_unbuildable_project(dir: &Path) {
    write_file(
        &dir.join("pyproject.toml"),
        "[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\".\"]\n",
    );
    write_file(
        &dir.join("backend.py"),
        r#"import os, sys

def get_requires_for_build_wheel(config_settings=None):
    return []

def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    info = os.path.join(metadata_directory, "lxmlish-4.2.1.dist-info")
    os.makedirs(info)
    with open(os.path.join(info, "METADATA"), "w") as f:
        f.write("Metadata-Version: 2.1\nName: lxmlish\nVersion: 4.2.1\n")
    return "lxmlish-4.2.1.dist-info"

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    print("Building lxml version 4.2.1.", flush=True)
    print("gcc -pthread -fPIC -I/usr/include/libxml2 -c src/lxml/etree.c -o build/etree.o", flush=True)
    sys.stderr.write("src/lxml/etree.c:96:10: fatal error: libxml/xmlversion.h: No such file or directory\n")
    sys.stderr.write('   96 | #include "libxml/xmlversion.h"\n')
    sys.stderr.write("      |          ^~~~~~~~~~~~~~~~~~~~~\n")
    sys.stderr.write("compilation terminated.\n")
    sys.stderr.write("error: command '/usr/bin/gcc' failed with exit code 1\n")
    sys.exit(1)
"#,
    );
}

#[test]
fn a_requirement_that_does_not_build_is_named_and_the_installed_version_and_virtualenv_stay() {
    require_git();
    require_python();
    let home = Home::new();
    let wheel = build_wheel(home.path());
    let project = home.path().join("src/lxmlish");
    write_unbuildable_project(&project);
    let repo = home.path().join("repos/xmltool");
    write_file(&repo.join("pack.yaml"), &pack_yaml("xmltool", "1.0.0", ""));
    write_file(&repo.join("requirements.txt"), &format!("{}\n", wheel.display()));
    write_file(
        &repo.join("actions/greet.yaml"),
        "---\nname: greet\nrunner_type: python-script\nentry_point: greet.py\n",
    );
    write_file(
        &repo.join("actions/greet.py"),
        "from st2common.runners.base_action import Action\nimport st2d_e2e_dep\n\nclass Greet(Action):\n    def run(self):\n        return st2d_e2e_dep.GREETING\n",
    );
    commit(&repo, "1.0.0", Some("v1.0.0"));
    let unbuildable = format!("{}\nfile://{}\n", wheel.display(), project.display());
    write_file(&repo.join("pack.yaml"), &pack_yaml("xmltool", "2.0.0", ""));
    write_file(&repo.join("requirements.txt"), &unbuildable);
    commit(&repo, "2.0.0", Some("v2.0.0"));
    let daemon = Daemon::start(&home, &[]);
    let url = format!("file://{}", repo.display());
    let virtualenvs = home.path().join("virtualenvs");

    run_ok(&daemon, &["packs.install", &format!("packs={url}=1.0.0")]);
    let venv = std::fs::read_link(virtualenvs.join("xmltool")).expect("the virtualenv is a link");
    let built = |daemon: &Daemon| {
        let pack = daemon.ctl_json(&["pack", "get", "xmltool"]);
        assert_eq!(pack["version"], "1.0.0", "{pack:#}");
        assert_eq!(std::fs::read_link(virtualenvs.join("xmltool")).ok(), Some(venv.clone()), "the live virtualenv");
        let names: Vec<String> = std::fs::read_dir(&virtualenvs)
            .expect("the virtualenvs directory")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        let mut expected = vec!["xmltool".to_string(), venv.display().to_string()];
        let mut names = names;
        names.sort();
        expected.sort();
        assert_eq!(names, expected, "no half-built virtualenv is left beside the live one");
        let greet = run_ok(daemon, &["xmltool.greet"]);
        assert_eq!(greet["result"]["result"], "hello from the virtualenv", "{greet:#}");
        pack
    };
    built(&daemon);

    // The upgrade's requirements do not build: the error names the requirement and the
    // compiler's line; 1.0.0 and its virtualenv stay.
    let line = "src/lxml/etree.c:96:10: fatal error: libxml/xmlversion.h: No such file or directory";
    let failed =
        run_fails(&daemon, &["packs.install", &format!("packs={url}=2.0.0")], "pip install -r requirements.txt failed");
    let error = failed["result"]["error"].as_str().unwrap_or_default();
    assert!(error.contains(&format!("requirement \"lxmlish\": {line}")), "{error}");
    assert!(error.contains("xmltool 2.0.0 was not installed") && error.contains("1.0.0 stays installed"), "{error}");
    let pack = built(&daemon);
    assert!(pack["setup_error"].as_str().unwrap_or_default().contains(line), "{pack:#}");

    // packs.setup_virtualenv explains itself the same way, and keeps the working virtualenv.
    write_file(&home.packs().join("xmltool/requirements.txt"), &unbuildable);
    let failed = run_fails(
        &daemon,
        &["packs.setup_virtualenv", "packs=xmltool"],
        "pip install -r requirements.txt failed for pack xmltool",
    );
    let error = failed["result"]["error"].as_str().unwrap_or_default();
    assert!(error.contains(&format!("requirement \"lxmlish\": {line}")), "{error}");
    built(&daemon);
}
