//! Soak benchmark, printing figures: the real st2d under a steady 10,000 trigger instances per
//! second for 10 minutes, each firing a rule that runs `core.noop`. Four fifths of the rate are
//! webhooks from 64 keep-alive connections in this process, one fifth comes from one Python
//! sensor of the bench pack, dispatching at the rate this benchmark writes into the pack's
//! config. Every second it samples st2d's RSS, open file descriptors and threads (`/proc/PID`),
//! the journal depth and the counters of its `/metrics` page, the sensor's acknowledged
//! dispatches (`GetStatus`) and the size of the store on disk. At the end it prints, one line
//! each: the rate achieved and the webhooks' round trips; for every sampled quantity the first
//! sample, the one after the first minute, the one at the end of the load, the one after the
//! drain and the largest; and the instances accepted, processed, refused and lost, and the
//! executions created.
//!
//! The load is paced, never a flood: each connection sends on its own schedule (request `k` of
//! connection `c` is due at `(k * 64 + c) / rate` seconds), catching up when it fell behind;
//! the sensor dispatches what is due every 5 ms while a start file exists. A webhook answered
//! 503 is refused, not lost: it is sent again after its `Retry-After` (1 s without one). After
//! the load the daemon drains: sampling goes on until the journal depth and the executions in
//! flight are 0 and the counters stop moving (at most 5 minutes). The benchmark fails if st2d
//! dies, if an accepted instance is lost (journaled and never processed, or processed without
//! firing its rule), or if st2d's RSS passes a quarter of the machine's memory (the load then
//! stops early, the figures are printed, and the run fails: a soak must not take the machine
//! down); it asserts nothing on timings.
//!
//! Run: `cargo bench -p st2d-tests --bench soak` (10 minutes; needs python3). Quick mode, 60 s
//! of load: `SOAK_SECONDS=60 cargo bench -p st2d-tests --bench soak`. `SOAK_RATE=N` sets
//! another total rate (instances per second).

// The test harness starts real processes of its own (clippy.toml keeps the daemon to `process`).
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use st2d_proto::v1 as pb;
use st2d_tests::bench::{Served, disk_bytes, memory_total_kb, open_fds, proc_status, rss_kb};
use st2d_tests::{Client, Home, SENSOR_NO_OP_METHODS, http1, pack_yaml, prometheus, write_file};
use tokio::net::TcpStream;

const CONNECTIONS: usize = 64;
/// The sensor's part of the rate: one in this many.
const SENSOR_SHARE: u64 = 5;
const DEFAULT_SECONDS: u64 = 600;
const DEFAULT_RATE: u64 = 10_000;
/// The sample compared with the last one for growth (the goal: RSS at the end within 10 % of it).
const FIRST_MINUTE: f64 = 60.0;
/// The longest wait for the daemon to drain after the load.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(300);
/// How long after the load a refused webhook is still sent again.
const RESEND_LIMIT: Duration = Duration::from_secs(60);
/// The wait before sending a refused webhook again when the 503 names none.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

const SENSOR: &str = r#"import os
import time

from st2reactor.sensor.base import Sensor


class Pace(Sensor):
    """Dispatches soak.tick at config rate per second from when config start_file appears
    until it is removed; then idles."""

    def setup(self):
        pass

    def run(self):
        rate = float(self.config["rate"])
        start_file = self.config["start_file"]
        while not os.path.exists(start_file):
            time.sleep(0.01)
        dispatch = self.sensor_service.dispatch
        started = time.monotonic()
        sent = 0
        while os.path.exists(start_file):
            due = int((time.monotonic() - started) * rate)
            while sent < due:
                dispatch("soak.tick", {"n": sent})
                sent += 1
            time.sleep(0.005)
        while True:
            time.sleep(3600)
"#;

/// The bench pack: a webhook rule and the pacing sensor's rule, both running `core.noop`.
fn write_pack(home: &Home, sensor_rate: u64, start_file: &Path) {
    let pack = home.packs().join("soak");
    write_file(&pack.join("pack.yaml"), &pack_yaml("soak", "soak benchmark"));
    write_file(
        &pack.join("config.schema.yaml"),
        "---\nrate: {type: number, required: true}\nstart_file: {type: string, required: true}\n",
    );
    write_file(
        &home.path().join("configs/soak.yaml"),
        &format!("---\nrate: {sensor_rate}\nstart_file: {:?}\n", start_file.display().to_string()),
    );
    write_file(
        &pack.join("sensors/pace.yaml"),
        "---\nclass_name: Pace\nentry_point: pace.py\ndescription: dispatches at the configured rate\ntrigger_types:\n  - name: tick\n    payload_schema:\n      type: object\n      properties:\n        n: {type: integer}\n",
    );
    write_file(&pack.join("sensors/pace.py"), &format!("{SENSOR}{SENSOR_NO_OP_METHODS}"));
    write_file(
        &pack.join("rules/hook.yaml"),
        "---\nname: hook\nenabled: true\ntrigger: {type: core.st2.webhook, parameters: {url: soak}}\naction: {ref: core.noop}\n",
    );
    write_file(
        &pack.join("rules/tick.yaml"),
        "---\nname: tick\nenabled: true\ntrigger: {type: soak.tick}\naction: {ref: core.noop}\n",
    );
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value.trim().parse().unwrap_or_else(|_| panic!("{name}={value:?} is not a whole number")),
        Err(_) => default,
    }
}

