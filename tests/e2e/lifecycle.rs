//! Daemon lifecycle: signals, systemd notifications, the socket file, restarts.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use st2d_tests::{Daemon, Home, eventually, write_sample_pack};

#[test]
fn sighup_reloads_without_a_watcher() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &["serve", "--no-watch"]);
    write_sample_pack(&home.packs(), "demo", "demo");
    daemon.signal(SIGHUP);
    daemon.wait_json("the pack after SIGHUP", &["action", "list", "--pack", "demo"], |v| {
        v.as_array().is_some_and(|a| a.len() == 1)
    });
    let status = daemon.ctl_json(&["status"]);
    assert_eq!(status["last_reload"]["trigger"], "sighup");
}

#[test]
fn sigterm_exits_zero_and_removes_the_socket() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    assert!(home.socket().exists());
    daemon.signal(15);
    let status = daemon.wait_exit();
    assert_eq!(status.code(), Some(0));
    assert!(!home.socket().exists(), "the socket file is removed");
}

#[test]
fn a_stale_socket_is_replaced_and_a_live_one_is_refused() {
    let home = Home::new();
    let first = Daemon::start(&home, &[]);
    let second = Daemon::spawn(&home, &[], &[]);
    let status = second.wait_exit();
    assert!(!status.success(), "a second daemon on the same home must not start");
    first.signal(9);
    first.wait_exit();
    assert!(home.socket().exists(), "SIGKILL leaves the socket file behind");
    let restarted = Daemon::start(&home, &[]);
    assert!(restarted.ctl(&["status"]).status.success());
}

#[test]
fn systemd_notifications_follow_the_lifecycle() {
    let home = Home::new();
    let notify_path = home.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).expect("bind NOTIFY_SOCKET");
    notify.set_read_timeout(Some(Duration::from_millis(100))).expect("timeout");
    let received = std::cell::RefCell::new(String::new());
    let wait_for = |needle: &str| {
        eventually(&format!("{needle} on NOTIFY_SOCKET"), || {
            let mut buffer = [0u8; 4096];
            if let Ok(n) = notify.recv(&mut buffer) {
                received.borrow_mut().push_str(&String::from_utf8_lossy(&buffer[..n]));
                received.borrow_mut().push('\n');
            }
            received.borrow().contains(needle).then_some(())
        });
    };
    let usec = std::path::PathBuf::from("200000");
    let daemon = Daemon::spawn(&home, &[], &[("NOTIFY_SOCKET", &notify_path), ("WATCHDOG_USEC", &usec)]);
    wait_for("READY=1");
    wait_for("WATCHDOG=1");
    received.borrow_mut().clear();
    daemon.signal(SIGHUP);
    wait_for("RELOADING=1");
    wait_for("READY=1");
    assert!(received.borrow().contains("MONOTONIC_USEC="), "{}", received.borrow());
    daemon.signal(15);
    wait_for("STOPPING=1");
    assert!(daemon.wait_exit().success());
}

const SIGHUP: i32 = 1;
