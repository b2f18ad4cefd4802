//! Benchmarks of the sensor container, printing figures: dispatch throughput from one Python
//! sensor into the journal, and restart-component with 50 Python sensors until all run again.
//!
//! Run: `cargo bench -p st2d-tests --bench sensors` (needs python3).

// The test harness starts real processes of its own (clippy.toml keeps the daemon to `process`).
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use st2d_proto::v1 as pb;
use st2d_tests::bench::rss_kb;
use st2d_tests::{Home, control, pack_yaml, write_file};

const DISPATCHES: u64 = 200_000;
const SENSORS: usize = 50;

const BOILERPLATE: &str = "    def setup(self):\n        pass\n    def cleanup(self):\n        pass\n    def add_trigger(self, trigger):\n        pass\n    def update_trigger(self, trigger):\n        pass\n    def remove_trigger(self, trigger):\n        pass\n";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        dispatch_throughput().await;
        restart_component().await;
        timer_memory().await;
    });
}

fn start(home: &Home) -> std::process::Child {
    let child = st2d_tests::st2d_command()
        .arg("--home")
        .arg(home.path())
        .env("ST2D_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("st2d starts");
    st2d_tests::eventually("the socket", || std::os::unix::net::UnixStream::connect(home.socket()).ok().map(|_| ()));
    child
}

fn stop(mut child: std::process::Child) {
    let _ = std::process::Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
}

async fn dispatch_throughput() {
    let home = Home::new();
    let dir = home.packs().join("flood");
    write_file(&dir.join("pack.yaml"), &pack_yaml("flood", "dispatch benchmark"));
    write_file(
        &dir.join("sensors/flood.yaml"),
        "class_name: Flood\nentry_point: flood.py\ntrigger_types:\n  - name: event\n    payload_schema:\n      type: object\n      properties:\n        n: {type: integer}\n",
    );
    write_file(
        &dir.join("sensors/flood.py"),
        &format!(
            "import threading\nfrom st2reactor.sensor.base import Sensor\n\nclass Flood(Sensor):\n    def run(self):\n        dispatch = self.sensor_service.dispatch\n        for n in range({DISPATCHES}):\n            dispatch('flood.event', {{'n': n}})\n        threading.Event().wait()\n{BOILERPLATE}"
        ),
    );
    let child = start(&home);
    let mut client = control(&home.socket()).await;
    let accepted = |status: &pb::Status| status.dispatches_accepted;
    let mut first: Option<(Instant, u64)> = None;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let status = client.get_status(pb::GetStatusRequest {}).await.expect("status").into_inner();
        let count = accepted(&status);
        if first.is_none() && count > 0 {
            first = Some((Instant::now(), count));
        }
        if count >= DISPATCHES {
            let (started, at_start) = first.expect("seen before the end");
            let elapsed = started.elapsed().as_secs_f64();
            println!(
                "dispatch from one Python sensor into the journal: {} instances in {:.2} s = {:.0} instances/s",
                count - at_start,
                elapsed,
                (count - at_start) as f64 / elapsed
            );
            break;
        }
        assert!(Instant::now() < deadline, "only {count} of {DISPATCHES} journaled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop(child);
}

async fn restart_component() {
    let home = Home::new();
    let dir = home.packs().join("many");
    write_file(&dir.join("pack.yaml"), &pack_yaml("many", "restart benchmark"));
    for i in 0..SENSORS {
        write_file(&dir.join(format!("sensors/s{i}.yaml")), &format!("class_name: S{i}\nentry_point: s{i}.py\n"));
        write_file(
            &dir.join(format!("sensors/s{i}.py")),
            &format!(
                "import threading\nfrom st2reactor.sensor.base import Sensor\n\nclass S{i}(Sensor):\n    def run(self):\n        threading.Event().wait()\n{BOILERPLATE}"
            ),
        );
    }
    // Packs run in their own virtualenv, as StackStorm installs them (`--without-pip`: only the
    // interpreter matters here). ST2D_BENCH_SYSTEM_PYTHON=1 measures the system python instead.
    if std::env::var_os("ST2D_BENCH_SYSTEM_PYTHON").is_none() {
        let venv = home.path().join("virtualenvs/many");
        let status = std::process::Command::new("python3")
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv)
            .status()
            .expect("python3 runs");
        assert!(status.success(), "creating the virtualenv failed");
    }
    let child = start(&home);
    let mut client = control(&home.socket()).await;
    let pids = |sensors: &[pb::Sensor]| {
        sensors.iter().map(|s| (s.r#ref.clone(), s.pid)).collect::<std::collections::HashMap<_, _>>()
    };
    let all_running =
        |sensors: &[pb::Sensor]| sensors.len() == SENSORS && sensors.iter().all(|s| s.state == "running" && s.pid > 0);
    let mut before = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !all_running(&before) {
        assert!(Instant::now() < deadline, "the sensors did not all start");
        tokio::time::sleep(Duration::from_millis(20)).await;
        before = client.list_sensors(pb::ListRequest { pack: "many".into() }).await.expect("list").into_inner().sensors;
    }
    // Let every interpreter finish starting so the restart measures restarting, not start-up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let old = pids(&before);
    let started = Instant::now();
    client.restart_component(pb::RestartComponentRequest { name: "sensor_container".into() }).await.expect("restart");
    loop {
        let now =
            client.list_sensors(pb::ListRequest { pack: "many".into() }).await.expect("list").into_inner().sensors;
        if all_running(&now) && now.iter().all(|s| old.get(&s.r#ref) != Some(&s.pid)) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the sensors did not all restart");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let python =
        if std::env::var_os("ST2D_BENCH_SYSTEM_PYTHON").is_some() { "system python3" } else { "the pack's virtualenv" };
    println!(
        "restart-component with {SENSORS} Python sensors ({python}) until all run again: {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    stop(child);
}

const TIMERS: usize = 10_000;

async fn timer_memory() {
    let home = Home::new();
    let dir = home.packs().join("clock");
    write_file(&dir.join("pack.yaml"), &pack_yaml("clock", "timer benchmark"));
    for i in 0..TIMERS {
        write_file(
            &dir.join(format!("rules/t{i}.yaml")),
            &format!(
                "name: t{i}\nenabled: true\ntrigger:\n  type: core.st2.IntervalTimer\n  parameters:\n    unit: hours\n    delta: {}\naction:\n  ref: core.noop\n",
                i + 1
            ),
        );
    }
    let child = start(&home);
    let mut client = control(&home.socket()).await;
    // A plain full reload first, so both figures include one reload's allocator high-water mark.
    client.reload(pb::ReloadRequest::default()).await.expect("reload");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = rss_kb(child.id());
    client
        .reload(pb::ReloadRequest { register: vec![pb::ContentKind::Rules as i32], register_all: false, packs: vec![] })
        .await
        .expect("register rules");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_kb(child.id());
    println!(
        "memory per idle timer: {:.0} bytes ({TIMERS} interval timers: RSS {before} kB before registering their rules, {after} kB after)",
        (after.saturating_sub(before) * 1024) as f64 / TIMERS as f64
    );
    stop(child);
}
