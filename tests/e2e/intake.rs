//! Bounded intake end to end: a full execution queue refuses webhooks (503 with Retry-After)
//! and FireTrigger (RESOURCE_EXHAUSTED) and holds a sensor's dispatches without losing one,
//! until the queue moves; oversized HTTP headers, gRPC messages and shim messages are refused
//! with a clear answer while the daemon keeps serving.

use serde_json::{Value, json};
use st2d_proto::v1 as pb;
use st2d_tests::{Daemon, Home, SENSOR_NO_OP_METHODS, control, free_port, pack_yaml};

use crate::support::http::{JSON, post, post_answer, sample, wait_metrics};

const TICKER: &str = r#"import time
from st2reactor.sensor.base import Sensor

class Ticker(Sensor):
    def setup(self):
        pass
    def run(self):
        n = 0
        while True:
            self.sensor_service.dispatch('flood.tick', {'n': n})
            n += 1
            time.sleep(0.05)
"#;

fn write_flood_pack(home: &Home) {
    home.write("packs/flood/pack.yaml", &pack_yaml("flood", "intake limits"));
    home.write(
        "packs/flood/rules/slow.yaml",
        "---\nname: slow\nenabled: true\ntrigger:\n  type: core.st2.webhook\n  parameters: {url: slow}\naction:\n  ref: core.local\n  parameters: {cmd: sleep 120, timeout: 300}\n",
    );
    home.write(
        "packs/flood/sensors/ticker.yaml",
        "---\nclass_name: Ticker\nentry_point: ticker.py\ntrigger_types:\n  - name: tick\n    payload_schema:\n      type: object\n      properties:\n        n: {type: integer}\n",
    );
    home.write("packs/flood/sensors/ticker.py", &format!("{TICKER}{SENSOR_NO_OP_METHODS}"));
}

