//! What the end-to-end tests of StackStorm's REST API share: the real `st2client` 3.9.0 (its
//! `st2` CLI and library) in a virtualenv, a users file, st2d started with its REST API, and
//! `curl` for raw requests.
//!
//! Owns: these helpers. Must not: check anything about st2d beyond what each helper needs to
//! hand back (the tests check).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use st2d_tests::{Daemon, Home, free_port, pyenv, stderr, stdout};

pub const USER: &str = "st2admin";
pub const PASSWORD: &str = "Ch@ngeMe";

/// The virtualenv with st2client's `st2` CLI and library.
pub fn st2client() -> PathBuf {
    pyenv::python_with("st2client-3.9.0", &["st2client==3.9.0"])
}

/// An htpasswd line for `user` with a `{SHA}` hash (`htpasswd -s`), made by Python's hashlib.
pub fn htpasswd_sha(python: &Path, user: &str, password: &str) -> String {
    let output = Command::new(python)
        .args([
            "-c",
            "import base64, hashlib, sys; print(sys.argv[1] + ':{SHA}' + base64.b64encode(hashlib.sha1(sys.argv[2].encode()).digest()).decode())",
            user,
            password,
        ])
        .output()
        .expect("python runs");
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output).trim().to_string()
}

/// The `st2` CLI of st2client, pointed at the daemon, with its config under `home`.
pub struct Cli {
    pub bin: PathBuf,
    pub home: PathBuf,
    pub port: u16,
}

impl Cli {
    pub fn command(&self) -> Command {
        let base = format!("http://127.0.0.1:{}", self.port);
        let mut command = Command::new(&self.bin);
        command
            .env("HOME", &self.home)
            .env("ST2_BASE_URL", &base)
            .env("ST2_API_URL", format!("{base}/api/v1"))
            .env("ST2_AUTH_URL", format!("{base}/auth/v1"))
            .env("ST2_STREAM_URL", format!("{base}/stream/v1"))
            .env_remove("ST2_AUTH_TOKEN")
            .env_remove("ST2_API_KEY");
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("st2 runs")
    }

    /// Runs `st2 ARGS -j`; it must succeed and print JSON. A workflow is printed with its tasks
    /// after it: the first document is the one returned.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut full = args.to_vec();
        full.push("-j");
        let output = self.run(&full);
        assert!(output.status.success(), "st2 {args:?} failed: {}\n{}", stderr(&output), stdout(&output));
        let text = stdout(&output);
        match serde_json::Deserializer::from_str(&text).into_iter::<Value>().next() {
            Some(Ok(value)) => value,
            Some(Err(e)) => panic!("st2 {args:?} printed no JSON ({e}): {text}"),
            None => panic!("st2 {args:?} printed nothing: {text}"),
        }
    }
}

/// The execution id `st2 run ... -a` prints (`st2 execution get ID`).
pub fn started(output: &Output) -> String {
    assert!(output.status.success(), "{}{}", stdout(output), stderr(output));
    let text = stdout(output);
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("st2 execution get "))
        .unwrap_or_else(|| panic!("no id in {text}"));
    line.trim().to_string()
}

/// `curl` with `args`; returns (status, body).
pub fn curl(args: &[&str]) -> (u16, String) {
    let output = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs (apt-get install curl)");
    let text = stdout(&output);
    let (body, status) = text.rsplit_once('\n').expect("curl printed the status");
    (status.trim().parse().expect("an HTTP status"), body.to_string())
}

pub fn faultstring(body: &str) -> String {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    value["faultstring"].as_str().unwrap_or_else(|| panic!("no faultstring in {body}")).to_string()
}

pub fn start(home: &Home, python: &Path) -> (Daemon, u16) {
    start_with(home, python, &["--register-rules-by-default"])
}

/// st2d with its REST API on a free port, the users file holding `USER`, and `extra` flags.
pub fn start_with(home: &Home, python: &Path, extra: &[&str]) -> (Daemon, u16) {
    home.write("htpasswd", &format!("{}\n", htpasswd_sha(python, USER, PASSWORD)));
    let users = home.path().join("htpasswd").display().to_string();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--http-listen", &listen, "--auth-users", &users];
    args.extend_from_slice(extra);
    let daemon = Daemon::start(home, &args);
    (daemon, port)
}

pub fn logged_in(home: &Home, python: &Path, port: u16) -> Cli {
    let cli = Cli { bin: python.with_file_name("st2"), home: home.path().join("cli-home"), port };
    std::fs::create_dir_all(&cli.home).expect("cli home");
    let login = cli.run(&["login", USER, "-p", PASSWORD]);
    assert!(login.status.success(), "{}{}", stdout(&login), stderr(&login));
    cli
}
