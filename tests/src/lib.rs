//! Harness for the end-to-end tests: builds the real `st2d`, `st2ctl` and `st2` binaries once
//! per run, starts daemons in temporary homes, runs the CLIs against them, and writes fixture
//! packs.
//!
//! Owns: process management of daemons under test and polling with deadlines. Must not: sleep
//! to synchronise (poll a condition with a deadline instead) or assert on timings.

// The test harness starts real processes of its own (clippy.toml keeps the daemon to `process`).
#![allow(clippy::disallowed_methods)]

pub mod bench;
pub mod http1;
pub mod pki;
pub mod prometheus;
pub mod pyenv;
pub mod sshd;
#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a condition may take before a test fails. Generous: CI machines are slow.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The binaries under test.
pub struct Bins {
    pub st2d: PathBuf,
    pub st2ctl: PathBuf,
    pub st2: PathBuf,
}

/// Builds (once per test run) and locates the binaries, next to this test executable.
pub fn bins() -> &'static Bins {
    static BINS: OnceLock<Bins> = OnceLock::new();
    BINS.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test executable has a path");
        // target/<profile>/deps/e2e-<hash>
        let profile_dir =
            exe.parent().and_then(Path::parent).expect("test executables live in target/<profile>/deps").to_path_buf();
        if std::env::var_os("ST2D_TESTS_NO_BUILD").is_none() {
            let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") | None => "dev".to_string(),
                Some(other) => other.to_string(),
            };
            let target_dir = profile_dir.parent().expect("target/<profile> has a parent");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
            let status = Command::new(cargo)
                .args(["build", "--bins", "-p", "st2d", "-p", "st2ctl", "--profile", &profile])
                .env("CARGO_TARGET_DIR", target_dir)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building st2d and st2ctl failed");
        }
        let bin = |name: &str| {
            let path = profile_dir.join(name);
            assert!(path.exists(), "{} was not built", path.display());
            path
        };
        Bins { st2d: bin("st2d"), st2ctl: bin("st2ctl"), st2: bin("st2") }
    })
}

/// `st2d`, with StackStorm's base Python libraries of the test run (`pyenv::base_libraries_dir`:
/// built once, shared), so that no daemon under test builds its own and pack code runs in the
/// environment it gets in production; pack code runs as the user running the tests (unless a
/// test names another `--action-user`), whether or not the machine has a `stanley`.
pub fn st2d_command() -> Command {
    static USER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let mut command = Command::new(&bins().st2d);
    command.env("ST2D_PYTHON_BASE_DIR", pyenv::base_libraries_dir());
    command.env("ST2D_ACTION_USER", USER.get_or_init(sshd::current_user));
    command
}

/// A TCP port on loopback that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port()
}

/// Polls `check` until it gives `Some`, failing the test after `DEADLINE` with `what`.
pub fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls the async `check` until it gives `Some`, failing the test after `DEADLINE` with `what`.
pub async fn until<T, F: std::future::Future<Output = Option<T>>>(what: &str, mut check: impl FnMut() -> F) -> T {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A Control client, for tests and benches that speak gRPC.
pub type Client = st2d_proto::v1::control_client::ControlClient<tonic::transport::Channel>;

/// Waits until execution `id` has completed and returns it.
pub async fn completed_execution(client: &Client, id: &str) -> st2d_proto::v1::Execution {
    until(&format!("execution {id} to complete"), || {
        let mut client = client.clone();
        let id = id.to_string();
        async move {
            let request = st2d_proto::v1::GetRequest { r#ref: id };
            let execution = client.get_execution(request).await.expect("the execution exists").into_inner();
            (!execution.end_timestamp.is_empty()).then_some(execution)
        }
    })
    .await
}

/// A command's stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A command's stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Fails the test with how to get python3 when it is missing (sensors and python actions need it).
pub fn require_python() {
    let found = std::process::Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found, "python3 is needed to run sensors and python actions: install it with `apt-get install python3`");
}

/// Fails with how to get git when it is missing (the tests build their repositories with it).
pub fn require_git() {
    let found = Command::new("git").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found, "git is needed to build the test repositories: install it with `apt-get install git`");
}

pub fn git(repo: &Path, args: &[&str]) {
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["-c", "user.email=tests@st2d", "-c", "user.name=st2d tests", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?} failed: {}", stderr(&output));
}

/// Commits everything in `repo` (initialising it the first time) and tags the commit.
pub fn commit(repo: &Path, message: &str, tag: Option<&str>) {
    if !repo.join(".git").exists() {
        git(repo, &["init", "-q", "-b", "main"]);
    }
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", message]);
    if let Some(tag) = tag {
        git(repo, &["tag", tag]);
    }
}

/// A temporary st2d home with helpers to write packs and configs.
pub struct Home {
    dir: tempfile::TempDir,
}

impl Default for Home {
    fn default() -> Self {
        Self::new()
    }
}

