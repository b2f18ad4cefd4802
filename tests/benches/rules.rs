//! Benchmarks of the rules engine and the executor, printing figures:
//! - the rule index alone: 1,000 rules over 100 trigger types (10 per type, two criteria each),
//!   instances matched per second on one thread and on two;
//! - journaled end to end without actions: dispatches from a Python sensor until every
//!   instance is processed by the rules engine;
//! - trigger instance to action process started (p50, p99): a rule runs a local-shell-cmd
//!   action whose shell prints the time it started; measured after a second of unmeasured
//!   instances, since the daemon's own start-up work (finding the base Python libraries and
//!   the interpreter, a few hundred milliseconds after READY) would otherwise land in the tail;
//! - local-shell-cmd executions per second through the control plane.
//!
//! Run: `cargo bench -p st2d-tests --bench rules` (or `-- engine journal latency shell` for
//! some stages).

// The test harness starts real processes of its own (clippy.toml keeps the daemon to `process`).
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use st2d::registry::build::{Dirty, Scanner};
use st2d::reload::{Cause, Reloader};
use st2d::rule::engine::RuleIndex;
use st2d::store::Store;
use st2d_core::criteria::matcher::Literal;
use st2d_proto::v1 as pb;
use st2d_tests::{Home, control, pack_yaml, write_file};

const TYPES: usize = 100;
const RULES_PER_TYPE: usize = 10;

fn main() {
    // `cargo bench --bench rules -- engine journal latency shell` runs the named stages only.
    let wanted: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let run = |stage: &str| wanted.is_empty() || wanted.iter().any(|w| w == stage);
    if run("engine") {
        engine_alone();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    if run("journal") {
        runtime.block_on(journaled_end_to_end());
    }
    if run("latency") {
        runtime.block_on(trigger_to_process());
    }
    if run("shell") {
        runtime.block_on(shell_executions());
    }
}

/// A pack with TYPES trigger types and RULES_PER_TYPE rules on each, two criteria per rule.
fn write_bench_pack(home: &Home) {
    let pack = home.packs().join("bench");
    write_file(&pack.join("pack.yaml"), &pack_yaml("bench", "rules engine benchmark"));
    for t in 0..TYPES {
        write_file(
            &pack.join(format!("triggers/t{t}.yaml")),
            &format!("---\nname: t{t}\ndescription: type {t}\npayload_schema: {{type: object}}\n"),
        );
        for r in 0..RULES_PER_TYPE {
            write_file(
                &pack.join(format!("rules/t{t}_r{r}.yaml")),
                &format!(
                    "---\nname: t{t}_r{r}\nenabled: true\ntrigger: {{type: bench.t{t}}}\ncriteria:\n  trigger.level: {{type: greaterthan, pattern: {r}}}\n  trigger.host: {{type: startswith, pattern: web-{r}}}\naction: {{ref: core.noop}}\n"
                ),
            );
        }
    }
}

fn engine_alone() {
    let home = Home::new();
    write_bench_pack(&home);
    let store = Store::open(&home.path().join("store")).expect("store");
    let scanner = Scanner::new(Vec::new(), vec![home.packs()], home.path().join("configs"));
    let mut reloader = Reloader::new(scanner, store, true);
    reloader.reload_blocking(Cause::Start, &Dirty::All, &[]);
    let registry = reloader.published().registry();
    let index = Arc::new(RuleIndex::build(&registry));
    let rules: usize = (0..TYPES).map(|t| index.rules_for(&format!("bench.t{t}"))).sum();
    assert_eq!(rules, TYPES * RULES_PER_TYPE, "every rule indexed");
    let instances: Arc<Vec<(String, Value)>> = Arc::new(
        (0..100_000)
            .map(|n| (format!("bench.t{}", n % TYPES), json!({"level": n % 12, "host": format!("web-{}-x", n % 11)})))
            .collect(),
    );
    fn run(index: &RuleIndex, instances: &[(String, Value)], rounds: usize) -> (usize, usize) {
        let now = chrono::Utc::now();
        let mut matched = 0;
        let mut evaluated = 0;
        for _ in 0..rounds {
            for (trigger, payload) in instances {
                matched += index.evaluate(trigger, payload, &Literal, now).len();
                evaluated += 1;
            }
        }
        (evaluated, matched)
    }
    run(&index, &instances, 1);
    let started = Instant::now();
    let (evaluated, matched) = run(&index, &instances, 10);
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "rules engine alone, 1 thread: {:.0} instances/s ({evaluated} instances, {matched} matches, {TYPES} types, {rules} rules, {:.2} s)",
        evaluated as f64 / elapsed,
        elapsed
    );
    let started = Instant::now();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let index = index.clone();
            let instances = instances.clone();
            std::thread::spawn(move || run(&index, &instances, 10))
        })
        .collect();
    let evaluated: usize = threads.into_iter().map(|t| t.join().expect("thread").0).sum();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "rules engine alone, 2 threads: {:.0} instances/s ({evaluated} instances, {:.2} s)",
        evaluated as f64 / elapsed,
        elapsed
    );
}

