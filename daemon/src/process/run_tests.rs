//! Tests of `process::run` with real sh: exit codes, streams, caps, stdin, group kills.

use std::sync::Mutex;

use super::*;

fn limits(timeout_ms: u64) -> RunLimits {
    RunLimits { timeout: Some(Duration::from_millis(timeout_ms)), capture: 1024, grace: Duration::from_secs(2) }
}

fn sh(script: &str) -> ProcessSpec {
    ProcessSpec::new("sh", "/").arg("-c").arg(script)
}

async fn run_collecting(spec: &ProcessSpec, limits: RunLimits) -> (Captured, Vec<(Pipe, String)>) {
    let lines = Mutex::new(Vec::new());
    let on_line = |pipe: Pipe, line: &str| lines.lock().expect("not poisoned").push((pipe, line.to_string()));
    let captured = run(spec, limits, &CancellationToken::new(), &on_line).await.expect("sh starts");
    (captured, lines.into_inner().expect("not poisoned"))
}

#[tokio::test]
async fn exit_codes_streams_and_lines() {
    let cases = [
        ("echo out; echo err >&2; exit 3", Some(3), "out\n", "err\n"),
        ("printf 'a\\nb'", Some(0), "a\nb", ""),
        ("kill -9 $$", Some(-9), "", ""),
    ];
    for (script, code, out, err) in cases {
        let (captured, _) = run_collecting(&sh(script), limits(10_000)).await;
        assert_eq!(captured.ending, Ending::Exited, "{script}");
        assert_eq!(captured.exit_code, code, "{script}");
        assert_eq!(String::from_utf8_lossy(&captured.stdout), out, "{script}");
        assert_eq!(String::from_utf8_lossy(&captured.stderr), err, "{script}");
    }
    let (_, lines) = run_collecting(&sh("echo one; echo two >&2; printf three"), limits(10_000)).await;
    for expected in [(Pipe::Stdout, "one"), (Pipe::Stderr, "two"), (Pipe::Stdout, "three")] {
        assert!(lines.contains(&(expected.0, expected.1.to_string())), "{lines:?}");
    }
}

#[tokio::test]
async fn capture_is_capped_but_the_child_is_drained() {
    let (captured, lines) = run_collecting(&sh("yes x | head -c 100000; echo done >&2"), limits(10_000)).await;
    assert_eq!(captured.stdout.len(), 1024);
    assert!(captured.truncated);
    assert_eq!(captured.exit_code, Some(0));
    assert_eq!(lines.iter().filter(|(pipe, _)| *pipe == Pipe::Stdout).count(), 50_000);
}

#[tokio::test]
async fn stdin_is_fed_and_closed() {
    let (captured, _) = run_collecting(&sh("cat").stdin(b"secret\n".to_vec()), limits(10_000)).await;
    assert_eq!(String::from_utf8_lossy(&captured.stdout), "secret\n");
}

/// Whether `pid` is still running two seconds on (a SIGKILL is delivered asynchronously, and
/// a loaded machine may take a moment to schedule the victim).
fn alive(pid: &str) -> bool {
    let running = || {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
            && std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z "))
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    while running() {
        if Instant::now() > deadline {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[tokio::test]
async fn a_timeout_kills_the_whole_group() {
    let script = "sleep 100 & echo $!; sleep 100 & echo $!; sleep 100";
    let started = Instant::now();
    let (captured, lines) = run_collecting(&sh(script), limits(500)).await;
    assert_eq!(captured.ending, Ending::TimedOut);
    assert_eq!(captured.exit_code, Some(-rustix::process::Signal::TERM.as_raw()));
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let pids: Vec<&str> = lines.iter().map(|(_, line)| line.as_str()).collect();
    assert_eq!(pids.len(), 2, "{lines:?}");
    for pid in pids {
        assert!(!alive(pid), "background sleep {pid} survived");
    }
}

#[tokio::test]
async fn a_background_child_holding_the_pipes_keeps_the_run_going_until_the_timeout() {
    let (captured, _) = run_collecting(&sh("sleep 100 & echo started"), limits(500)).await;
    assert_eq!(captured.ending, Ending::TimedOut);
    assert_eq!(String::from_utf8_lossy(&captured.stdout), "started\n");
}

#[tokio::test]
async fn cancel_kills_the_group_and_sigkill_follows_an_ignored_sigterm() {
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        trigger.cancel();
    });
    let spec = sh("trap '' TERM; sleep 100 & echo $!; wait");
    let limits = RunLimits { timeout: None, capture: 1024, grace: Duration::from_millis(300) };
    let lines = Mutex::new(Vec::new());
    let on_line = |_: Pipe, line: &str| lines.lock().expect("not poisoned").push(line.to_string());
    let captured = run(&spec, limits, &cancel, &on_line).await.expect("sh starts");
    assert_eq!(captured.ending, Ending::Cancelled);
    assert_eq!(captured.exit_code, Some(-rustix::process::Signal::KILL.as_raw()));
    for pid in lines.into_inner().expect("not poisoned") {
        assert!(!alive(&pid), "{pid} survived");
    }
}