impl Home {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("st2d-e2e-").tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("packs")).expect("packs dir");
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn packs(&self) -> PathBuf {
        self.path().join("packs")
    }

    pub fn socket(&self) -> PathBuf {
        self.path().join("st2d.sock")
    }

    /// Writes `text` to `relative` under the home, creating directories; the write is atomic
    /// (temporary file, then rename) as editors do it.
    pub fn write(&self, relative: &str, text: &str) {
        write_file(&self.path().join(relative), text);
    }

    pub fn remove(&self, relative: &str) {
        let path = self.path().join(relative);
        if path.is_dir() {
            std::fs::remove_dir_all(&path).expect("remove dir");
        } else {
            std::fs::remove_file(&path).expect("remove file");
        }
    }
}

/// Writes a file atomically (temporary file, then rename), creating parent directories.
pub fn write_file(path: &Path, text: &str) {
    let parent = path.parent().expect("a parent directory");
    std::fs::create_dir_all(parent).expect("create dirs");
    let temp = parent.join(format!(".{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("file")));
    std::fs::write(&temp, text).expect("write temp");
    std::fs::rename(&temp, path).expect("rename into place");
}

/// The methods of a StackStorm `Sensor` class that a test sensor does not use, to append to
/// its class body.
pub const SENSOR_NO_OP_METHODS: &str = r#"
    def cleanup(self):
        pass

    def add_trigger(self, trigger):
        pass

    def update_trigger(self, trigger):
        pass

    def remove_trigger(self, trigger):
        pass
"#;

/// A minimal valid `pack.yaml`.
pub fn pack_yaml(ref_: &str, description: &str) -> String {
    format!("---\nref: {ref_}\nname: {ref_}\ndescription: {description}\nversion: 1.0.0\nauthor: st2d tests\n")
}

/// Writes a pack with one action, one sensor (declaring one trigger type) and one rule into
/// `root/<dir>`.
pub fn write_sample_pack(root: &Path, dir: &str, ref_: &str) {
    let pack = root.join(dir);
    write_file(&pack.join("pack.yaml"), &pack_yaml(ref_, "sample pack"));
    write_file(
        &pack.join("actions/hello.yaml"),
        "---\nname: hello\nrunner_type: local-shell-cmd\ndescription: says hello\nparameters:\n  cmd:\n    default: echo hello\n",
    );
    write_file(
        &pack.join("sensors/watcher.yaml"),
        "---\nclass_name: Watcher\nentry_point: watcher.py\ndescription: watches\ntrigger_types:\n  - name: event\n    payload_schema: {type: object}\n",
    );
    write_file(
        &pack.join("rules/on_event.yaml"),
        &format!(
            "---\nname: on_event\nenabled: true\ndescription: reacts\ntrigger:\n  type: {ref_}.event\naction:\n  ref: {ref_}.hello\n"
        ),
    );
}

/// A running st2d, killed when dropped.
pub struct Daemon {
    child: Child,
    home: PathBuf,
    log: PathBuf,
}

impl Daemon {
    /// Starts `st2d --home HOME ARGS...` and waits until `st2ctl status` answers.
    pub fn start(home: &Home, args: &[&str]) -> Self {
        Self::start_with(home, args, &[])
    }

    pub fn start_with(home: &Home, args: &[&str], env: &[(&str, &Path)]) -> Self {
        let daemon = Self::spawn(home, args, env);
        eventually("st2d to answer st2ctl status", || {
            daemon.assert_running();
            daemon.ctl(&["status"]).status.success().then_some(())
        });
        daemon
    }

    /// Starts st2d without waiting for it.
    pub fn spawn(home: &Home, args: &[&str], env: &[(&str, &Path)]) -> Self {
        let log = home.path().join(format!(
            "st2d-{}.log",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
        ));
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut command = st2d_command();
        command
            .arg("--home")
            .arg(home.path())
            .args(args)
            .env("ST2D_LOG", "info,st2d=debug")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file handle"))
            .stderr(log_file);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("st2d starts");
        Self { child, home: home.path().to_path_buf(), log }
    }

    /// Starts `st2d ARGS...` with `cwd` as its working directory and no `--home` of the
    /// harness (the args say where home is, relative to `cwd` if they like); `home` is where
    /// `ctl` finds it.
    pub fn spawn_in(cwd: &Path, home: &Path, args: &[&str]) -> Self {
        let log = cwd.join("st2d.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = st2d_command()
            .args(args)
            .current_dir(cwd)
            .env_remove("ST2D_HOME")
            .env("ST2D_LOG", "info,st2d=debug")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file handle"))
            .stderr(log_file)
            .spawn()
            .expect("st2d starts");
        Self { child, home: home.to_path_buf(), log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn assert_running(&self) {
        let mut probe = Command::new("kill");
        let alive = probe.args(["-0", &self.pid().to_string()]).status().map(|s| s.success()).unwrap_or(false);
        assert!(alive, "st2d exited early; its log:\n{}", self.log());
    }

    /// Runs `st2ctl --home HOME ARGS...`.
    pub fn ctl(&self, args: &[&str]) -> Output {
        run_cli(&bins().st2ctl, &self.home, args)
    }

    /// Runs `st2 --home HOME ARGS...`.
    pub fn st2(&self, args: &[&str]) -> Output {
        run_cli(&bins().st2, &self.home, args)
    }

    /// Runs `st2 --home HOME ARGS...` with `input` on its standard input.
    pub fn st2_with_input(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = Command::new(&bins().st2)
            .arg("--home")
            .arg(&self.home)
            .args(args)
            .env_remove("ST2D_SOCKET")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the CLI runs");
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes()).expect("the CLI reads its input");
        }
        child.wait_with_output().expect("the CLI ends")
    }

    /// Runs `st2ctl -j ARGS...` and parses its output; the command must succeed.
    pub fn ctl_json(&self, args: &[&str]) -> Value {
        let mut full = vec!["-j"];
        full.extend_from_slice(args);
        let output = self.ctl(&full);
        assert!(
            output.status.success(),
            "st2ctl {args:?} failed: {}\nst2d log:\n{}",
            String::from_utf8_lossy(&output.stderr),
            self.log()
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!("st2ctl {args:?} printed no JSON ({e}): {}", String::from_utf8_lossy(&output.stdout))
        })
    }

    /// Refs listed by `st2ctl -j KIND list [--pack P]`.
    pub fn refs(&self, kind: &str, pack: Option<&str>) -> Vec<String> {
        let mut args = vec![kind, "list"];
        let flag;
        if let Some(pack) = pack {
            flag = format!("--pack={pack}");
            args.push(&flag);
        }
        let list = self.ctl_json(&args);
        list.as_array()
            .expect("a JSON array")
            .iter()
            .map(|item| item["ref"].as_str().expect("each item has a ref").to_string())
            .collect()
    }

    /// Polls `st2ctl -j ARGS` until `check` accepts the output.
    pub fn wait_json(&self, what: &str, args: &[&str], check: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        let deadline = Instant::now() + DEADLINE;
        loop {
            let mut full = vec!["-j"];
            full.extend_from_slice(args);
            let output = self.ctl(&full);
            if output.status.success()
                && let Ok(value) = serde_json::from_slice::<Value>(&output.stdout)
            {
                if check(&value) {
                    return value;
                }
                last = value;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; last output: {last:#}\nst2d log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, signal: i32) {
        let pid = self.pid();
        let result = Command::new("kill").args([format!("-{signal}"), pid.to_string()]).status().expect("kill runs");
        assert!(result.success(), "kill -{signal} {pid} failed");
    }

    /// Waits for the daemon to exit and returns its status.
    pub fn wait_exit(mut self) -> ExitStatus {
        eventually("st2d to exit", || self.child.try_wait().expect("try_wait works"))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn run_cli(binary: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new(binary)
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("ST2D_SOCKET")
        .stdin(Stdio::null())
        .output()
        .expect("the CLI runs")
}

/// A gRPC channel to the daemon's Unix socket.
pub async fn channel(socket: &Path) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let socket = socket.to_path_buf();
    tonic::transport::Endpoint::from_static("http://st2d.local")
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let socket = socket.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(socket).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
        .await
}

/// A Control client on the daemon's socket.
pub async fn control(socket: &Path) -> st2d_proto::v1::control_client::ControlClient<tonic::transport::Channel> {
    let channel = channel(socket).await.expect("connect to the control socket");
    st2d_proto::v1::control_client::ControlClient::new(channel).max_decoding_message_size(256 * 1024 * 1024)
}

/// Runs `action` with `parameters` over the control plane and follows it until it completes;
/// it must succeed. The time from the request to its completion (benchmarks measure it).
pub async fn run_to_success(client: &mut Client, action: &str, parameters: &Value) -> Duration {
    use st2d_proto::v1 as pb;
    let started = Instant::now();
    let request = pb::RunActionRequest {
        action: action.to_string(),
        parameters_json: parameters.to_string(),
        ..Default::default()
    };
    let execution = client.run_action(request).await.expect("run").into_inner();
    let mut events =
        client.watch_execution(pb::GetRequest { r#ref: execution.id.clone() }).await.expect("watch").into_inner();
    loop {
        let event = events.message().await.expect("a watch event").expect("the watch ends after completion");
        if let Some(pb::execution_event::Event::Execution(state)) = event.event
            && ["succeeded", "failed", "timeout", "canceled", "abandoned"].contains(&state.status.as_str())
        {
            assert_eq!(state.status, "succeeded", "{}", state.result_json);
            return started.elapsed();
        }
    }
}
