//! Benchmark of StackStorm's REST API, printing figures: `GET /api/v1/executions?limit=50`
//! with 100,000 executions in history (p50, p99 of one client's round trips), and executions
//! created per second through `POST /api/v1/executions` (`core.noop`) from 32 keep-alive
//! connections, each sending its next request when the previous 201 arrives. Every 201 means
//! the execution is on disk.
//!
//! The history is written into the store before st2d starts (the records st2d itself writes,
//! through its store), so the figure is the API's, not the time to make 100,000 executions.
//!
//! Run: `cargo bench -p st2d-tests --bench rest`.

// The test harness starts real processes of its own (clippy.toml keeps the daemon to `process`).
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Map, Value, json};
use st2d::execution::{Execution, LogEntry};
use st2d::store::Store;
use st2d_core::status::ExecutionStatus;
use st2d_tests::bench::Served;
use st2d_tests::{Home, http1};

const HISTORY: usize = 100_000;
const LIST_REQUESTS: usize = 500;
const CONNECTIONS: usize = 32;
const DURATION: Duration = Duration::from_secs(10);

/// Writes `HISTORY` completed `core.local` executions, as st2d records them.
fn write_history(home: &Home) {
    let store = Store::open(&home.path().join("data").join("store")).expect("the store opens");
    let now = Utc::now();
    for n in 0..HISTORY {
        let id = store.next_id().expect("an id");
        let log = [
            ExecutionStatus::Requested,
            ExecutionStatus::Scheduled,
            ExecutionStatus::Running,
            ExecutionStatus::Succeeded,
        ]
        .into_iter()
        .map(|status| LogEntry { status, timestamp: now })
        .collect();
        let mut parameters = Map::new();
        parameters.insert("cmd".into(), json!(format!("echo {n}")));
        let execution = Execution {
            id: format!("{id:016x}"),
            action: "core.local".into(),
            runner: "local-shell-cmd".into(),
            status: ExecutionStatus::Succeeded,
            parameters,
            result: Some(
                json!({"failed": false, "succeeded": true, "return_code": 0, "stdout": format!("{n}"), "stderr": ""}),
            ),
            start_timestamp: now,
            end_timestamp: Some(now),
            user: "stanley".into(),
            rule: None,
            trigger_instance: None,
            trace_tag: None,
            parent: None,
            task: None,
            context: json!({"user": "stanley", "pack": "core"}),
            log,
            resolved: None,
        };
        store.put_execution(id, &execution.to_record(), false).expect("written");
    }
    store.flush().expect("flushed");
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

/// Creates executions on one connection until `until`; returns how many got a 201.
async fn create(port: u16, until: Instant) -> usize {
    let request = http1::post_json("/api/v1/executions", r#"{"action": "core.noop"}"#);
    http1::repeat_until(port, &request, 201, until).await
}

fn main() {
    let home = Home::new();
    let started = Instant::now();
    write_history(&home);
    println!("history: {HISTORY} executions written in {:.1} s", started.elapsed().as_secs_f64());
    let served = Served::start(&home, &[]);
    let port = served.port;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let mut stream = http1::connect(port).await;
        let request = http1::get("/api/v1/executions?limit=50");
        let mut buffer = Vec::with_capacity(1 << 20);
        let mut times = Vec::with_capacity(LIST_REQUESTS);
        for round in 0..LIST_REQUESTS + 20 {
            let sent = Instant::now();
            let (status, body) = http1::exchange(&mut stream, &request, &mut buffer).await;
            let took = sent.elapsed();
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
            if round == 0 {
                let page: Value = serde_json::from_slice(&body).expect("a JSON list");
                assert_eq!(page.as_array().map(Vec::len), Some(50), "a full page");
            }
            // The first rounds warm the store's cache.
            if round >= 20 {
                times.push(took);
            }
        }
        times.sort();
        println!(
            "GET /api/v1/executions?limit=50 with {HISTORY} executions in history, {LIST_REQUESTS} requests: p50 {:.2} ms, p99 {:.2} ms",
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
        // Warm up, then measure.
        create(port, Instant::now() + Duration::from_millis(500)).await;
        let started = Instant::now();
        let until = started + DURATION;
        let tasks: Vec<_> = (0..CONNECTIONS).map(|_| tokio::spawn(create(port, until))).collect();
        let mut created = 0;
        for task in tasks {
            created += task.await.expect("load task");
        }
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "POST /api/v1/executions (core.noop), {CONNECTIONS} keep-alive connections for {elapsed:.1} s: {created} created (201), {:.0} executions/s",
            created as f64 / elapsed
        );
    });
    drop(served);
}
