//! Benchmark of pack installs, printing figures: `packs.install` of a 4,000-action pack (an
//! action YAML and a script each, 8,000 files) from a local git repository on file://, timed
//! from the RunAction request to the completed execution (the repository is read in place, as
//! st2d reads every repository on this machine): a fresh install, an upgrade over the
//! installed version, and the uninstall. The pack has no Python, so no virtualenv is built
//! (pip is not part of the figure).
//!
//! Run: `cargo bench -p st2d-tests --bench packs`.

// The test harness starts real processes of its own (clippy.toml keeps the daemon to `process`).
#![allow(clippy::disallowed_methods)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use st2d_proto::v1 as pb;
use st2d_tests::{Client, Home, control, write_file};

const ACTIONS: usize = 4_000;
const ROUNDS: usize = 5;

fn git(repo: &Path, args: &[&str]) {
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["-c", "user.email=bench@st2d", "-c", "user.name=bench", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .expect("git runs (apt-get install git)");
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

fn write_pack(repo: &Path, version: &str) {
    write_file(
        &repo.join("pack.yaml"),
        &format!("---\nref: big\nname: big\ndescription: {ACTIONS} actions\nversion: {version}\nauthor: bench\n"),
    );
    for n in 0..ACTIONS {
        write_file(
            &repo.join(format!("actions/action_{n}.yaml")),
            &format!(
                "---\nname: action_{n}\nrunner_type: local-shell-script\ndescription: action number {n} of version {version}\nentry_point: action_{n}.sh\nparameters:\n  host:\n    type: string\n    required: true\n    position: 0\n  count:\n    type: integer\n    default: {n}\n  verbose:\n    type: boolean\n    default: false\n"
            ),
        );
        write_file(&repo.join(format!("actions/action_{n}.sh")), &format!("#!/bin/sh\necho \"action {n} on $1\"\n"));
    }
}

async fn run(client: &Client, action: &str, parameters: serde_json::Value) -> (Duration, pb::Execution) {
    let started = Instant::now();
    let mut client = client.clone();
    let execution = client
        .run_action(pb::RunActionRequest {
            action: action.into(),
            parameters_json: parameters.to_string(),
            ..Default::default()
        })
        .await
        .expect("run")
        .into_inner();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let current =
            client.get_execution(pb::GetRequest { r#ref: execution.id.clone() }).await.expect("get").into_inner();
        if !current.end_timestamp.is_empty() {
            assert_eq!(current.status, "succeeded", "{current:?}");
            return (started.elapsed(), current);
        }
        assert!(Instant::now() < deadline, "{action} did not complete in time");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn main() {
    let home = Home::new();
    let repo = home.path().join("repos/big");
    write_pack(&repo, "1.0.0");
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "1.0.0"]);
    git(&repo, &["tag", "v1.0.0"]);
    write_pack(&repo, "1.1.0");
    git(&repo, &["commit", "-q", "-am", "1.1.0"]);
    git(&repo, &["tag", "v1.1.0"]);
    let url = format!("file://{}", repo.display());

    let mut child = st2d_tests::st2d_command()
        .arg("--home")
        .arg(home.path())
        .env("ST2D_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("st2d starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !home.socket().exists() {
        assert!(Instant::now() < deadline, "st2d did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let client = control(&home.socket()).await;
        let mut fresh = Vec::new();
        let mut upgrade = Vec::new();
        let mut uninstall = Vec::new();
        for _ in 0..ROUNDS {
            let (took, _) = run(&client, "packs.install", json!({"packs": [format!("{url}=1.0.0")]})).await;
            fresh.push(took);
            let mut check = client.clone();
            let pack = check.get_pack(pb::GetRequest { r#ref: "big".into() }).await.expect("installed").into_inner();
            assert_eq!((pack.actions as usize, pack.version.as_str()), (ACTIONS, "1.0.0"));
            let (took, _) = run(&client, "packs.install", json!({"packs": [format!("{url}=1.1.0")]})).await;
            upgrade.push(took);
            let pack = check.get_pack(pb::GetRequest { r#ref: "big".into() }).await.expect("installed").into_inner();
            assert_eq!((pack.actions as usize, pack.version.as_str()), (ACTIONS, "1.1.0"));
            let (took, _) = run(&client, "packs.uninstall", json!({"packs": ["big"]})).await;
            uninstall.push(took);
        }
        let show = |what: &str, times: &mut Vec<Duration>| {
            times.sort();
            let ms: Vec<String> = times.iter().map(|t| format!("{:.0}", t.as_secs_f64() * 1000.0)).collect();
            println!(
                "{what:<44} median {:>6.0} ms   (runs: {} ms)",
                times[times.len() / 2].as_secs_f64() * 1000.0,
                ms.join(", ")
            );
        };
        println!(
            "packs.install of a {ACTIONS}-action pack ({} files) from file://, request to completion:",
            2 * ACTIONS + 1
        );
        show("fresh install (checkout, check, place, register)", &mut fresh);
        show("upgrade over the installed version", &mut upgrade);
        show("packs.uninstall", &mut uninstall);
    });
    let _ = child.kill();
    let _ = child.wait();
}
