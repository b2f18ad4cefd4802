//! Benchmark of workflows, printing figures: a 3-task sequential Orquesta workflow and a 3-task
//! action-chain of `core.noop` tasks, from the RunAction request to the workflow's `succeeded`
//! (as WatchExecution reports it), one workflow at a time; p50, p90, p99 and the mean over the
//! measured runs. Then, request to `succeeded` of one run each (after one unmeasured run): an
//! Orquesta workflow of 50 branches joined by one task, and a with-items task of 1,000
//! `core.noop` items at concurrency 50.
//!
//! Run: `cargo bench -p st2d-tests --bench workflows`.

// The test harness starts real processes of its own (clippy.toml keeps the daemon to `process`).
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use st2d_tests::{Home, control, pack_yaml, run_to_success, write_file};

const WARM_UP: usize = 20;
const RUNS: usize = 300;
const BRANCHES: usize = 50;
const ITEMS: usize = 1_000;

fn main() {
    let home = Home::new();
    let pack = home.packs().join("bench");
    write_file(&pack.join("pack.yaml"), &pack_yaml("bench", "workflow benchmark"));
    write_file(
        &pack.join("actions/three.yaml"),
        "---\nname: three\nrunner_type: action-chain\nentry_point: chains/three.yaml\n",
    );
    write_file(
        &pack.join("actions/chains/three.yaml"),
        "---\nchain:\n  - {name: one, ref: core.noop, on-success: two}\n  - {name: two, ref: core.noop, on-success: three}\n  - {name: three, ref: core.noop}\n",
    );
    write_file(
        &pack.join("actions/sequence.yaml"),
        "---\nname: sequence\nrunner_type: orquesta\nentry_point: workflows/sequence.yaml\n",
    );
    write_file(
        &pack.join("actions/workflows/sequence.yaml"),
        "version: 1.0\ntasks:\n  one:\n    action: core.noop\n    next:\n      - when: <% succeeded() %>\n        do: two\n  two:\n    action: core.noop\n    next:\n      - when: <% succeeded() %>\n        do: three\n  three:\n    action: core.noop\n",
    );
    write_file(
        &pack.join("actions/join.yaml"),
        "---\nname: join\nrunner_type: orquesta\nentry_point: workflows/join.yaml\n",
    );
    let branches: Vec<String> = (0..BRANCHES).map(|n| format!("b{n}")).collect();
    let mut join = format!(
        "version: 1.0\ntasks:\n  split:\n    action: core.noop\n    next:\n      - do: {}\n",
        branches.join(", ")
    );
    for branch in &branches {
        join.push_str(&format!(
            "  {branch}:\n    action: core.noop\n    next:\n      - publish: {branch}=<% result().return_code %>\n        do: meet\n"
        ));
    }
    join.push_str("  meet:\n    join: all\n    action: core.noop\n");
    write_file(&pack.join("actions/workflows/join.yaml"), &join);
    write_file(
        &pack.join("actions/items.yaml"),
        "---\nname: items\nrunner_type: orquesta\nentry_point: workflows/items.yaml\n",
    );
    write_file(
        &pack.join("actions/workflows/items.yaml"),
        &format!(
            "version: 1.0\ntasks:\n  each:\n    with:\n      items: n in <% range({ITEMS}) %>\n      concurrency: 50\n    action: core.noop\n"
        ),
    );
    let mut child = st2d_tests::st2d_command()
        .arg("--home")
        .arg(home.path())
        .args(["serve", "--action-concurrency", "64"])
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
    for (action, what) in
        [("bench.sequence", "3-task sequential Orquesta workflow"), ("bench.three", "3-task sequential action-chain")]
    {
        let mut times = runtime.block_on(async {
            let mut client = control(&home.socket()).await;
            for _ in 0..WARM_UP {
                run_to_success(&mut client, action, &serde_json::json!({})).await;
            }
            let mut times = Vec::with_capacity(RUNS);
            for _ in 0..RUNS {
                times.push(run_to_success(&mut client, action, &serde_json::json!({})).await);
            }
            times
        });
        times.sort();
        let at = |quantile: f64| times[((times.len() as f64 * quantile) as usize).min(times.len() - 1)];
        let mean = times.iter().sum::<Duration>() / times.len() as u32;
        println!(
            "{what} of core.noop, request to succeeded, {RUNS} runs one at a time: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, mean {:.2} ms",
            ms(at(0.5)),
            ms(at(0.9)),
            ms(at(0.99)),
            ms(mean)
        );
    }
    for (action, what) in [
        ("bench.join", format!("Orquesta workflow of {BRANCHES} branches of core.noop joined by one task")),
        ("bench.items", format!("Orquesta with-items task of {ITEMS} core.noop items at concurrency 50")),
    ] {
        let took = runtime.block_on(async {
            let mut client = control(&home.socket()).await;
            run_to_success(&mut client, action, &serde_json::json!({})).await;
            run_to_success(&mut client, action, &serde_json::json!({})).await
        });
        println!("{what}, request to succeeded: {:.1} ms", ms(took));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
