//! Benchmark of the remote runners against real `sshd`s on loopback, printing figures, from the
//! RunAction request to the execution's `succeeded` (as WatchExecution reports it):
//! * `core.remote` to one host: the first, cold run (a new connection), then the same command
//!   200 times in a row over the kept connection (p50, p99, mean), and, for comparison, 50 runs
//!   of a daemon that keeps no connection (`--ssh-keep-connections 0`);
//! * one command to 50 hosts (50 loopback addresses, on four sshds: one listens on 16 at most)
//!   with `parallel`: the wall time of the first run (50 new connections), then of the next runs
//!   (p50 of 10).
//!
//! Run: `cargo bench -p st2d-tests --bench remote` (needs `openssh-server`).

// The test harness starts real processes of its own (clippy.toml keeps the daemon to `process`).
#![allow(clippy::disallowed_methods)]

use std::time::Duration;

use serde_json::json;
use st2d_tests::sshd::{MAX_LISTEN_ADDRESSES, SshLab};
use st2d_tests::{Home, control, pack_yaml, run_to_success, write_file};

const RUNS: usize = 200;
const UNKEPT_RUNS: usize = 50;
const FLEET: usize = 50;
const FLEET_RUNS: usize = 10;

/// A daemon with the lab's SSH settings and `keep` seconds of connection keeping.
fn start(home: &Home, lab: &SshLab, keep: &str) -> std::process::Child {
    let mut args = lab.daemon_args();
    let at = args.iter().position(|arg| arg == "--ssh-keep-connections").expect("the lab keeps connections");
    args[at + 1] = keep.to_string();
    let child = st2d_tests::st2d_command()
        .arg("--home")
        .arg(home.path())
        .args(&args)
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

fn main() {
    let lab = SshLab::new();
    let single = lab.start_sshd("single", &["127.0.0.1"]);
    let fleet_addresses: Vec<String> = (0..FLEET).map(|i| format!("127.0.1.{}", i + 1)).collect();
    let fleet: Vec<_> = fleet_addresses
        .chunks(MAX_LISTEN_ADDRESSES)
        .enumerate()
        .map(|(i, chunk)| lab.start_sshd(&format!("fleet{i}"), &chunk.iter().map(String::as_str).collect::<Vec<_>>()))
        .collect();
    let home = Home::new();
    let pack = home.packs().join("bench");
    write_file(&pack.join("pack.yaml"), &pack_yaml("bench", "remote benchmark"));
    write_file(
        &pack.join("actions/fanout.yaml"),
        "---\nname: fanout\nrunner_type: remote-shell-cmd\nparameters:\n  parallel: {default: true}\n",
    );
    let host = single.host(0);
    let fleet_hosts = fleet.iter().flat_map(|sshd| sshd.hosts()).collect::<Vec<_>>().join(",");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");

    let daemon = start(&home, &lab, st2d_tests::sshd::KEEP_CONNECTIONS);
    runtime.block_on(async {
        let mut client = control(&home.socket()).await;
        let one = json!({"hosts": host, "cmd": "true"});
        let cold = run_to_success(&mut client, "core.remote", &one).await;
        let mut kept = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            kept.push(run_to_success(&mut client, "core.remote", &one).await);
        }
        println!("core.remote `true` to one host, request to succeeded: first (cold) run {:.1} ms", ms(cold));
        report(&format!("then {RUNS} runs in a row over the kept connection"), &mut kept);

        let all = json!({"hosts": fleet_hosts, "cmd": "true"});
        let first = run_to_success(&mut client, "bench.fanout", &all).await;
        let mut again = Vec::with_capacity(FLEET_RUNS);
        for _ in 0..FLEET_RUNS {
            again.push(run_to_success(&mut client, "bench.fanout", &all).await);
        }
        again.sort();
        println!(
            "`true` to {FLEET} hosts with parallel (50 at once): first run (50 new connections) {:.1} ms wall, next {FLEET_RUNS} runs p50 {:.1} ms wall",
            ms(first),
            ms(again[again.len() / 2])
        );
    });
    stop(daemon);

    let unkept_home = Home::new();
    let daemon = start(&unkept_home, &lab, "0");
    runtime.block_on(async {
        let mut client = control(&unkept_home.socket()).await;
        let one = json!({"hosts": host, "cmd": "true"});
        let mut unkept = Vec::with_capacity(UNKEPT_RUNS);
        for _ in 0..UNKEPT_RUNS {
            unkept.push(run_to_success(&mut client, "core.remote", &one).await);
        }
        report(
            &format!("for comparison, {UNKEPT_RUNS} runs with --ssh-keep-connections 0 (a connection each)"),
            &mut unkept,
        );
    });
    stop(daemon);
}

fn report(what: &str, times: &mut [Duration]) {
    times.sort();
    let at = |quantile: f64| times[((times.len() as f64 * quantile) as usize).min(times.len() - 1)];
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    println!("  {what}: p50 {:.1} ms, p99 {:.1} ms, mean {:.1} ms", ms(at(0.5)), ms(at(0.99)), ms(mean));
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