/// The daemon under measurement, killed when dropped (also when a stage panics).
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

fn start(home: &Home) -> Running {
    let child = st2d_tests::st2d_command()
        .arg("--home")
        .arg(home.path())
        .args(["serve", "--register-rules-by-default"])
        .env("ST2D_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("st2d starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !home.socket().exists() {
        assert!(Instant::now() < deadline, "st2d did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    Running(child)
}

fn stop(running: Running) {
    drop(running);
}

/// A Python sensor dispatches `count` instances of `bench.t0` as fast as it can.
fn write_dispatching_sensor(home: &Home, count: usize) {
    let pack = home.packs().join("bench");
    write_file(
        &pack.join("sensors/burst.yaml"),
        "---\nclass_name: Burst\nentry_point: burst.py\ndescription: dispatches a burst\n",
    );
    write_file(
        &pack.join("sensors/burst.py"),
        &format!(
            "from st2reactor.sensor.base import Sensor\n\nclass Burst(Sensor):\n    def setup(self):\n        pass\n\n    def run(self):\n        for n in range({count}):\n            self.sensor_service.dispatch(trigger='bench.t0', payload={{'level': n % 12, 'host': 'db-%d' % n}})\n\n    def cleanup(self):\n        pass\n\n    def add_trigger(self, trigger):\n        pass\n\n    def update_trigger(self, trigger):\n        pass\n\n    def remove_trigger(self, trigger):\n        pass\n"
        ),
    );
}

async fn journaled_end_to_end() {
    let count = 100_000;
    let home = Home::new();
    write_bench_pack(&home);
    // Payloads whose host never starts with web-: every rule is evaluated, none fires.
    write_dispatching_sensor(&home, count);
    let child = start(&home);
    let mut client = control(&home.socket()).await;
    let deadline = Instant::now() + Duration::from_secs(300);
    // The clock starts with the first accepted dispatch: Python's start-up is not the engine's.
    loop {
        let status = client.get_status(pb::GetStatusRequest {}).await.expect("status").into_inner();
        if status.dispatches_accepted > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the sensor never dispatched");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let started = Instant::now();
    loop {
        let newest = client
            .list_trigger_instances(pb::ListTriggerInstancesRequest { trigger: "bench.t0".into(), limit: 1 })
            .await
            .expect("instances")
            .into_inner()
            .instances;
        let status = client.get_status(pb::GetStatusRequest {}).await.expect("status").into_inner();
        if status.dispatches_accepted as usize >= count && newest.first().is_some_and(|i| i.status == "processed") {
            break;
        }
        assert!(Instant::now() < deadline, "the burst was not processed in time");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "journaled end to end without actions: {:.0} instances/s ({count} dispatched by one Python sensor, each matched against 10 rules, all processed {elapsed:.2} s after the first was accepted)",
        count as f64 / elapsed
    );
    stop(child);
}

async fn trigger_to_process() {
    let home = Home::new();
    let pack = home.packs().join("latency");
    write_file(&pack.join("pack.yaml"), &pack_yaml("latency", "latency benchmark"));
    write_file(
        &pack.join("triggers/ping.yaml"),
        "---\nname: ping\ndescription: ping\npayload_schema: {type: object}\n",
    );
    write_file(
        &pack.join("rules/on_ping.yaml"),
        "---\nname: on_ping\nenabled: true\ntrigger: {type: latency.ping}\naction:\n  ref: core.local\n  parameters:\n    cmd: echo $EPOCHREALTIME\n",
    );
    let child = start(&home);
    let mut client = control(&home.socket()).await;
    let mut latencies = Vec::new();
    let mut recorded = Vec::new();
    let warm_up_until = Instant::now() + Duration::from_secs(1);
    while latencies.len() < 200 {
        let instance = client
            .fire_trigger(pb::FireTriggerRequest {
                trigger: "latency.ping".into(),
                payload_json: "{}".into(),
                trace_tag: String::new(),
            })
            .await
            .expect("fire")
            .into_inner();
        let occurred = chrono::DateTime::parse_from_rfc3339(&instance.occurrence_time).expect("time");
        let deadline = Instant::now() + Duration::from_secs(30);
        let execution = loop {
            let list = client
                .list_executions(pb::ListExecutionsRequest {
                    trigger_instance: instance.id.clone(),
                    limit: 1,
                    ..Default::default()
                })
                .await
                .expect("executions")
                .into_inner()
                .executions;
            if let Some(execution) = list.into_iter().find(|e| !e.end_timestamp.is_empty()) {
                break execution;
            }
            assert!(Instant::now() < deadline, "no execution for {}", instance.id);
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        let result: Value = serde_json::from_str(&execution.result_json).expect("result");
        let started = result["stdout"].as_f64().expect("the action printed its start time");
        let seconds = |t: chrono::DateTime<chrono::FixedOffset>| {
            t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9
        };
        let occurred = seconds(occurred);
        if Instant::now() < warm_up_until {
            continue;
        }
        latencies.push((started - occurred) * 1000.0);
        // The status log says when the execution was recorded running (its process spawns next).
        let log: Value = serde_json::from_str(&execution.log_json).expect("log");
        let running = log.as_array().and_then(|l| l.iter().find(|e| e["status"] == "running")).expect("running");
        let running = chrono::DateTime::parse_from_rfc3339(running["timestamp"].as_str().expect("ts")).expect("time");
        recorded.push((seconds(running) - occurred) * 1000.0);
    }
    let p = |values: &mut Vec<f64>, q: f64| {
        values.sort_by(f64::total_cmp);
        values[((values.len() as f64 - 1.0) * q).round() as usize]
    };
    println!(
        "trigger instance to action process started: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} instances, from the instance's occurrence_time to the action's bash reading EPOCHREALTIME; of that, to the execution recorded running: p50 {:.2} ms)",
        p(&mut latencies, 0.5),
        p(&mut latencies, 0.99),
        p(&mut latencies, 1.0),
        latencies.len(),
        p(&mut recorded, 0.5),
    );
    stop(child);
}

async fn shell_executions() {
    let count = 2_000;
    let home = Home::new();
    let child = start(&home);
    let client = control(&home.socket()).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let mut client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in (worker..count).step_by(8) {
                let request = client.run_action(pb::RunActionRequest {
                    action: "core.local".into(),
                    parameters_json: json!({"cmd": "true"}).to_string(),
                    ..Default::default()
                });
                let execution = tokio::time::timeout(Duration::from_secs(30), request)
                    .await
                    .expect("RunAction answers within 30 s")
                    .expect("run")
                    .into_inner();
                ids.push(execution.id);
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.extend(task.await.expect("task"));
    }
    let mut client = client.clone();
    let deadline = Instant::now() + Duration::from_secs(300);
    for id in &ids {
        loop {
            let execution = client.get_execution(pb::GetRequest { r#ref: id.clone() }).await.expect("get").into_inner();
            if !execution.end_timestamp.is_empty() {
                assert_eq!(execution.status, "succeeded", "{execution:?}");
                break;
            }
            assert!(Instant::now() < deadline, "executions did not complete in time");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "local-shell-cmd executions: {:.0} per second ({count} runs of core.local cmd=true requested over gRPC, all succeeded, {elapsed:.2} s)",
        count as f64 / elapsed
    );
    stop(child);
}