fn main() {
    st2d_tests::require_python();
    let seconds = env_number("SOAK_SECONDS", DEFAULT_SECONDS);
    let rate = env_number("SOAK_RATE", DEFAULT_RATE);
    assert!(seconds > 0 && rate >= SENSOR_SHARE, "SOAK_SECONDS and SOAK_RATE must be positive");
    let sensor_rate = rate / SENSOR_SHARE;
    let load = Load { seconds, webhook_rate: rate - sensor_rate, sensor_rate };
    let home = Home::new();
    let start_file = home.path().join("start");
    write_pack(&home, sensor_rate, &start_file);
    let mut served = Served::start(&home, &["--register-rules-by-default"]);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let run = runtime.block_on(soak(&mut served, &home, &start_file, &load));
    report(&load, run);
    drop(served);
}

/// What the benchmark asks for.
struct Load {
    seconds: u64,
    webhook_rate: u64,
    sensor_rate: u64,
}

/// One second's figures.
#[derive(Clone, Debug)]
struct Sample {
    /// Seconds since the load started.
    at: f64,
    rss_kb: u64,
    fds: u64,
    threads: u64,
    store_bytes: u64,
    journal_depth: f64,
    /// Trigger instances journaled, processed by the rules engine, rules fired.
    received: f64,
    processed: f64,
    matched: f64,
    /// Webhook answers, as st2d counts them.
    answered_202: f64,
    answered_503: f64,
    /// Sensor dispatches acknowledged (journaled) and dropped.
    sensor_accepted: u64,
    sensor_dropped: u64,
    sensor_restarts: f64,
    executions_requested: f64,
    executions_succeeded: f64,
    executions_in_flight: f64,
    /// CPU time st2d has used, in seconds.
    cpu_seconds: f64,
}

impl Sample {
    fn accepted(&self) -> f64 {
        self.answered_202 + self.sensor_accepted as f64
    }
}

/// Reads a sample from st2d: `/proc`, its metrics page, GetStatus and the store's directory.
struct Probe {
    pid: u32,
    metrics: TcpStream,
    buffer: Vec<u8>,
    control: Client,
    store: PathBuf,
}

