//! Plain HTTP through `curl`: POSTs with their status, headers and body, and the Prometheus
//! page as samples.
//!
//! Owns: talking HTTP to the ingress in the tests. Must not: hold a test.

use std::collections::HashMap;
use std::process::Command;

use st2d_tests::stderr;

/// What a request answered.
pub struct Answer {
    pub status: u16,
    /// The response headers, lower-cased names.
    pub headers: HashMap<String, String>,
    pub body: String,
}

/// `curl` POSTs `body` to `path` with `headers`; returns the whole answer.
pub fn post_answer(port: u16, path: &str, body: &str, headers: &[&str]) -> Answer {
    let mut command = Command::new("curl");
    command.args(["-s", "-D", "/dev/stderr", "-o", "-", "-w", "\n%{http_code}", "-X", "POST"]);
    for header in headers {
        command.args(["-H", header]);
    }
    let output = command
        .args(["--data-binary", "@-"])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().expect("piped stdin").write_all(body.as_bytes())?;
            child.wait_with_output()
        })
        .expect("curl runs (apt-get install curl)");
    assert!(output.status.success(), "curl failed: {}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').expect("curl printed the status");
    let headers = stderr(&output)
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    Answer { status: status.trim().parse().expect("an HTTP status"), headers, body: body.to_string() }
}

/// `curl` POSTs `body` to `path`; returns (status, response body).
pub fn post(port: u16, path: &str, body: &str, headers: &[&str]) -> (u16, String) {
    let answer = post_answer(port, path, body, headers);
    (answer.status, answer.body)
}

pub const JSON: &str = "Content-Type: application/json";

/// `curl` GETs `/metrics`; returns each sample (`name{labels}`) with its value.
pub fn metrics(port: u16, headers: &[&str]) -> (u16, HashMap<String, f64>) {
    let mut command = Command::new("curl");
    command.args(["-s", "-o", "-", "-w", "\n%{http_code}"]);
    for header in headers {
        command.args(["-H", header]);
    }
    let output =
        command.arg(format!("http://127.0.0.1:{port}/metrics")).output().expect("curl runs (apt-get install curl)");
    assert!(output.status.success(), "curl failed: {}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (page, status) = text.rsplit_once('\n').expect("curl printed the status");
    let status: u16 = status.trim().parse().expect("an HTTP status");
    if status != 200 {
        return (status, HashMap::new());
    }
    (status, st2d_tests::prometheus::parse(page))
}

pub use st2d_tests::prometheus::sample;

/// Polls `/metrics` until `check` holds.
pub fn wait_metrics(port: u16, what: &str, check: impl Fn(&HashMap<String, f64>) -> bool) -> HashMap<String, f64> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, samples) = metrics(port, &[]);
        assert_eq!(status, 200);
        if check(&samples) {
            return samples;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: {samples:#?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
