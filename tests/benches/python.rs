//! Benchmark of python-script actions, printing figures, each side by side in one run with a
//! bare start of the same interpreter (`python3 -c 'import json, socket, logging'`, p50 of 50):
//! * one trivial python-script action, RunAction request to `succeeded` (as WatchExecution
//!   reports it), 200 runs in a row, p50 and p99: forked from the warm interpreter, and the
//!   same with `--no-python-warm` (a new interpreter each);
//! * the same for `core.noop` (no process): the floor the daemon's request path sets;
//! * python-script executions per second: 2,000 runs with 16 in flight, warm, with the CPU time
//!   each run cost st2d and Python (the warm interpreters and the children they reaped), from
//!   `/proc/PID/stat`: a figure the load of other processes on the machine moves less than the
//!   rate.
//!
//! Run: `cargo bench -p st2d-tests --bench python`.

// The test harness starts real processes of its own (clippy.toml keeps the daemon to `process`).
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use serde_json::json;
use st2d_proto::v1 as pb;
use st2d_tests::{Home, control, pack_yaml, run_to_success, write_file};

const RUNS: usize = 200;
const BURST: usize = 2_000;
const IN_FLIGHT: usize = 16;

fn pack(home: &Home) {
    let pack = home.packs().join("bench");
    write_file(&pack.join("pack.yaml"), &pack_yaml("bench", "python benchmark"));
    write_file(
        &pack.join("actions/hello.yaml"),
        "---\nname: hello\nrunner_type: python-script\nentry_point: hello.py\n",
    );
    write_file(
        &pack.join("actions/hello.py"),
        "from st2common.runners.base_action import Action\n\n\nclass Hello(Action):\n    def run(self):\n        return {'hello': 'world'}\n",
    );
}