impl Probe {
    /// A sample now; its time (since `started`) is when the metrics page arrived.
    async fn sample(&mut self, started: Instant) -> Sample {
        let page = prometheus::scrape(&mut self.metrics, &mut self.buffer).await;
        let at = started.elapsed().as_secs_f64();
        let figure = |name: &str| prometheus::sample(&page, name);
        let status = self.control.get_status(pb::GetStatusRequest {}).await.expect("GetStatus").into_inner();
        Sample {
            at,
            rss_kb: rss_kb(self.pid),
            fds: open_fds(self.pid) as u64,
            threads: proc_status(self.pid, "Threads"),
            store_bytes: disk_bytes(&self.store),
            journal_depth: figure("st2d_trigger_journal_depth"),
            received: figure("st2d_trigger_instances_received_total"),
            processed: figure("st2d_trigger_instances_processed_total"),
            matched: figure("st2d_rules_matched_total"),
            answered_202: figure(r#"st2d_http_requests_total{code="202"}"#),
            answered_503: figure(r#"st2d_http_requests_total{code="503"}"#),
            sensor_accepted: status.dispatches_accepted,
            sensor_dropped: status.dispatches_dropped,
            sensor_restarts: page.get(r#"st2d_sensor_restarts_total{sensor="soak.Pace"}"#).copied().unwrap_or(0.0),
            executions_requested: figure(r#"st2d_executions_total{status="requested"}"#),
            executions_succeeded: figure(r#"st2d_executions_total{status="succeeded"}"#),
            executions_in_flight: figure("st2d_executions_in_flight"),
            cpu_seconds: figure("process_cpu_seconds_total"),
        }
    }
}

/// What one webhook connection did.
#[derive(Default)]
struct Sent {
    accepted: u64,
    refused: u64,
    /// Refused and not sent again: the daemon still refused `RESEND_LIMIT` after the load.
    abandoned: u64,
    /// Each 202's round trip, in microseconds.
    round_trips: Vec<u32>,
}

/// When the load runs, and its stop (at `until`, or earlier when st2d grows past the ceiling).
#[derive(Clone)]
struct Schedule {
    started: Instant,
    until: Instant,
    stop: Arc<AtomicBool>,
}

/// Connection `index` of `CONNECTIONS`: its share of `rate` webhooks per second until the
/// load stops, each sent until accepted.
async fn webhooks(port: u16, request: Arc<Vec<u8>>, index: usize, rate: u64, schedule: Schedule) -> Sent {
    let Schedule { started, until, stop } = schedule;
    let mut stream = http1::connect(port).await;
    let mut buffer = Vec::with_capacity(4096);
    let mut sent = Sent::default();
    for k in 0u64.. {
        let due = started + Duration::from_secs_f64((k * CONNECTIONS as u64 + index as u64) as f64 / rate as f64);
        if due >= until {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        if stop.load(Ordering::Relaxed) {
            break;
        }
        loop {
            let sending = Instant::now();
            let response = http1::send(&mut stream, &request, &mut buffer).await;
            match response.status {
                202 => {
                    sent.accepted += 1;
                    sent.round_trips.push(u32::try_from(sending.elapsed().as_micros()).unwrap_or(u32::MAX));
                    break;
                }
                503 => {
                    sent.refused += 1;
                    let wait = response
                        .header("retry-after")
                        .and_then(|value| value.parse::<f64>().ok())
                        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
                        .map_or(DEFAULT_RETRY_AFTER, Duration::from_secs_f64);
                    if Instant::now() + wait > until + RESEND_LIMIT {
                        sent.abandoned += 1;
                        break;
                    }
                    tokio::time::sleep(wait).await;
                }
                other => panic!("a webhook answered {other}: {}", String::from_utf8_lossy(&response.body)),
            }
        }
    }
    sent
}

/// What the run measured.
struct Run {
    samples: Vec<Sample>,
    /// The index of the last sample taken under load.
    end_of_load: usize,
    drained: bool,
    sent: Sent,
    /// st2d's RSS that stops the load (a quarter of the machine's memory), and the second it
    /// stopped it at, if it did.
    ceiling_kb: u64,
    stopped_early: Option<u64>,
    /// How long the load ran, from the start to its stop.
    loaded: Duration,
    /// The machine's one-minute load average when the load started and when it stopped.
    load_averages: (f64, f64),
}

async fn soak(served: &mut Served, home: &Home, start_file: &Path, load: &Load) -> Run {
    let socket = home.socket();
    let mut control = st2d_tests::until("the control socket", || {
        let socket = socket.clone();
        async move { st2d_tests::channel(&socket).await.ok().map(pb::control_client::ControlClient::new) }
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while control.get_status(pb::GetStatusRequest {}).await.expect("GetStatus").into_inner().sensors_running < 1 {
        served.assert_running();
        assert!(Instant::now() < deadline, "the soak sensor did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut probe = Probe {
        pid: served.pid(),
        metrics: http1::connect(served.port).await,
        buffer: Vec::with_capacity(64 * 1024),
        control,
        store: home.path().join("data/store"),
    };
    let body = r#"{"host": "web-1", "check": "disk", "severity": "warning", "output": "DISK WARNING - 81% used"}"#;
    let request = Arc::new(http1::post_json("/api/v1/webhooks/soak", body));
    let ceiling_kb = memory_total_kb() / 4;
    let mut stopped_early = None;
    let mut loaded = Duration::ZERO;
    let load_at_start = load_average();
    let started = Instant::now();
    let mut samples = vec![probe.sample(started).await];
    write_file(start_file, "");
    let schedule = Schedule {
        started,
        until: started + Duration::from_secs(load.seconds),
        stop: Arc::new(AtomicBool::new(false)),
    };
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|index| tokio::spawn(webhooks(served.port, request.clone(), index, load.webhook_rate, schedule.clone())))
        .collect();
    // A sample a second; one that took longer delays the next rather than bunching them.
    let mut ticks = tokio::time::interval_at((started + Duration::from_secs(1)).into(), Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (end_of_load, load_at_stop) = loop {
        ticks.tick().await;
        served.assert_running();
        let due = started.elapsed() >= Duration::from_secs(load.seconds);
        if due {
            stop(&schedule, start_file);
            loaded = started.elapsed();
        }
        let sample = probe.sample(started).await;
        if samples.len() % 10 == 0 {
            let before = &samples[samples.len() - 10];
            let per_second = |now: f64, then: f64| (now - then) / (sample.at - before.at);
            eprintln!(
                "soak: {:.0} s, {:.0} accepted/s, {:.0} processed/s, journal depth {}, {} executions in flight, RSS {:.1} MB, store {:.1} MB",
                sample.at,
                per_second(sample.accepted(), before.accepted()),
                per_second(sample.processed, before.processed),
                sample.journal_depth,
                sample.executions_in_flight,
                sample.rss_kb as f64 / 1024.0,
                sample.store_bytes as f64 / 1e6,
            );
        }
        let over_ceiling = sample.rss_kb > ceiling_kb;
        samples.push(sample);
        if !due && over_ceiling {
            stop(&schedule, start_file);
            loaded = started.elapsed();
            stopped_early = Some(loaded.as_secs());
        }
        if due || over_ceiling {
            break (samples.len() - 1, load_average());
        }
    };

    // The drain: until the connections have their last answers, nothing is queued or running
    // and the counters stand still.
    let drain_started = Instant::now();
    let drained = loop {
        ticks.tick().await;
        served.assert_running();
        let sample = probe.sample(started).await;
        let last = samples.last().expect("the first sample");
        let settled = clients.iter().all(|client| client.is_finished())
            && sample.journal_depth == 0.0
            && sample.executions_in_flight == 0.0
            && sample.received == last.received
            && sample.processed == last.processed
            && sample.sensor_accepted == last.sensor_accepted;
        samples.push(sample);
        if settled {
            break true;
        }
        if drain_started.elapsed() > DRAIN_TIMEOUT {
            break false;
        }
    };
    let mut sent = Sent::default();
    for client in clients {
        let client = client.await.expect("a webhook connection");
        sent.accepted += client.accepted;
        sent.refused += client.refused;
        sent.abandoned += client.abandoned;
        sent.round_trips.extend(client.round_trips);
    }
    let load_averages = (load_at_start, load_at_stop);
    Run { samples, end_of_load, drained, sent, ceiling_kb, stopped_early, loaded, load_averages }
}

/// The machine's one-minute load average (other work on it slows st2d down).
fn load_average() -> f64 {
    let text = std::fs::read_to_string("/proc/loadavg").expect("/proc/loadavg is readable");
    text.split_whitespace().next().and_then(|value| value.parse().ok()).expect("a load average")
}

/// Ends the load: the connections send nothing more, the sensor stops when its file goes.
fn stop(schedule: &Schedule, start_file: &Path) {
    if !schedule.stop.swap(true, Ordering::Relaxed) {
        std::fs::remove_file(start_file).expect("the start file is removed");
    }
}

/// A quantity's course: first, after the first minute, end of load, after the drain, largest.
fn course(name: &str, run: &Run, value: impl Fn(&Sample) -> f64, show: impl Fn(f64) -> String) -> Option<f64> {
    let samples = &run.samples;
    let first = value(&samples[0]);
    let minute = samples[..=run.end_of_load].iter().find(|s| s.at >= FIRST_MINUTE).map(&value);
    let end = value(&samples[run.end_of_load]);
    let last = value(&samples[samples.len() - 1]);
    let max = samples.iter().map(&value).fold(f64::MIN, f64::max);
    let minute_text = minute.map_or("n/a".to_string(), &show);
    println!(
        "soak {name}: first {}, after 1 min {minute_text}, end of load {}, after the drain {}, max {}",
        show(first),
        show(end),
        show(last),
        show(max)
    );
    minute
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn report(load: &Load, mut run: Run) {
    let mut round_trips = std::mem::take(&mut run.sent.round_trips);
    round_trips.sort_unstable();
    let run = &run;
    let samples = &run.samples;
    let at_end = &samples[run.end_of_load];
    let last = &samples[samples.len() - 1];
    let seconds = run.loaded.as_secs_f64();
    let stopped = match run.stopped_early {
        Some(second) => format!(
            ", stopped after {second} s of {}: st2d's RSS passed {:.0} MB, a quarter of the machine's memory",
            load.seconds,
            run.ceiling_kb as f64 / 1024.0
        ),
        None => String::new(),
    };
    println!(
        "soak load: {seconds:.1} s{stopped} at a target of {} instances/s ({}/s webhooks from {CONNECTIONS} keep-alive connections, {}/s from one Python sensor): {:.0} instances/s achieved ({:.0}/s webhooks answered 202, {:.0}/s sensor dispatches acknowledged)",
        load.webhook_rate + load.sensor_rate,
        load.webhook_rate,
        load.sensor_rate,
        last.accepted() / seconds,
        last.answered_202 / seconds,
        last.sensor_accepted as f64 / seconds,
    );
    let at = |q: f64| {
        let index = ((round_trips.len().saturating_sub(1)) as f64 * q).round() as usize;
        round_trips.get(index).map_or(f64::NAN, |micros| f64::from(*micros) / 1000.0)
    };
    println!(
        "soak webhook round trips (request to 202, on disk): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} requests)",
        at(0.5),
        at(0.99),
        at(1.0),
        round_trips.len()
    );
    let rates = |value: fn(&Sample) -> f64| -> Vec<f64> {
        samples[..=run.end_of_load]
            .windows(2)
            .map(|pair| (value(&pair[1]) - value(&pair[0])) / (pair[1].at - pair[0].at))
            .collect()
    };
    for (what, value) in [
        ("accepted", Sample::accepted as fn(&Sample) -> f64),
        ("processed", |s: &Sample| s.processed),
        ("executions created", |s: &Sample| s.executions_requested),
    ] {
        let per_second = rates(value);
        println!(
            "soak {what} per second, between the load's samples ({} intervals of 1 s or more): min {:.0}, median {:.0}, max {:.0}",
            per_second.len(),
            per_second.iter().copied().fold(f64::MAX, f64::min),
            median(per_second.clone()),
            per_second.iter().copied().fold(f64::MIN, f64::max),
        );
    }
    let cores = rates(|s| s.cpu_seconds);
    println!(
        "soak st2d CPU, between the load's samples: median {:.2} cores, max {:.2} (the machine: {} cores, load average {:.2} when the load started, {:.2} when it stopped)",
        median(cores.clone()),
        cores.iter().copied().fold(f64::MIN, f64::max),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        run.load_averages.0,
        run.load_averages.1,
    );
    let mb = |kb: f64| format!("{:.1} MB", kb / 1024.0);
    if let Some(minute) = course("RSS", run, |s| s.rss_kb as f64, mb) {
        println!(
            "soak RSS growth: end of load {:+.1} % of the value after 1 min (goal: within 10 %)",
            (at_end.rss_kb as f64 - minute) / minute * 100.0
        );
    }
    let whole = |value: f64| format!("{value:.0}");
    course("open file descriptors", run, |s| s.fds as f64, whole);
    course("threads", run, |s| s.threads as f64, whole);
    course("journal depth", run, |s| s.journal_depth, whole);
    course("executions in flight", run, |s| s.executions_in_flight, whole);
    course("store on disk", run, |s| s.store_bytes as f64, |bytes| format!("{:.1} MB", bytes / 1e6));

    let accepted = last.accepted();
    println!(
        "soak accepted instances: {accepted:.0} ({:.0} webhooks answered 202, {} sensor dispatches acknowledged; this process counted {} 202s; sensor dispatches dropped {}, sensor restarts {:.0})",
        last.answered_202, last.sensor_accepted, run.sent.accepted, last.sensor_dropped, last.sensor_restarts
    );
    println!(
        "soak processed instances (rules engine): {:.0} of {:.0} journaled ({:.0} accepted, {:.0} core.st2.generic.actiontrigger of completed executions); rules fired {:.0}",
        last.processed,
        last.received,
        accepted,
        last.received - accepted,
        last.matched
    );
    println!(
        "soak refused instances (webhooks answered 503, each sent again after its Retry-After): {} ({:.0} counted by st2d; {} still refused {} s after the load and given up)",
        run.sent.refused,
        last.answered_503,
        run.sent.abandoned,
        RESEND_LIMIT.as_secs()
    );
    let drain = last.at - at_end.at;
    let lost = last.received - last.processed;
    println!(
        "soak lost instances (journaled, never processed, after a drain of {drain:.0} s{}): {lost:.0}",
        if run.drained { "" } else { ", which timed out" }
    );
    println!("soak executions: {:.0} created, {:.0} succeeded", last.executions_requested, last.executions_succeeded);
    assert_eq!(
        lost,
        0.0,
        "instances were journaled and never processed (the drain {}settled)",
        if run.drained { "" } else { "never " }
    );
    assert_eq!(
        last.matched, accepted,
        "every accepted instance fires exactly one rule: {accepted} accepted, {} rules fired",
        last.matched
    );
    assert!(run.stopped_early.is_none(), "the load was stopped early: st2d's RSS passed the ceiling");
}