/// The `n` of every `flood.tick` instance, sorted.
fn ticks(daemon: &Daemon) -> Vec<i64> {
    let list = daemon.ctl_json(&["trigger-instance", "list", "--trigger", "flood.tick", "--last", "100000"]);
    let mut seen: Vec<i64> =
        list.as_array().expect("a list").iter().filter_map(|i| i["payload"]["n"].as_i64()).collect();
    seen.sort_unstable();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_webhooks_and_fire_trigger_and_holds_sensors_until_it_moves() {
    let home = Home::new();
    write_flood_pack(&home);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let daemon = Daemon::start(
        &home,
        &[
            "serve",
            "--register-rules-by-default",
            "--http-listen",
            &listen,
            "--action-concurrency",
            "1",
            "--max-queued-executions",
            "2",
        ],
    );
    daemon.wait_json("the ticker runs", &["sensor", "get", "flood.Ticker"], |s| s["state"] == "running");
    // One execution runs, two wait for the slot: the queue is full.
    for _ in 0..3 {
        assert_eq!(post(port, "/api/v1/webhooks/slow", "{}", &[JSON]).0, 202);
    }
    wait_metrics(port, "two executions queued", |s| s.get("st2d_executions_queued") == Some(&2.0));

    let refused = post_answer(port, "/api/v1/webhooks/slow", "{}", &[JSON]);
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.headers.get("retry-after").map(String::as_str), Some("1"), "{:?}", refused.headers);
    let fault: Value = serde_json::from_str(&refused.body).expect("a JSON fault");
    let faultstring = fault["faultstring"].as_str().unwrap_or_default();
    assert!(faultstring.contains("2 executions wait for a slot") && faultstring.contains("--max-queued-executions"));

    let mut client = control(&home.socket()).await;
    let fired = client
        .fire_trigger(pb::FireTriggerRequest {
            trigger: "flood.tick".into(),
            payload_json: json!({"n": -1}).to_string(),
            trace_tag: String::new(),
        })
        .await
        .expect_err("refused while the queue is full");
    assert_eq!(fired.code(), tonic::Code::ResourceExhausted, "{fired:?}");
    assert_eq!(fired.metadata().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));

    // The ticker's dispatches are held, not refused: none is journaled while the queue is full
    // (the first look lets a dispatch already past the check land).
    let held = {
        ticks(&daemon);
        std::thread::sleep(std::time::Duration::from_millis(500));
        ticks(&daemon)
    };
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(ticks(&daemon), held, "a dispatch was journaled while intake was closed");

    // The running execution is cancelled: one queued takes the slot, the queue has room again.
    let executions = daemon.ctl_json(&["execution", "list", "--action", "core.local", "--status", "running"]);
    let running = executions[0]["id"].as_str().expect("a running execution").to_string();
    assert!(daemon.ctl(&["execution", "cancel", &running]).status.success());
    let mut accepted = 0;
    st2d_tests::eventually("a webhook accepted again", || {
        let (status, _) = post(port, "/api/v1/webhooks/slow", "{}", &[JSON]);
        accepted += usize::from(status == 202);
        (status == 202).then_some(())
    });
    assert_eq!(accepted, 1);
    // The held dispatches went on, none lost: the ticker's numbers have no gap.
    st2d_tests::eventually("the ticker's dispatches go on", || (ticks(&daemon).len() > held.len() + 2).then_some(()));
    let after = ticks(&daemon);
    let expected: Vec<i64> = (0..after.len() as i64).collect();
    assert_eq!(after, expected, "every dispatch of the ticker is journaled once, in order, without a gap");
    let samples = wait_metrics(port, "refusals counted", |s| s.contains_key("st2d_intake_refused_total"));
    assert!(sample(&samples, "st2d_intake_refused_total") >= 2.0, "{samples:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_grpc_messages_and_shim_messages_are_refused_and_the_daemon_serves_on() {
    let home = Home::new();
    home.write("packs/big/pack.yaml", &pack_yaml("big", "oversized messages"));
    home.write(
        "packs/big/sensors/blob.yaml",
        "---\nclass_name: Blob\nentry_point: blob.py\ntrigger_types:\n  - name: blob\n    payload_schema: {type: object}\n",
    );
    home.write(
        "packs/big/sensors/blob.py",
        &(r#"import sys, time
from st2reactor.sensor.base import Sensor

class Blob(Sensor):
    def setup(self):
        pass
    def run(self):
        try:
            self.sensor_service.dispatch('big.blob', {'blob': 'x' * (17 << 20)})
        except Exception as error:
            sys.stderr.write('dispatch refused: %s\n' % error)
            sys.stderr.flush()
        self.sensor_service.dispatch('big.blob', {'size': 'small'})
        time.sleep(1)
        # Past the shim's own check: a raw line over st2d's limit.
        connection = self.sensor_service._connection
        with connection._write_lock:
            connection._writer.write(b'{"op":"dispatch","payload":"' + b'y' * (17 << 20) + b'"}\n')
            connection._writer.flush()
        time.sleep(600)
"#
        .to_string()
            + SENSOR_NO_OP_METHODS),
    );
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let daemon = Daemon::start(&home, &["serve", "--http-listen", &listen]);

    // Headers beyond the HTTP server's buffer: 431, and the next request is served.
    let big_headers = home.path().join("headers.txt");
    let mut lines = String::new();
    for n in 0..6 {
        lines.push_str(&format!("X-Filler-{n}: {}\n", "h".repeat(100 * 1024)));
    }
    std::fs::write(&big_headers, lines).expect("write the headers file");
    let header_file = format!("@{}", big_headers.display());
    let answer = post_answer(port, "/api/v1/webhooks/st2", "{}", &[JSON, &header_file]);
    assert_eq!(answer.status, 431, "{}", answer.body);

    // A gRPC request over the limit: refused before it is decoded, naming both sizes.
    let mut client = control(&home.socket()).await;
    let refused = client
        .set_key(pb::SetKeyRequest { name: "big".into(), value: "v".repeat(5 << 20), ..Default::default() })
        .await
        .expect_err("a 5 MiB request is over the limit");
    assert_eq!(refused.code(), tonic::Code::OutOfRange, "{refused:?}");
    assert!(refused.message().contains("the limit is: 4194304 bytes"), "{}", refused.message());
    let mut client = control(&home.socket()).await;
    client
        .set_key(pb::SetKeyRequest { name: "small".into(), value: "v".into(), ..Default::default() })
        .await
        .expect("a small request is served");

    // The shim refuses to send a message over the limit, naming it; the sensor goes on.
    let sensor = daemon.wait_json("the shim's refusal in the sensor's output", &["sensor", "get", "big.Blob"], |s| {
        s["stderr_tail"].as_array().is_some_and(|t| {
            t.iter().any(|l| {
                l.as_str()
                    .is_some_and(|l| l.contains("dispatch refused: the dispatch message is") && l.contains("limit"))
            })
        })
    });
    drop(sensor);
    // A raw line over the limit closes that connection (the sensor ends and is restarted);
    // the small dispatch before it was journaled.
    st2d_tests::eventually("st2d closes the connection of the oversized line", || {
        daemon.log().contains("a shim message over the limit").then_some(())
    });
    daemon.wait_json("the sensor restarted", &["sensor", "get", "big.Blob"], |s| s["restarts"].as_u64() >= Some(1));
    let small = daemon.ctl_json(&["trigger-instance", "list", "--trigger", "big.blob"]);
    assert!(small.as_array().is_some_and(|a| a.iter().all(|i| i["payload"]["size"] == "small") && !a.is_empty()));
    assert!(daemon.ctl(&["status"]).status.success(), "the daemon serves on");
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted when dropped.
struct SmallFilesystem {
    dir: tempfile::TempDir,
}

impl SmallFilesystem {
    /// `None` (having said why) where mounting is not permitted.
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match mounted {
            Ok(output) if output.status.success() => Some(Self { dir }),
            Ok(output) => {
                eprintln!(
                    "NOT RUN: the disk-full test mounts a small tmpfs and cannot here ({}); run the tests as root \
                     (or in a container with CAP_SYS_ADMIN) to run it",
                    st2d_tests::stderr(&output).trim()
                );
                None
            }
            Err(error) => {
                eprintln!("NOT RUN: the disk-full test needs `mount` (util-linux): {error}");
                None
            }
        }
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Bytes free for an unprivileged writer.
    fn free(&self) -> u64 {
        let output = std::process::Command::new("stat")
            .args(["-f", "-c", "%a %S"])
            .arg(self.path())
            .output()
            .expect("stat runs");
        let text = st2d_tests::stdout(&output);
        let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().expect("a number"));
        fields.next().expect("free blocks") * fields.next().expect("block size")
    }
}