fn start(home: &Home, extra: &[&str]) -> std::process::Child {
    let child = st2d_tests::st2d_command()
        .arg("--home")
        .arg(home.path())
        .arg("serve")
        .args(["--action-concurrency", &IN_FLIGHT.to_string()])
        .args(extra)
        .env("ST2D_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("st2d starts");
    st2d_tests::eventually("the socket", || std::os::unix::net::UnixStream::connect(home.socket()).ok().map(|_| ()));
    child
}

fn stop(mut child: std::process::Child) {
    let _ = std::process::Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
}

/// The interpreter `python3` names (not a version manager's shim in front of it), as st2d
/// resolves it.
fn interpreter() -> String {
    let output = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 runs");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A bare start of the interpreter, importing what the shim's connection needs.
fn bare_start(python: &str) -> Duration {
    let started = Instant::now();
    let status =
        std::process::Command::new(python).args(["-c", "import json, socket, logging"]).status().expect("python3 runs");
    assert!(status.success());
    started.elapsed()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let python = interpreter();
    let mut bare: Vec<Duration> = (0..50).map(|_| bare_start(&python)).collect();
    bare.sort();
    let bare_p50 = bare[bare.len() / 2];
    println!("bare `{python} -c 'import json, socket, logging'`: p50 {:.1} ms (50 starts)", ms(bare_p50));

    for (label, extra) in [("warm", &[][..]), ("cold (--no-python-warm)", &["--no-python-warm"][..])] {
        let home = Home::new();
        pack(&home);
        let daemon = start(&home, extra);
        runtime.block_on(async {
            let mut client = control(&home.socket()).await;
            // Unmeasured: the base libraries found, the warm interpreter up.
            for _ in 0..20 {
                run_to_success(&mut client, "bench.hello", &json!({})).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let mut times = Vec::with_capacity(RUNS);
            for _ in 0..RUNS {
                times.push(run_to_success(&mut client, "bench.hello", &json!({})).await);
            }
            times.sort();
            let at = |quantile: f64| times[((times.len() as f64 * quantile) as usize).min(times.len() - 1)];
            println!(
                "python-script action, request to succeeded, {label}: p50 {:.1} ms ({:.2} x the bare start), p99 {:.1} ms ({RUNS} runs in a row)",
                ms(at(0.5)),
                at(0.5).as_secs_f64() / bare_p50.as_secs_f64(),
                ms(at(0.99)),
            );
            if extra.is_empty() {
                // The floor under any action: the same requests for `core.noop`, which starts
                // no process.
                let mut floor = Vec::with_capacity(RUNS);
                for _ in 0..RUNS {
                    floor.push(run_to_success(&mut client, "core.noop", &json!({})).await);
                }
                floor.sort();
                println!(
                    "core.noop, request to succeeded: p50 {:.1} ms, p99 {:.1} ms ({RUNS} runs in a row)",
                    ms(floor[RUNS / 2]),
                    ms(floor[RUNS * 99 / 100]),
                );
                burst(&client, daemon.id()).await;
            }
        });
        stop(daemon);
    }
}

/// BURST runs requested with IN_FLIGHT at a time; executions per second until all succeeded.
async fn burst(client: &st2d_tests::Client, daemon: u32) {
    let mut status_client = client.clone();
    let warm_pids = |status: pb::Status| status.warm_interpreters.iter().map(|w| w.pid).collect::<Vec<_>>();
    let before_status = status_client.get_status(pb::GetStatusRequest {}).await.expect("status").into_inner();
    let pythons = warm_pids(before_status);
    let st2d_before = cpu_seconds(daemon, false);
    let python_before: f64 = pythons.iter().map(|pid| cpu_seconds(*pid, true)).sum();
    let faults_before: f64 = pythons.iter().map(|pid| page_faults(*pid)).sum();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..IN_FLIGHT {
        let mut client = client.clone();
        tasks.push(tokio::spawn(async move {
            for _ in (worker..BURST).step_by(IN_FLIGHT) {
                run_to_success(&mut client, "bench.hello", &json!({})).await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("worker");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut client = client.clone();
    let status = client.get_status(pb::GetStatusRequest {}).await.expect("status").into_inner();
    let forks: u64 = status.warm_interpreters.iter().map(|w| w.forks).sum();
    let st2d_cpu = cpu_seconds(daemon, false) - st2d_before;
    let python_cpu = pythons.iter().map(|pid| cpu_seconds(*pid, true)).sum::<f64>() - python_before;
    let faults = pythons.iter().map(|pid| page_faults(*pid)).sum::<f64>() - faults_before;
    println!(
        "python-script executions: {:.0} per second ({BURST} runs, {IN_FLIGHT} in flight, all succeeded, {elapsed:.2} s; {forks} forked warm in all); per run: CPU st2d {:.2} ms, Python {:.2} ms; Python page faults {:.0}",
        BURST as f64 / elapsed,
        st2d_cpu * 1000.0 / BURST as f64,
        python_cpu * 1000.0 / BURST as f64,
        faults / BURST as f64,
    );
}

/// The fields of `/proc/PID/stat` after the command name (which is in parentheses and may hold
/// spaces): field N of proc(5) is at N - 3.
fn stat_fields(pid: u32) -> Vec<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().map(|field| field.parse().unwrap_or(0.0)).collect())
        .unwrap_or_default()
}

/// The minor page faults of process `pid` and of the children it has reaped (`minflt` and
/// `cminflt`, fields 10 and 11 of proc(5)).
fn page_faults(pid: u32) -> f64 {
    let fields = stat_fields(pid);
    fields.get(10 - 3).copied().unwrap_or(0.0) + fields.get(11 - 3).copied().unwrap_or(0.0)
}

/// The CPU time (user and system) of process `pid`, and with `children` that of the children
/// it has reaped, in seconds.
fn cpu_seconds(pid: u32, children: bool) -> f64 {
    let fields = stat_fields(pid);
    let ticks = |field: usize| fields.get(field - 3).copied().unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of proc(5); cutime and cstime 16 and 17.
    let own = ticks(14) + ticks(15);
    let reaped = if children { ticks(16) + ticks(17) } else { 0.0 };
    (own + reaped) / clock_ticks()
}

fn clock_ticks() -> f64 {
    let output = std::process::Command::new("getconf").arg("CLK_TCK").output().expect("getconf runs");
    String::from_utf8_lossy(&output.stdout).trim().parse().unwrap_or(100.0)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
