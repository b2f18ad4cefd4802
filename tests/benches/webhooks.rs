//! Benchmark of the HTTP ingress, printing figures: webhook requests per second into the
//! journal, from a concurrent load generator on loopback (keep-alive HTTP/1.1 connections, each
//! sending its next request when the previous 202 arrives). Every 202 means the instance is on
//! disk; the figure counts 202s only, and the daemon's own counts from `/metrics` follow it.
//!
//! Run: `cargo bench -p st2d-tests --bench webhooks`.

// The test harness starts real processes of its own (clippy.toml keeps the daemon to `process`).
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use st2d_tests::bench::Served;
use st2d_tests::{Home, http1, pack_yaml, prometheus, write_file};

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
    let served = Served::start(&home, &["--register-rules-by-default"]);
    let port = served.port;
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
    let samples =
        runtime.block_on(async { prometheus::scrape(&mut http1::connect(port).await, &mut Vec::new()).await });
    let figure = |name: &str| prometheus::sample(&samples, name);
    println!(
        "st2d's metrics: {} instances received, {} processed by the rules engine, {} HTTP 202s",
        figure("st2d_trigger_instances_received_total"),
        figure("st2d_trigger_instances_processed_total"),
        figure("st2d_http_requests_total{code=\"202\"}"),
    );
    drop(served);
}