impl Drop for SmallFilesystem {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_refuses_new_work_finishes_what_runs_and_recovers_without_a_restart() {
    let Some(small) = SmallFilesystem::mount("48m") else { return };
    let home = Home::new();
    write_flood_pack(&home);
    home.remove("packs/flood/sensors/ticker.yaml");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let data_dir = small.path().join("data");
    let data = data_dir.to_str().expect("a UTF-8 path");
    let daemon = Daemon::start(
        &home,
        &[
            "serve",
            "--register-rules-by-default",
            "--http-listen",
            &listen,
            "--data-dir",
            data,
            "--disk-reserve-mb",
            "16",
        ],
    );
    let running = daemon.st2(&["run", "--async", "core.local", "cmd=sleep 3; echo finished"]);
    assert!(running.status.success(), "{}", st2d_tests::stderr(&running));
    let running_id = st2d_tests::stdout(&running).split_whitespace().last().expect("an id").to_string();

    // Fill the filesystem to 8 MiB free, half the reserve.
    let filler = small.path().join("filler");
    let size = small.free().saturating_sub(8 << 20);
    std::fs::write(&filler, vec![1u8; size as usize]).expect("fill the filesystem");

    let refused = st2d_tests::eventually("a webhook refused for the disk", || {
        let answer = post_answer(port, "/api/v1/webhooks/slow", "{}", &[JSON]);
        (answer.status == 503).then_some(answer)
    });
    assert_eq!(refused.headers.get("retry-after").map(String::as_str), Some("10"), "{:?}", refused.headers);
    assert!(refused.body.contains(data) && refused.body.contains("--disk-reserve-mb"), "{}", refused.body);
    let run = daemon.st2(&["run", "core.noop"]);
    assert!(!run.status.success());
    assert!(st2d_tests::stderr(&run).contains("below the reserve"), "{}", st2d_tests::stderr(&run));
    let (status, body) = crate::support::rest::curl(&[&format!("http://127.0.0.1:{port}/readyz")]);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("disk:"), "{body}");

    // What was running ends and is recorded while the disk is short.
    let done = daemon.wait_json("the running execution recorded", &["execution", "get", &running_id], |e| {
        e["status"] == "succeeded"
    });
    assert!(done["result"]["stdout"].as_str().is_some_and(|s| s.contains("finished")), "{done}");

    // Space returns: new work is taken again, with no restart.
    std::fs::remove_file(&filler).expect("remove the filler");
    st2d_tests::eventually("a webhook accepted again", || {
        (post(port, "/api/v1/webhooks/slow", "{}", &[JSON]).0 == 202).then_some(())
    });
    let (status, _) = crate::support::rest::curl(&[&format!("http://127.0.0.1:{port}/readyz")]);
    assert_eq!(status, 200);
    let run = daemon.st2(&["run", "core.noop"]);
    assert!(run.status.success(), "{}", st2d_tests::stderr(&run));
    drop(daemon);
}
