//! Warm interpreters with the real `python3` and the embedded `warm_main.py`: a forked run is
//! what a cold one is (output, working directory, environment, exit code); a timeout kills the
//! forked child's group; a killed warm process fails only its runs and comes back.

use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::*;
use crate::process::{Ending, RunLimits, supervise};

fn entry() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/st2d_shim/warm_main.py")
}

fn limits(timeout: Duration) -> RunLimits {
    RunLimits { timeout: Some(timeout), capture: 1 << 20, grace: Duration::from_millis(500) }
}

/// Asks until the interpreter is up and forks the run.
async fn warm_start(pool: &WarmPool, spec: &ProcessSpec) -> Started {
    for _ in 0..400 {
        if let Some(started) = pool.start(spec).await {
            return started;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the warm interpreter never came up: {:?}", pool.interpreters());
}

/// Whether `pid` is a process that has not ended (an orphan killed with its warm interpreter
/// stays a zombie until init reaps it).
fn runs(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next().map(String::from)))
        .is_some_and(|state| state != "Z" && state != "X")
}

#[tokio::test]
async fn a_forked_run_is_a_cold_run_and_a_killed_interpreter_comes_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let shutdown = CancellationToken::new();
    let pool = WarmPool::new(entry(), dir.path().to_path_buf(), Vec::new(), shutdown.clone(), TaskTracker::new());
    let script = dir.path().join("script.py");
    std::fs::write(
        &script,
        "import os, sys\nprint('out', os.getcwd(), os.environ.get('MARK'), sys.argv[1:])\nprint('err', file=sys.stderr)\nsys.exit(3)\n",
    )
    .expect("script");
    let spec = ProcessSpec::new("python3", dir.path()).arg("-u").arg(&script).arg("one").env("MARK", "m");
    assert!(pool.start(&spec).await.is_none(), "the first run starts cold while the interpreter comes up");

    let started = warm_start(&pool, &spec).await;
    let cold = crate::process::run(&spec, limits(Duration::from_secs(20)), &CancellationToken::new(), &|_, _| {})
        .await
        .expect("cold run");
    let warm = supervise(started, limits(Duration::from_secs(20)), &CancellationToken::new(), &|_, _| {}).await;
    assert_eq!(warm.ending, Ending::Exited);
    assert_eq!(String::from_utf8_lossy(&warm.stdout), format!("out {} m ['one']\n", dir.path().display()));
    assert_eq!(String::from_utf8_lossy(&warm.stderr), "err\n");
    assert_eq!((warm.exit_code, &warm.stdout, &warm.stderr), (cold.exit_code, &cold.stdout, &cold.stderr));

    // A timeout kills the forked child's whole group.
    let sleeper = dir.path().join("sleep.py");
    std::fs::write(&sleeper, "import time\nprint('sleeping', flush=True)\ntime.sleep(60)\n").expect("script");
    let spec = ProcessSpec::new("python3", dir.path()).arg("-u").arg(&sleeper);
    let started = warm_start(&pool, &spec).await;
    let pid = started.pid;
    let slow = supervise(started, limits(Duration::from_millis(700)), &CancellationToken::new(), &|_, _| {}).await;
    assert_eq!(slow.ending, Ending::TimedOut);
    assert_eq!(slow.exit_code, Some(-15), "ended by SIGTERM");
    assert!(!crate::process::group_exists(pid));

    // kill -9 of the warm process: its run in flight ends, later runs start cold, then warm again.
    let status = pool.interpreters().remove(0);
    assert_eq!((status.state, status.restarts), ("up", 0));
    let started = warm_start(&pool, &spec).await;
    let child = started.pid;
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(status.pid as i32).expect("pid"),
        rustix::process::Signal::KILL,
    )
    .expect("kill");
    let lost = supervise(started, limits(Duration::from_secs(20)), &CancellationToken::new(), &|_, _| {}).await;
    assert_eq!((lost.ending, lost.exit_code), (Ending::Exited, None), "the run ends, its exit unknown");
    for _ in 0..100 {
        if !runs(child) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!runs(child), "its child was killed with it");
    let back = warm_start(&pool, &spec).await;
    let status = pool.interpreters().remove(0);
    assert_eq!((status.state, status.restarts), ("up", 1));
    crate::process::signal_group(back.pid, crate::process::GroupSignal::Kill);
    shutdown.cancel();
}
