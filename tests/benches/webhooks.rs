//! Benchmark of the HTTP ingress, printing figures: webhook requests per second into the
//! journal, from a concurrent load generator on loopback (keep-alive HTTP/1.1 connections, each
//! sending its next request when the previous 202 arrives). Every 202 means the instance is on
//! disk; the figure counts 202s only, and the daemon's own counts from `/metrics` follow it.
//!
//! Run: `cargo bench -p st2d-tests --bench webhooks`.

// The test harness starts real processes of its own (clippy.toml keeps the daemon to `process`).
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use st2d_tests::{Home, http1, pack_yaml, write_file};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONNECTIONS: usize = 64;
const DURATION: Duration = Duration::from_secs(10);

/// Sends requests on one connection until `until`; returns how many got a 202.
async fn load(port: u16, request: Vec<u8>, until: Instant) -> usize {
    http1::repeat_until(port, &request, 202, until).await
}

fn main() {
    let home = Home::new();
    let pack = home.packs().join("hooks");
    write_file(&pack.join("pack.yaml"), &pack_yaml("hooks", "webhook benchmark"));
    write_file(
        &pack.join("rules/alert.yaml"),
        "---\nname: alert\nenabled: true\ntrigger: {type: core.st2.webhook, parameters: {url: alert}}\ncriteria:\n  trigger.body.severity: {type: equals, pattern: never}\naction: {ref: core.noop}\n",
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = st2d_tests::st2d_command()
        .arg("--home")
        .arg(home.path())
        .args(["serve", "--register-rules-by-default", "--http-listen", &listen])
        .env("ST2D_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("st2d starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "st2d did not start listening");
        std::thread::sleep(Duration::from_millis(10));
    }
    let body = r#"{"severity": "warning", "host": "web-1", "check": "disk", "output": "DISK WARNING - 81% used"}"#;
    let request = http1::post_json("/api/v1/webhooks/alert", body);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let (accepted, elapsed) = runtime.block_on(async {
        // Warm up, then measure.
        load(port, request.clone(), Instant::now() + Duration::from_millis(500)).await;
        let started = Instant::now();
        let until = started + DURATION;
        let tasks: Vec<_> = (0..CONNECTIONS).map(|_| tokio::spawn(load(port, request.clone(), until))).collect();
        let mut accepted = 0;
        for task in tasks {
            accepted += task.await.expect("load task");
        }
        (accepted, started.elapsed())
    });
    println!(
        "webhooks into the journal, {CONNECTIONS} keep-alive connections on loopback for {:.1} s: {accepted} accepted (202), {:.0} requests/s",
        elapsed.as_secs_f64(),
        accepted as f64 / elapsed.as_secs_f64()
    );
    // The daemon's own count, from its metrics page: every 202 is a journaled instance.
    let page = runtime.block_on(async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut page = String::new();
        stream.read_to_string(&mut page).await.expect("read the metrics page");
        page
    });
    let figure = |name: &str| {
        page.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse::<f64>().ok())).unwrap_or(f64::NAN)
    };
    println!(
        "st2d's metrics: {} instances received, {} processed by the rules engine, {} HTTP 202s",
        figure("st2d_trigger_instances_received_total "),
        figure("st2d_trigger_instances_processed_total "),
        figure("st2d_http_requests_total{code=\"202\"} "),
    );
    let _ = child.kill();
    let _ = child.wait();
}
