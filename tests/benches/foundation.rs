//! Benchmarks of the foundation, printing figures: cold start to READY with the corpus, a full
//! rebuild of the corpus registry, file-saved-to-visible latency over gRPC, idle memory, and
//! SIGTERM-to-exit time.
//!
//! Run: `cargo bench -p st2d-tests --bench foundation` (the corpus is `../shared/corpus/packs`
//! beside the checkout, or `ST2D_CORPUS=DIR`; without one, a synthetic corpus of the same size
//! is generated).

// The test harness starts real processes of its own (clippy.toml keeps the daemon to `process`).
#![allow(clippy::disallowed_methods)]

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use st2d::registry::build::{Dirty, Scanner};
use st2d_proto::v1 as pb;
use st2d_tests::{Home, control, write_file};

fn main() {
    let corpus = corpus_dir();
    let home = Home::new();
    copy_tree(&corpus.0, &home.packs());
    println!("corpus: {} ({} action files)", corpus.1, count_action_files(&home.packs()));

    rebuild(&home);
    let pid = cold_start(&home);
    let _ = pid;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let (mut child, _) = start_daemon(&home, None);
    runtime.block_on(save_to_visible(&home));
    idle_memory(child.id());
    let started = Instant::now();
    signal(child.id(), 15);
    let status = child.wait().expect("wait");
    println!("sigterm to exit: {:.1} ms (exit status {status})", started.elapsed().as_secs_f64() * 1000.0);
}

fn corpus_dir() -> (PathBuf, String) {
    let shared = std::env::var_os("ST2D_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/packs")));
    if shared.is_dir() {
        return (shared.clone(), shared.display().to_string());
    }
    let synthetic = std::env::temp_dir().join(format!("st2d-synthetic-corpus-{}", std::process::id()));
    for pack in 0..17 {
        let dir = synthetic.join(format!("pack{pack}"));
        write_file(&dir.join("pack.yaml"), &st2d_tests::pack_yaml(&format!("pack{pack}"), "synthetic"));
        let actions = if pack == 0 { 3581 } else { 30 };
        for i in 0..actions {
            write_file(
                &dir.join(format!("actions/action_{i}.yaml")),
                &format!(
                    "---\nname: action_{i}\nrunner_type: python-script\ndescription: synthetic action {i}\nentry_point: run.py\nparameters:\n  region:\n    type: string\n    default: eu-west-1\n  count:\n    type: integer\n    required: true\n"
                ),
            );
        }
    }
    (synthetic, "synthetic (no ../shared/corpus found)".to_string())
}

fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp").arg("-rT").arg(from).arg(to).status().expect("cp runs");
    assert!(status.success(), "copying the corpus failed");
}

fn count_action_files(packs: &Path) -> usize {
    st2d::registry::build::pack_dirs(packs)
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir.join("actions")).ok())
        .flat_map(|entries| entries.filter_map(Result::ok))
        .filter(|e| {
            e.file_name().to_string_lossy().ends_with(".yaml") || e.file_name().to_string_lossy().ends_with(".yml")
        })
        .count()
}

fn rebuild(home: &Home) {
    let files = count_action_files(&home.packs());
    let mut scanner = Scanner::new(Vec::new(), vec![home.packs()], home.path().join("configs"));
    scanner.scan(&Dirty::All);
    let rounds = 10;
    let mut best = Duration::MAX;
    let mut total = Duration::ZERO;
    for _ in 0..rounds {
        let started = Instant::now();
        let scan = scanner.scan(&Dirty::All);
        let elapsed = started.elapsed();
        assert!(scan.packs.len() >= 17);
        best = best.min(elapsed);
        total += elapsed;
    }
    let mean = total / rounds;
    println!(
        "full registry rebuild: mean {:.1} ms, best {:.1} ms = {:.0} action files/s (mean), {:.0} (best)",
        mean.as_secs_f64() * 1000.0,
        best.as_secs_f64() * 1000.0,
        files as f64 / mean.as_secs_f64(),
        files as f64 / best.as_secs_f64()
    );
}

fn start_daemon(home: &Home, notify: Option<&Path>) -> (std::process::Child, Instant) {
    let mut command = st2d_tests::st2d_command();
    command.arg("--home").arg(home.path()).env("ST2D_LOG", "warn").stdout(Stdio::null()).stderr(Stdio::null());
    if let Some(notify) = notify {
        command.env("NOTIFY_SOCKET", notify);
    }
    let started = Instant::now();
    let child = command.spawn().expect("st2d starts");
    if notify.is_none() {
        st2d_tests::eventually("the socket", || {
            std::os::unix::net::UnixStream::connect(home.socket()).ok().map(|_| ())
        });
    }
    (child, started)
}

fn cold_start(home: &Home) -> u32 {
    let notify_path = home.path().join("bench-notify.sock");
    let mut samples = Vec::new();
    let mut pid = 0;
    for _ in 0..5 {
        let _ = std::fs::remove_file(&notify_path);
        let notify = UnixDatagram::bind(&notify_path).expect("bind");
        notify.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let (mut child, started) = start_daemon(home, Some(&notify_path));
        let mut buffer = [0u8; 1024];
        loop {
            let n = notify.recv(&mut buffer).expect("a notification before the timeout");
            if String::from_utf8_lossy(&buffer[..n]).contains("READY=1") {
                break;
            }
        }
        samples.push(started.elapsed());
        pid = child.id();
        signal(child.id(), 15);
        child.wait().expect("wait");
    }
    samples.sort();
    println!(
        "cold start to READY=1: median {:.1} ms, min {:.1} ms, max {:.1} ms over {} starts",
        samples[samples.len() / 2].as_secs_f64() * 1000.0,
        samples[0].as_secs_f64() * 1000.0,
        samples[samples.len() - 1].as_secs_f64() * 1000.0,
        samples.len()
    );
    pid
}

async fn save_to_visible(home: &Home) {
    let mut client = control(&home.socket()).await;
    let pack = st2d::registry::build::pack_dirs(&home.packs())
        .into_iter()
        .find(|d| d.ends_with("hello_st2") || d.ends_with("pack1"))
        .expect("a small pack");
    let pack_ref = pack.file_name().and_then(|n| n.to_str()).expect("name").to_string();
    let file = pack.join("actions/bench_probe.yaml");
    let mut samples = Vec::new();
    for i in 0..100 {
        let description = format!("probe {i}");
        let started = Instant::now();
        let deadline = started + Duration::from_secs(10);
        write_file(&file, &format!("name: bench_probe\nrunner_type: noop\ndescription: {description}\n"));
        loop {
            if let Ok(action) = client.get_action(pb::GetRequest { r#ref: format!("{pack_ref}.bench_probe") }).await
                && action.get_ref().description == description
            {
                break;
            }
            assert!(Instant::now() < deadline, "save {i} never became visible");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        samples.push(started.elapsed());
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "file saved to visible over gRPC: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} saves",
        at(0.5),
        at(0.99),
        at(1.0),
        samples.len()
    );
    let _ = std::fs::remove_file(file);
}

fn idle_memory(pid: u32) {
    std::thread::sleep(Duration::from_secs(2));
    println!("idle memory with the corpus loaded: {} kB", st2d_tests::bench::rss_kb(pid));
}

fn signal(pid: u32, signal: i32) {
    Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status().expect("kill runs");
}
